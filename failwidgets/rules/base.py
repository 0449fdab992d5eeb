"""The rule protocol's base class and the helpers every rule kind shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from ..checks import check_indices

__all__ = ["GROUPINGS", "Rule", "class_rows"]

GROUPINGS = ("label", "prediction", None)


def _rows(evalset, indices) -> np.ndarray:
    """``indices`` (default: every row) as sorted distinct int64 row indices, checked."""
    n = len(evalset.correct)
    if indices is None:
        return np.arange(n, dtype=np.int64)
    check = getattr(evalset, "check_indices", None)
    rows = check(indices, "indices") if callable(check) else check_indices(indices, n, "indices")
    rows = np.asarray(rows, dtype=np.int64)
    if rows.size < 2 or bool(np.all(rows[1:] > rows[:-1])):
        return rows  # sorted and distinct already (the usual case): no hashing, no sort
    return np.unique(rows)


def class_rows(evalset, class_name: str, grouping: str | None, indices=None) -> np.ndarray:
    """Rows of ``indices`` (default: all) in the group of ``class_name``: labelled
    (``grouping="label"``) or predicted (``"prediction"``) as it, or all of them (None).

    ``evalset`` is an EvalSet or any object with ``correct``, ``labels``, ``predictions``
    and ``class_names``. Sorted, distinct.
    """
    if grouping not in GROUPINGS:
        raise ValueError(f"grouping: expected 'label', 'prediction' or None, got {grouping!r}")
    rows = _rows(evalset, indices)
    if grouping is None:
        return rows
    names = [str(name) for name in evalset.class_names]
    if class_name not in names:
        raise ValueError(f"class_name: unknown class {class_name!r}; known: {names[:10]}")
    values = np.asarray(evalset.labels if grouping == "label" else evalset.predictions)
    return rows[values[rows] == names.index(class_name)]


def _check_grouping(grouping) -> None:
    if grouping not in GROUPINGS:
        raise ValueError(f"grouping: expected 'label', 'prediction' or None, got {grouping!r}")


def _check_class_name(class_name) -> None:
    if not isinstance(class_name, str):
        raise TypeError(f"class_name: expected a class name, got {type(class_name).__name__}")


def _check_source(source, name: str) -> None:
    """An (N, ...) array aligned with the EvalSet's rows, or a callable ``(evalset, rows)``."""
    if callable(source):
        return
    if not hasattr(source, "shape") or len(source.shape) < 1:
        raise TypeError(
            f"{name}: expected an array with one row per EvalSet row or a callable "
            f"(evalset, rows) -> values, got {type(source).__name__}"
        )


def _values_at(source, evalset, rows: np.ndarray, name: str) -> np.ndarray:
    """``source`` at ``rows``: the array's rows, or what the callable computes for them."""
    if callable(source):
        values = np.asarray(source(evalset, rows))
    else:
        _aligned(source, evalset, name)
        values = np.asarray(source[rows])
    if values.shape[:1] != rows.shape:
        raise ValueError(
            f"{name}: gave {values.shape[0] if values.ndim else 0} values for {rows.size} rows"
        )
    return values


@dataclass(frozen=True, eq=False)
class Rule:
    """How a failure mode re-applies: the members among any rows of an EvalSet.

    Every rule has a ``class_name`` (its first field) and a keyword-only ``grouping``: the
    class's group is the images labelled (``"label"``, the default) or predicted
    (``"prediction"``) as it, or every image (None). Subclasses are frozen dataclasses that
    add their own fields, check them in ``_check_fields()`` (run after the checks of
    ``class_name`` and ``grouping``) and define ``_select(evalset, rows) -> bool mask`` over
    rows of the class group.
    """

    class_name: str
    grouping: str | None = field(default="label", kw_only=True)
    method: ClassVar[str] = ""

    @property
    def description(self) -> str:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def __str__(self) -> str:
        return self.description

    def __post_init__(self):
        _check_class_name(self.class_name)
        _check_grouping(self.grouping)
        self._check_fields()

    def _check_fields(self) -> None:
        """Check (and normalise, with ``object.__setattr__``) the subclass's own fields."""

    def reference(self, evalset, indices=None) -> np.ndarray:
        """Rows of ``indices`` (default: all) in the mode's class group, sorted."""
        return class_rows(evalset, self.class_name, self.grouping, indices)

    def apply(self, evalset, indices=None) -> np.ndarray:
        """EvalSet indices among ``indices`` (default: all rows) that the rule selects:
        the rows of the class group that satisfy the rule, sorted."""
        return self._members_of(evalset, self.reference(evalset, indices))

    def _members_of(self, evalset, rows: np.ndarray) -> np.ndarray:
        """The members among ``rows``, rows of the class group (checked, sorted)."""
        if rows.size == 0:
            return rows
        mask = np.asarray(self._select(evalset, rows))
        if mask.shape != rows.shape or mask.dtype != bool:
            raise ValueError(
                f"{type(self).__name__}: expected a boolean mask of {rows.size} rows, got "
                f"{mask.dtype} of shape {mask.shape}"
            )
        return rows[mask]

    def _select(self, evalset, rows: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def _where(self) -> str:
        if self.grouping == "prediction":
            return f"images predicted as {self.class_name}"
        if self.grouping == "label":
            return f"images of {self.class_name}"
        return "images"


def _aligned(array, evalset, name: str) -> None:
    n = len(evalset.correct)
    if len(array) != n:
        raise ValueError(
            f"{name}: {len(array)} rows but the EvalSet has {n}; the rule needs one row per "
            "EvalSet row (or a callable computing them)"
        )
