"""Visualising one feature of a robust CNN (Barlow, Section 4 and Appendix B/C).

A feature is one channel of the penultimate layer, i.e. the global average over ``(h, w)``
of one channel of the feature map before pooling. Three views explain it:

- the most activating images of a group (:func:`top_activating`);
- CAM heatmaps (:func:`cam_heatmaps`, :func:`overlay_heatmap`): the feature's channel of the
  map, negatives clipped, divided by its maximum, bilinearly resized to the image. The heat
  is that map itself, so it is HIGH (red in the JET colours) where the feature fires. The
  reference code draws ``1 - cam`` through OpenCV's BGR JET colour map and shows it as RGB;
  the two inversions cancel, which is what the paper's figures show (red on the feature);
- the feature attack (:func:`feature_attack`): gradient ascent on the feature with respect
  to the image, L2-normalised steps, pixels clamped to [0, 1] after each step.

Models: anything exposing the pre-pooling map. :class:`FeatureMapModel` adapts an
``nn.Module`` with ``forward_features_map(x)`` (the demo's ``RobustCNN``), a callable
``feature_map(x) -> (B, C, h, w)``, or a pair ``(feature_map, pool)`` of callables; inputs
are float images in [0, 1], ``(B, 3, H, W)`` (normalisation belongs inside the model).
Torch is imported only when a model is used.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

__all__ = [
    "FeatureAttack",
    "FeatureMapModel",
    "FeatureVisualization",
    "cam_heatmaps",
    "feature_attack",
    "jet_colors",
    "overlay_heatmap",
    "top_activating",
    "visualize_feature",
]

# The reference's feature attack: L2 steps of size 1 on 224 x 224 RGB images in [0, 1].
REFERENCE_PIXELS = 3 * 224 * 224


# --------------------------------------------------------------------------- model adapter
class FeatureMapModel:
    """A feature-map function and its pooling, with the device and train/eval handling.

    Parameters
    ----------
    feature_map : callable mapping float images (B, 3, H, W) in [0, 1] to (B, C, h, w).
    pool : callable mapping (B, C, h, w) to (B, C); default: mean over h and w.
    module : the ``torch.nn.Module`` behind ``feature_map``, if any (put in eval mode while
        in use; its device is used for inputs).
    """

    def __init__(self, feature_map, pool=None, module=None):
        if not callable(feature_map):
            raise TypeError(f"feature_map: expected a callable, got {type(feature_map).__name__}")
        if pool is not None and not callable(pool):
            raise TypeError(f"pool: expected a callable or None, got {type(pool).__name__}")
        self.feature_map = feature_map
        self.pool = pool
        self.module = module

    @classmethod
    def from_any(cls, model) -> FeatureMapModel:
        """Adapt a module with ``forward_features_map``, a callable or a (map, pool) pair."""
        if isinstance(model, FeatureMapModel):
            return model
        method = getattr(model, "forward_features_map", None)
        if callable(method):
            return cls(method, module=model)
        if isinstance(model, tuple) and len(model) == 2:
            feature_map, pool = model
            return cls(feature_map, pool, module=getattr(feature_map, "__self__", None))
        if callable(model):
            return cls(model, module=getattr(model, "__self__", None))
        raise TypeError(
            "model: expected an nn.Module with forward_features_map(x), a callable "
            f"feature_map(x) -> (B, C, h, w) or a (feature_map, pool) pair, got "
            f"{type(model).__name__}"
        )

    @property
    def device(self):
        import torch

        parameters = getattr(self.module, "parameters", None)
        if callable(parameters):
            for parameter in parameters():
                return parameter.device
        return torch.device("cpu")

    @contextlib.contextmanager
    def evaluating(self):
        """Eval mode for the module while in use (restored afterwards)."""
        module = self.module
        was_training = bool(getattr(module, "training", False))
        if was_training:
            module.eval()
        try:
            yield self
        finally:
            if was_training:
                module.train()

    def maps(self, x):
        """Feature maps (B, C, h, w) of images ``x`` (B, 3, H, W)."""
        out = self.feature_map(x)
        if getattr(out, "ndim", None) != 4:
            raise ValueError(
                f"feature_map: expected a (B, C, h, w) tensor, got shape {tuple(out.shape)}"
            )
        return out

    def features(self, x):
        """Pooled features (B, C) of images ``x``."""
        maps = self.maps(x)
        return maps.mean(dim=(2, 3)) if self.pool is None else self.pool(maps)


# --------------------------------------------------------------------------- helpers
def _check_feature(feature) -> int:
    if not isinstance(feature, Integral) or isinstance(feature, bool) or feature < 0:
        raise ValueError(f"feature: expected a non-negative integer index, got {feature!r}")
    return int(feature)


def _as_float_images(images, device):
    """uint8 (B, H, W, 3) or float (B, H, W, 3) in [0, 1] -> float tensor (B, 3, H, W)."""
    import torch

    if isinstance(images, torch.Tensor):
        raise TypeError("images: pass a numpy array (B, H, W, 3), uint8 or float in [0, 1]")
    array = np.asarray(images)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[-1] != 3:
        raise ValueError(f"images: expected (B, H, W, 3) images, got shape {array.shape}")
    if array.shape[0] == 0:
        raise ValueError("images: no images given")
    if array.dtype == np.uint8:
        tensor = torch.from_numpy(np.ascontiguousarray(array)).float().div_(255.0)
    elif array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or array.min() < 0 or array.max() > 1:
            raise ValueError("images: float images must be finite and lie in [0, 1]")
        tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    else:
        raise TypeError(f"images: expected uint8 or float images, got dtype {array.dtype}")
    return tensor.permute(0, 3, 1, 2).contiguous().to(device)


def _to_uint8(x) -> np.ndarray:
    """Float tensor (B, 3, H, W) in [0, 1] -> uint8 (B, H, W, 3)."""
    array = x.detach().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()
    return np.rint(array * 255.0).astype(np.uint8)


def _channel(maps, feature: int):
    if feature >= maps.shape[1]:
        raise ValueError(
            f"feature: index {feature} but the feature map has {maps.shape[1]} channels"
        )
    return maps[:, feature]


# --------------------------------------------------------------------------- top images
def top_activating(features, feature: int, group=None, k: int = 6) -> np.ndarray:
    """Global indices of the ``k`` samples of ``group`` with the largest ``features[:, feature]``.

    Ordered by decreasing activation (ties: smaller index first). ``group``: None (all rows),
    int indices or a boolean mask.
    """
    features = np.asarray(features)
    if features.ndim != 2:
        raise ValueError(f"features: expected a 2-D array, got shape {features.shape}")
    feature = _check_feature(feature)
    if feature >= features.shape[1]:
        raise ValueError(f"feature: index {feature} but features have {features.shape[1]} columns")
    if not isinstance(k, Integral) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k: expected a positive integer, got {k!r}")
    if group is None:
        rows = np.arange(features.shape[0])
    else:
        rows = np.asarray(group)
        if rows.dtype == bool:
            if rows.shape != (features.shape[0],):
                raise ValueError(
                    f"group: mask of shape {rows.shape}, expected ({features.shape[0]},)"
                )
            rows = np.flatnonzero(rows)
        elif rows.ndim != 1 or (rows.size and rows.dtype.kind not in "iu"):
            raise ValueError("group: expected 1-D integer indices or a boolean mask")
        if rows.size and (rows.min() < 0 or rows.max() >= features.shape[0]):
            raise ValueError(f"group: indices must lie in 0..{features.shape[0] - 1}")
    if rows.size == 0:
        raise ValueError("group: is empty")
    rows = np.sort(rows.astype(np.int64))
    values = features[rows, feature]
    order = np.argsort(-values, kind="stable")[:k]
    return rows[order]


# --------------------------------------------------------------------------- heatmaps
def jet_colors(values) -> np.ndarray:
    """The JET colour map (blue -> cyan -> yellow -> red) of values in [0, 1], as RGB floats."""
    v = np.clip(np.asarray(values, dtype=np.float32), 0.0, 1.0)[..., None]
    centres = np.array([0.75, 0.5, 0.25], dtype=np.float32)  # red, green, blue
    return np.clip(1.5 - np.abs(4.0 * v - 4.0 * centres), 0.0, 1.0)


def cam_heatmaps(model, images, feature: int, batch_size: int = 64) -> np.ndarray:
    """CAM heatmaps of one feature: float32 (B, H, W) in [0, 1], high where the feature fires.

    Each map is the feature's channel of the pre-pooling map, negatives clipped to 0,
    divided by its maximum (all zeros when the channel is never positive), bilinearly
    resized to the image size.
    """
    import torch
    import torch.nn.functional as F

    model = FeatureMapModel.from_any(model)
    feature = _check_feature(feature)
    x_all = _as_float_images(images, model.device)
    height, width = x_all.shape[2:]
    heats = []
    with model.evaluating(), torch.no_grad():
        for start in range(0, x_all.shape[0], batch_size):
            x = x_all[start : start + batch_size]
            cam = _channel(model.maps(x), feature).float().clamp_min(0.0)
            peak = cam.flatten(1).amax(dim=1).view(-1, 1, 1)
            cam = torch.where(peak > 0, cam / peak.clamp_min(1e-30), torch.zeros_like(cam))
            heat = F.interpolate(
                cam[:, None], size=(height, width), mode="bilinear", align_corners=False
            )
            heats.append(heat[:, 0].clamp(0.0, 1.0).cpu().numpy())
    return np.concatenate(heats).astype(np.float32)


def overlay_heatmap(images, heatmaps, alpha: float = 0.5) -> np.ndarray:
    """Blend JET-coloured ``heatmaps`` (B, H, W) over uint8 ``images`` (B, H, W, 3)."""
    images = np.asarray(images)
    heatmaps = np.asarray(heatmaps, dtype=np.float32)
    if images.ndim == 3:
        images = images[None]
    if heatmaps.ndim == 2:
        heatmaps = heatmaps[None]
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images: expected uint8 (B, H, W, 3), got {images.dtype} {images.shape}")
    if heatmaps.shape != images.shape[:3]:
        raise ValueError(
            f"heatmaps: shape {heatmaps.shape} does not match images {images.shape[:3]}"
        )
    if not isinstance(alpha, Real) or not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha: expected a number in [0, 1], got {alpha!r}")
    colours = jet_colors(heatmaps) * 255.0
    blended = (1.0 - alpha) * images.astype(np.float32) + alpha * colours
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- attack
@dataclass(frozen=True)
class FeatureAttack:
    """Result of :func:`feature_attack`.

    ``images``: uint8 (B, H, W, 3); ``values_before`` / ``values_after``: the feature on
    the original and on the attacked images (float, before uint8 rounding); ``step_size``,
    ``steps``: the settings used.
    """

    images: np.ndarray
    values_before: np.ndarray
    values_after: np.ndarray
    step_size: float
    steps: int


def default_step_size(height: int, width: int, channels: int = 3) -> float:
    """L2 step matching the reference's step 1 on 224 x 224 RGB: same change per pixel."""
    return float(np.sqrt(channels * height * width / REFERENCE_PIXELS))


def feature_attack(
    model,
    images,
    feature: int,
    steps: int = 500,
    step_size: float | None = None,
    eps: float | None = None,
) -> FeatureAttack:
    """Amplify one feature in images by gradient ascent (the paper's feature attack).

    Each step moves every image by ``step_size`` in L2 along the gradient of the feature
    (pooled channel) with respect to the image, then clamps pixels to [0, 1].

    Parameters
    ----------
    steps : number of steps (paper: 500; reference code: 1000).
    step_size : L2 length of a step; default :func:`default_step_size` (1.0 on 224 x 224 RGB
        images, as the reference, and the same change per pixel at other sizes).
    eps : optional L2 radius around the original image to project onto (the paper's eps; the
        reference code never projects, the default None does the same).
    """
    import torch

    model = FeatureMapModel.from_any(model)
    feature = _check_feature(feature)
    if not isinstance(steps, Integral) or isinstance(steps, bool) or steps < 0:
        raise ValueError(f"steps: expected a non-negative integer, got {steps!r}")
    x0 = _as_float_images(images, model.device)
    if step_size is None:
        step_size = default_step_size(x0.shape[2], x0.shape[3], x0.shape[1])
    if not isinstance(step_size, Real) or not np.isfinite(step_size) or step_size <= 0:
        raise ValueError(f"step_size: expected a positive number, got {step_size!r}")
    if eps is not None and (not isinstance(eps, Real) or not np.isfinite(eps) or eps <= 0):
        raise ValueError(f"eps: expected a positive number or None, got {eps!r}")

    def value(x):
        pooled = model.features(x)
        if feature >= pooled.shape[1]:
            raise ValueError(
                f"feature: index {feature} but the model has {pooled.shape[1]} features"
            )
        return pooled[:, feature]

    with model.evaluating():
        with torch.no_grad():
            before = value(x0).float().cpu().numpy()
        x = x0.clone()
        with torch.enable_grad():
            for _ in range(int(steps)):
                x.requires_grad_(True)
                (grad,) = torch.autograd.grad(value(x).sum(), x)
                with torch.no_grad():
                    norm = grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
                    x = x + float(step_size) * grad / norm
                    if eps is not None:
                        delta = x - x0
                        scale = (float(eps) / delta.flatten(1).norm(dim=1).clamp_min(1e-12)).clamp(
                            max=1.0
                        )
                        x = x0 + delta * scale.view(-1, 1, 1, 1)
                    x = x.clamp(0.0, 1.0).detach()
        with torch.no_grad():
            after = value(x).float().cpu().numpy()
    return FeatureAttack(
        images=_to_uint8(x),
        values_before=before,
        values_after=after,
        step_size=float(step_size),
        steps=int(steps),
    )


# --------------------------------------------------------------------------- all views
@dataclass(frozen=True)
class FeatureVisualization:
    """The visualisation triplet of one feature over a group.

    ``indices``: global indices of the top images; ``activations``: their feature values;
    ``images``: uint8 (k, H, W, 3); ``heatmaps``: float32 (k, H, W) in [0, 1];
    ``overlays``: uint8 heatmaps over images; ``attacks``: uint8 feature-attack images.
    """

    feature: int
    indices: np.ndarray
    activations: np.ndarray
    images: np.ndarray
    heatmaps: np.ndarray
    overlays: np.ndarray
    attacks: np.ndarray


def visualize_feature(
    model,
    evalset,
    features,
    feature: int,
    group=None,
    k: int = 6,
    steps: int = 500,
    step_size: float | None = None,
    alpha: float = 0.5,
) -> FeatureVisualization:
    """Top-``k`` activating images of ``group``, their CAM heatmaps and feature attacks.

    ``evalset`` provides the images: an EvalSet (``images_at``) or a uint8 array
    (N, H, W, 3); ``features`` (N, D) are the pooled features used to rank the images.
    """
    indices = top_activating(features, feature, group=group, k=k)
    if hasattr(evalset, "images_at"):
        images = evalset.images_at(indices)
    else:
        array = np.asarray(evalset)
        if array.ndim != 4 or array.shape[0] != np.asarray(features).shape[0]:
            raise ValueError(
                "evalset: expected an EvalSet or a (N, H, W, 3) image array with one image per "
                "feature row"
            )
        images = array[indices]
    heat = cam_heatmaps(model, images, feature)
    attack = feature_attack(model, images, feature, steps=steps, step_size=step_size)
    return FeatureVisualization(
        feature=int(feature),
        indices=indices,
        activations=np.asarray(features)[indices, feature],
        images=np.asarray(images),
        heatmaps=heat,
        overlays=overlay_heatmap(images, heat, alpha=alpha),
        attacks=attack.images,
    )
