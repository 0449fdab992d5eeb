"""Numbers as the views and reports write them."""

from __future__ import annotations

import math

__all__ = ["percent"]


def percent(value, digits: int = 1, missing: str = "—") -> str:
    """``value`` (a fraction) as a percentage with ``digits`` decimals; ``missing`` for None,
    NaN or an infinite value."""
    if value is None or not math.isfinite(float(value)):
        return missing
    return f"{100 * float(value):.{digits}f}%"
