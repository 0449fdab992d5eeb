"""Annotator labels of Defuse failure scenarios, persisted to a JSON file at every change.

Several stores may share one file (a notebook and a view, or two kernels): each reloads the
file before it reads or changes a label when another store rewrote it since, so no store writes
back a stale copy over another's labels.

Each scenario carries two labels: ``is_failure`` (True / False / None = not reviewed) and
``correct_label`` (a class index, or None). Every change rewrites the whole file atomically
(a temporary file in the same folder, flushed and fsync'ed, then ``os.replace``), so the file
on disk is always a complete, valid JSON document: a kernel that dies mid-session loses at most
the change being written, never the file. Opening a store on an existing file reloads it.

File layout::

    {"format": "failwidgets.scenario_labels", "version": 1, "n_classes": 8,
     "class_names": [...] | null, "scenario_set": "<fingerprint>" | null,
     "labels": {"3": {"is_failure": true, "correct_label": 2}, ...}}
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["ScenarioLabel", "ScenarioLabels", "check_class_label"]

_FORMAT = "failwidgets.scenario_labels"
_VERSION = 1
_UNSET = object()


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_class_label(value, n_classes: int, name: str = "correct_label") -> int:
    """``value`` as an int in ``range(n_classes)``; TypeError/ValueError naming ``name`` else."""
    if not _is_int(value):
        raise TypeError(f"{name}: expected an integer class index, got {value!r}")
    if not 0 <= int(value) < n_classes:
        raise ValueError(f"{name}: {int(value)} is outside the classes 0..{n_classes - 1}")
    return int(value)


@dataclass(frozen=True)
class ScenarioLabel:
    """The annotator's verdict on one scenario."""

    is_failure: bool | None = None
    correct_label: int | None = None

    def to_dict(self) -> dict:
        return {"is_failure": self.is_failure, "correct_label": self.correct_label}


class ScenarioLabels:
    """Per-scenario labels backed by a JSON file that is rewritten atomically at every change.

    Parameters
    ----------
    path : the JSON file; loaded when it exists, created at the first change otherwise.
    n_classes : number of classes; ``correct_label`` must lie in ``range(n_classes)``.
    scenario_ids : optional ids of the scenarios that may be labelled (others are refused).
    class_names : optional names of the classes (stored in the file for readers).
    scenario_set : optional fingerprint of the scenario set the labels belong to (e.g.
        ``ScenarioSet.fingerprint``); opening a file made for another scenario set raises.

    Raises
    ------
    ValueError : the file is not a valid label file, or it disagrees with ``n_classes``,
        ``scenario_set`` or ``scenario_ids``.
    """

    def __init__(
        self,
        path,
        *,
        n_classes: int,
        scenario_ids: Iterable[int] | None = None,
        class_names: Sequence[str] | None = None,
        scenario_set: str | None = None,
    ):
        if isinstance(path, (bytes, bytearray)) or not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path: expected a file path, got {type(path).__name__}")
        self.path = Path(path)
        if self.path.is_dir():
            raise ValueError(f"path: {self.path} is a folder; pass a file name such as labels.json")
        if not _is_int(n_classes) or n_classes < 1:
            raise ValueError(f"n_classes: expected a positive integer, got {n_classes!r}")
        self.n_classes = int(n_classes)
        if class_names is not None:
            class_names = [str(name) for name in class_names]
            if len(class_names) != self.n_classes:
                raise ValueError(
                    f"class_names: expected {self.n_classes} names, got {len(class_names)}"
                )
        self.class_names = class_names
        self.scenario_ids = (
            None if scenario_ids is None else {self._check_id(i) for i in scenario_ids}
        )
        if scenario_set is not None and not isinstance(scenario_set, str):
            raise TypeError(
                f"scenario_set: expected a fingerprint string, got {type(scenario_set).__name__}"
            )
        self.scenario_set = scenario_set
        self._labels: dict[int, ScenarioLabel] = {}
        self._stamp = None  # identity of the file version held in memory
        if self.path.exists():
            self._load()

    # -- reading ----------------------------------------------------------------------------------
    def __len__(self) -> int:
        self._sync()
        return len(self._labels)

    def __contains__(self, scenario_id) -> bool:
        self._sync()
        return _is_int(scenario_id) and int(scenario_id) in self._labels

    def __iter__(self):
        self._sync()
        return iter(sorted(self._labels))

    def get(self, scenario_id) -> ScenarioLabel:
        """The label of a scenario (an empty ``ScenarioLabel`` when it was never labelled)."""
        scenario_id = self._check_id(scenario_id)
        self._sync()
        return self._labels.get(scenario_id, ScenarioLabel())

    def items(self):
        self._sync()
        return [(i, self._labels[i]) for i in sorted(self._labels)]

    def failure_labels(self) -> dict[int, int]:
        """``{scenario_id: correct_label}`` of scenarios marked failures that have a label."""
        return {
            i: label.correct_label
            for i, label in self.items()
            if label.is_failure and label.correct_label is not None
        }

    def to_frame(self):
        """DataFrame indexed by scenario id with columns ``is_failure`` and ``correct_label``."""
        import pandas as pd

        rows = [{"scenario": i, **label.to_dict()} for i, label in self.items()]
        frame = pd.DataFrame(rows, columns=["scenario", "is_failure", "correct_label"])
        frame["correct_label"] = frame["correct_label"].astype("Int64")
        frame["is_failure"] = frame["is_failure"].astype("boolean")
        return frame.set_index("scenario")

    # -- writing ----------------------------------------------------------------------------------
    def set(self, scenario_id, *, is_failure=_UNSET, correct_label=_UNSET) -> ScenarioLabel:
        """Change the given fields of one scenario's label and write the file at once.

        Fields left out keep their value; pass ``None`` to clear one. A scenario whose fields are
        both None is dropped from the file. Returns the new label.
        """
        scenario_id = self._check_id(scenario_id)
        self._sync()
        current = self._labels.get(scenario_id, ScenarioLabel())
        if is_failure is _UNSET:
            is_failure = current.is_failure
        if correct_label is _UNSET:
            correct_label = current.correct_label
        label = self._check_label(is_failure, correct_label)
        updated = dict(self._labels)
        if label == ScenarioLabel():
            updated.pop(scenario_id, None)
        else:
            updated[scenario_id] = label
        self._write(updated)
        self._labels = updated
        return label

    def update(self, labels: Mapping) -> None:
        """Set many labels in one write: ``{scenario_id: ScenarioLabel | dict}``."""
        if not isinstance(labels, Mapping):
            raise TypeError(
                f"labels: expected a mapping of scenario id to label, got {type(labels).__name__}"
            )
        self._sync()
        updated = dict(self._labels)
        for scenario_id, value in labels.items():
            scenario_id = self._check_id(scenario_id)
            if isinstance(value, ScenarioLabel):
                value = value.to_dict()
            if not isinstance(value, Mapping) or set(value) - {"is_failure", "correct_label"}:
                raise ValueError(
                    f"labels[{scenario_id}]: expected a ScenarioLabel or a dict with keys "
                    f"'is_failure' and 'correct_label', got {value!r}"
                )
            label = self._check_label(value.get("is_failure"), value.get("correct_label"))
            if label == ScenarioLabel():
                updated.pop(scenario_id, None)
            else:
                updated[scenario_id] = label
        self._write(updated)
        self._labels = updated

    def clear(self, scenario_id=None) -> None:
        """Remove one scenario's label (or all labels when ``scenario_id`` is None)."""
        self._sync()
        if scenario_id is None:
            updated = {}
        else:
            updated = dict(self._labels)
            updated.pop(self._check_id(scenario_id), None)
        self._write(updated)
        self._labels = updated

    # -- internals --------------------------------------------------------------------------------
    def _check_id(self, scenario_id) -> int:
        if not _is_int(scenario_id) or scenario_id < 0:
            raise TypeError(f"scenario_id: expected a non-negative integer, got {scenario_id!r}")
        scenario_id = int(scenario_id)
        if getattr(self, "scenario_ids", None) is not None and scenario_id not in self.scenario_ids:
            raise ValueError(
                f"scenario_id: {scenario_id} is not one of the scenarios {sorted(self.scenario_ids)}"
            )
        return scenario_id

    def _check_label(self, is_failure, correct_label) -> ScenarioLabel:
        if is_failure is not None:
            if not isinstance(is_failure, (bool, np.bool_)):
                raise TypeError(f"is_failure: expected True, False or None, got {is_failure!r}")
            is_failure = bool(is_failure)
        if correct_label is not None:
            correct_label = check_class_label(correct_label, self.n_classes)
        return ScenarioLabel(is_failure, correct_label)

    def _document(self, labels: dict[int, ScenarioLabel]) -> dict:
        return {
            "format": _FORMAT,
            "version": _VERSION,
            "n_classes": self.n_classes,
            "class_names": self.class_names,
            "scenario_set": self.scenario_set,
            "labels": {str(i): labels[i].to_dict() for i in sorted(labels)},
        }

    def _write(self, labels: dict[int, ScenarioLabel]) -> None:
        text = json.dumps(self._document(labels), indent=1) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
        )
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            # mkstemp creates the file as 0600; keep the old file's mode, else use 0644
            mode = self.path.stat().st_mode & 0o777 if self.path.exists() else 0o644
            os.chmod(tmp, mode)
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        _fsync_directory(self.path.parent)
        self._stamp = self._file_stamp()

    def _load(self) -> None:
        where = f"path: {self.path}"
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"{where} is not a valid JSON label file ({error})") from None
        if not isinstance(document, dict) or document.get("format") != _FORMAT:
            raise ValueError(f"{where} is not a failwidgets scenario label file")
        if document.get("version") != _VERSION:
            raise ValueError(f"{where} has unsupported version {document.get('version')!r}")
        if document.get("n_classes") != self.n_classes:
            raise ValueError(
                f"{where} was written for {document.get('n_classes')} classes, not n_classes={self.n_classes}"
            )
        stored_set = document.get("scenario_set")
        if (
            self.scenario_set is not None
            and stored_set is not None
            and stored_set != self.scenario_set
        ):
            raise ValueError(
                f"{where} holds labels of another scenario set ({stored_set}, expected "
                f"{self.scenario_set}); use a new file for a new distillation"
            )
        if self.scenario_set is None:
            self.scenario_set = stored_set
        if self.class_names is None and document.get("class_names") is not None:
            self.class_names = list(document["class_names"])
        raw = document.get("labels")
        if not isinstance(raw, dict):
            raise ValueError(f"{where}: 'labels' must be an object")
        labels = {}
        for key, value in raw.items():
            try:
                scenario_id = int(key)
            except ValueError:
                raise ValueError(f"{where}: scenario id {key!r} is not an integer") from None
            if not isinstance(value, dict):
                raise ValueError(f"{where}: label of scenario {key} must be an object")
            try:
                labels[self._check_id(scenario_id)] = self._check_label(
                    value.get("is_failure"), value.get("correct_label")
                )
            except (TypeError, ValueError) as error:
                raise ValueError(f"{where}: scenario {key}: {error}") from None
        self._labels = labels
        self._stamp = self._file_stamp()

    def _file_stamp(self):
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return None
        return (info.st_ino, info.st_mtime_ns, info.st_size)

    def _sync(self) -> None:
        """Reload when another store (another view, another kernel) rewrote the file."""
        stamp = self._file_stamp()
        if stamp is not None and stamp != self._stamp:
            self._load()

    def __repr__(self) -> str:
        n_failures = sum(1 for _, label in self.items() if label.is_failure)
        return f"ScenarioLabels({str(self.path)!r}, {len(self)} labelled, {n_failures} failures)"


def _fsync_directory(folder: Path) -> None:
    """Make the rename durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
