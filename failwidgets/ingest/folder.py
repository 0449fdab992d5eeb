"""``EvalSet.from_folder``: an ImageFolder-style directory plus a CSV of predictions."""

from __future__ import annotations

import os
import re

import pandas as pd

from ..images import PathImages
from .paths import resolve_under_root
from .table import resolve_columns

__all__ = ["IMAGE_SUFFIXES", "class_folders", "read_predictions_csv", "evalset_from_folder"]

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
_INTEGER = re.compile(r"^[+-]?\d+$")


def class_folders(root: str) -> list[str]:
    """Sorted names of the class folders of ``root``; hidden ones (``.name``) are skipped."""
    if not os.path.isdir(root):
        raise ValueError(f"root: not a directory: {root}")
    names = sorted(
        entry.name
        for entry in os.scandir(root)
        if entry.is_dir() and not entry.name.startswith(".")
    )
    if not names:
        raise ValueError(f"root: no class sub-folders in {root}")
    return names


def read_predictions_csv(path, text_columns) -> pd.DataFrame:
    """``pd.read_csv`` with ``text_columns`` as text and every failure as a ValueError that
    names ``predictions_csv``."""
    try:
        table = pd.read_csv(path, dtype=dict.fromkeys(text_columns, str))
    except FileNotFoundError:
        raise ValueError(f"predictions_csv: file not found: {path}") from None
    except IsADirectoryError:
        raise ValueError(f"predictions_csv: is a directory, not a CSV file: {path}") from None
    except pd.errors.EmptyDataError:
        raise ValueError(f"predictions_csv: the file is empty (no header row): {path}") from None
    except pd.errors.ParserError as error:
        raise ValueError(f"predictions_csv: not a valid CSV file: {error}") from None
    except UnicodeDecodeError as error:
        raise ValueError(
            f"predictions_csv: not UTF-8 text ({error.reason} at byte {error.start}): {path}"
        ) from None
    except OSError as error:
        raise ValueError(f"predictions_csv: cannot read {path}: {error.strerror}") from None
    if not isinstance(table.index, pd.RangeIndex):  # pandas takes extra fields as an index
        raise ValueError(
            "predictions_csv: not a valid CSV file: the rows have more fields than the header "
            f"({len(table.columns)} names)"
        )
    return table


def _predicted_classes(values: pd.Series, class_names: list[str]) -> pd.Series:
    """Class names stay names; integer strings become indices, unless they are all names."""
    text = values.astype(str)
    if text.isin(class_names).all():
        return text
    if text.str.match(_INTEGER).all():
        return text.astype("int64")
    return text


def evalset_from_folder(
    cls,
    root: str | os.PathLike,
    predictions_csv: str | os.PathLike,
    *,
    path_column: str = "path",
    prediction_column: str = "prediction",
    split_column: str = "split",
    follow_external_symlinks: bool = False,
):
    """ImageFolder-style directory (``root/<class>/<image>``) plus a CSV of predictions.

    The CSV has one row per image: ``path`` (relative to ``root``), ``prediction`` (class
    name or index; a column whose values are all class names is read as names, even when
    the names are numbers), optional ``prob_<class>`` columns (one per class), optional
    ``split``; other columns become metadata. Labels come from the folder names, sorted;
    hidden folders (``.ipynb_checkpoints``, any name starting with ``.``) are not classes.

    Paths must stay inside ``root``: absolute paths and ``..`` that lead out are refused.
    Symbolic links are followed only while they resolve inside ``root``; a linked file or
    folder that leads outside is refused unless ``follow_external_symlinks=True``. Every
    problem with the CSV (missing, empty, not CSV, not UTF-8, bad rows) is a ValueError that
    names ``predictions_csv``.
    """
    root = os.fspath(root)
    class_names = class_folders(root)
    table = read_predictions_csv(predictions_csv, [path_column, prediction_column, split_column])
    for column in (path_column, prediction_column):
        if column not in table.columns:
            raise ValueError(
                f"predictions_csv: missing column {column!r}; columns: {list(table.columns)[:20]}"
            )
    if table.empty:
        raise ValueError(f"predictions_csv: no rows in {predictions_csv}")
    for column in (path_column, prediction_column):
        missing = table[column].isna().to_numpy()
        if missing.any():
            raise ValueError(
                f"predictions_csv: row {int(missing.argmax())} has no {column!r} value"
            )
    where = f"predictions_csv: column {path_column!r}"
    paths = resolve_under_root(
        table[path_column].tolist(),
        root,
        argument=where,
        follow_external_symlinks=follow_external_symlinks,
    )
    root_abs = os.path.normpath(os.path.abspath(root))
    index_of = {name: i for i, name in enumerate(class_names)}
    labels = []
    for position, path in enumerate(paths):
        parts = os.path.relpath(path, root_abs).split(os.sep)
        if len(parts) < 2 or parts[0] not in index_of:
            raise ValueError(
                f"{where}: row {position}: {table[path_column].iloc[position]!r} is not inside "
                f"a class folder of {root}; class folders: {class_names[:10]}"
            )
        if os.path.splitext(path)[1].lower() not in IMAGE_SUFFIXES:
            raise ValueError(
                f"{where}: row {position}: {table[path_column].iloc[position]!r} is not an "
                f"image file name ({', '.join(sorted(IMAGE_SUFFIXES))})"
            )
        labels.append(index_of[parts[0]])
    prob_columns = [c for c in table.columns if isinstance(c, str) and c.startswith("prob_")]
    has_split = split_column in table.columns
    values = resolve_columns(
        table,
        label=labels,
        prediction=_predicted_classes(table[prediction_column], class_names),
        probabilities="prob_" if prob_columns else None,
        split=split_column if has_split else None,
        class_names=class_names,
        reserved=[path_column, prediction_column],
        arguments={
            "label": "predictions_csv: labels from the class folders",
            "prediction": f"predictions_csv: column {prediction_column!r}",
            "probabilities": "predictions_csv: prob_<class> columns",
            "split": f"predictions_csv: column {split_column!r}",
        },
    )
    try:
        return cls(PathImages(paths, readable=True), **values)
    except (TypeError, ValueError) as error:
        raise type(error)(f"predictions_csv: {error}") from None
