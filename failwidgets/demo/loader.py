"""``failwidgets.demo.load()``: the planted-failure world, the classifier's predictions on it and
the demo models, offline, in seconds.

The first run generates the world and runs the classifier, and caches both on disk (the world
by :mod:`failwidgets.datasets.world_cache`, the probabilities by the world's key and the
classifier's weights); later runs, in any process, memory-map the world and read the
probabilities back.
"""

from __future__ import annotations

import functools
import time
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

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
        from .vae_model import load_demo_vae

        return load_demo_vae()

    @property
    def failures(self):
        """The planted failures (ground truth)."""
        return self.world.failures

    def __repr__(self) -> str:
        return f"Demo({self.evalset!r}, failures={[f.name for f in self.world.failures]})"


def load(
    n_images: int = 20000,
    seed: int = 0,
    image_size: int = 64,
    *,
    cache: bool = True,
    cache_dir=None,
) -> Demo:
    """Generate the demo world, run the shipped classifier on it and return a :class:`Demo`.

    Everything is made by project code from shipped weights: no network. The robust model,
    CLIP and VAE load lazily on first access.

    Parameters
    ----------
    n_images, seed, image_size : the world (see :func:`~failwidgets.datasets.make_world`).
    cache : reuse what was made before: the Demo of an earlier call in this process with the
        same arguments, and the world and the classifier's probabilities cached on disk
        (written at the first run, memory-mapped later; see
        :mod:`failwidgets.datasets.world_cache`). False makes everything afresh and reads or
        writes no file.
    cache_dir : folder of the disk cache (default
        :func:`~failwidgets.features.cache.cache_directory`).

    Returns
    -------
    Demo
        ``demo.timings`` holds the seconds spent on the world, the classifier (weights and
        predictions) and the EvalSet.
    """
    if cache:
        from ..features.cache import cache_directory

        return _load_cached(n_images, seed, image_size, str(cache_directory(cache_dir)))
    return _load(n_images, seed, image_size, None)


@functools.lru_cache(maxsize=2)
def _load_cached(n_images: int, seed: int, image_size: int, cache_dir: str) -> Demo:
    return _load(n_images, seed, image_size, cache_dir)


def _load(n_images: int, seed: int, image_size: int, cache_dir: str | None) -> Demo:
    from ..datasets import make_world
    from ..datasets.world_cache import cached_world, world_key
    from .classifier import load_classifier

    timings = {}
    start = time.perf_counter()
    if cache_dir is None:
        world = make_world(n_images=n_images, image_size=image_size, seed=seed)
    else:
        world = cached_world(n_images, image_size, seed, cache_dir=cache_dir)
    timings["world"] = time.perf_counter() - start
    start = time.perf_counter()
    classifier = load_classifier()
    path = None
    if cache_dir is not None:
        path = _probabilities_path(classifier, world_key(n_images, image_size, seed), cache_dir)
    predictions, probabilities = _predictions(classifier, world.images, path)
    timings["classifier"] = time.perf_counter() - start
    start = time.perf_counter()
    evalset = world.to_evalset(predictions, probabilities)
    timings["evalset"] = time.perf_counter() - start
    return Demo(world=world, evalset=evalset, classifier=classifier, timings=timings)


def _probabilities_path(classifier, world_key: str, cache_dir: str) -> Path:
    """Where the classifier's probabilities on a world are cached: named by the world's key,
    the classifier's weights and the torch version."""
    import torch

    from ..features.cache import digest, state_digest

    key = digest("demo-probabilities", world_key, state_digest(classifier), torch.__version__)
    return Path(cache_dir) / f"demo-probabilities-{key}.npy"


def _read_probabilities(path: Path, n: int, n_classes: int) -> np.ndarray | None:
    """The cached probabilities, or None when the file is missing or not n softmax rows."""
    try:
        probs = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if probs.dtype != np.float32 or probs.shape != (n, n_classes):
        return None
    if not (np.isfinite(probs).all() and np.allclose(probs.sum(axis=1), 1.0, atol=1e-3)):
        return None
    return probs


def _predictions(classifier, images, path: Path | None):
    """:func:`~failwidgets.demo.classifier.predict` on ``images``, read from / written to
    ``path`` (no file when None)."""
    from ..features.cache import save_array_atomic
    from .classifier import predict

    if path is not None:
        probs = _read_probabilities(path, len(images), classifier.fc.out_features)
        if probs is not None:
            return probs.argmax(axis=1).astype(np.int64), probs
    predictions, probs = predict(classifier, images)
    if path is not None:
        try:
            save_array_atomic(path, probs)
        except OSError as error:
            warnings.warn(
                f"could not cache the predictions in {path.parent}: {error}", stacklevel=3
            )
    return predictions, probs
