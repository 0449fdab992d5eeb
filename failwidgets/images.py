"""Image sources behind an EvalSet: an in-memory array, image files loaded lazily, a torch Dataset.

Every source returns images as ``uint8`` arrays of shape ``(H, W, 3)``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "ImageSource",
    "ArrayImages",
    "PathImages",
    "DatasetImages",
    "SubsetImages",
    "as_image_source",
]


class ImageSource:
    """Random access to N RGB images as uint8 (H, W, 3) arrays."""

    def __len__(self) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    def get(self, index: int) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def get_many(self, indices: Sequence[int] | np.ndarray) -> list[np.ndarray]:
        """Images at ``indices`` as a list (sizes may differ between images)."""
        return [self.get(int(i)) for i in indices]

    @property
    def uniform_shape(self) -> tuple[int, int] | None:
        """(H, W) when every image has the same size and it is known without loading."""
        return None


class ArrayImages(ImageSource):
    """Images held in a uint8 array of shape (N, H, W, 3)."""

    def __init__(self, array: np.ndarray):
        if not isinstance(array, np.ndarray):
            raise TypeError(f"images: expected a numpy array, got {type(array).__name__}")
        if array.dtype != np.uint8:
            raise TypeError(
                f"images: expected dtype uint8 (0..255 RGB), got {array.dtype}; "
                "convert with (x * 255).round().astype(np.uint8) for [0, 1] floats"
            )
        if array.ndim != 4 or array.shape[-1] != 3:
            raise ValueError(f"images: expected shape (N, H, W, 3), got {array.shape}")
        self.array = array

    def __len__(self) -> int:
        return len(self.array)

    def get(self, index: int) -> np.ndarray:
        return self.array[index]

    def get_many(self, indices):
        return list(self.array[np.asarray(indices, dtype=np.int64)])

    @property
    def uniform_shape(self):
        return tuple(self.array.shape[1:3])


def _load_rgb(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except FileNotFoundError:
        raise ValueError(f"images: file not found: {path}") from None
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"images: cannot read image file {path}: {error}") from None


class PathImages(ImageSource):
    """Image files loaded lazily (and not cached) on access."""

    def __init__(self, paths: Sequence[str | os.PathLike], root: str | os.PathLike | None = None):
        if isinstance(paths, (str, os.PathLike)):
            raise TypeError("images: expected a list of paths, got a single path")
        base = Path(root) if root is not None else None
        self.paths = [base / p if base is not None else Path(p) for p in paths]

    def __len__(self) -> int:
        return len(self.paths)

    def get(self, index: int) -> np.ndarray:
        return _load_rgb(self.paths[index])

    def check_readable(self) -> None:
        """Raise a ValueError naming the first path that is missing."""
        for path in self.paths:
            if not path.is_file():
                raise ValueError(f"images: file not found: {path}")


def _to_uint8_rgb(item) -> np.ndarray:
    """Convert a PIL image, a torch tensor (C,H,W) or an array (H,W,C) to uint8 (H,W,3)."""
    if hasattr(item, "convert") and hasattr(item, "size"):  # PIL image
        return np.asarray(item.convert("RGB"), dtype=np.uint8)
    if hasattr(item, "detach"):  # torch tensor, channels first
        array = item.detach().cpu().numpy()
        if array.ndim == 3 and array.shape[0] in (1, 3):
            array = np.moveaxis(array, 0, -1)
    else:
        array = np.asarray(item)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[-1] not in (1, 3):
        raise ValueError(f"images: dataset item has unsupported image shape {array.shape}")
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    if array.dtype != np.uint8:
        array = np.clip(np.asarray(array, dtype=np.float32), 0.0, 1.0)
        array = np.round(array * 255.0).astype(np.uint8)
    return array


class DatasetImages(ImageSource):
    """Images read from a map-style torch Dataset whose items are ``(image, label, ...)`` or images.

    Tensors are taken as channels-first floats in [0, 1]; PIL images and uint8 arrays as they are.
    Pass ``transform=None`` datasets (raw images) for faithful thumbnails.
    """

    def __init__(self, dataset):
        if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
            raise TypeError("images: a torch Dataset needs __getitem__ and __len__")
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def get(self, index: int) -> np.ndarray:
        item = self.dataset[index]
        if isinstance(item, (tuple, list)):
            item = item[0]
        return _to_uint8_rgb(item)


class SubsetImages(ImageSource):
    """A view of another source restricted to (and re-numbered by) ``indices``."""

    def __init__(self, source: ImageSource, indices: np.ndarray):
        self.source = source
        self.indices = np.asarray(indices, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def get(self, index: int) -> np.ndarray:
        return self.source.get(int(self.indices[index]))

    def get_many(self, indices):
        return self.source.get_many(self.indices[np.asarray(indices, dtype=np.int64)])

    @property
    def uniform_shape(self):
        return self.source.uniform_shape


def as_image_source(images) -> ImageSource:
    """Wrap an array, a list of paths or a torch Dataset as an ImageSource."""
    if isinstance(images, ImageSource):
        return images
    if isinstance(images, np.ndarray):
        return ArrayImages(images)
    if isinstance(images, (list, tuple)) and (
        len(images) == 0 or isinstance(images[0], (str, os.PathLike))
    ):
        return PathImages(images)
    if hasattr(images, "__getitem__") and hasattr(images, "__len__"):
        return DatasetImages(images)
    raise TypeError(
        "images: expected a uint8 array (N, H, W, 3), a list of file paths or a torch Dataset, "
        f"got {type(images).__name__}"
    )
