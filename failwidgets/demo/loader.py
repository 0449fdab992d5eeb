"""``failwidgets.demo.load()``: the planted-failure world, the classifier's predictions on it and
the demo models, offline, in seconds."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from functools import cached_property

__all__ = ["Demo", "load"]


@dataclass
class Demo:
    """The demo world with the classifier's predictions and the demo models (loaded on first use).

    Attributes
    ----------
    world : the generated :class:`~failwidgets.datasets.World` (images, attributes, failures).
    evalset : an :class:`~failwidgets.EvalSet` over the whole world (splits and metadata set).
    classifier : the classifier under inspection (inputs float [0, 1], normalised inside).
    timings : seconds spent in each loading step.
    """

    world: object
    evalset: object
    classifier: object
    timings: dict = field(default_factory=dict)

    @cached_property
    def robust(self):
        """The adversarially trained feature extractor (Barlow features, CAMs, attacks)."""
        from .robust import load_robust

        return load_robust()

    @cached_property
    def clip(self):
        """The demo CLIP as ``(model, preprocess, tokenizer)`` (open_clip classes)."""
        from .clip_model import load_clip

        return load_clip()

    @cached_property
    def clip_encoder(self):
        """A :class:`~failwidgets.features.clip.ClipEncoder` over the demo CLIP."""
        from ..features.clip import ClipEncoder

        model, preprocess, tokenizer = self.clip
        return ClipEncoder(model, preprocess, tokenizer)

    @cached_property
    def vae(self):
        """The demo beta-VAE (Defuse)."""
        from ..methods.vae import load_demo_vae

        return load_demo_vae()

    @property
    def failures(self):
        """The planted failures (ground truth)."""
        return self.world.failures

    def __repr__(self) -> str:
        return f"Demo({self.evalset!r}, failures={[f.name for f in self.world.failures]})"


def load(n_images: int = 20000, seed: int = 0, image_size: int = 64, *, cache: bool = True):
    """Generate the demo world, run the shipped classifier on it and return a :class:`Demo`.

    Everything is made by project code from shipped weights: no network. The robust model,
    CLIP and VAE load lazily on first access. With ``cache`` (default) repeated calls with the
    same arguments in one process return the same Demo.
    """
    if cache:
        return _load_cached(n_images, seed, image_size)
    return _load(n_images, seed, image_size)


@functools.lru_cache(maxsize=2)
def _load_cached(n_images: int, seed: int, image_size: int) -> Demo:
    return _load(n_images, seed, image_size)


def _load(n_images: int, seed: int, image_size: int) -> Demo:
    from ..datasets import make_world
    from .classifier import load_classifier, predict

    timings = {}
    start = time.perf_counter()
    world = make_world(n_images=n_images, image_size=image_size, seed=seed)
    timings["world"] = time.perf_counter() - start
    start = time.perf_counter()
    classifier = load_classifier()
    predictions, probabilities = predict(classifier, world.images)
    timings["classifier"] = time.perf_counter() - start
    evalset = world.to_evalset(predictions, probabilities)
    return Demo(world=world, evalset=evalset, classifier=classifier, timings=timings)
