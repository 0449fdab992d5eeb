"""Held-out evaluation: any failure mode's rule re-applied to another split."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from ..checks import check_int
from .base import Rule, _rows, class_rows

__all__ = ["HELDOUT_COLUMNS", "heldout", "with_heldout"]

HELDOUT_COLUMNS = [
    "method",
    "class_name",
    "description",
    "heldout_n",
    "heldout_accuracy",
    "heldout_class_accuracy",
    "heldout_drop",
]


def _accuracy(correct: np.ndarray, rows: np.ndarray) -> float:
    return float(correct[rows].mean()) if rows.size else math.nan


class _ClassGroups:
    """The rows of one held-out set by class, for each grouping: sorted once, then each
    mode's reference rows are a slice (thousands of modes do not rescan the rows)."""

    def __init__(self, evalset, rows: np.ndarray):
        self.evalset, self.rows = evalset, rows
        self._names = {str(name): i for i, name in enumerate(evalset.class_names)}
        self._split: dict = {}

    def reference(self, rule) -> np.ndarray:
        if rule.grouping is None:
            return self.rows
        c = self._names.get(rule.class_name)
        if c is None:
            raise ValueError(
                f"class_name: unknown class {rule.class_name!r}; known: {list(self._names)[:10]}"
            )
        if rule.grouping not in self._split:
            values = np.asarray(
                self.evalset.labels if rule.grouping == "label" else self.evalset.predictions
            )[self.rows]
            order = np.argsort(values, kind="stable")  # rows stay ascending within a class
            bounds = np.searchsorted(values[order], np.arange(len(self._names) + 1))
            self._split[rule.grouping] = (self.rows[order], bounds)
        ordered, bounds = self._split[rule.grouping]
        return ordered[bounds[c] : bounds[c + 1]]


def _reference_of(rule, mode, evalset, rows: np.ndarray) -> np.ndarray:
    """A duck-typed rule's class rows: its ``reference``, else the rows of the mode's class
    by the rule's ``grouping`` (default: label)."""
    reference = getattr(rule, "reference", None)
    if callable(reference):
        return _rows(evalset, reference(evalset, rows))
    grouping = getattr(rule, "grouping", "label")
    return class_rows(evalset, mode.class_name, grouping, rows)


def _check_members(members, reference: np.ndarray) -> np.ndarray:
    members = np.unique(np.asarray(members, dtype=np.int64))
    outside = np.setdiff1d(members, reference, assume_unique=True)
    if outside.size:
        raise ValueError(
            f"rule: apply() returned {outside.size} rows outside the class's rows (e.g. "
            f"{int(outside[0])})"
        )
    return members


def _measure(mode, evalset, groups: _ClassGroups, min_support: int) -> dict:
    record = {
        "method": mode.method,
        "class_name": mode.class_name,
        "description": mode.description,
        "heldout_n": pd.NA,
        "heldout_accuracy": math.nan,
        "heldout_class_accuracy": math.nan,
        "heldout_drop": math.nan,
    }
    rule = getattr(mode, "rule", None)
    if rule is None:
        return record
    correct = np.asarray(evalset.correct)
    if isinstance(rule, Rule):  # the class's rows are a slice of the sorted held-out rows
        reference = groups.reference(rule)
        members = rule._members_of(evalset, reference)
    else:  # any object with apply(evalset, indices) (and optionally reference, grouping)
        reference = _reference_of(rule, mode, evalset, groups.rows)
        members = _check_members(rule.apply(evalset, groups.rows), reference)
    class_accuracy = _accuracy(correct, reference)
    record["heldout_n"] = int(members.size)
    record["heldout_class_accuracy"] = class_accuracy
    if members.size >= min_support:
        accuracy = _accuracy(correct, members)
        record["heldout_accuracy"] = accuracy
        record["heldout_drop"] = class_accuracy - accuracy
    return record


def _split_rows(evalset, split, indices) -> np.ndarray:
    if indices is not None:
        if split is not None:
            raise ValueError("split: pass either split or indices, not both")
        return _rows(evalset, indices)
    split = "test" if split is None else split
    if not isinstance(split, str):
        raise TypeError(f"split: expected a split name, got {type(split).__name__}")
    return evalset.split_indices(split)


def heldout(
    modes: Sequence, evalset, split: str | None = None, *, indices=None, min_support: int = 1
) -> pd.DataFrame:
    """Re-apply each failure mode's rule to the rows of ``split`` and measure it there.

    For a mode of class ``c``: the reference rows are the rows of ``split`` in the group of
    ``c`` (by label or prediction, as the mode's method groups), the members those the rule
    selects among them; ``heldout_drop = accuracy(reference) - accuracy(members)``, the
    paper's drop (e.g. PRIME's ``A'_c - A'_S``). The split must not be the rows the modes
    were found on (nothing checks that).

    Parameters
    ----------
    modes : FailureMode objects; those without a ``rule`` get NaN.
    evalset : the EvalSet the rules re-apply to.
    split : a split name of ``evalset`` (None: ``"test"``, or ``indices``).
    indices : the held-out rows, instead of a split.
    min_support : fewer members than this gives a NaN accuracy and drop.

    Returns
    -------
    DataFrame with the columns of ``HELDOUT_COLUMNS``: method, class_name, description,
    heldout_n (members found; NA without a rule), heldout_accuracy, heldout_class_accuracy,
    heldout_drop; one row per mode, in order.
    """
    min_support = check_int(min_support, "min_support", low=1)
    rows = _split_rows(evalset, split, indices)
    groups = _ClassGroups(evalset, rows)
    records = [_measure(mode, evalset, groups, min_support) for mode in modes]
    frame = pd.DataFrame.from_records(records, columns=HELDOUT_COLUMNS)
    frame["heldout_n"] = frame["heldout_n"].astype("Int64")
    return frame


def with_heldout(
    modes: Sequence,
    evalset,
    split: str | None = None,
    *,
    indices=None,
    min_support: int = 1,
    overwrite: bool = False,
    on_error: Callable | None = None,
) -> list:
    """The modes with ``heldout_drop`` measured by :func:`heldout` where their rule applies.

    Modes that already carry a ``heldout_drop`` keep it unless ``overwrite``. A rule that
    fails raises, or, with ``on_error(mode, error)``, is reported there and its mode kept.
    """
    min_support = check_int(min_support, "min_support", low=1)
    groups = _ClassGroups(evalset, _split_rows(evalset, split, indices))
    out = []
    for mode in modes:
        if getattr(mode, "rule", None) is None or (mode.heldout_drop is not None and not overwrite):
            out.append(mode)
            continue
        try:
            value = _measure(mode, evalset, groups, min_support)["heldout_drop"]
        except Exception as error:
            if on_error is None:
                raise
            on_error(mode, error)
            out.append(mode)
            continue
        out.append(replace(mode, heldout_drop=None if math.isnan(value) else float(value)))
    return out
