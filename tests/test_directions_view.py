"""DirectionsView: state changes on class, K and caption clicks, linking, and bad inputs.

Synthetic CLIP-like embeddings with a planted failure direction per class, so the right
answer is known: "bird" and "cat" fail on a minority carrying ``+2.5 u[c]``; "ship" makes
no validation errors and is skipped.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import traitlets

from failwidgets.data import EvalSet
from failwidgets.methods.caption_words import CaptionWords
from failwidgets.methods.directions import FailureDirectionsResult
from failwidgets.modes import FailureMode
from failwidgets.widgets.directions import DirectionsView
from failwidgets.widgets.grid import ImageGrid

CLASS_NAMES = ["bird", "cat", "ship"]
PER_CLASS = {"train": 120, "val": 160, "test": 120, "extra": 80}
DIM = 16
GRASS = "on the grass"


def planted(seed: int = 0):
    rng = np.random.default_rng(seed)
    u = np.linalg.qr(rng.normal(size=(DIM, DIM)))[0][:, :3].T
    means = rng.normal(scale=0.5, size=(3, DIM))
    parts = []
    for split, n in PER_CLASS.items():
        for c in range(3):
            minority = rng.random(n) < 0.3
            x = means[c] + rng.normal(size=(n, DIM)) + 2.5 * minority[:, None] * u[c]
            wrong = rng.random(n) < np.where(minority, 0.7, 0.05)
            if c == 2:
                wrong[:] = False  # no errors: skipped ("0 errors in the validation split")
            parts.append((x, np.full(n, c), ~wrong, np.full(n, split), minority))
    X, labels, correct, split, minority = (np.concatenate(p) for p in zip(*parts))
    predictions = np.where(correct, labels, (labels + 1) % 3)
    images = np.zeros((len(labels), 8, 8, 3), dtype=np.uint8)
    images[..., 0] = (np.arange(len(labels)) % 256)[:, None, None]
    images[..., 1] = np.where(minority, 200, 40)[:, None, None]
    evalset = EvalSet.from_arrays(images, labels, predictions, CLASS_NAMES, split=split)
    return dict(X=X, minority=minority, u=u, evalset=evalset)


class PlantedTextEncoder:
    """Captions as vectors: a class base plus one vector per phrase ("on the grass" = hard)."""

    def __init__(self, u, seed: int = 1):
        rng = np.random.default_rng(seed)
        self.base = {name: 3 * rng.normal(size=DIM) / np.sqrt(DIM) for name in CLASS_NAMES}
        self.phrases = {
            GRASS: 3.0 * (u[0] + u[1]),
            "in the water": -3.0 * (u[0] + u[1]),
            **{p: 0.3 * rng.normal(size=DIM) / np.sqrt(DIM) for p in ("red", "blue", "inside")},
        }

    def encode_texts(self, texts):
        return np.array(
            [
                sum(b for name, b in self.base.items() if name in text)
                + sum(v for phrase, v in self.phrases.items() if phrase in text)
                for text in texts
            ]
        )


WORDS = CaptionWords(adjectives=("red", "blue"), prepositions=(GRASS, "in the water", "inside"))


@pytest.fixture(scope="module")
def world():
    return planted()


@pytest.fixture(scope="module")
def result(world):
    es = world["evalset"]
    return FailureDirectionsResult.from_arrays(
        world["X"],
        es.labels,
        es.correct,
        es.split,
        CLASS_NAMES,
        text_encoder=PlantedTextEncoder(world["u"]),
        caption_words=WORDS,
        n_jobs=1,
    )


@pytest.fixture(scope="module")
def plain_result(world):
    es = world["evalset"]
    return FailureDirectionsResult.from_arrays(
        world["X"], es.labels, es.correct, es.split, CLASS_NAMES, n_jobs=1
    )


@pytest.fixture
def view(world, result):
    return DirectionsView(world["evalset"], result, k=10, n_captions=3)


def caption_message(view, side="hard", rank=0, caption=None):
    if caption is None:
        caption = view.view_model()[side][rank]["caption"]
    return {"type": "caption", "side": side, "rank": rank, "caption": caption}


# ---------------------------------------------------------------- initial state
def test_initial_state_shows_the_strongest_class(world, view, result):
    strength = result.model.failure_strength_
    assert view.class_name == CLASS_NAMES[int(np.nanargmax(strength))]
    assert np.isnan(strength[2]) and "ship" in result.skipped
    c = view.class_index
    hard = result.most_aligned(c, k=10, split="test")
    easy = result.most_aligned(c, k=10, split="test", side="easy")
    np.testing.assert_array_equal(view.hard_strip.indices, hard.index)
    np.testing.assert_allclose(view.hard_strip.scores, hard.to_numpy())
    np.testing.assert_array_equal(view.easy_strip.indices, easy.index)
    assert view.hard_strip.page_size == 8 and view.hard_strip.title.startswith("Most negative")
    # the planted minority is what the direction finds
    assert world["minority"][view.hard_strip.indices].mean() >= 0.8
    assert world["minority"][view.easy_strip.indices].mean() <= 0.2
    model = view.view_model()
    assert model["class_name"] == view.class_name and model["skipped_reason"] is None
    assert model["k"] == 10 and len(model["hard"]) == 3 and len(model["easy"]) == 3
    assert GRASS in model["hard"][0]["caption"] and "in the water" in model["easy"][0]["caption"]
    assert model["checked"] == {} and model["selected"] is None
    assert view.panel.view_model == model
    json.dumps(model, allow_nan=False)
    assert view.selected_members.size == 0
    assert view.grid in view.children and view.grid.total == 0  # its own grid, empty


def test_chart_bars_show_every_class_and_the_selection(view, result):
    bars = view.chart.marks[0]
    assert list(bars.x) == CLASS_NAMES
    strength = result.model.failure_strength_
    np.testing.assert_allclose(bars.y[:2], strength[:2])
    assert bars.base == 0.5 and 0.5 < bars.y[2] < 0.52  # skipped: a short stub to click
    assert bars.colors[2] != bars.colors[0]
    assert list(bars.selected) == [view.class_index]
    labels = [label for label, _ in view._dropdown.options]
    assert labels[2] == "ship · no direction" and labels[0].startswith("bird · 0.")


# ---------------------------------------------------------------- class changes
def test_set_class_updates_strips_and_captions_but_not_the_grid(view, result):
    calls = []
    view.on_select(calls.append)
    view.grid.show([0, 1], title="kept")
    other = "cat" if view.class_name == "bird" else "bird"
    view.set_class(other)
    assert view.class_name == other and view._dropdown.value == other
    c = CLASS_NAMES.index(other)
    assert list(view.chart.marks[0].selected) == [c]
    np.testing.assert_array_equal(
        view.hard_strip.indices, result.most_aligned(c, k=10, split="test").index
    )
    assert (view.evalset.labels[view.hard_strip.indices] == c).all()
    assert other in view.hard_strip.title
    assert view.panel.view_model["class_name"] == other
    assert view.panel.view_model["hard"][0]["caption"].startswith("a photo of a ")
    assert other in view.panel.view_model["hard"][0]["caption"]
    assert calls == [] and view.grid.title == "kept"  # programmatic: the grid is untouched
    view.set_class(0)  # by index too
    assert view.class_name == "bird"


def test_user_class_change_selects_the_direction_tail(view, result):
    calls = []
    view.on_select(calls.append)
    view.set_class("bird")
    view._dropdown.value = "cat"  # as the browser does
    assert view.class_name == "cat"
    tail = result.most_aligned(1, k=10, split="test")
    np.testing.assert_array_equal(view.grid.indices, tail.index)
    np.testing.assert_allclose(view.grid.scores, tail.to_numpy())
    np.testing.assert_array_equal(view.selected_members, tail.index)
    assert len(calls) == 1 and isinstance(calls[0], FailureMode)
    assert calls[0].class_name == "cat" and calls[0].method == "directions"
    assert view.panel.view_model["tail_selected"] is True


def test_clicking_a_bar_selects_its_class(view):
    view.set_class("bird")
    bars = view.chart.marks[0]
    bars.selected = [1]  # a click on the "cat" bar
    assert view.class_name == "cat" and view._dropdown.value == "cat"
    assert view.grid.total == 10
    bars.selected = []  # a second click unselects in bqplot: the class stays highlighted
    assert view.class_name == "cat" and list(bars.selected) == [1]
    bars.selected = [2]  # the skipped class: its reason instead of strips
    assert view.class_name == "ship"
    assert view.grid.total == 0 and "no failure direction" in view.grid.title
    assert view.selected_members.size == 0


@pytest.mark.parametrize("selected", [[7], [-1], [0.5], ["cat"]])
def test_a_bar_selection_outside_the_chart_keeps_the_class(view, selected):
    """The chart's selection comes from the browser: a bar that does not exist (or -1, which
    used to pick the last class) changes nothing."""
    view.set_class("cat")
    bars = view.chart.marks[0]
    bars.selected = selected
    assert view.class_name == "cat" and list(bars.selected) == [1]
    assert view.grid.total == 0


def test_skipped_class_shows_its_reason_instead_of_strips(view, result):
    view.set_class("ship")
    model = view.view_model()
    assert model["skipped_reason"] == result.skipped["ship"]
    assert "0 errors" in model["skipped_reason"]
    assert model["hard"] == model["easy"] == [] and model["strength"] is None
    assert view.hard_strip.layout.display == "none" and view.easy_strip.layout.display == "none"
    assert view.hard_strip.total == 0
    with pytest.raises(ValueError, match="^class_name: .*no failure direction"):
        view.show_tail()
    view._on_panel_message(view.panel, {"type": "tail"}, [])  # ignored, no error
    view.set_class("bird")
    assert view.hard_strip.layout.display is None and view.hard_strip.total == 10


# ---------------------------------------------------------------- K
def test_k_updates_strips_slider_and_selection(view, result):
    view.set_class("bird")
    calls = []
    view.on_select(calls.append)
    view.show_tail()
    view._on_panel_message(view.panel, caption_message(view), [])
    assert len(calls) == 2
    view.k = 25
    assert view._slider.value == 25
    assert view.hard_strip.total == 25 and view.easy_strip.total == 25
    caption = view.view_model()["hard"][0]["caption"]
    assert view.panel.view_model["checked"][caption]["k"] == 25
    assert view.grid.total == 25 and view.selected_members.size == 25
    assert len(calls) == 3 and calls[-1].size == 25 and calls[-1].description == caption
    view._slider.value = 4  # the slider drives k
    assert view.k == 4 and view.hard_strip.total == 4
    view.k = 1000  # more than the class has: all of them, the slider grows
    assert view.hard_strip.total == PER_CLASS["test"] and view._slider.max >= 1000


def test_n_captions_updates_the_lists(view):
    view.n_captions = 5
    assert len(view.panel.view_model["hard"]) == 5
    view.n_captions = 1
    assert len(view.panel.view_model["easy"]) == 1


# ---------------------------------------------------------------- captions
def test_caption_click_shows_nearest_images_with_accuracy(world, view, result):
    view.set_class("bird")
    calls = []
    view.on_select(calls.append)
    message = caption_message(view, "hard", 0)
    caption = message["caption"]
    view._on_panel_message(view.panel, message, [])
    sub = result.caption_subpopulation(caption, cls="bird", k=10, split="test")
    np.testing.assert_array_equal(view.grid.indices, sub.indices)
    np.testing.assert_allclose(view.grid.scores, sub.similarities)
    assert caption in view.grid.title and "correct" in view.grid.title
    np.testing.assert_array_equal(view.selected_members, sub.indices)
    checked = view.panel.view_model["checked"][caption]
    assert checked["accuracy"] == pytest.approx(sub.accuracy)
    assert checked["n_correct"] == int(sub.correct.sum()) and checked["k"] == 10
    assert checked["accuracy_text"] == f"{100 * sub.accuracy:.0f}%"
    assert view.panel.view_model["selected"] == {"side": "hard", "rank": 0, "caption": caption}
    (mode,) = calls
    assert mode.description == caption and mode.accuracy == pytest.approx(sub.accuracy)
    test_bird = (view.evalset.split == "test") & (view.evalset.labels == 0)
    assert mode.drop == pytest.approx(view.evalset.correct[test_bird].mean() - sub.accuracy)
    # the hard caption points at the planted minority, where the model fails
    assert world["minority"][sub.indices].mean() >= 0.8
    assert sub.accuracy < view.evalset.correct[test_bird].mean() - 0.3
    # an easy caption's neighbours are mostly right; both checks stay listed
    view._on_panel_message(view.panel, caption_message(view, "easy", 0), [])
    model = view.panel.view_model
    assert len(model["checked"]) == 2 and model["selected"]["side"] == "easy"
    easy_caption = model["easy"][0]["caption"]
    assert model["checked"][easy_caption]["accuracy"] > checked["accuracy"]


def test_stale_or_malformed_caption_messages_are_refused_with_an_error(view, monkeypatch):
    view.set_class("bird")
    good = caption_message(view)
    sent = []
    monkeypatch.setattr(view.panel, "send", lambda content, buffers=None: sent.append(content))
    for bad, error in (
        ({**good, "caption": "a photo of something else"}, "^rank: hard caption 0 is not"),
        ({**good, "rank": 99}, "^rank: hard caption 99"),
        ({**good, "rank": True}, "^rank: expected an integer, got bool"),
        ({**good, "rank": "0"}, "^rank: expected an integer, got str"),
        ({**good, "side": "sideways"}, "^side: expected 'hard' or 'easy'"),
        ({"type": "unknown"}, "^type: expected 'caption' or 'tail'"),
        ("not a dict", "^message: expected a JSON object"),
    ):
        view._on_panel_message(view.panel, bad, [])
        assert sent[-1]["type"] == "error" and re.match(error, sent[-1]["error"]), sent[-1]
    assert len(sent) == 7
    assert view.grid.total == 0 and view.selected_members.size == 0
    assert view.panel.view_model["checked"] == {}
    view.set_class("ship")  # skipped: no direction, so no tail to show
    view._on_panel_message(view.panel, {"type": "tail"}, [])
    assert re.match("^tail: class 'ship' has no failure direction", sent[-1]["error"])
    assert view.grid.total == 0
    with pytest.raises(traitlets.TraitError, match="^view_model: set by the kernel only"):
        view.panel.set_state({"view_model": {"class_name": "cat"}})
    assert view.panel.view_model["class_name"] == "ship"


def test_any_caption_can_be_checked_and_class_change_forgets_checks(view):
    view.set_class("bird")
    mode = view.select_caption("a photo of a bird flying")
    assert mode.size == 10 and view.panel.view_model["selected"]["side"] is None
    assert "a photo of a bird flying" in view.panel.view_model["checked"]
    view.set_class("cat")
    assert view.panel.view_model["checked"] == {} and view.selected_members.size == 0
    with pytest.raises(TypeError, match="^caption:"):
        view.select_caption("  ")


def test_without_a_text_encoder_images_only(world, plain_result):
    view = DirectionsView(world["evalset"], plain_result, k=5, class_name="bird")
    model = view.view_model()
    why = plain_result.caption_reason("bird")
    assert why.startswith("no text encoder: captions need one")
    assert model["hard"] == model["easy"] == [] and model["captions_note"] == f"N{why[1:]}."
    empty = view.captions("easy")
    assert empty.empty and empty.reason == why and why in repr(empty)
    assert view.hard_strip.total == 5
    with pytest.raises(ValueError, match="^caption: .*text encoder"):
        view.select_caption("a photo of a bird")
    modes = view.failure_modes()
    assert [m.description for m in modes][0].startswith("failure direction of bird")


# ---------------------------------------------------------------- linking
def test_failure_modes_one_per_class_with_a_direction(view, result):
    view.k = 12
    modes = view.failure_modes("all")
    assert [m.class_name for m in modes] == ["bird", "cat"]  # ship has no direction
    es = view.evalset
    for c, mode in enumerate(modes):
        tail = result.most_aligned(c, k=12, split="test")
        np.testing.assert_array_equal(mode.members, tail.index)
        assert mode.accuracy == pytest.approx(es.correct[mode.members].mean())
        in_class = (es.split == "test") & (es.labels == c)
        assert mode.drop == pytest.approx(es.correct[in_class].mean() - mode.accuracy)
        assert mode.drop > 0.3
        assert mode.description == result.captions(c, k=1)["caption"][0]
        assert GRASS in mode.description
        assert mode.heldout_drop is None


def test_failure_modes_of_one_class(view):
    everything = {m.class_name: m for m in view.failure_modes("all")}
    for name in ("bird", 1):
        (mode,) = view.failure_modes(name)
        expected = everything["bird" if name == "bird" else "cat"]
        np.testing.assert_array_equal(mode.members, expected.members)
        assert (mode.description, mode.drop) == (expected.description, expected.drop)
    assert view.failure_modes("ship") == []  # no direction, and it says so
    assert view.failure_modes("ship").reason.startswith("class 'ship' has no failure dir")
    view.set_class("cat")
    (current,) = view.failure_modes()  # the selected class by default
    assert current.class_name == "cat"
    with pytest.raises(ValueError, match="unknown class 'plane'"):
        view.failure_modes("plane")


def test_failure_modes_with_another_k_leave_the_view_alone(view, result):
    view.set_class("bird")
    (mode,) = view.failure_modes(k=7)
    np.testing.assert_array_equal(mode.members, result.most_aligned("bird", k=7).index)
    assert view.k == 10 and view.hard_strip.total == 10
    with pytest.raises(ValueError, match="^k: must be >= 1"):
        view.failure_modes(k=0)
    with pytest.raises(TypeError, match="^n_captions: not a threshold"):
        view.failure_modes(n_captions=3)


def test_heldout_drop_reapplies_the_direction(world, result):
    view = DirectionsView(world["evalset"], result, k=10, heldout_split="extra")
    es = view.evalset
    for c, mode in enumerate(view.failure_modes("all")):
        # the rule: decision value below the threshold between the K-th and next value
        values = result.decision_values(c, "test").sort_values(kind="stable")
        threshold = (values.iloc[9] + values.iloc[10]) / 2
        extra = result.decision_values(c, "extra")
        held = extra.index[extra.to_numpy() <= threshold]
        in_class = (es.split == "extra") & (es.labels == c)
        expected = es.correct[in_class].mean() - es.correct[held].mean()
        assert mode.heldout_drop == pytest.approx(expected) and mode.heldout_drop > 0.3


def test_the_views_failure_modes_are_the_results(world, result):
    view = DirectionsView(world["evalset"], result, k=9, class_name="cat")
    for classes, thresholds in (("all", {}), ("cat", {}), (["bird", 2], {"k": 4})):
        got = view.failure_modes(classes, **thresholds)
        want = view.result.failure_modes(classes, **{"k": 9, **thresholds})
        assert [(m.class_name, m.description, m.drop) for m in got] == [
            (m.class_name, m.description, m.drop) for m in want
        ]
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a.members, b.members)
    assert view.failure_modes("ship").reason == result.failure_modes("ship").reason
    assert view.result is result  # the view's splits are the result's: no copy


def test_the_views_splits_go_to_a_copy_of_the_result(world, result):
    view = DirectionsView(world["evalset"], result, k=6, split="extra", heldout_split="test")
    assert view.split == "extra" and view.result is not result
    assert (view.result.mode_split, view.result.heldout_split) == ("extra", "test")
    assert (result.mode_split, result.heldout_split) == ("test", None)  # the given: unchanged
    assert view.result.model is result.model  # the fits are shared
    (mode,) = view.failure_modes()
    expected = result.with_splits(mode_split="extra", heldout_split="test").failure_modes(
        view.class_name, k=6
    )[0]
    np.testing.assert_array_equal(mode.members, expected.members)
    assert mode.heldout_drop == pytest.approx(expected.heldout_drop)
    assert (view.evalset.split[view.hard_strip.indices] == "extra").all()
    assert view.view_model()["split"] == "extra"
    with pytest.raises(ValueError, match="^heldout_split: must differ from mode_split"):
        DirectionsView(world["evalset"], result, split="extra", heldout_split="extra")


def test_shared_grid_is_used_and_not_shown(world, result):
    shared = ImageGrid(world["evalset"], [])
    view = DirectionsView(world["evalset"], result, grid=shared, class_name="cat")
    assert view.grid is shared and shared not in view.children
    view.show_tail()
    assert shared.total == 20


def test_class_dropdown_and_k_slider_are_linked_both_ways(view, result):
    dropdown, slider = view._dropdown, view._slider
    view.class_name = "cat"
    assert dropdown.value == "cat" and view.grid.total == 0  # set from Python: no selection
    dropdown.value = "bird"  # as the browser does: the class follows, its tail is selected
    assert view.class_name == "bird" and view.grid.total == 10
    view.k = 33
    assert slider.value == 33 and view.hard_strip.total == 33
    slider.value = 4
    assert view.k == 4 and view.hard_strip.total == 4
    view.set_class(2)
    assert dropdown.value == "ship"
    view.k = 500  # beyond the slider: its range widens
    assert slider.max >= 500 and slider.value == 500
    assert view.thresholds() == {"k": 500}


def test_show_controls_false_hides_the_selector_and_slider(view):
    assert view._dropdown in view.children[0].children
    assert view._dropdown.layout.display is None and view._slider.layout.display is None
    view.show_controls = False  # the Explorer shows them once, in its own panel
    assert view._dropdown.layout.display == "none" and view._slider.layout.display == "none"
    view.class_name, view.k = "cat", 6  # the view still follows its traits
    assert view.hard_strip.total == 6 and view.panel.view_model["class_name"] == "cat"
    view.show_controls = True
    assert view._dropdown.layout.display is None


def test_show_controls_false_from_the_start(world, result):
    view = DirectionsView(world["evalset"], result, k=5, show_controls=False)
    assert view._dropdown.layout.display == "none" and view._slider.layout.display == "none"
    assert view.hard_strip.total == 5 and view.panel.view_model["class_name"] == view.class_name


def test_a_refused_class_from_the_browser_is_put_back(view):
    view.set_class("cat")
    with pytest.raises(traitlets.TraitError):
        view._dropdown.value = "dog"  # not an option: the dropdown itself refuses
    assert view.class_name == "cat" and view._dropdown.value == "cat"


def test_on_select_needs_a_callable(view):
    with pytest.raises(TypeError, match="^callback:"):
        view.on_select("print")


# ---------------------------------------------------------------- bad inputs
@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"k": 0}, ValueError, "k"),
        ({"k": 2.5}, TypeError, "k"),
        ({"k": True}, TypeError, "k"),
        ({"n_captions": 0}, ValueError, "n_captions"),
        ({"split": "nope"}, ValueError, "split"),
        ({"split": 3}, TypeError, "split"),
        ({"heldout_split": "nope"}, ValueError, "heldout_split"),
        ({"class_name": "dog"}, ValueError, "class_name"),
        ({"class_name": 7}, ValueError, "class_name"),
        ({"class_name": 1.5}, TypeError, "class_name"),
        ({"strip_size": 0}, ValueError, "strip_size"),
        ({"strip_size": 51}, ValueError, "strip_size"),
        ({"grid": "grid"}, TypeError, "grid"),
    ],
)
def test_bad_arguments_raise_clear_errors(world, result, kwargs, error, name):
    with pytest.raises(error, match=f"^{name}:"):
        DirectionsView(world["evalset"], result, **kwargs)


def test_bad_evalset_result_and_grid(world, result):
    es = world["evalset"]
    with pytest.raises(TypeError, match="^evalset:"):
        DirectionsView(es.labels, result)
    with pytest.raises(TypeError, match="^result:"):
        DirectionsView(es, {"bird": 0.8})
    other = EvalSet.from_arrays(
        es.images_at(np.arange(es.n)), es.labels, es.labels, CLASS_NAMES, split=es.split
    )
    with pytest.raises(ValueError, match="^result: .*differ"):
        DirectionsView(other, result)
    with pytest.raises(ValueError, match="^grid:"):
        DirectionsView(es, result, grid=ImageGrid(other))
    small = es.subset(np.arange(10))
    with pytest.raises(ValueError, match="^result: "):
        DirectionsView(small, result)


def test_bad_assignments_raise_clear_errors(view):
    with pytest.raises(ValueError, match="^k:"):
        view.k = -1
    with pytest.raises(TypeError, match="^k:"):
        view.k = "5"
    # None goes through the checks too (a traitlets.Any used to store it unchecked)
    with pytest.raises(TypeError, match="^k: expected an integer, got NoneType") as info:
        view.k = None
    assert isinstance(info.value, traitlets.TraitError)
    with pytest.raises(TypeError, match="^n_captions: expected an integer, got NoneType"):
        view.n_captions = None
    view.n_captions = 1
    with pytest.raises(TypeError, match="^n_captions: expected an integer, got bool"):
        view.n_captions = True  # equal to 1, which used to skip the check
    with pytest.raises(TypeError, match="^n_captions: expected an integer, got float"):
        view.n_captions = 1.0
    assert type(view.n_captions) is int
    with pytest.raises(ValueError, match="^class_name:"):
        view.class_name = "dog"
    with pytest.raises(ValueError, match="^class_name: unknown class 'dog'"):
        view.set_class("dog")
    with pytest.raises(TypeError, match="^class_name: expected a class name or index"):
        view.set_class(None)
    with pytest.raises(ValueError, match="^side:"):
        view.captions("middle")
    assert view.k == 10  # unchanged


def test_a_class_without_captions_says_why(world, result):
    """Caption words with no adjective and no preposition give no candidate caption: the
    panel shows the result's reason instead of empty lists; so do skipped classes."""
    from failwidgets.methods.caption_words import CaptionWords

    es = world["evalset"]
    bare = FailureDirectionsResult.from_arrays(
        world["X"], es.labels, es.correct, es.split, CLASS_NAMES,
        text_encoder=PlantedTextEncoder(world["u"]),
        caption_words=CaptionWords(adjectives=(), prepositions=()), n_jobs=1,
    )  # fmt: skip
    view = DirectionsView(es, bare, k=5, class_name="bird")
    model = view.view_model()
    why = bare.caption_reason("bird")
    assert why == "the caption words give no candidate caption for class 'bird'"
    assert model["hard"] == model["easy"] == [] and model["skipped_reason"] is None
    assert model["captions_note"] == f"T{why[1:]}."
    assert view.captions("hard").reason == why
    view.set_class("ship")  # skipped: the panel shows the skip reason, the note agrees
    model = view.view_model()
    assert model["skipped_reason"] == bare.skipped["ship"]
    assert model["captions_note"] == f"C{bare.caption_reason('ship')[1:]}."
    assert view.captions("easy").reason == bare.caption_reason("ship")
    # with captions there is no note
    full = DirectionsView(es, result, k=5, class_name="bird")
    assert full.view_model()["captions_note"] is None and full.view_model()["hard"]
