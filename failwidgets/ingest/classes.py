"""Class labels and predictions given as class names or as integer indices."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["ClassValues", "read_classes", "infer_class_names", "encode_classes"]


class ClassValues:
    """Validated class values of one argument: names (``str``) or indices (``int64``)."""

    def __init__(self, values: np.ndarray, are_names: bool, argument: str):
        self.values = values
        self.are_names = are_names
        self.argument = argument


def _first(mask) -> int:
    return int(np.flatnonzero(np.asarray(mask))[0])


def read_classes(values, argument: str) -> ClassValues:
    """Read a column (or 1-D array) of class names or class indices.

    Missing values, booleans, non-integral numbers and columns that mix names with numbers are
    refused with an error that starts with ``argument`` and names the first bad row.
    """
    series = values.reset_index(drop=True) if isinstance(values, pd.Series) else None
    if series is None:
        array = np.asarray(values, dtype=object if _is_ragged(values) else None)
        if array.ndim != 1:
            raise ValueError(f"{argument}: expected one value per sample, got shape {array.shape}")
        series = pd.Series(array)
    missing = series.isna().to_numpy()
    if missing.any():
        raise ValueError(f"{argument}: missing value at row {_first(missing)}")
    if pd.api.types.is_bool_dtype(series):
        raise TypeError(f"{argument}: expected class names or integer indices, got booleans")
    if pd.api.types.is_numeric_dtype(series):
        return ClassValues(_integral(series.to_numpy(), argument), False, argument)
    if pd.api.types.infer_dtype(series, skipna=False) == "string":  # fast path: all names
        return ClassValues(series.to_numpy(dtype=object), True, argument)
    kinds = series.map(_kind).to_numpy()
    if (kinds == "other").any():
        row = _first(kinds == "other")
        raise TypeError(
            f"{argument}: row {row} is a {type(series.iloc[row]).__name__}; expected a class "
            "name (str) or an integer index"
        )
    if (kinds == "name").all():
        return ClassValues(series.astype(str).to_numpy(dtype=object), True, argument)
    if (kinds == "name").any():
        raise TypeError(
            f"{argument}: mixes class names (row {_first(kinds == 'name')}) and numbers "
            f"(row {_first(kinds != 'name')})"
        )
    return ClassValues(_integral(series.to_numpy(dtype=float), argument), False, argument)


def _is_ragged(values) -> bool:
    return isinstance(values, (list, tuple)) and any(isinstance(v, (list, tuple)) for v in values)


def _kind(value) -> str:
    if isinstance(value, str):
        return "name"
    if isinstance(value, (bool, np.bool_)):
        return "other"
    if isinstance(value, (int, np.integer, float, np.floating)):
        return "number"
    return "other"


def _integral(array: np.ndarray, argument: str) -> np.ndarray:
    if np.issubdtype(array.dtype, np.integer):
        return array.astype(np.int64)
    array = np.asarray(array, dtype=np.float64)
    bad = ~np.isfinite(array) | (array != np.round(array))
    if bad.any():
        row = _first(bad)
        raise TypeError(
            f"{argument}: expected class names or integer indices, got {array[row]!r} at row {row}"
        )
    return array.astype(np.int64)


def infer_class_names(*values: ClassValues, extra=()) -> list[str]:
    """Sorted union of the class names in ``values`` (and ``extra``), as ImageFolder sorts."""
    for item in values:
        if not item.are_names:
            raise ValueError(
                f"{item.argument}: integer class indices need class_names (the name of each "
                "index); pass class_names=[...]"
            )
    names: set[str] = set(extra)
    for item in values:
        names.update(pd.unique(item.values).tolist())
    return sorted(names)


def encode_classes(item: ClassValues, class_names: list[str]) -> np.ndarray:
    """Class indices (int64) of ``item`` for ``class_names``; unknown names and indices outside
    ``range(len(class_names))`` are refused, naming the first row."""
    if item.are_names:
        codes = pd.Index(class_names).get_indexer(item.values).astype(np.int64)
        unknown = codes < 0
        if unknown.any():
            names = sorted(set(item.values[unknown].tolist()))
            raise ValueError(
                f"{item.argument}: unknown class name {item.values[_first(unknown)]!r} at row "
                f"{_first(unknown)} ({len(names)} unknown: {names[:5]}); "
                f"class names: {class_names[:10]}"
            )
        return codes
    values = item.values
    bad = (values < 0) | (values >= len(class_names))
    if bad.any():
        row = _first(bad)
        hint = " (-1 often marks an unlabelled sample)" if values[row] == -1 else ""
        raise ValueError(
            f"{item.argument}: index {int(values[row])} at row {row} is outside the class range "
            f"0..{len(class_names) - 1} ({len(class_names)} class names){hint}"
        )
    return values
