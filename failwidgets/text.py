"""Numbers as the views and reports write them."""

from __future__ import annotations

import math

__all__ = ["finite_or_none", "percent", "plural"]


def percent(value, digits: int = 1, missing: str = "—") -> str:
    """``value`` (a fraction) as a percentage with ``digits`` decimals; ``missing`` for None,
    NaN or an infinite value."""
    if value is None or not math.isfinite(float(value)):
        return missing
    return f"{100 * float(value):.{digits}f}%"


def plural(n: int, word: str) -> str:
    """``"1 image"``, ``"3 images"``: ``n`` and ``word``, with an ``s`` unless ``n`` is 1."""
    return f"{n} {word}{'s' if n != 1 else ''}"


def finite_or_none(value) -> float | None:
    """``value`` as a float, or None for None, NaN and infinities (JSON has no NaN)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
