"""``EvalSet.from_dataframe``: one row per sample of a pandas DataFrame."""

from __future__ import annotations

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
    df,
    *,
    image="image",
    label="label",
    prediction="prediction",
    probabilities=None,
    split=None,
    metadata=None,
    root=None,
    class_names=None,
    follow_external_symlinks: bool = False,
):
    """Build ``cls`` (an EvalSet class) from ``df``; see ``EvalSet.from_dataframe``."""
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
