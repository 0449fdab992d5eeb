"""Thumbnail encoding: resize RGB images to a small box and encode them as JPEG, PNG or WebP bytes.

Thumbnails are what the ImageGrid sends to the browser, one binary buffer per image. Resizing keeps
the aspect ratio, never enlarges (the browser scales small images up for free) and uses Pillow's
antialiased bilinear filter; encoding releases the GIL, so batches are spread over threads.
"""

from __future__ import annotations

import io
import os
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .checks import check_n_jobs

__all__ = [
    "THUMBNAIL_FORMATS",
    "thumbnail_shape",
    "encode_thumbnail",
    "encode_thumbnails",
    "ThumbnailCache",
]

#: Supported formats and their MIME types.
THUMBNAIL_FORMATS = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}

# Below this many images a thread pool costs more than it saves.
_MIN_PARALLEL_BATCH = 16


def _check_size(size) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise TypeError(f"size: expected an integer number of pixels, got {type(size).__name__}")
    if size <= 0:
        raise ValueError(f"size: must be a positive number of pixels, got {size}")
    return int(size)


def _check_format(format: str) -> str:
    if not isinstance(format, str) or format.lower() not in THUMBNAIL_FORMATS:
        raise ValueError(f"format: expected one of {sorted(THUMBNAIL_FORMATS)}, got {format!r}")
    return format.lower()


def _check_quality(quality) -> int:
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)):
        raise TypeError(f"quality: expected an integer 1..100, got {type(quality).__name__}")
    if not 1 <= quality <= 100:
        raise ValueError(f"quality: must be in 1..100, got {quality}")
    return int(quality)


def _check_image(image) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image: expected a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise TypeError(f"image: expected dtype uint8, got {image.dtype}")
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"image: expected a non-empty RGB array (H, W, 3), got {image.shape}")
    return image


def thumbnail_shape(height: int, width: int, size: int) -> tuple[int, int]:
    """(height, width) of an image fitted into a ``size`` x ``size`` box, never enlarged.

    The aspect ratio is kept; each side is at least one pixel.
    """
    size = _check_size(size)
    if height <= size and width <= size:
        return int(height), int(width)
    scale = size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def _encode(image: np.ndarray, size: int, format: str, quality: int) -> bytes:
    from PIL import Image

    height, width = image.shape[:2]
    out_h, out_w = thumbnail_shape(height, width, size)
    picture = Image.fromarray(np.ascontiguousarray(image))
    if (out_h, out_w) != (height, width):
        picture = picture.resize((out_w, out_h), Image.Resampling.BILINEAR, reducing_gap=2.0)
    buffer = io.BytesIO()
    if format == "jpeg":
        picture.save(buffer, "JPEG", quality=quality)
    elif format == "webp":
        picture.save(buffer, "WEBP", quality=quality, method=0)
    else:
        picture.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def encode_thumbnail(image: np.ndarray, size: int = 96, format: str = "jpeg", quality: int = 85):
    """Resize one uint8 RGB image (H, W, 3) into a ``size`` box and encode it.

    Parameters
    ----------
    image : np.ndarray
        uint8 array of shape (H, W, 3).
    size : int
        Longest side of the thumbnail in pixels (smaller images are kept as they are).
    format : {"jpeg", "png", "webp"}
        Encoding; the MIME type is ``THUMBNAIL_FORMATS[format]``.
    quality : int
        1..100 for JPEG and WebP (ignored for PNG, which is lossless).

    Returns
    -------
    bytes
        The encoded image file.
    """
    return _encode(
        _check_image(image), _check_size(size), _check_format(format), _check_quality(quality)
    )


def _default_jobs() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def encode_thumbnails(
    images: Iterable[np.ndarray] | np.ndarray,
    size: int = 96,
    format: str = "jpeg",
    quality: int = 85,
    n_jobs: int | None = None,
) -> list[bytes]:
    """Encode many images (a (k, H, W, 3) array or a sequence of (H, W, 3) arrays of any sizes).

    ``n_jobs`` threads share the work (default: the number of CPUs, at most 8); Pillow releases the
    GIL while resizing and encoding, so threads give a real speed-up. Order is preserved.
    """
    size, format, quality = _check_size(size), _check_format(format), _check_quality(quality)
    n_jobs = check_n_jobs(n_jobs) or _default_jobs()
    if isinstance(images, np.ndarray):
        if images.ndim != 4:
            raise ValueError(f"images: expected an array (k, H, W, 3), got shape {images.shape}")
        items: Sequence[np.ndarray] = list(images)
    else:
        items = list(images)
    for position, item in enumerate(items):
        try:
            _check_image(item)
        except (TypeError, ValueError) as error:
            raise type(error)(f"images[{position}]: {error}") from None

    def work(item: np.ndarray) -> bytes:
        return _encode(item, size, format, quality)

    if n_jobs == 1 or len(items) < _MIN_PARALLEL_BATCH:
        return [work(item) for item in items]
    chunk = max(1, len(items) // (4 * n_jobs))
    with ThreadPoolExecutor(max_workers=int(n_jobs)) as pool:
        return list(pool.map(work, items, chunksize=chunk))


class ThumbnailCache:
    """Least-recently-used cache of encoded thumbnails keyed by sample index.

    Parameters
    ----------
    load_image : callable
        ``load_image(i) -> uint8 (H, W, 3)``, e.g. ``EvalSet.image``.
    size, format, quality : see :func:`encode_thumbnail`.
    max_items : int
        Thumbnails kept in memory (a 96-pixel JPEG is about 2-4 kB).
    n_jobs : int or None
        Threads used to encode a batch of missing thumbnails.
    """

    def __init__(
        self,
        load_image: Callable[[int], np.ndarray],
        size: int = 96,
        format: str = "jpeg",
        quality: int = 85,
        max_items: int = 4096,
        n_jobs: int | None = None,
    ):
        if not callable(load_image):
            raise TypeError("load_image: expected a callable i -> uint8 (H, W, 3) array")
        self.load_image = load_image
        self.size = _check_size(size)
        self.format = _check_format(format)
        self.quality = _check_quality(quality)
        if isinstance(max_items, bool) or not isinstance(max_items, (int, np.integer)):
            raise TypeError(f"max_items: expected an integer, got {type(max_items).__name__}")
        if max_items < 0:
            raise ValueError(f"max_items: must be >= 0, got {max_items}")
        self.max_items = int(max_items)
        self.n_jobs = n_jobs
        self._items: OrderedDict[int, bytes] = OrderedDict()

    @property
    def mime_type(self) -> str:
        return THUMBNAIL_FORMATS[self.format]

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()

    def get_many(self, indices: Iterable[int]) -> tuple[list[bytes | None], dict[int, str]]:
        """Thumbnails for ``indices`` (repeats allowed), encoding only the ones not cached.

        Returns
        -------
        thumbnails : list of bytes or None
            One entry per index; None where the image could not be loaded.
        errors : dict
            Sample index -> error message for the images that could not be loaded.
        """
        wanted = [int(i) for i in indices]
        missing = [i for i in dict.fromkeys(wanted) if i not in self._items]
        errors: dict[int, str] = {}
        loaded: list[tuple[int, np.ndarray]] = []
        for i in missing:
            try:
                loaded.append((i, _check_image(np.asarray(self.load_image(i)))))
            except Exception as error:  # one unreadable image must not break a whole page
                errors[i] = f"{type(error).__name__}: {error}"
        encoded = encode_thumbnails(
            [image for _, image in loaded],
            self.size,
            self.format,
            self.quality,
            n_jobs=self.n_jobs,
        )
        fresh = {i: data for (i, _), data in zip(loaded, encoded)}
        result: list[bytes | None] = []
        for i in wanted:
            data = self._items.get(i)
            if data is not None:
                self._items.move_to_end(i)
            else:
                data = fresh.get(i)
            result.append(data)
        for i, data in fresh.items():
            self._store(i, data)
        return result, errors

    def _store(self, index: int, data: bytes) -> None:
        if self.max_items == 0:
            return
        self._items[index] = data
        self._items.move_to_end(index)
        while len(self._items) > self.max_items:
            self._items.popitem(last=False)
