"""Where and how costly per-image arrays are cached on disk.

A cached array is named by a digest of what it depends on: the images' fingerprint
(:meth:`failwidgets.images.ImageSource.fingerprint`: paths, sizes and modification times, or an
array's shape plus a sampled hash; never every pixel), the model's weights and the settings.
Changing any of them gives a new name, so a stale array is never read back; a file is written
atomically (temporary file, then rename), so a killed process never leaves a half-written one.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = ["cache_directory", "digest", "state_digest", "cached_array", "save_array_atomic"]

_CACHE_VERSION = b"failwidgets-cache-v2"


def cache_directory(cache_dir=None) -> Path:
    """``cache_dir``, else ``$FAILWIDGETS_CACHE_DIR``, else ``$XDG_CACHE_HOME/failwidgets``
    (default ``~/.cache/failwidgets``)."""
    if cache_dir is not None:
        return Path(cache_dir)
    if os.environ.get("FAILWIDGETS_CACHE_DIR"):
        return Path(os.environ["FAILWIDGETS_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "failwidgets"


def digest(*parts, salt: bytes = _CACHE_VERSION) -> str:
    """A short hex digest of ``parts`` (arrays by content, bytes as is, the rest by repr)."""
    hasher = hashlib.blake2b(salt, digest_size=16)
    for part in parts:
        if isinstance(part, np.ndarray):
            array = np.ascontiguousarray(part)
            hasher.update(f"{array.dtype.str}{array.shape}".encode())
            hasher.update(memoryview(array).cast("B"))
        elif isinstance(part, bytes):
            hasher.update(part)
        else:
            hasher.update(repr(part).encode())
    return hasher.hexdigest()


def state_digest(module) -> str:
    """Digest of a torch module's weights and buffers (its state dict, in order)."""
    hasher = hashlib.blake2b(digest_size=16)
    for name, tensor in module.state_dict().items():
        hasher.update(name.encode())
        tensor = tensor.detach().cpu().contiguous()
        array = np.ascontiguousarray(
            (tensor.float() if str(tensor.dtype) == "torch.bfloat16" else tensor).numpy()
        )
        hasher.update(f"{array.dtype.str}{array.shape}".encode())
        hasher.update(memoryview(array).cast("B"))
    return hasher.hexdigest()


def save_array_atomic(path: Path, array: np.ndarray) -> None:
    """``np.save`` to a temporary file beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            np.save(handle, array, allow_pickle=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def cached_array(path: Path | None, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """The array saved at ``path``, else ``compute()`` saved there (no cache when None)."""
    if path is not None and path.is_file():
        return np.load(path, allow_pickle=False)
    array = compute()
    if path is not None:
        save_array_atomic(path, array)
    return array
