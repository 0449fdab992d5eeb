"""LatticeView: the view model of the Hasse diagram, threshold controls, linking and bad input."""

from __future__ import annotations

import itertools
import json
import re

import numpy as np
import pandas as pd
import pytest
import traitlets

from failwidgets.data import EvalSet
from failwidgets.methods.prime import Prime, PrimeResult
from failwidgets.modes import FailureMode
from failwidgets.widgets import ImageGrid
from failwidgets.widgets.lattice import LatticeView

EVIL = "<img src=x onerror=alert(1)>"


def planted_evalset(seed: int = 0) -> EvalSet:
    """Two classes with boolean metadata tags.

    ``square``: tags A, B, C in a full factorial (p = 0.3 each) plus a random ``noise`` tag;
    images with all of A, B, C are 10 % correct, every other image 95 % (exact counts), so
    the triple is the one failure mode at a = 0.3 and its pairs drop far less.
    ``circle``: images with tag D are 20 % correct, the others 95 %.
    """
    rng = np.random.default_rng(seed)
    blocks, oks = [], []
    for pattern in itertools.product([0, 1], repeat=3):
        count = int(round(1600 * np.prod([0.3 if p else 0.7 for p in pattern])))
        block = np.zeros((count, 4), dtype=bool)
        block[:, :3] = pattern
        ok = np.arange(count) % 10 == 0 if all(pattern) else np.arange(count) % 20 != 0
        blocks.append(block)
        oks.append(ok)
    square = np.concatenate(blocks)
    square_ok = np.concatenate(oks)
    n_circle = 300
    circle = np.zeros((n_circle, 4), dtype=bool)
    d = np.arange(n_circle) < 60
    circle_ok = np.where(d, np.arange(n_circle) % 5 == 0, np.arange(n_circle) % 20 != 0)
    tags = np.concatenate([square, circle])
    tags[:, 3] = rng.random(len(tags)) < 0.4  # noise everywhere
    n = len(tags)
    labels = np.r_[np.zeros(len(square), int), np.ones(n_circle, int)]
    correct = np.r_[square_ok, circle_ok]
    predictions = np.where(correct, labels, 1 - labels)
    metadata = pd.DataFrame(
        {
            "A": tags[:, 0],
            "B": tags[:, 1],
            "C": tags[:, 2],
            "noise": tags[:, 3],
            "D": np.r_[np.zeros(len(square), bool), d],
        }
    )
    order = rng.permutation(n)
    images = rng.integers(0, 256, size=(n, 8, 8, 3), dtype=np.uint8)
    return EvalSet.from_arrays(
        images,
        labels[order],
        predictions[order],
        ["square", "circle"],
        metadata=metadata.iloc[order].reset_index(drop=True),
    )


@pytest.fixture(scope="module")
def evalset():
    return planted_evalset()


@pytest.fixture(scope="module")
def result(evalset):
    # the boolean columns as a tag matrix: tags named "A", "B", ... (from metadata by default,
    # tags are named "A=True", "A=False", ...; see test_search_from_metadata_and_split)
    return Prime(min_support=10).fit(evalset, evalset.metadata).result_


@pytest.fixture
def view(evalset, result):
    return LatticeView(evalset, result=result, a=0.3, max_context=0, background=False)


def mode_tags(graph) -> set:
    return {tuple(node["tags"]) for node in graph["nodes"] if node["mode"]}


def node_row(graph, tags) -> int:
    return next(node["row"] for node in graph["nodes"] if tuple(node["tags"]) == tuple(tags))


def click(view, row) -> None:
    view.canvas._on_message(view.canvas, {"type": "select", "row": row}, [])


# ---------------------------------------------------------------- the drawing's view model
def test_default_class_and_hasse_diagram_of_the_planted_triple(view, result):
    # "square"'s triple drops more than "circle"'s D, so it is shown first
    assert view.class_name == "square"
    graph = view.canvas.graph
    assert graph == view.graph()
    json.dumps(graph, allow_nan=False)  # plain JSON for the browser
    subsets = {s for k in range(4) for s in itertools.combinations(("A", "B", "C"), k)}
    assert {tuple(node["tags"]) for node in graph["nodes"]} == subsets
    assert mode_tags(graph) == {("A", "B", "C")}
    assert graph["n_modes"] == graph["n_modes_shown"] == 1 and not graph["truncated"]
    root = next(node for node in graph["nodes"] if node["size"] == 0)
    assert root["n"] == graph["n_class"] == len(result.class_images("square"))
    assert root["drop"] == 0.0 and root["accuracy"] == pytest.approx(graph["class_accuracy"])
    # one edge per (set, removed tag); necessity edges exactly those of the mode
    assert len(graph["edges"]) == 3 + 6 + 3
    top = node_row(graph, ("A", "B", "C"))
    necessity = [e for e in graph["edges"] if e["necessity"]]
    assert {e["superset"] for e in necessity} == {top}
    assert sorted(e["removed"] for e in necessity) == ["A", "B", "C"]
    accuracy = {node["row"]: node["accuracy"] for node in graph["nodes"]}
    for edge in graph["edges"]:
        gain = accuracy[edge["subset"]] - accuracy[edge["superset"]]
        assert edge["gain"] == pytest.approx(gain)
    assert all(e["gain"] >= view.b3 for e in necessity)
    assert "1 failure mode" in view.status


def test_context_adds_the_strongest_other_drops_within_the_node_cap(evalset, result):
    view = LatticeView(evalset, result=result, a=0.3, max_context=3)
    graph = view.graph()
    assert mode_tags(graph) == {("A", "B", "C")}
    assert 8 < len(graph["nodes"]) <= 40
    modes = result.table("square", a=0.3)
    non_modes = [node for node in graph["nodes"] if not node["mode"] and node["size"]]
    candidates = result.candidates("square", s=view.s)
    other = candidates[(candidates["size"] >= 1) & ~candidates["row"].isin(modes["row"])]
    strongest = other.sort_values("drop", ascending=False).iloc[0]
    assert tuple(strongest["tags"]) in {tuple(n["tags"]) for n in non_modes}
    # every drawn set's subsets are drawn too (a closed Hasse diagram)
    rows = {node["row"] for node in graph["nodes"]}
    for node in graph["nodes"]:
        assert sum(e["superset"] == node["row"] for e in graph["edges"]) == node["size"]
    assert all(e["subset"] in rows for e in graph["edges"])
    tight = LatticeView(evalset, result=result, a=0.3, max_nodes=9, max_context=5)
    assert len(tight.graph()["nodes"]) <= 9


def test_node_cap_keeps_the_strongest_modes_that_fit_and_says_so(evalset, result):
    # at a = 0 the triple, its pairs and its single tags are all modes
    view = LatticeView(evalset, result=result, a=0.0, max_nodes=4, max_context=0)
    graph = view.graph()
    assert len(graph["nodes"]) <= 4
    assert graph["n_modes"] > graph["n_modes_shown"] >= 1 and graph["truncated"]
    assert "drawn; raise max_nodes" in view.status
    assert graph["message"].startswith(f"Drawing the {graph['n_modes_shown']} strongest of")
    assert mode_tags(graph) <= set(view.result.table(view.class_name, a=0.0)["tags"])
    assert ("A", "B", "C") not in mode_tags(graph)  # needs 8 nodes
    roomy = LatticeView(evalset, result=result, a=0.0, max_nodes=8, max_context=0)
    assert ("A", "B", "C") in mode_tags(roomy.graph())  # the strongest drop comes first


# ---------------------------------------------------------------- sliders and thresholds
def test_sliders_refilter_without_a_new_search(view):
    searched = view.result
    before = mode_tags(view.canvas.graph)
    assert before == {("A", "B", "C")}
    view._sliders["b3"].value = 0.9  # the triple's necessity gains are about 0.55
    assert view.b3 == 0.9
    assert mode_tags(view.canvas.graph) == set()
    graph = view.canvas.graph
    why = view.result.empty_reason("square", **view.thresholds())
    assert graph["reason"] == why and "but none is minimal" in why  # b3 refuses the triple
    assert graph["message"] == f"No failure modes at these thresholds: {why}."
    assert "0 failure modes" in view.status and view.status.endswith(f"none because {why}")
    view._sliders["b3"].value = 0.05
    assert mode_tags(view.canvas.graph) == before
    view._sliders["a"].value = 0.95
    assert mode_tags(view.canvas.graph) == set()
    view._sliders["a"].value = 0.3
    view._sliders["s"].value = 200  # the triple has 43 images
    assert mode_tags(view.canvas.graph) == set()
    view._sliders["s"].value = 10
    assert mode_tags(view.canvas.graph) == before
    assert view.result is searched


def test_attributes_drive_the_sliders_and_the_drawing(view):
    view.a = 0.95
    assert view._sliders["a"].value == 0.95 and mode_tags(view.canvas.graph) == set()
    view.set_thresholds(a=0.3, b3=0.05, s=10)
    assert mode_tags(view.canvas.graph) == {("A", "B", "C")}
    assert view.thresholds()["b3"] == 0.05
    # a lower drop threshold reports more (weaker) modes, all drawn with their subsets
    view.a = 0.05
    weak = view.canvas.graph
    assert len(mode_tags(weak)) > 1 and ("A", "B", "C") in mode_tags(weak)
    expected = set(view.result.table(view.class_name, **view.thresholds())["tags"])
    assert mode_tags(weak) == expected
    # s above the slider's range widens the slider instead of clamping the value
    view.s = 100_000
    assert view._sliders["s"].value == 100_000 and view.canvas.graph["n_modes"] == 0


def test_l_filters_below_the_searched_size_and_searches_above(view, evalset, result):
    searched = view.result
    view.max_size = 2
    assert view.result is searched  # filter only
    assert mode_tags(view.canvas.graph) == set()  # the triple needs l >= 3
    assert max(node["size"] for node in view.canvas.graph["nodes"]) <= 2
    view._sliders["max_size"].value = 4
    assert view.result is searched and mode_tags(view.canvas.graph) == {("A", "B", "C")}
    view._sliders["max_size"].value = 5
    assert view.result is not searched and view.result.max_size == 5
    assert mode_tags(view.canvas.graph) == {("A", "B", "C")}
    # a larger l than the given result's also searches at construction
    assert LatticeView(evalset, result=result, max_size=5).result.max_size == 5


def test_a_larger_l_searches_on_the_worker_and_draws_the_searched_l_meanwhile(evalset, result):
    view = LatticeView(evalset, result=result, a=0.3, max_context=0)  # background worker
    assert view._worker.background
    view.max_size = 5
    # until the new search delivers, the drawing and the modes use the searched l = 4
    assert view.canvas.graph["thresholds"]["l"] in (4, 5)
    view._worker.wait()
    assert view.result.max_size == 5 and view.canvas.graph["thresholds"]["l"] == 5
    assert mode_tags(view.canvas.graph) == {("A", "B", "C")} and "l = 5" in view.status


def test_a_failed_search_keeps_the_old_l_and_reports_the_error(view, monkeypatch):
    def refuse(*args, **kwargs):
        raise ValueError("max_candidates: too many")

    monkeypatch.setattr(PrimeResult, "search_again", refuse)
    searched = view.result
    view._sliders["max_size"].value = 6
    assert view.max_size == 4 and view._sliders["max_size"].value == 4
    assert view.result is searched
    assert "l = 6: max_candidates" in view.status
    with pytest.raises(ValueError, match="l = 5: max_candidates"):  # from Python: refused
        view.max_size = 5
    assert view.max_size == 4 and view._sliders["max_size"].value == 4


def test_a_failed_background_search_restores_l_and_says_why(evalset, result, monkeypatch):
    def refuse(*args, **kwargs):
        raise ValueError("max_candidates: too many")

    monkeypatch.setattr(PrimeResult, "search_again", refuse)
    view = LatticeView(evalset, result=result, a=0.3, max_context=0)
    view._sliders["max_size"].value = 6
    view._worker.wait()
    assert view.max_size == 4 and view._sliders["max_size"].value == 4
    assert "l = 6: max_candidates" in view.status


# ---------------------------------------------------------------- selection and linking
def test_node_click_fills_the_grid_errors_first(view, evalset):
    selections = []
    view.on_select(selections.append)
    graph = view.canvas.graph
    row = node_row(graph, ("A", "B", "C"))
    click(view, row)
    members = view.result.members("square", ("A", "B", "C"))
    np.testing.assert_array_equal(view.selected_members, members)
    assert view.selected_tags == ("A", "B", "C")
    assert view.canvas.selected_row == row
    shown = view.grid.display_indices()
    assert sorted(shown) == sorted(members)
    n_errors = int((~evalset.correct[members]).sum())
    assert n_errors > 0
    assert not evalset.correct[shown[:n_errors]].any() and evalset.correct[shown[n_errors:]].all()
    assert "A + B + C" in view.grid.title and f"{n_errors} errors" in view.grid.title
    (mode,) = selections
    assert isinstance(mode, FailureMode)
    assert mode.method == "prime" and mode.class_name == "square"
    assert mode.description == "A + B + C"
    np.testing.assert_array_equal(mode.members, members)
    assert mode.drop == pytest.approx(graph["class_accuracy"] - evalset.correct[members].mean())
    # the root node is the whole class
    click(view, node_row(graph, ()))
    assert len(view.selected_members) == graph["n_class"]
    assert selections[-1].description == "(all images)"
    # the selection survives a re-filter that keeps the node, and is cleared by a new class
    view.select(("A", "B", "C"))
    view.b3 = 0.2
    assert view.canvas.selected_row == row
    view.set_class("circle")
    assert view.canvas.selected_row == -1 and view.selected_tags is None
    assert len(view.selected_members) == 0


def test_own_grid_shows_the_class_and_a_shared_grid_is_used(evalset, result):
    own = LatticeView(evalset, result=result)
    assert own.grid in own.children and own.canvas in own.children
    class_images = result.class_images(own.class_name)
    assert own.grid.total == len(class_images)
    own.set_class("circle")
    assert own.grid.total == len(result.class_images("circle"))
    assert own.grid.title.startswith("circle: all")
    shared = ImageGrid(evalset, [])
    view = LatticeView(evalset, result=result, grid=shared)
    assert view.grid is shared and shared not in view.children
    assert shared.total == 0  # a shared grid is only filled by a click
    view.select(("A", "B", "C"))
    assert shared.total > 0


def test_class_selector_and_set_class(view):
    view._class_dropdown.value = "circle"
    assert view.class_name == "circle"
    assert mode_tags(view.canvas.graph) == {("D",)}
    view.set_class("square")
    assert view._class_dropdown.value == "square"
    assert mode_tags(view.canvas.graph) == {("A", "B", "C")}


def test_controls_are_linked_both_ways_and_hidden_without_show_controls(view):
    dropdown, sliders = view._class_dropdown, view._sliders
    for name, value in (("a", 0.42), ("s", 12), ("b2", 0.2), ("b3", 0.07), ("b4", 0.01)):
        sliders[name].value = value  # control -> trait
        assert getattr(view, name) == value
        setattr(view, name, value / 2 if name != "s" else value + 1)  # trait -> control
        assert sliders[name].value == getattr(view, name)
    dropdown.value = "circle"
    assert view.class_name == "circle"
    view.class_name = 0  # an index is stored as its name
    assert view.class_name == dropdown.value == "square"
    # a value the trait refuses puts the control back and is reported in the status line
    sliders["s"].min = 1  # as an Explorer slider might allow
    sliders["s"].value = 3
    assert view.s == 13 and sliders["s"].value == 13
    assert "s: 3 is below the searched minimum support 10" in view.status
    own = [dropdown, *(sliders[name] for name in ("a", "s", "b2", "b3", "b4"))]
    assert all(control.layout.display is None for control in own)
    view.show_controls = False  # the Explorer shows the class and the thresholds itself
    assert all(control.layout.display == "none" for control in own)
    # l (not a shared threshold), the status line and the drawing stay
    assert sliders["max_size"].layout.display is None
    assert view._status_html.layout.display is None and view.canvas in view.children
    view.show_controls = True
    assert all(control.layout.display is None for control in own)


def test_show_controls_false_at_construction_hides_them(evalset, result):
    view = LatticeView(evalset, result=result, show_controls=False)
    sliders = view._sliders
    assert view._class_dropdown.layout.display == "none"
    assert all(sliders[name].layout.display == "none" for name in ("a", "s", "b2", "b3", "b4"))
    assert sliders["max_size"].layout.display is None


def test_no_class_selected_draws_nothing(view):
    view.class_name = None
    graph = view.canvas.graph
    assert graph["nodes"] == [] and graph["message"] == "No class selected."
    assert view.status == "no class selected" and view.failure_modes() == []
    assert view.failure_modes().reason == "no class is selected"
    with pytest.raises(ValueError, match="class_name: no class is selected"):
        view.select(())
    view.set_class("circle")
    assert mode_tags(view.canvas.graph) == {("D",)}


def test_show_mode_highlights_a_tag_set_of_the_drawn_class(view, evalset):
    selections = []
    view.on_select(selections.append)
    (mode,) = view.failure_modes()  # as the Explorer's table hands it back
    view.show_mode(mode)
    assert view.canvas.selected_row == node_row(view.canvas.graph, ("A", "B", "C"))
    assert view.selected_tags == ("A", "B", "C") and "43 images" in view.grid.title
    np.testing.assert_array_equal(view.selected_members, mode.members)
    assert selections == []  # showing is not selecting: no callback, no loop
    (other,) = view.failure_modes("circle")
    view.show_mode(other)  # another class: shown in the grid, the highlight cleared
    assert view.canvas.selected_row == -1 and view.selected_tags is None
    assert sorted(view.grid.display_indices()) == sorted(other.members)
    view.show_mode(mode)
    foreign = FailureMode.from_members("barlow", "square", "leaf 3", np.arange(5), evalset)
    view.show_mode(foreign, title="barlow leaf")
    assert view.grid.title == "barlow leaf" and view.canvas.selected_row == -1
    view.show_mode(mode)
    with pytest.raises(TypeError, match="mode: expected a FailureMode"):
        view.show_mode("A + B + C")
    assert view.selected_tags == ("A", "B", "C")  # a refused call changes nothing


def test_failure_modes_follow_the_current_thresholds(view):
    modes = view.failure_modes("all")
    assert {(m.class_name, m.description) for m in modes} == {
        ("square", "A + B + C"),
        ("circle", "D"),
    }
    assert [m.description for m in view.failure_modes()] == ["A + B + C"]  # the current class
    assert [m.description for m in view.failure_modes("circle")] == ["D"]
    assert [m.description for m in view.failure_modes(1)] == ["D"]
    assert [m.class_name for m in view.failure_modes(["circle", "square"])] == ["square", "circle"]
    # thresholds given to failure_modes override the view's for that answer only
    assert view.failure_modes("all", a=0.95) == [] and view.a == 0.3
    assert [m.description for m in view.failure_modes(b3=0.9)] == []
    with pytest.raises(TypeError, match="delta: not a threshold of prime"):
        view.failure_modes(delta=0.2)
    with pytest.raises(ValueError, match="a: must lie"):
        view.failure_modes(a=2.0)
    assert view.canvas.graph["reason"] == "" and "none because" not in view.status
    view.a = 0.95
    assert view.failure_modes("all") == []
    assert view.result.table(view.class_name, **view.thresholds()).empty
    # an empty answer says why, in the status line and in its repr
    empty = view.failure_modes("circle")
    why = view.result.empty_reason("circle", **view.thresholds())
    assert empty == [] and empty.reason == why and "below a = 0.95" in why
    assert why in repr(empty)
    assert view.status.endswith(f"none because {view.canvas.graph['reason']}")
    assert "below a = 0.95" in view.canvas.graph["reason"]


def test_the_views_failure_modes_are_the_results(view, evalset, result):
    def describe(modes):
        return [(m.class_name, m.description, m.members.tolist(), m.drop) for m in modes]

    assert describe(view.failure_modes("all")) == describe(result.failure_modes(a=0.3))
    view.set_thresholds(a=0.05, b2=0.2)
    expected = result.failure_modes(["square"], **view.thresholds())
    assert len(expected) > 1 and describe(view.failure_modes()) == describe(expected)
    view.max_size = 2  # l below the searched one: the result filtered, no new search
    narrow = result.with_settings(max_size=2).failure_modes("all", **view.thresholds())
    assert narrow and describe(view.failure_modes("all")) == describe(narrow)
    assert max(len(m.rule.tags) for m in narrow) <= 2 < max(len(m.rule.tags) for m in expected)
    # b of a size without a slider is a setting of the result the view shows
    strict = LatticeView(evalset, result=result, a=0.3, b={1: 0.9}, max_context=0)
    assert strict.result.b[1] == 0.9 and strict.failure_modes("circle") == []
    assert [m.description for m in strict.failure_modes("square")] == ["A + B + C"]


def test_query_is_synced_with_the_drawing(view):
    view.query = "nOise"
    assert view.canvas.query == "nOise"
    view.canvas.query = "A"
    assert view.query == "A"


def test_search_from_metadata_and_split(evalset):
    view = LatticeView(evalset, min_support=10, a=0.3)
    # default tags: every value of each metadata column, named "column=value"
    assert view.result.min_support == 10 and view.result.tag_names == tuple(
        f"{column}={value}" for column in ("A", "B", "C", "noise", "D") for value in (False, True)
    )
    assert mode_tags(view.canvas.graph) == {("A=True", "B=True", "C=True")}
    only_square = np.flatnonzero(evalset.labels == 0)
    narrow = LatticeView(evalset, indices=only_square, min_support=10, class_name="circle")
    graph = narrow.canvas.graph
    assert graph["nodes"] == [] and "No images" in graph["message"]
    with pytest.raises(ValueError, match="class_name"):
        narrow.select(())


def test_escaped_names_reach_the_view_model_as_plain_text():
    es = planted_evalset()
    metadata = es.metadata.rename(columns={"C": EVIL})
    evil = EvalSet.from_arrays(
        es.images_at(np.arange(es.n)),
        es.labels,
        es.predictions,
        [EVIL, "circle"],
        metadata=metadata,
    )
    view = LatticeView(evil, min_support=10, a=0.3, max_context=0)
    assert view.class_name == EVIL
    assert mode_tags(view.canvas.graph) == {("A=True", "B=True", f"{EVIL}=True")}
    json.dumps(view.canvas.graph)


# ---------------------------------------------------------------- bad input
def test_bad_construction_arguments(evalset, result):
    with pytest.raises(TypeError, match="evalset"):
        LatticeView("not an evalset")
    with pytest.raises(ValueError, match="result"):
        LatticeView(evalset, tags=evalset.metadata[["A"]], result=result)
    with pytest.raises(TypeError, match="result"):
        LatticeView(evalset, result="search result")
    with pytest.raises(ValueError, match="not fitted"):
        LatticeView(evalset, result=Prime())
    other = planted_evalset(seed=1)
    with pytest.raises(ValueError, match="not searched on this EvalSet"):
        LatticeView(other, result=result)
    with pytest.raises(TypeError, match="grid"):
        LatticeView(evalset, result=result, grid="grid")
    with pytest.raises(ValueError, match="grid"):
        LatticeView(evalset, result=result, grid=ImageGrid(other))
    with pytest.raises(ValueError, match="class_name"):
        LatticeView(evalset, result=result, class_name="hexagon")
    with pytest.raises(ValueError, match="class_name: class index 2 outside 0..1"):
        LatticeView(evalset, result=result, class_name=2)
    with pytest.raises(TypeError, match="class_name"):
        LatticeView(evalset, result=result, class_name=1.0)
    with pytest.raises(ValueError, match="a: must lie"):
        LatticeView(evalset, result=result, a=1.5)
    with pytest.raises(ValueError, match="s: 5 is below"):
        LatticeView(evalset, result=result, s=5)
    with pytest.raises(ValueError, match="max_size"):
        LatticeView(evalset, result=result, max_size=7)
    with pytest.raises(ValueError, match=r"b\[3\]"):
        LatticeView(evalset, result=result, b={3: 2.0})
    with pytest.raises(TypeError, match="b: expected a mapping"):
        LatticeView(evalset, result=result, b=0.1)
    with pytest.raises(ValueError, match="max_nodes"):
        LatticeView(evalset, result=result, max_nodes=0)
    with pytest.raises(TypeError, match="max_context"):
        LatticeView(evalset, result=result, max_context=1.5)


def test_bad_settings_leave_the_view_unchanged(view):
    graph = view.canvas.graph
    with pytest.raises(TypeError, match="a: expected a number"):
        view.a = "high"
    with pytest.raises(ValueError, match="b2: must lie"):
        view.b2 = -0.1
    with pytest.raises(TypeError, match="s: expected an integer"):
        view.s = 12.5
    with pytest.raises(ValueError, match="s: 3 is below the searched minimum support 10"):
        view.s = 3
    with pytest.raises(ValueError, match="max_size"):
        view.max_size = 0
    # None goes through the checks too (a traitlets.Any used to store it unchecked)
    with pytest.raises(TypeError, match="^max_size: expected an integer, got NoneType"):
        view.max_size = None
    with pytest.raises(TypeError, match="^a: expected a number in \\[0, 1\\], got NoneType"):
        view.a = None
    with pytest.raises(TypeError, match="^class_name: expected a class name or index, got"):
        view.class_name = 1.0
    with pytest.raises(TypeError, match="^s: expected an integer, got float"):
        view.s = float(view.s)  # equal to the current value, which used to skip the check
    assert type(view.s) is int
    with pytest.raises(ValueError, match="class_name"):
        view.set_class("hexagon")
    with pytest.raises(ValueError, match="unknown thresholds"):
        view.set_thresholds(delta=0.2)
    with pytest.raises(ValueError, match="b4"):
        view.set_thresholds(a=0.5, b4=3.0)
    assert view.a == 0.3  # rolled back
    assert view.canvas.graph == graph
    with pytest.raises(ValueError, match="tags"):
        view.select(("A", "nonexistent"))
    with pytest.raises(TypeError, match="tags"):
        view.select(3)
    with pytest.raises(TypeError, match="callback"):
        view.on_select("print")
    with pytest.raises(TypeError, match="query"):
        view.query = None


def test_malformed_messages_are_refused_with_an_error(view, monkeypatch):
    selections = []
    view.on_select(selections.append)
    sent = []
    monkeypatch.setattr(view.canvas, "send", lambda content, buffers=None: sent.append(content))
    top = node_row(view.canvas.graph, ("A", "B", "C"))
    circle_root = int(view.result.arrays("circle")["row"][0])
    for message, error in (
        (None, "^message: expected a JSON object"),
        ("select", "^message: expected a JSON object"),
        ({"type": "zoom", "row": top}, "^type: expected 'select'"),
        ({"type": "select"}, "^row: expected an integer, got NoneType"),
        ({"type": "select", "row": str(top)}, "^row: expected an integer, got str"),
        ({"type": "select", "row": True}, "^row: expected an integer, got bool"),
        ({"type": "select", "row": 10**9}, "^row: 1000000000 is not drawn"),
        ({"type": "select", "row": -1}, "^row: -1 is not drawn"),
        # a row of the other class is not in the drawing either
        ({"type": "select", "row": circle_root}, f"^row: {circle_root} is not drawn"),
    ):
        view.canvas._on_message(view.canvas, message, [])
        assert sent[-1]["type"] == "error" and re.match(error, sent[-1]["error"]), sent[-1]
    assert len(sent) == 9
    assert selections == [] and view.grid.total == len(view.result.class_images("square"))


def test_the_browser_may_set_the_query_only(view, monkeypatch):
    graph = view.canvas.graph
    view.canvas.set_state({"query": "noise"})
    assert view.query == "noise"
    monkeypatch.setattr(view.canvas, "send_state", lambda key=None: None)
    for state in ({"graph": {"nodes": []}}, {"selected_row": 3}, {"query": "A", "graph": {}}):
        with pytest.raises(traitlets.TraitError, match="set by the kernel only"):
            view.canvas.set_state(state)
    assert view.canvas.graph == graph and view.canvas.selected_row == -1
    assert view.query == "noise"
