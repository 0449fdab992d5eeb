"""Barlow per class: the user's features and fitted trees checked against the EvalSet.

:func:`given_results` reads which class and grouping each given tree explains from its rows
and checks its error labels against the EvalSet, so a tree fitted on other data is refused
with an error that says why, never shown as if it were this model's.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping

import numpy as np

from ..data import EvalSet
from .barlow_result import BarlowResult, BarlowSurvey

__all__ = ["check_feature_matrix", "check_features", "common_value", "given_results"]


def check_feature_matrix(features, n: int) -> np.ndarray:
    """A 2-D real array with one row per sample (float32 unless float64 was given)."""
    features = np.asarray(features)
    if features.ndim != 2:
        raise ValueError(
            f"features: expected a 2-D array (samples x features), got shape {features.shape}"
        )
    if features.dtype.kind not in "biuf":
        raise TypeError(f"features: expected real numbers, got dtype {features.dtype}")
    if features.shape[0] != n:
        raise ValueError(
            f"features: {features.shape[0]} rows but the evalset has {n} samples; pass one "
            "feature row per sample (the group selects the rows)"
        )
    if features.shape[1] == 0:
        raise ValueError("features: no feature columns")
    if features.dtype not in (np.float32, np.float64):
        features = features.astype(np.float32)
    return features


def check_features(features, n: int) -> np.ndarray:
    """Barlow's feature checks, then finite values only; a read-only contiguous array."""
    if isinstance(features, (str, bytes)) or not hasattr(features, "__len__"):
        raise TypeError(
            f"features: expected an array (samples x features), got {type(features).__name__}"
        )
    array = check_feature_matrix(features, n)
    if not np.isfinite(array).all():
        raise ValueError("features: contains NaN or infinite values")
    array = np.ascontiguousarray(array)
    array.flags.writeable = False
    return array


def _result_class(evalset: EvalSet, key) -> str:
    """The class name a key of ``results`` names (a name, an index, or an index as text)."""
    names = list(evalset.class_names)
    if isinstance(key, str) and key in names:
        return key
    if isinstance(key, str) and key.isdigit():
        key = int(key)
    if isinstance(key, numbers.Integral) and not isinstance(key, bool) and 0 <= key < len(names):
        return names[int(key)]
    raise ValueError(f"results: unknown class {key!r}; known: {names[:10]}")


def _result_grouping(evalset: EvalSet, result, class_name, preferred: tuple) -> tuple[str, str]:
    """The (class name, grouping) a tree explains, read from its rows: the grouping in which
    every row has the class (``class_name``, or when None the class all rows share)."""
    for grouping in preferred:
        values = (evalset.labels if grouping == "label" else evalset.predictions)[result.group]
        if values.size == 0 or np.any(values != values[0]):
            continue
        name = evalset.class_names[int(values[0])]
        if class_name is None or name == class_name:
            return name, grouping
    if class_name is None:
        raise ValueError(
            "results: cannot tell which class this BarlowResult explains (its rows are neither "
            "all labelled nor all predicted as one class); pass a mapping {class: result}"
        )
    wanted = " or ".join("labelled" if g == "label" else "predicted as" for g in preferred)
    raise ValueError(
        f"results: the tree given for {class_name!r} has rows not all {wanted} {class_name!r}"
    )


def given_results(
    evalset: EvalSet, results, rows: np.ndarray | None, where: str, grouping: str
) -> dict[tuple[str, str], BarlowResult]:
    """The user's fitted trees keyed by (class name, grouping), checked against the EvalSet."""
    if isinstance(results, BarlowResult):
        items = [(None, None, results)]
    elif isinstance(results, BarlowSurvey):
        if results.results is None:
            raise ValueError(
                "results: the BarlowSurvey kept no trees; run it with keep_results=True"
            )
        items = [
            (name, None if kind == "custom" else kind, result)
            for (kind, name), result in results.results.items()
            if result is not None
        ]
    elif isinstance(results, Mapping):
        items = [(key, None, result) for key, result in results.items()]
    else:
        raise TypeError(
            "results: expected a BarlowSurvey (keep_results=True), a mapping "
            f"{{class: BarlowResult}} or a BarlowResult, got {type(results).__name__}"
        )
    if not items:
        raise ValueError("results: no fitted tree given (empty)")
    other = "prediction" if grouping == "label" else "label"
    given: dict[tuple[str, str], BarlowResult] = {}
    for key, kind, result in items:
        if not isinstance(result, BarlowResult):
            raise TypeError(
                f"results: expected BarlowResult values, got {type(result).__name__} for {key!r}"
            )
        group = np.asarray(result.group)
        if group.ndim != 1 or group.dtype.kind not in "iu":
            raise TypeError("results: a BarlowResult's group must be 1-D integer row indices")
        if group.size and (group.min() < 0 or group.max() >= evalset.n):
            raise ValueError(
                f"results: a tree has row index {int(group.max())} but the evalset has "
                f"{evalset.n} samples; pass results fitted on `evalset`"
            )
        name = None if key is None else _result_class(evalset, key)
        preferred = (kind,) if kind is not None else (grouping, other)
        name, by = _result_grouping(evalset, result, name, preferred)
        errors = np.asarray(result.errors)
        if errors.shape != group.shape:
            raise ValueError(
                f"results: the tree for {name!r} has {errors.size} error flags "
                f"for {group.size} rows"
            )
        mismatch = int(np.count_nonzero(errors != ~evalset.correct[group]))
        if mismatch:
            raise ValueError(
                f"results: the tree for {name!r} marks {mismatch} of its rows wrong where the "
                "evalset does not (or the reverse); pass results fitted on `evalset`"
            )
        if rows is not None and not np.isin(group, rows).all():
            outside = int(np.count_nonzero(~np.isin(group, rows)))
            raise ValueError(
                f"results: the tree for {name!r} has {outside} rows outside the analysed "
                f"rows{where}"
            )
        if (name, by) in given:
            raise ValueError(f"results: two trees for class {name!r} ({by} grouping)")
        given[(name, by)] = result
    return given


def common_value(values, default: float) -> float:
    """The one value all ``values`` share, else ``default``."""
    values = {float(v) for v in values}
    return values.pop() if len(values) == 1 else default
