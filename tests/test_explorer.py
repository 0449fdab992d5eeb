"""Explorer: composition, one class and one threshold panel for every view, linked selection,
"Explain with CES", the failure-mode table (sort, export, import), cross-method agreement, the
latest-wins table refresh, and bad input.

One small world serves every engine and the right answers are known: three classes of images
tinted by one colour channel; a quarter of the images wear another class's colour, and the
classifier follows the colour, so exactly those "odd" images are its mistakes. Hence

- PRIME (metadata tags red/green/blue) finds, per class, the other two colours as modes;
- failure directions (synthetic embeddings that move odd images along a class direction) put
  the odd images in each class's tail;
- CES (a model whose class c logit reads channel c) explains a class's mistakes by its colour;
- Barlow's TreeView (synthetic features: feature 2 is raised on the odd images) splits the odd
  images off into a failure leaf.

A stand-in view with the contract only (``FakeTreeView``) makes the refresh tests controllable.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from failwidgets.data import EvalSet
from failwidgets.features.split import SplitModel
from failwidgets.methods.ces import ConceptExplainer, ConceptSet, learn_concept_bank
from failwidgets.methods.directions import FailureDirectionsResult
from failwidgets.modes import FailureMode, jaccard_matrix
from failwidgets.widgets import explorer as explorer_module
from failwidgets.widgets.concept_map import ConceptMapView
from failwidgets.widgets.directions import DirectionsView
from failwidgets.widgets.explorer import Explorer
from failwidgets.widgets.failure_view import FailureView
from failwidgets.widgets.grid import ImageGrid
from failwidgets.widgets.lattice import LatticeView
from failwidgets.widgets.threshold_controls import Threshold
from failwidgets.widgets.tree import TreeView

torch.set_num_threads(1)
NAMES = ["class_0", "class_1", "class_2"]
COLOURS = ["red", "green", "blue"]
N_PER_SPLIT, SIZE, DIM = 240, 8, 12


# ---------------------------------------------------------------------- the world
def make_world(seed: int = 0):
    rng = np.random.default_rng(seed)
    n = 3 * N_PER_SPLIT
    labels = np.arange(n) % 3
    split = np.repeat(["train", "val", "test"], N_PER_SPLIT)
    tint = labels.copy()
    odd = rng.random(n) < 0.25
    tint[odd] = (labels[odd] + rng.integers(1, 3, size=odd.sum())) % 3
    images = rng.integers(40, 90, size=(n, SIZE, SIZE, 3)).astype(np.uint8)
    for channel in range(3):
        rows = tint == channel
        images[rows, :, :, channel] = rng.integers(170, 255, size=(rows.sum(), SIZE, SIZE))
    metadata = pd.DataFrame({colour: tint == c for c, colour in enumerate(COLOURS)})
    evalset = EvalSet.from_arrays(images, labels, tint, NAMES, metadata=metadata, split=split)
    u = np.linalg.qr(rng.normal(size=(DIM, DIM)))[0][:, :3].T
    means = rng.normal(scale=0.5, size=(3, DIM))
    embeddings = means[labels] + rng.normal(size=(n, DIM)) + 3.0 * odd[:, None] * u[labels]
    features = rng.normal(size=(n, 6)).astype(np.float32)
    features[:, 2] += 4.0 * odd
    return evalset, odd, embeddings, features


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
def world():
    evalset, odd, embeddings, features = make_world()
    split = SplitModel.from_callables(bottom, Top(), layer="pool", input_size=(3, SIZE, SIZE))
    concepts = ConceptSet.from_evalset(
        evalset, COLOURS, indices=evalset.split_indices("train"), max_examples=40
    )
    explainer = ConceptExplainer(split, learn_concept_bank(split, concepts, min_accuracy=0.0))
    directions = FailureDirectionsResult.from_arrays(
        embeddings, evalset.labels, evalset.correct, evalset.split, NAMES, n_jobs=1
    )
    return dict(
        evalset=evalset, odd=odd, explainer=explainer, directions=directions, features=features
    )


class FakeTreeView(FailureView):
    """Barlow's TreeView contract only: one leaf per class, the class's odd test images.

    The leaf's error rate is 1 and its coverage 1, so it passes while ``delta < 1 - BER``.
    ``calls`` records the delta seen by each ``failure_modes`` call; ``pause`` slows it.
    """

    method = "barlow"
    delta = Threshold("barlow", "delta")
    tau = Threshold("barlow", "tau")

    def __init__(self, evalset, grid, pause: float = 0.0):
        super().__init__(evalset, grid=grid)
        self.pause = pause
        self.calls: list[float] = []
        self.class_name = "class_0"
        self._finish_init()

    @property
    def selected_members(self):
        return self.selected_indices

    def _leaf(self, c: int) -> FailureMode:
        es = self.evalset
        test = es.split_indices("test")
        rows = test[es.labels[test] == c]
        leaf = rows[~es.correct[rows]]
        ber = 1.0 - float(es.correct[rows].mean())
        return FailureMode("barlow", NAMES[c], "feature_3 > 0.5", leaf, 0.0, 1.0 - ber)

    def _modes(self, class_names, thresholds):
        delta = thresholds["delta"]
        self.calls.append(delta)
        if self.pause:
            time.sleep(self.pause)
        return [
            self._leaf(c)
            for c in range(3)
            if NAMES[c] in class_names and self._leaf(c).drop > delta and thresholds["tau"] < 1
        ]

    def select_leaf(self) -> FailureMode:
        mode = self._leaf(NAMES.index(self.class_name))
        self.grid.show(mode.members, title="leaf")
        self._notify_select(mode)
        return mode


def factories(world, **extra):
    es = world["evalset"]
    views = {
        "barlow": lambda grid: TreeView(es, world["features"], grid=grid, depth=1, k=3),
        "prime": lambda grid: LatticeView(
            es, indices=es.split_indices("test"), grid=grid, a=0.3, min_support=5
        ),
        "ces": lambda grid: ConceptMapView(es, world["explainer"], grid=grid, delta=0.3),
        "directions": lambda grid: DirectionsView(es, world["directions"], grid=grid, k=20),
    }
    views.update(extra)
    return views


def make_explorer(world, background: bool = False, **options) -> Explorer:
    views = options.pop("views", None) or factories(world)
    return Explorer(world["evalset"], views, background=background, heldout_split="val", **options)


@pytest.fixture
def explorer(world):
    ex = make_explorer(world, class_name="class_0")
    yield ex
    ex.close()


def odd_of_class(world, c: int, split: str = "test") -> np.ndarray:
    es = world["evalset"]
    rows = es.split_indices(split)
    return rows[(es.labels[rows] == c) & world["odd"][rows]]


# ---------------------------------------------------------------------- composition
def test_composes_views_in_method_order_with_one_grid(explorer, world):
    assert list(explorer.views) == ["barlow", "prime", "ces", "directions"]
    titles = [explorer.tabs.get_title(i) for i in range(len(explorer.tabs.children))]
    assert titles == [
        "Tree · Barlow",
        "Lattice · PRIME",
        "Concepts · CES",
        "Directions",
        "All failure modes",
    ]
    for view in explorer.views.values():
        assert view.grid is explorer.grid
        assert view.grid not in view.children  # the shared grid is shown once, by the Explorer
    assert explorer.grid in explorer.children
    assert explorer.unavailable == {}
    assert explorer.class_name == "class_0"


def test_missing_or_failing_views_are_left_out_with_a_reason(world):
    def needs_weights(grid):
        raise FileNotFoundError("weights/robust.pt is missing")

    def missing_module(grid):
        from failwidgets.widgets.scenarios_not_written_yet import ScenarioView  # noqa: F401

    views = factories(world, barlow=needs_weights, defuse=missing_module, ces=None)
    ex = make_explorer(world, views=views)
    assert list(ex.views) == ["prime", "directions"]
    assert ex.unavailable["ces"] == "not given"
    assert ex.unavailable["barlow"] == "FileNotFoundError: weights/robust.pt is missing"
    assert ex.unavailable["defuse"].startswith("not available: No module named")
    status = ex._status.value
    assert "Not shown" in status and "robust.pt" in status and "ces (not given)" in status
    assert ex._explain_button.disabled  # no concept map to send a selection to
    assert ex.explain_selection() is None
    assert "no concept map" in ex.messages[-1]
    # the rest still works
    ex.class_name = "class_2"
    assert ex.views["prime"].class_name == "class_2"
    assert set(ex.failure_modes()["method"]) == {"prime", "directions"}
    ex.close()


def test_an_explorer_without_views_still_shows_the_grid_and_an_empty_table(world):
    ex = Explorer(world["evalset"], background=False)
    assert ex.views == {} and ex.controls == {}
    assert ex.failure_modes().empty
    assert ex.table.rows == [] and ex.grid.total > 0
    ex.close()


def test_views_given_as_widgets_share_the_explorers_grid(world):
    es = world["evalset"]
    grid = ImageGrid(es, [])
    lattice = LatticeView(es, indices=es.split_indices("test"), grid=grid, min_support=10)
    ex = Explorer(es, {"mine": lattice}, background=False)
    assert ex.grid is grid
    assert ex.tabs.get_title(0) == "mine · prime"  # the method is recognised by the class
    assert ("mine", "a") in ex.controls
    ex.close()


# ---------------------------------------------------------------------- one class
def test_class_change_reaches_every_view_and_fills_the_grid(explorer, world):
    es = world["evalset"]
    explorer.class_name = "class_1"
    for view in explorer.views.values():
        assert view.class_name == "class_1"
    assert explorer._class_dropdown.value == "class_1"
    test = es.split_indices("test")
    in_class = test[es.labels[test] == 1]
    shown = explorer.grid.indices
    assert set(shown) == set(in_class)
    n_errors = int((~es.correct[in_class]).sum())
    assert not es.correct[shown[:n_errors]].any() and es.correct[shown[n_errors:]].all()
    # CES now explains class_1's mistakes
    np.testing.assert_array_equal(
        np.sort(explorer.views["ces"].explained), np.sort(in_class[~es.correct[in_class]])
    )
    # the table shows class_1's modes, of every method that has one
    assert {row["class_name"] for row in explorer.table.rows} == {"class_1"}
    assert {row["method"] for row in explorer.table.rows} == {
        "barlow",
        "prime",
        "ces",
        "directions",
    }


def test_class_chosen_in_one_view_or_the_dropdown_drives_all(explorer):
    explorer.views["prime"].class_name = "class_2"  # the lattice's own selector
    assert explorer.class_name == "class_2"
    assert all(view.class_name == "class_2" for view in explorer.views.values())
    explorer._class_dropdown.value = "class_0"
    assert all(view.class_name == "class_0" for view in explorer.views.values())
    explorer.set_class(1)
    assert explorer.class_name == "class_1"


# ---------------------------------------------------------------------- one threshold panel
def test_threshold_panel_sets_each_views_attribute_and_follows_the_views(explorer):
    assert set(explorer.controls) == {
        ("barlow", "delta"),
        ("barlow", "tau"),
        ("prime", "a"),
        ("prime", "s"),
        ("prime", "b2"),
        ("prime", "b3"),
        ("prime", "b4"),
        ("ces", "delta"),
        ("directions", "k"),
    }
    lattice, tree = explorer.views["prime"], explorer.views["barlow"]
    explorer.controls[("prime", "a")].value = 0.9
    assert lattice.a == 0.9
    assert lattice.failure_modes("class_0") == []
    assert "prime" not in set(explorer.failure_modes("class_0")["method"])
    assert "prime" not in {row["method"] for row in explorer.table.rows}  # the table follows
    assert "barlow" in {row["method"] for row in explorer.table.rows}
    explorer.controls[("barlow", "delta")].value = 0.95  # above ER - BER: the leaf fails
    assert tree.delta == 0.95
    assert tree.canvas.tree["n_passing"] == 0  # the drawing follows
    assert "barlow" not in {row["method"] for row in explorer.table.rows}
    explorer.controls[("directions", "k")].value = 7
    assert explorer.views["directions"].k == 7
    explorer.controls[("ces", "delta")].value = 3.0
    assert explorer.views["ces"].delta == pytest.approx(3.0)
    # the other way round: a view's own control moves the Explorer's slider
    lattice.a = 0.2
    assert explorer.controls[("prime", "a")].value == 0.2
    assert explorer.thresholds()["prime"]["a"] == 0.2
    explorer.set_threshold("barlow", "tau", 0.5)
    assert tree.tau == 0.5 and explorer.controls[("barlow", "tau")].value == 0.5
    # the support slider starts at the searched minimum
    assert explorer.controls[("prime", "s")].min == lattice.result.min_support


def test_a_rejected_threshold_is_reported_and_the_slider_restored(explorer):
    slider = explorer.controls[("prime", "s")]
    slider.min = 1  # allow a value the lattice rejects (below the searched support)
    slider.value = 2
    assert explorer.views["prime"].s == 5
    assert slider.value == 5
    assert "below the searched minimum support" in explorer.messages[-1]
    assert "below the searched minimum support" in explorer._status.value
    with pytest.raises(ValueError, match="below the searched minimum"):
        explorer.set_threshold("prime", "s", 2)
    with pytest.raises(ValueError, match="no threshold prime.zz"):
        explorer.set_threshold("prime", "zz", 1)


# ---------------------------------------------------------------------- linked selection
def test_selecting_a_mode_in_a_view_shows_it_in_the_grid(explorer, world):
    lattice = explorer.views["prime"]
    lattice.select(("green=True",))
    expected = odd_of_class(world, 0)
    expected = expected[world["evalset"].metadata["green"].to_numpy()[expected]]
    np.testing.assert_array_equal(np.sort(explorer.grid.indices), np.sort(expected))
    mode = explorer.selected_mode
    assert mode.method == "prime" and mode.description == "green=True"
    np.testing.assert_array_equal(explorer.selected_members, lattice.selected_members)
    assert "green=True" in explorer._selection_text.value
    marked = explorer.table.selected_mode
    assert marked is not None and marked.description == "green=True"
    # a selection in another view replaces it: the tree's failure leaf
    tree = explorer.views["barlow"]
    leaf = int(tree.passing_leaves["node_id"].iloc[0])
    tree.select(leaf)
    mode = explorer.selected_mode
    assert mode.method == "barlow" and mode.description == tree.result.table["rule"][leaf]
    np.testing.assert_array_equal(np.sort(explorer.grid.indices), mode.members)
    assert world["odd"][mode.members].mean() > 0.9
    # a class change forgets it
    explorer.class_name = "class_1"
    assert explorer.selected_mode is None and explorer.table.selected_id == -1


def test_explain_with_ces_sends_the_grid_selection_or_the_selected_mode(explorer, world):
    ces = explorer.views["ces"]
    assert explorer.explain_selection() is None  # nothing selected yet
    assert "select images" in explorer.messages[-1]
    # the selected mode's members
    explorer.views["directions"].show_tail()
    mode = explorer.selected_mode
    sent = explorer.explain_selection()
    np.testing.assert_array_equal(sent, mode.members)
    np.testing.assert_array_equal(ces.explained, mode.members)
    ces.wait()
    assert "directions" in ces.panel.view_model["explained_text"]
    assert explorer.tabs.selected_index == list(explorer.views).index("ces")
    # images selected in the grid win over the mode
    picked = [int(i) for i in explorer.grid.indices[:3]]
    explorer.grid.selected = picked
    assert "3 images selected" in explorer._selection_text.value
    sent = explorer.explain_selection()
    assert sorted(sent.tolist()) == sorted(picked)
    np.testing.assert_array_equal(np.sort(ces.explained), np.sort(picked))
    # the CES mode in the table is the explained set now
    (ces_mode,) = [m for m in frame_modes(explorer) if m.method == "ces"]
    assert sorted(ces_mode.members.tolist()) == sorted(picked)


def frame_modes(explorer):
    from failwidgets.modes import frame_to_modes

    return frame_to_modes(explorer.failure_modes())


# ---------------------------------------------------------------------- the table
def test_failure_mode_table_is_a_dataframe_sorted_like_the_widget(explorer):
    frame = explorer.failure_modes()
    assert list(frame.columns) == [
        "method",
        "class_name",
        "description",
        "size",
        "accuracy",
        "drop",
        "heldout_drop",
        "members",
    ]
    assert set(frame["class_name"]) == set(NAMES)  # every class
    assert set(frame["method"]) == {"barlow", "prime", "ces", "directions"}
    drops = frame["drop"].to_numpy()
    assert np.all(np.diff(drops[~np.isnan(drops)]) <= 0)  # default: strongest drop first
    explorer.table.sort_by, explorer.table.ascending = "size", True
    assert np.all(np.diff(explorer.failure_modes()["size"].to_numpy()) >= 0)
    only = explorer.failure_modes("class_2")
    assert set(only["class_name"]) == {"class_2"}
    # PRIME modes carry their held-out drop (tags re-applied to the val split)
    prime = frame[frame["method"] == "prime"]
    assert prime["heldout_drop"].notna().all()
    assert (prime["heldout_drop"] > 0.3).all()  # the odd colours fail on val too


def test_table_scope_and_row_click_selects_the_mode(explorer, world):
    rows = explorer.table.rows
    assert rows and {r["class_name"] for r in rows} == {"class_0"}
    explorer._table_scope.value = "all"
    rows = explorer.table.rows
    assert {r["class_name"] for r in rows} == set(NAMES)
    target = next(r for r in rows if r["class_name"] == "class_2" and r["method"] == "prime")
    explorer.table._on_message(explorer.table, {"type": "select", "id": target["id"]}, [])
    assert explorer.class_name == "class_2"  # the row's class is selected everywhere
    mode = explorer.selected_mode
    assert (mode.method, mode.class_name) == ("prime", "class_2")
    shown = explorer.grid.indices
    assert set(shown) == set(mode.members.tolist())
    es = world["evalset"]
    n_errors = int((~es.correct[shown]).sum())
    assert not es.correct[shown[:n_errors]].any()
    assert explorer.table.selected_mode.description == mode.description
    # bad messages from the browser are ignored
    explorer.table._on_message(explorer.table, {"type": "select", "id": 10_000}, [])
    explorer.table._on_message(explorer.table, {"type": "select", "id": True}, [])
    assert explorer.selected_mode is mode


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_export_and_import_round_trip(explorer, tmp_path, suffix):
    path = explorer.export(tmp_path / f"modes{suffix}")
    assert path.is_file()
    back = Explorer.import_modes(path)
    frame = explorer.failure_modes()
    assert list(back.columns) == list(frame.columns)
    pd.testing.assert_frame_equal(
        back.drop(columns="members"), frame.drop(columns="members"), check_dtype=False
    )
    assert [list(m) for m in back["members"]] == [list(m) for m in frame["members"]]
    with pytest.raises(ValueError, match="expected a .csv or .parquet"):
        explorer.export(tmp_path / "modes.xlsx")


# ---------------------------------------------------------------------- agreement
def test_agreement_is_the_jaccard_of_the_member_sets_within_the_split(explorer, world):
    frame = explorer.agreement("class_0")
    modes = [m for m in frame_modes(explorer) if m.class_name == "class_0"]
    test = world["evalset"].split_indices("test")
    # members cut to test, strongest drops first within each method
    expected_modes = explorer._modes.agreement_modes(modes, "class_0")
    expected = jaccard_matrix(expected_modes)
    assert sorted(frame.index) == sorted(expected.index)
    pd.testing.assert_frame_equal(frame, expected.loc[frame.index, frame.columns])
    methods = [label.split(":")[0] for label in frame.index]
    assert methods == sorted(methods, key=list(explorer.views).index)  # grouped in tab order
    for mode in expected_modes:
        assert np.isin(mode.members, test).all()
    # one cell by hand: the tree's leaf against a PRIME colour mode, on the test images
    leaf = next(m for m in expected_modes if m.method == "barlow")
    colour = next(m for m in expected_modes if m.method == "prime")
    a, b = set(leaf.members.tolist()), set(colour.members.tolist())
    value = frame.loc[f"barlow: {leaf.description}", f"prime: {colour.description}"]
    assert value == pytest.approx(len(a & b) / len(a | b))
    assert b <= a  # the leaf holds the odd images of every colour
    # the widget shows the same matrix for the selected class
    shown = explorer.table.agreement
    assert shown["class_name"] == "class_0"
    assert [f"{m['method']}: {m['description']}" for m in shown["modes"]] == list(frame.index)
    np.testing.assert_allclose(np.array(shown["values"], dtype=float), frame.to_numpy())


def test_agreement_keeps_the_strongest_modes_per_method(world):
    ex = make_explorer(world, class_name="class_0", max_agreement_modes=1)
    modes = ex.table.agreement["modes"]
    assert [m["method"] for m in modes].count("prime") == 1
    ex.close()


# ---------------------------------------------------------------------- latest wins
def test_background_refresh_shows_the_last_value_only(world):
    es = world["evalset"]
    views = {"barlow": lambda grid: FakeTreeView(es, grid, pause=0.05)}
    ex = Explorer(es, views, background=True, class_name="class_0")
    tree = ex.views["barlow"]
    tree.calls.clear()
    slider = ex.controls[("barlow", "delta")]
    for value in (0.2, 0.4, 0.6, 0.97, 0.1, 0.99):  # a burst of slider moves
        slider.value = value
    assert ex.table.busy
    ex.wait(timeout=10)
    assert not ex.table.busy
    assert tree.calls[-1] == 0.99
    assert len(tree.calls) < 6  # the burst was coalesced
    assert ex.table.rows == []  # 0.99 is above every leaf's drop: no stale rows
    slider.value = 0.0
    ex.wait(timeout=10)
    assert [r["method"] for r in ex.table.rows] == ["barlow"]
    ex.close()


def test_a_stale_refresh_never_replaces_a_newer_one(world):
    es = world["evalset"]
    ex = Explorer(es, {"barlow": lambda grid: FakeTreeView(es, grid)}, background=False)
    tree = ex.views["barlow"]
    original = tree.failure_modes
    computed, release = threading.Event(), threading.Event()

    def slow_in_the_old_thread(*args, **kwargs):
        modes = original(*args, **kwargs)  # computed with the old delta...
        if threading.current_thread() is old:
            computed.set()
            release.wait(5)  # ...and delivered after the newer request
        return modes

    tree.failure_modes = slow_in_the_old_thread
    tree.delta = 0.97  # above every leaf's drop: no modes
    assert ex.table.rows == []
    old = threading.Thread(target=ex._request_refresh)  # computes in its own thread
    old.start()
    assert computed.wait(5)
    tree.delta = 0.0  # a newer request, drawn at once (background=False)
    assert [r["method"] for r in ex.table.rows] == ["barlow"]
    release.set()
    old.join(5)
    assert [r["method"] for r in ex.table.rows] == ["barlow"]  # the stale result was dropped
    ex.close()


def test_a_failing_view_does_not_break_the_table(world):
    es = world["evalset"]
    ex = Explorer(es, {"barlow": lambda grid: FakeTreeView(es, grid)}, background=False)

    def broken(*args, **kwargs):
        raise RuntimeError("engine exploded")

    ex.views["barlow"].failure_modes = broken
    ex.class_name = "class_1"
    assert ex.failure_modes().empty
    assert "engine exploded" in ex.messages[-1]
    assert not ex.table.busy
    ex.close()


# ---------------------------------------------------------------------- bad input
def test_bad_input_names_the_argument(world):
    es = world["evalset"]
    with pytest.raises(TypeError, match="evalset: expected an EvalSet"):
        Explorer(np.zeros(3))
    with pytest.raises(TypeError, match="views: expected a mapping"):
        Explorer(es, [LatticeView])
    with pytest.raises(TypeError, match=r"views\['prime'\]: expected a view widget"):
        Explorer(es, {"prime": 3})
    with pytest.raises(TypeError, match="views: names must be non-empty strings"):
        Explorer(es, {"": None})
    other = make_world(seed=1)[0]
    with pytest.raises(ValueError, match="grid: the shared ImageGrid must show the same EvalSet"):
        Explorer(es, grid=ImageGrid(other))
    with pytest.raises(ValueError, match=r"views\['prime'\]: the view shows another EvalSet"):
        Explorer(es, {"prime": LatticeView(other, min_support=10)})
    with pytest.raises(ValueError, match="split: no samples in split 'extra'"):
        Explorer(es, split="extra")
    called = []
    with pytest.raises(ValueError, match="class_name: unknown class 'dog'"):
        Explorer(es, {"prime": lambda grid: called.append(grid)}, class_name="dog")
    assert called == []  # checked before any (costly) factory runs
    with pytest.raises(ValueError, match="class_name: class index 7 outside 0..2"):
        Explorer(es, class_name=7)
    with pytest.raises(ValueError, match="max_agreement_modes: must be >= 1"):
        Explorer(es, max_agreement_modes=0)
    with pytest.raises(TypeError, match="background: expected True or False"):
        Explorer(es, background="auto")
    ex = Explorer(es, background=False)
    with pytest.raises(ValueError, match="class_name: unknown class"):
        ex.class_name = "dog"
    with pytest.raises(TypeError, match="mode: expected a FailureMode"):
        ex.select_mode("prime")
    ex.close()


def test_threshold_specs_cover_every_method():
    assert set(explorer_module.THRESHOLDS) == set(explorer_module.METHODS)
    assert set(explorer_module.DEMO_METHODS) <= set(explorer_module.METHODS)
    assert "defuse" not in explorer_module.DEMO_METHODS  # slow: opt in


# ---------------------------------------------------------------------- the table widget
def _mode(method, cls, description, members, accuracy, drop, heldout=None):
    return FailureMode(method, cls, description, np.asarray(members), accuracy, drop, heldout)


def test_mode_table_sorts_like_the_browser_and_validates():
    from failwidgets.widgets.mode_table import ModeTable, sort_frame

    modes = [
        _mode("prime", "b", "x", [1, 2, 3], 0.2, 0.5, 0.4),
        _mode("ces", "a", "y", [4], 0.0, float("nan")),
        _mode("barlow", "B", "z", [5, 6], 0.5, 0.3, 0.6),
    ]
    table = ModeTable(modes)
    assert [r["id"] for r in table.rows] == [0, 1, 2]
    assert table.rows[1]["drop"] is None  # NaN travels as null
    assert table.frame()["description"].tolist() == ["x", "z", "y"]  # drop desc, NaN last
    table.sort_by, table.ascending = "drop", True
    assert table.frame()["description"].tolist() == ["z", "x", "y"]  # NaN last both ways
    table.sort_by = "class_name"
    assert table.frame()["class_name"].tolist() == ["a", "b", "B"]  # case-insensitive, stable
    frame = table.frame()
    assert sort_frame(frame, "heldout_drop", False)["description"].tolist() == ["z", "x", "y"]
    with pytest.raises(ValueError, match="sort_by: expected one of"):
        table.sort_by = "members"
    with pytest.raises(ValueError, match="by: expected one of"):
        sort_frame(frame, "nope", True)
    with pytest.raises(TypeError, match=r"modes\[1\]: expected a FailureMode"):
        table.set_modes([modes[0], "x"])
    with pytest.raises(ValueError, match="row_id: expected 0..2"):
        table.select(3)
    with pytest.raises(TypeError, match="row_id: expected an integer"):
        table.select(True)
    with pytest.raises(ValueError, match="values: expected a 2 x 2 matrix"):
        table.set_agreement("a", modes[:2], np.ones((3, 3)))
    with pytest.raises(TypeError, match="callback: expected a callable"):
        table.on_select(3)


def test_mode_table_keeps_the_selection_when_the_mode_is_still_listed():
    from failwidgets.widgets.mode_table import ModeTable

    modes = [_mode("prime", "a", "x", [1, 2], 0.2, 0.5), _mode("ces", "a", "y", [3], 0.0, 0.9)]
    seen = []
    table = ModeTable(modes)
    table.on_select(seen.append)
    assert table.select(1) is modes[1] and seen == [modes[1]]
    table.set_modes([modes[1], modes[0]])  # reordered: the same mode stays selected
    assert table.selected_id == 0 and table.selected_mode is modes[1]
    table.set_modes([modes[0]])  # gone: nothing selected
    assert table.selected_id == -1 and table.selected_mode is None
    table.mark(modes[0])
    assert table.selected_id == 0 and seen == [modes[1]]  # marking tells nobody


# ---------------------------------------------------------------------- the demo
def _missing_demo_weights() -> list[str]:
    from failwidgets.demo._common import WEIGHTS_DIR

    needed = ("classifier.pt", "classifier.json", "robust.pt", "clip.pt")
    return [name for name in needed if not (WEIGHTS_DIR / name).is_file()]


@pytest.mark.slow
def test_from_demo_builds_every_default_view_and_finds_the_planted_modes():
    missing = _missing_demo_weights()
    if missing:
        pytest.skip(f"demo weights missing in failwidgets/demo/weights: {missing}")
    from failwidgets.demo import load

    demo = load()
    ex = Explorer.from_demo(demo, progress=False, background=False)
    assert list(ex.views) == ["barlow", "prime", "ces", "directions"] and ex.unavailable == {}
    # the Explorer's rows: val and test plus a sample of train, mapped back to the demo
    rows = ex.source_indices
    assert ex.evalset.n == len(rows) < demo.evalset.n
    np.testing.assert_array_equal(ex.evalset.labels, demo.evalset.labels[rows])
    assert (demo.evalset.split[rows] == "train").sum() == 2000
    # it opens on the planted conjunction; at a = 0.5 PRIME keeps exactly the planted triple
    (conjunction,) = [f for f in demo.failures if f.kind == "conjunction"]
    assert ex.class_name == conjunction.class_name
    ex.set_threshold("prime", "a", 0.5)
    prime = ex.failure_modes(conjunction.class_name).query("method == 'prime'")
    triple = " + ".join(f"{k}={v}" for k, v in conjunction.attributes.items())
    assert prime["description"].tolist() == [triple]
    (members,) = prime["members"]
    planted = conjunction.members(demo.world.attributes)[rows]
    assert planted[members].all() and prime["heldout_drop"].iloc[0] > 0.3
    # every method reports modes; the agreement compares them on the test images
    assert set(ex.failure_modes()["method"]) == {"barlow", "prime", "ces", "directions"}
    agreement = ex.agreement()
    assert len({label.split(":")[0] for label in agreement.index}) >= 2
    ex.close()
