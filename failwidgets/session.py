"""Explorer sessions: the state a user set up, saved to one versioned JSON file and restored.

A session holds the selected class, every threshold, the selected failure mode, the grid's
selected images, the failure-mode table as it was shown, the table's sort and scope, the open
tab and the location of the Defuse scenario labels. It does not hold the data or the fitted
methods: :func:`load_session` rebuilds the Explorer from the user's EvalSet (and the same
assets), after checking that the EvalSet is the one the session was saved with.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .checks import check_output_path
from .features.cache import digest
from .modes import FailureMode

__all__ = [
    "SESSION_FORMAT",
    "SESSION_VERSION",
    "SessionMismatchError",
    "apply_session",
    "evalset_fingerprint",
    "load_session",
    "read_session",
    "save_session",
    "session_state",
]

SESSION_FORMAT = "failwidgets-session"
SESSION_VERSION = 1
"""Bumped when the file's layout changes; older versions are read, newer ones refused."""


class SessionMismatchError(ValueError):
    """The EvalSet given to restore a session is not the one it was saved with."""


def evalset_fingerprint(evalset) -> str:
    """A digest of an EvalSet's identity: size, class names, labels, predictions, images."""
    return digest(
        int(evalset.n),
        list(evalset.class_names),
        np.asarray(evalset.labels),
        np.asarray(evalset.predictions),
        evalset.images.fingerprint(),
    )


def _runs(indices) -> list[list[int]]:
    """Sorted distinct indices as ``[start, stop)`` runs (a 1M selection stays small)."""
    values = np.unique(np.asarray(indices, dtype=np.int64))
    if not len(values):
        return []
    breaks = np.flatnonzero(np.diff(values) != 1) + 1
    starts = values[np.concatenate(([0], breaks))]
    stops = values[np.concatenate((breaks - 1, [len(values) - 1]))] + 1
    return [[int(a), int(b)] for a, b in zip(starts, stops)]


def _from_runs(runs, name: str, n: int) -> np.ndarray:
    if not isinstance(runs, list):
        raise ValueError(
            f"{name}: expected a list of [start, stop] runs, got {type(runs).__name__}"
        )
    parts = []
    for run in runs:
        if (
            not isinstance(run, list)
            or len(run) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in run)
            or not 0 <= run[0] < run[1] <= n
        ):
            raise ValueError(f"{name}: bad run {run!r} for an EvalSet of {n} samples")
        parts.append(np.arange(run[0], run[1], dtype=np.int64))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _mode_record(mode: FailureMode | None) -> dict | None:
    if mode is None:
        return None
    return {
        "method": mode.method,
        "class_name": mode.class_name,
        "description": mode.description,
        "members": _runs(mode.members),
        "accuracy": None if np.isnan(mode.accuracy) else float(mode.accuracy),
        "drop": None if np.isnan(mode.drop) else float(mode.drop),
        "heldout_drop": None if mode.heldout_drop is None else float(mode.heldout_drop),
    }


def _mode_from_record(record, n: int, name: str = "selected_mode") -> FailureMode | None:
    if record is None:
        return None
    if not isinstance(record, dict):
        raise ValueError(f"{name}: expected an object, got {type(record).__name__}")
    missing = {"method", "class_name", "description", "members"} - set(record)
    if missing:
        raise ValueError(f"{name}: missing {sorted(missing)}")
    # a mode is a set: its members come back sorted
    members = _from_runs(record["members"], f"{name}.members", n)

    def number(key):
        value = record.get(key)
        return float("nan") if value is None else float(value)

    heldout = record.get("heldout_drop")
    return FailureMode(
        method=str(record["method"]),
        class_name=str(record["class_name"]),
        description=str(record["description"]),
        members=members,
        accuracy=number("accuracy"),
        drop=number("drop"),
        heldout_drop=None if heldout is None else float(heldout),
    )


def session_state(explorer) -> dict:
    """The Explorer's state as a JSON-ready dict (what :func:`save_session` writes)."""
    import failwidgets

    table = explorer.table
    labels_path = explorer.labels_path
    return {
        "format": SESSION_FORMAT,
        "version": SESSION_VERSION,
        "failwidgets": failwidgets.__version__,
        "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "evalset": {
            "n": int(explorer.evalset.n),
            "n_classes": len(explorer.evalset.class_names),
            "fingerprint": evalset_fingerprint(explorer.evalset),
        },
        "views": list(explorer.views),
        "class_name": explorer.class_name,
        "thresholds": explorer.thresholds(),
        "selected_mode": _mode_record(explorer.selected_mode),
        "grid_selection": _runs(explorer.grid.selected),
        "table": {
            "sort_by": table.sort_by,
            "ascending": bool(table.ascending),
            "scope": explorer.table_scope,
            "modes": [_mode_record(mode) for mode in explorer.shown_modes],
        },
        "tab": explorer.selected_tab,
        "labels_path": None if labels_path is None else str(Path(labels_path).resolve()),
    }


def save_session(explorer, path) -> Path:
    """Write the Explorer's session to ``path`` (JSON, written atomically); returns the path."""
    path = check_output_path(path, "session.json")
    text = json.dumps(session_state(explorer), indent=1, allow_nan=False)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_session(path) -> dict:
    """A session file's content, checked (format, version, required keys)."""
    if isinstance(path, (bytes, bytearray)) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a file path, got {type(path).__name__}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no session file at {str(path)!r}")
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"path: {str(path)!r} is not a session file (not JSON: {error})") from None
    if not isinstance(state, dict) or state.get("format") != SESSION_FORMAT:
        raise ValueError(f"path: {str(path)!r} is not a failwidgets session file")
    version = state.get("version")
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"path: bad session version {version!r}")
    if version > SESSION_VERSION:
        raise ValueError(
            f"path: the session was saved by a newer failwidgets (session version {version}, "
            f"this one reads up to {SESSION_VERSION}); upgrade failwidgets to load it"
        )
    required = {"evalset", "class_name", "thresholds", "selected_mode", "grid_selection", "table"}
    missing = required - set(state)
    if missing:
        raise ValueError(f"path: the session file lacks {sorted(missing)}")
    return state


def check_session_evalset(state: dict, evalset) -> None:
    """Raise :class:`SessionMismatchError` unless ``evalset`` is the session's EvalSet."""
    saved = state["evalset"]
    if not isinstance(saved, dict) or "fingerprint" not in saved:
        raise ValueError("path: the session file has no EvalSet fingerprint")
    if saved.get("n") != evalset.n or saved.get("n_classes") != len(evalset.class_names):
        raise SessionMismatchError(
            f"evalset: the session was saved with {saved.get('n')} samples and "
            f"{saved.get('n_classes')} classes; this EvalSet has {evalset.n} samples and "
            f"{len(evalset.class_names)} classes"
        )
    if saved["fingerprint"] != evalset_fingerprint(evalset):
        raise SessionMismatchError(
            "evalset: this is not the EvalSet the session was saved with (same size, but its "
            "labels, predictions, class names or images differ)"
        )


def apply_session(explorer, state: dict) -> list[str]:
    """Restore a checked session's state into ``explorer``; returns what could not be restored."""
    check_session_evalset(state, explorer.evalset)
    n = explorer.evalset.n
    skipped: list[str] = []
    class_name = state["class_name"]
    if class_name not in explorer.evalset.class_names:
        raise ValueError(f"class_name: the session's class {class_name!r} is not in the EvalSet")
    explorer.class_name = class_name
    thresholds = state["thresholds"]
    if not isinstance(thresholds, dict):
        raise ValueError("thresholds: expected an object {view: {threshold: value}}")
    current = explorer.thresholds()
    for view, values in thresholds.items():
        for attr, value in (values or {}).items():
            if attr not in current.get(view, {}):
                skipped.append(f"threshold {view}.{attr} (no such control in this Explorer)")
                continue
            explorer.set_threshold(view, attr, value)
    table = state["table"]
    if table.get("sort_by"):
        explorer.table.sort_by = table["sort_by"]
        explorer.table.ascending = bool(table.get("ascending", False))
    if table.get("scope") in ("class", "all"):
        explorer.table_scope = table["scope"]
    mode = _mode_from_record(state["selected_mode"], n)
    if mode is not None:
        explorer.select_mode(mode)
    selection = _from_runs(state["grid_selection"], "grid_selection", n)
    if len(selection):
        explorer.grid.show(selection, title=f"{len(selection)} images selected in the session")
        explorer.grid.selected = selection
    tab = state.get("tab")
    if isinstance(tab, str):
        if not explorer.select_tab(tab):
            skipped.append(f"tab {tab!r} (not in this Explorer)")
    explorer.wait()
    records = table.get("modes") or []
    if not isinstance(records, list):
        raise ValueError("table.modes: expected a list of failure modes")
    explorer.saved_modes = [
        _mode_from_record(record, n, f"table.modes[{i}]") for i, record in enumerate(records)
    ]
    return skipped


def load_session(path, evalset, explorer_factory, **assets):
    """Rebuild an Explorer for ``evalset`` (``explorer_factory(evalset, **assets)``) and
    restore the session saved at ``path`` into it; warns about what could not be restored."""
    state = read_session(path)
    check_session_evalset(state, evalset)
    if state.get("labels_path") and "labels_path" not in assets:
        assets["labels_path"] = state["labels_path"]
    explorer = explorer_factory(evalset, **assets)
    skipped = apply_session(explorer, state)
    if skipped:
        warnings.warn("session: not restored: " + "; ".join(skipped), stacklevel=3)
    return explorer
