"""Argument checks shared by engines and widgets: errors name the argument and the problem."""

from __future__ import annotations

import numbers

__all__ = ["check_fraction", "check_int"]


def check_fraction(value, name: str) -> float:
    """``value`` as a float in [0, 1] (NaN refused); TypeError/ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number in [0, 1], got {type(value).__name__}")
    value = float(value)
    if not 0.0 <= value <= 1.0:  # NaN fails too
        raise ValueError(f"{name}: must lie in [0, 1], got {value}")
    return value


def check_int(value, name: str, low: int, high: int | None = None) -> int:
    """``value`` as an int in ``low..high`` (``high`` None: no upper bound)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an integer, got {type(value).__name__}")
    value = int(value)
    if value < low or (high is not None and value > high):
        bounds = f"in {low}..{high}" if high is not None else f">= {low}"
        raise ValueError(f"{name}: must be {bounds}, got {value}")
    return value
