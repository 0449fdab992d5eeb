"""A column of images (file paths, arrays, PIL images or encoded bytes) as an ImageSource."""

from __future__ import annotations

import os

import numpy as np

from ..images import ImageSource, ListImages, PathImages
from .paths import check_files, resolve_under_root

__all__ = ["image_source_from_values"]


def _kind(value) -> str:
    if isinstance(value, (str, os.PathLike)):
        return "path"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "bytes"
    if isinstance(value, dict):
        if value.get("bytes") is not None:
            return "bytes"
        return "path" if value.get("path") is not None else "missing"
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "missing"
    if isinstance(value, np.ndarray) or hasattr(value, "detach"):
        return "array"
    if hasattr(value, "convert") and hasattr(value, "mode"):
        return "pil"
    return "other"


def _unwrap(value, kind: str):
    if isinstance(value, dict):
        return value["bytes"] if kind == "bytes" else value["path"]
    return value


def image_source_from_values(
    values: list,
    *,
    root=None,
    argument: str = "image",
    follow_external_symlinks: bool = False,
) -> ImageSource:
    """An ImageSource over ``values``, one image per row, all file paths or all in memory.

    File paths are relative to ``root`` when it is given (and must stay inside it: see
    :mod:`failwidgets.ingest.paths`), else absolute or relative to the working directory; every
    file must exist. In-memory rows may mix uint8 arrays (H, W, 3) or (H, W), float arrays in
    [0, 1], tensors, PIL images and encoded bytes (PNG, JPEG, ...), also as the
    ``{"bytes": ..., "path": ...}`` dicts that Hugging Face exports.
    """
    kinds = [_kind(value) for value in values]
    for position, kind in enumerate(kinds):
        if kind == "missing":
            raise ValueError(f"{argument}: row {position} has no image (missing value)")
        if kind == "other":
            raise TypeError(
                f"{argument}: row {position} is a {type(values[position]).__name__}; expected "
                "a file path, a uint8 array, a PIL image or encoded image bytes"
            )
    present = set(kinds)
    if "path" in present and len(present) > 1:
        other = next(i for i, kind in enumerate(kinds) if kind != "path")
        raise ValueError(
            f"{argument}: mixes file paths (row {kinds.index('path')}) and in-memory images "
            f"(row {other}); use one kind per column"
        )
    items = [_unwrap(value, kind) for value, kind in zip(values, kinds, strict=True)]
    if present == {"path"}:
        if root is not None:
            paths = resolve_under_root(
                items,
                root,
                argument=argument,
                follow_external_symlinks=follow_external_symlinks,
            )
        else:
            paths = [os.path.abspath(os.fspath(p)) for p in items]
            check_files(paths, argument=argument)
        return PathImages(paths, readable=True)
    if root is not None:
        raise ValueError(
            f"root: given, but {argument} holds in-memory images, not file paths; leave root out"
        )
    return ListImages(items, argument=argument, label="row")
