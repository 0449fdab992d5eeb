"""Numbers as the views and reports write them."""

from __future__ import annotations

import math

__all__ = ["percent", "plural"]


def percent(value, digits: int = 1, missing: str = "—") -> str:
    """``value`` (a fraction) as a percentage with ``digits`` decimals; ``missing`` for None,
    NaN or an infinite value."""
    if value is None or not math.isfinite(float(value)):
        return missing
    return f"{100 * float(value):.{digits}f}%"


def plural(n: int, word: str) -> str:
    """``"1 image"``, ``"3 images"``: ``n`` and ``word``, with an ``s`` unless ``n`` is 1."""
    return f"{n} {word}{'s' if n != 1 else ''}"
