"""ConceptMapView: scores follow the selection, delta, target class and direction; concept clicks
fill the grid; stale background results are never shown; linking; bad inputs.

A world where the right answer is known: images are tinted by one colour channel, the tag
columns "red", "green", "blue" say which; the model's bottom is a 2x2 average pooling and its
top a linear layer whose class c logit reads channel c. So adding the concept "red" raises
p(class_0), adding "green" raises p(class_1), and so on.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading

import numpy as np
import pandas as pd
import pytest
import torch
import traitlets
from torch import nn

from failwidgets.data import EvalSet
from failwidgets.features.split import SplitModel
from failwidgets.methods.ces import ConceptExplainer, ConceptSet, learn_concept_bank
from failwidgets.modes import FailureMode
from failwidgets.widgets.concept_map import ConceptMapView
from failwidgets.widgets.grid import ImageGrid

torch.set_num_threads(1)
CLASS_NAMES = ["class_0", "class_1", "class_2"]
COLOURS = ["red", "green", "blue"]
XSS = "<img src=x onerror=alert(1)>"
N, SIZE = 240, 16
DELTA = 0.3


def make_world(seed: int = 0, size: int = SIZE):
    rng = np.random.default_rng(seed)
    labels = np.arange(N) % 3
    tint = labels.copy()
    odd = rng.random(N) < 0.25  # a quarter wears another class's colour
    tint[odd] = (labels[odd] + rng.integers(1, 3, size=odd.sum())) % 3
    images = rng.integers(40, 90, size=(N, size, size, 3)).astype(np.uint8)
    for channel in range(3):
        rows = tint == channel
        images[rows, :, :, channel] = rng.integers(170, 255, size=(rows.sum(), size, size))
    metadata = pd.DataFrame(
        {
            **{colour: tint == c for c, colour in enumerate(COLOURS)},
            XSS: rng.random(N) < 0.5,  # a concept the model cannot see: dropped or weak
            "bright": images.mean(axis=(1, 2, 3)) > np.median(images.mean(axis=(1, 2, 3))),
        }
    )
    split = np.where(np.arange(N) < N // 2, "train", "test")
    # predictions follow the tint, so the odd images are the mistakes
    return EvalSet.from_arrays(
        images, labels, tint, CLASS_NAMES, metadata=metadata, split=split
    ), odd


class Top(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 3)
        with torch.no_grad():
            self.linear.weight.copy_(6.0 * torch.eye(3))
            self.linear.bias.zero_()

    def forward(self, h):
        return self.linear(h.mean(dim=(2, 3)))


def bottom(x):
    return nn.functional.adaptive_avg_pool2d(x, 2)


@pytest.fixture(scope="module")
def setup():
    evalset, odd = make_world()
    top = Top()
    split = SplitModel.from_callables(bottom, top, layer="pool", input_size=(3, SIZE, SIZE))
    concepts = ConceptSet.from_evalset(
        evalset, [*COLOURS, "bright", XSS], indices=evalset.split_indices("train"), max_examples=40
    )
    bank = learn_concept_bank(split, concepts, min_accuracy=0.0)
    explainer = ConceptExplainer(split, bank, delta=DELTA)
    return dict(evalset=evalset, odd=odd, split=split, bank=bank, explainer=explainer)


def top_name(scores) -> str:
    return scores.top_positive(1)[0][0]


def make_view(setup, **options):
    return ConceptMapView(setup["evalset"], setup["explainer"], **options)


def test_default_explains_the_mistakes_of_the_class_with_most(setup):
    evalset = setup["evalset"]
    view = make_view(setup)
    test = evalset.split_indices("test")
    wrong = test[~evalset.correct[test]]
    counts = np.bincount(evalset.labels[wrong], minlength=3)
    assert view.class_name == CLASS_NAMES[int(np.argmax(counts))]
    c = evalset.class_index(view.class_name)
    np.testing.assert_array_equal(view.explained, wrong[evalset.labels[wrong] == c])
    scores = view.scores
    assert scores is not None and not view.busy
    np.testing.assert_array_equal(scores.target, evalset.labels[view.explained])
    assert scores.delta == DELTA and scores.direction == "add"
    # the true class's colour is what the mistakes lack: adding it helps most
    assert top_name(scores) == COLOURS[c]
    model = view.panel.view_model
    json.dumps(model)  # plain JSON
    assert [e["name"] for e in model["concepts"]] == setup["bank"].names
    assert model["positive"][0]["name"] == COLOURS[c]
    assert model["empty_reasons"] == {"positive": None, "negative": None}  # both sides listed
    assert model["explained_text"] == f"{len(view.explained)} test mistakes of {view.class_name}"
    assert all(0 <= e["x"] <= 1 and 0 <= e["y"] <= 1 for e in model["concepts"])
    labelled = [e["name"] for e in model["concepts"] if e["labelled"]]
    assert COLOURS[c] in labelled
    # the own grid shows the class's test images, mistakes first
    grid = view.grid
    assert grid in view.children
    shown = grid.indices
    assert set(shown) == set(test[evalset.labels[test] == c])
    n_wrong = len(view.explained)
    assert not evalset.correct[shown[:n_wrong]].any() and evalset.correct[shown[n_wrong:]].all()


def test_grid_selection_becomes_the_explained_set(setup):
    evalset = setup["evalset"]
    view = make_view(setup, class_name="class_0")
    test = evalset.split_indices("test")
    for c in range(3):
        chosen = test[evalset.labels[test] == c][:7]
        view.grid.selected = chosen.tolist()
        np.testing.assert_array_equal(view.explained, chosen)
        np.testing.assert_array_equal(view.scores.target, np.full(7, c))
        assert top_name(view.scores) == COLOURS[c]
        assert view.panel.view_model["explained_text"] == "7 images selected in the grid"
    view.grid.selected = []  # back to the class's mistakes
    assert view.panel.view_model["explained_text"].endswith("mistakes of class_0")
    assert (evalset.labels[view.explained] == 0).all()


def test_target_class_delta_and_direction(setup):
    evalset = setup["evalset"]
    view = make_view(setup, class_name="class_2")
    view.target = "class_1"
    assert (view.scores.target == 1).all()
    assert top_name(view.scores) == "green"
    assert view._target_dropdown.value == 1
    assert view.panel.view_model["target_text"] == "p(class_1)"
    view._target_dropdown.value = -1  # the dropdown's "true label"
    assert view.target is None and (view.scores.target == 2).all()
    view.target = 0  # an index is accepted and stored as the name
    assert view.target == "class_0" and top_name(view.scores) == "red"
    view.target = None

    small = view.scores
    view.delta = 3.0
    assert view.scores.delta == 3.0
    assert not np.allclose(view.scores.raw, small.raw)
    assert view._delta_slider.value == pytest.approx(3.0)
    view.delta = 1e9  # outside the slider's range: the slider grows
    assert view._delta_slider.max >= 9 and view.scores.delta == 1e9
    view.delta = DELTA

    added = view.scores
    view.direction = "remove"
    removed = view.scores
    assert removed.direction == "remove"
    # stepping away from the class's colour lowers p(true label): the sign flips
    i = setup["bank"].index("blue")
    assert added.scores[i] > 0 > removed.scores[i]
    assert view.panel.view_model["legend"]["positive"].startswith("Removing it raises")
    view._direction_toggle.value = "add"
    assert view.direction == "add"
    np.testing.assert_allclose(view.scores.raw, added.raw)  # from the cache
    assert evalset is view.evalset


def test_constructor_settings_reach_the_controls(setup):
    view = make_view(
        setup, direction="remove", delta=2.0, embedding="tsne", target="class_2", class_name=1
    )
    assert view._direction_toggle.value == "remove" and view.scores.direction == "remove"
    assert view._delta_slider.value == pytest.approx(2.0) and view.scores.delta == 2.0
    assert view._embedding_toggle.value == "tsne"
    assert view._target_dropdown.value == 2 and (view.scores.target == 2).all()
    assert view._class_dropdown.value == "class_1" == view.class_name
    start = np.array([3, 4, 5])
    explicit = make_view(setup, indices=start)
    np.testing.assert_array_equal(explicit.explained, start)


def test_concept_click_fills_the_grid_and_notifies(setup):
    bank = setup["bank"]
    view = make_view(setup)
    explained = view.explained
    modes = []
    view.on_select(modes.append)
    i = bank.index("green")
    view._on_panel_message(view.panel, {"type": "concept", "index": i, "name": "green"}, [])
    positives = np.asarray(bank.positive_ids["green"])
    np.testing.assert_array_equal(view.grid.indices, positives)
    assert "green" in view.grid.title
    assert view.selected_concept == "green"
    np.testing.assert_array_equal(view.selected_members, positives)
    assert view.panel.view_model["selected"] == i
    assert len(modes) == 1 and isinstance(modes[0], FailureMode)
    assert modes[0].method == "ces" and modes[0].size == len(positives)
    np.testing.assert_array_equal(view.explained, explained)  # the scores stay put
    # stale or malformed messages are ignored
    sent = []
    view.panel.send = lambda content, buffers=None: sent.append(content)
    for message, error in (
        ({"type": "concept", "index": i, "name": "red"}, f"^index: concept {i} is not named"),
        ({"type": "concept", "index": 99, "name": "red"}, "^index: concept 99"),
        ({"type": "concept", "index": True, "name": "red"}, "^index: expected an integer"),
        ({"type": "concept", "name": "red"}, "^index: expected an integer"),
        ({"type": "zoom"}, "^type: expected 'concept' or 'show_explained'"),
        ([1, 2], "^message: expected a JSON object"),
    ):
        view._on_panel_message(view.panel, message, [])
        assert sent[-1]["type"] == "error" and re.match(error, sent[-1]["error"]), sent[-1]
    assert len(sent) == 6
    assert view.selected_concept == "green" and len(modes) == 1
    # a concept whose examples are image files: a note, the grid left alone
    files = dataclasses.replace(
        bank, positive_ids={n: [f"{n}/{k}.png" for k in range(10)] for n in bank.names}
    )
    other = ConceptMapView(setup["evalset"], setup["split"], files)
    before = other.grid.indices.copy()
    mode = other.show_concept("red")
    assert mode.size == 0 and "image files" in other.panel.view_model["note"]
    np.testing.assert_array_equal(other.grid.indices, before)


def test_shared_grid_and_explain_from_another_view(setup):
    evalset = setup["evalset"]
    grid = ImageGrid(evalset, [0, 1, 2])
    view = make_view(setup, grid=grid, class_name="class_1")
    assert grid not in view.children
    np.testing.assert_array_equal(grid.indices, [0, 1, 2])  # not touched at construction
    view.set_class("class_2")
    np.testing.assert_array_equal(grid.indices, [0, 1, 2])  # nor by the class selector
    assert (evalset.labels[view.explained] == 2).all()
    members = np.flatnonzero(setup["odd"] & (evalset.labels == 2))[:12]
    view.explain(members, title="a failure mode from PRIME")
    np.testing.assert_array_equal(view.explained, members)
    assert view.panel.view_model["explained_text"] == "a failure mode from PRIME"
    (mode,) = view.failure_modes()
    np.testing.assert_array_equal(mode.members, members)
    assert mode.method == "ces" and mode.accuracy == 0.0 and mode.class_name == "class_2"
    assert mode.description.startswith("a failure mode from PRIME: adding blue")
    assert "raises p(true label) most" in mode.description
    assert top_name(view.scores) in mode.description
    # a concept click shows its examples in the shared grid; the grid's selection is trimmed
    # to them without changing what is explained
    grid.selected = [0]
    view.explain(members)
    view.show_concept("red")
    np.testing.assert_array_equal(view.explained, members)
    view.show_explained()
    np.testing.assert_array_equal(grid.indices, members)
    # the Explorer shows a selected mode in every view: errors first, the explained set stays
    grid.show(np.arange(evalset.n))
    grid.selected = [int(np.setdiff1d(np.arange(evalset.n), members)[0])]
    view.explain(members)
    view.show_mode(mode)
    assert not evalset.correct[grid.indices[: len(members)]].any()
    assert grid.title.startswith("ces · ")
    assert len(grid.selected) == 0  # trimmed to the shown mode
    np.testing.assert_array_equal(view.explained, members)
    view.close()
    grid.selected = [5]
    np.testing.assert_array_equal(view.explained, members)  # no longer following the grid


def test_no_mistakes_message_and_empty_failure_modes(setup):
    evalset = setup["evalset"]
    clean = EvalSet.from_arrays(
        evalset.images_at(np.arange(evalset.n)),
        evalset.labels,
        evalset.labels,
        CLASS_NAMES,
        metadata=evalset.metadata,
        split=evalset.split,
    )
    view = ConceptMapView(clean, setup["explainer"], class_name="class_0")
    assert view.scores is None and len(view.explained) == 0
    assert "has no mistakes in the test split" in view.panel.view_model["message"]
    empty = view.failure_modes()
    assert empty == [] and empty.reason.startswith("nothing is explained: class_0 has no mistakes")
    assert "empty: nothing is explained" in repr(empty)
    view.grid.selected = [0, 3]
    assert view.scores is not None


def test_an_empty_side_says_why_in_the_view_and_the_failure_mode(setup):
    """A bank of one concept, "red": adding it raises p(class_0) for class_0's mistakes, so
    the positive bars list it and the negative side is empty, with the engine's reason."""
    bank = setup["bank"]
    i = bank.index("red")
    red_only = dataclasses.replace(
        bank,
        names=["red"],
        **{name: getattr(bank, name)[i : i + 1] for name in bank._ARRAYS},
        positive_ids={"red": bank.positive_ids["red"]},
    )
    explainer = ConceptExplainer(setup["split"], red_only, delta=DELTA)
    view = ConceptMapView(setup["evalset"], explainer, class_name="class_0")
    model = view.panel.view_model
    why = view.scores.empty_reason("negative")
    assert [bar["name"] for bar in model["positive"]] == ["red"] and model["negative"] == []
    assert model["empty_reasons"] == {"positive": None, "negative": why}
    assert why.startswith("no concept lowers p(class 0) at delta=0.3")
    (mode,) = view.failure_modes()
    assert mode.description.endswith(f"adding red raises p(true label) most; {why}")
    # a step too small to change anything: both sides empty, each with the reason
    view.delta = 1e-12
    model = view.panel.view_model
    why = view.scores.empty_reason("positive")
    assert model["positive"] == model["negative"] == []
    assert model["empty_reasons"] == {"positive": why, "negative": why}
    assert "every score is 0; try a larger delta" in why
    (mode,) = view.failure_modes()
    assert mode.description == f"{view.panel.view_model['explained_text']}: {why}"
    json.dumps(model)
    view.close()


def test_background_computation_is_last_request_wins(setup):
    evalset = setup["evalset"]
    explainer = setup["explainer"]
    view = make_view(setup, background=True)
    view.wait()
    started, release = threading.Event(), threading.Event()
    original = explainer.explain_evalset
    calls = []

    def slow_first(es, indices, **options):
        calls.append(len(indices))
        if len(calls) == 1:
            started.set()
            assert release.wait(10)
        return original(es, indices, **options)

    seen = []
    view.panel.observe(lambda change: seen.append(change["new"]["explained_text"]), "view_model")
    first, second, third = (np.arange(k) for k in (5, 6, 7))
    explainer.explain_evalset = slow_first
    try:
        view.explain(first)
        assert view.busy
        assert started.wait(10)  # the first is running on the worker
        view.explain(second)  # queued behind the first; superseded before it starts
        view.explain(third)
        release.set()
        view.wait(timeout=20)
    finally:
        explainer.explain_evalset = original
    assert not view.busy
    assert calls == [5, 7]  # the middle request never ran
    assert seen == ["7 chosen images"]  # the first result arrived stale and was dropped
    np.testing.assert_array_equal(view.scores.target, evalset.labels[third])
    assert len(view.scores.per_sample) == 7

    # "auto": small requests at once, large ones on the worker
    auto = make_view(setup, sync_limit=10)
    auto.wait()
    auto.explain(np.arange(40))
    auto.wait(timeout=20)
    assert auto.scores.per_sample.shape[0] == 40 and not auto.busy


def test_embedding_and_label_counts(setup):
    view = make_view(setup, n_labels=1, n_bars=2)
    pca = view.coordinates
    assert pca.shape == (len(setup["bank"]), 2)
    view.embedding = "tsne"
    assert view.panel.view_model["embedding_text"] == "t-SNE"
    assert not np.allclose(view.coordinates, pca)
    model = view.panel.view_model
    assert sum(e["labelled"] for e in model["concepts"]) <= 2
    assert len(model["positive"]) <= 2 and len(model["negative"]) <= 2
    view.n_bars = 5
    assert len(view.panel.view_model["positive"]) + len(view.panel.view_model["negative"]) <= 5 * 2
    view._embedding_toggle.value = "pca"
    np.testing.assert_allclose(view.coordinates, pca)


@pytest.mark.parametrize(
    "target, error, message",
    [
        (99, ValueError, "^target: class index 99 outside 0..2"),
        (-1, ValueError, "^target: class index -1 outside 0..2"),
        ("zebra", ValueError, "^target: unknown class 'zebra'"),
        (True, TypeError, "^target: expected a class name or index, got bool"),
        (1.5, TypeError, "^target: expected a class name or index, got float"),
    ],
)
def test_a_bad_target_is_named_in_the_error(setup, target, error, message):
    """Validators raise TraitError: the held constructor settings roll back and the error
    names ``target`` (it used to be "99 is not in list" from a later observer)."""
    with pytest.raises(error, match=message) as info:
        make_view(setup, target=target)
    assert isinstance(info.value, traitlets.TraitError)
    view = make_view(setup, target="class_1")
    with pytest.raises(error, match=message):
        view.target = target
    assert view.target == "class_1" and view._target_dropdown.value == 1


def test_the_panel_accepts_no_state_from_the_browser(setup):
    view = make_view(setup)
    model = view.panel.view_model
    for state in ({"view_model": {}}, {"busy": True}, ["busy"]):
        with pytest.raises(traitlets.TraitError, match="set by the kernel only|state: expected"):
            view.panel.set_state(state)
    assert view.panel.view_model == model and view.panel.busy is False


def test_bad_inputs(setup):
    evalset, explainer = setup["evalset"], setup["explainer"]
    with pytest.raises(TypeError, match="evalset: expected an EvalSet"):
        ConceptMapView("nope", explainer)
    with pytest.raises(TypeError, match="explainer: expected a ConceptExplainer or a SplitModel"):
        ConceptMapView(evalset, setup["bank"])
    with pytest.raises(ValueError, match="bank: a SplitModel needs a ConceptBank"):
        ConceptMapView(evalset, setup["split"])
    with pytest.raises(TypeError, match="grid: expected an ImageGrid"):
        ConceptMapView(evalset, explainer, grid=[1, 2])
    other, _ = make_world(seed=1)
    with pytest.raises(ValueError, match="grid: the ImageGrid shows another EvalSet"):
        ConceptMapView(evalset, explainer, grid=ImageGrid(other))
    with pytest.raises(ValueError, match="split: no samples in split 'extra'"):
        ConceptMapView(evalset, explainer, split="extra")
    with pytest.raises(ValueError, match="class_name: unknown class 'zebra'"):
        ConceptMapView(evalset, explainer, class_name="zebra")
    with pytest.raises(ValueError, match="delta: expected a finite positive step"):
        ConceptMapView(evalset, explainer, delta=0)
    with pytest.raises(ValueError, match="direction: expected 'add' or 'remove'"):
        ConceptMapView(evalset, explainer, direction="both")
    for background in ("sometimes", 0, None):
        with pytest.raises(ValueError, match="^background: expected 'auto', True or False"):
            ConceptMapView(evalset, explainer, background=background)
    with pytest.raises(ValueError, match="^sync_limit: must be >= 0"):
        ConceptMapView(evalset, explainer, sync_limit=-1)
    with pytest.raises(ValueError, match="n_bars: must be >= 1"):
        ConceptMapView(evalset, explainer, n_bars=0)
    big, _ = make_world(size=20)
    with pytest.raises(ValueError, match=r"evalset: its images do not fit.*\(3, 16, 16\)"):
        ConceptMapView(big, explainer)

    view = make_view(setup)
    with pytest.raises(ValueError, match="indices: no samples to explain"):
        view.explain([])
    with pytest.raises(TypeError, match="indices: expected a sequence"):
        view.explain("12")
    with pytest.raises(ValueError, match="indices"):
        view.explain([evalset.n])
    with pytest.raises(TypeError, match="title"):
        view.explain([1], title=3)
    with pytest.raises(ValueError, match="target: unknown class 'zebra'"):
        view.target = "zebra"
    with pytest.raises(TypeError, match="delta: expected a positive number"):
        view.delta = True
    with pytest.raises(ValueError, match="embedding: expected 'pca' or 'tsne'"):
        view.embedding = "umap"
    with pytest.raises(ValueError, match="^class_name: unknown class 'zebra'"):
        view.set_class("zebra")
    with pytest.raises(TypeError, match="^class_name: expected a class name or index"):
        view.class_name = None  # CES explains a class's mistakes: there is always a class
    with pytest.raises(ValueError, match="name: unknown concept 'zebra'"):
        view.show_concept("zebra")
    with pytest.raises(TypeError, match="callback"):
        view.on_select("print")
    with pytest.raises(TypeError, match="n_labels: expected an integer"):
        view.n_labels = 2.5
    # None goes through the checks too (a traitlets.Any used to store it unchecked)
    with pytest.raises(TypeError, match="^delta: expected a positive number, got NoneType"):
        view.delta = None
    with pytest.raises(TypeError, match="^n_bars: expected an integer, got NoneType"):
        view.n_bars = None
    # nothing above changed the view
    assert view.delta == DELTA and view.direction == "add" and view.target is None
    assert view.class_name == view._class_dropdown.value


def test_failure_modes_by_class_and_with_other_thresholds(setup):
    """``classes`` picks the explained images by label; ``delta`` recomputes without
    changing the view."""
    evalset = setup["evalset"]
    view = make_view(setup, class_name="class_0")
    (mode,) = view.failure_modes()  # the class's mistakes: all labelled class_0
    np.testing.assert_array_equal(mode.members, view.explained)
    assert mode.class_name == "class_0" and mode.rule.concept == "red"
    assert mode.description.startswith(f"{view.panel.view_model['explained_text']}: adding red")
    (same,) = view.failure_modes(classes="all")
    assert same.description == mode.description and same.drop == mode.drop
    assert view.failure_modes(classes="class_1") == []
    # a selection of several classes' images: one mode per label, each with its own scores
    test = evalset.split_indices("test")
    mixed = test[~evalset.correct[test]][:15]
    view.explain(mixed, title="picked")
    labels = evalset.labels[mixed]
    modes = view.failure_modes(classes="all")
    assert [m.class_name for m in modes] == [f"class_{c}" for c in np.unique(labels)]
    for m in modes:
        c = evalset.class_index(m.class_name)
        np.testing.assert_array_equal(m.members, mixed[labels == c])
        assert m.description.startswith(f"picked, the {(labels == c).sum()} {m.class_name}: ")
        assert m.rule.concept == COLOURS[c]
    (current,) = view.failure_modes()
    assert current.class_name == "class_0"
    assert [m.class_name for m in view.failure_modes(classes=[2, "class_1"])] == [
        "class_2",
        "class_1",
    ]
    # another delta: recomputed for the answer only
    scores = view.scores
    (tiny,) = view.failure_modes(delta=1e-12)
    assert "every score is 0; try a larger delta" in tiny.description
    assert view.delta == DELTA and view.scores is scores
    with pytest.raises(ValueError, match="^delta: expected a finite positive step"):
        view.failure_modes(delta=0)
    with pytest.raises(TypeError, match="^tau: not a threshold of ces"):
        view.failure_modes(tau=0.1)
    with pytest.raises(ValueError, match="unknown class"):
        view.failure_modes(classes="zebra")


def test_controls_are_linked_both_ways_and_can_be_hidden(setup):
    evalset = setup["evalset"]
    view = make_view(setup, class_name="class_0")
    dropdown, slider = view._class_dropdown, view._delta_slider
    assert dropdown.label.startswith("class_0 · ") and "mistakes /" in dropdown.label
    dropdown.value = "class_2"  # control -> trait: the class's mistakes are explained
    assert view.class_name == "class_2" and (evalset.labels[view.explained] == 2).all()
    view.set_class(1)  # trait -> control (an index is stored as its name)
    assert view.class_name == "class_1" == dropdown.value
    slider.value = 2.0
    assert view.delta == pytest.approx(2.0) and view.scores.delta == pytest.approx(2.0)
    view.delta = 0.5
    assert slider.value == pytest.approx(0.5) and view.scores.delta == 0.5
    assert view.thresholds() == {"delta": 0.5}
    assert "fw-ces-class" in dropdown._dom_classes and "fw-ces-delta" in slider._dom_classes
    # the Explorer shows the class and the thresholds once, in its panel
    view.show_controls = False
    assert dropdown.layout.display == slider.layout.display == "none"
    assert view._target_dropdown.layout.display is None  # CES's own settings stay
    view.show_controls = True
    assert dropdown.layout.display is None and slider.layout.display is None


def test_a_failed_computation_shows_in_the_status_and_the_answer(setup):
    explainer = setup["explainer"]
    view = make_view(setup, class_name="class_0")
    original = explainer.explain_evalset

    def broken(*args, **options):
        raise RuntimeError("out of memory")

    explainer.explain_evalset = broken
    try:
        view.delta = 0.7
    finally:
        explainer.explain_evalset = original
    assert view.scores is None and view.error == "RuntimeError: out of memory"
    assert view.status == "Could not compute the scores: RuntimeError: out of memory"
    assert view.panel.view_model["message"].startswith("Could not compute the scores")
    empty = view.failure_modes()
    assert empty == [] and empty.reason.startswith("the scores could not be computed")
    view.delta = DELTA  # cached: back at once, and the status clears
    assert view.scores is not None and view.status == "" and view.error is None


def test_the_view_s_failure_modes_are_its_explanation_s(setup):
    """The view's answer is the result's: ``explanation.failure_modes`` (the protocol)."""
    from failwidgets.methods.ces import ConceptExplanation

    evalset = setup["evalset"]
    view = make_view(setup, class_name="class_1", target="class_1")
    explanation = view.explanation
    assert isinstance(explanation, ConceptExplanation) and view.scores is explanation.scores
    np.testing.assert_array_equal(explanation.indices, view.explained)
    assert explanation.target == "class_1" and explanation.delta == DELTA
    np.testing.assert_array_equal(explanation.reference_indices, evalset.split_indices("test"))
    for classes, thresholds in (("all", {}), ("current", {}), (["class_1"], {"delta": 2.0})):
        mine = view.failure_modes(classes, **thresholds)
        theirs = explanation.failure_modes("all" if classes == "current" else classes, **thresholds)
        assert [(m.description, m.members.tolist(), m.drop) for m in mine] == [
            (m.description, m.members.tolist(), m.drop) for m in theirs
        ]
    assert view.explanation is explanation  # a delta override changed nothing
    view.close()
