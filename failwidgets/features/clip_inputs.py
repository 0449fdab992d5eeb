"""The image side of :class:`~failwidgets.features.clip.ClipEncoder`: batches and preprocessing.

:class:`ImageBatches` reads uint8 RGB batches from an array or an EvalSet and names them by a
fingerprint (never by every pixel). :class:`BatchedPreprocess` runs open_clip's evaluation
transform (resize, centre crop, to-float, normalise) as batched tensor operations on the
device, from uint8 images copied there as uint8; other transforms run per PIL image on the
host.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Iterator

import numpy as np

__all__ = ["BatchedPreprocess", "ImageBatches", "check_image_array"]


def check_image_array(images: np.ndarray) -> np.ndarray:
    """``images`` as uint8 (N, H, W, 3); grey (N, H, W, 1) is broadcast (a view, no copy)."""
    if images.dtype != np.uint8:
        raise TypeError(f"images: expected dtype uint8 (0..255), got {images.dtype}")
    if images.ndim == 4 and images.shape[-1] == 1:
        images = np.broadcast_to(images, (*images.shape[:3], 3))
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(
            f"images: expected shape (N, H, W, 3), got {images.shape}"
            + ("; for one image use images[None]" if images.ndim == 3 else "")
        )
    return images


def _content_digest(images: np.ndarray) -> str:
    """Digest of every pixel: only for EvalSet-like objects whose images have no fingerprint."""
    hasher = hashlib.blake2b(digest_size=16)
    array = np.ascontiguousarray(images)
    hasher.update(f"{array.dtype.str}{array.shape}".encode())
    hasher.update(memoryview(array).cast("B"))
    return hasher.hexdigest()


class ImageBatches:
    """Batches of uint8 RGB images, (B, H, W, 3) arrays (or lists when sizes differ).

    Parameters
    ----------
    images : uint8 array (N, H, W, 3) (or (N, H, W, 1)), or an EvalSet-like object with
        ``images_at(indices)``, ``image(i)`` and ``n`` (and ``images``, an ImageSource).
    indices : with an EvalSet, the samples to read (default: all), in that order.
    batch_size : images per batch.
    """

    def __init__(self, images, indices, batch_size: int):
        self.batch_size = batch_size
        self.evalset = None
        self.indices = None
        if isinstance(images, np.ndarray):
            if indices is not None:
                raise ValueError("indices: only used with an EvalSet; index the array instead")
            self.array = check_image_array(images)
            self.n = len(self.array)
        elif hasattr(images, "images_at") and hasattr(images, "n"):
            self.evalset = images
            if indices is None:
                self.indices = np.arange(images.n, dtype=np.int64)
            elif hasattr(images, "check_indices"):
                self.indices = np.asarray(images.check_indices(indices), dtype=np.int64)
            else:
                self.indices = np.asarray(indices, dtype=np.int64)
            self.n = len(self.indices)
            inner = getattr(getattr(images, "images", None), "array", None)
            self.array = check_image_array(inner) if isinstance(inner, np.ndarray) else None
        else:
            raise TypeError(
                "images: expected a uint8 array (N, H, W, 3) or an EvalSet, "
                f"got {type(images).__name__}"
            )

    @property
    def n_batches(self) -> int:
        return -(-self.n // self.batch_size)

    def fingerprint(self) -> str:
        """A string naming these images, computed without reading every pixel.

        Arrays: :meth:`ArrayImages.fingerprint` (shape, dtype and a sampled hash). EvalSets:
        their image source's ``fingerprint()`` (file paths, sizes and modification times; a
        ``datasets`` fingerprint; an array's), plus the digest of ``indices``.
        """
        from ..images import ArrayImages

        if self.evalset is None:
            return "array:" + ArrayImages(self.array).fingerprint()
        source = getattr(self.evalset, "images", None)
        if callable(getattr(source, "fingerprint", None)):
            images = "source:" + source.fingerprint()
        else:  # a duck-typed EvalSet without an ImageSource: hash the pixels themselves
            images = "pixels:" + "".join(
                _content_digest(image)
                for batch in self.batches()
                for image in ([batch] if isinstance(batch, np.ndarray) else batch)
            )
        order = hashlib.blake2b(self.indices.tobytes(), digest_size=16).hexdigest()
        return f"{images}|indices:{self.n}:{order}"

    def batches(self) -> Iterator:
        """Each batch: a uint8 (B, H, W, 3) array, or a list of (H, W, 3) arrays."""
        for start in range(0, self.n, self.batch_size):
            yield self._batch(start, min(start + self.batch_size, self.n))

    def _batch(self, start: int, stop: int):
        if self.array is not None:
            if self.indices is None:
                return self.array[start:stop]
            idx = self.indices[start:stop]
            if idx[-1] - idx[0] == len(idx) - 1 and np.all(np.diff(idx) == 1):
                return self.array[idx[0] : idx[-1] + 1]  # a contiguous run: a view
            return self.array[idx]
        idx = self.indices[start:stop]
        try:
            return check_image_array(self.evalset.images_at(idx))
        except ValueError:  # images of different sizes: one at a time
            return [check_image_array(self.evalset.image(int(i))[None])[0] for i in idx]


class BatchedPreprocess:
    """An image transform run on batches of uint8 images, on the device where it can be.

    Parameters
    ----------
    preprocess : a PIL image -> (3, S, S) tensor callable (open_clip's evaluation transform).
    device : where the batched steps run.

    Attributes
    ----------
    steps : list of ``(kind, payload)`` (``"uint8"`` geometric transforms, ``"to_float"``,
        ``"normalize"`` with device tensors), or None when the transform must run per PIL
        image on the host.
    """

    def __init__(self, preprocess: Callable, device):
        import torch

        self.preprocess = preprocess
        self.device = torch.device(device)
        self.steps = self._tensor_steps(preprocess, self.device)

    @staticmethod
    def _tensor_steps(preprocess, device) -> list | None:
        import torch
        from torchvision.transforms import CenterCrop, Compose, Normalize, Resize, ToTensor

        try:
            from torchvision.transforms import v2
        except ImportError:  # pragma: no cover - old torchvision
            v2 = None
        transforms = preprocess.transforms if isinstance(preprocess, Compose) else [preprocess]
        geometric = (Resize, CenterCrop) + ((v2.Resize, v2.CenterCrop) if v2 else ())
        normalize = (Normalize,) + ((v2.Normalize,) if v2 else ())
        steps = []
        for transform in transforms:
            name = getattr(transform, "__name__", type(transform).__name__)
            if isinstance(transform, geometric):
                steps.append(("uint8", transform))
            elif isinstance(transform, ToTensor):
                steps.append(("to_float", None))
            elif isinstance(transform, normalize):
                mean, std = (
                    torch.as_tensor(v, dtype=torch.float32, device=device).view(1, -1, 1, 1)
                    for v in (transform.mean, transform.std)
                )
                steps.append(("normalize", (mean, std)))
            elif name in ("MaybeConvertMode", "_convert_to_rgb"):
                continue  # the images are RGB already
            else:
                return None
        kinds = [kind for kind, _ in steps]
        if kinds.count("to_float") != 1 or "uint8" in kinds[kinds.index("to_float") :]:
            return None
        return steps

    def to_host(self, batch, pin: bool):
        """Host side of a batch (run ahead in a thread): uint8 tensors, or the PIL transform.

        Returns a uint8 (B, H, W, 3) tensor, a list of uint8 (1, H, W, 3) tensors, or a float
        (B, 3, S, S) tensor (already preprocessed); pinned when ``pin``.
        """
        import torch

        def tensor(array):
            array = np.ascontiguousarray(array)
            with warnings.catch_warnings():  # read-only arrays (memmaps): never written to
                warnings.filterwarnings("ignore", "The given NumPy array is not writable")
                t = torch.from_numpy(array)
            return t.pin_memory() if pin else t

        if self.steps is None:
            from PIL import Image

            out = torch.stack([self.preprocess(Image.fromarray(np.asarray(im))) for im in batch])
            return out.pin_memory() if pin else out
        if isinstance(batch, np.ndarray):
            return tensor(batch)
        return [tensor(np.asarray(im)[None]) for im in batch]

    def on_device(self, host):
        """Device side: the preprocessed float (B, 3, S, S) batch on ``device``."""
        import torch

        if isinstance(host, list):
            return torch.cat([self.on_device(one) for one in host])
        x = host.to(self.device, non_blocking=True)
        if x.is_floating_point():
            return x
        x = x.permute(0, 3, 1, 2).contiguous()
        for kind, payload in self.steps:
            if kind == "uint8":
                x = payload(x)  # resizing uint8 with antialias rounds and clamps like PIL
            elif kind == "to_float":
                x = x.float().div_(255.0)
            else:
                mean, std = payload
                x = (x - mean) / std
        return x
