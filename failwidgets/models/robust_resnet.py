"""The robustness library's adversarially trained ResNet-50 in a plain torchvision ``resnet50``.

Barlow's features come from the MadryLab ``robustness`` library's ImageNet L2 eps = 3 ResNet-50
(``imagenet_l2_3_0.pt``). That checkpoint pickles a ``DataParallel(AttackerModel)`` state dict:
the network under ``module.model.`` (repeated under ``module.attacker.model.``) and the input
normaliser's ``module.normalizer.new_mean`` / ``new_std`` (shape (3, 1, 1)). This module strips
the prefixes into torchvision's ``resnet50`` and keeps the normaliser inside the model, so inputs
are images in [0, 1] (``Resize(256)``, ``CenterCrop(224)``, ``ToTensor()``), and exposes the
same interface as the demo's robust CNN: ``forward_features_map`` (layer4, 2048 x 7 x 7),
``forward_features`` (pooled, 2048-d) and ``forward`` (logits).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "NormalizedResNet",
    "load_robust_resnet50",
    "robust_resnet50_transform",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_PREFIXES = ("module.model.", "model.")  # DataParallel-wrapped, or an unwrapped AttackerModel
_NORMALIZER_PREFIXES = ("module.normalizer.", "normalizer.", "module.attacker.normalize.")
_WHERE_TO_GET = (
    "Get the robustness library's ImageNet L2 eps=3.0 ResNet-50 checkpoint 'imagenet_l2_3_0.pt' "
    "(linked from the 'Pretrained models' table of https://github.com/MadryLab/robustness; the "
    "robust-models-transfer checkpoint 'resnet50_l2_eps3.ckpt' has the same layout) and pass its "
    "local path: load_robust_resnet50('/path/to/imagenet_l2_3_0.pt'). Without it, the demo's "
    "robust model is failwidgets.demo.load_robust()."
)


class NormalizedResNet(nn.Module):
    """A torchvision ResNet taking [0, 1] images, with the normaliser inside.

    As the robustness library's ``InputNormalize``, inputs are clamped to [0, 1] and then
    standardised with ``mean`` and ``std``.
    """

    def __init__(self, resnet: nn.Module, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        super().__init__()
        self.model = resnet
        mean = torch.as_tensor(mean, dtype=torch.float32).flatten()
        std = torch.as_tensor(std, dtype=torch.float32).flatten()
        if mean.numel() != 3 or std.numel() != 3 or bool((std <= 0).any()):
            raise ValueError("mean and std: need 3 values each, std strictly positive")
        self.register_buffer("mean", mean.view(1, 3, 1, 1))
        self.register_buffer("std", std.view(1, 3, 1, 1))

    @property
    def n_features(self) -> int:
        """Dimension of :meth:`forward_features` (2048 for ResNet-50)."""
        return self.model.fc.in_features

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Clamp to [0, 1] and standardise (what the checkpoint's normaliser does)."""
        return (x.clamp(0, 1) - self.mean) / self.std

    def forward_features_map(self, x: torch.Tensor) -> torch.Tensor:
        """layer4 output ``(B, 2048, h, w)`` (after its final ReLU, before pooling)."""
        m = self.model
        x = m.maxpool(m.relu(m.bn1(m.conv1(self.normalize(x)))))
        return m.layer4(m.layer3(m.layer2(m.layer1(x))))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Globally average-pooled layer4 features ``(B, 2048)`` (Barlow's features)."""
        return torch.flatten(self.model.avgpool(self.forward_features_map(x)), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for images ``x`` in [0, 1], ``(B, 3, H, W)``."""
        return self.model.fc(self.forward_features(x))


def robust_resnet50_transform():
    """The input pipeline for PIL images: ``Resize(256)``, ``CenterCrop(224)``, ``ToTensor()``.

    No normalisation: the model normalises inside.
    """
    from torchvision import transforms

    return transforms.Compose(
        [transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor()]
    )


def _state_dict_of(checkpoint) -> dict:
    if not isinstance(checkpoint, dict):
        raise ValueError(
            f"checkpoint: expected a dict saved by the robustness library, got "
            f"{type(checkpoint).__name__}"
        )
    for key in ("model", "state_dict"):
        if key in checkpoint and isinstance(checkpoint[key], dict):
            return checkpoint[key]
    if any(isinstance(k, str) and k.startswith(_PREFIXES) for k in checkpoint):
        return checkpoint  # a bare state dict
    raise ValueError(
        "checkpoint: no 'model' or 'state_dict' entry and no 'module.model.' keys; this does "
        f"not look like a robustness-library checkpoint (top-level keys: {sorted(checkpoint)[:8]})"
    )


def _split_state_dict(state: dict):
    network, mean, std = {}, None, None
    for prefix in _PREFIXES:
        network = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        if network:
            break
    if not network:
        raise ValueError(
            "checkpoint: no keys start with 'module.model.' (or 'model.'); found e.g. "
            f"{sorted(state)[:5]}"
        )
    for prefix in _NORMALIZER_PREFIXES:
        if f"{prefix}new_mean" in state and f"{prefix}new_std" in state:
            mean, std = state[f"{prefix}new_mean"], state[f"{prefix}new_std"]
            break
    return network, mean, std


def load_robust_resnet50(path, *, weights_only: bool = True) -> NormalizedResNet:
    """Load a robustness-library ResNet-50 checkpoint into torchvision's ``resnet50``.

    Parameters
    ----------
    path : local path of ``imagenet_l2_3_0.pt`` (or another robustness-library ResNet-50
        checkpoint: a dict with a ``'model'`` or ``'state_dict'`` entry whose keys start with
        ``module.model.``, ``module.attacker.model.`` and ``module.normalizer.``).
    weights_only : load with ``torch.load(weights_only=True)`` (safe). Some checkpoints also
        pickle Python objects (e.g. training arguments); pass ``False`` only for a file you trust.

    Returns
    -------
    :class:`NormalizedResNet` in eval mode on the CPU: inputs in [0, 1], normaliser from the
    checkpoint (ImageNet's mean/std when it has none).
    """
    if path is None:
        raise TypeError(f"path: expected the checkpoint's file path, got None. {_WHERE_TO_GET}")
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"path: no checkpoint file at {str(path)!r}. {_WHERE_TO_GET}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=weights_only)
    except Exception as error:
        if weights_only and "weights_only" in str(error).lower():
            raise ValueError(
                f"path: {str(path)!r} pickles Python objects besides tensors, so it cannot be "
                "loaded safely with weights_only=True; if you trust the file, pass "
                "weights_only=False"
            ) from error
        raise ValueError(
            f"path: could not read {str(path)!r} as a torch checkpoint: {error}"
        ) from error
    network, mean, std = _split_state_dict(_state_dict_of(checkpoint))
    if "fc.weight" not in network:
        raise ValueError("checkpoint: the network has no 'fc.weight'; is it a ResNet-50?")
    from torchvision.models import resnet50

    resnet = resnet50(weights=None, num_classes=int(network["fc.weight"].shape[0]))
    try:
        resnet.load_state_dict(network, strict=True)
    except RuntimeError as error:
        raise ValueError(
            f"checkpoint: its network does not match torchvision's resnet50: {error}"
        ) from error
    model = NormalizedResNet(
        resnet,
        mean=IMAGENET_MEAN if mean is None else mean,
        std=IMAGENET_STD if std is None else std,
    )
    return model.eval()
