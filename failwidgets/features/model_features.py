"""Per-image feature vectors of a torch model (Barlow's robust features), batched and cached."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from ..image_tensors import images_to_tensor
from .cache import cached_array, digest, state_digest

__all__ = ["model_features"]


@contextlib.contextmanager
def _restore_training(model, was_training: bool):
    try:
        yield
    finally:
        model.train(was_training)


def model_features(
    model,
    evalset,
    *,
    batch_size: int = 256,
    device: str | None = None,
    input_size: int | tuple[int, int] | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Feature vectors ``model.forward_features(x)`` (else ``forward_features_map``) of every
    image of ``evalset`` (float32).

    Images enter as float in [0, 1], (N, 3, H, W), optionally resized to ``input_size``; a
    robust model carries its own normalisation (as the ``robustness`` checkpoints do). A 4-D
    output (a feature map) is averaged over its spatial positions.

    Cached in ``cache_dir`` (when given) under a digest of the images' fingerprint, the
    weights and ``input_size``: re-running on the same files or array finds the cache without
    reading any pixel.
    """
    import torch
    from tqdm.auto import tqdm

    from ..inference import default_device

    forward = getattr(model, "forward_features", None)
    if not callable(forward):
        forward = getattr(model, "forward_features_map", None)
    if not callable(forward):
        raise TypeError(
            "robust_model: needs a forward_features(x) or forward_features_map(x) method "
            "returning (N, D) features or an (N, D, h, w) map; "
            f"{type(model).__name__} has neither. Pass features= instead (an (N, D) array)."
        )
    if isinstance(input_size, int):
        input_size = (input_size, input_size)
    path = None
    if cache_dir is not None:
        key = digest(evalset.images.fingerprint(), state_digest(model), input_size)
        path = Path(cache_dir) / f"model-features-{key}.npy"

    def compute() -> np.ndarray:
        target = torch.device(device or default_device())
        was_training = getattr(model, "training", False)
        model.to(target).eval()
        parts = []
        starts = range(0, evalset.n, batch_size)
        with torch.inference_mode(), _restore_training(model, was_training):
            for start in tqdm(starts, desc="features", disable=not progress, unit="batch"):
                images = evalset.images_at(np.arange(start, min(start + batch_size, evalset.n)))
                x = images_to_tensor(torch.from_numpy(images).to(target))
                if input_size is not None and tuple(x.shape[-2:]) != tuple(input_size):
                    x = torch.nn.functional.interpolate(
                        x, size=input_size, mode="bilinear", antialias=True, align_corners=False
                    )
                out = forward(x)
                if out.ndim == 4:
                    out = out.mean(dim=(2, 3))
                if out.ndim != 2:
                    raise ValueError(
                        "robust_model: forward_features returned shape "
                        f"{tuple(out.shape)}; expected (N, D) or (N, D, h, w)"
                    )
                parts.append(out.float().cpu())
        return torch.cat(parts).numpy().astype(np.float32)

    return cached_array(path, compute)
