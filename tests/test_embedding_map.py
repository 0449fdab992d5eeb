"""EmbeddingMap and its projections: planted layouts, selection -> grid, colours, errors."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import traitlets
from conftest import make_small_evalset

from failwidgets.methods.projection import PCAProjection, check_embeddings, project
from failwidgets.modes import FailureMode
from failwidgets.widgets.embedding_map import EmbeddingMap, ThemeProbe, parse_css_rgb
from failwidgets.widgets.grid import ImageGrid


def planted_clusters(n=400, d=64, gap=6.0, seed=0):
    """Two Gaussian clusters apart along one random unit direction, plus an offset."""
    rng = np.random.default_rng(seed)
    direction = rng.normal(size=d)
    direction /= np.linalg.norm(direction)
    side = np.arange(n) % 2
    X = rng.normal(size=(n, d)) + np.outer(np.where(side == 1, gap / 2, -gap / 2), direction)
    return (X + 3.0).astype(np.float32), side, direction


def decaying(n=3000, d=200, seed=1):
    rng = np.random.default_rng(seed)
    scales = np.geomspace(5, 0.1, d)
    rotation, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return ((rng.normal(size=(n, d)) * scales) @ rotation + 2.0).astype(np.float32)


def subspace_cosine(a, b):
    """Smallest cosine of the principal angles between the row spaces of a and b."""
    return np.linalg.svd(a @ b.T, compute_uv=False).min()


# ---------------------------------------------------------------------- projection
@pytest.mark.parametrize("solver", ["exact", "randomized"])
def test_planted_clusters_separate_on_pc1(solver):
    X, side, direction = planted_clusters()
    pca = PCAProjection(2, solver=solver).fit(X)
    coords = pca.transform(X)
    assert coords.dtype == np.float32 and coords.shape == (len(X), 2)
    assert abs(pca.components_[0] @ direction) > 0.98  # PC1 is the planted axis
    pc1 = coords[:, 0]
    low, high = sorted([pc1[side == 0], pc1[side == 1]], key=np.mean)
    assert low.max() < high.min()  # perfectly separated on PC1
    assert abs(np.mean(coords[:, 1])) < 0.2  # centred
    # variance along the planted axis: 1 (noise) + (gap / 2)^2 = 10, of 63 + 10 in total
    assert pca.explained_variance_ratio_[0] == pytest.approx(10 / 73, rel=0.1)


@pytest.mark.parametrize("solver", ["exact", "randomized"])
def test_pca_matches_sklearn(solver):
    from sklearn.decomposition import PCA

    X = decaying()
    ours = PCAProjection(2, solver=solver).fit(X.astype(np.float16))
    ref = PCA(2).fit(X.astype(np.float16).astype(np.float64))
    assert subspace_cosine(ours.components_, ref.components_) > 0.999
    np.testing.assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=5e-3)
    np.testing.assert_allclose(
        ours.explained_variance_ratio_, ref.explained_variance_ratio_, rtol=5e-3
    )
    np.testing.assert_allclose(ours.mean_, ref.mean_, atol=1e-4)
    # coordinates agree up to each axis' sign
    ours_xy = ours.transform(X.astype(np.float16))
    ref_xy = ref.transform(X.astype(np.float16).astype(np.float64))
    signs = np.sign((ours_xy * ref_xy).sum(axis=0))
    np.testing.assert_allclose(ours_xy * signs, ref_xy, atol=0.05 * ref_xy.std())


def test_chunking_and_signs_do_not_change_the_answer():
    X = decaying(n=500, d=40)
    whole = PCAProjection(2, solver="exact", chunk_rows=10_000).fit_transform(X)
    chunked = PCAProjection(2, solver="exact", chunk_rows=7).fit_transform(X)
    np.testing.assert_allclose(whole, chunked, rtol=1e-4, atol=1e-4)
    pca = PCAProjection(2, solver="exact").fit(X)
    for axis in pca.components_:  # sklearn's sign rule: largest loading positive
        assert axis[np.argmax(np.abs(axis))] > 0


def test_fit_rows_subsample_finds_the_same_axes():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(4000, 60)) * np.r_[6.0, 4.0, np.ones(58)]  # two spikes, then flat
    full = PCAProjection(2, solver="exact").fit(X)
    sample = PCAProjection(2, solver="exact", fit_rows=1500).fit(X)
    assert sample.n_samples_ == 1500
    assert subspace_cosine(full.components_, sample.components_) > 0.99
    assert sample.transform(X).shape == (4000, 2)


def test_tsne_layout_keeps_planted_clusters_apart():
    X, side, _ = planted_clusters(n=150, d=20, gap=10.0)
    coords = project(X, "tsne", random_state=0)
    assert coords.shape == (150, 2) and coords.dtype == np.float32
    centre0, centre1 = coords[side == 0].mean(0), coords[side == 1].mean(0)
    nearest = np.where(
        np.linalg.norm(coords - centre0, axis=1) < np.linalg.norm(coords - centre1, axis=1), 0, 1
    )
    assert (nearest == side).mean() == 1.0


def test_umap_missing_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "umap", None)  # import umap -> ImportError
    with pytest.raises(ImportError, match=r"umap-learn.*failwidgets\[umap\]"):
        project(np.zeros((5, 3)), "umap")


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (np.zeros(10), ValueError, r"embeddings: expected a 2-D \(n, d\) array, got shape \(10,\)"),
        (np.zeros((2, 3, 4)), ValueError, "2-D"),
        (np.zeros((10, 1)), ValueError, "at least 2 dimensions"),
        (np.zeros((2, 5)), ValueError, "at least 3 rows"),
        (np.zeros((10, 3), dtype=bool), TypeError, "real numbers"),
        (np.zeros((10, 3), dtype=complex), TypeError, "real numbers"),
        (np.array([["a", "b"]] * 5), TypeError, "real numbers"),
        ("abc", TypeError, "expected an \\(n, d\\) array"),
        (None, TypeError, "expected an \\(n, d\\) array"),
    ],
)
def test_bad_embeddings_are_named(value, error, match):
    with pytest.raises(error, match=match):
        project(value)


def test_non_finite_values_name_row_and_column():
    X = np.ones((50, 4), dtype=np.float16)
    X[:, 0] = np.arange(50)
    X[37, 2] = np.nan
    with pytest.raises(ValueError, match="embeddings: non-finite value nan at row 37, column 2"):
        PCAProjection(chunk_rows=8).fit(X)
    X[37, 2] = np.inf
    with pytest.raises(ValueError, match="row 37, column 2"):
        project(X)


def test_projection_argument_errors():
    with pytest.raises(ValueError, match="layout: expected one of"):
        project(np.zeros((5, 3)), "mds")
    with pytest.raises(ValueError, match="rows for 7 samples"):
        check_embeddings(np.zeros((5, 3)), 7)
    with pytest.raises(TypeError, match="n_components: expected an integer"):
        PCAProjection(2.0)
    with pytest.raises(ValueError, match="solver"):
        PCAProjection(solver="full")
    with pytest.raises(RuntimeError, match="fit"):
        PCAProjection().transform(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="fit on 3"):
        PCAProjection().fit(decaying(20, 3)).transform(np.zeros((5, 4)))


# ---------------------------------------------------------------------- the view
@pytest.fixture
def evalset():
    return make_small_evalset(n=120, n_classes=3)


@pytest.fixture
def embeddings(evalset):
    X, _, _ = planted_clusters(n=evalset.n, d=16)
    return X.astype(np.float16)


def test_map_sends_one_point_per_sample_at_the_pca_layout(evalset, embeddings):
    view = EmbeddingMap(evalset, embeddings)
    points = view.scatter.widget.points
    assert points.shape == (evalset.n, 4)
    expected = PCAProjection(2).fit_transform(embeddings)
    np.testing.assert_allclose(view.coordinates, expected, rtol=1e-5, atol=1e-5)
    # same scale on both axes: the normalised extents keep the layout's aspect ratio
    spans = points[:, :2].max(0) - points[:, :2].min(0)
    np.testing.assert_allclose(
        spans / spans.max(), np.ptp(expected, 0) / np.ptp(expected, 0).max(), rtol=1e-4
    )
    assert view.grid in view.children  # it made its own grid
    assert "PC1" in view._status.value


def test_lasso_selection_goes_to_the_grid_errors_first(evalset, embeddings):
    grid = ImageGrid(evalset, page_size=20)
    view = EmbeddingMap(evalset, embeddings, grid=grid)
    assert grid not in view.children  # the shared grid lives elsewhere
    modes = []
    view.on_select(modes.append)
    chosen = np.array([4, 1, 9, 2, 30, 31, 57], dtype=np.uint32)
    view.scatter.widget.selection = chosen  # what a lasso in the browser does
    correct = evalset.correct
    errors = sorted(i for i in chosen.tolist() if not correct[i])
    rights = sorted(i for i in chosen.tolist() if correct[i])
    assert errors and rights
    assert view.selected_members.tolist() == errors + rights
    assert grid.indices.tolist() == errors + rights
    assert grid.title == f"Map selection · 7 samples · {len(errors)} errors"
    (mode,) = modes
    assert isinstance(mode, FailureMode) and mode.method == "embedding_map"
    assert mode.members.tolist() == errors + rights
    assert mode.accuracy == pytest.approx(len(rights) / 7)
    assert mode.drop == pytest.approx(correct.mean() - len(rights) / 7)
    assert view.failure_modes()[0].members.tolist() == errors + rights
    # deselecting keeps the grid, empties the selection, calls nobody
    view.scatter.widget.selection = np.zeros(0, dtype=np.uint32)
    assert view.selected_members.size == 0 and len(modes) == 1
    assert grid.indices.tolist() == errors + rights
    assert view.failure_modes() == []


def test_select_from_python_marks_the_map_and_titles_the_grid(evalset, embeddings):
    view = EmbeddingMap(evalset, embeddings)
    seen = []
    view.on_select(seen.append)
    view.select([5, 6], title="picked")
    assert view.scatter.widget.selection.tolist() == [5, 6]
    assert view.grid.title == "picked"
    view.select([5, 6], title="again")  # same selection: still reported
    assert view.grid.title == "again" and len(seen) == 2
    with pytest.raises(ValueError, match="indices"):
        view.select([evalset.n])
    with pytest.raises(TypeError, match="indices"):
        view.select(3)
    view.clear_selection()
    assert view.selected_members.size == 0


def test_out_of_range_browser_selection_is_dropped(evalset, embeddings):
    view = EmbeddingMap(evalset, embeddings)
    view.scatter.widget.selection = np.array([3, evalset.n, 10**6], dtype=np.uint32)
    assert view.selected_members.tolist() == [3]


@pytest.mark.parametrize("column", ["correct", "label", "prediction"])
def test_colour_modes_encode_the_right_values(evalset, embeddings, column):
    view = EmbeddingMap(evalset, embeddings, color_by=column)
    widget = view.scatter.widget
    assert widget.color_by == "valueA"
    codes = widget.points[:, 2].astype(int)
    expected = {
        "correct": (~evalset.correct).astype(int),
        "label": evalset.labels,
        "prediction": evalset.predictions,
    }[column]
    np.testing.assert_array_equal(codes, expected)
    colors = widget.color
    assert len(colors) >= len(np.unique(expected))
    if column == "correct":  # errors drawn last, on top
        order = widget.point_order
        assert set(order[-np.count_nonzero(~evalset.correct) :]) == set(
            np.flatnonzero(~evalset.correct)
        )
        assert colors[0] != colors[1]


def test_show_mode_highlights_members_on_top(evalset, embeddings):
    grid = ImageGrid(evalset, [0, 1])
    view = EmbeddingMap(evalset, embeddings, grid=grid, color_by="label")
    mode = FailureMode("barlow", "class_0", "dark images", np.array([9, 3, 6]), 0.2, 0.5)
    view.show_mode(mode)
    widget = view.scatter.widget
    assert view.color_by == "mode" and view.highlighted.tolist() == [3, 6, 9]
    flags = np.zeros(evalset.n, dtype=int)
    flags[[3, 6, 9]] = 1
    np.testing.assert_array_equal(widget.points[:, 2].astype(int), flags)
    assert sorted(widget.point_order[-3:].tolist()) == [3, 6, 9]
    assert grid.indices.tolist() == [0, 1]  # the grid is the caller's business
    assert "dark images" in view._status.value
    view.show_mode(np.arange(evalset.n) == 4)  # a boolean mask
    assert view.highlighted.tolist() == [4]
    np.testing.assert_array_equal(np.flatnonzero(widget.points[:, 2]), [4])
    with pytest.raises(ValueError, match="mode"):
        view.show_mode([evalset.n + 1])
    with pytest.raises(TypeError, match="mode"):
        view.show_mode("dark")
    view.clear_mode()
    assert view.color_by == "correct" and view.highlighted.size == 0


def test_a_large_map_outlines_a_mode_instead_of_resending_every_point(
    evalset, embeddings, monkeypatch
):
    from failwidgets.widgets import embedding_map

    monkeypatch.setattr(embedding_map, "RECOLOR_MAX_POINTS", evalset.n - 1)
    grid = ImageGrid(evalset, [0, 1])
    view = EmbeddingMap(evalset, embeddings, grid=grid)
    selections = []
    view.on_select(selections.append)
    widget = view.scatter.widget
    points_before = widget.points.copy()
    sent = []
    widget.observe(lambda change: sent.append(change["name"]), names=["points", "point_order"])
    view.show_mode(FailureMode("barlow", "class_0", "dark", np.array([9, 3, 6]), 0.2, 0.5))
    assert view.color_by == "correct" and view.highlighted.tolist() == [3, 6, 9]
    assert sorted(np.asarray(widget.selection).tolist()) == [3, 6, 9]
    assert sent == [] and np.array_equal(widget.points, points_before)  # nothing resent
    assert selections == [] and view.selected_members.size == 0  # not a user's selection
    assert grid.indices.tolist() == [0, 1]
    assert "dark" in view._status.value
    view.clear_mode()
    assert view.highlighted.size == 0
    assert widget.selection is None or len(widget.selection) == 0
    view.select([5, 7])  # a lasso after the outline is a selection again
    assert len(selections) == 1 and sorted(selections[0].members.tolist()) == [5, 7]


def test_set_class_filters_the_map_and_the_selection(evalset, embeddings):
    view = EmbeddingMap(evalset, embeddings)
    assert view.scatter.widget.filter is None and view.class_name == ""
    view.set_class(1)
    assert view.class_name == "class_1"
    np.testing.assert_array_equal(view.scatter.widget.filter, evalset.label_group(1))
    view.scatter.widget.selection = np.array([0, 1, 4, 7], dtype=np.uint32)
    assert sorted(view.selected_members.tolist()) == [1, 4, 7]  # class 1 only
    assert view.failure_modes()[0].class_name == "class_1"
    view.set_class(None)
    assert view.class_name == "" and view.scatter.widget.filter is None
    with pytest.raises(ValueError, match="name: unknown class 'zebra'"):
        view.set_class("zebra")
    with pytest.raises(traitlets.TraitError, match="class_name: unknown class"):
        view.class_name = "zebra"
    by_prediction = EmbeddingMap(evalset, embeddings, group="prediction", class_name="class_2")
    np.testing.assert_array_equal(by_prediction.scatter.widget.filter, evalset.prediction_group(2))


def test_projection_switch_recomputes_once_and_moves_points(evalset, embeddings):
    view = EmbeddingMap(evalset, embeddings)
    before = view.scatter.widget.points[:, :2].copy()
    view.projection = "tsne"
    tsne = view.coordinates
    assert not np.allclose(view.scatter.widget.points[:, :2], before)
    view.projection = "pca"
    view.projection = "tsne"
    np.testing.assert_array_equal(view.coordinates, tsne)  # cached, not recomputed
    assert "t-SNE" in view._status.value


def test_theme_probe_sets_a_dark_background_and_palette(evalset, embeddings):
    view = EmbeddingMap(evalset, embeddings)
    light = [list(c) for c in view.scatter.widget.color]
    view._probe.set_state({"background": "rgb(17, 17, 17)"})
    assert view.scatter.widget.background_color[:3] == pytest.approx([17 / 255] * 3)
    assert [list(c) for c in view.scatter.widget.color] != light
    with pytest.raises(traitlets.TraitError, match="background"):
        view._probe.set_state({"background": "url(javascript:alert(1))"})
    assert view._probe.background == "rgb(17, 17, 17)"
    view._probe.set_state({"background": "rgba(0, 0, 0, 0)"})  # transparent: ignored
    assert view.scatter.widget.background_color[:3] == pytest.approx([17 / 255] * 3)
    assert parse_css_rgb(" rgb(255, 255, 255) ") == (1.0, 1.0, 1.0)
    assert parse_css_rgb("rgb(300, 0, 0)") is None
    assert ThemeProbe._browser_traits == frozenset({"background"})


def test_view_argument_errors(evalset, embeddings):
    with pytest.raises(ValueError, match="embeddings: 119 rows for 120 samples"):
        EmbeddingMap(evalset, embeddings[:-1])
    bad = embeddings.copy()
    bad[11, 3] = np.inf
    with pytest.raises(ValueError, match="embeddings: non-finite value inf at row 11, column 3"):
        EmbeddingMap(evalset, bad)
    with pytest.raises(ValueError, match="embeddings: expected a 2-D"):
        EmbeddingMap(evalset, embeddings[:, 0])
    with pytest.raises(ValueError, match="color_by: expected one of"):
        EmbeddingMap(evalset, embeddings, color_by="loss")
    with pytest.raises(ValueError, match="projection: expected one of"):
        EmbeddingMap(evalset, embeddings, projection="mds")
    with pytest.raises(TypeError, match="evalset"):
        EmbeddingMap("x", embeddings)
    with pytest.raises(TypeError, match="grid: expected an ImageGrid"):
        EmbeddingMap(evalset, embeddings, grid=object())
    other = make_small_evalset(n=120, n_classes=3, seed=1)
    with pytest.raises(ValueError, match="grid: the shared ImageGrid"):
        EmbeddingMap(evalset, embeddings, grid=ImageGrid(other))
    with pytest.raises(ValueError, match="group"):
        EmbeddingMap(evalset, embeddings, group="both")
    with pytest.raises(ValueError, match="height"):
        EmbeddingMap(evalset, embeddings, height=5)
    with pytest.raises(TypeError, match="point_size"):
        EmbeddingMap(evalset, embeddings, point_size="big")
    view = EmbeddingMap(evalset, embeddings)
    with pytest.raises(traitlets.TraitError, match="color_by: expected one of"):
        view.color_by = "loss"
    assert view.color_by == "correct"
    with pytest.raises(TypeError, match="callback"):
        view.on_select(3)


def test_umap_projection_without_umap_learn_keeps_the_view(evalset, embeddings, monkeypatch):
    monkeypatch.setitem(sys.modules, "umap", None)
    view = EmbeddingMap(evalset, embeddings)
    with pytest.raises(ImportError, match=r"failwidgets\[umap\]"):
        view.projection = "umap"
    assert view.projection == "pca"
    with pytest.raises(ImportError, match="umap-learn"):
        EmbeddingMap(evalset, embeddings, projection="umap")


def test_map_opens_with_its_points_once(evalset, embeddings, monkeypatch):
    import comm
    from comm.base_comm import BaseComm

    sent = []

    class Recording(BaseComm):
        def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
            sent.append(sum(memoryview(b).nbytes for b in buffers or ()))

    monkeypatch.setattr(comm, "create_comm", Recording)
    EmbeddingMap(evalset, embeddings, color_by="label", class_name="class_1")
    points_bytes = evalset.n * 4 * 4  # (n, 4) float32
    assert sum(size >= points_bytes for size in sent) == 1
