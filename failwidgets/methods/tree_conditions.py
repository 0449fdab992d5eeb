"""A Barlow tree's paths: the conditions from the root to a node, and their conjunction.

Kept apart from :mod:`failwidgets.methods.barlow` so that failure-mode rules
(:mod:`failwidgets.rules`) can use them without importing the Barlow engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Condition", "Rule"]


@dataclass(frozen=True)
class Condition:
    """One split on the path to a node: ``feature[feature] <op> threshold``."""

    feature: int
    op: str  # "<=" or ">"
    threshold: float

    def mask(self, features) -> np.ndarray:
        """Boolean mask of the rows of ``features`` (N, D) that satisfy the condition."""
        column = np.asarray(features)[:, self.feature].astype(np.float32)
        return column <= self.threshold if self.op == "<=" else column > self.threshold

    def __str__(self) -> str:
        return f"feature[{self.feature}] {self.op} {self.threshold:.4g}"


@dataclass(frozen=True)
class Rule:
    """Conjunction of conditions from the root to a node (empty for the root)."""

    conditions: tuple[Condition, ...] = ()

    def mask(self, features) -> np.ndarray:
        """Rows of ``features`` (N, D, original feature indices) that fall in the node."""
        features = np.asarray(features)
        if features.ndim != 2:
            raise ValueError(f"features: expected a 2-D array, got shape {features.shape}")
        needed = max((c.feature for c in self.conditions), default=-1)
        if needed >= features.shape[1]:
            raise ValueError(
                f"features: the rule uses feature {needed} but only {features.shape[1]} "
                "columns were given"
            )
        mask = np.ones(features.shape[0], dtype=bool)
        for condition in self.conditions:
            mask &= condition.mask(features)
        return mask

    def __str__(self) -> str:
        return " and ".join(str(c) for c in self.conditions) or "all samples"
