"""One shape for a failure mode, whatever the method: a member set plus a description.

The Explorer compares methods through this shape (a table, Jaccard overlaps between member
sets) and exports it to CSV/Parquet and back.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
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


@dataclass(frozen=True)
class FailureMode:
    """A failure mode found by one method for one class.

    ``members`` are EvalSet indices; ``accuracy`` is the model's accuracy on them, ``drop`` the
    class accuracy minus it; ``heldout_drop`` the same drop when the mode's rule is re-applied
    to held-out data (None when not measured).
    """

    method: str
    class_name: str
    description: str
    members: np.ndarray = field(repr=False)
    accuracy: float = float("nan")
    drop: float = float("nan")
    heldout_drop: float | None = None

    @property
    def size(self) -> int:
        return int(len(self.members))


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


def frame_to_modes(frame: pd.DataFrame) -> list[FailureMode]:
    """Inverse of :func:`modes_to_frame`."""
    missing = [c for c in COLUMNS if c not in frame.columns and c != "size"]
    if missing:
        raise ValueError(f"frame: missing columns {missing}")
    modes = []
    for row in frame.itertuples(index=False):
        members = row.members
        if isinstance(members, str):
            members = json.loads(members)
        heldout = None if pd.isna(row.heldout_drop) else float(row.heldout_drop)
        modes.append(
            FailureMode(
                method=str(row.method),
                class_name=str(row.class_name),
                description=str(row.description),
                members=np.asarray(list(members), dtype=np.int64),
                accuracy=float(row.accuracy),
                drop=float(row.drop),
                heldout_drop=heldout,
            )
        )
    return modes


def export_modes(modes, path: str | os.PathLike) -> Path:
    """Write failure modes to ``.csv`` or ``.parquet`` (chosen by the suffix)."""
    path = Path(path)
    frame = modes_to_frame(modes)
    if path.suffix == ".csv":
        frame.assign(members=frame["members"].map(json.dumps)).to_csv(path, index=False)
    elif path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        raise ValueError(f"path: expected a .csv or .parquet file name, got {path.name!r}")
    return path


def import_modes(path: str | os.PathLike) -> list[FailureMode]:
    """Read failure modes written by :func:`export_modes`."""
    path = Path(path)
    if path.suffix == ".csv":
        frame = pd.read_csv(path)
    elif path.suffix == ".parquet":
        frame = pd.read_parquet(path)
    else:
        raise ValueError(f"path: expected a .csv or .parquet file name, got {path.name!r}")
    return frame_to_modes(frame)


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
