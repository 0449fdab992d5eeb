"""Every method's user-facing thresholds, declared once: name, range, default and meaning.

The engines validate with :meth:`ThresholdSpec.check`, the views validate their traits and
label their sliders with it, and the Explorer builds its threshold panel (and its typed
threshold traits) from :data:`THRESHOLDS`. A threshold re-filters an answer without a refit.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

__all__ = ["KINDS", "THRESHOLDS", "ThresholdSpec", "spec"]

KINDS = ("fraction", "count", "log", "spread")


@dataclass(frozen=True)
class ThresholdSpec:
    """One threshold of one method.

    ``kind`` fixes the range: ``"fraction"`` a number in [0, 1]; ``"count"`` an integer >= 1
    (its slider goes up to the largest class); ``"log"`` a finite positive number (a
    log-scaled slider); ``"spread"`` a number in (0, 1] (slider 0.01..0.5, the paper's range).
    ``continuous``: the slider updates while dragged (cheap re-filter) or on release.
    """

    name: str
    label: str
    kind: str
    default: float
    doc: str
    continuous: bool = True

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind: expected one of {KINDS}, got {self.kind!r}")

    @property
    def bounds(self) -> tuple[float, float | None]:
        """(low, high) of the valid values (high None: unbounded)."""
        return {
            "fraction": (0.0, 1.0),
            "count": (1, None),
            "log": (0.0, None),
            "spread": (0.0, 1.0),
        }[self.kind]

    def check(self, value, name: str | None = None):
        """``value`` checked against the range; TypeError/ValueError naming the threshold."""
        name = name or self.name
        if self.kind == "count":
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{name}: expected an integer, got {type(value).__name__}")
            value = int(value)
            if value < 1:
                raise ValueError(f"{name}: must be >= 1, got {value}")
            return value
        expected = {
            "fraction": "a number in [0, 1]",
            "log": "a positive number",
            "spread": "a number in (0, 1]",
        }[self.kind]
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name}: expected {expected}, got {type(value).__name__} {value!r}")
        value = float(value)
        if self.kind == "fraction" and not 0.0 <= value <= 1.0:  # NaN fails too
            raise ValueError(f"{name}: must lie in [0, 1], got {value}")
        if self.kind == "log" and not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name}: expected a finite positive step, got {value}")
        if self.kind == "spread" and not 0.0 < value <= 1.0:
            raise ValueError(
                f"{name}: must lie in (0, 1] (the paper uses 0.01 to 0.5), got {value}"
            )
        return value


THRESHOLDS: dict[str, tuple[ThresholdSpec, ...]] = {
    "barlow": (
        ThresholdSpec(
            "delta", "δ", "fraction", 0.1, "a failure leaf has ER > BER + δ (error-rate margin)"
        ),
        ThresholdSpec("tau", "τ", "fraction", 0.2, "a failure leaf has EC > τ (share of errors)"),
    ),
    "prime": (
        ThresholdSpec("a", "a", "fraction", 0.30, "minimum accuracy drop A_c − A_S"),
        ThresholdSpec("s", "s", "count", 30, "minimum support |I_S| (images with every tag)"),
        ThresholdSpec("b2", "b₂", "fraction", 0.1, "necessity threshold of 2-tag sets"),
        ThresholdSpec("b3", "b₃", "fraction", 0.05, "necessity threshold of 3-tag sets"),
        ThresholdSpec("b4", "b₄", "fraction", 0.025, "necessity threshold of 4-tag sets"),
    ),
    "ces": (
        ThresholdSpec(
            "delta",
            "δ",
            "log",
            1e4,
            "step along each concept's CAV (large: saturates)",
            continuous=False,
        ),
    ),
    "directions": (
        ThresholdSpec("k", "K", "count", 20, "images per direction tail and per caption check"),
    ),
    "defuse": (
        ThresholdSpec(
            "tau", "τ", "spread", 0.1, "sampling spread: z ~ N(mean, τ·cov)", continuous=False
        ),
    ),
}
"""The thresholds of each method, by method key ("barlow", "prime", "ces", ...)."""


def spec(method: str, name: str) -> ThresholdSpec:
    """The spec of threshold ``name`` of ``method`` (KeyError naming the known ones)."""
    for candidate in THRESHOLDS.get(method, ()):
        if candidate.name == name:
            return candidate
    known = [f"{m}.{s.name}" for m, specs in THRESHOLDS.items() for s in specs]
    raise KeyError(f"no threshold {method}.{name}; known: {known}")
