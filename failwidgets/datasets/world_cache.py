"""The generated world cached on disk: generated once, memory-mapped on later runs.

A world is a deterministic function of its parameters and of the generator's code, so it is
cached under a key made of both (:func:`world_key`: ``GENERATOR_VERSION``, ``n_images``,
``image_size``, ``seed``, the planted failures and the numpy and scipy versions). Three files
in :func:`~failwidgets.features.cache.cache_directory`, each written atomically:

- ``world-<key>-images.npy``: the uint8 (N, H, W, 3) images, memory-mapped when read back
  (copy-on-write: writing into ``world.images`` never changes the file);
- ``world-<key>-table.npy``: one structured row per image (label, split and attributes);
- ``world-<key>.json``: the manifest, written last, with the key, the images' checksum and
  the table's digest.

A world is read back only when all three agree; a missing, truncated or corrupt file makes
:func:`cached_world` generate the world again and rewrite the files.
"""

from __future__ import annotations

import json
import os
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

from ..features.cache import cache_directory, digest, save_array_atomic
from .drawing import CLASS_NAMES
from .failures import PlantedFailure, check_failures, default_failures
from .world import _ATTRIBUTE_COLUMNS, GENERATOR_VERSION, World, _check_args, make_world

__all__ = ["cached_world", "image_checksum", "world_cache_paths", "world_key"]

_FORMAT = 1  # layout of the three files; bump when it changes
_LABEL, _SPLIT = "_label", "_split"  # table fields beside the attribute columns
_READ_ERRORS = (OSError, ValueError, EOFError, KeyError, TypeError)


def _resolve_failures(failures) -> list[PlantedFailure]:
    if failures is None:
        return default_failures()
    return check_failures(failures, list(CLASS_NAMES))


def world_key(n_images: int = 20000, image_size: int = 64, seed: int = 0, failures=None) -> str:
    """The cache key of ``make_world(n_images, image_size, seed, failures)``.

    It changes with ``GENERATOR_VERSION``, any parameter, any planted failure (by its repr)
    and the numpy and scipy versions (their random streams and filters draw the pixels).
    """
    _check_args(n_images, image_size, seed)
    failures = _resolve_failures(failures)
    return digest(
        "planted-failure-world",
        _FORMAT,
        GENERATOR_VERSION,
        int(n_images),
        int(image_size),
        int(seed),
        [repr(f) for f in failures],
        np.__version__,
        version("scipy"),
    )


def world_cache_paths(key: str, cache_dir=None) -> dict[str, Path]:
    """The files of the world cached under ``key``: ``images``, ``table`` and ``manifest``."""
    folder = cache_directory(cache_dir)
    return {
        "images": folder / f"world-{key}-images.npy",
        "table": folder / f"world-{key}-table.npy",
        "manifest": folder / f"world-{key}.json",
    }


def cached_world(
    n_images: int = 20000,
    image_size: int = 64,
    seed: int = 0,
    failures=None,
    *,
    cache_dir=None,
) -> World:
    """:func:`~failwidgets.datasets.make_world`, read from the disk cache when there.

    Parameters
    ----------
    n_images, image_size, seed, failures : as for ``make_world``.
    cache_dir : folder of the cache (default :func:`~failwidgets.features.cache.cache_directory`).

    Returns
    -------
    World
        Equal to ``make_world(n_images, image_size, seed, failures)``; its images are a
        copy-on-write memory map of the cached file when read back. When the cache cannot be
        written (read-only folder, full disk) a warning says so and the generated world is
        returned.
    """
    failures = _resolve_failures(failures)
    key = world_key(n_images, image_size, seed, failures)
    paths = world_cache_paths(key, cache_dir)
    shape = (int(n_images), int(image_size), int(image_size), 3)
    world = _read(paths, key, shape, failures, int(seed))
    if world is not None:
        return world
    world = make_world(n_images=n_images, image_size=image_size, seed=seed, failures=failures)
    try:
        _write(paths, key, world)
    except OSError as error:
        warnings.warn(
            f"could not cache the world in {paths['images'].parent}: {error}", stacklevel=2
        )
    return world


# --------------------------------------------------------------------------- files
def image_checksum(images: np.ndarray) -> str:
    """Digest of each image's sum of 64-bit words (one fast pass over the pixels).

    It catches truncated, zeroed, overwritten or reordered images; it is no cryptographic hash.
    """
    rows = np.ascontiguousarray(images).reshape(len(images), -1)
    if rows.shape[1] % 8 == 0:
        sums = rows.view(np.uint64).sum(axis=1, dtype=np.uint64)
    else:
        sums = rows.sum(axis=1, dtype=np.uint64)
    return digest(sums)


def _table(world: World) -> np.ndarray:
    """Labels, splits and attributes as one structured array (no Python objects)."""
    columns = {_LABEL: world.labels, _SPLIT: world.split}
    columns.update({name: world.attributes[name].to_numpy() for name in _ATTRIBUTE_COLUMNS})
    arrays = {}
    for name, values in columns.items():
        values = np.asarray(values)
        arrays[name] = values.astype(str) if values.dtype == object else values
    table = np.empty(len(world), dtype=[(name, a.dtype) for name, a in arrays.items()])
    for name, values in arrays.items():
        table[name] = values
    return table


def _write(paths: dict[str, Path], key: str, world: World) -> None:
    table = _table(world)
    save_array_atomic(paths["images"], world.images)
    save_array_atomic(paths["table"], table)
    manifest = {
        "key": key,
        "format": _FORMAT,
        "generator_version": GENERATOR_VERSION,
        "shape": list(world.images.shape),
        "images_checksum": image_checksum(world.images),
        "table_digest": digest(table.tobytes()),
    }
    path = paths["manifest"]
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(manifest, indent=1) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _read(paths: dict[str, Path], key: str, shape: tuple, failures, seed: int) -> World | None:
    """The cached world, or None when a file is missing or does not match its manifest."""
    try:
        manifest = json.loads(paths["manifest"].read_text())
        if not isinstance(manifest, dict):
            return None
        if manifest.get("key") != key or manifest.get("shape") != list(shape):
            return None
        images = np.load(paths["images"], mmap_mode="c", allow_pickle=False)
        table = np.load(paths["table"], allow_pickle=False)
        fields = [_LABEL, _SPLIT, *_ATTRIBUTE_COLUMNS]
        if (
            images.dtype != np.uint8
            or images.shape != shape
            or table.dtype.names is None
            or list(table.dtype.names) != fields
            or table.shape != (shape[0],)
            or digest(table.tobytes()) != manifest.get("table_digest")
            or image_checksum(images) != manifest.get("images_checksum")
        ):
            return None
    except _READ_ERRORS:
        return None
    attributes = pd.DataFrame({name: np.array(table[name]) for name in _ATTRIBUTE_COLUMNS})
    return World(
        images=images.view(np.ndarray),
        labels=np.array(table[_LABEL]),
        class_names=list(CLASS_NAMES),
        split=np.array(table[_SPLIT]),
        attributes=attributes,
        failures=list(failures),
        seed=seed,
    )
