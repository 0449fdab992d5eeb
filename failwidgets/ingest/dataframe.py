"""``EvalSet.from_dataframe``: one row per sample of a pandas DataFrame."""

from __future__ import annotations

import os

import pandas as pd

from .image_column import image_source_from_values
from .table import is_column_name, resolve_columns

__all__ = ["evalset_from_dataframe"]


def _positional(spec, index: pd.Index, argument: str):
    """Values of a Series or DataFrame given for a role, checked to be in ``df``'s row order."""
    if isinstance(spec, (pd.Series, pd.DataFrame)):
        if not spec.index.equals(index):
            raise ValueError(
                f"{argument}: its index differs from df's index, so rows would pair up by "
                "position with the wrong samples; align it first (.reindex(df.index)) or pass "
                ".to_numpy()"
            )
        return spec.to_numpy()
    return spec


def evalset_from_dataframe(
    cls,
    df: pd.DataFrame,
    *,
    image="image",
    label="label",
    prediction="prediction",
    probabilities=None,
    split=None,
    metadata=None,
    root: str | os.PathLike | None = None,
    class_names=None,
    follow_external_symlinks: bool = False,
):
    """One sample per row of a pandas DataFrame.

    Parameters
    ----------
    df : the table, one row per sample (its index is ignored).
    image : name of the image column. Its values are all file paths (relative to ``root``
        when given, which they must not leave; see :meth:`from_folder` for the symlink
        policy) or all in-memory images: uint8 arrays (H, W, 3) or (H, W), float arrays in
        [0, 1], PIL images, encoded bytes (PNG, JPEG, ...) or ``{"bytes": ..., "path": ...}``
        dicts as Hugging Face exports them. Files are read lazily.
    label, prediction : column name, or one value per row: class names or integer indices.
    probabilities : optional; a column of per-row lists/arrays (class order), a prefix
        naming one column per class (``"prob_"`` -> ``prob_cat``, ``prob_dog``; an exact
        column name wins over a prefix), a list of columns in class order, or an (N, C)
        array.
    split : optional column name or one split name per row.
    metadata : columns kept as metadata. Default (None): every column not used for image,
        label, prediction, probabilities or split; ``[]`` for none.
    root : folder that relative image paths are under.
    class_names : class names in index order. Inferred when not given: the sorted names
        found in label, prediction and probability column names. Required with indices.
    follow_external_symlinks : allow links under ``root`` that lead outside it.

    Every error names the argument it is about (``label: ...``, ``probabilities: ...``).
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df: expected a pandas DataFrame, got {type(df).__name__}")
    if len(df) == 0:
        raise ValueError("df: no rows; an EvalSet needs at least one sample")
    duplicated = df.columns[df.columns.duplicated()].tolist()
    if duplicated:
        raise ValueError(f"df: duplicate column names {duplicated[:5]}")
    label, prediction, probabilities, split = (
        _positional(spec, df.index, argument)
        for spec, argument in (
            (label, "label"),
            (prediction, "prediction"),
            (probabilities, "probabilities"),
            (split, "split"),
        )
    )
    table = df.reset_index(drop=True)
    if not is_column_name(image):
        raise TypeError(f"image: expected the name of the image column, got {type(image).__name__}")
    if image not in table.columns:
        raise ValueError(f"image: no column {image!r}; columns: {list(table.columns)[:20]}")
    columns = resolve_columns(
        table,
        label=label,
        prediction=prediction,
        probabilities=probabilities,
        split=split,
        metadata=metadata,
        class_names=class_names,
        reserved=[image],
    )
    images = image_source_from_values(
        table[image].tolist(),
        root=root,
        argument="image",
        follow_external_symlinks=follow_external_symlinks,
    )
    return cls(images, **columns)
