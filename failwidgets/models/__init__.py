"""Real models and datasets, loaded from local files (no downloads unless open_clip may).

- :func:`load_robust_resnet50`: the robustness library's ImageNet L2 eps=3 ResNet-50
  checkpoint (``imagenet_l2_3_0.pt``) in torchvision's ``resnet50``, inputs in [0, 1].
- :func:`load_open_clip`: open_clip models by name with a ``pretrained`` tag or a local
  ``checkpoint_path``; offline, a missing pretrained file fails at once.
- :class:`ZeroShotClassifier`: a CLIP zero-shot classifier as a torch classifier (a pretrained
  model to inspect that needs no training).
- :func:`load_cifar10`, :func:`load_cifar100`, :func:`load_image_folder`: torchvision
  datasets from a local root.

Imports are lazy, so ``import failwidgets.models`` does not import torch.
"""

from __future__ import annotations

from .._lazy import lazy_getattr

__all__ = [
    "NormalizedResNet",
    "load_cifar10",
    "load_cifar100",
    "load_image_folder",
    "load_open_clip",
    "load_robust_resnet50",
    "robust_resnet50_transform",
    "ZeroShotClassifier",
]

_SOURCES = {
    "NormalizedResNet": ".robust_resnet",
    "load_robust_resnet50": ".robust_resnet",
    "robust_resnet50_transform": ".robust_resnet",
    "load_open_clip": ".openclip",
    "load_cifar10": ".datasets",
    "load_cifar100": ".datasets",
    "load_image_folder": ".datasets",
    "ZeroShotClassifier": ".zero_shot",
}


__getattr__ = lazy_getattr(__name__, _SOURCES)


def __dir__():
    return sorted(__all__)
