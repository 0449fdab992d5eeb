"""Attacks on the public API (issue 14): one table, one row per attack.

Each row is ``Case(name, call, expect)``. ``call(kit)`` performs the attack; ``kit`` gives a
fresh temporary folder and small ready-made objects. ``expect`` is one of

- ``Raises(ExceptionType, regex)``: the call raises that type and the message matches the
  regex, which names the argument at the start of the message (``^delta: ...``);
- ``Warns(WarningType, regex)``: the call warns, naming the argument;
- ``Gives(description, check)``: the call returns, and ``check(result)`` is true.

A silent wrong result, a lost label or an unnamed error fails its row. The next attack starts
from this table: add a row.

Rows (keep these counts up to date):
    ENGINE_CASES   47  label store 11, failure-mode export/import 18, CES 15, Defuse 2,
                        PRIME 1 (prime.py, helper E)
    EVALSET_CASES  19  EvalSet constructors and accessors (data.py, helper A)
    WIDGET_CASES   17  grid 5, mode table 3, concept map 2, tree 4, scenarios 3 (helper D)
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
import torch

from failwidgets.data import EvalSet
from failwidgets.methods.ces import (
    ConceptBank,
    concept_scores,
    conceptual_counterfactual,
)
from failwidgets.methods.defuse import Defuse, identify_failures
from failwidgets.methods.scenario_labels import ScenarioLabels
from failwidgets.modes import FailureMode, export_modes, import_modes

torch.set_num_threads(1)


# ------------------------------------------------------------------------------ the table's shape
@dataclass(frozen=True)
class Raises:
    error: type[BaseException]
    match: str


@dataclass(frozen=True)
class Warns:
    warning: type[Warning]
    match: str


@dataclass(frozen=True)
class Gives:
    description: str
    check: Callable[[object], bool]


@dataclass(frozen=True)
class Case:
    name: str
    call: Callable[[Kit], object]
    expect: Raises | Warns | Gives


class Kit:
    """What an attack needs: a temporary folder and small objects, built on first use."""

    def __init__(self, tmp_path: Path):
        self.tmp = tmp_path

    # -- CES: a linear top over 8-d activations, 3 concepts
    @property
    def top(self) -> torch.nn.Module:
        linear = torch.nn.Linear(8, 3, bias=False)
        weight = np.random.default_rng(0).standard_normal((3, 8))
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(weight))
        return torch.nn.Sequential(torch.nn.Flatten(), linear)  # layer activations (2, 4)

    def bank(self, vectors=None, **overrides) -> ConceptBank:
        vectors = np.random.default_rng(1).standard_normal((3, 8)) if vectors is None else vectors
        c = len(vectors)
        fields = dict(
            names=[f"c{i}" for i in range(c)],
            vectors=vectors,
            intercepts=np.zeros(c),
            val_accuracy=np.ones(c),
            train_accuracy=np.ones(c),
            c_values=np.ones(c),
            margin_min=-np.ones(c),
            margin_max=np.ones(c),
            n_positives=np.full(c, 20),
            n_negatives=np.full(c, 20),
            activation_shape=(2, 4),
            layer="toy",
        )
        return ConceptBank(**{**fields, **overrides})

    @property
    def h(self) -> np.ndarray:
        return np.random.default_rng(2).standard_normal((4, 8)).astype(np.float32)

    def h_with(self, value) -> np.ndarray:
        h = self.h.astype(np.float64)
        h[1, 3] = value
        return h

    def saved_bank(self) -> Path:
        npz, _ = self.bank().save(self.tmp / "bank")
        return npz

    # -- label store
    def labels_file(self, labels: dict, *, _text: bool = False, **extra) -> Path:
        path = self.tmp / "labels.json"
        doc = {"format": "failwidgets.scenario_labels", "version": 1, "n_classes": 3}
        text = json.dumps({**doc, **extra, "labels": labels})
        if _text:  # the same key twice, which json.dumps cannot write
            text = text.replace('"labels": {', '"labels": {"1": {}, ')
        path.write_text(text)
        return path

    # -- failure modes
    def round_trip(self, suffix: str, **fields) -> FailureMode:
        mode = FailureMode(
            **{"method": "m", "class_name": "c", "description": "d", "members": [1, 2], **fields}
        )
        (back,) = import_modes(export_modes([mode], self.tmp / f"modes{suffix}"))
        return back

    def csv_with(self, old: str, new: str) -> Path:
        mode = FailureMode("m", "c", "d", np.array([1, 2]), 0.5, 0.1, None)
        path = export_modes([mode], self.tmp / "modes.csv")
        path.write_text(path.read_text().replace(old, new))
        return path

    # -- EvalSet
    def evalset(self, n: int = 6, **overrides) -> EvalSet:
        labels = np.arange(n) % 3
        fields = dict(
            images=np.zeros((n, 4, 4, 3), np.uint8),
            labels=labels,
            predictions=labels.copy(),
            class_names=["a", "b", "c"],
        )
        return EvalSet.from_arrays(**{**fields, **overrides})

    # -- Defuse
    @property
    def vae(self):
        from failwidgets.methods.vae import BetaVAE, VAEConfig

        return BetaVAE(VAEConfig(image_size=8, latent_dim=2))


# --------------------------------------------------------------------- label store (helper C)
_LABELLER = """
import sys
from failwidgets.methods.scenario_labels import ScenarioLabels
store = ScenarioLabels(sys.argv[1], n_classes=3)
print("ready", flush=True)
sys.stdin.readline()
for i in range(int(sys.argv[2]), int(sys.argv[2]) + 150):
    store.set(i, is_failure=True, correct_label=i % 3)
"""

_STUCK_WRITER = """
import os, sys, time
from failwidgets.methods.scenario_labels import ScenarioLabels
store = ScenarioLabels(sys.argv[1], n_classes=3)
def stuck(*args):
    print("writing", flush=True)
    time.sleep(600)
os.replace = stuck
store.set(1, is_failure=True)
"""


def two_kernels_label_150_each(kit: Kit) -> int:
    """Two real processes label scenarios 0..149 and 1000..1149 at once: labels on disk."""
    path = kit.tmp / "labels.json"
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
            child.stdout.readline()
        for child in children:
            child.stdin.write("go\n")
            child.stdin.flush()
        for child in children:
            child.wait(timeout=120)
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
            child.stdin.close()
            child.stdout.close()
    return len(json.loads(path.read_text())["labels"])


def writer_killed_then_one_write(kit: Kit) -> list[str]:
    """SIGKILL a writer holding the lock and a temporary; write once more: temporaries left."""
    path = kit.tmp / "labels.json"
    ScenarioLabels(path, n_classes=3).set(0, is_failure=True)
    child = subprocess.Popen(
        [sys.executable, "-c", _STUCK_WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        child.stdout.readline()
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
    ScenarioLabels(path, n_classes=3).set(2, is_failure=True)
    return [p.name for p in kit.tmp.iterdir() if p.name.endswith(".tmp")]


def _label(is_failure=True, correct_label=None) -> dict:
    return {"is_failure": is_failure, "correct_label": correct_label}


LABEL_STORE_CASES = [
    Case(
        "labels: two processes x 150 labels lose nothing",
        two_kernels_label_150_each,
        Gives("all 300 labels on disk", lambda n: n == 300),
    ),
    Case(
        "labels: writer killed with SIGKILL mid-write, then one more write",
        writer_killed_then_one_write,
        Gives("no orphan temporary file", lambda orphans: orphans == []),
    ),
    Case(
        "labels: keys '3' and '03' in one file",
        lambda kit: ScenarioLabels(kit.labels_file({"3": _label(), "03": _label()}), n_classes=3),
        Raises(ValueError, r"^path: .* keys '3' and '03' both name scenario 3"),
    ),
    Case(
        "labels: key '+3'",
        lambda kit: ScenarioLabels(kit.labels_file({"+3": _label()}), n_classes=3),
        Raises(ValueError, r"^path: .* scenario id '\+3' is not a non-negative integer"),
    ),
    Case(
        "labels: file without fingerprint opened for a scenario set",
        lambda kit: ScenarioLabels(kit.labels_file({"1": _label()}), n_classes=3, scenario_set="f"),
        Raises(ValueError, r"^path: .* no scenario-set fingerprint.*adopt=True"),
    ),
    Case(
        "labels: file without fingerprint adopted on request",
        lambda kit: ScenarioLabels(
            kit.labels_file({"1": _label()}), n_classes=3, scenario_set="f", adopt=True
        ).get(1),
        Gives("the label, adopted", lambda label: label.is_failure is True),
    ),
    Case(
        "labels: adopt='yes'",
        lambda kit: ScenarioLabels(kit.tmp / "l.json", n_classes=3, adopt="yes"),
        Raises(TypeError, r"^adopt: "),
    ),
    Case(
        "labels: scenario id given as the string '2'",
        lambda kit: ScenarioLabels(kit.tmp / "l.json", n_classes=3).set("2", is_failure=True),
        Raises(TypeError, r"^scenario_id: "),
    ),
    Case(
        "labels: correct_label=1.0",
        lambda kit: ScenarioLabels(kit.tmp / "l.json", n_classes=3).set(0, correct_label=1.0),
        Raises(TypeError, r"^correct_label: "),
    ),
    Case(
        "labels: a JSON object repeating a key",
        lambda kit: ScenarioLabels(kit.labels_file({"1": _label()}, _text=True), n_classes=3),
        Raises(ValueError, r"^path: .* repeats the key '1'"),
    ),
    Case(
        "labels: another scenario set's file, even with adopt=True",
        lambda kit: ScenarioLabels(
            kit.labels_file({"1": _label()}, scenario_set="old"),
            n_classes=3,
            scenario_set="new",
            adopt=True,
        ),
        Raises(ValueError, r"^path: .* another scenario set"),
    ),
]


# ------------------------------------------------------- failure-mode export/import (helper C)
def _exact_text(suffix: str, column: str, text: str) -> Case:
    return Case(
        f"modes {suffix}: {column} {text!r} round-trips",
        lambda kit: getattr(kit.round_trip(suffix, **{column: text}), column),
        Gives(f"exactly {text!r}", lambda back: type(back) is str and back == text),
    )


MODES_CASES = [
    *(_exact_text(".csv", "description", text) for text in ("NA", "None", "null", "#N/A", "")),
    _exact_text(".csv", "class_name", "007"),
    _exact_text(".csv", "description", "0123"),
    _exact_text(".csv", "method", "nan"),
    _exact_text(".csv", "description", 'a "quoted", multi\nline ünïcødé'),
    _exact_text(".parquet", "description", "NA"),
    _exact_text(".parquet", "class_name", "007"),
    Case(
        "modes .csv: empty member list and unmeasured held-out drop",
        lambda kit: kit.round_trip(".csv", members=np.array([], np.int64), heldout_drop=None),
        Gives(
            "members [] (int64), heldout_drop None",
            lambda m: m.members.dtype == np.int64 and m.size == 0 and m.heldout_drop is None,
        ),
    ),
    Case(
        "modes .csv: imported members [1.5, -3]",
        lambda kit: import_modes(kit.csv_with('"[1, 2]"', '"[1.5, -3]"')),
        Raises(TypeError, r"^members: row 0: 1.5 is not an integer index"),
    ),
    Case(
        "modes .csv: imported members [1, -3]",
        lambda kit: import_modes(kit.csv_with('"[1, 2]"', '"[1, -3]"')),
        Raises(ValueError, r"^members: row 0: index -3 is negative"),
    ),
    Case(
        "modes .csv: accuracy 'high'",
        lambda kit: import_modes(kit.csv_with(",0.5,", ",high,")),
        Raises(ValueError, r"^accuracy: row 0: 'high' is not a number"),
    ),
    Case(
        "modes .csv: an empty file",
        lambda kit: (kit.tmp / "e.csv").write_text("") or import_modes(kit.tmp / "e.csv"),
        Raises(ValueError, r"^path: .*e\.csv is not a failure-mode CSV"),
    ),
    Case(
        "modes: export to .xlsx",
        lambda kit: export_modes([], kit.tmp / "modes.xlsx"),
        Raises(ValueError, r"^path: expected a .csv or .parquet file name"),
    ),
    Case(
        "modes .parquet: pyarrow missing",
        lambda kit: _without_pyarrow(lambda: export_modes([], kit.tmp / "modes.parquet")),
        Raises(ImportError, r'^path: .*pip install "failwidgets\[parquet\]"'),
    ),
]


def _without_pyarrow(call):
    with mock.patch.dict(sys.modules, {"pyarrow": None}):
        return call()


# ------------------------------------------------------------------------------ CES (helper C)
def _tiny_step_ranking(kit: Kit):
    """Issue 12: every score ties at 0 (the step is lost in the activations)."""
    bank = kit.bank(np.full((3, 8), 1e-12))  # far below the float32 resolution of h
    h = np.abs(kit.h) + 1.0  # every value in [1, 5]
    return concept_scores(kit.top, bank, h, 0, delta=1.0).top_positive(1)


def _every_concept_raises(kit: Kit):
    top = kit.top
    weight = top[1].weight.detach().numpy()
    towards_0 = weight[0] - weight[1:].mean(axis=0)  # raises logit 0 against the others
    bank = kit.bank(np.stack([towards_0, 2 * towards_0]))
    return concept_scores(top, bank, kit.h, 0, delta=0.5).top_negative(1)


CES_CASES = [
    Case(
        "ces: a NaN activation",
        lambda kit: concept_scores(kit.top, kit.bank(), kit.h_with(np.nan), 0),
        Raises(ValueError, r"^activations: 1 of 4 samples have NaN or infinite values"),
    ),
    Case(
        "ces: an infinite activation",
        lambda kit: concept_scores(kit.top, kit.bank(), kit.h_with(np.inf), 0),
        Raises(ValueError, r"^activations: 1 of 4 samples have NaN or infinite values"),
    ),
    Case(
        "ces: a NaN activation in the counterfactual",
        lambda kit: conceptual_counterfactual(kit.top, kit.bank(), kit.h_with(np.nan), 0),
        Raises(ValueError, r"^activations: .*NaN or infinite"),
    ),
    Case(
        "ces: a NaN concept vector",
        lambda kit: kit.bank(np.where(np.eye(3, 8) > 0, np.nan, 1.0)),
        Raises(ValueError, r"^vectors: concept 'c0' has NaN or infinite values"),
    ),
    Case(
        "ces: a NaN intercept",
        lambda kit: kit.bank(intercepts=np.array([0.0, np.nan, 0.0])),
        Raises(ValueError, r"^intercepts: concept 'c1' has NaN"),
    ),
    Case(
        "ces: delta='big'",
        lambda kit: concept_scores(kit.top, kit.bank(), kit.h, 0, delta="big"),
        Raises(TypeError, r"^delta: expected a positive number, got str"),
    ),
    Case(
        "ces: delta=nan",
        lambda kit: concept_scores(kit.top, kit.bank(), kit.h, 0, delta=float("nan")),
        Raises(ValueError, r"^delta: expected a finite positive step"),
    ),
    Case(
        "ces: zero samples of the layer's shape",
        lambda kit: concept_scores(kit.top, kit.bank(), np.zeros((0, 2, 4), np.float32), 0),
        Raises(ValueError, r"^activations: no samples to explain"),
    ),
    Case(
        "ces: zero samples, counterfactual",
        lambda kit: conceptual_counterfactual(kit.top, kit.bank(), np.zeros((0, 8)), 0),
        Raises(ValueError, r"^activations: no samples to explain"),
    ),
    Case(
        "ces: a truncated bank .npz",
        lambda kit: (
            (p := kit.saved_bank()).write_bytes(p.read_bytes()[:300]) and ConceptBank.load(p)
        ),
        Raises(ValueError, r"^path: .*bank\.npz is truncated or not a concept bank"),
    ),
    Case(
        "ces: a bank .npz holding pickled objects",
        lambda kit: (
            np.savez(p := kit.saved_bank(), vectors=np.array([object()])) or ConceptBank.load(p)
        ),
        Raises(ValueError, r"^path: .*bank\.npz"),
    ),
    Case(
        "ces: top_positive when the step is too small to change anything",
        _tiny_step_ranking,
        Gives(
            "[] with the reason, shown in the repr",
            lambda r: (
                r == []
                and r.reason.startswith(
                    "no concept changes p(class 0) at delta=1: every score is 0"
                )
                and "try a larger delta (the paper uses 10000)" in repr(r)
            ),
        ),
    ),
    Case(
        "ces: top_negative when every concept raises p_y",
        _every_concept_raises,
        Gives(
            "[] saying no concept lowers p(class 0)",
            lambda r: r == [] and "no concept lowers p(class 0) at delta=0.5" in repr(r),
        ),
    ),
    Case(
        "ces: top_positive(k=0)",
        lambda kit: concept_scores(kit.top, kit.bank(), kit.h, 0).top_positive(0),
        Raises(ValueError, r"^k: expected a positive integer"),
    ),
    Case(
        "ces: a step that overflows the top",
        lambda kit: concept_scores(kit.top, kit.bank(), kit.h, 0, delta=1e39),
        Raises(ValueError, r"^delta: the step delta=1e\+39 .*try a smaller delta"),
    ),
]


# ---------------------------------------------------------------------------- Defuse (helper C)
DEFUSE_CASES = [
    Case(
        "defuse: Defuse.fit on 0 images",
        lambda kit: Defuse(kit.vae, torch.nn.Flatten(), progress=False).fit(
            np.zeros((0, 8, 8, 3), np.uint8), np.zeros(0, np.int64)
        ),
        Raises(ValueError, r"^images: no images to search for failures around \(got 0\)"),
    ),
    Case(
        "defuse: identify_failures on 0 images",
        lambda kit: identify_failures(
            kit.vae, torch.nn.Flatten(), np.zeros((0, 8, 8, 3), np.uint8), [], progress=False
        ),
        Raises(ValueError, r"^images: no images"),
    ),
]


# ------------------------------------------------------------- other engines (helper E's files)
def _prime_with_short_tags(kit: Kit):
    from failwidgets.methods.prime import search

    tags = np.zeros((5, 2), bool)  # 5 rows for 6 images
    return search(tags, np.zeros(6, np.int64), np.ones(6, bool), tag_names=["x", "y"])


OTHER_ENGINE_CASES = [
    Case(
        "prime: a tag matrix with the wrong row count",
        _prime_with_short_tags,
        Raises(ValueError, r"^tags: 5 rows for 6 images"),
    ),
]

ENGINE_CASES = LABEL_STORE_CASES + MODES_CASES + CES_CASES + DEFUSE_CASES + OTHER_ENGINE_CASES


# ------------------------------------------------------------- EvalSet (data.py, helper A)
def _write_label(kit: Kit):
    evalset = kit.evalset()
    evalset.labels[0] = 2


def _argmax_disagrees(kit: Kit):
    probabilities = np.tile([0.8, 0.1, 0.1], (6, 1))  # argmax 0 everywhere
    return kit.evalset(probabilities=probabilities)  # predictions are 0, 1, 2, 0, 1, 2


EVALSET_CASES = [
    Case("evalset: writing into labels", _write_label, Raises(ValueError, r"read-only")),
    Case(
        "evalset: probabilities given as strings",
        lambda kit: kit.evalset(probabilities=[["0.5", "0.25", "0.25"]] * 6),
        Raises(TypeError, r"^probabilities: "),
    ),
    Case(
        "evalset: a split name that does not exist",
        lambda kit: kit.evalset(split=["train"] * 3 + ["test"] * 3).split_indices("nope"),
        Raises(ValueError, r"^split: .*'nope'"),
    ),
    Case(
        "evalset: class_names as a pandas Index",
        lambda kit: kit.evalset(class_names=pd.Index(["a", "b", "c"])),
        Gives("the names as a list", lambda e: e.class_names == ["a", "b", "c"]),
    ),
    Case(
        "evalset: zero samples",
        lambda kit: kit.evalset(n=0),
        Raises(ValueError, r"^labels: "),
    ),
    Case(
        "evalset: predictions that are not the argmax of the probabilities",
        _argmax_disagrees,
        Warns(UserWarning, r"^predictions: "),
    ),
    Case(
        "evalset: float labels 1.5",
        lambda kit: kit.evalset(labels=[0, 1.5, 2, 0, 1, 2]),
        Raises(TypeError, r"^labels: "),
    ),
    Case(
        "evalset: a label outside the classes",
        lambda kit: kit.evalset(labels=[0, 1, 3, 0, 1, 2]),
        Raises(ValueError, r"^labels: value 3 at position 2"),
    ),
    Case(
        "evalset: predictions of another length",
        lambda kit: kit.evalset(predictions=[0, 1]),
        Raises(ValueError, r"^predictions: "),
    ),
    Case(
        "evalset: NaN probabilities",
        lambda kit: kit.evalset(probabilities=np.full((6, 3), np.nan)),
        Raises(ValueError, r"^probabilities: "),
    ),
    Case(
        "evalset: probabilities that are logits",
        lambda kit: kit.evalset(probabilities=np.tile([2.0, 0.5, 0.1], (6, 1))),
        Raises(ValueError, r"^probabilities: row 0 sums to"),
    ),
    Case(
        "evalset: duplicate class names",
        lambda kit: kit.evalset(class_names=["a", "a", "c"]),
        Raises(ValueError, r"^class_names: duplicate"),
    ),
    Case(
        "evalset: class_names as one string",
        lambda kit: kit.evalset(class_names="abc"),
        Raises(TypeError, r"^class_names: "),
    ),
    Case(
        "evalset: metadata with the wrong row count",
        lambda kit: kit.evalset(metadata=pd.DataFrame({"x": range(5)})),
        Raises(ValueError, r"^metadata: "),
    ),
    Case(
        "evalset: split with a missing value",
        lambda kit: kit.evalset(split=["train"] * 5 + [None]),
        Raises(ValueError, r"^split: "),
    ),
    Case(
        "evalset: split of another length",
        lambda kit: kit.evalset(split=["train"] * 4),
        Raises(ValueError, r"^split: "),
    ),
    Case(
        "evalset: images of another count",
        lambda kit: kit.evalset(images=np.zeros((5, 4, 4, 3), np.uint8)),
        Raises(ValueError, r"^images: "),
    ),
    Case(
        "evalset: 2-D labels",
        lambda kit: kit.evalset(labels=np.zeros((6, 1), np.int64)),
        Raises(ValueError, r"^labels: "),
    ),
    Case(
        "evalset: a valid EvalSet",
        lambda kit: kit.evalset(split=["train"] * 3 + ["test"] * 3),
        Gives(
            "labels, accuracy and split as given",
            lambda e: e.n == 6 and e.correct.all() and list(e.split_indices("test")) == [3, 4, 5],
        ),
    ),
]


# ---- WIDGETS (helper D) ----
# The views' browser side: state updates arrive through ``set_state`` (as the comm delivers
# them) and clicks as custom messages. A refused update raises traitlets.TraitError naming the
# trait and keeps nothing; a refused message is answered with {"type": "error", ...}.
def _w_grid(kit: Kit, **options):
    from failwidgets.widgets.grid import ImageGrid

    return ImageGrid(kit.evalset(n=30), **{"page_size": 10, **options})


def _w_table():
    from failwidgets.widgets.mode_table import ModeTable

    return ModeTable([FailureMode("m", "a", "x", np.array([1, 2]), 0.5, 0.2)])


def _w_synced(widget) -> str:
    return json.dumps({name: getattr(widget, name) for name in widget.keys}, default=repr)


def _w_browser_sets(widget, state: dict) -> tuple[str, bool]:
    """Send ``state`` as the browser does: (the error's message, whether nothing was kept)."""
    before = _w_synced(widget)
    widget.send_state = lambda key=None: None  # the kept values go back to the browser
    try:
        widget.set_state(state)
    except Exception as error:  # noqa: BLE001 - the row checks its type
        import traitlets

        kind = "" if isinstance(error, traitlets.TraitError) else f"{type(error).__name__}! "
        return kind + str(error), _w_synced(widget) == before
    return "", _w_synced(widget) == before


def _w_refused(name: str):
    """Check of _w_browser_sets: a TraitError naming ``name``, nothing kept."""
    return Gives(
        f"TraitError naming {name}, nothing kept",
        lambda result: result[0].startswith(f"{name}:") and result[1],
    )


def _w_page_size_zero_then_a_page(kit: Kit):
    grid = _w_grid(kit)
    refused = _w_browser_sets(grid, {"page": 1, "page_size": 0})
    return refused, len(grid.page_payload(2)[0]["items"])  # used to divide by zero


def _w_answers(widget, handler, content: dict) -> list[dict]:
    """Send a custom message as the browser does; return the answers (never raised)."""
    sent = []
    widget.send = lambda answer, buffers=None: sent.append(
        {**answer, "n_buffers": len(buffers or [])}
    )
    handler(widget, content, [])
    return sent


def _w_click_with_position_true(kit: Kit):
    grid = _w_grid(kit, selected=[4])
    message = {"type": "select", "mode": "replace", "position": True, "index": 1}
    return _w_answers(grid, grid._on_message, message), grid.selected


def _w_one_error(name: str):
    return lambda answers: (
        len(answers) == 1
        and answers[0]["type"] == "error"
        and answers[0]["error"].startswith(f"{name}:")
        and answers[0]["n_buffers"] == 0
    )


def _w_concept_map(kit: Kit, **options):
    from failwidgets.features.split import SplitModel
    from failwidgets.methods.ces import ConceptExplainer
    from failwidgets.widgets.concept_map import ConceptMapView

    def bottom(x):
        return x[:, :2, 0, :]  # activations (2, 4), the kit's bank's shape

    split = SplitModel.from_callables(bottom, kit.top, layer="toy", input_size=(3, 4, 4))
    explainer = ConceptExplainer(split, kit.bank(), delta=0.5)
    return ConceptMapView(kit.evalset(), explainer, split=None, **options)


def _w_scenarios(kit: Kit):
    """A ScenarioView over 12 random 8x8 images that a constant classifier calls "a"."""
    from failwidgets.widgets.scenarios import ScenarioView

    n = 12
    labels = np.arange(n) % 3
    images = np.random.default_rng(0).integers(0, 256, (n, 8, 8, 3), dtype=np.uint8)
    split = np.repeat(["train", "test"], n // 2)
    evalset = kit.evalset(n, images=images, predictions=np.zeros(n, int), split=split)
    linear = torch.nn.Linear(192, 3)
    with torch.no_grad():
        linear.weight.zero_()
        linear.bias.copy_(torch.tensor([5.0, 0.0, 0.0]))
    classifier = torch.nn.Sequential(torch.nn.Flatten(), linear).eval()
    torch.manual_seed(0)
    vae = kit.vae
    defuse = Defuse(vae, classifier, n_samples=4, progress=False).fit(images, labels)
    return ScenarioView(
        evalset, classifier, vae, defuse=defuse, labels_path=kit.tmp / "l.json", split=None
    )


def _w_status_around_a_correction(kit: Kit) -> list[str]:
    """Statuses: after a label click during a correction, and after one once it is done."""
    import threading
    from types import SimpleNamespace

    view = _w_scenarios(kit)
    view.canvas.send = lambda content, buffers=None: None
    release = threading.Event()

    def correction(*args, **kwargs):
        release.wait(30)
        return SimpleNamespace(best_lambda=0.5, n_scenarios=1)

    label = {"type": "label", "id": 1, "is_failure": False}
    statuses = []
    with mock.patch("failwidgets.methods.defuse.correct_classifier", correction):
        view.set_label(0, is_failure=True)
        view._correction_box.show = lambda result: None
        view._correct_button.click()
        view.canvas._on_message(view.canvas, label, [])
        statuses.append(view.status)
        release.set()
        view.wait_correction(30)
    view.canvas._on_message(view.canvas, {**label, "is_failure": True}, [])
    statuses.append(view.status)
    return statuses


def _w_twenty_thousand_strips(kit: Kit):
    view = _w_scenarios(kit)
    ids = [view.scenarios.ids[0]] * 20000
    return _w_answers(view.canvas, view.canvas._on_message, {"type": "strips", "ids": ids})


def _w_tree(kit: Kit):
    """A TreeView of class "a" (60 % wrong where feature 0 > 0.5) over 90 samples."""
    from failwidgets.widgets.tree import TreeView

    rng = np.random.default_rng(0)
    n = 90
    features = rng.standard_normal((n, 4)).astype(np.float32)
    labels = np.arange(n) % 3
    wrong = (labels == 0) & (features[:, 0] > 0.5) & (rng.random(n) < 0.6)
    evalset = kit.evalset(n, predictions=np.where(wrong, 1, labels))
    return TreeView(evalset, features, class_name="a", depth=2, k=4, background=False)


def _w_held(obj, name: str, value) -> None:
    """Set a trait inside ``hold_trait_notifications``, where traitlets validates only the
    traits whose value changed (``2.0 == 2``: unchanged)."""
    with obj.hold_trait_notifications():
        setattr(obj, name, value)


WIDGET_CASES: list[Case] = [
    Case(
        "grid: the browser sets the selection buffer (only clicks select)",
        lambda kit: _w_browser_sets(_w_grid(kit, selected=[3]), {"_selection": b"\x00" * 8}),
        _w_refused("_selection"),
    ),
    Case(
        "grid: the browser sets page_size=0 (with page=1), then a page is asked for",
        _w_page_size_zero_then_a_page,
        Gives(
            "page_size refused, nothing kept, pages still served",
            lambda r: r[0][0].startswith("page_size:") and r[0][1] and r[1] == 10,
        ),
    ),
    Case(
        "grid: the browser overwrites the read-only total",
        lambda kit: _w_browser_sets(_w_grid(kit), {"total": 5}),
        _w_refused("total"),
    ),
    Case(
        "grid: the browser sets page=False, equal to the current page 0",
        lambda kit: _w_browser_sets(_w_grid(kit), {"page": False}),
        _w_refused("page"),
    ),
    Case(
        "grid: select message with position=True",
        _w_click_with_position_true,
        Gives(
            "an error answer naming position, the selection kept",
            lambda r: _w_one_error("position")(r[0]) and r[1] == [4],
        ),
    ),
    Case(
        "mode table: the browser sets sort_by='nope'",
        lambda kit: _w_browser_sets(_w_table(), {"sort_by": "nope"}),
        _w_refused("sort_by"),
    ),
    Case(
        "mode table: frame() after a refused sort_by",
        lambda kit: (_w_browser_sets(table := _w_table(), {"sort_by": "nope"}), table.frame())[1],
        Gives("the table, sorted by drop", lambda frame: len(frame) == 1),
    ),
    Case(
        "mode table: select message id=True",
        lambda kit: _w_answers(
            table := _w_table(), table._on_message, {"type": "select", "id": True}
        ),
        Gives("an error answer naming id", _w_one_error("id")),
    ),
    Case(
        "concept map: target=99",
        lambda kit: _w_concept_map(kit, target=99),
        Raises(ValueError, r"^target: class index 99 outside 0..2"),
    ),
    Case(
        "concept map: the browser sets the panel's view_model",
        lambda kit: _w_browser_sets(_w_concept_map(kit).panel, {"view_model": {}}),
        _w_refused("view_model"),
    ),
    Case(
        "scenarios: label clicks during and after a correction",
        _w_status_around_a_correction,
        Gives(
            "'finetuning…' kept during it, 'corrected with…' after the next click",
            lambda s: s[0].startswith("finetuning") and s[1].startswith("corrected with lambda"),
        ),
    ),
    Case(
        "scenarios: strip request ids=[id]*20000",
        _w_twenty_thousand_strips,
        Gives("one error answer naming ids, no PNG", _w_one_error("ids")),
    ),
    Case(
        "tree: the browser sets selected_node to a drawn node",
        lambda kit: _w_browser_sets(_w_tree(kit).canvas, {"selected_node": 0}),
        _w_refused("selected_node"),
    ),
    Case(
        "tree: select message node=True",
        lambda kit: _w_answers(
            (view := _w_tree(kit)).canvas, view.canvas._on_message, {"type": "select", "node": True}
        ),
        Gives("an error answer naming node", _w_one_error("node")),
    ),
    Case(
        "tree: depth=2.0, equal to the current depth 2, in a held update (as set_state does)",
        lambda kit: _w_held(_w_tree(kit), "depth", 2.0),
        Raises(TypeError, r"^depth: expected an integer, got float"),
    ),
    Case(
        "tree: class_name=None",
        lambda kit: setattr(_w_tree(kit), "class_name", None),
        Raises(TypeError, r"^class_name: expected a class name or index, got NoneType"),
    ),
    Case(
        "scenarios: tau=None",
        lambda kit: setattr(_w_scenarios(kit), "tau", None),
        Raises(TypeError, r"^tau: expected a number in \(0, 1\], got NoneType"),
    ),
]
# ---- end of WIDGETS ----


ALL_CASES = ENGINE_CASES + EVALSET_CASES + WIDGET_CASES


def test_the_table_has_unique_names():
    names = [case.name for case in ALL_CASES]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("case", ALL_CASES, ids=[case.name for case in ALL_CASES])
def test_attack(case: Case, tmp_path):
    kit = Kit(tmp_path)
    expect = case.expect
    if isinstance(expect, Raises):
        with pytest.raises(expect.error) as caught:
            case.call(kit)
        message = str(caught.value)
        assert re.search(expect.match, message), f"{message!r} does not match {expect.match!r}"
    elif isinstance(expect, Warns):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            case.call(kit)
        messages = [str(w.message) for w in caught if issubclass(w.category, expect.warning)]
        assert any(re.search(expect.match, m) for m in messages), f"no warning: {messages}"
    else:
        result = case.call(kit)
        assert expect.check(result), f"expected {expect.description}, got {result!r}"


def test_a_failed_check_is_reported_not_swallowed(tmp_path):
    """The harness itself: a call that returns silently where an error is due fails its row."""
    silent = Case("silent", lambda kit: None, Raises(ValueError, "^x: "))
    with pytest.raises(pytest.fail.Exception):
        test_attack(silent, tmp_path)
    wrong = Case("wrong", lambda kit: 1, Gives("2", lambda r: r == 2))
    with pytest.raises(AssertionError):
        test_attack(wrong, tmp_path)


def test_counts_in_the_header_are_current():
    header = __doc__
    for name, cases in (
        ("ENGINE_CASES", ENGINE_CASES),
        ("EVALSET_CASES", EVALSET_CASES),
        ("WIDGET_CASES", WIDGET_CASES),
    ):
        assert re.search(rf"{name}\s+{len(cases)}\b", header), f"update the count of {name}"
