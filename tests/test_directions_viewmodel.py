"""The DirectionsView's view model, without widgets: bars, labels, strips, captions, clicks.

The planted world of ``test_directions_view``: "bird" and "cat" fail on a minority carrying
``+2.5 u[c]`` (captions "on the grass" point at it); "ship" makes no validation errors and is
skipped.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from test_directions_view import CLASS_NAMES, GRASS, WORDS, PlantedTextEncoder, planted

from failwidgets.methods.directions import FailureDirectionsResult
from failwidgets.viewmodels import directions as vm


@pytest.fixture(scope="module")
def world():
    return planted()


def _result(world, **params):
    es = world["evalset"]
    return FailureDirectionsResult.from_arrays(
        world["X"], es.labels, es.correct, es.split, CLASS_NAMES, n_jobs=1, **params
    )


@pytest.fixture(scope="module")
def result(world):
    return _result(world, text_encoder=PlantedTextEncoder(world["u"]), caption_words=WORDS)


def test_the_view_model_imports_no_widgets():
    import subprocess

    code = (
        "import sys, failwidgets.viewmodels.directions; "
        "print(sorted(m for m in ('ipywidgets', 'anywidget', 'traitlets', 'bqplot') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_bars_labels_and_chart_options_follow_the_fits(world, result):
    drawn = vm.bars(result)
    strength = result.model.failure_strength_
    np.testing.assert_allclose(drawn.heights[:2], strength[:2])
    assert drawn.heights[2] == pytest.approx(vm.CHANCE + vm.SKIPPED_STUB)  # skipped: a stub
    assert drawn.colors == [vm.BAR_COLOR, vm.BAR_COLOR, vm.SKIPPED_BAR_COLOR]
    assert drawn.title == "Failure strength per class" and drawn.low == 0.4
    np.testing.assert_allclose(drawn.ticks, [0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    labels = [label for label, _ in vm.class_options(result)]
    assert labels[0] == f"bird · {strength[0]:.2f}" and labels[2] == "ship · no direction"
    assert [name for _, name in vm.class_options(result)] == CLASS_NAMES
    options = vm.chart_options(result)
    assert options["bars"]["x"] == CLASS_NAMES and options["bars"]["base"] == 0.5
    assert options["y_scale"] == {"min": 0.4, "max": 1.0}
    assert options["x_axis"]["tick_rotate"] == 0  # three classes: upright labels
    # nothing fitted yet: pending bars, labels and title say so
    lazy = _result(world, classes=[0])
    drawn = vm.bars(lazy)
    assert drawn.colors == [vm.BAR_COLOR, vm.PENDING_BAR_COLOR, vm.SKIPPED_BAR_COLOR]
    assert drawn.title == "Failure strength per class (1 fitted; others when opened)"
    assert vm.class_options(lazy)[1][0] == "cat · fitted when opened"


@pytest.mark.parametrize(
    ("selected", "picked"),
    [([1], 1), ([0], None), ([0, 1], 1), ([1, 0], 0), ([], None), ([3], None), ([-1], None),
     ([2.0], 2), ([0.5], None), (["cat"], None), ([True], None), ([np.int64(2)], 2)],
)  # fmt: skip
def test_a_bar_click_picks_a_class_only_when_it_names_another_bar(selected, picked):
    assert vm.picked_bar(selected, current=0, n_bars=3) == picked


def test_strips_show_the_tails_or_hide_for_skipped_and_pending(world, result):
    hard, easy = vm.strips(result, 0, 6)
    expected = result.most_aligned(0, k=6)
    np.testing.assert_array_equal(hard.indices, expected.index)
    np.testing.assert_allclose(hard.scores, expected.to_numpy())
    assert hard.title == "Most negative (hardest): 6 test images of bird"
    assert easy.title == "Most positive (easiest): 6 test images of bird"
    assert (easy.scores >= hard.scores.max()).all() and hard.display is easy.display is None
    assert world["minority"][hard.indices].mean() >= 0.8  # the planted failure
    for shown in (vm.strips(result, 2, 6), vm.strips(_result(world, classes=[]), 0, 6)):
        assert [(s.indices.size, s.title, s.display) for s in shown] == [(0, "", "none")] * 2
    on_extra = vm.strips(result.with_splits(mode_split="extra"), 0, 4)[0]
    assert on_extra.title == "Most negative (hardest): 4 extra images of bird"


def test_captions_and_why_there_are_none(world, result):
    table = vm.caption_table(result, 0, "hard", 2)
    assert len(table) == 2 and GRASS in table["caption"][0]
    skipped = vm.caption_table(result, 2, "easy", 2)
    assert skipped.empty and skipped.reason.startswith("class 'ship' has no failure direction")
    plain = _result(world)  # no text encoder: empty, with the reason (the result raises)
    assert vm.caption_table(plain, 0, "hard", 3).reason.startswith("no text encoder")
    with pytest.raises(ValueError, match="^side: expected 'hard' or 'easy'"):
        vm.caption_table(result, 0, "middle", 3)


def test_selection_shows_the_tail_and_checked_captions(world, result):
    selection = vm.Selection()
    selection.choose_tail(result, 0)
    mode, scores, title = selection.show(result, 0, 8)
    np.testing.assert_array_equal(mode.members, result.most_aligned(0, k=8).index)
    np.testing.assert_allclose(scores, result.most_aligned(0, k=8).to_numpy())
    assert title.startswith("bird: the 8 test images with the most negative decision values")
    assert title.endswith(f"· {100 * mode.accuracy:.0f}% correct")
    caption = f"a photo of a bird {GRASS}"
    selection.choose_caption(result, caption)
    mode, scores, title = selection.show(result, 0, 8)
    sub = result.caption_subpopulation(caption, cls=0, k=8)
    np.testing.assert_array_equal(mode.members, sub.indices)
    np.testing.assert_allclose(scores, sub.similarities)
    assert title.startswith(f"“{caption}”: its 8 nearest test images of bird")
    assert list(selection.checked) == [caption] and len(selection.checked[caption].indices) == 8
    selection.recheck(result, 0, 3)
    assert len(selection.checked[caption].indices) == 3
    selection.reset()
    assert selection.current is None and selection.checked == {}
    with pytest.raises(ValueError, match="^class_name: class 'ship' has no failure direction"):
        selection.choose_tail(result, 2)
    with pytest.raises(TypeError, match="^caption: expected a non-empty string"):
        selection.choose_caption(result, " ")
    with pytest.raises(ValueError, match="^caption: checking a caption needs"):
        selection.choose_caption(_result(world), caption)


def test_panel_view_model_of_a_class_with_a_checked_caption(world, result):
    selection = vm.Selection()
    hard = vm.caption_table(result, 0, "hard", 3)["caption"].tolist()
    selection.choose_caption(result, hard[1])
    selection.show(result, 0, 5)
    model = vm.panel_view_model(result, 0, k=5, n_captions=3, pending=False, selection=selection)
    json.dumps(model, allow_nan=False)
    assert [e["caption"] for e in model["hard"]] == hard and len(model["easy"]) == 3
    assert model["hard"][0]["score_text"] == vm.format_score(model["hard"][0]["score"])
    assert model["selected"] == {"side": "hard", "rank": 1, "caption": hard[1]}
    sub = selection.checked[hard[1]]
    assert model["checked"][hard[1]] == {
        "accuracy": pytest.approx(sub.accuracy),
        "accuracy_text": f"{100 * sub.accuracy:.0f}%",
        "n_correct": int(sub.correct.sum()),
        "k": 5,
    }
    es = world["evalset"]
    in_class = (es.split == "test") & (es.labels == 0)
    assert model["class_accuracy_text"] == f"{100 * es.correct[in_class].mean():.0f}%"
    assert model["split"] == "test" and model["captions_note"] is None
    assert model["strength_text"] == f"{result.model.failure_strength_[0]:.3f}"
    assert model["tail_selected"] is False and model["pending"] is False
    skipped = vm.panel_view_model(
        result, 2, k=5, n_captions=3, pending=False, selection=vm.Selection()
    )
    assert skipped["strength"] is None and skipped["strength_text"] == "—"
    assert skipped["captions_note"] == f"C{result.caption_reason(2)[1:]}."
    pending = vm.panel_view_model(
        _result(world, classes=[]), 0, k=5, n_captions=3, pending=True, selection=vm.Selection()
    )
    assert pending["hard"] == [] and pending["strength_text"] == "…"
    assert pending["captions_note"] == "Fitting the failure direction of bird…"


def test_panel_requests_are_read_or_refused_naming_the_field(result):
    hard = vm.caption_table(result, 0, "hard", 3)["caption"].tolist()

    def request(content, c=0):
        return vm.panel_request(content, result, c, 3)

    assert request({"type": "tail"}) == ("tail",)
    good = {"type": "caption", "side": "hard", "rank": 2, "caption": hard[2]}
    assert request(good) == ("caption", hard[2])
    for content, c, error in (
        ({"type": "tail"}, 2, "^tail: class 'ship' has no failure direction"),
        ({"type": "zoom"}, 0, "^type: expected 'caption' or 'tail', got 'zoom'"),
        ({**good, "side": "left"}, 0, "^side: expected 'hard' or 'easy', got 'left'"),
        ({**good, "rank": True}, 0, "^rank: expected an integer, got bool"),
        ({**good, "rank": 3}, 0, "^rank: hard caption 3 is not"),
        ({**good, "caption": "a photo"}, 0, "^rank: hard caption 2 is not 'a photo'"),
        (good, 2, "^caption: class 'ship' has no captions to click"),
    ):
        with pytest.raises(vm.ClickError, match=error):
            request(content, c)
    long = {"type": "x" * 200}
    with pytest.raises(vm.ClickError) as info:
        request(long)
    assert len(str(info.value)) < 150  # the browser's value is cut
