"""The planted-failure world: seeded images, ground-truth attributes, splits and failures."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..checks import check_n_jobs
from .drawing import BACKGROUNDS, CLASS_NAMES, COLOURS, TEXTURES, render_batch
from .failures import PlantedFailure, check_failures, default_failures, plant, reserved_values

__all__ = ["GENERATOR_VERSION", "MIN_IMAGE_SIZE", "World", "make_world"]

# Bump with every change to drawing.py, failures.py or make_world that changes a generated
# world (pixels, attributes, labels, splits or failures): it names the on-disk world cache
# (world_cache.py), so a bump makes every cached world stale. tests/test_world.py pins a
# digest of a small world to this number.
GENERATOR_VERSION = 1
MIN_IMAGE_SIZE = 16
SPLIT_FRACTIONS = {"train": 0.7, "val": 0.15, "test": 0.15}
_CHUNK = 1024  # images rendered per vectorised batch (fixed: part of the seeded stream)
_BLUR_LEVELS = (0.0, 0.6, 1.0, 1.4)  # Gaussian sigma in pixels of a 64-pixel image
_BLUR_PROBS = (0.55, 0.15, 0.15, 0.15)
_OCCLUDER_RATE = 0.12
_DISTRACTOR_RATE = 0.2
_MAX_TILT = 25.0  # objects stand upright, tilted by at most this many degrees
_ATTRIBUTE_COLUMNS = [
    "class_name", "colour", "texture", "background", "size", "x", "y", "rotation",
    "brightness", "blur", "noise", "occluder", "distractor", "has_part",
]  # fmt: skip


@dataclass
class World:
    """A generated world: images, labels, splits, attributes and the planted failures.

    Attributes
    ----------
    images : uint8 (N, H, W, 3).
    labels : int64 (N,), indices into ``class_names``.
    class_names : the object classes.
    split : (N,) array of "train" / "val" / "test".
    attributes : DataFrame, one row per image: ``class_name``, ``colour``, ``texture``,
        ``background``, ``size`` (object radius / image size), ``x``, ``y`` (object centre /
        image size), ``rotation`` (tilt in degrees), ``brightness`` (multiplier), ``blur`` (Gaussian
        sigma in pixels), ``noise`` (pixel noise std on the [0, 1] scale), ``occluder``,
        ``distractor``, ``has_part`` (the class's distinguishing part is drawn).
    failures : the planted failures (ground truth).
    seed : the generating seed.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    split: np.ndarray
    attributes: pd.DataFrame
    failures: list[PlantedFailure] = field(default_factory=list)
    seed: int = 0

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        counts = {s: int((self.split == s).sum()) for s in SPLIT_FRACTIONS}
        return (
            f"World(n={len(self)}, image_size={self.images.shape[1]}, "
            f"classes={len(self.class_names)}, splits={counts}, "
            f"failures={[f.name for f in self.failures]})"
        )

    def indices(self, split: str) -> np.ndarray:
        """Indices of the images in ``split`` ("train", "val" or "test")."""
        if split not in SPLIT_FRACTIONS:
            raise ValueError(f"split: expected one of {list(SPLIT_FRACTIONS)}, got {split!r}")
        return np.flatnonzero(self.split == split)

    def failure(self, name: str) -> PlantedFailure:
        """The planted failure called ``name``."""
        for item in self.failures:
            if item.name == name:
                return item
        raise ValueError(
            f"name: no planted failure {name!r}; have {[f.name for f in self.failures]}"
        )

    def _check_predictions(self, predictions) -> np.ndarray:
        predictions = np.asarray(predictions)
        if predictions.shape != self.labels.shape:
            raise ValueError(
                f"predictions: expected shape {self.labels.shape} (one per image), "
                f"got {predictions.shape}"
            )
        return predictions

    def failure_report(self, predictions, split: str = "test") -> pd.DataFrame:
        """Accuracy on each planted failure's members vs the rest of its class, in ``split``.

        Returns one row per failure: ``failure``, ``kind``, ``class_name``, ``n_members``,
        ``acc_members``, ``n_rest``, ``acc_rest``, ``gap`` (rest minus members, in points of
        accuracy as a fraction).
        """
        correct = self._check_predictions(predictions) == self.labels
        in_split = self.split == split if split is not None else np.ones(len(self), bool)
        rows = []
        for failure in self.failures:
            members = failure.members(self.attributes) & in_split
            own = (self.attributes["class_name"] == failure.class_name).to_numpy() & in_split
            rest = own & ~members
            acc_m = correct[members].mean() if members.any() else np.nan
            acc_r = correct[rest].mean() if rest.any() else np.nan
            rows.append(
                {
                    "failure": failure.name,
                    "kind": failure.kind,
                    "class_name": failure.class_name,
                    "n_members": int(members.sum()),
                    "acc_members": float(acc_m),
                    "n_rest": int(rest.sum()),
                    "acc_rest": float(acc_r),
                    "gap": float(acc_r - acc_m),
                }
            )
        return pd.DataFrame(rows)

    def subset_report(self, failure: PlantedFailure | str, predictions, split: str = "test"):
        """Accuracy of the failing class on every non-empty subset of the failure's attributes.

        For a conjunction this shows that single values and pairs are easy while the full
        triple is hard. Rows: ``attributes`` (tuple of columns), ``size``, ``n``, ``accuracy``
        (over every image of the class with these values, as PRIME counts a tag set, so it
        includes the failure's members) and ``n_outside``, ``accuracy_outside`` (the same
        images less the failure's members).
        """
        from itertools import combinations

        if isinstance(failure, str):
            failure = self.failure(failure)
        correct = self._check_predictions(predictions) == self.labels
        in_split = self.split == split
        own = (self.attributes["class_name"] == failure.class_name).to_numpy() & in_split
        members = failure.members(self.attributes)
        columns = list(failure.attributes)
        rows = []
        for k in range(1, len(columns) + 1):
            for subset in combinations(columns, k):
                mask = np.array(own, dtype=bool)
                for column in subset:
                    value = failure.attributes[column]
                    values = list(value) if isinstance(value, (tuple, list)) else [value]
                    mask &= self.attributes[column].isin(values).to_numpy()
                outside = mask & ~members
                rows.append(
                    {
                        "attributes": subset,
                        "size": k,
                        "n": int(mask.sum()),
                        "accuracy": float(correct[mask].mean()) if mask.any() else np.nan,
                        "n_outside": int(outside.sum()),
                        "accuracy_outside": (
                            float(correct[outside].mean()) if outside.any() else np.nan
                        ),
                    }
                )
        return pd.DataFrame(rows)

    def to_evalset(self, predictions, probabilities=None):
        """An :class:`~failwidgets.data.EvalSet` of the whole world with a model's predictions.

        ``predictions`` (N,) class indices; ``probabilities`` optional (N, C). The attributes
        become the metadata and the splits the split column.
        """
        from ..data import EvalSet

        predictions = self._check_predictions(predictions)
        return EvalSet.from_arrays(
            images=self.images,
            labels=self.labels,
            predictions=predictions,
            probabilities=probabilities,
            class_names=self.class_names,
            metadata=self.attributes,
            split=self.split,
        )


def _check_args(n_images, image_size, seed):
    for name, value in (("n_images", n_images), ("image_size", image_size), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name}: expected an integer, got {type(value).__name__}")
    if n_images <= 0:
        raise ValueError(f"n_images: must be positive, got {n_images}")
    if image_size < MIN_IMAGE_SIZE:
        raise ValueError(
            f"image_size: must be at least {MIN_IMAGE_SIZE} pixels to draw the shapes, got {image_size}"
        )
    if seed < 0:
        raise ValueError(f"seed: must be non-negative, got {seed}")


def _pick(rng, values, n):
    return np.asarray(values, dtype=object)[rng.integers(0, len(values), size=n)]


def _sample_table(n: int, rng: np.random.Generator, class_names: list[str]) -> dict:
    """Independent draws of every attribute (before the failures bias them)."""
    labels = rng.permutation(np.arange(n) % len(class_names)).astype(np.int64)
    n_train = int(round(SPLIT_FRACTIONS["train"] * n))
    n_val = int(round(SPLIT_FRACTIONS["val"] * n))
    split = np.empty(n, dtype=object)
    order = rng.permutation(n)
    split[order[:n_train]] = "train"
    split[order[n_train : n_train + n_val]] = "val"
    split[order[n_train + n_val :]] = "test"
    return {
        "label": labels,
        "split": split,
        "colour": _pick(rng, list(COLOURS), n),
        "texture": _pick(rng, TEXTURES, n),
        "background": _pick(rng, BACKGROUNDS, n),
        "size": rng.uniform(0.2, 0.34, size=n),
        "rotation": rng.uniform(-_MAX_TILT, _MAX_TILT, size=n),
        "brightness": rng.uniform(0.75, 1.25, size=n),
        "blur": np.asarray(_BLUR_LEVELS)[rng.choice(len(_BLUR_LEVELS), size=n, p=_BLUR_PROBS)],
        "noise": rng.uniform(0.0, 0.05, size=n),
        "occluder": rng.random(n) < _OCCLUDER_RATE,
        "distractor": rng.random(n) < _DISTRACTOR_RATE,
        "has_part": np.ones(n, dtype=bool),
        "_pos": rng.random((n, 2)),
        "_occ": rng.random((n, 5)),
        "_dis": rng.random((n, 4)),
        "_dis_colour": _pick(rng, list(COLOURS), n),
    }


def _geometry(table: dict, size: int) -> dict:
    """Pixel geometry of object, occluder and distractor from the table's unit draws."""
    radius = table["size"] * size
    margin = 0.95 * radius + 1.0
    cx = margin + table["_pos"][:, 0] * (size - 2 * margin)
    cy = margin + table["_pos"][:, 1] * (size - 2 * margin)
    occ = table["_occ"]
    angle = occ[:, 0] * 2 * np.pi
    offset = (0.45 + 0.35 * occ[:, 1]) * radius
    dis = table["_dis"]
    dis_r = (0.08 + 0.04 * dis[:, 0]) * size
    # distractor centre: the point opposite the object across the image centre, jittered
    jitter = (dis[:, 1:3] - 0.5) * 0.2 * size
    dis_cx = np.clip(size - cx + jitter[:, 0], dis_r, size - dis_r)
    dis_cy = np.clip(size - cy + jitter[:, 1], dis_r, size - dis_r)
    return {
        "cx": cx.astype(np.float32),
        "cy": cy.astype(np.float32),
        "radius": radius.astype(np.float32),
        "rotation": np.deg2rad(table["rotation"]).astype(np.float32),
        "occ_cx": (cx + offset * np.cos(angle)).astype(np.float32),
        "occ_cy": (cy + offset * np.sin(angle)).astype(np.float32),
        "occ_w": ((0.14 + 0.1 * occ[:, 2]) * radius).astype(np.float32),
        "occ_h": ((0.14 + 0.1 * occ[:, 3]) * radius).astype(np.float32),
        "occ_grey": (0.3 + 0.35 * occ[:, 4]).astype(np.float32),
        "dis_cx": dis_cx.astype(np.float32),
        "dis_cy": dis_cy.astype(np.float32),
        "dis_r": dis_r.astype(np.float32),
    }


def make_world(
    n_images: int = 20000,
    image_size: int = 64,
    seed: int = 0,
    failures: list[PlantedFailure] | None = None,
    *,
    n_jobs: int | None = None,
) -> World:
    """Generate the planted-failure world.

    Parameters
    ----------
    n_images : number of images (split 70/15/15 into train/val/test).
    image_size : side of the square RGB images in pixels (at least ``MIN_IMAGE_SIZE``).
    seed : the world is a deterministic function of ``(n_images, image_size, seed, failures)``.
    failures : planted failures; ``None`` plants :func:`default_failures`, ``[]`` none.
    n_jobs : threads rendering the images (default: up to 4, one per CPU); the images do not
        depend on it.

    Returns
    -------
    World
    """
    _check_args(n_images, image_size, seed)
    n_jobs = check_n_jobs(n_jobs)
    class_names = list(CLASS_NAMES)
    failures = default_failures() if failures is None else check_failures(failures, class_names)

    rng = np.random.default_rng([int(seed), 0])
    table = _sample_table(int(n_images), rng, class_names)
    # conjunctions last: they clear their triple from every class the others may have touched
    reserved = reserved_values(failures)
    for failure in sorted(failures, key=lambda f: f.kind == "conjunction"):
        plant(failure, table, class_names, rng, reserved)

    size = int(image_size)
    geometry = _geometry(table, size)
    scale = size / 64.0
    blur_px = (table["blur"] * scale).astype(np.float32)
    params = {
        **geometry,
        "class_name": np.asarray(class_names, dtype=object)[table["label"]],
        "colour": table["colour"],
        "texture": table["texture"],
        "background": table["background"],
        "brightness": table["brightness"],
        "blur": blur_px,
        "noise": table["noise"],
        "occluder": table["occluder"],
        "distractor": table["distractor"],
        "has_part": table["has_part"],
        "dis_colour": table["_dis_colour"],
    }
    n = int(n_images)
    images = np.empty((n, size, size, 3), dtype=np.uint8)

    def render_chunk(chunk: int) -> None:
        start, stop = chunk * _CHUNK, min((chunk + 1) * _CHUNK, n)
        batch = {key: value[start:stop] for key, value in params.items()}
        chunk_rng = np.random.default_rng([int(seed), 1, chunk])  # same stream in any thread
        images[start:stop] = render_batch(batch, size, chunk_rng)

    n_chunks = -(-n // _CHUNK)
    workers = min(n_chunks, n_jobs if n_jobs is not None else min(4, os.cpu_count() or 1))
    if workers > 1:  # numpy and scipy.ndimage release the GIL on whole-array work
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(render_chunk, range(n_chunks)))
    else:
        for chunk in range(n_chunks):
            render_chunk(chunk)

    attributes = pd.DataFrame(
        {
            "class_name": params["class_name"].astype(str),
            "colour": table["colour"].astype(str),
            "texture": table["texture"].astype(str),
            "background": table["background"].astype(str),
            "size": table["size"].astype(np.float32),
            "x": (geometry["cx"] / size).astype(np.float32),
            "y": (geometry["cy"] / size).astype(np.float32),
            "rotation": table["rotation"].astype(np.float32),
            "brightness": table["brightness"].astype(np.float32),
            "blur": blur_px,
            "noise": table["noise"].astype(np.float32),
            "occluder": table["occluder"],
            "distractor": table["distractor"],
            "has_part": table["has_part"],
        }
    )[_ATTRIBUTE_COLUMNS]
    return World(
        images=images,
        labels=table["label"],
        class_names=class_names,
        split=table["split"].astype(str),
        attributes=attributes,
        failures=list(failures),
        seed=int(seed),
    )
