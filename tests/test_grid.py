"""ImageGrid widget: Python-side state, paging, sorting, selection and validation."""

import io
import json
import re

import numpy as np
import pytest
import traitlets
from PIL import Image

from failwidgets.data import EvalSet
from failwidgets.widgets import ImageGrid
from failwidgets.widgets.grid import format_score

EVIL = "<img src=x onerror=alert(1)>"


def make_evalset(n=30, size=12, class_names=("cat", "dog", EVIL)) -> EvalSet:
    """Image i is a solid colour whose red channel is i (so thumbnails identify their sample)."""
    images = np.zeros((n, size, size, 3), dtype=np.uint8)
    images[..., 0] = np.arange(n, dtype=np.uint8)[:, None, None] * 5
    images[..., 1] = 100
    labels = np.arange(n) % 3
    predictions = labels.copy()
    predictions[::4] = (labels[::4] + 1) % 3  # every 4th sample is wrong
    return EvalSet.from_arrays(
        images=images, labels=labels, predictions=predictions, class_names=list(class_names)
    )


@pytest.fixture
def evalset():
    return make_evalset()


def red_of(data: bytes) -> int:
    with Image.open(io.BytesIO(data)) as image:
        return int(np.asarray(image.convert("RGB"))[..., 0].mean().round())


# ---------------------------------------------------------------- construction and state
def test_defaults_show_all_samples(evalset):
    grid = ImageGrid(evalset)
    assert grid.total == 30
    assert grid.page == 0 and grid.page_size == 100 and grid.n_pages == 1
    assert grid.has_scores is False and grid.scores is None
    assert grid.n_incorrect == int((~evalset.correct).sum()) == 8
    np.testing.assert_array_equal(grid.indices, np.arange(30))
    assert grid.selected.tolist() == []


def test_indices_and_scores_are_read_only_copies(evalset):
    idx = np.array([5, 3, 3, 9])
    scores = np.array([0.1, 0.2, 0.3, 0.4])
    grid = ImageGrid(evalset, idx, scores)
    idx[0] = 0
    scores[0] = 99.0
    assert grid.indices[0] == 5 and grid.scores[0] == 0.1
    with pytest.raises(ValueError):
        grid.indices[0] = 1
    with pytest.raises(ValueError):
        grid.scores[0] = 1.0


def test_boolean_mask_selects_samples(evalset):
    grid = ImageGrid(evalset, evalset.incorrect)
    np.testing.assert_array_equal(grid.indices, np.flatnonzero(~evalset.correct))
    assert grid.n_incorrect == grid.total == 8


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"indices": [0, 30]}, ValueError, "indices"),
        ({"indices": [-1, 2]}, ValueError, "indices"),
        ({"indices": [0.5, 2.0]}, TypeError, "indices"),
        ({"indices": ["a", "b"]}, TypeError, "indices"),
        ({"indices": [[0, 1]]}, ValueError, "indices"),
        ({"indices": 3}, TypeError, "indices"),
        ({"indices": np.ones(7, bool)}, ValueError, "indices"),
        ({"indices": [0, 1], "scores": [0.1]}, ValueError, "scores"),
        ({"indices": [0, 1], "scores": ["x", "y"]}, TypeError, "scores"),
        ({"indices": [0, 1], "scores": [[0.1, 0.2]]}, ValueError, "scores"),
        ({"page_size": 0}, ValueError, "page_size"),
        ({"page_size": -3}, ValueError, "page_size"),
        ({"page_size": 1001}, ValueError, "page_size"),
        ({"page_size": 2.5}, TypeError, "page_size"),
        ({"thumb_size": 4}, ValueError, "thumb_size"),
        ({"thumb_size": "96"}, TypeError, "thumb_size"),
        ({"sort": "up"}, ValueError, "sort"),
        ({"sort": "desc"}, ValueError, "sort"),  # no scores to sort by
        ({"selected": [31]}, ValueError, "selected"),
        ({"selected": [1.5]}, TypeError, "selected"),
        ({"title": 5}, TypeError, "title"),
        ({"thumb_format": "gif"}, ValueError, "thumb_format"),
    ],
)
def test_bad_arguments_raise_clear_errors(evalset, kwargs, error, name):
    with pytest.raises(error, match=f"^{name}:"):
        ImageGrid(evalset, **kwargs)


def test_evalset_must_be_an_evalset():
    with pytest.raises(TypeError, match="^evalset:"):
        ImageGrid(np.zeros((3, 8, 8, 3), np.uint8))


def test_trait_assignment_is_validated_too(evalset):
    grid = ImageGrid(evalset, page_size=10)
    with pytest.raises(ValueError, match="^page_size:"):
        grid.page_size = 0
    with pytest.raises(ValueError, match="^page:"):
        grid.page = -1
    grid.page = 99  # past the end: the last page
    assert grid.page == 2
    grid.page_size = 25  # fewer pages: the page is clamped
    assert grid.page == 1
    with pytest.raises(ValueError, match="^selected:"):
        grid.selected = [-1]
    grid.selected = np.array([4, 2, 4])
    assert grid.selected.tolist() == [4, 2]  # numpy accepted, duplicates dropped, order kept
    assert grid.selected.dtype == np.int64


def test_nan_scores_are_allowed(evalset):
    grid = ImageGrid(evalset, [0, 1, 2], [np.nan, 1.5, -np.inf])
    content, _ = grid.page_payload(0)
    assert [it["score_text"] for it in content["items"]] == ["—", "1.5", "−∞"]
    assert [it["score"] for it in content["items"]] == [None, 1.5, None]
    json.dumps(content, allow_nan=False)  # valid JSON for the browser


def test_format_score():
    assert format_score(0.123456) == "0.123"
    assert format_score(12345.0) == "1.23e+04"
    assert format_score(float("nan")) == "—"
    assert format_score(float("inf")) == "∞"


# ---------------------------------------------------------------- pages
def test_page_payload_items_and_thumbnails_match_the_samples():
    evalset = make_evalset(size=24)
    idx = [7, 3, 3, 20, 11]
    grid = ImageGrid(evalset, idx, page_size=2, thumb_size=16)
    content, buffers = grid.page_payload(1, request_id="r1")
    assert content["type"] == "page" and content["request_id"] == "r1"
    assert content["page"] == 1 and content["total"] == 5 and content["mime"] == "image/jpeg"
    items = content["items"]
    assert [it["position"] for it in items] == [2, 3]
    assert [it["index"] for it in items] == [3, 20]
    names = evalset.class_names
    for it in items:
        i = it["index"]
        assert it["label"] == names[evalset.labels[i]]
        assert it["prediction"] == names[evalset.predictions[i]]
        assert it["correct"] == bool(evalset.correct[i])
        assert it["score"] is None
    assert [it["buffer"] for it in items] == [0, 1]
    assert [abs(red_of(b) - 5 * i) <= 3 for b, i in zip(buffers, [3, 20])] == [True, True]
    with Image.open(io.BytesIO(buffers[0])) as image:
        assert image.size == (16, 16)  # 24-pixel images fitted into 16
    last, last_buffers = grid.page_payload(2)
    assert [it["index"] for it in last["items"]] == [11] and len(last_buffers) == 1
    clamped, _ = grid.page_payload(50)
    assert clamped["page"] == 2


def test_page_indices_and_empty_subset(evalset):
    grid = ImageGrid(evalset, page_size=8)
    np.testing.assert_array_equal(grid.page_indices(3), np.arange(24, 30))
    grid.show([])
    assert grid.total == 0 and grid.n_pages == 1
    content, buffers = grid.page_payload(0)
    assert content["items"] == [] and buffers == []


def test_sorting_is_stable_with_nan_last_in_both_directions(evalset):
    idx = np.array([10, 11, 12, 13, 14, 15])
    scores = np.array([0.5, np.nan, 0.2, 0.5, np.nan, 0.9])
    grid = ImageGrid(evalset, idx, scores)
    grid.sort = "asc"
    np.testing.assert_array_equal(grid.display_indices(), [12, 10, 13, 15, 11, 14])
    grid.sort = "desc"
    np.testing.assert_array_equal(grid.display_indices(), [15, 10, 13, 12, 11, 14])
    content, _ = grid.page_payload(0)
    assert [it["score_text"] for it in content["items"]] == ["0.9", "0.5", "0.5", "0.2", "—", "—"]
    grid.sort = "none"
    np.testing.assert_array_equal(grid.display_indices(), idx)


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_sorting_many_ties_matches_pythons_stable_sort(evalset, direction):
    rng = np.random.default_rng(3)
    idx = rng.integers(0, evalset.n, 5000)
    scores = rng.integers(0, 4, idx.size).astype(float)
    scores[rng.random(idx.size) < 0.1] = np.nan
    grid = ImageGrid(evalset, idx, scores, sort=direction)
    sign = 1 if direction == "asc" else -1
    expected = sorted(
        range(idx.size),
        key=lambda k: (np.isnan(scores[k]), 0 if np.isnan(scores[k]) else sign * scores[k]),
    )
    np.testing.assert_array_equal(grid.display_indices(), idx[expected])


def test_changing_sort_goes_back_to_the_first_page(evalset):
    grid = ImageGrid(evalset, scores=np.arange(30.0), page_size=10)
    grid.page = 2
    grid.sort = "desc"
    assert grid.page == 0
    np.testing.assert_array_equal(grid.page_indices(), np.arange(29, 19, -1))


def test_thumb_size_change_invalidates_pages(evalset):
    big = make_evalset(n=3, size=200)
    grid = ImageGrid(big, thumb_size=96)
    version = grid._data_version
    grid.thumb_size = 48
    assert grid._data_version == version + 1
    content, buffers = grid.page_payload(0)
    assert content["thumb_size"] == 48 and content["version"] == version + 1
    with Image.open(io.BytesIO(buffers[0])) as image:
        assert image.size == (48, 48)


def test_unreadable_image_gives_an_error_item_not_a_broken_page(tmp_path):
    paths = []
    for i in range(3):
        path = tmp_path / f"{i}.png"
        Image.new("RGB", (10, 10), (i * 80, 0, 0)).save(path)
        paths.append(str(path))
    evalset = EvalSet.from_arrays(
        images=paths, labels=[0, 1, 0], predictions=[0, 1, 1], class_names=["a", "b"]
    )
    (tmp_path / "1.png").write_bytes(b"not an image")
    grid = ImageGrid(evalset)
    content, buffers = grid.page_payload(0)
    items = content["items"]
    assert [it["buffer"] for it in items] == [0, -1, 1]
    assert "1.png" in items[1]["error"]
    assert len(buffers) == 2 and red_of(buffers[1]) == 160


# ---------------------------------------------------------------- selection
def click(grid, mode, position):
    return grid.apply_click(mode, position, int(grid.display_indices()[position]))


def test_click_toggle_and_clear(evalset):
    grid = ImageGrid(evalset, [5, 6, 7, 8])
    assert click(grid, "replace", 1)
    assert grid.selected.tolist() == [6]
    click(grid, "toggle", 3)
    assert grid.selected.tolist() == [6, 8]
    click(grid, "toggle", 1)
    assert grid.selected.tolist() == [8]
    click(grid, "replace", 0)
    assert grid.selected.tolist() == [5]
    assert grid.apply_click("clear")
    assert grid.selected.tolist() == []


def test_shift_click_selects_exact_range_across_pages_in_display_order(evalset):
    scores = np.arange(30.0)
    grid = ImageGrid(evalset, scores=scores, page_size=10, sort="desc")
    click(grid, "replace", 3)  # page 0, sample 26
    grid.page = 2
    click(grid, "range", 24)  # page 2, sample 5
    assert grid.selected.tolist() == list(range(26, 4, -1))
    click(grid, "range", 1)  # re-spans from the same anchor (position 3), backwards
    assert grid.selected.tolist() == [28, 27, 26]
    click(grid, "toggle", 10)  # sample 19; the anchor moves to position 10
    click(grid, "range-add", 12)  # adds positions 10..12 to the selection
    assert grid.selected.tolist() == [28, 27, 26, 19, 18, 17]


def test_range_without_anchor_selects_one_and_repeats_are_unique(evalset):
    grid = ImageGrid(evalset, [4, 4, 9, 4, 2])
    click(grid, "range", 2)
    assert grid.selected.tolist() == [9]
    click(grid, "range", 4)
    assert grid.selected.tolist() == [9, 4, 2]


def test_stale_or_out_of_range_clicks_are_ignored(evalset):
    grid = ImageGrid(evalset, [1, 2, 3])
    assert not grid.apply_click("replace", 0, index=2)  # the index at position 0 is 1
    assert not grid.apply_click("replace", 3, index=1)
    assert grid.selected.tolist() == []
    with pytest.raises(ValueError, match="^mode:"):
        grid.apply_click("lasso", 0, 1)


def test_selected_is_observable(evalset):
    grid = ImageGrid(evalset)
    seen = []
    grid.observe(lambda change: seen.append(change["new"]), names="selected")
    click(grid, "replace", 4)
    click(grid, "toggle", 6)
    assert [list(v) for v in seen] == [[4], [4, 6]]


# ---------------------------------------------------------------- show()
def test_show_replaces_subset_resets_page_and_keeps_selection_inside_it(evalset):
    grid = ImageGrid(evalset, scores=np.arange(30.0), page_size=5, sort="asc", title="first")
    grid.page = 3
    grid.selected = [1, 2, 20]
    version = grid._data_version
    grid.show([20, 21, 2, 25], title="second")
    assert grid.total == 4 and grid.page == 0
    assert grid.selected.tolist() == [2, 20]
    assert grid.sort == "none" and grid.has_scores is False  # no scores: back to given order
    assert grid.title == "second"
    assert grid._data_version == version + 1
    assert grid.n_incorrect == int((~evalset.correct[[20, 21, 2, 25]]).sum())
    grid.show(np.arange(10), scores=-np.arange(10.0))
    assert grid.title == "" and grid.has_scores
    with pytest.raises(ValueError, match="^scores:"):
        grid.show([1, 2], scores=[1.0])
    with pytest.raises(ValueError, match="^indices:"):
        grid.show([99])


# ---------------------------------------------------------------- messages
def test_custom_messages_answer_pages_and_apply_clicks(evalset, monkeypatch):
    grid = ImageGrid(evalset, page_size=4)
    sent = []
    monkeypatch.setattr(grid, "send", lambda content, buffers=None: sent.append((content, buffers)))
    grid._on_message(grid, {"type": "page", "page": 1, "request_id": "v:7"}, [])
    content, buffers = sent[-1]
    assert content["request_id"] == "v:7" and content["page"] == 1
    assert [it["index"] for it in content["items"]] == [4, 5, 6, 7]
    assert len(buffers) == 4 and all(isinstance(b, bytes) for b in buffers)
    grid._on_message(grid, {"type": "select", "mode": "replace", "position": 5, "index": 5}, [])
    grid._on_message(grid, {"type": "select", "mode": "range", "position": 7, "index": 7}, [])
    assert grid.selected.tolist() == [5, 6, 7]
    # Malformed messages change nothing and are answered with an error, not raised.
    for message, error in (
        ({"type": "select", "mode": "replace", "position": "5", "index": 5}, "^position:"),
        ({"type": "page", "page": "x"}, "^page:"),
        ({"type": "unknown"}, "^type:"),
        ("nonsense", "^message:"),
    ):
        grid._on_message(grid, message, [])
        content, buffers = sent[-1]
        assert content["type"] == "error" and re.match(error, content["error"]), content
        assert buffers is None
    assert grid.selected.tolist() == [5, 6, 7] and len(sent) == 5


@pytest.mark.parametrize(
    "message, error",
    [
        # bool is an int in Python: True must not pass for a position or an index
        ({"type": "select", "mode": "replace", "position": True, "index": 1}, "^position:"),
        ({"type": "select", "mode": "toggle", "position": 1, "index": False}, "^index:"),
        ({"type": "select", "mode": "replace", "position": 1.0, "index": 1}, "^position:"),
        ({"type": "select", "mode": "replace", "position": 1}, "^index:"),
        ({"type": "select", "mode": "jump", "position": 1, "index": 1}, "^mode:"),
        ({"type": "select", "mode": "replace", "position": 99, "index": 99}, "^position: 99"),
        ({"type": "select", "mode": "replace", "position": 2, "index": 3}, "^position: 2"),
        ({"type": "page", "page": True}, "^page:"),
        ({"type": "page"}, "^page:"),
        ({"type": "page", "page": 0, "request_id": {"a": 1}}, "^request_id:"),
    ],
)
def test_select_and_page_messages_with_wrong_types_are_refused_by_the_check(
    evalset, monkeypatch, message, error
):
    grid = ImageGrid(evalset, page_size=4, selected=[7])
    sent = []
    monkeypatch.setattr(grid, "send", lambda content, buffers=None: sent.append(content))
    grid._on_message(grid, message, [])  # must not raise inside the handler
    ((content,),) = [sent]
    assert content["type"] == "error" and re.match(error, content["error"]), content
    assert content["request"] == message["type"]
    assert grid.selected.tolist() == [7] and grid.page == 0


# ---------------------------------------------------------------- state from the browser
@pytest.mark.parametrize(
    "value, error",
    [
        ([-1], "^selected: index -1"),
        ([3, 30], "^selected: index 30"),
        ([1, True], "^selected: expected a list of integer"),
        ([1.5], "^selected: expected a list of integer"),
        (np.array([[1, 2]]), "^selected: expected a 1-D sequence"),
        ("12", "^selected: expected a sequence"),
    ],
)
def test_a_bad_selection_is_refused_and_nothing_changes(evalset, value, error):
    grid = ImageGrid(evalset, page_size=10, selected=[4])
    buffer = grid._selection
    with pytest.raises((traitlets.TraitError, ValueError), match=error):
        grid.selected = value
    assert grid.selected.tolist() == [4] and grid.n_selected == 1 and grid._selection == buffer


def test_the_selection_reaches_the_browser_as_a_small_binary_buffer(evalset):
    from failwidgets.widgets.selection import decode_selection

    grid = ImageGrid(evalset, page_size=10)
    click(grid, "replace", 3)
    click(grid, "range", 20)
    assert grid.n_selected == 18
    assert len(grid._selection) == 8 + 4  # a header and the smaller layout: 30 bits
    np.testing.assert_array_equal(decode_selection(grid._selection, evalset.n), np.arange(3, 21))
    grid.selected = list(range(0, 30, 2))  # 15 runs: the 4-byte bitmap is smaller
    assert len(grid._selection) == 8 + 4
    np.testing.assert_array_equal(decode_selection(grid._selection, evalset.n), np.arange(0, 30, 2))
    assert "selected" not in grid.get_state()  # only the buffer is synced


@pytest.mark.parametrize(
    "state, error",
    [
        ({"page_size": 0}, "^page_size: must be in 1..1000"),
        ({"page_size": 5000}, "^page_size: must be in 1..1000"),
        ({"page": 1, "page_size": 0}, "^page_size:"),  # page is checked first, then rolled back
        ({"page": -1}, "^page: must be >= 0"),
        ({"thumb_size": 4}, "^thumb_size:"),
        ({"sort": "asc"}, "^sort: 'asc' needs scores"),
        ({"total": 5}, "^total: set by the kernel only"),
        ({"n_incorrect": 0}, "^n_incorrect: set by the kernel only"),
        ({"has_scores": True}, "^has_scores: set by the kernel only"),
        ({"title": "x"}, "^title: set by the kernel only"),
        ({"_data_version": 99}, "^_data_version: set by the kernel only"),
        ({"page": 2, "total": 1000}, "^total: set by the kernel only"),
        ({"page_size": "ten"}, "page_size"),  # traitlets' own type check names the trait
    ],
)
def test_a_refused_browser_update_is_rolled_back_and_resent(evalset, monkeypatch, state, error):
    """Validators raise TraitError, so set_state (what the comm calls) keeps nothing."""
    grid = ImageGrid(evalset, page_size=10, selected=[4])
    before = {name: getattr(grid, name) for name in grid.keys}
    resent = []
    monkeypatch.setattr(grid, "send_state", lambda key=None: resent.append(key))
    with pytest.raises(traitlets.TraitError, match=error):
        grid.set_state(state)
    assert {name: getattr(grid, name) for name in grid.keys} == before
    assert resent == [list(state)]  # the browser is shown the kept values again
    # later syncs still work (page_size=0 used to make every later sync divide by zero)
    assert grid.n_pages == 3 and len(grid.page_payload(1)[0]["items"]) == 10


def test_a_bool_equal_to_the_current_value_is_refused_too(evalset):
    """traitlets skips validators when the new value equals the old one (False == 0): the
    trait types themselves refuse bools, so none is ever stored."""
    grid = ImageGrid(evalset, page_size=1, selected=[1])
    for state in ({"page": False}, {"page_size": True}):
        with pytest.raises(traitlets.TraitError, match="expected an integer|expected a list"):
            grid.set_state(state)
    with pytest.raises(traitlets.TraitError, match="expected a list of integer"):
        grid.selected = [True]
    assert type(grid.page) is int and type(grid.page_size) is int
    assert grid.selected.tolist() == [1]
    with pytest.raises(TypeError, match="^page: expected an integer, got bool"):
        grid.page = False
    grid.selected = np.array([1, 2])  # numpy integers are stored as int
    assert grid.selected.tolist() == [1, 2] and grid.selected.dtype == np.int64


def test_a_valid_browser_update_is_applied(evalset):
    grid = ImageGrid(evalset, page_size=10)
    grid.set_state({"page_size": 5, "page": 4})
    assert (grid.page_size, grid.page) == (5, 4)
    grid.set_state({"page": 99})  # past the end: the last page, as for a Python assignment
    assert grid.page == 5
    grid.set_state({"selected": [5, 3, 5]})  # not the browser's to set: only clicks select
    assert grid.selected.tolist() == []


def test_python_side_errors_are_still_value_and_type_errors_naming_the_trait(evalset):
    grid = ImageGrid(evalset)
    with pytest.raises(ValueError, match="^page_size:") as info:
        grid.page_size = 0
    assert isinstance(info.value, traitlets.TraitError)
    with pytest.raises(TypeError, match="^thumb_size:") as info:
        grid.thumb_size = True
    assert isinstance(info.value, traitlets.TraitError)
    with pytest.raises(ValueError, match="^page_size:"):
        ImageGrid(evalset, page_size=0)


# ---------------------------------------------------------------- escaping and notebook size
def test_class_names_with_markup_are_sent_verbatim_as_data_never_as_html(evalset):
    grid = ImageGrid(evalset, [2, 5], title=EVIL)
    content, _ = grid.page_payload(0)
    assert content["items"][0]["label"] == EVIL  # the view writes it with textContent
    bundle = grid._repr_mimebundle_()
    bundle = bundle[0] if isinstance(bundle, tuple) else bundle
    assert "text/html" not in bundle


def test_saved_state_is_small_and_holds_no_images_even_for_a_million_indices(evalset):
    rng = np.random.default_rng(0)
    idx = rng.integers(0, evalset.n, 1_000_000)
    grid = ImageGrid(evalset, idx, scores=rng.normal(size=idx.size), sort="desc")
    grid.page_payload(4999)
    grid.selected = np.arange(0, evalset.n, 2)
    state = grid.get_state()
    assert len(state["_selection"]) <= 8 + (evalset.n + 7) // 8
    text = json.dumps({k: v for k, v in state.items() if k not in ("_esm", "_selection")})
    assert len(text) < 2_000
    assert "base64" not in text and "data:image" not in text
    assert state["total"] == 1_000_000
    assert len(str(state["_esm"])) < 100_000  # the bundle (or its path), not data


def test_a_million_indices_page_and_range_select(evalset):
    rng = np.random.default_rng(1)
    idx = rng.integers(0, evalset.n, 1_000_000)
    scores = rng.normal(size=idx.size)
    grid = ImageGrid(evalset, idx, scores, page_size=200, sort="asc")
    order = np.argsort(scores, kind="stable")
    content, buffers = grid.page_payload(2500)
    assert [it["index"] for it in content["items"]] == idx[order[500_000:500_200]].tolist()
    assert len(buffers) == 200
    click(grid, "replace", 0)
    click(grid, "range", 999_999)
    assert sorted(grid.selected) == sorted(set(idx.tolist()))


# ---------------------------------------------------------------- label-issue badges
def _issues(evalset, flagged):
    from failwidgets.label_noise import LabelIssues

    mask = np.zeros(evalset.n, dtype=bool)
    mask[flagged] = True
    quality = np.where(mask, 0.04, 0.9)
    quality[-1] = np.nan  # an unchecked sample
    return LabelIssues(
        flagged=mask,
        label_quality=quality,
        suggested_label=(evalset.labels + 1) % 3,
        labels=evalset.labels,
        checked=~np.isnan(quality),
        class_names=evalset.class_names,
        filter_by="prune_by_noise_rate",
        quality_method="self_confidence",
    )


def test_label_issues_badge_their_tiles_with_the_suggested_label(evalset):
    grid = ImageGrid(evalset, [3, 4, 5, 6], label_issues=_issues(evalset, [4, 6, 20]))
    assert grid.label_issues.tolist() == [4, 6, 20] and grid.n_label_issues == 2
    content, _ = grid.page_payload(0)
    marks = {item["index"]: item["label_issue"] for item in content["items"]}
    names = evalset.class_names
    assert marks[3] is None and marks[5] is None
    assert marks[4] == {"suggested": names[(evalset.labels[4] + 1) % 3], "quality": 0.04}
    grid.show([20, 29, 0])
    assert grid.n_label_issues == 1


def test_label_issues_from_a_mask_or_indices_and_cleared_with_none(evalset):
    grid = ImageGrid(evalset, np.arange(10))
    assert grid.n_label_issues == 0 and grid.label_issues.size == 0
    version = grid._data_version
    mask = np.zeros(evalset.n, dtype=bool)
    mask[[1, 2]] = True
    grid.set_label_issues(mask)
    assert grid.n_label_issues == 2 and grid._data_version == version + 1  # pages refetched
    content, _ = grid.page_payload(0)
    assert content["items"][1]["label_issue"] == {"suggested": None, "quality": None}
    grid.set_label_issues([9])
    assert grid.label_issues.tolist() == [9] and grid.n_label_issues == 1
    with pytest.raises(ValueError):
        grid.label_issues[0] = 3  # read-only
    grid.set_label_issues(None)
    assert grid.n_label_issues == 0
    assert all(item["label_issue"] is None for item in grid.page_payload(0)[0]["items"])


@pytest.mark.parametrize(
    ("value", "error", "text"),
    [
        ("cat", TypeError, "label_issues: expected LabelIssues"),
        (3, TypeError, "label_issues: expected LabelIssues"),
        ([99], ValueError, "label_issues: index 99 outside"),
        (np.ones(4, dtype=bool), ValueError, r"label_issues: boolean mask of shape \(4,\)"),
        ([0.5], TypeError, "label_issues: expected integer indices"),
    ],
)
def test_bad_label_issues_name_the_argument_and_change_nothing(evalset, value, error, text):
    grid = ImageGrid(evalset, label_issues=[1])
    with pytest.raises(error, match=text):
        grid.set_label_issues(value)
    with pytest.raises(error, match=text):
        ImageGrid(evalset, label_issues=value)
    assert grid.label_issues.tolist() == [1]


def test_label_issues_found_on_another_evalset_are_refused(evalset):
    other = make_evalset(n=12)
    with pytest.raises(ValueError, match="label_issues: found on another EvalSet"):
        ImageGrid(evalset, label_issues=_issues(other, [1]))
