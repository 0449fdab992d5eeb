"""Image sources behind an EvalSet: an in-memory array, image files loaded lazily, a torch Dataset,
a list of in-memory images or encoded bytes, a Hugging Face ``datasets`` column.

Every source returns images as ``uint8`` arrays of shape ``(H, W, 3)``. Float images must lie in
[0, 1] and integer images in 0..255: values outside are refused with an error, never clipped.

Every source has :meth:`ImageSource.fingerprint`, a cheap and stable key for on-disk caches that
never reads every pixel; each source's docstring says what it covers and when it changes.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
from collections.abc import Sequence

import numpy as np

__all__ = [
    "ImageSource",
    "ArrayImages",
    "PathImages",
    "DatasetImages",
    "ListImages",
    "HuggingFaceImages",
    "SubsetImages",
    "as_image_source",
    "to_uint8_rgb",
]

_FINGERPRINT_VERSION = b"failwidgets-fingerprint-v1"
#: Most images hashed by a sampled fingerprint (evenly spaced, first and last included).
SAMPLED_IMAGES = 64
#: Byte budget of the sampled images of an :class:`ArrayImages` fingerprint.
SAMPLED_BYTES = 16 * 2**20
#: Up to this many files, a :class:`PathImages` fingerprint stats every file; beyond, a sample.
STATTED_FILES = 20_000
#: Half a quantisation step: floats this far outside [0, 1] still round to 0 or 255.
_FLOAT_SLACK = 0.5 / 255


def _hasher(kind: str):
    hasher = hashlib.blake2b(_FINGERPRINT_VERSION, digest_size=16)
    hasher.update(kind.encode())
    return hasher


def _sample_positions(n: int, k: int) -> np.ndarray:
    """Up to ``k`` evenly spaced positions in ``range(n)``, first and last included."""
    if n <= k:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, k).round().astype(np.int64))


def _hash_array(hasher, array: np.ndarray) -> None:
    array = np.ascontiguousarray(array)
    hasher.update(f"{array.dtype.str}{array.shape}".encode())
    hasher.update(memoryview(array).cast("B"))


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

    def fingerprint(self) -> str:
        """A cheap, stable key of the images for on-disk caches (32 hex digits).

        This generic version hashes the class name, the length and up to
        :data:`SAMPLED_IMAGES` evenly spaced images (as returned by :meth:`get`): a change to an
        image that is not sampled is not detected. Subclasses give stronger keys where they can.
        """
        hasher = _hasher(f"{type(self).__module__}.{type(self).__qualname__}:{len(self)}")
        for position in _sample_positions(len(self), SAMPLED_IMAGES):
            _hash_array(hasher, self.get(int(position)))
        return hasher.hexdigest()


# ---------------------------------------------------------------------------- conversion
def _value_range_error(where: str, low: float, high: float, kind: str) -> ValueError:
    if kind == "float":
        return ValueError(
            f"{where} has float values in [{low:.4g}, {high:.4g}], outside [0, 1]; pass uint8 "
            "images (0..255) or floats scaled to [0, 1] (e.g. x / 255). Normalised tensors "
            "(mean/std) are not pictures: pass the untransformed images"
        )
    return ValueError(
        f"{where} has integer values in [{low:.0f}, {high:.0f}], outside 0..255; "
        "pass uint8 images (0..255)"
    )


def to_uint8_rgb(item, where: str = "images: item") -> np.ndarray:
    """Convert one image to uint8 (H, W, 3), refusing values it would have to clip.

    Accepts a PIL image, a torch tensor (C, H, W) or (H, W) and an array (H, W, C) or (H, W),
    with 1 or 3 channels. Floats must lie in [0, 1] (up to half a quantisation step, which
    rounds to 0 or 255), integers in 0..255; NaN, infinities and booleans are refused.
    ``where`` starts every error message (e.g. ``"image: row 3"``).
    """
    if hasattr(item, "convert") and hasattr(item, "size"):  # PIL image
        return np.asarray(item.convert("RGB"), dtype=np.uint8)
    if hasattr(item, "detach"):  # torch tensor, channels first
        array = item.detach().cpu()
        if str(array.dtype) == "torch.bfloat16":
            array = array.float()
        array = array.numpy()
        if array.ndim == 3 and array.shape[0] in (1, 3):
            array = np.moveaxis(array, 0, -1)
    else:
        array = np.asarray(item)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[-1] not in (1, 3):
        raise ValueError(
            f"{where} has unsupported image shape {array.shape}; expected (H, W, 3), (H, W, 1), "
            "(H, W) or a channels-first tensor"
        )
    if array.dtype == np.uint8:
        pass
    elif array.dtype == np.bool_ or array.dtype.kind not in "iuf":
        raise TypeError(f"{where} has dtype {array.dtype}; expected uint8 (0..255) or floats")
    elif array.dtype.kind == "f":
        if array.size and not np.all(np.isfinite(array)):
            raise ValueError(f"{where} has NaN or infinite values")
        low, high = (float(array.min()), float(array.max())) if array.size else (0.0, 0.0)
        if low < -_FLOAT_SLACK or high > 1 + _FLOAT_SLACK:
            raise _value_range_error(where, low, high, "float")
        array = np.clip(np.round(np.asarray(array, dtype=np.float32) * 255.0), 0, 255)
        array = array.astype(np.uint8)
    else:
        low, high = (int(array.min()), int(array.max())) if array.size else (0, 0)
        if low < 0 or high > 255:
            raise _value_range_error(where, low, high, "int")
        array = array.astype(np.uint8)
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    return array


def _decode_bytes(data: bytes, where: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise ValueError(f"{where}: cannot decode the image bytes: {error}") from None


def _load_rgb(path: str | os.PathLike) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except FileNotFoundError:
        raise ValueError(f"images: file not found: {path}") from None
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"images: cannot read image file {path}: {error}") from None


# ---------------------------------------------------------------------------- sources
class ArrayImages(ImageSource):
    """Images held in a uint8 array of shape (N, H, W, 3) (a ``np.memmap`` works too).

    Fingerprint: dtype, shape and the bytes of up to :data:`SAMPLED_IMAGES` evenly spaced images
    (first and last included; at most :data:`SAMPLED_BYTES` in all). An in-place edit of images
    that are not sampled is not detected: pass a new array (or clear the cache) after one.
    """

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

    def fingerprint(self) -> str:
        hasher = _hasher(f"array:{self.array.dtype.str}{self.array.shape}")
        per_image = max(1, int(np.prod(self.array.shape[1:])))
        budget = max(2, min(SAMPLED_IMAGES, SAMPLED_BYTES // per_image))
        positions = _sample_positions(len(self.array), budget)
        hasher.update(positions.tobytes())
        for position in positions:
            _hash_array(hasher, self.array[int(position)])
        return hasher.hexdigest()


class PathImages(ImageSource):
    """Image files loaded lazily (and not cached) on access.

    Paths are kept as absolute strings (joined to ``root`` when given). A ``root`` only joins:
    :func:`failwidgets.ingest.paths.resolve_under_root` is what checks that paths stay inside it.
    ``readable=True`` tells that the caller has just checked every file (skips
    :meth:`check_readable`).

    Fingerprint: the absolute paths, and the size and ``mtime_ns`` of every file (``os.stat``
    only, no reads) up to :data:`STATTED_FILES` files; beyond that, of that many evenly spaced
    files (first and last included), so that the key of a million files costs well under a
    second. It changes when a path, the order, the count, or a statted file's size or
    modification time changes; a file rewritten in place with the same size and mtime, or
    (beyond :data:`STATTED_FILES` files) an edit of a file that is not statted, is not detected.
    """

    def __init__(
        self,
        paths: Sequence[str | os.PathLike],
        root: str | os.PathLike | None = None,
        *,
        readable: bool = False,
    ):
        if isinstance(paths, (str, os.PathLike)):
            raise TypeError("images: expected a list of paths, got a single path")
        base = os.path.abspath(os.fspath(root)) if root is not None else None
        if base is not None:
            self.paths = tuple(os.path.join(base, os.fspath(p)) for p in paths)
        else:
            self.paths = tuple(
                text if os.path.isabs(text) else os.path.abspath(text)
                for text in map(os.fspath, paths)
            )
        self._readable = bool(readable)
        self._paths_digest: bytes | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def get(self, index: int) -> np.ndarray:
        return _load_rgb(self.paths[index])

    def check_readable(self) -> None:
        """Raise a ValueError naming the first path that is not a file (checked once)."""
        if self._readable:
            return
        for path in self.paths:
            if not os.path.isfile(path):
                raise ValueError(f"images: file not found: {path}")
        self._readable = True

    def fingerprint(self) -> str:
        if self._paths_digest is None:
            paths_hasher = _hasher("paths")
            paths_hasher.update("\0".join(self.paths).encode("utf-8", "surrogateescape"))
            self._paths_digest = paths_hasher.digest()
        hasher = _hasher(f"paths:{len(self.paths)}")
        hasher.update(self._paths_digest)
        statted = _sample_positions(len(self.paths), STATTED_FILES)
        stats = np.full((len(statted), 2), -1, dtype=np.int64)
        for row, position in enumerate(statted):
            try:
                info = os.stat(self.paths[position])
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                stats[row] = (info.st_size, info.st_mtime_ns)
        hasher.update(statted.tobytes())
        hasher.update(stats.tobytes())
        return hasher.hexdigest()


class DatasetImages(ImageSource):
    """Images read from a map-style torch Dataset whose items are ``(image, label, ...)`` or images.

    Tensors are taken as channels-first, floats in [0, 1]; PIL images and uint8 arrays as they
    are; float values outside [0, 1] raise (a normalising transform makes them): pass the
    untransformed dataset for faithful thumbnails.

    Fingerprint: the dataset's class, its length, the ``repr`` of its ``transform`` (when it has
    one) and up to :data:`SAMPLED_IMAGES` evenly spaced items as converted by :meth:`get`; a
    change to an item that is not sampled is not detected.
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
        elif isinstance(item, dict):
            item = _image_of_dict(item, index)
        return to_uint8_rgb(item, f"images: dataset item {index}")

    def fingerprint(self) -> str:
        kind = type(self.dataset)
        hasher = _hasher(f"dataset:{kind.__module__}.{kind.__qualname__}:{len(self)}")
        hasher.update(repr(getattr(self.dataset, "transform", None)).encode())
        for position in _sample_positions(len(self), SAMPLED_IMAGES):
            _hash_array(hasher, self.get(int(position)))
        return hasher.hexdigest()


def _image_of_dict(item: dict, index: int):
    for key in ("pixel_values", "image", "img", "images"):
        if key in item:
            return item[key]
    raise ValueError(
        f"images: dataset item {index} is a dict without an image key "
        f"('pixel_values', 'image', 'img'); keys: {sorted(item)[:10]}"
    )


def _is_pil(item) -> bool:
    return hasattr(item, "convert") and hasattr(item, "size") and hasattr(item, "mode")


class ListImages(ImageSource):
    """In-memory images, one per item: arrays, torch tensors, PIL images or encoded bytes.

    Items may differ in size. Arrays and tensors are checked at construction (shape, dtype and
    value range, so a float image outside [0, 1] is refused at once); encoded bytes have their
    header read (format known, not decoded); PIL images and bytes are converted on access.
    ``argument`` names the caller's argument in errors (e.g. ``"image"``), ``labels`` the items
    (e.g. ``"row"``).

    Fingerprint: the length, the kind of every item and up to :data:`SAMPLED_IMAGES` evenly
    spaced items (their raw bytes); a change to an item that is not sampled is not detected.
    """

    def __init__(self, items: Sequence, *, argument: str = "images", label: str = "item"):
        self.items = list(items)
        self._where = f"{argument}: {label}"
        for position, item in enumerate(self.items):
            where = f"{self._where} {position}"
            if isinstance(item, (bytes, bytearray, memoryview)):
                _check_header(bytes(item), where)
            elif _is_pil(item):
                continue
            elif isinstance(item, np.ndarray) or hasattr(item, "detach"):
                to_uint8_rgb(item, where)
            else:
                raise TypeError(
                    f"{where} is a {type(item).__name__}; expected an array, a tensor, a PIL "
                    "image or encoded image bytes"
                )

    def __len__(self) -> int:
        return len(self.items)

    def get(self, index: int) -> np.ndarray:
        item = self.items[index]
        where = f"{self._where} {index}"
        if isinstance(item, (bytes, bytearray, memoryview)):
            return _decode_bytes(bytes(item), where)
        return to_uint8_rgb(item, where)

    def fingerprint(self) -> str:
        hasher = _hasher(f"list:{len(self.items)}")
        hasher.update("".join(_kind_letter(item) for item in self.items).encode())
        for position in _sample_positions(len(self.items), SAMPLED_IMAGES):
            item = self.items[int(position)]
            if isinstance(item, (bytes, bytearray, memoryview)):
                hasher.update(bytes(item))
            elif _is_pil(item):
                hasher.update(f"{item.mode}{item.size}".encode())
                hasher.update(item.tobytes())
            else:
                array = item.detach().cpu().numpy() if hasattr(item, "detach") else item
                _hash_array(hasher, np.asarray(array))
        return hasher.hexdigest()


def _kind_letter(item) -> str:
    if isinstance(item, (bytes, bytearray, memoryview)):
        return "b"
    return "p" if _is_pil(item) else "a"


def _check_header(data: bytes, where: str) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)):
            pass
    except (UnidentifiedImageError, OSError, ValueError):
        raise ValueError(
            f"{where}: bytes are not an image file PIL can read (PNG, JPEG, ...)"
        ) from None


class HuggingFaceImages(ImageSource):
    """Images in a column of a Hugging Face ``datasets.Dataset``, decoded lazily on access.

    Handles ``Image()`` features (decoded or ``{"bytes", "path"}`` dicts), arrays and nested
    lists (e.g. ``Array3D``), and strings (file paths). The dataset's output format is reset to
    Python objects for reading, so a ``with_format("torch")`` dataset works unchanged.

    Fingerprint: the dataset's ``_fingerprint`` (which ``datasets`` updates with every transform,
    select or shuffle), the column name and the length.
    """

    def __init__(self, dataset, column: str):
        if column not in dataset.column_names:
            raise ValueError(
                f"image: no column {column!r} in the dataset; columns: {dataset.column_names}"
            )
        self.dataset = dataset
        self.column = column
        self._column_data = dataset.select_columns([column]).with_format(None)

    def __len__(self) -> int:
        return len(self._column_data)

    def _convert(self, item, index: int) -> np.ndarray:
        where = f"image: row {index}"
        if isinstance(item, dict):
            if item.get("bytes") is not None:
                return _decode_bytes(item["bytes"], where)
            item = item.get("path")
        if isinstance(item, str):
            return _load_rgb(item)
        if item is None:
            raise ValueError(f"{where} has no image (None)")
        if isinstance(item, list):
            item = np.asarray(item)
        return to_uint8_rgb(item, where)

    def get(self, index: int) -> np.ndarray:
        index = int(index)
        try:
            item = self._column_data[index][self.column]
        except (OSError, ValueError) as error:  # PIL's UnidentifiedImageError is an OSError
            raise ValueError(f"image: row {index}: cannot decode the image: {error}") from None
        return self._convert(item, index)

    def get_many(self, indices):
        positions = [int(i) for i in indices]
        if not positions:
            return []
        try:
            items = self._column_data[positions][self.column]
        except (OSError, ValueError):  # find the row that fails, and name it
            return [self.get(i) for i in positions]
        return [self._convert(item, i) for item, i in zip(items, positions, strict=True)]

    def fingerprint(self) -> str:
        hasher = _hasher(f"huggingface:{len(self)}")
        hasher.update(str(getattr(self.dataset, "_fingerprint", "")).encode())
        hasher.update(self.column.encode())
        return hasher.hexdigest()


class SubsetImages(ImageSource):
    """A view of another source restricted to (and re-numbered by) ``indices``.

    Fingerprint: the parent's fingerprint and a hash of the indices.
    """

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

    def fingerprint(self) -> str:
        hasher = _hasher("subset")
        hasher.update(self.source.fingerprint().encode())
        _hash_array(hasher, self.indices)
        return hasher.hexdigest()


def _is_in_memory_image(item) -> bool:
    return (
        isinstance(item, (np.ndarray, bytes, bytearray, memoryview))
        or hasattr(item, "detach")
        or _is_pil(item)
    )


def as_image_source(images) -> ImageSource:
    """Wrap an array, a list of paths, a list of in-memory images or a torch Dataset."""
    if isinstance(images, ImageSource):
        return images
    if isinstance(images, np.ndarray):
        return ArrayImages(images)
    if isinstance(images, (list, tuple)):
        if len(images) == 0 or isinstance(images[0], (str, os.PathLike)):
            return PathImages(images)
        if _is_in_memory_image(images[0]):
            return ListImages(images)
    if hasattr(images, "__getitem__") and hasattr(images, "__len__"):
        return DatasetImages(images)
    raise TypeError(
        "images: expected a uint8 array (N, H, W, 3), a list of file paths, a list of images "
        f"or a torch Dataset, got {type(images).__name__}"
    )
