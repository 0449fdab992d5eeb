"""Small demo models trained by project code on the planted-failure world, with shipped weights.

- the classifier under inspection (:mod:`failwidgets.demo.classifier`);
- a robust feature extractor, a CNN adversarially trained with L2 PGD
  (:func:`load_robust`, :func:`train_robust`);
- a small CLIP built from open_clip's classes and trained with its contrastive loss
  (:func:`load_clip` -> ``(model, preprocess, tokenizer)``, :func:`train_clip`).

Imports are lazy: ``import failwidgets.demo`` does not import torch or open_clip.
"""

from __future__ import annotations

import importlib

_SOURCES = {
    "load": ".loader",
    "Demo": ".loader",
    "load_classifier": ".classifier",
    "train_classifier": ".classifier",
    "RobustCNN": ".robust",
    "load_robust": ".robust",
    "train_robust": ".robust",
    "pgd_l2": ".robust",
    "evaluate_robust": ".robust",
    "load_clip": ".clip_model",
    "train_clip": ".clip_model",
    "pretraining_world": ".clip_model",
    "caption_attributes": ".clip_model",
    "evaluate_zero_shot": ".clip_model",
}

__all__ = sorted(_SOURCES)


def __getattr__(name: str):
    if name in _SOURCES:
        return getattr(importlib.import_module(_SOURCES[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
