"""A table's columns to an EvalSet's labels, predictions, probabilities, split and metadata.

Shared by ``EvalSet.from_dataframe``, ``EvalSet.from_huggingface`` and ``EvalSet.from_folder``.
Each role is given as a column name or as an array with one value per row; errors start with
the name of the argument that was wrong (``label: ...``, ``probabilities: ...``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..class_names import check_class_names
from .classes import encode_classes, infer_class_names, read_classes

__all__ = ["ARGUMENTS", "is_column_name", "probability_columns", "resolve_columns"]

#: Default argument names used in error messages, per role.
ARGUMENTS = {
    "label": "label",
    "prediction": "prediction",
    "probabilities": "probabilities",
    "split": "split",
    "metadata": "metadata",
    "class_names": "class_names",
}


def _column_list(columns) -> str:
    names = [str(c) for c in columns]
    more = f" and {len(names) - 20} more" if len(names) > 20 else ""
    return f"{names[:20]}{more}"


def is_column_name(spec) -> bool:
    """Whether ``spec`` names a column (a string or an integer) rather than holding values."""
    return isinstance(spec, (str, int, np.integer)) and not isinstance(spec, (bool, np.bool_))


def _vector(table: pd.DataFrame, spec, argument: str) -> pd.Series:
    """A column (``spec`` a column name) or an array with one value per row."""
    if is_column_name(spec):
        if spec not in table.columns:
            raise ValueError(
                f"{argument}: no column {spec!r}; columns: {_column_list(table.columns)}"
            )
        return table[spec]
    if isinstance(spec, pd.Series):
        values = spec.reset_index(drop=True)
    elif isinstance(spec, np.ndarray) or hasattr(spec, "detach"):
        array = spec.detach().cpu().numpy() if hasattr(spec, "detach") else spec
        if array.ndim != 1:
            raise ValueError(f"{argument}: expected one value per row, got shape {array.shape}")
        values = pd.Series(array)
    elif isinstance(spec, (Sequence, pd.Index)):
        values = pd.Series(list(spec), dtype=object if len(spec) == 0 else None)
    else:
        raise TypeError(
            f"{argument}: expected a column name or one value per row, got {type(spec).__name__}"
        )
    if len(values) != len(table):
        raise ValueError(
            f"{argument}: expected a column name or {len(table)} values (one per row), "
            f"got {len(values)}"
        )
    return values


def probability_columns(columns: Sequence, probabilities) -> tuple[list, str | None]:
    """The columns that ``probabilities`` refers to, and the prefix when it is one.

    A string that is a column is a column of per-row lists; any other string is a prefix
    selecting one column per class (``prob_`` -> ``prob_cat``, ``prob_dog``, ...); a list of
    strings names one column per class, in class order.
    """
    if isinstance(probabilities, str):
        if probabilities in columns:
            return [probabilities], None
        matched = [c for c in columns if isinstance(c, str) and c.startswith(probabilities)]
        if not matched:
            raise ValueError(
                f"probabilities: no column {probabilities!r} and no columns starting with it; "
                f"columns: {_column_list(columns)}"
            )
        return matched, probabilities
    if isinstance(probabilities, (list, tuple)) and probabilities:
        if all(isinstance(c, str) for c in probabilities):
            missing = [c for c in probabilities if c not in columns]
            if missing:
                raise ValueError(
                    f"probabilities: no columns {missing[:5]}; columns: {_column_list(columns)}"
                )
            return list(probabilities), None
    return [], None


def _list_column(values: pd.Series, n_classes: int, argument: str) -> np.ndarray:
    rows = values.tolist()
    for position, row in enumerate(rows):
        if row is None or (isinstance(row, float) and np.isnan(row)):
            raise ValueError(f"{argument}: missing value at row {position}")
        if isinstance(row, (str, bytes)) or not hasattr(row, "__len__"):
            raise TypeError(
                f"{argument}: row {position} is a {type(row).__name__}; expected a list or "
                "array of one probability per class"
            )
        if len(row) != n_classes:
            raise ValueError(
                f"{argument}: row {position} has {len(row)} values, expected {n_classes} "
                "(one per class)"
            )
    return np.asarray([np.asarray(row) for row in rows])


def _probabilities(table, spec, class_names, columns, prefix, argument):
    if spec is None:
        return None
    if prefix is not None:
        expected = [f"{prefix}{name}" for name in class_names]
        missing = [c for c in expected if c not in table.columns]
        if missing:
            raise ValueError(
                f"{argument}: missing column(s) {missing[:5]} ({len(missing)} of "
                f"{len(expected)}; one '{prefix}<class name>' column per class)"
            )
        extra = [c for c in columns if c not in expected]
        if extra:
            raise ValueError(
                f"{argument}: column(s) {extra[:5]} start with {prefix!r} but match no class "
                f"name; class names: {class_names[:10]}"
            )
        return table[expected].to_numpy()
    if len(columns) == 1 and isinstance(spec, str):
        return _list_column(table[columns[0]], len(class_names), argument)
    if columns:
        if len(columns) != len(class_names):
            raise ValueError(
                f"{argument}: {len(columns)} columns for {len(class_names)} classes "
                "(one per class, in class order)"
            )
        return table[columns].to_numpy()
    if hasattr(spec, "detach"):
        spec = spec.detach().cpu().numpy()
    return spec


def resolve_columns(
    table: pd.DataFrame,
    *,
    label,
    prediction,
    probabilities=None,
    split=None,
    metadata=None,
    class_names=None,
    known_class_names: Sequence[str] | None = None,
    reserved: Sequence = (),
    metadata_candidates: Sequence | None = None,
    arguments: dict | None = None,
) -> dict:
    """Keyword arguments of ``EvalSet(...)`` (all but ``images``) read from ``table``.

    Parameters
    ----------
    table : one row per sample.
    label, prediction : column name, or values (class names or integer indices).
    probabilities : None, a column of lists, a prefix of one column per class, a list of
        columns (class order) or an (N, C) array.
    split : None, a column name or values.
    metadata : None (every column not used by another role, nor ``reserved``, nor outside
        ``metadata_candidates``), a column name or a list of column names (``[]``: none).
    class_names : the class names; inferred (sorted) from label and prediction names and
        probability column suffixes when not given; required with integer indices.
    known_class_names : names the source itself declares (e.g. a ``ClassLabel`` feature);
        ``class_names``, when also given, must equal them.
    arguments : argument names for error messages, per role (defaults: :data:`ARGUMENTS`).
    """
    names = {**ARGUMENTS, **(arguments or {})}
    label_values = read_classes(_vector(table, label, names["label"]), names["label"])
    prediction_values = read_classes(
        _vector(table, prediction, names["prediction"]), names["prediction"]
    )
    prob_columns, prefix = probability_columns(list(table.columns), probabilities)
    if class_names is not None:
        class_names = check_class_names(class_names, names["class_names"])
        if known_class_names is not None and list(known_class_names) != class_names:
            raise ValueError(
                f"{names['class_names']}: {class_names[:10]} differ from the class names the "
                f"data declares {list(known_class_names)[:10]}; leave class_names out"
            )
    elif known_class_names is not None:
        class_names = list(known_class_names)
    else:
        suffixes = [c[len(prefix) :] for c in prob_columns] if prefix is not None else []
        class_names = infer_class_names(label_values, prediction_values, extra=suffixes)
    labels = encode_classes(label_values, class_names)
    predictions = encode_classes(prediction_values, class_names)
    probs = _probabilities(
        table, probabilities, class_names, prob_columns, prefix, names["probabilities"]
    )
    split_values = None
    if split is not None:
        split_values = _vector(table, split, names["split"]).to_numpy(dtype=object)
    used = set(reserved) | set(prob_columns)
    used.update(spec for spec in (label, prediction, split) if is_column_name(spec))
    return {
        "labels": labels,
        "predictions": predictions,
        "class_names": class_names,
        "probabilities": probs,
        "split": split_values,
        "metadata": _metadata(table, metadata, used, metadata_candidates, names["metadata"]),
    }


def _metadata(table, metadata, used, candidates, argument):
    if metadata is None:
        pool = table.columns if candidates is None else candidates
        columns = [c for c in pool if c not in used]
    else:
        columns = [metadata] if isinstance(metadata, str) else metadata
        if not isinstance(columns, (list, tuple, pd.Index)):
            raise TypeError(
                f"{argument}: expected a list of column names (or None for all the others), "
                f"got {type(metadata).__name__}"
            )
        columns = list(columns)
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise ValueError(
                f"{argument}: no column(s) {missing[:5]}; columns: {_column_list(table.columns)}"
            )
    if not columns:
        return None
    return table[columns].reset_index(drop=True)
