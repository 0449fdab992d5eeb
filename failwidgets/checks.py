"""Argument checks shared by engines and widgets: errors name the argument and the problem."""

from __future__ import annotations

import math
import numbers
import os

import numpy as np

__all__ = [
    "check_fraction",
    "check_indices",
    "check_int",
    "check_n_jobs",
    "check_positive",
    "check_strings",
]


def check_fraction(value, name: str) -> float:
    """``value`` as a float in [0, 1] (NaN refused); TypeError/ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number in [0, 1], got {type(value).__name__}")
    value = float(value)
    if not 0.0 <= value <= 1.0:  # NaN fails too
        raise ValueError(f"{name}: must lie in [0, 1], got {value}")
    return value


def check_int(value, name: str, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int in ``low..high`` (None: no bound on that side); bools are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an integer, got {type(value).__name__}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        if low is not None and high is not None:
            bounds = f"in {low}..{high}"
        else:
            bounds = f">= {low}" if low is not None else f"<= {high}"
        raise ValueError(f"{name}: must be {bounds}, got {value}")
    return value


def check_positive(value, name: str) -> float | None:
    """``value`` as a finite positive float, or None; a ValueError naming ``name`` otherwise
    (bools refused)."""
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{name}: expected a positive number or None, got {value!r}")
    return float(value)


def check_n_jobs(n_jobs) -> int | None:
    """``n_jobs``: None (the caller's default) or a positive integer, as an int; a
    ValueError naming ``n_jobs`` otherwise (bools refused)."""
    if n_jobs is None:
        return None
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs < 1:
        raise ValueError(f"n_jobs: expected a positive integer or None, got {n_jobs!r}")
    return int(n_jobs)


def check_strings(values, name: str) -> list[str]:
    """``values``, a sequence of strings (not one string), as a list; a TypeError naming
    ``name`` and, for an item that is not a string, its position."""
    if isinstance(values, str):
        raise TypeError(f"{name}: expected a sequence of strings, got a single string")
    values = list(values)
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise TypeError(f"{name}: item {i} is {type(value).__name__}, expected str")
    return values


def check_indices(indices, n: int, name: str = "indices") -> np.ndarray:
    """Sample indices (a sequence of integers or a boolean mask of length ``n``) as int64,
    each in ``0..n - 1``, in the order given (a mask gives them sorted)."""
    array = np.asarray(indices)
    if array.dtype == bool:
        if array.shape != (n,):
            raise ValueError(f"{name}: boolean mask of shape {array.shape}, expected ({n},)")
        return np.flatnonzero(array)
    if array.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D sequence of indices, got shape {array.shape}")
    if array.size == 0:
        return array.astype(np.int64)
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{name}: expected integer indices, got dtype {array.dtype}")
    bad = (array < 0) | (array >= n)
    if bad.any():
        raise ValueError(f"{name}: index {int(array[bad][0])} outside 0..{n - 1}")
    return array.astype(np.int64)


def check_output_path(path, example: str):
    """``path`` as a Path to a file that can be written: not a folder, in a folder that
    exists; TypeError/ValueError naming ``path`` (``example``: a file name to suggest)."""
    from pathlib import Path

    if isinstance(path, (bytes, bytearray)) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a file path, got {type(path).__name__}")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"path: {str(path)!r} is a folder; give a file name (e.g. {example})")
    if not path.parent.exists():
        raise ValueError(f"path: the folder {str(path.parent)!r} does not exist")
    return path
