"""The EmbeddingMap's pure view model (failwidgets/viewmodels/embedding_map.py), no widgets."""

from __future__ import annotations

import ast
import pathlib

import numpy as np
import pytest

from failwidgets.data import EvalSet
from failwidgets.modes import FailureMode
from failwidgets.viewmodels import embedding_map as vm
from failwidgets.viewmodels.embedding_map import MapContent


@pytest.fixture
def evalset():
    # 12 samples, labels 0,1,2,0,...; every dog (1, 4, 7, 10) predicted as a cat
    labels = np.arange(12) % 3
    predictions = labels.copy()
    predictions[[1, 4, 7, 10]] = 0
    images = np.zeros((12, 4, 4, 3), dtype=np.uint8)
    return EvalSet.from_arrays(images, labels, predictions, ["cat", "dog", "<b>eel</b>"])


@pytest.fixture
def embeddings():
    # points on a line along the first axis (PC1 explains all the variance) plus tiny noise
    rng = np.random.default_rng(0)
    X = np.zeros((12, 5), dtype=np.float32)
    X[:, 0] = np.arange(12)
    return X + rng.normal(scale=1e-3, size=X.shape).astype(np.float32)


def test_the_module_imports_no_widget_library():
    tree = ast.parse(pathlib.Path(vm.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert not imported & {"ipywidgets", "traitlets", "anywidget", "jscatter"}


def test_css_colours_and_darkness():
    assert vm.parse_css_rgb("rgba(0, 51, 255, 0.5)") == (0.0, 0.2, 1.0)
    assert vm.parse_css_rgb("rgba(0, 0, 0, 0)") is None  # transparent
    assert vm.parse_css_rgb("#ffffff") is None and vm.parse_css_rgb(None) is None
    assert vm.is_dark((0.07, 0.07, 0.07)) and not vm.is_dark((1.0, 1.0, 1.0))
    assert vm.is_dark((0.0, 0.0, 1.0))  # saturated blue is dark (luminance 0.07)


def test_sizes_layout_options_and_scales():
    vm.check_map_size(480, None)
    vm.check_map_size(100, 0.5)
    for height, size, error, message in [
        (True, None, TypeError, "height: expected an integer, got bool"),
        (99, None, ValueError, "height: expected 100..4000 pixels, got 99"),
        (480, "big", TypeError, "point_size: expected a number, got str"),
        (480, 65, ValueError, "point_size: expected 0.5..64 pixels, got 65"),
    ]:
        with pytest.raises(error, match=message):
            vm.check_map_size(height, size)
    assert [vm.default_point_size(n) for n in (10_000, 200_000, 200_001)] == [5, 3, 1.5]
    assert vm.layout_options(100, "pca", False) == [("PCA", "pca"), ("t-SNE", "tsne")]
    assert vm.layout_options(10**6, "pca", True) == [("PCA", "pca"), ("UMAP", "umap")]
    assert vm.layout_options(10**6, "tsne", False) == [("PCA", "pca"), ("t-SNE", "tsne")]
    (x0, x1), (y0, y1) = vm.square_scales(np.array([0.0, 10.0]), np.array([4.0, 6.0]))
    assert x1 - x0 == pytest.approx(y1 - y0) == pytest.approx(10.2)  # same units, 2% margin
    assert (x0 + x1) / 2 == pytest.approx(5) and (y0 + y1) / 2 == pytest.approx(5)


def test_point_table_and_cached_layouts(evalset, embeddings):
    content = MapContent(evalset, embeddings)
    frame = content.frame
    assert list(frame.columns) == ["x", "y", "correct", "label", "prediction", "mode"]
    assert frame["correct"].tolist()[:3] == ["correct", "error", "correct"]
    assert frame["label"].tolist()[:3] == ["cat", "dog", "<b>eel</b>"]
    assert set(frame["mode"]) == {"other"}
    pca = content.layout("pca")
    assert content.layout("pca") is pca  # computed once
    assert abs(np.corrcoef(pca[:, 0], np.arange(12))[0, 1]) > 0.999  # PC1 is the line
    assert content.explained()[0] > 0.99
    assert content.move_to("pca") is pca and np.array_equal(frame["x"], pca[:, 0])
    with pytest.raises(ValueError, match="group: expected one of"):
        MapContent(evalset, embeddings, group="both")
    with pytest.raises(ValueError, match="projection: expected one of"):
        MapContent(evalset, embeddings, projection="mds")
    with pytest.raises(ValueError, match="embeddings: 11 rows for 12 samples"):
        MapContent(evalset, embeddings[:-1])


def test_classes_by_label_or_prediction(evalset, embeddings):
    content = MapContent(evalset, embeddings)
    assert content.class_name_of(1, "name") == "dog" and content.class_name_of(None, "x") == ""
    with pytest.raises(ValueError, match="name: unknown class"):
        content.class_name_of("zebra", "name")
    assert content.check_class_name("dog") == "dog"
    with pytest.raises(ValueError, match="class_name: unknown class 'zebra'"):
        content.check_class_name("zebra")
    with pytest.raises(TypeError, match="class_name: expected a class name, got int"):
        content.check_class_name(1)
    assert content.visible_indices("").tolist() == list(range(12))
    assert content.visible_indices("dog").tolist() == [1, 4, 7, 10]
    by_prediction = MapContent(evalset, embeddings, group="prediction")
    assert by_prediction.visible_indices("cat").tolist() == [0, 1, 3, 4, 6, 7, 9, 10]


def test_mode_marks_members_and_draws_them_last(evalset, embeddings):
    content = MapContent(evalset, embeddings)
    content.set_mode(FailureMode("barlow", "dog", "dark", np.array([7, 1]), 0.2, 0.5))
    assert content.members.tolist() == [1, 7] and content.mode_title == "barlow · dark"
    assert np.flatnonzero(content.frame["mode"] == "member").tolist() == [1, 7]
    order = content.draw_order("mode")
    assert sorted(order[-2:].tolist()) == [1, 7] and sorted(order.tolist()) == list(range(12))
    content.set_mode(np.isin(np.arange(12), [3]), title="mine")
    assert content.members.tolist() == [3] and content.mode_title == "mine"
    with pytest.raises(TypeError, match="mode: expected a FailureMode or sample indices"):
        content.set_mode("dark")
    with pytest.raises(TypeError, match="title: expected a string"):
        content.set_mode([1], title=3)
    content.clear_mode()
    assert content.members.size == 0 and set(content.frame["mode"]) == {"other"}
    errors_last = content.draw_order("correct")
    assert sorted(errors_last[-4:].tolist()) == [1, 4, 7, 10]
    assert content.draw_order("label") is None


def test_selection_rows_errors_first_heading_and_mode(evalset, embeddings):
    content = MapContent(evalset, embeddings)
    rows = content.scatter_rows(np.array([10, 4, 3, 99, 1, 4]), "dog")
    assert rows.tolist() == [1, 4, 10]  # out of range dropped, class dog only, sorted
    assert content.scatter_rows(None, "").size == 0
    assert content.select(rows).tolist() == [1, 4, 10]  # errors (1, 4) first
    assert content.select(np.array([0, 1, 3, 4])).tolist() == [1, 4, 0, 3]
    assert content.selection_heading() == "Map selection · 4 samples · 2 errors"
    assert content.selection_heading("mine") == "mine"
    mode = content.selection_mode("", "pca")
    # the selection's accuracy 2/4 against all points' 8/12
    assert mode.class_name == "all" and mode.method == "embedding_map"
    assert mode.description == "map selection: 4 samples (all classes, pca)"
    assert mode.accuracy == pytest.approx(0.5) and mode.drop == pytest.approx(8 / 12 - 0.5)
    assert content.check_rows([5, 2, 5]).tolist() == [2, 5]
    with pytest.raises(TypeError, match="indices: expected a sequence"):
        content.check_rows(None)


def test_colour_maps_legend_and_status(evalset, embeddings):
    content = MapContent(evalset, embeddings)
    assert content.color_map("correct", False, []) == {"correct": "#8da0b3", "error": "#d62728"}
    assert content.color_map("mode", True, [])["member"] == "#ffb000"
    colours = ["red", "green", "blue"]
    assert content.color_map("prediction", False, colours) == {
        "cat": "red",
        "<b>eel</b>": "blue",  # dog is never predicted: not in the legend
    }
    assert content.show_legend("label")
    status = content.status("pca", "<b>eel</b>")
    assert status.startswith("12 points · PCA (PC1 ")
    assert "class &lt;b&gt;eel&lt;/b&gt;: 4" in status and "lasso" in status
    content.set_mode([0, 1], title="<i>x</i>")
    content.select(np.array([0, 1]))
    status = content.status("pca", "")
    assert "highlighted: &lt;i&gt;x&lt;/i&gt; (2)" in status
    assert status.endswith("selected: 2 (1 errors)")
