"""The lattice view's model (failwidgets/viewmodels/lattice.py), built without any widget."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from failwidgets.methods.prime import search
from failwidgets.modes import FailureMode
from failwidgets.viewmodels.lattice import (
    L_SLIDER,
    class_title,
    lattice_graph,
    mode_title,
    selected_row,
    status_text,
)

THRESHOLDS = {"a": 0.3, "s": 10, "b2": 0.1, "b3": 0.05, "b4": 0.025}


def planted_result():
    """Class "square": the triple A + B + C fails (10 % right, everything else 95 %);
    class "empty": no image searched."""
    blocks, oks = [], []
    for pattern in itertools.product([0, 1], repeat=3):
        count = int(round(480 * np.prod([0.3 if p else 0.7 for p in pattern])))
        blocks.append(np.tile(np.array(pattern, bool), (count, 1)))
        oks.append(np.arange(count) % 10 == 0 if all(pattern) else np.arange(count) % 20 != 0)
    matrix, correct = np.concatenate(blocks), np.concatenate(oks)
    labels = np.zeros(len(matrix), int)
    classes = ["square", "empty"]
    return search(
        matrix, labels, correct, tag_names=list("ABC"), min_support=10, class_names=classes
    )


@pytest.fixture(scope="module")
def result():
    return planted_result()


def test_the_module_imports_no_widget_library():
    import failwidgets.viewmodels.lattice as module

    with open(module.__file__, encoding="utf-8") as file:
        source = file.read()
    assert not any(name in source for name in ("ipywidgets", "anywidget", "traitlets"))


def test_graph_of_the_planted_triple(result):
    graph = lattice_graph(result, "square", THRESHOLDS, max_nodes=40, max_context=0)
    json.dumps(graph, allow_nan=False)
    assert graph["thresholds"] == {
        "a": 0.3,
        "s": 10,
        "l": 4,
        "b": {"2": 0.1, "3": 0.05, "4": 0.025},
    }
    subsets = {s for k in range(4) for s in itertools.combinations("ABC", k)}
    assert {tuple(n["tags"]) for n in graph["nodes"]} == subsets
    (top,) = [n for n in graph["nodes"] if n["mode"]]
    assert top["tags"] == ["A", "B", "C"] and top["n"] == len(result.members(0, tuple("ABC")))
    assert graph["n_modes"] == graph["n_modes_shown"] == 1 and graph["message"] == ""
    assert graph["reason"] == "" and graph["class_accuracy"] == pytest.approx(
        result.class_summary.loc[0, "accuracy"]
    )
    necessity = [e for e in graph["edges"] if e["necessity"]]
    assert {e["superset"] for e in necessity} == {top["row"]} and len(necessity) == 3
    assert status_text(graph) == "1 failure mode · 8 sets drawn · l = 4"
    assert selected_row(graph, ("A", "B", "C")) == top["row"]
    assert selected_row(graph, ()) == result.root_row("square")
    assert selected_row(graph, ("A", "zz")) == -1 and selected_row(graph, None) == -1


def test_graph_thresholds_sizes_and_b_of_the_result(result):
    stricter = {**THRESHOLDS, "b3": 0.9}
    graph = lattice_graph(result, "square", stricter)
    assert graph["thresholds"]["b"]["3"] == 0.9 and graph["n_modes"] == 0
    assert graph["reason"] == result.empty_reason("square", **stricter)
    assert graph["message"] == f"No failure modes at these thresholds: {graph['reason']}."
    assert status_text(graph).endswith(f" · none because {graph['reason']}")
    two = lattice_graph(result.with_settings(max_size=2), "square", THRESHOLDS)
    assert two["thresholds"]["l"] == 2 and two["thresholds"]["b"] == {"2": 0.1}
    assert max(n["size"] for n in two["nodes"]) <= 2 and two["n_modes"] == 0


def test_graph_without_a_class_or_images_and_with_a_small_budget(result):
    none = lattice_graph(result, None, THRESHOLDS)
    assert none["nodes"] == [] and none["message"] == "No class selected."
    assert status_text(none) == "no class selected"
    empty = lattice_graph(result, "empty", THRESHOLDS)
    assert empty["nodes"] == [] and empty["n_class"] == 0 and empty["class_accuracy"] is None
    assert empty["message"] == "No images of class 'empty' in the searched set."
    tight = lattice_graph(result, "square", {**THRESHOLDS, "a": 0.0}, max_nodes=4)
    assert len(tight["nodes"]) <= 4 and tight["truncated"]
    assert tight["message"].startswith(f"Drawing the {tight['n_modes_shown']} strongest of")
    assert "drawn; raise max_nodes to see all" in status_text(tight)
    with pytest.raises(ValueError, match="max_nodes"):
        lattice_graph(result, "square", THRESHOLDS, max_nodes=0)
    with pytest.raises(ValueError, match="s: 5 is below"):
        lattice_graph(result, "square", {**THRESHOLDS, "s": 5})


def test_titles_and_the_l_slider(result):
    mode = result.tag_set_mode("square", ("A", "B", "C"))
    n_errors = int((~result.correct[mode.members]).sum())
    title = mode_title(mode)
    assert title.startswith(f"square: A + B + C — {mode.size} images, {n_errors} errors")
    assert f"accuracy {mode.accuracy:.1%} (class {mode.accuracy + mode.drop:.1%})" in title
    other = FailureMode("prime", "<b>", "x", np.arange(4), accuracy=0.5, drop=0.25)
    assert mode_title(other) == "<b>: x — 4 images, 2 errors, accuracy 50.0% (class 75.0%)"
    assert class_title("square", 10, 3) == (
        "square: all 10 searched images, 3 errors first — click a node to see its images"
    )
    assert (L_SLIDER.name, L_SLIDER.label, L_SLIDER.kind) == ("max_size", "l", "count")
    assert not L_SLIDER.continuous and L_SLIDER.check(6) == 6
