"""Barlow's rule: the path from a failure tree's root to a leaf."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .base import Rule, _aligned, _check_source, _values_at

__all__ = ["TreePathRule"]


@dataclass(frozen=True, eq=False)
class TreePathRule(Rule):
    """Barlow: the conditions from a tree's root to a leaf, on the robust features.

    Parameters
    ----------
    class_name, grouping : the tree's group (``grouping=None`` for a custom group).
    conditions : :class:`~failwidgets.methods.tree_conditions.Condition` objects (original feature
        indices), all of which a member satisfies.
    features : (N, D) array with one row per EvalSet row (the features the tree was fitted
        on), or a callable ``(evalset, rows) -> (len(rows), D)`` computing them.
    """

    conditions: tuple
    features: object = field(repr=False)
    method = "barlow"

    def _check_fields(self) -> None:
        from ..methods.tree_conditions import Condition

        object.__setattr__(self, "conditions", tuple(self.conditions))
        for condition in self.conditions:
            if not isinstance(condition, Condition):
                raise TypeError(
                    f"conditions: expected barlow Condition objects, got {type(condition).__name__}"
                )
        _check_source(self.features, "features")

    @property
    def description(self) -> str:
        if not self.conditions:  # the root
            return f"all {self._where()}"
        return f"{self._where()} with {' and '.join(str(c) for c in self.conditions)}"

    def _select(self, evalset, rows):
        from ..methods.tree_conditions import Condition
        from ..methods.tree_conditions import Rule as BarlowRule

        if callable(self.features):
            values = _values_at(self.features, evalset, rows, "features")
            if values.ndim != 2:
                raise ValueError(f"features: expected (rows, D) values, got shape {values.shape}")
            return BarlowRule(self.conditions).mask(values)
        # only the path's columns are read (a class's rows times a few columns, not all D)
        _aligned(self.features, evalset, "features")
        used = sorted({c.feature for c in self.conditions})
        if used and used[-1] >= self.features.shape[1]:
            raise ValueError(
                f"features: the rule uses feature {used[-1]} but only "
                f"{self.features.shape[1]} columns were given"
            )
        position = {feature: i for i, feature in enumerate(used)}
        local = BarlowRule(
            tuple(Condition(position[c.feature], c.op, c.threshold) for c in self.conditions)
        )
        return local.mask(np.asarray(self.features[np.ix_(rows, used)]))
