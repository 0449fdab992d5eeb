"""One shape for a failure mode, whatever the method: a member set plus a description, and
optionally the rule that re-applies it to other rows (:mod:`failwidgets.rules`).

The Explorer compares methods through this shape (a table, Jaccard overlaps between member
sets) and exports it to CSV/Parquet and back.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "COLUMNS",
    "FailureMode",
    "modes_to_frame",
    "frame_to_modes",
    "export_modes",
    "import_modes",
    "jaccard_matrix",
]

COLUMNS = [
    "method",
    "class_name",
    "description",
    "size",
    "accuracy",
    "drop",
    "heldout_drop",
    "members",
]


_RULE_OR_LABEL: Any = object()  # from_members: the rule's grouping, else "label"


@dataclass(frozen=True)
class FailureMode:
    """A failure mode found by one method for one class.

    ``members`` are EvalSet indices; ``accuracy`` is the model's accuracy on them, ``drop`` the
    class accuracy (on the rows the method analysed) minus it; ``heldout_drop`` the same drop
    when the mode's rule is re-applied to held-out data (None when not measured).

    ``rule`` (optional, default None) says how the mode re-applies to other rows: an object
    with ``apply(evalset, indices) -> members``, ``reference(evalset, indices)`` (the class's
    rows) and a readable ``description`` (see :mod:`failwidgets.rules`;
    :func:`failwidgets.rules.heldout` measures a mode on a held-out split). Rules are not
    written by :func:`export_modes` (CSV and Parquet hold the columns of ``COLUMNS``), so
    imported modes have none. Build modes with :meth:`from_members`, which computes
    ``accuracy`` and ``drop`` the same way for every method.
    """

    method: str
    class_name: str
    description: str
    members: np.ndarray = field(repr=False)
    accuracy: float = float("nan")
    drop: float = float("nan")
    heldout_drop: float | None = None
    rule: object | None = field(default=None, repr=False, compare=False)

    @property
    def size(self) -> int:
        return int(len(self.members))

    @classmethod
    def from_members(
        cls,
        method: str,
        class_name: str,
        description: str,
        members,
        evalset,
        *,
        reference_indices=None,
        grouping: Any = _RULE_OR_LABEL,
        rule=None,
        heldout_drop: float | None = None,
    ) -> FailureMode:
        """A failure mode with ``accuracy`` and ``drop`` computed from its members.

        ``accuracy`` is the model's accuracy on ``members``; ``drop`` the class accuracy on
        the reference rows minus it (the papers' drop, e.g. PRIME's ``A_c - A_S``, Barlow's
        ``ER(leaf) - BER``). The reference rows are the rows of ``reference_indices``
        (default: every row) in the class's group: labelled ``class_name``
        (``grouping="label"``, the default without a rule), predicted as it
        (``"prediction"``), or all of them (None: ``reference_indices`` already are the
        class's rows); by default with a ``rule``, the rule's grouping. Members keep their
        order.

        Parameters
        ----------
        method, class_name, description : as the attributes.
        members : EvalSet indices of the mode (any order, kept).
        evalset : an EvalSet, or any object with ``correct`` (and ``labels``,
            ``predictions``, ``class_names`` when the reference rows are filtered by class).
        reference_indices : the rows the method analysed (e.g. a split), default all.
        grouping : ``"label"``, ``"prediction"`` or None (default: the rule's, else label).
        rule : how the mode re-applies (:mod:`failwidgets.rules`), or None.
        heldout_drop : a held-out drop measured by the method itself, or None.
        """
        from .rules import class_rows

        correct = np.asarray(evalset.correct)
        members = np.asarray(members)
        if members.ndim != 1 or (members.size and members.dtype.kind not in "iu"):
            raise TypeError(
                f"members: expected 1-D integer EvalSet indices, got {members.dtype} of shape "
                f"{members.shape}"
            )
        members = members.astype(np.int64)
        if members.size and (members.min() < 0 or members.max() >= len(correct)):
            raise ValueError(f"members: indices must lie in 0..{len(correct) - 1}")
        if grouping is _RULE_OR_LABEL:
            grouping = getattr(rule, "grouping", "label")
        reference = class_rows(evalset, class_name, grouping, reference_indices)
        accuracy = float(correct[members].mean()) if members.size else float("nan")
        class_accuracy = float(correct[reference].mean()) if reference.size else float("nan")
        return cls(
            method=method,
            class_name=class_name,
            description=description,
            members=members,
            accuracy=accuracy,
            drop=class_accuracy - accuracy,
            heldout_drop=heldout_drop,
            rule=rule,
        )


def modes_to_frame(modes) -> pd.DataFrame:
    """Failure modes as a DataFrame with the columns of ``COLUMNS`` (members as int lists)."""
    rows = [
        {
            "method": m.method,
            "class_name": m.class_name,
            "description": m.description,
            "size": m.size,
            "accuracy": float(m.accuracy),
            "drop": float(m.drop),
            "heldout_drop": np.nan if m.heldout_drop is None else float(m.heldout_drop),
            "members": [int(i) for i in np.asarray(m.members).tolist()],
        }
        for m in modes
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


TEXT_COLUMNS = ("method", "class_name", "description")
FLOAT_COLUMNS = ("accuracy", "drop", "heldout_drop")
PARQUET_INSTALL = 'pip install "failwidgets[parquet]"'


def frame_to_modes(frame: pd.DataFrame) -> list[FailureMode]:
    """Inverse of :func:`modes_to_frame`; every value is checked, nothing is coerced.

    Text columns must hold strings, float columns numbers (``heldout_drop`` NaN/None: not
    measured), ``members`` a list or 1-D array of non-negative integers (or its JSON text),
    and ``size``, when present, the number of members.

    Raises
    ------
    ValueError, TypeError : naming the row and the column of the first bad value.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame: expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in COLUMNS if c not in frame.columns and c != "size"]
    if missing:
        raise ValueError(f"frame: missing columns {missing}")
    modes = []
    has_size = "size" in frame.columns
    for row, values in enumerate(frame.to_dict("records")):
        text = {}
        for column in TEXT_COLUMNS:
            value = values[column]
            if not isinstance(value, str):
                raise TypeError(
                    f"{column}: row {row}: expected text, got {type(value).__name__} {value!r}"
                )
            text[column] = value
        numbers = {column: _float_cell(values[column], row, column) for column in FLOAT_COLUMNS}
        members = _members_cell(values["members"], row)
        if has_size and _size_cell(values["size"], row) != len(members):
            raise ValueError(
                f"size: row {row}: says {values['size']!r} members, but members lists "
                f"{len(members)}"
            )
        heldout = numbers["heldout_drop"]
        modes.append(
            FailureMode(
                members=members,
                accuracy=numbers["accuracy"],
                drop=numbers["drop"],
                heldout_drop=None if np.isnan(heldout) else heldout,
                **text,
            )
        )
    return modes


def _float_cell(value, row: int, column: str) -> float:
    if value is None or value is pd.NA:  # missing: not measured
        return float("nan")
    if isinstance(value, (float, int, np.floating, np.integer)) and not isinstance(
        value, (bool, np.bool_)
    ):
        return float(value)
    raise TypeError(f"{column}: row {row}: expected a number, got {type(value).__name__} {value!r}")


def _size_cell(value, row: int) -> int:
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    raise TypeError(f"size: row {row}: expected an integer, got {type(value).__name__} {value!r}")


def _members_cell(value, row: int) -> np.ndarray:
    """A member list as int64 indices; an error naming ``members`` and the row otherwise."""
    where = f"members: row {row}"
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise ValueError(f"{where}: not a JSON list of indices ({error})") from None
        if not isinstance(value, list):
            raise ValueError(f"{where}: expected a JSON list of indices, got {value!r}")
    if isinstance(value, np.ndarray):
        if value.ndim != 1:
            raise ValueError(f"{where}: expected a 1-D list of indices, got shape {value.shape}")
        if value.size and not np.issubdtype(value.dtype, np.integer):
            raise TypeError(f"{where}: expected integer indices, got dtype {value.dtype}")
        items = value.tolist()
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise TypeError(f"{where}: expected a list of indices, got {type(value).__name__}")
    for item in items:
        if not isinstance(item, (int, np.integer)) or isinstance(item, (bool, np.bool_)):
            raise TypeError(f"{where}: {item!r} is not an integer index")
        if item < 0:
            raise ValueError(f"{where}: index {item} is negative")
    return np.asarray(items, dtype=np.int64)


def export_modes(modes, path: str | os.PathLike) -> Path:
    """Write failure modes to ``.csv`` or ``.parquet`` (chosen by the suffix).

    CSV holds ``members`` as JSON lists and floats in their shortest exact form, so
    :func:`import_modes` gives back the same modes; Parquet needs ``pyarrow``
    (``pip install "failwidgets[parquet]"``). A mode's ``rule`` is not written (it holds
    features, models or callables): imported modes have ``rule=None``, and their measured
    ``heldout_drop`` comes back as a number.
    """
    path = _check_path(path)
    frame = modes_to_frame(modes)
    if path.suffix == ".csv":
        frame = frame.assign(members=frame["members"].map(json.dumps))
        # every text cell quoted: a lone "\r" (or any line break) stays inside its cell
        frame.to_csv(path, index=False, encoding="utf-8", quoting=csv.QUOTE_NONNUMERIC)
    else:
        _with_pyarrow(lambda: frame.to_parquet(path, index=False, engine="pyarrow"))
    return path


def import_modes(path: str | os.PathLike) -> list[FailureMode]:
    """Read failure modes written by :func:`export_modes`, exactly as they were written.

    CSV text columns are read as text (``"NA"``, ``"None"``, ``""`` and ``"007"`` stay as they
    are), floats are parsed explicitly, and members must be lists of non-negative integers.
    """
    path = _check_path(path)
    if path.suffix == ".csv":
        frame = _read_csv(path)
    else:
        frame = _with_pyarrow(lambda: pd.read_parquet(path, engine="pyarrow"))
    return frame_to_modes(frame)


def _check_path(path) -> Path:
    if isinstance(path, (bytes, bytearray)) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a file path, got {type(path).__name__}")
    path = Path(path)
    if path.suffix not in (".csv", ".parquet"):
        raise ValueError(f"path: expected a .csv or .parquet file name, got {path.name!r}")
    return path


def _with_pyarrow(call):
    """``call()`` (a pandas Parquet read or write), or one ImportError naming the extra when
    pyarrow is missing, or present but unusable by pandas (too old, broken install)."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ImportError(
            f"path: Parquet files need the optional dependency pyarrow; install it with "
            f"{PARQUET_INSTALL}, or use a .csv file"
        ) from None
    try:
        return call()
    except ImportError as error:  # pandas' own check: e.g. "requires version ... of pyarrow"
        raise ImportError(
            f"path: pandas cannot use the installed pyarrow ({error}); install a supported "
            f"one with {PARQUET_INSTALL}, or use a .csv file"
        ) from None


def _read_csv(path: Path) -> pd.DataFrame:
    """Every column as text (no NA guessing, no type inference), then floats parsed explicitly."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise ValueError(f"path: {path} is not a failure-mode CSV file ({error})") from None
    for column in FLOAT_COLUMNS:
        if column in frame.columns:
            cells = enumerate(frame[column])
            frame[column] = np.array([_parse_float(text, row, column) for row, text in cells])
    if "size" in frame.columns:
        cells = enumerate(frame["size"])
        frame["size"] = [_parse_int(text, row, "size") for row, text in cells]
    return frame


def _parse_float(text: str, row: int, column: str) -> float:
    if text == "":
        return float("nan")
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{column}: row {row}: {text!r} is not a number") from None


def _parse_int(text: str, row: int, column: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{column}: row {row}: {text!r} is not an integer") from None


def jaccard_matrix(modes) -> pd.DataFrame:
    """Jaccard overlap |A & B| / |A | B| between the member sets of every pair of modes."""
    modes = list(modes)
    sets = [set(np.asarray(m.members).tolist()) for m in modes]
    n = len(sets)
    values = np.ones((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            union = len(sets[i] | sets[j])
            values[i, j] = values[j, i] = len(sets[i] & sets[j]) / union if union else 1.0
    labels = [f"{m.method}: {m.description}" for m in modes]
    return pd.DataFrame(values, index=labels, columns=labels)
