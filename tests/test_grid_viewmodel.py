"""The ImageGrid's pure view model (failwidgets/viewmodels/grid.py), tested without widgets."""

from __future__ import annotations

import ast
import pathlib

import numpy as np
import pytest

from failwidgets.data import EvalSet
from failwidgets.viewmodels import grid as vm
from failwidgets.viewmodels.grid import GridContent, LabelFlags


@pytest.fixture
def evalset():
    # labels 0,1,2,0,1,2,...; samples 1 and 4 wrong (predicted as the next class)
    labels = np.arange(9) % 3
    predictions = labels.copy()
    predictions[[1, 4]] = [2, 0]
    images = np.zeros((9, 4, 4, 3), dtype=np.uint8)
    return EvalSet.from_arrays(images, labels, predictions, ["cat", "dog", "eel"])


class FakeThumbnails:
    """get_many like ThumbnailCache's; sample 5 fails to load."""

    def get_many(self, indices):
        thumbs = [None if i == 5 else f"img{i}".encode() for i in indices]
        return thumbs, {5: "broken file"}


def test_the_module_imports_no_widget_library():
    source = pathlib.Path(vm.__file__).read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert not imported & {"ipywidgets", "traitlets", "anywidget", "jscatter"}


def test_format_score_and_unique_in_order():
    assert vm.format_score(0.123456) == "0.123"
    assert vm.format_score(float("nan")) == "—"
    assert (vm.format_score(float("inf")), vm.format_score(-float("inf"))) == ("∞", "−∞")
    assert vm.unique_in_order(np.array([5, 2, 5, 7, 2])).tolist() == [5, 2, 7]


def test_check_index_array_accepts_integer_sequences_only():
    out = vm.check_index_array(range(3), "selected")
    assert out.dtype == np.int64 and out.tolist() == [0, 1, 2] and not out.flags.writeable
    assert vm.check_index_array([], "selected").dtype == np.int64
    source = np.array([4, 1])
    copy = vm.check_index_array(source, "selected")
    source[0] = 9
    assert copy.tolist() == [4, 1]  # a private copy
    for bad, message in [
        (3, "selected: expected a sequence of sample indices, got int"),
        ("12", "expected a sequence of sample indices, got str"),
        ([1, True], "expected a list of integer sample indices, got bool"),
        ([1.0, 2.0], "got float"),
        (np.array([0.5]), "got float64"),
        (np.zeros((2, 2), dtype=int), r"expected a 1-D sequence, got shape \(2, 2\)"),
    ]:
        with pytest.raises(TypeError, match=message):
            vm.check_index_array(bad, "selected")


def test_pages_and_their_bounds():
    assert vm.n_pages(0, 10) == 1 and vm.n_pages(21, 10) == 3 and vm.n_pages(5, 0) == 5
    assert vm.page_bounds(2, 10, 21) == (20, 21)
    assert vm.page_bounds(9, 10, 21) == (20, 21)  # past the end: the last page
    assert vm.page_bounds(-1, 10, 21) == (0, 10)
    with pytest.raises(TypeError, match="page: expected an integer"):
        vm.page_bounds("1", 10, 21)


def test_subset_checks_name_the_argument(evalset):
    indices, scores = vm.check_subset(evalset, [3, 1], [0.5, 0.25])
    assert indices.tolist() == [3, 1] and scores.tolist() == [0.5, 0.25]
    assert not indices.flags.writeable and not scores.flags.writeable
    assert vm.check_subset(evalset, None, None)[0].tolist() == list(range(9))
    with pytest.raises(ValueError, match="scores: 1 scores for 2 indices"):
        vm.check_subset(evalset, [3, 1], [0.5])
    with pytest.raises(TypeError, match="indices: expected a sequence"):
        vm.check_subset(evalset, 3, None)
    with pytest.raises(TypeError, match="scores: expected numbers"):
        vm.check_subset(evalset, [3, 1], ["a", "b"])


def test_sort_orders_are_stable_with_nan_last_both_ways(evalset):
    content = GridContent(evalset, [0, 1, 2, 3, 4], [2.0, np.nan, 1.0, 2.0, 0.5])
    assert content.display_indices("none").tolist() == [0, 1, 2, 3, 4]
    assert content.display_indices("asc").tolist() == [4, 2, 0, 3, 1]
    assert content.display_indices("desc").tolist() == [0, 3, 2, 4, 1]
    indices, scores = content.display_slice("desc", 1, 3)
    assert indices.tolist() == [3, 2] and scores.tolist() == [2.0, 1.0]
    assert GridContent(evalset, [0, 1]).order("asc") is None  # no scores: as given
    assert content.is_distinct() and not GridContent(evalset, [1, 2, 1]).is_distinct()


def test_counts_of_the_subset(evalset):
    content = GridContent(evalset, [0, 1, 4, 4], label_issues=[4, 8])
    assert content.counts() == {
        "total": 4,
        "has_scores": False,
        "n_incorrect": 3,
        "n_label_issues": 2,
    }


def test_page_items_carry_labels_scores_badges_and_buffers(evalset):
    flags = LabelFlags(np.isin(np.arange(9), [4]), suggested=np.full(9, 1), quality=np.full(9, 0.2))
    content = GridContent(evalset, [4, 5, 0], [np.inf, 0.5, np.nan])
    content.flags = flags
    items, buffers = content.page_items("none", 0, 3, FakeThumbnails())
    assert buffers == [b"img4", b"img0"]
    first, broken, last = items
    assert first == {
        "position": 0,
        "index": 4,
        "label": "dog",
        "prediction": "cat",
        "correct": False,
        "score": None,  # not finite
        "score_text": "∞",
        "label_issue": {"suggested": "dog", "quality": 0.2},
        "buffer": 0,
    }
    assert broken["buffer"] == -1 and broken["error"] == "broken file"
    assert broken["score"] == 0.5 and broken["label_issue"] is None and broken["correct"]
    assert last["buffer"] == 1 and last["score_text"] == "—" and last["position"] == 2


def test_clicks_replace_toggle_and_span_ranges_in_display_order(evalset):
    content = GridContent(evalset, [8, 6, 4, 2, 0], [5.0, 4.0, 3.0, 2.0, 1.0])
    selected = np.zeros(0, dtype=np.int64)

    def click(mode, position, index=None, sort="asc"):
        nonlocal selected
        result = content.click(mode, position, index, sort=sort, selected=selected)
        if result is not None:
            selected = result
            content.set_selected(selected)
        return result

    # display order (asc): 0, 2, 4, 6, 8
    assert click("replace", 1, 2).tolist() == [2] and content.anchor == 1
    assert click("range", 3, 6).tolist() == [2, 4, 6] and content.anchor == 1  # anchor stays
    assert click("toggle", 4, 8).tolist() == [2, 4, 6, 8] and content.anchor == 4
    assert click("toggle", 2, 4).tolist() == [2, 6, 8]
    assert click("range-add", 3, 6).tolist() == [2, 6, 8, 4]  # 4..6 added, no repeats
    assert click("replace", 0, 9) is None  # position 0 shows sample 0: a stale click
    assert click("replace", 5, 0) is None  # past the end
    assert selected.tolist() == [2, 6, 8, 4]
    assert click("clear", None).tolist() == [] and content.anchor is None
    assert click("range", 2, 4).tolist() == [4]  # no anchor: a range selects one
    with pytest.raises(ValueError, match="mode: expected one of"):
        click("lasso", 0)


def test_a_range_over_repeated_indices_selects_each_once(evalset):
    content = GridContent(evalset, [3, 1, 3, 2])
    selected = content.click("replace", 0, 3, sort="none", selected=np.zeros(0, np.int64))
    content.set_selected(selected)
    span = content.click("range", 3, 2, sort="none", selected=selected)
    assert span.tolist() == [3, 1, 2]


def test_selection_checks_and_kept_part(evalset):
    content = GridContent(evalset)
    assert content.check_selected(np.array([4, 2, 4])).tolist() == [4, 2]
    with pytest.raises(ValueError, match="selected: index 9 outside 0..8"):
        content.check_selected(np.array([1, 9]))
    with pytest.raises(ValueError, match="selected: index -1 outside"):
        content.check_selected(np.array([-1]))
    mask = content.set_selected(np.array([7, 3]))
    assert np.flatnonzero(mask).tolist() == [3, 7] and content.mask is mask
    assert content.kept_selection(np.array([7, 3, 5]), np.array([5, 7])).tolist() == [7, 5]


def test_label_flags_from_masks_indices_and_errors(evalset):
    assert not LabelFlags.check(None, evalset)
    assert np.flatnonzero(LabelFlags.check([2, 5], evalset).mask).tolist() == [2, 5]
    mask = np.zeros(9, dtype=bool)
    mask[1] = True
    flags = LabelFlags.check(mask, evalset)
    assert flags.item(1, ["a", "b", "c"]) == {"suggested": None, "quality": None}
    assert flags.item(0, ["a", "b", "c"]) is None
    with pytest.raises(TypeError, match="label_issues: expected LabelIssues"):
        LabelFlags.check("all", evalset)
    nan_quality = LabelFlags(mask, suggested=np.zeros(9, int), quality=np.full(9, np.nan))
    assert nan_quality.item(1, ["a", "b", "c"]) == {"suggested": "a", "quality": None}
