"""Small demo models trained by project code on the planted-failure world, with shipped weights.

- the classifier under inspection (:mod:`failwidgets.demo.classifier`);
- a robust feature extractor, a CNN adversarially trained with L2 PGD
  (:func:`load_robust`, :func:`train_robust`);
- a small CLIP built from open_clip's classes and trained with its contrastive loss
  (:func:`load_clip` -> ``(model, preprocess, tokenizer)``, :func:`train_clip`);
- the beta-VAE Defuse uses on the demo world (:func:`load_demo_vae`, :func:`train_demo_vae`).

Imports are lazy: ``import failwidgets.demo`` does not import torch or open_clip.
"""

from __future__ import annotations

from .._lazy import lazy_getattr

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
    "load_demo_vae": ".vae_model",
    "train_demo_vae": ".vae_model",
}

__all__ = sorted(_SOURCES)


__getattr__ = lazy_getattr(__name__, _SOURCES)


def __dir__():
    return sorted(__all__)
