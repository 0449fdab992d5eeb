"""Annotator labels of Defuse failure scenarios, persisted to a JSON file at every change.

Several stores may share one file (a notebook and a view, or two kernels, or two processes).
Every change runs reload -> change -> write while holding an inter-process lock on
``<file>.lock`` (:class:`filelock.FileLock`, an OS ``flock``, released by the OS when a
process dies), so concurrent writers never lose each other's labels. Readers reload the file
when another store rewrote it since they last read it.

Each scenario carries two labels: ``is_failure`` (True / False / None = not reviewed) and
``correct_label`` (a class index, or None). Every change rewrites the whole file atomically
(a temporary file ``.<file name>.<pid>.<random>.tmp`` in the same folder, flushed and
fsync'ed, then ``os.replace``), so the file on disk is always a complete, valid JSON document:
a kernel that dies mid-session loses at most the change being written, never the file. The
temporary file of a writer killed mid-write is removed by the next write (under the lock) once
its process is gone or it is older than ``STALE_TEMP_SECONDS``.

Scenario ids are stored as canonical decimal keys ("3"). A hand-edited key such as "03" is
read as scenario 3; a file where two keys name the same scenario ("3" and "03") is refused.

A file carries the fingerprint of the scenario set its labels belong to. A store opened with
``scenario_set=`` refuses a file of another set, and also a file that holds labels but no
fingerprint (written without ``scenario_set``), unless ``adopt=True`` says the labels are
known to belong to this set; the file is then stamped with it at the next write.

File layout::

    {"format": "failwidgets.scenario_labels", "version": 1, "n_classes": 8,
     "class_names": [...] | null, "scenario_set": "<fingerprint>" | null,
     "labels": {"3": {"is_failure": true, "correct_label": 2}, ...}}
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

__all__ = ["ScenarioLabel", "ScenarioLabels", "check_class_label"]

_FORMAT = "failwidgets.scenario_labels"
_VERSION = 1
_UNSET = object()
_ID_KEY = re.compile(r"[0-9]+", re.ASCII)

LOCK_TIMEOUT_SECONDS = 60.0
"""How long a change waits for another process's write before it raises ``TimeoutError``."""

STALE_TEMP_SECONDS = 600.0
"""Age after which a temporary file is removed even when its process id is alive (pid reuse)."""


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
    adopt : with ``scenario_set``, accept a file whose labels carry no fingerprint and stamp it
        with ``scenario_set`` at the next write. Without it such a file is refused, since its
        labels may belong to another distillation.

    Raises
    ------
    ValueError : the file is not a valid label file, or it disagrees with ``n_classes``,
        ``scenario_set`` or ``scenario_ids``.
    TimeoutError : a change waited ``LOCK_TIMEOUT_SECONDS`` for another process's write.
    """

    def __init__(
        self,
        path,
        *,
        n_classes: int,
        scenario_ids: Iterable[int] | None = None,
        class_names: Sequence[str] | None = None,
        scenario_set: str | None = None,
        adopt: bool = False,
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
        if not isinstance(adopt, (bool, np.bool_)):
            raise TypeError(f"adopt: expected True or False, got {adopt!r}")
        self.adopt = bool(adopt)
        self._lock = FileLock(self.path.with_name(self.path.name + ".lock"))
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
        if is_failure is not _UNSET or correct_label is not _UNSET:  # fail before locking
            self._check_label(
                None if is_failure is _UNSET else is_failure,
                None if correct_label is _UNSET else correct_label,
            )
        result = []

        def change(labels: dict[int, ScenarioLabel]) -> None:
            current = labels.get(scenario_id, ScenarioLabel())
            label = self._check_label(
                current.is_failure if is_failure is _UNSET else is_failure,
                current.correct_label if correct_label is _UNSET else correct_label,
            )
            if label == ScenarioLabel():
                labels.pop(scenario_id, None)
            else:
                labels[scenario_id] = label
            result.append(label)

        self._change(change)
        return result[0]

    def update(self, labels: Mapping) -> None:
        """Set many labels in one write: ``{scenario_id: ScenarioLabel | dict}``."""
        if not isinstance(labels, Mapping):
            raise TypeError(
                f"labels: expected a mapping of scenario id to label, got {type(labels).__name__}"
            )
        checked = {}
        for scenario_id, value in labels.items():
            scenario_id = self._check_id(scenario_id)
            if isinstance(value, ScenarioLabel):
                value = value.to_dict()
            if not isinstance(value, Mapping) or set(value) - {"is_failure", "correct_label"}:
                raise ValueError(
                    f"labels[{scenario_id}]: expected a ScenarioLabel or a dict with keys "
                    f"'is_failure' and 'correct_label', got {value!r}"
                )
            checked[scenario_id] = self._check_label(
                value.get("is_failure"), value.get("correct_label")
            )

        def change(current: dict[int, ScenarioLabel]) -> None:
            for scenario_id, label in checked.items():
                if label == ScenarioLabel():
                    current.pop(scenario_id, None)
                else:
                    current[scenario_id] = label

        self._change(change)

    def clear(self, scenario_id=None) -> None:
        """Remove one scenario's label (or all labels when ``scenario_id`` is None)."""
        if scenario_id is None:
            self._change(dict.clear)
        else:
            scenario_id = self._check_id(scenario_id)
            self._change(lambda labels: labels.pop(scenario_id, None))

    # -- internals --------------------------------------------------------------------------------
    def _change(self, change) -> None:
        """Reload, apply ``change`` to a copy of the labels, write: one step under the file lock."""
        self.path.parent.mkdir(parents=True, exist_ok=True)  # the lock file lives there too
        try:
            self._lock.acquire(timeout=LOCK_TIMEOUT_SECONDS)
        except Timeout:
            raise TimeoutError(
                f"path: {self.path} is being written by another process; its lock "
                f"{self._lock.lock_file} was not released within {LOCK_TIMEOUT_SECONDS:.0f} s"
            ) from None
        try:
            if self.path.exists():
                self._load()  # always from disk: the stamp may miss a same-size rewrite
            updated = dict(self._labels)
            change(updated)
            _remove_stale_temporaries(self.path)
            self._write(updated)
            self._labels = updated
        finally:
            self._lock.release()

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
            prefix=f".{self.path.name}.{os.getpid()}.", suffix=".tmp", dir=self.path.parent
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
            document = json.loads(
                self.path.read_text(encoding="utf-8"), object_pairs_hook=_unique_keys
            )
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"{where} is not a valid JSON label file ({error})") from None
        except _DuplicateKey as error:
            raise ValueError(f"{where} repeats the key {error.args[0]!r}") from None
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
        raw = document.get("labels")
        if not isinstance(raw, dict):
            raise ValueError(f"{where}: 'labels' must be an object")
        if self.scenario_set is not None and stored_set is None and raw and not self.adopt:
            raise ValueError(
                f"{where} holds {len(raw)} labels with no scenario-set fingerprint, so they may "
                f"belong to another distillation; pass adopt=True to claim them for scenario "
                f"set {self.scenario_set}, or use a new file"
            )
        if self.scenario_set is None:
            self.scenario_set = stored_set
        if self.class_names is None and document.get("class_names") is not None:
            self.class_names = list(document["class_names"])
        labels = {}
        keys: dict[int, str] = {}
        for key, value in raw.items():
            if not _ID_KEY.fullmatch(key):
                raise ValueError(f"{where}: scenario id {key!r} is not a non-negative integer")
            scenario_id = int(key)
            if scenario_id in keys:
                raise ValueError(
                    f"{where}: keys {keys[scenario_id]!r} and {key!r} both name scenario "
                    f"{scenario_id}; keep one"
                )
            keys[scenario_id] = key
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


class _DuplicateKey(Exception):
    pass


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """``json`` object hook that refuses a repeated key (json keeps the last one silently)."""
    document = {}
    for key, value in pairs:
        if key in document:
            raise _DuplicateKey(key)
        document[key] = value
    return document


def _remove_stale_temporaries(path: Path) -> None:
    """Delete temporary files of ``path`` left by writers that died mid-write.

    Called under the file lock, when no writer of this file is active, so a temporary file
    of this process or of a process that is gone is an orphan; one older than
    ``STALE_TEMP_SECONDS`` is removed too (its process id may have been reused).
    """
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(?:(\d+)\.)?[^.]+\.tmp")
    now = time.time()
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None:
            continue
        pid = None if match.group(1) is None else int(match.group(1))
        try:
            old = now - entry.stat(follow_symlinks=False).st_mtime > STALE_TEMP_SECONDS
            if old or (pid is not None and (pid == os.getpid() or not _process_alive(pid))):
                os.unlink(entry.path)
        except FileNotFoundError:
            pass


def _process_alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill would terminate the process there: rely on the file's age
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    except OSError:
        return True  # unknown (e.g. a platform without signal 0): keep the file
    return True


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
