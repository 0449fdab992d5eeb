"""The ScenarioView's pure view model (failwidgets/viewmodels/scenarios.py), without widgets:
the sample strips and their messages, the rows on hand-made samples, the status line and the
correction's progress throttle."""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from test_scenario_view import CLASS_NAMES, ColourCodeVAE, MeanColour, colour_world

from failwidgets.data import EvalSet
from failwidgets.methods.defuse import Defuse, Scenario, ScenarioSamples
from failwidgets.methods.scenario_labels import ScenarioLabel
from failwidgets.methods.scenario_review import ScenarioReview
from failwidgets.viewmodels import scenarios as vm

torch.set_num_threads(1)


def test_the_module_imports_no_widget_library():
    code = (
        "import sys, failwidgets.viewmodels.scenarios; "
        "print(sorted(m for m in ('ipywidgets', 'anywidget', 'traitlets', 'bqplot') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


class FakeReview:
    """What the view model reads of a ScenarioReview, with hand-made samples: scenario ``i``'s
    ``n`` samples are images filled with ``10 * i + draw`` and predicted ``(k + i) % 3``."""

    def __init__(self, n_scenarios=2):
        self.calls = []
        self.scenarios = SimpleNamespace(ids=list(range(n_scenarios)))

    def samples(self, scenario_id, *, n, tau, draw=0):
        self.calls.append((scenario_id, tau, draw))
        images = np.full((n, 4, 4, 3), 10 * scenario_id + draw, np.uint8)
        predictions = (np.arange(n) + scenario_id) % 3
        probabilities = np.eye(3, dtype=np.float32)[predictions]
        return ScenarioSamples(
            scenario_id, tau, np.zeros((n, 2)), images, predictions, probabilities
        )


def test_strip_samples_draw_once_and_replace_with_a_new_version():
    review = FakeReview()
    strips = vm.StripSamples(review, n=3, tau=0.1)
    first = strips.get(1)
    assert strips.get(1) is first and review.calls == [(1, 0.1, 0)]  # drawn once, then held
    assert (strips.tau, strips.draw, strips.version) == (0.1, 0, 0)
    new = strips.draw_all([0, 1], 0.3, 2)
    assert strips.get(1) is first  # drawing elsewhere changes nothing held
    strips.replace(new, 0.3, 2)
    assert (strips.tau, strips.draw, strips.version) == (0.3, 2, 1)
    assert strips.get(1) is new[1] and strips.get(1).tau == 0.3
    assert int(strips.get(0).images[0, 0, 0, 0]) == 2  # scenario 0 at draw 2


def test_strips_message_answers_each_known_id_once_with_png_buffers():
    strips = vm.StripSamples(FakeReview(n_scenarios=4), n=3, tau=0.1)
    content, buffers = strips.strips_message([1, 7, 1, 0], request_id="r")
    assert content == {
        "type": "strips",
        "request_id": "r",
        "version": 0,
        "mime": "image/png",
        "strips": [{"id": 1, "buffers": [0, 1, 2]}, {"id": 0, "buffers": [3, 4, 5]}],
    }
    assert len(buffers) == 6 and all(b[:8] == b"\x89PNG\r\n\x1a\n" for b in buffers)
    assert strips.thumbnails(1) is strips.thumbnails(1)  # encoded once per version
    strips.replace(strips.draw_all([0, 1], 0.2, 1), 0.2, 1)
    assert strips.strips_message([0])[0]["version"] == 1
    with pytest.raises(ValueError, match="^ids: 5 ids in one request, but the view has 4"):
        strips.strips_message([0] * 5)
    with pytest.raises(TypeError, match="ids: expected a list of scenario ids, got str"):
        strips.strips_message("01")


def hand_made_row(label: ScenarioLabel):
    names = ["cat", "dog", "<b>fox</b>"]
    review = SimpleNamespace(
        evalset=SimpleNamespace(class_names=names),
        label=lambda i: label,
        members=lambda i: np.array([3, 5, 9]),
        class_of=lambda i: "cat",
    )
    scenario = Scenario(
        id=4,
        component=7,
        weight=0.2,
        mean=np.zeros(2),
        cov=np.eye(2),
        member_index=np.arange(5),
        member_codes=np.zeros((5, 2)),
        majority_label=0,
        label_counts={0: 5},
        prediction_counts={1: 4, 2: 1},
    )
    predictions = np.array([1, 1, 0, 2])
    probabilities = np.array(
        [[0.1, 0.8, 0.1], [0.2, 0.7, 0.1], [0.9, 0.05, 0.05], [0.3, 0.1, 0.6]], np.float32
    )
    samples = ScenarioSamples(
        4, 0.1, np.zeros((4, 2)), np.zeros((4, 2, 2, 3)), predictions, probabilities
    )
    return vm.scenario_row(review, scenario, samples, max_weight=0.4)


def test_a_row_on_hand_made_samples():
    row = hand_made_row(ScenarioLabel())
    json.dumps(row)
    assert row["id"] == 4 and row["weight_text"] == "20.0%" and row["weight_share"] == 0.5
    assert (row["n_codes"], row["n_images"]) == (5, 3)
    assert row["majority_name"] == "cat" and row["code_prediction"] == "dog"
    assert row["reference_name"] == "cat"  # no correct label yet: the majority label
    assert [s["prediction"] for s in row["samples"]] == ["dog", "dog", "cat", "<b>fox</b>"]
    assert [s["confidence"] for s in row["samples"]] == [0.8, 0.7, 0.9, 0.6]
    assert [s["wrong"] for s in row["samples"]] == [True, True, False, True]
    assert (row["top_prediction"], row["top_count"], row["n_wrong"]) == ("dog", 2, 3)
    assert row["predicted_text"] == "predicted: dog 2/4"
    assert row["is_failure"] is None and row["correct_label"] is None
    # the annotator's correct label is the reference of the wrong flags
    row = hand_made_row(ScenarioLabel(is_failure=True, correct_label=1))
    assert row["reference_name"] == "dog" and row["is_failure"] is True
    assert [s["wrong"] for s in row["samples"]] == [False, False, True, True]


def test_the_view_model_of_a_real_review(tmp_path):
    images, labels = colour_world()
    classifier = MeanColour().eval()
    with torch.no_grad():
        x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
        predictions = classifier(x).argmax(1).numpy()
    evalset = EvalSet.from_arrays(images, labels, predictions, CLASS_NAMES)
    rows = np.arange(45)
    defuse = Defuse(ColourCodeVAE(), classifier, n_samples=10, max_per_image=3, max_components=10)
    defuse.progress = False
    defuse.fit(evalset.images_at(rows), evalset.labels[rows])
    review = ScenarioReview(evalset, defuse, rows)
    strips = vm.StripSamples(review, n=4, tau=0.1)
    model = vm.scenarios_view_model(review, strips)
    json.dumps(model)
    assert [row["id"] for row in model["rows"]] == review.ids()
    assert model["labels_path"] is None and model["n_labelled"] == 0  # no store yet
    assert (model["n_samples"], model["tau"], model["sample_version"]) == (4, 0.1, 0)
    assert model["image_size"] is None  # the VAE was not probed (ScenarioReview.build does)
    review.open_labels(tmp_path / "l.json")
    review.set_label(0, is_failure=True, correct_label=1)
    green = vm.scenarios_view_model(review, strips, "green")
    assert [row["id"] for row in green["rows"]] == review.ids("green")
    assert green["n_labelled"] == 1 and green["n_failures"] == 1
    assert green["labels_path"] == str(tmp_path / "l.json")
    red = vm.scenarios_view_model(review, strips, "red")
    assert red["rows"] == [] and red["message"].startswith("No scenario has majority label 'red'")
    mode = review.failure_mode(0)
    n_errors = int((~evalset.correct[mode.members]).sum())
    assert vm.selection_title(mode, evalset) == (
        f"Defuse {mode.description} — {mode.size} source images of its failing codes, "
        f"{n_errors} misclassified"
    )


def test_the_status_line_keeps_the_task_and_escapes():
    line = vm.StatusLine()
    assert line.text == "" and not line.error and line.html == vm.status_span("", False)
    line.set("finetuning…", task=True)
    line.set("<b>bad</b>", error=True)
    assert line.text == "finetuning… · <b>bad</b>" and line.error
    assert "&lt;b&gt;bad&lt;/b&gt;" in line.html and "<b>" not in line.html
    assert "var(--jp-error-color1" in line.html.split(" · ")[1]
    line.set("")  # the next action worked: its note goes, the task's part stays
    assert line.text == "finetuning…" and not line.error


def test_progress_is_throttled_within_an_epoch(monkeypatch):
    monkeypatch.setattr(vm, "PROGRESS_INTERVAL_S", 1.0)
    throttle = vm.ProgressThrottle()

    def at(epoch, stage="finetune", lam=0.1):
        return SimpleNamespace(stage=stage, lam=lam, epoch=epoch)

    assert throttle.due(at(1), now=0.0)
    assert not throttle.due(at(1), now=0.5)  # same epoch, too soon
    assert throttle.due(at(1), now=1.2)
    assert throttle.due(at(2), now=1.3)  # a new epoch shows at once
    assert throttle.due(at(2, lam=1.0), now=1.4)  # a new lambda too
    throttle.reset()
    assert throttle.due(at(2, lam=1.0), now=1.5)
    progress = SimpleNamespace(text="λ=0.1 (1/2), epoch 1/2, step 3/6", fraction=0.25)
    assert vm.progress_text(progress) == (
        "correcting: λ=0.1 (1/2), epoch 1/2, step 3/6 (25% of the finetuning)"
    )
    result = SimpleNamespace(best_lambda=0.5, n_scenarios=2)
    assert vm.correction_done_text(result) == (
        "corrected with lambda = 0.5 on 2 labelled failure scenarios (table below)"
    )
