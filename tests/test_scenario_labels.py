"""The Defuse label store: atomic JSON writes, reload, crash survival, validation."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from failwidgets.methods.scenario_labels import ScenarioLabel, ScenarioLabels


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_every_change_is_written_and_reloaded(tmp_path):
    path = tmp_path / "labels.json"
    store = ScenarioLabels(path, n_classes=4, class_names=list("abcd"), scenario_set="fp1")
    assert not path.exists()  # nothing written before the first change
    store.set(2, is_failure=True)
    assert read(path)["labels"] == {"2": {"is_failure": True, "correct_label": None}}
    store.set(2, correct_label=np.int64(3))  # the other field is kept
    store.set(0, is_failure=False)
    assert read(path)["labels"] == {
        "0": {"is_failure": False, "correct_label": None},
        "2": {"is_failure": True, "correct_label": 3},
    }

    reopened = ScenarioLabels(path, n_classes=4)  # as after a kernel restart
    assert reopened.get(2) == ScenarioLabel(True, 3)
    assert reopened.get(0) == ScenarioLabel(False, None)
    assert reopened.get(1) == ScenarioLabel()  # never labelled
    assert reopened.class_names == list("abcd") and reopened.scenario_set == "fp1"
    assert reopened.failure_labels() == {2: 3}
    assert list(reopened) == [0, 2] and len(reopened) == 2 and 2 in reopened

    frame = reopened.to_frame()
    assert list(frame.index) == [0, 2]
    assert frame.loc[2, "correct_label"] == 3 and bool(frame.loc[0, "is_failure"]) is False


def test_clearing_fields_and_bulk_update(tmp_path):
    path = tmp_path / "labels.json"
    store = ScenarioLabels(path, n_classes=3, scenario_ids=range(5))
    store.update(
        {
            1: {"is_failure": True, "correct_label": 0},
            3: ScenarioLabel(True, 2),
            4: {"is_failure": False},
        }
    )
    assert store.failure_labels() == {1: 0, 3: 2}
    store.set(1, is_failure=None, correct_label=None)  # both cleared: dropped from the file
    assert "1" not in read(path)["labels"]
    store.set(3, is_failure=False)  # no longer a failure: not used for correction
    assert store.failure_labels() == {}
    store.clear(4)
    assert set(read(path)["labels"]) == {"3"}
    store.clear()
    assert read(path)["labels"] == {} and len(ScenarioLabels(path, n_classes=3)) == 0


def test_file_mode_is_not_private(tmp_path):
    path = tmp_path / "labels.json"
    ScenarioLabels(path, n_classes=2).set(0, is_failure=True)
    assert path.stat().st_mode & 0o044  # readable by others like any file the user writes


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"correct_label": 4}, ValueError, "outside the classes 0..3"),
        ({"correct_label": -1}, ValueError, "outside the classes"),
        ({"correct_label": 1.0}, TypeError, "correct_label: expected an integer"),
        ({"correct_label": True}, TypeError, "correct_label"),
        ({"is_failure": "yes"}, TypeError, "is_failure"),
        ({"is_failure": 1}, TypeError, "is_failure"),
    ],
)
def test_bad_labels_are_refused_and_nothing_is_written(tmp_path, kwargs, error, match):
    path = tmp_path / "labels.json"
    store = ScenarioLabels(path, n_classes=4)
    store.set(0, is_failure=True, correct_label=1)
    before = path.read_text()
    with pytest.raises(error, match=match):
        store.set(0, **kwargs)
    assert path.read_text() == before and store.get(0) == ScenarioLabel(True, 1)


def test_bad_scenario_ids_and_arguments(tmp_path):
    store = ScenarioLabels(tmp_path / "l.json", n_classes=3, scenario_ids=[0, 1, 2])
    with pytest.raises(ValueError, match="scenario_id: 7 is not one of the scenarios"):
        store.set(7, is_failure=True)
    with pytest.raises(TypeError, match="scenario_id"):
        store.set(-1, is_failure=True)
    with pytest.raises(TypeError, match="scenario_id"):
        store.set("2", is_failure=True)
    with pytest.raises(ValueError, match="n_classes"):
        ScenarioLabels(tmp_path / "x.json", n_classes=0)
    with pytest.raises(ValueError, match="class_names: expected 3 names"):
        ScenarioLabels(tmp_path / "x.json", n_classes=3, class_names=["a"])
    with pytest.raises(ValueError, match="is a folder"):
        ScenarioLabels(tmp_path, n_classes=3)
    with pytest.raises(TypeError, match="path"):
        ScenarioLabels(None, n_classes=3)
    with pytest.raises(ValueError, match="labels\\[1\\]"):
        store.update({1: {"is_failure": True, "label": 2}})


def test_reload_checks_the_file(tmp_path):
    path = tmp_path / "labels.json"
    ScenarioLabels(path, n_classes=4, scenario_set="aaa").set(1, is_failure=True, correct_label=3)
    with pytest.raises(ValueError, match="written for 4 classes, not n_classes=3"):
        ScenarioLabels(path, n_classes=3)
    with pytest.raises(ValueError, match="another scenario set"):
        ScenarioLabels(path, n_classes=4, scenario_set="bbb")
    with pytest.raises(ValueError, match="scenario 1"):
        ScenarioLabels(path, n_classes=4, scenario_ids=[0])
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not a valid JSON label file"):
        ScenarioLabels(path, n_classes=4)
    assert path.read_text() == "{not json"  # a bad file is reported, never overwritten
    path.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ValueError, match="not a failwidgets scenario label file"):
        ScenarioLabels(path, n_classes=4)
    doc = {
        "format": "failwidgets.scenario_labels",
        "version": 1,
        "n_classes": 4,
        "labels": {"0": {"correct_label": 9}},
    }
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="scenario 0: correct_label: 9 is outside"):
        ScenarioLabels(path, n_classes=4)


@pytest.mark.parametrize("failing", ["os.replace", "os.fsync"])
def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch, failing):
    path = tmp_path / "labels.json"
    store = ScenarioLabels(path, n_classes=3)
    store.set(0, is_failure=True, correct_label=2)
    before = path.read_text()

    def crash(*args, **kwargs):
        raise OSError("disk gone")

    monkeypatch.setattr(failing, crash)
    with pytest.raises(OSError, match="disk gone"):
        store.set(1, is_failure=True, correct_label=0)
    monkeypatch.undo()
    assert path.read_text() == before  # still the complete previous document
    # no temporary left; the lock file stays (an empty file, as with any flock-based lock)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.json", "labels.json.lock"]
    assert store.get(1) == ScenarioLabel()  # memory agrees with the file
    assert ScenarioLabels(path, n_classes=3).failure_labels() == {0: 2}


_WRITER = """
import sys
from failwidgets.methods.scenario_labels import ScenarioLabels
store = ScenarioLabels(sys.argv[1], n_classes=10, class_names=[f"class {i}" * 20 for i in range(10)])
print("ready", flush=True)
i = 0
while True:
    store.set(i % 500, is_failure=bool(i % 2), correct_label=i % 10)
    i += 1
"""


def test_the_file_is_always_valid_when_the_writer_is_killed(tmp_path):
    """A process writing labels as fast as it can, killed with SIGKILL at random moments."""
    path = tmp_path / "labels.json"
    rng = np.random.default_rng(0)
    for _ in range(3):
        child = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True
        )
        try:
            assert child.stdout.readline().strip() == "ready"
            deadline = time.monotonic() + 20
            while not path.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.05 + 0.25 * rng.random())
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
            child.stdout.close()
        document = read(path)  # valid JSON, complete document
        assert document["format"] == "failwidgets.scenario_labels"
        store = ScenarioLabels(path, n_classes=10)
        assert len(store) > 0 and len(store) == len(document["labels"])
        store.set(0, is_failure=True)  # the next write removes a temporary the kill left behind
        assert temporaries(tmp_path) == []


def test_two_stores_on_one_file_never_overwrite_each_others_labels(tmp_path):
    # e.g. the notebook's store and a ScenarioView's store, or two kernels on one file
    path = tmp_path / "labels.json"
    first = ScenarioLabels(path, n_classes=3, scenario_set="fp")
    second = ScenarioLabels(path, n_classes=3, scenario_set="fp")
    first.set(0, is_failure=True, correct_label=1)
    second.set(1, is_failure=False)  # second reloads first's label before writing
    first.set(2, is_failure=True, correct_label=0)  # and first reloads second's
    assert read(path)["labels"] == {
        "0": {"is_failure": True, "correct_label": 1},
        "1": {"is_failure": False, "correct_label": None},
        "2": {"is_failure": True, "correct_label": 0},
    }
    assert second.get(2) == ScenarioLabel(True, 0)  # readers see the other store's change
    assert second.failure_labels() == {0: 1, 2: 0}
    second.clear(0)
    assert 0 not in first and len(first) == 2


# -- two processes, killed writers, ambiguous files (issue 14) -------------------------------------
_LABELLER = """
import sys
from failwidgets.methods.scenario_labels import ScenarioLabels
path, first = sys.argv[1], int(sys.argv[2])
store = ScenarioLabels(path, n_classes=5, scenario_set="fp")
print("ready", flush=True)
sys.stdin.readline()  # both processes start labelling together
for i in range(first, first + 150):
    store.set(i, is_failure=True, correct_label=i % 5)
print("done", flush=True)
"""


def test_two_processes_labelling_at_once_lose_nothing(tmp_path):
    path = tmp_path / "labels.json"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _LABELLER, str(path), str(first)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for first in (0, 1000)
    ]
    try:
        for child in children:
            assert child.stdout.readline().strip() == "ready"
        for child in children:
            child.stdin.write("go\n")
            child.stdin.flush()
        for child in children:
            assert child.stdout.readline().strip() == "done"
            assert child.wait(timeout=120) == 0
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
            child.stdin.close()
            child.stdout.close()
    labels = read(path)["labels"]
    expected = [*range(150), *range(1000, 1150)]
    assert len(labels) == 300 and sorted(int(k) for k in labels) == expected
    assert all(labels[str(i)] == {"is_failure": True, "correct_label": i % 5} for i in expected)
    assert temporaries(tmp_path) == []


_STUCK_WRITER = """
import os, sys, time
from failwidgets.methods.scenario_labels import ScenarioLabels
store = ScenarioLabels(sys.argv[1], n_classes=3)
def stuck(*args):  # the temporary is written; the process dies before the rename
    print("writing", flush=True)
    time.sleep(600)
os.replace = stuck
store.set(1, is_failure=True)
"""


def test_a_writer_killed_mid_write_leaves_no_orphan_after_the_next_write(tmp_path):
    path = tmp_path / "labels.json"
    ScenarioLabels(path, n_classes=3).set(0, is_failure=False)
    child = subprocess.Popen(
        [sys.executable, "-c", _STUCK_WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "writing"  # it holds the lock and a temporary
        orphans = temporaries(tmp_path)
        assert len(orphans) == 1 and orphans[0].startswith(f".labels.json.{child.pid}.")
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
    store = ScenarioLabels(path, n_classes=3)
    store.set(2, is_failure=True)  # the dead writer's lock is free; its temporary is removed
    assert temporaries(tmp_path) == []
    assert set(read(path)["labels"]) == {"0", "2"}  # the killed change is lost, nothing else


def test_a_temporary_of_a_live_writer_is_kept_until_it_is_stale(tmp_path, monkeypatch):
    from failwidgets.methods import scenario_labels

    path = tmp_path / "labels.json"
    live = tmp_path / f".labels.json.{os.getppid()}.abc12345.tmp"  # a live process (our parent)
    live.write_text("{}")
    other = tmp_path / ".other.json.1.abc12345.tmp"  # another file's temporary: never touched
    other.write_text("{}")
    ScenarioLabels(path, n_classes=3).set(0, is_failure=True)
    assert live.exists() and other.exists()
    monkeypatch.setattr(scenario_labels, "STALE_TEMP_SECONDS", 0.0)
    time.sleep(0.01)
    ScenarioLabels(path, n_classes=3).set(1, is_failure=True)
    assert not live.exists() and other.exists()


def _document(labels: dict, **extra) -> str:
    doc = {"format": "failwidgets.scenario_labels", "version": 1, "n_classes": 4}
    return json.dumps({**doc, **extra, "labels": labels})


def test_keys_naming_one_scenario_twice_are_refused(tmp_path):
    path = tmp_path / "labels.json"
    label = {"is_failure": True, "correct_label": 1}
    path.write_text(_document({"3": label, "03": {"is_failure": False}}))
    with pytest.raises(ValueError, match="keys '3' and '03' both name scenario 3"):
        ScenarioLabels(path, n_classes=4)
    path.write_text(
        '{"format": "failwidgets.scenario_labels", "version": 1, "n_classes": 4, '
        '"labels": {"3": {"is_failure": true}, "3": {"is_failure": false}}}'
    )
    with pytest.raises(ValueError, match="repeats the key '3'"):
        ScenarioLabels(path, n_classes=4)
    for key in ("+3", " 3", "\u0663", "-1", "3.0"):  # "\u0663" is an Arabic-Indic 3
        path.write_text(_document({key: label}))
        with pytest.raises(ValueError, match="is not a non-negative integer"):
            ScenarioLabels(path, n_classes=4)
    path.write_text(_document({"03": label}))  # alone, a padded key is read as its scenario
    store = ScenarioLabels(path, n_classes=4)
    assert store.get(3) == ScenarioLabel(True, 1)
    store.set(0, is_failure=False)
    assert set(read(path)["labels"]) == {"0", "3"}  # and written back canonically


def test_a_file_without_fingerprint_is_adopted_only_on_request(tmp_path):
    path = tmp_path / "labels.json"
    ScenarioLabels(path, n_classes=4).set(1, is_failure=True)  # no scenario_set given
    before = path.read_text()
    with pytest.raises(ValueError, match="no scenario-set fingerprint.*adopt=True"):
        ScenarioLabels(path, n_classes=4, scenario_set="fp")
    assert path.read_text() == before
    with pytest.raises(TypeError, match="adopt"):
        ScenarioLabels(path, n_classes=4, scenario_set="fp", adopt="yes")
    store = ScenarioLabels(path, n_classes=4, scenario_set="fp", adopt=True)
    assert store.get(1) == ScenarioLabel(True, None)
    store.set(2, is_failure=False)
    assert read(path)["scenario_set"] == "fp"  # stamped now
    assert ScenarioLabels(path, n_classes=4, scenario_set="fp").get(1) == ScenarioLabel(True)
    with pytest.raises(ValueError, match="another scenario set"):  # adopt never overrides
        ScenarioLabels(path, n_classes=4, scenario_set="other", adopt=True)
    empty = tmp_path / "empty.json"
    empty.write_text(_document({}))  # nothing to misattribute: an empty file is taken as is
    ScenarioLabels(empty, n_classes=4, scenario_set="fp").set(0, is_failure=True)
    assert read(empty)["scenario_set"] == "fp"


def test_a_store_in_a_new_folder_creates_it(tmp_path):
    path = tmp_path / "new" / "deeper" / "labels.json"
    ScenarioLabels(path, n_classes=2).set(0, is_failure=True)
    assert read(path)["labels"] == {"0": {"is_failure": True, "correct_label": None}}
