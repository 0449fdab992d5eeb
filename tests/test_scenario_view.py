"""ScenarioView: rows, resampling, labeling persisted to JSON, filtering, selection, correction
(and its progress), the VAE check and bad input, on a tiny synthetic world: a colour classifier
and a hand-made VAE of the user's kind (its code is the mean colour), or a random-weight
beta-VAE as the bad VAE."""

from __future__ import annotations

import json
import re
import threading
from html import escape

import numpy as np
import pytest
import torch
import traitlets

from failwidgets.data import EvalSet
from failwidgets.methods.defuse import Defuse, VAEQualityWarning
from failwidgets.methods.scenario_labels import ScenarioLabels
from failwidgets.methods.vae import BetaVAE, VAEConfig
from failwidgets.modes import FailureMode
from failwidgets.widgets import ImageGrid
from failwidgets.widgets.scenarios import ScenarioView

torch.set_num_threads(1)

EVIL = "<img src=x onerror=alert(1)>"
CLASS_NAMES = ["red", "green", EVIL]


class MeanColour(torch.nn.Module):
    """Linear in the mean colour, biased towards red: dim or grey images are called red."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(3, 3)
        with torch.no_grad():
            self.linear.weight.copy_(torch.eye(3) * 20)
            self.linear.bias.copy_(torch.tensor([12.0, 0.0, 0.0]))

    def forward(self, x):
        return self.linear(x.mean(dim=(2, 3)))


class ColourCodeVAE(torch.nn.Module):
    """A faithful VAE for this world, of the user's own kind (no BetaVAE): the code is the mean
    colour, decoding paints it. Defuse's Beta noise (+0.5 per channel) brightens every channel,
    so green and blue draws are called red: a green and a blue failure scenario."""

    def __init__(self):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))

    def encode(self, x):
        mu = x.mean(dim=(2, 3))
        return mu, torch.zeros_like(mu)

    def decode(self, z):
        return z[:, :, None, None].expand(-1, -1, 8, 8).clamp(0, 1)


def colour_world(n: int = 90, size: int = 8, seed: int = 0):
    """One bright channel per image (the class); ``val``, ``train`` and ``test`` splits."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    images = np.zeros((n, size, size, 3), np.float32)
    images[np.arange(n), :, :, labels] = rng.uniform(0.2, 1.0, n)[:, None, None]
    images = np.clip(images + rng.normal(0, 0.03, images.shape), 0, 1)
    return (images * 255).round().astype(np.uint8), labels


@pytest.fixture(scope="module")
def world():
    images, labels = colour_world()
    classifier = MeanColour().eval()
    with torch.no_grad():
        x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
        predictions = classifier(x).argmax(1).numpy()
    split = np.array(["val"] * 45 + ["train"] * 30 + ["test"] * 15)
    evalset = EvalSet.from_arrays(images, labels, predictions, CLASS_NAMES, split=split)
    return evalset, classifier, ColourCodeVAE()


def random_vae():
    """A bad VAE: random weights decode near-grey images, which the classifier calls red."""
    torch.manual_seed(0)
    return BetaVAE(VAEConfig(image_size=8, latent_dim=3, channels=8, hidden=16))


@pytest.fixture(scope="module")
def fitted(world):
    evalset, classifier, vae = world
    rows = evalset.split_indices("val")
    defuse = Defuse(
        vae, classifier, n_samples=10, max_per_image=3, max_components=10, progress=False
    )
    defuse.fit(evalset.images_at(rows), evalset.labels[rows])
    assert len(defuse.scenarios_) >= 2
    return defuse


@pytest.fixture
def view(world, fitted, tmp_path):
    evalset, classifier, vae = world
    return ScenarioView(
        evalset,
        classifier,
        vae,
        defuse=fitted,
        labels_path=tmp_path / "labels.json",
        background=False,  # resampling at once (the worker is tested on its own)
    )


def read_labels(path) -> dict:
    return json.loads(path.read_text())["labels"]


def test_rows_are_serialised_one_per_scenario(view, fitted, world):
    evalset = world[0]
    model = view.view_model()
    json.dumps(model)  # JSON-ready
    assert model == view.canvas.view_model
    scenarios = fitted.scenarios_
    assert [row["id"] for row in model["rows"]] == scenarios.ids
    assert model["n_scenarios"] == len(scenarios) and model["class_names"] == CLASS_NAMES
    assert model["tau"] == 0.1 and model["n_samples"] == 8 and model["image_size"] == 8
    for row, scenario in zip(model["rows"], scenarios):
        assert row["weight"] == pytest.approx(scenario.weight)
        assert row["n_codes"] == scenario.n_members
        assert row["majority_name"] == CLASS_NAMES[scenario.majority_label]
        # the classifier's view of the decoded samples
        samples = view.samples(scenario.id)
        assert samples.images.shape == (8, 8, 8, 3)
        assert [s["prediction"] for s in row["samples"]] == [
            CLASS_NAMES[p] for p in samples.predictions
        ]
        counts = np.bincount(samples.predictions, minlength=3)
        top = int(counts.argmax())
        assert row["predicted_text"] == f"predicted: {CLASS_NAMES[top]} {counts[top]}/8"
        # samples differing from the majority label are flagged (no correct label yet)
        wrong = samples.predictions != scenario.majority_label
        assert [s["wrong"] for s in row["samples"]] == wrong.tolist()
        assert row["n_wrong"] == int(wrong.sum())
        assert row["is_failure"] is None and row["correct_label"] is None
        # source images: EvalSet indices of the val images the member codes came from
        positions = fitted.identification_.image_index[scenario.member_index]
        expected = np.unique(evalset.split_indices("val")[positions])
        np.testing.assert_array_equal(view.members(scenario.id), expected)
        assert row["n_images"] == len(expected)
    assert view.rows.tolist() == evalset.split_indices("val").tolist()
    # the own grid is shown under the rows
    assert view.grid in view.children and view.canvas in view.children


def test_strips_travel_as_png_buffers_and_tau_resamples(view, fitted):
    ids = fitted.scenarios_.ids
    content, buffers = view.strips_payload([ids[1], ids[0]], request_id="r1")
    assert content["type"] == "strips" and content["request_id"] == "r1"
    assert content["mime"] == "image/png" and content["version"] == view.sample_version
    assert [s["id"] for s in content["strips"]] == [ids[1], ids[0]]
    assert content["strips"][1]["buffers"] == list(range(8, 16))
    assert len(buffers) == 16 and all(b[:8] == b"\x89PNG\r\n\x1a\n" for b in buffers)
    content, buffers = view.strips_payload([999, ids[1]])
    assert [s["id"] for s in content["strips"]] == [ids[1]]  # unknown ids skipped

    before = view.samples(ids[0]).codes.copy()
    version = view.sample_version
    view.tau = 0.4
    assert view.sample_version == version + 1
    assert view._tau_slider.value == pytest.approx(0.4)
    after = view.samples(ids[0])
    assert after.tau == 0.4 and not np.allclose(after.codes, before)
    # same random stream, larger spread: deviations from the mean scale with sqrt(tau)
    mean = fitted.scenarios_[ids[0]].mean
    np.testing.assert_allclose(after.codes - mean, (before - mean) * 2, rtol=1e-3, atol=1e-4)
    assert view.canvas.view_model["tau"] == 0.4
    assert view.canvas.view_model["sample_version"] == version + 1
    content, _ = view.strips_payload([ids[0]])
    assert content["version"] == version + 1
    # the slider drives tau the same way; the last value wins
    view._tau_slider.value = 0.05
    view._tau_slider.value = 0.2
    assert view.tau == 0.2 and view.samples(ids[0]).tau == 0.2
    assert view.sample_version == version + 3
    # a new random stream at the same tau
    codes = view.samples(ids[0]).codes.copy()
    view.resample()
    assert view.sample_version == version + 4 and view.tau == 0.2
    assert not np.allclose(view.samples(ids[0]).codes, codes)


def test_the_canvas_answers_strip_requests_from_the_browser(view, fitted, monkeypatch):
    sent = []
    monkeypatch.setattr(
        view.canvas, "send", lambda content, buffers=None: sent.append((content, buffers))
    )
    view.canvas._on_message(view.canvas, {"type": "strips", "ids": [0], "request_id": "a"}, [])
    ((content, buffers),) = sent
    assert [s["id"] for s in content["strips"]] == [0] and len(buffers) == 8
    # malformed requests are answered with an error naming the field; nothing is decoded
    for message, error in (
        ({"type": "strips", "ids": [0, "x"], "request_id": "b"}, "^ids: expected a list"),
        ({"type": "strips", "ids": [0, True], "request_id": "b"}, "^ids: expected a list"),
        ({"type": "strips", "ids": "0", "request_id": "b"}, "^ids: expected a list"),
        ({"type": "strips", "ids": [0], "request_id": [1]}, "^request_id:"),
        ("nonsense", "^message:"),
    ):
        view.canvas._on_message(view.canvas, message, [])
        content, buffers = sent[-1]
        assert content["type"] == "error" and re.match(error, content["error"]) and buffers is None
    assert len(sent) == 6


def test_strip_requests_are_deduplicated_and_capped(view, fitted, monkeypatch):
    ids = fitted.scenarios_.ids
    sent = []
    monkeypatch.setattr(
        view.canvas, "send", lambda content, buffers=None: sent.append((content, buffers))
    )
    canvas = view.canvas
    canvas._on_message(canvas, {"type": "strips", "ids": [ids[0]] * 20000, "request_id": "x"}, [])
    ((content, buffers),) = sent  # one clear error, not 160,000 PNG buffers
    assert content == {
        "type": "error",
        "request": "strips",
        "request_id": "x",
        "error": f"ids: 20000 ids in one request, but the view has {len(ids)} scenarios; "
        "ask for each scenario at most once",
    }
    assert buffers is None
    # within the cap, each id is answered once
    canvas._on_message(canvas, {"type": "strips", "ids": [ids[1], ids[1]], "request_id": 1}, [])
    content, buffers = sent[-1]
    assert [s["id"] for s in content["strips"]] == [ids[1]] and len(buffers) == 8
    with pytest.raises(ValueError, match=f"^ids: {len(ids) + 1} ids in one request"):
        view.strips_payload([ids[0]] * (len(ids) + 1))


def test_the_status_of_a_correction_survives_label_clicks_and_refreshes(view, monkeypatch):
    """A refresh clears only its own note: "finetuning…" and "corrected with…" stay."""
    from types import SimpleNamespace

    from failwidgets.methods import defuse as defuse_module

    started, release = threading.Event(), threading.Event()

    def fake_correction(classifier, vae, scenarios, labels, **settings):
        started.set()
        assert release.wait(30)
        return SimpleNamespace(best_lambda=0.5, n_scenarios=1)

    monkeypatch.setattr(defuse_module, "correct_classifier", fake_correction)
    monkeypatch.setattr(view._correction_box, "show", lambda result: None)
    monkeypatch.setattr(view.canvas, "send", lambda content, buffers=None: None)
    canvas = view.canvas
    view.set_label(0, is_failure=True)
    view._correct_button.click()
    assert started.wait(30)
    try:
        assert view.status.startswith("finetuning the classifier")
        canvas._on_message(canvas, {"type": "label", "id": 1, "is_failure": False}, [])
        view.tau = 0.3  # resamples and refreshes
        assert view.status.startswith("finetuning the classifier")
        # a refused label adds its error; the next good click clears only that error
        canvas._on_message(canvas, {"type": "label", "id": 1, "correct_label": 7}, [])
        assert view.status.startswith("finetuning") and "label not saved" in view.status
        canvas._on_message(canvas, {"type": "label", "id": 1, "correct_label": 1}, [])
        assert view.status.startswith("finetuning") and "label not saved" not in view.status
    finally:
        release.set()
    assert view.wait_correction(timeout=30) is not None
    done = "corrected with lambda = 0.5 on 1 labelled failure scenarios (table below)"
    assert view.status == done
    canvas._on_message(canvas, {"type": "label", "id": 1, "is_failure": None}, [])
    view.resample()
    view.set_class("green")
    assert view.status == done
    assert "finetuning" not in view._status_html.value
    assert "corrected with" in view._status_html.value


def test_labels_are_written_to_the_json_file_at_once(view, tmp_path, monkeypatch):
    sent = []
    monkeypatch.setattr(view.canvas, "send", lambda content, buffers=None: sent.append(content))
    path = tmp_path / "labels.json"
    assert not path.exists()
    view.set_label(0, is_failure=True)
    assert read_labels(path) == {"0": {"is_failure": True, "correct_label": None}}
    assert view.canvas.view_model["rows"][0]["is_failure"] is True
    view.set_label(0, correct_label="green")  # a class name or an index
    assert read_labels(path)["0"] == {"is_failure": True, "correct_label": 1}
    row = view.canvas.view_model["rows"][0]
    assert row["correct_label"] == 1 and row["reference_name"] == "green"
    # the strip's "wrong" flags now compare with the correct label
    predictions = view.samples(0).predictions
    assert [s["wrong"] for s in row["samples"]] == (predictions != 1).tolist()

    # the browser's messages go through the same store
    canvas = view.canvas
    canvas._on_message(canvas, {"type": "label", "id": 1, "is_failure": False}, [])
    assert read_labels(path)["1"] == {"is_failure": False, "correct_label": None}
    canvas._on_message(canvas, {"type": "label", "id": 1, "correct_label": 2}, [])
    assert read_labels(path)["1"] == {"is_failure": False, "correct_label": 2}
    canvas._on_message(canvas, {"type": "label", "id": 1, "is_failure": None}, [])
    assert read_labels(path)["1"] == {"is_failure": None, "correct_label": 2}
    assert view.canvas.view_model["n_labelled"] == 2 and view.canvas.view_model["n_failures"] == 1

    # a bad label from the browser is refused with a message; the file is unchanged
    text = path.read_text()
    canvas._on_message(canvas, {"type": "label", "id": 0, "correct_label": 7}, [])
    assert path.read_text() == text
    assert "scenario 0: label not saved" in view.status and "outside the classes" in view.status
    assert sent == [{"type": "label_refused", "id": 0, "error": view.status}]
    canvas._on_message(canvas, {"type": "label", "id": 0, "correct_label": "<b>x</b>"}, [])
    assert "unknown class '<b>x</b>'" in view.status  # shown escaped
    assert "<b>" not in view._status_html.value
    assert "&lt;b&gt;x&lt;/b&gt;" in view._status_html.value
    assert path.read_text() == text
    canvas._on_message(canvas, {"type": "label", "id": 99, "is_failure": True}, [])
    canvas._on_message(canvas, {"type": "label", "id": True, "is_failure": True}, [])
    assert path.read_text() == text

    view.clear_label(1)
    assert "1" not in read_labels(path)
    with pytest.raises(ValueError, match="correct_label: 5 is outside"):
        view.set_label(0, correct_label=5)
    with pytest.raises(ValueError, match="correct_label: unknown class 'purple'"):
        view.set_label(0, correct_label="purple")
    with pytest.raises(ValueError, match="scenario_id: 99 is not one of"):
        view.set_label(99, is_failure=True)
    with pytest.raises(TypeError, match="is_failure: expected True, False or None"):
        view.set_label(0, is_failure="yes")


def test_labels_survive_a_restart_and_reload_in_a_new_view(world, fitted, tmp_path):
    evalset, classifier, vae = world
    path = tmp_path / "kept.json"
    first = ScenarioView(evalset, classifier, vae, defuse=fitted, labels_path=path)
    first.set_label(1, is_failure=True, correct_label="green")
    first.set_label(0, is_failure=False)
    del first  # "kernel restart": only the file remains
    again = ScenarioView(evalset, classifier, vae, defuse=fitted, labels_path=str(path))
    rows = {row["id"]: row for row in again.view_model()["rows"]}
    assert rows[1]["is_failure"] is True and rows[1]["correct_label"] == 1
    assert rows[0]["is_failure"] is False
    assert again.labels.failure_labels() == {1: 1}


def test_a_label_file_of_another_scenario_set_is_refused_not_overwritten(world, fitted, tmp_path):
    evalset, classifier, vae = world
    path = tmp_path / "other.json"
    ScenarioLabels(path, n_classes=3, scenario_set="0123456789abcdef").set(0, is_failure=True)
    text = path.read_text()
    with pytest.raises(
        ValueError, match=r"labels_path: .*other\.json holds labels of another scenario set"
    ):
        ScenarioView(evalset, classifier, vae, defuse=fitted, labels_path=path)
    assert path.read_text() == text
    ScenarioLabels(tmp_path / "five.json", n_classes=5).set(0, is_failure=True)
    with pytest.raises(ValueError, match="labels_path: .*five.json was written for 5 classes"):
        ScenarioView(evalset, classifier, vae, defuse=fitted, labels_path=tmp_path / "five.json")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ValueError, match="labels_path: .*not a valid JSON label file"):
        ScenarioView(evalset, classifier, vae, defuse=fitted, labels_path=tmp_path / "broken.json")


def test_labels_without_a_fingerprint_are_adopted_only_when_asked(world, fitted, tmp_path):
    evalset, classifier, vae = world
    path = tmp_path / "by_hand.json"
    ScenarioLabels(path, n_classes=3).set(0, is_failure=True, correct_label=2)  # no fingerprint
    text = path.read_text()
    with pytest.raises(
        ValueError, match=r"labels_path: .*by_hand\.json holds 1 labels with no scenario-set "
        r"fingerprint.*pass adopt_labels=True",
    ):  # fmt: skip
        ScenarioView(evalset, classifier, vae, defuse=fitted, labels_path=path)
    assert path.read_text() == text  # refused, not overwritten
    view = ScenarioView(
        evalset, classifier, vae, defuse=fitted, labels_path=path, adopt_labels=True
    )
    rows = {row["id"]: row for row in view.view_model()["rows"]}
    assert rows[0]["is_failure"] is True and rows[0]["correct_label"] == 2
    view.set_label(1, is_failure=False)  # the next write stamps the file with this set
    assert json.loads(path.read_text())["scenario_set"] == fitted.scenarios_.fingerprint
    again = ScenarioView(evalset, classifier, vae, defuse=fitted, labels_path=path)
    assert again.labels.failure_labels() == {0: 2}
    with pytest.raises(TypeError, match="^adopt_labels: expected True or False, got str"):
        ScenarioView(evalset, classifier, vae, defuse=fitted, labels_path=path, adopt_labels="y")


def test_set_class_filters_rows_by_majority_label(view, fitted):
    majority = {s.id: CLASS_NAMES[s.majority_label] for s in fitted.scenarios_}
    name = majority[0]
    view.set_class(name)
    assert view.class_name == name and view._class_dropdown.value == name
    rows = view.canvas.view_model["rows"]
    assert [r["id"] for r in rows] == [i for i, c in majority.items() if c == name]
    assert view.canvas.view_model["class_name"] == name
    view.set_class("red")  # the classifier never misses red: no scenario has majority red
    assert "red" not in majority.values()
    assert view.canvas.view_model["rows"] == []
    assert "No scenario has majority label 'red'" in view.canvas.view_model["message"]
    view._class_dropdown.value = ""  # "all classes" in the dropdown
    assert view.class_name is None and len(view.canvas.view_model["rows"]) == len(majority)
    with pytest.raises(ValueError, match="class_name: unknown class 'purple'"):
        view.set_class("purple")
    view.class_name = 1  # an index is stored as its name
    assert view.class_name == "green" and view._class_dropdown.value == "green"
    with pytest.raises(ValueError, match="class_name: class index 3 outside 0..2"):
        view.class_name = 3
    with pytest.raises(TypeError, match="class_name: expected a class name or index"):
        view.class_name = 1.5
    assert view.class_name == "green"


def test_selecting_a_scenario_fills_the_grid_and_notifies(world, fitted, tmp_path):
    evalset, classifier, vae = world
    grid = ImageGrid(evalset, [])
    view = ScenarioView(
        evalset, classifier, vae, defuse=fitted, grid=grid, labels_path=tmp_path / "l.json"
    )
    assert grid not in view.children  # the caller shows the shared grid
    seen = []
    view.on_select(seen.append)
    scenario = fitted.scenarios_[1]
    view.canvas._on_message(view.canvas, {"type": "select", "id": 1}, [])
    members = view.members(1)
    np.testing.assert_array_equal(view.selected_members, members)
    assert view.selected_scenario == 1 and view.canvas.selected == 1
    shown = grid.indices
    assert sorted(shown.tolist()) == members.tolist()
    correct = evalset.correct[shown]
    assert (np.diff(correct.astype(int)) >= 0).all()  # errors first
    assert grid.title.startswith("Defuse scenario 1: ")
    (mode,) = seen
    assert isinstance(mode, FailureMode) and mode.method == "defuse"
    predicted = CLASS_NAMES[scenario.top_prediction]
    majority = CLASS_NAMES[scenario.majority_label]
    assert mode.class_name == majority
    assert mode.description == f"scenario 1: {majority} → predicted {predicted}"
    np.testing.assert_array_equal(mode.members, members)
    assert mode.accuracy == pytest.approx(evalset.correct[members].mean())
    val = evalset.split_indices("val")
    in_class = val[evalset.labels[val] == scenario.majority_label]
    assert mode.drop == pytest.approx(evalset.correct[in_class].mean() - mode.accuracy)
    # filtering to another class drops the selection
    other = next(n for n in CLASS_NAMES if n != majority)
    view.set_class(other)
    assert view.selected_scenario is None and len(view.selected_members) == 0
    view.canvas._on_message(view.canvas, {"type": "select", "id": 42}, [])  # unknown: ignored
    assert seen == [mode]
    with pytest.raises(ValueError, match="scenario_id: 42 is not one of"):
        view.select(42)


def test_failure_modes_leave_out_scenarios_marked_not_a_failure(view, fitted):
    n = len(fitted.scenarios_)
    assert len(view.failure_modes()) == n  # unreviewed scenarios are failure candidates
    view.confirmed_only = True
    assert view.failure_modes() == []
    view.confirmed_only = False
    view.set_label(0, is_failure=False)
    view.set_label(1, is_failure=True, correct_label=1)
    modes = view.failure_modes()
    assert len(modes) == n - 1 and all(not m.description.startswith("scenario 0:") for m in modes)
    view.confirmed_only = True
    (confirmed,) = view.failure_modes()
    assert confirmed.description.startswith("scenario 1:")
    view.confirmed_only = False
    name = confirmed.class_name

    # the protocol: "current" (no class selected: every class), a class, a list, "all"
    def described(modes):
        return [m.description for m in modes]

    assert view.class_name is None
    assert described(view.failure_modes("current")) == described(modes)
    assert described(view.failure_modes("all")) == described(modes)
    assert all(m.class_name == name for m in view.failure_modes(name))
    assert described(view.failure_modes([name])) == described(view.failure_modes(name))
    view.set_class(name)
    assert described(view.failure_modes()) == described(view.failure_modes(name))
    assert len(view.failure_modes("all")) == n - 1
    # tau moves the samples, not the modes
    assert described(view.failure_modes(tau=0.3)) == described(view.failure_modes())
    assert view.tau == 0.1
    with pytest.raises(ValueError, match="unknown class 'purple'"):
        view.failure_modes("purple")
    with pytest.raises(TypeError, match="delta: not a threshold of defuse"):
        view.failure_modes(delta=0.2)
    with pytest.raises(TypeError, match="confirmed_only"):
        view.confirmed_only = "yes"
    # the view's modes are the review's: its label store, and confirmed_only handed over
    assert view.labels is view.review.labels
    assert described(view.failure_modes("all")) == described(view.review.failure_modes())
    view.confirmed_only = True
    assert view.review.confirmed_only is True and not view.failure_modes("red")
    assert described(view.failure_modes("all")) == described(view.review.failure_modes("all"))
    assert described(view.failure_modes("all")) == [confirmed.description]
    assert view.failure_modes("red").reason == view.review.failure_modes("red").reason
    assert view.failure_modes("red").reason.startswith("no scenario has majority label 'red'")


def test_the_view_fits_defuse_on_the_val_split_when_none_is_given(world, tmp_path):
    evalset, classifier, vae = world
    fit = {"n_samples": 10, "max_per_image": 3, "max_components": 10, "progress": False}
    view = ScenarioView(
        evalset, classifier, vae, labels_path=tmp_path / "a.json", fit_kwargs=fit, max_images=30
    )
    assert view.defuse.n_samples == 10 and view.defuse.identification_.n_images == 30
    assert len(view.rows) == 30 and set(view.rows) <= set(evalset.split_indices("val"))
    assert np.all(np.diff(view.rows) > 0)
    assert len(view.scenarios) >= 1
    for scenario in view.scenarios:  # members map back through the subsample
        assert set(view.members(scenario.id)) <= set(view.rows)


def test_tau_and_other_bad_input_raise_clear_errors(world, fitted, tmp_path):
    evalset, classifier, vae = world
    args = (evalset, classifier, vae)
    kw = {"defuse": fitted, "labels_path": tmp_path / "x.json"}
    for bad in (0, 1.5, -0.1, float("nan")):
        with pytest.raises(ValueError, match=r"tau: must lie in \(0, 1\]"):
            ScenarioView(*args, tau=bad, **kw)
    with pytest.raises(TypeError, match="tau: expected a number"):
        ScenarioView(*args, tau="0.1", **kw)
    view = ScenarioView(*args, tau=0.8, **kw)  # allowed, beyond the slider's 0.5
    assert view._tau_slider.max == pytest.approx(0.8)
    with pytest.raises(ValueError, match="tau: must lie in"):
        view.tau = 2
    # None goes through the check too (a traitlets.Any used to store it unchecked); the
    # errors are TraitErrors, so a refused value is never kept
    with pytest.raises(
        TypeError, match="^tau: expected a number in \\(0, 1\\], got NoneType"
    ) as info:
        view.tau = None
    assert isinstance(info.value, traitlets.TraitError)
    assert view.tau == 0.8
    with pytest.raises(ValueError, match="labels_path: .* is a folder"):
        ScenarioView(*args, defuse=fitted, labels_path=tmp_path)
    with pytest.raises(TypeError, match="labels_path: expected a file path"):
        ScenarioView(*args, defuse=fitted, labels_path=3)
    big = BetaVAE(VAEConfig(image_size=16, latent_dim=3, channels=8, hidden=16))
    with pytest.raises(
        ValueError, match=r"evalset: its images are 8x8 pixels but the VAE was built for 16x16"
    ):
        ScenarioView(evalset, classifier, big, labels_path=tmp_path / "y.json")
    with pytest.raises(ValueError, match="n_samples_shown: must be in 1..64"):
        ScenarioView(*args, n_samples_shown=0, **kw)
    with pytest.raises(ValueError, match="split: no samples in split 'extra'"):
        ScenarioView(*args, split="extra", **kw)
    with pytest.raises(ValueError, match="defuse: it was fitted on 45 images but 90"):
        ScenarioView(*args, split=None, **kw)
    with pytest.raises(ValueError, match="defuse: the Defuse is not fitted"):
        ScenarioView(*args, defuse=Defuse(vae, classifier), labels_path=tmp_path / "z.json")
    with pytest.raises(ValueError, match="defuse: it was fitted with another VAE"):
        ScenarioView(evalset, classifier, ColourCodeVAE(), **kw)
    with pytest.raises(ValueError, match="defuse: it was fitted with another classifier"):
        ScenarioView(evalset, MeanColour(), vae, **kw)
    with pytest.raises(ValueError, match="fit_kwargs: only used when the view fits"):
        ScenarioView(*args, fit_kwargs={"n_samples": 5}, **kw)
    with pytest.raises(TypeError, match="fit_kwargs: .*unexpected keyword"):
        ScenarioView(*args, labels_path=tmp_path / "z.json", fit_kwargs={"bogus": 1})
    with pytest.raises(ValueError, match="class_name: unknown class 'purple'"):
        ScenarioView(*args, class_name="purple", **kw)
    other = EvalSet.from_arrays(
        evalset.images_at(range(5)), evalset.labels[:5], evalset.labels[:5], CLASS_NAMES
    )
    with pytest.raises(ValueError, match="grid: the ImageGrid shows another EvalSet"):
        ScenarioView(*args, grid=ImageGrid(other), **kw)
    with pytest.raises(TypeError, match="evalset: expected an EvalSet"):
        ScenarioView(evalset.labels, classifier, vae, **kw)
    with pytest.raises(TypeError, match=r"vae: expected a VAE with methods encode\(x\)"):
        ScenarioView(evalset, classifier, object(), **kw)

    class Logits(ColourCodeVAE):  # a user VAE without its sigmoid: checked on the EvalSet
        def decode(self, z):
            return super().decode(z) * 8 - 4

    with pytest.raises(ValueError, match=r"vae: decode\(z\) returned values in \[-"):
        ScenarioView(evalset, classifier, Logits(), labels_path=tmp_path / "w.json")


def test_correct_finetunes_on_labelled_scenarios_and_shows_the_table(view, fitted):
    with pytest.raises(ValueError, match="labels: no scenario is marked as a failure"):
        view.correct(progress=False)
    view.set_label(0, is_failure=True, correct_label=int(fitted.scenarios_[0].majority_label))
    result = view.correct(
        lambdas=[1.0], epochs=1, n_per_scenario=16, batch_size=16, lr=0.01, progress=False
    )
    assert view.correction_ is result and result.n_scenarios == 1
    # the EvalSet's splits were used: val is the reference for selecting lambda
    assert result.reference == "validation"
    html = view._correction_box.table.value
    assert "<td>before finetuning</td><td>—</td>" in html and "lambda=1" in html
    assert "<th>validation</th>" in html and "Per labelled scenario" in html
    row = result.per_scenario.iloc[0]
    name = escape(CLASS_NAMES[int(row["correct_label"])])
    assert f"<td>#0</td><td>{name}</td>" in html
    assert f"<td>{100 * row['accuracy_after']:.1f}</td>" in html
    import bqplot

    assert isinstance(view._correction_box.children[-1], bqplot.Figure)
    assert "corrected with lambda = 1" in view.status
    # the button runs on a worker thread (the kernel keeps serving the view) and reports
    # errors in the status line instead of raising
    view.set_label(0, is_failure=False)
    view._correct_button.click()
    view.wait_correction(timeout=60)
    assert not view.correcting
    assert "correction: labels: no scenario is marked" in view.status
    assert not view._correct_button.disabled
    view.set_label(0, is_failure=True)
    view._correct_button.click()
    assert view.wait_correction(timeout=120) is not result  # a new correction
    assert "corrected with lambda" in view.status and not view._correct_button.disabled


def test_correct_needs_train_and_test_images_without_splits(world, tmp_path):
    evalset, classifier, vae = world
    plain = EvalSet.from_arrays(
        evalset.images_at(range(45)), evalset.labels[:45], evalset.predictions[:45], CLASS_NAMES
    )
    defuse = Defuse(
        vae, classifier, n_samples=10, max_per_image=3, max_components=10, progress=False
    )
    defuse.fit(plain.images_at(range(45)), plain.labels)
    view = ScenarioView(plain, classifier, vae, defuse=defuse, labels_path=tmp_path / "p.json")
    assert view.rows.tolist() == list(range(45))  # no split column: all images
    view.set_label(0, is_failure=True, correct_label=1)
    with pytest.raises(
        ValueError, match="correct: the EvalSet has no 'train' split; pass train_images="
    ):
        view.correct()


def test_the_explorer_drives_class_and_tau(world, fitted, tmp_path):
    from failwidgets.widgets.explorer import Explorer

    evalset, classifier, vae = world

    def factory(grid):
        return ScenarioView(
            evalset,
            classifier,
            vae,
            defuse=fitted,
            grid=grid,
            labels_path=tmp_path / "e.json",
            background=False,
        )

    explorer = Explorer(evalset, {"defuse": factory}, split="val", background=False)
    view = explorer.views["defuse"]
    assert explorer.unavailable == {}
    explorer.set_class("green")
    assert view.class_name == "green"
    version = view.sample_version
    explorer.set_threshold("defuse", "tau", 0.3)
    assert view.tau == 0.3 and view.sample_version == version + 1
    assert explorer.controls[("defuse", "tau")].value == pytest.approx(0.3)
    frame = explorer.failure_modes()
    assert set(frame["method"]) == {"defuse"} and len(frame) == len(fitted.scenarios_)
    green = next(s.id for s in fitted.scenarios_ if CLASS_NAMES[s.majority_label] == "green")
    view.select(green)
    assert explorer.selected_mode.method == "defuse"
    assert sorted(explorer.grid.indices.tolist()) == view.members(green).tolist()


def test_no_failures_found_is_an_explicit_empty_view(world, tmp_path):
    evalset, classifier, vae = world
    red = np.flatnonzero(evalset.labels == 0)  # grey decodes are called red: never a failure
    defuse = Defuse(vae, classifier, n_samples=5, progress=False)
    defuse.fit(evalset.images_at(red), evalset.labels[red])
    view = ScenarioView(
        evalset, classifier, vae, defuse=defuse, indices=red, labels_path=tmp_path / "e.json"
    )
    model = view.view_model()
    assert model["rows"] == [] and model["n_scenarios"] == 0
    assert model["message"].startswith("no failures found: 30 images x Q=5 draws")
    assert view.failure_modes() == []
    with pytest.raises(ValueError, match="scenario_id: 0 is not one of the 0 scenario ids"):
        view.select(0)
    view.tau = 0.3  # nothing to resample, nothing breaks
    assert view.strips_payload([])[0]["strips"] == []
    with pytest.raises(ValueError, match="^ids: 1 ids in one request, but the view has 0"):
        view.strips_payload([0])
    with pytest.raises(ValueError, match="indices: pass either indices or split"):
        ScenarioView(evalset, classifier, vae, defuse=defuse, indices=red, split="val")


def test_the_vae_check_is_shown_above_the_rows(view, world, tmp_path):
    # the faithful VAE: reconstructions fare as well as the originals, a quiet line
    quality = view.view_model()["quality"]
    assert quality["passed"] and quality["n_images"] == 45
    assert quality["reconstruction_accuracy"] == quality["original_accuracy"]
    assert quality["n_vae_failing_draws"] == 0 and quality["vae_failures"] == "exclude"
    assert (
        view.children[1] is view._quality
        and "fw-scenarios-quality-ok" in view._quality._dom_classes
    )
    share = f"{100 * quality['original_accuracy']:.1f}%"
    assert f"the classifier gets {share} of the 45 images right and {share} of their" in (
        view._quality.value
    )
    assert "⚠" not in view._quality.value

    # the random-weight VAE: grey decodes are called red, so the classifier gets only the red
    # images' reconstructions right: a warning, and the VAE failures are counted apart
    evalset, classifier, _ = world
    bad = random_vae()
    val = evalset.split_indices("val")
    with pytest.warns(VAEQualityWarning, match="look like failures for that reason alone"):
        defuse = Defuse(bad, classifier, n_samples=10, max_per_image=3, max_components=10)
        defuse.progress = False
        defuse.fit(evalset.images_at(val), evalset.labels[val])
    warned = ScenarioView(evalset, classifier, bad, defuse=defuse, labels_path=tmp_path / "b.json")
    model = warned.view_model()["quality"]
    assert not model["passed"] and model["reconstruction_accuracy"] == pytest.approx(1 / 3)
    right = evalset.correct[val] & (evalset.labels[val] != 0)  # green and blue images it gets right
    assert model["n_vae_failure_images"] == int(right.sum()) > 0
    assert model["n_vae_failing_draws"] == 10 * int(right.sum())  # every draw of them fails
    assert "fw-scenarios-quality-warn" in warned._quality._dom_classes
    assert "⚠ VAE check: the classifier gets" in warned._quality.value
    assert "33.3% of their VAE reconstructions, under 0.5 x" in warned._quality.value
    assert f"{model['n_vae_failing_draws']} misclassified draws of {right.sum()} images" in (
        warned._quality.value
    )
    assert "are VAE failures (left out)" in warned._quality.value
    # the scenarios left come from images the classifier already gets wrong
    assert set(defuse.identification_.image_index) <= set(np.flatnonzero(~evalset.correct[val]))


def test_the_correction_shows_its_progress_in_the_status_line(view, fitted, monkeypatch):
    from failwidgets.viewmodels import scenarios

    monkeypatch.setattr(scenarios, "PROGRESS_INTERVAL_S", 0.0)  # every step shows
    seen, events = [], []
    view.observe(lambda change: seen.append(change["new"]), names="status")
    view.set_label(0, is_failure=True, correct_label=int(fitted.scenarios_[0].majority_label))
    view.correct(
        lambdas=[0.5, 2.0],
        epochs=2,
        n_per_scenario=8,
        batch_size=10,
        lr=0.01,
        progress=False,
        on_progress=events.append,  # the caller's callback still hears everything
    )
    assert seen[0] == "correcting: decoding the scenario samples (0% of the finetuning)"
    assert "correcting: λ=0.5 (1/2), epoch 1/2, step 0/3 (0% of the finetuning)" in seen
    assert "correcting: λ=0.5 (1/2), epoch 2/2, step 2/3 (42% of the finetuning)" in seen
    assert "correcting: λ=2 (2/2), epoch 2/2, step 3/3 (100% of the finetuning)" in seen
    assert seen[-1].startswith("corrected with lambda =")
    assert len(events) == 1 + 1 + 2 * (2 * 4 + 1) + 1
    # throttled (the default): only new stages, lambdas and epochs show within 0.25 s
    monkeypatch.setattr(scenarios, "PROGRESS_INTERVAL_S", 60.0)
    seen.clear()
    view.correct(lambdas=[0.5], epochs=2, n_per_scenario=8, batch_size=10, progress=False)
    shown = [text.split(" (")[0] for text in seen]
    assert shown == [
        "correcting: decoding the scenario samples",
        "correcting: evaluating the original classifier",
        "correcting: λ=0.5",
        "correcting: λ=0.5",
        "correcting: λ=0.5",
        "correcting: done",
        "corrected with lambda = 0.5 on 1 labelled failure scenarios",
    ]
    assert [text for text in seen if "epoch" in text] == [
        "correcting: λ=0.5 (1/1), epoch 1/2, step 0/3 (0% of the finetuning)",
        "correcting: λ=0.5 (1/1), epoch 2/2, step 0/3 (50% of the finetuning)",
    ]
    with pytest.raises(TypeError, match="on_progress: expected a callable or None"):
        view.correct(on_progress="bar")


def test_tau_resamples_on_the_worker_and_the_latest_value_wins(world, fitted, tmp_path):
    evalset, classifier, vae = world
    view = ScenarioView(evalset, classifier, vae, defuse=fitted, labels_path=tmp_path / "w.json")
    assert view._worker.background
    gate = threading.Event()
    drawn = []
    original = view.review.samples

    def slow_samples(scenario_id, *, n, tau, draw=0):
        assert gate.wait(30)
        drawn.append(tau)
        return original(scenario_id, n=n, tau=tau, draw=draw)

    view.review.samples = slow_samples
    try:
        view.tau = 0.2  # the kernel does not wait for the decoding
        assert view.sample_version == 0 and view.canvas.view_model["tau"] == 0.1
        assert view.status == "drawing new samples at τ = 0.2…"
        view.tau = 0.3
        view.tau = 0.4
    finally:
        gate.set()
    view._worker.wait(30)
    # 0.2 may have started before the newer values came in; it is never shown
    assert set(drawn) <= {0.2, 0.4} and drawn.count(0.4) == len(fitted.scenarios_)
    assert view.sample_version == 1 and view.canvas.view_model["tau"] == 0.4
    assert view.samples(0).tau == 0.4 and view.status == ""
    content, _ = view.strips_payload([0])
    assert content["version"] == 1
    # a failed resampling says why in the status line and keeps the samples shown
    view.review.samples = lambda *args, **kwargs: 1 / 0
    view.tau = 0.25
    view._worker.wait(30)
    assert view.status.startswith("samples not drawn: ZeroDivisionError")
    assert view.sample_version == 1 and view.samples(0).tau == 0.4
    view.close()


def test_the_class_dropdown_and_the_tau_slider_are_linked_both_ways(view):
    dropdown, slider = view._class_dropdown, view._tau_slider
    assert "fw-defuse-tau" in slider._dom_classes and "fw-scenarios-tau" in slider._dom_classes
    view.set_class("green")
    assert dropdown.value == "green"
    dropdown.value = CLASS_NAMES[2]
    assert view.class_name == CLASS_NAMES[2]
    view.class_name = None
    assert dropdown.value == "" and dropdown.label == "all classes"
    view.tau = 0.8  # beyond the slider's range: the range widens
    assert slider.value == pytest.approx(0.8) and slider.max >= 0.8
    slider.value = 0.3
    assert view.tau == pytest.approx(0.3) and view.samples(0).tau == pytest.approx(0.3)
    # the Explorer shows the class and tau once, in its panel: the view hides its own
    view.show_controls = False
    assert dropdown.layout.display == "none" and slider.layout.display == "none"
    assert view._resample_button.layout.display != "none"
    assert view._correct_button.layout.display != "none"
    view.show_controls = True
    assert dropdown.layout.display is None and slider.layout.display is None
    hidden = ScenarioView(
        view.evalset,
        view.review.classifier,
        view.defuse.vae,
        defuse=view.defuse,
        labels_path=view.labels_path,
        show_controls=False,
        background=False,
    )
    assert hidden._class_dropdown.layout.display == "none"
    assert hidden._tau_slider.layout.display == "none"
    assert len(hidden.canvas.view_model["rows"]) == len(view.scenarios)
