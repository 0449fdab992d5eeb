"""TreeView: view model of the failure tree, δ/τ re-filtering without refit, refits and their
cache, node clicks (grid errors first, the feature panel), linking and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import traitlets

from failwidgets.data import EvalSet
from failwidgets.features.visualize import top_activating
from failwidgets.methods import barlow as barlow_module
from failwidgets.modes import FailureMode
from failwidgets.widgets import ImageGrid
from failwidgets.widgets import tree as tree_module
from failwidgets.widgets.tree import TreeView, tree_view_model

EVIL = "<img src=x onerror=alert(1)>"
D = 12
PLANTED = 5  # class "cat" fails where feature 5 > 1


def planted_evalset(seed: int = 0):
    """600 images, 3 classes; features N(0, 1) except the planted failure.

    ``cat``: 80 % wrong where feature 5 > 1, 3 % wrong elsewhere (predicted as ``dog``).
    ``dog``: 10 % wrong at random (predicted as ``cat``).
    ``EVIL`` (the third class, an XSS-like name): never wrong, never predicted.
    """
    rng = np.random.default_rng(seed)
    n = 600
    labels = np.arange(n) % 3
    features = rng.normal(size=(n, D)).astype(np.float32)
    predictions = labels.copy()
    cat = labels == 0
    hot = cat & (features[:, PLANTED] > 1.0)
    wrong = np.where(hot, rng.random(n) < 0.8, cat & (rng.random(n) < 0.03))
    predictions[wrong] = 1
    dog_wrong = (labels == 1) & (rng.random(n) < 0.1)
    predictions[dog_wrong] = 0
    images = rng.integers(0, 256, size=(n, 16, 16, 3), dtype=np.uint8)
    evalset = EvalSet.from_arrays(images, labels, predictions, ["cat", "dog", EVIL])
    return evalset, features


class TinyMap(torch.nn.Module):
    """A fixed random 3x3 conv with D channels and ReLU: a (B, D, 16, 16) feature map."""

    def __init__(self, channels: int = D):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, channels, 3, padding=1)

    def forward_features_map(self, x):
        return torch.relu(self.conv(x))


@pytest.fixture(scope="module")
def data():
    return planted_evalset()


@pytest.fixture
def view(data):
    evalset, features = data
    return TreeView(evalset, features, class_name="cat", depth=2, k=D, background=False)


def leaf_ids(model):
    return [n["id"] for n in model["nodes"] if n["leaf"]]


# ---------------------------------------------------------------------- the view model
def test_view_model_draws_the_fitted_tree(view):
    model = view.canvas.tree
    json.dumps(model)  # JSON-ready
    r = view.result
    assert model["status"] == "ok" and model["class_name"] == "cat"
    assert model["grouping"] == "label" and model["depth"] == 2 and model["k"] == D
    assert len(model["nodes"]) == r.n_nodes
    root = model["nodes"][0]
    assert root["parent"] == -1 and root["edge"] is None and root["size"] == 200
    assert root["feature"] == PLANTED  # the planted split comes first
    assert model["ber"] == pytest.approx(r.base_error_rate)
    # every non-root node carries its condition in original feature indices
    for node in model["nodes"][1:]:
        parent = model["nodes"][node["parent"]]
        assert node["edge"]["feature"] == parent["feature"]
        assert node["edge"]["threshold"] == pytest.approx(parent["threshold"])
        assert node["edge"]["op"] in ("<=", ">")
    # the highest-IV leaf is on the "> ~1" side of feature 5, and it passes the defaults
    top = r.top_leaf
    node = model["nodes"][top]
    assert node["passes"] and not node["dim"]
    assert f"feature[{PLANTED}] >" in node["rule"]
    assert node["er"] > model["ber"] + 0.1 and node["ec"] > 0.2
    # passes / dim agree with the engine's re-filter
    leaves = r.leaves(0.1, 0.2)
    expected = dict(zip(leaves["node_id"], leaves["passes"]))
    for node in model["nodes"]:
        assert node["passes"] == bool(expected.get(node["id"], False))
        assert node["dim"] == (node["leaf"] and not node["passes"])
    assert model["n_passing"] == int(leaves["passes"].sum())
    assert view.passing_leaves["node_id"].tolist() == leaves["node_id"][leaves["passes"]].tolist()


def test_tree_view_model_without_a_tree():
    model = tree_view_model(None, delta=0.1, tau=0.2, class_name="x", message="why")
    assert model["status"] == "error" and model["nodes"] == [] and model["message"] == "why"


# ---------------------------------------------------------------------- thresholds
def test_delta_and_tau_refilter_without_refit(view, monkeypatch):
    calls = []
    real_fit = barlow_module.Barlow.fit

    def counting_fit(self, *args, **kwargs):
        calls.append(1)
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(barlow_module.Barlow, "fit", counting_fit)
    result = view.result
    before = view.canvas.tree
    assert before["n_passing"] >= 1

    view.tau = 0.99  # no leaf holds 99 % of the errors
    after = view.canvas.tree
    assert after["n_passing"] == 0 and view.passing_leaves.empty
    assert all(n["dim"] for n in after["nodes"] if n["leaf"])
    assert view.failure_modes() == []
    assert view._controls_by_name["tau"].value == 0.99  # the slider follows

    view.tau = 0.0
    view.delta = 0.0  # every leaf above BER passes
    loose = view.canvas.tree
    above = [n for n in loose["nodes"] if n["leaf"] and n["er"] > loose["ber"]]
    assert loose["n_passing"] == len(above) >= before["n_passing"]

    view._controls_by_name["delta"].value = 0.1  # the slider drives the trait
    view._controls_by_name["tau"].value = 0.2
    assert view.delta == 0.1 and view.tau == 0.2
    assert view.canvas.tree["n_passing"] == before["n_passing"]
    assert calls == [] and view.result is result  # never refitted
    assert "refilter" in view.timings


def test_failure_modes_of_other_classes_fit_once(view):
    def key(mode):
        return (mode.class_name, mode.description, tuple(mode.members.tolist()))

    everything = [key(m) for m in view.failure_modes("all")]
    assert [k for k in everything if k[0] == "cat"] == [key(m) for m in view.failure_modes()]
    assert ("dog", "label", 2, D) in view._trees._cache and view.class_name == "cat"
    dog = view.fit("dog")
    assert [k for k in everything if k[0] == "dog"] == [
        ("dog", row.rule, tuple(np.sort(dog.members(int(row.node_id))).tolist()))
        for row in dog.failure_leaves(view.delta, view.tau).itertuples()
    ]
    assert [key(m) for m in view.failure_modes(["dog"])] == [k for k in everything if k[0] == "dog"]
    assert view.failure_modes([EVIL]) == []  # no errors: nothing
    assert view.result.params["depth"] == 2 and view.class_name == "cat"  # the view is unchanged
    with pytest.raises(ValueError, match="classes: unknown class"):
        view.failure_modes("bird")
    with pytest.raises(TypeError, match="classes"):
        view.failure_modes(3.5)


def test_failure_modes_are_the_passing_leaves(view):
    modes = view.failure_modes()
    passing = view.passing_leaves
    assert len(modes) == len(passing) >= 1
    for mode, row in zip(modes, passing.itertuples()):
        assert isinstance(mode, FailureMode)
        assert mode.method == "barlow" and mode.class_name == "cat"
        assert mode.description == row.rule
        members = view.result.members(int(row.node_id))
        assert np.array_equal(mode.members, np.sort(members))
        assert mode.accuracy == pytest.approx(1 - row.error_rate)
        assert mode.drop == pytest.approx(row.error_rate - view.result.base_error_rate)


# ---------------------------------------------------------------------- refits
def test_depth_and_k_refit_and_fits_are_cached(view):
    first = view.result
    view.depth = 1
    assert view.result.params["depth"] == 1 and view.result.n_nodes == 3
    assert len(view.canvas.tree["nodes"]) == 3
    view.k = 3
    assert view.result.params["k"] == 3 and len(view.result.selected_features) == 3
    assert view._controls_by_name["k"].value == 3
    view.k = D
    view.depth = 2
    assert view.result is first  # (cat, label, 2, D) came from the cache
    assert set(view._trees._cache) >= {("cat", "label", 1, D), ("cat", "label", 1, 3)}
    view._controls_by_name["depth"].value = 3  # the slider refits too
    assert view.depth == 3 and view.result.params["depth"] == 3


def test_refit_clears_the_selection(view):
    view.select(view.result.top_leaf)
    assert view.selected_node is not None
    view.depth = 1
    assert view.selected_node is None and len(view.selected_members) == 0
    assert view.canvas.selected_node == -1


def test_grouping_toggle_and_class_selector(view):
    view.grouping = "prediction"
    r = view.result
    assert np.array_equal(np.sort(r.group), view.evalset.prediction_group("cat"))
    assert view.canvas.tree["grouping"] == "prediction"
    modes = view.failure_modes()
    assert all(m.description.startswith("predicted as cat: ") for m in modes)
    view._controls_by_name["grouping"].value = "label"
    assert view.grouping == "label"
    view.set_class("dog")
    assert view.class_name == "dog" and view._controls_by_name["class_name"].value == "dog"
    assert np.array_equal(np.sort(view.result.group), view.evalset.label_group("dog"))
    view._controls_by_name["class_name"].value = "cat"
    assert view.class_name == "cat"
    view.set_class(1)  # an index works too
    assert view.class_name == "dog"


def test_a_group_without_errors_says_nothing_to_explain(view):
    view.set_class(EVIL)
    model = view.canvas.tree
    assert model["status"] == "no_errors" and model["nodes"] == []
    assert "nothing to explain" in model["message"]
    assert view.failure_modes() == [] and view.passing_leaves.empty
    assert "nothing to explain" in view.status
    assert view.grid.total == 200 and "no errors" in view.grid.title
    assert "click a node" not in view.grid.title
    view.tau = 0.5  # thresholds still work
    assert view.canvas.tree["status"] == "no_errors"
    view.grouping = "prediction"  # only its own (correct) images are predicted as it
    assert view.canvas.tree["status"] == "no_errors"
    view.select(0)  # the root still lists the group's images
    assert view.grid.total == 200 and view.visual["state"] == "none"


# ---------------------------------------------------------------------- clicks
def test_node_click_fills_the_grid_errors_first_and_notifies(view):
    seen = []
    view.on_select(seen.append)
    top = view.result.top_leaf
    view.canvas._on_message(view.canvas, {"type": "select", "node": top}, [])
    members = view.result.members(top)
    shown = view.grid.indices
    assert sorted(shown.tolist()) == sorted(members.tolist())
    correct = view.evalset.correct[shown]
    assert not correct[: int((~correct).sum())].any()  # errors first
    assert (~correct).sum() == view.result.table["errors"][top]
    assert view.selected_node == top and view.canvas.selected_node == top
    assert np.array_equal(view.selected_members, np.sort(members))
    assert "node" in view.grid.title and "errors" in view.grid.title
    assert len(seen) == 1 and seen[0].method == "barlow"
    assert np.array_equal(seen[0].members, np.sort(members))
    # scores: the leaf's feature (its last condition's), so the grid can sort by it
    feature = view.canvas.tree["nodes"][top]["edge"]["feature"]
    assert view.visual["feature"] == feature
    assert np.allclose(view.grid.scores, view.features[shown, feature])
    # stale or malformed clicks change nothing and are answered with an error naming the field
    sent = []
    view.canvas.send = lambda content, buffers=None: sent.append(content)
    for node in (999, "1", True, None):
        view.canvas._on_message(view.canvas, {"type": "select", "node": node}, [])
    assert view.selected_node == top and len(seen) == 1
    assert [c["type"] for c in sent] == ["error"] * 4
    assert sent[0]["error"].startswith("node: 999 is not a node of the drawn tree")
    assert all(c["request"] == "select" and c["error"].startswith("node: ") for c in sent)


def test_feature_panel_without_a_model_shows_the_top_images(view):
    assert view.visual["state"] == "none"
    top = view.result.top_leaf
    view.select(top)
    visual = view.visual
    feature = view.canvas.tree["nodes"][top]["edge"]["feature"]
    assert visual["state"] == "ready" and visual["feature"] == feature
    assert visual["heatmaps"] == "off" and visual["attack"] == "off"
    assert "model=" in visual["message"]
    expected = top_activating(view.features, feature, group=view.result.group, k=6)
    assert [item["index"] for item in visual["items"]] == expected.tolist()
    buffers = view.visual_images
    assert len(buffers) == 6 and all(b[:8] == b"\x89PNG\r\n\x1a\n" for b in buffers)
    json.dumps(visual)  # no image bytes in the JSON part
    # a root click shows its own split feature
    view.select(0)
    assert view.visual["feature"] == view.result.table["feature"][0]


def test_feature_panel_with_a_model_has_heatmaps_and_attack(data):
    evalset, features = data
    view = TreeView(
        evalset, features, model=TinyMap(), class_name="cat", k=D, attack_steps=5,
        background=False,
    )  # fmt: skip
    view.select(view.result.top_leaf)
    visual = view.visual
    assert visual["heatmaps"] == "ready" and visual["attack"] == "ready"
    assert visual["attack_info"]["steps"] == 5
    assert visual["attack_info"]["after"] > visual["attack_info"]["before"]  # ascent works
    positions = [(i["image"], i["overlay"], i["attack"]) for i in visual["items"]]
    assert sorted(p for triple in positions for p in triple) == list(range(18))
    assert all(b[:4] == b"\x89PNG" for b in view.visual_images)
    # a depth-2 leaf's rule has two features: choosing the other one re-draws the panel
    leaf = next(
        n
        for n in view.canvas.tree["nodes"]
        if n["leaf"] and n["depth"] == 2 and n["edge"]["feature"] != PLANTED
    )
    view.select(leaf["id"])
    assert view.visual["rule_features"] == [PLANTED, leaf["edge"]["feature"]]
    view.canvas._on_message(view.canvas, {"type": "feature", "feature": PLANTED}, [])
    assert view.visual["feature"] == PLANTED
    view.visualize(0)
    assert view.visual["feature"] == 0


def test_attack_runs_in_the_background_and_the_browser_can_ask_again(data, monkeypatch):
    evalset, features = data
    view = TreeView(evalset, features, model=TinyMap(), class_name="cat", k=D, attack_steps=3)
    sent = []
    monkeypatch.setattr(view.canvas, "send", lambda content, buffers=None: sent.append(content))
    view.select(view.result.top_leaf)
    assert sent[-1]["attack"] in ("pending", "ready")
    view.wait_for_attack(timeout=30)
    assert sent[-1]["attack"] == "ready" and view.visual["attack"] == "ready"
    assert sent[-1]["token"] == sent[-2]["token"]  # the same selection, completed
    sent.clear()
    view.canvas._on_message(view.canvas, {"type": "visual-request"}, [])
    assert sent == [view.visual]
    view.close()


def test_shared_grid_and_own_grid(data):
    evalset, features = data
    own = TreeView(evalset, features, class_name="cat", k=D, background=False)
    assert own.grid in own.children
    shown = own.grid.indices
    assert sorted(shown.tolist()) == evalset.label_group("cat").tolist()
    assert not evalset.correct[shown][: int((~evalset.correct[shown]).sum())].any()
    grid = ImageGrid(evalset, [])
    shared = TreeView(evalset, features, grid=grid, class_name="cat", k=D, background=False)
    assert shared.grid is grid and grid not in shared.children
    assert grid.total == 0  # a shared grid is only filled by clicks
    shared.select(0)
    assert grid.total == 200


def test_default_class_is_the_one_with_most_errors(data):
    evalset, features = data
    view = TreeView(evalset, features, k=D)
    assert view.class_name == "cat"


# ---------------------------------------------------------------------- a row subset
@pytest.fixture(scope="module")
def split_data(data):
    """The planted EvalSet with a train/test split (every third image of each class is
    train): the failure exists in both, so a view that ignored the split would report
    train images among its members."""
    evalset, features = data
    split = np.where(np.arange(evalset.n) % 9 < 3, "train", "test")
    images = evalset.images_at(np.arange(evalset.n))
    names = list(evalset.class_names)
    split_set = EvalSet.from_arrays(images, evalset.labels, evalset.predictions, names, split=split)
    return split_set, features


def test_split_rows_are_the_only_rows_fitted_and_reported(split_data):
    evalset, features = split_data
    test = evalset.split_indices("test")
    view = TreeView(evalset, features, split="test", class_name="cat", k=D, background=False)
    np.testing.assert_array_equal(view.indices, test)
    np.testing.assert_array_equal(
        np.sort(view.result.group), np.intersect1d(evalset.label_group("cat"), test)
    )
    modes = view.failure_modes("all")
    assert {m.class_name for m in modes} >= {"cat"}
    for mode in modes:
        assert np.isin(mode.members, test).all(), mode.description
    view.grouping = "prediction"
    for mode in view.failure_modes("all"):
        assert np.isin(mode.members, test).all(), mode.description
    view.grouping = "label"
    for node in range(view.result.n_nodes):
        view.select(node)
        assert np.isin(view.selected_members, test).all()
        assert np.isin(view.grid.indices, test).all()
        assert np.isin([item["index"] for item in view.visual["items"]], test).all()
    # the grid of the class lists the split's images only, and says so
    own = TreeView(evalset, features, split="test", class_name="cat", k=D, background=False)
    assert (
        sorted(own.grid.indices.tolist())
        == np.intersect1d(evalset.label_group("cat"), test).tolist()
    )
    assert "in split 'test'" in own.grid.title
    # the same rows given as indices, as a split name, or as a mask give the same tree
    for rows in (test, "test", evalset.split == "test"):
        other = TreeView(evalset, features, indices=rows, class_name="cat", k=D)
        np.testing.assert_array_equal(other.result.group, view.result.group)
        assert [m.members.tolist() for m in other.failure_modes()] == [
            m.members.tolist() for m in view.failure_modes()
        ]


def test_indices_and_split_together_keep_the_rows_in_both(split_data):
    evalset, features = split_data
    train = evalset.split_indices("train")
    some = np.arange(0, evalset.n, 2)
    view = TreeView(evalset, features, indices=some, split="train", class_name="cat", k=D)
    np.testing.assert_array_equal(view.indices, np.intersect1d(some, train))
    assert np.isin(view.result.group, np.intersect1d(some, train)).all()


def test_a_class_without_images_in_the_rows_says_so(split_data):
    evalset, features = split_data
    dogs = evalset.label_group("dog")
    view = TreeView(evalset, features, indices=dogs, k=D)
    assert view.class_name == "dog"  # the default class counts errors in the rows only
    view.set_class("cat")
    assert view.result is None
    assert view.canvas.tree["message"] == (
        f"No images labelled cat in the {len(dogs)} given rows: nothing to fit."
    )


def test_bad_rows(split_data, data):
    evalset, features = split_data
    with pytest.raises(ValueError, match="split: no samples in split 'val'"):
        TreeView(evalset, features, split="val", k=D)
    with pytest.raises(TypeError, match="split: expected a split name"):
        TreeView(evalset, features, split=3, k=D)
    with pytest.raises(ValueError, match="indices: no rows to analyse"):
        TreeView(evalset, features, indices=[], k=D)
    with pytest.raises(ValueError, match="indices: contains repeated"):
        TreeView(evalset, features, indices=[1, 1, 2], k=D)
    with pytest.raises(ValueError, match="indices: index 600 outside"):
        TreeView(evalset, features, indices=[600], k=D)
    with pytest.raises(ValueError, match="indices: none of the given rows is in split 'test'"):
        TreeView(evalset, features, indices=evalset.split_indices("train"), split="test", k=D)
    with pytest.raises(ValueError, match="split: this EvalSet has no split column"):
        TreeView(data[0], features, split="test", k=D)


# ---------------------------------------------------------------------- browser messages
def test_a_feature_message_off_the_selected_rule_is_refused(view):
    leaf = next(n for n in view.canvas.tree["nodes"] if n["leaf"] and n["depth"] == 2)
    view.select(leaf["id"])
    rule = view.visual["rule_features"]
    assert len(rule) == 2 and view.visual["feature"] == rule[-1]
    off_rule = next(f for f in range(D) if f not in rule)
    token = view.visual["token"]
    sent = []
    send = view.canvas.send
    view.canvas.send = lambda content, buffers=None: sent.append(content)
    view.canvas._on_message(view.canvas, {"type": "feature", "feature": off_rule}, [])
    assert view.visual["feature"] == rule[-1] and view.visual["token"] == token  # not drawn
    assert [c["type"] for c in sent] == ["error"]
    assert sent[0]["error"].startswith(f"feature: {off_rule} is not on the selected node's rule")
    view.canvas.send = send
    view.canvas._on_message(view.canvas, {"type": "feature", "feature": rule[0]}, [])
    assert view.visual["feature"] == rule[0]  # a feature of the rule is drawn
    view.visualize(off_rule)  # the Python API still shows any column
    assert view.visual["feature"] == off_rule
    view.depth = 1  # a refit clears the selection: no rule, so no feature message is drawn
    sent.clear()
    view.canvas.send = lambda content, buffers=None: sent.append(content)
    view.canvas._on_message(view.canvas, {"type": "feature", "feature": PLANTED}, [])
    assert view.visual["state"] == "none"
    assert sent[0]["type"] == "error" and "no node is selected" in sent[0]["error"]


def test_the_browser_may_set_no_trait_of_the_drawing(view):
    top = view.result.top_leaf
    view.select(top)
    resent = []
    view.canvas.send_state = lambda key=None: resent.append(key)
    for state in ({"selected_node": 999}, {"selected_node": -1}, {"tree": {"status": "x"}},
                  {"tree": view.canvas.tree, "selected_node": top}):  # fmt: skip
        before = dict(view.canvas.tree), view.canvas.selected_node
        with pytest.raises(traitlets.TraitError, match="set by the kernel only"):
            view.canvas.set_state(state)
        assert (view.canvas.tree, view.canvas.selected_node) == before
        assert resent[-1] == list(state)  # the browser is sent the kept values again
    assert view.selected_node == top


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [("selected_node", 999, ValueError), ("selected_node", -2, ValueError),
     ("selected_node", True, TypeError), ("selected_node", None, TypeError),
     ("tree", {"status": "x"}, ValueError), ("tree", None, traitlets.TraitError),
     ("tree", {"status": "ok", "nodes": [{"id": "0"}]}, ValueError)],
)  # fmt: skip
def test_the_drawing_refuses_values_the_kernel_could_not_draw(view, name, value, error):
    view.select(view.result.top_leaf)
    before = dict(view.canvas.tree), view.canvas.selected_node
    with pytest.raises(traitlets.TraitError) as info:
        setattr(view.canvas, name, value)
    assert isinstance(info.value, error) and name in str(info.value)
    assert (view.canvas.tree, view.canvas.selected_node) == before


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [("delta", 1.5, ValueError), ("tau", "0.2", TypeError), ("depth", 9, ValueError),
     ("k", D + 1, ValueError), ("grouping", "labels", ValueError),
     ("class_name", "bird", ValueError), ("class_name", 2.5, TypeError),
     ("class_name", None, TypeError), ("delta", None, TypeError), ("k", None, TypeError),
     ("depth", True, TypeError), ("depth", 2.0, TypeError), ("k", float(D), TypeError),
     ("tau", True, TypeError)],
)  # fmt: skip
def test_trait_validators_raise_trait_errors_and_roll_back(view, name, value, error):
    before = getattr(view, name)
    with pytest.raises(traitlets.TraitError) as info:
        with view.hold_trait_notifications():  # how set_state applies a browser's state
            setattr(view, name, value)
    assert isinstance(info.value, error) and str(info.value).startswith(f"{name}: ")
    assert getattr(view, name) == before


def test_the_status_says_why_no_leaf_passes(view):
    view.tau = 0.99
    model = view.canvas.tree
    assert model["n_passing"] == 0
    assert model["reason"] == view.result.empty_reason(view.delta, 0.99)
    assert model["reason"].startswith("no leaf has ER > BER + δ")
    assert view.status.endswith(model["reason"]) and "0 of" in view.status
    empty = view.failure_modes()  # the return value says the same
    assert empty == [] and empty.reason == model["reason"] and model["reason"] in repr(empty)
    every = view.failure_modes("all")  # per class: EVIL has no errors, dog no passing leaf
    assert every == [] and every.reason.startswith(f"cat: {model['reason']}; dog: ")
    assert f"{EVIL}: no errors among its 200 images" in every.reason
    view.tau = 0.2
    assert view.canvas.tree["reason"] == "" and view.canvas.tree["n_passing"] >= 1
    assert view.failure_modes() and view.failure_modes().reason is None


# ---------------------------------------------------------------------- bad input
def test_bad_inputs(data):
    evalset, features = data
    with pytest.raises(TypeError, match="evalset"):
        TreeView(features, features)
    with pytest.raises(ValueError, match="features: 599 rows"):
        TreeView(evalset, features[:-1])
    with pytest.raises(ValueError, match="features: expected a 2-D"):
        TreeView(evalset, features[:, 0])
    bad = features.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="features: contains NaN"):
        TreeView(evalset, bad)
    with pytest.raises(TypeError, match="features: expected real"):
        TreeView(evalset, features.astype(str), k=D)
    with pytest.raises(ValueError, match="k: 13 features requested"):
        TreeView(evalset, features, k=D + 1)
    with pytest.raises(ValueError, match="depth: must be in 1..3"):
        TreeView(evalset, features, k=D, depth=4)
    with pytest.raises(ValueError, match="delta: must lie in"):
        TreeView(evalset, features, k=D, delta=1.5)
    with pytest.raises(TypeError, match="tau: expected a number"):
        TreeView(evalset, features, k=D, tau="0.2")
    with pytest.raises(ValueError, match="grouping: expected"):
        TreeView(evalset, features, k=D, grouping="labels")
    with pytest.raises(ValueError, match="class_name: unknown class"):
        TreeView(evalset, features, k=D, class_name="bird")
    with pytest.raises(ValueError, match="n_top"):
        TreeView(evalset, features, k=D, n_top=0)
    with pytest.raises(ValueError, match="attack_steps"):
        TreeView(evalset, features, k=D, attack_steps=-1)
    with pytest.raises(ValueError, match="attack_step_size"):
        TreeView(evalset, features, k=D, attack_step_size=0.0)
    other = ImageGrid(planted_evalset(1)[0])
    with pytest.raises(ValueError, match="grid: the ImageGrid shows another EvalSet"):
        TreeView(evalset, features, k=D, grid=other)
    with pytest.raises(TypeError, match="grid: expected an ImageGrid"):
        TreeView(evalset, features, k=D, grid="grid")
    with pytest.raises(ValueError, match="model: its pooled features"):
        TreeView(evalset, features, k=D, model=TinyMap(channels=D + 1))
    with pytest.raises(TypeError, match="model: expected"):
        TreeView(evalset, features, k=D, model=42)


def test_bad_settings_on_a_live_view(view):
    with pytest.raises(ValueError, match="k: 99"):
        view.k = 99
    with pytest.raises(TypeError, match="depth: expected an integer"):
        view.depth = 2.5
    with pytest.raises(ValueError, match="tau: must lie"):
        view.tau = -0.1
    with pytest.raises(ValueError, match="node: must be in"):
        view.select(view.result.n_nodes)
    with pytest.raises(TypeError, match="node: expected an integer"):
        view.select("0")
    with pytest.raises(ValueError, match="feature: must be in"):
        view.visualize(D)
    with pytest.raises(TypeError, match="callback"):
        view.on_select(3)
    assert view.k == D and view.depth == 2 and view.tau == 0.2  # unchanged


def test_refit_errors_become_a_message_not_a_crash(data, monkeypatch):
    """A group whose samples are all wrong cannot be explained: the view says why."""
    evalset, features = data
    labels = evalset.labels.copy()
    predictions = evalset.predictions.copy()
    predictions[predictions == 1] = 2  # nothing is predicted as dog ...
    predictions[labels == 1] = 0  # ... and every dog is wrong
    broken = EvalSet.from_arrays(
        evalset.images_at(np.arange(evalset.n)), labels, predictions, evalset.class_names
    )
    view = TreeView(broken, features, class_name="cat", k=D)
    view.set_class("dog")
    model = view.canvas.tree
    assert model["status"] == "error" and "all 200 samples are misclassified" in model["message"]
    assert view.result is None and view.failure_modes() == [] and view.passing_leaves.empty
    assert view.failure_modes().reason == model["message"] == view.status
    with pytest.raises(ValueError, match="node: no tree"):
        view.select(0)
    view.grouping = "prediction"
    model = view.canvas.tree
    assert model["status"] == "error" and "No images predicted as dog" in model["message"]


# ---------------------------------------------------------------------- the user's own fits
def no_refit(monkeypatch):
    """Make any Barlow fit fail: a view that refits a given tree errors out."""

    def refuse(*args, **kwargs):
        raise AssertionError("Barlow was refitted")

    monkeypatch.setattr(barlow_module.Barlow, "fit", refuse)
    monkeypatch.setattr(barlow_module.Barlow, "_fit_rows", refuse)


def sorted_modes(modes):
    return [(m.class_name, m.description, np.sort(m.members).tolist()) for m in modes]


@pytest.fixture(scope="module")
def user_survey(data):
    """A user's own fit: every class by label, at their own depth, k and thresholds."""
    evalset, features = data
    groups = {name: evalset.label_group(name) for name in ("cat", "dog")}
    estimator = barlow_module.Barlow(k=D - 2, depth=2, delta=0.05, tau=0.15)
    return estimator.fit_groups(features, evalset, groups, keep_results=True)


def test_a_given_survey_is_shown_unchanged_without_refit(data, user_survey, monkeypatch):
    evalset, _ = data
    no_refit(monkeypatch)
    view = TreeView(evalset, results=user_survey, background=False)
    mine = user_survey.results[("custom", "cat")]
    assert view.class_name == "cat" and view.grouping == "label"  # the given tree with most errors
    assert view.result is mine and view.result_is_given and view.features is None
    assert (view.delta, view.tau) == (0.05, 0.15)  # the fit's own thresholds
    model = view.canvas.tree
    assert model["k"] == D - 2 and len(model["nodes"]) == mine.n_nodes
    assert view.status.startswith(f"your tree (depth 2, k {D - 2})")
    for name in ("depth", "k"):  # they would need a refit
        assert view._controls_by_name[name].layout.display == "none"
    expected = []
    for name in ("cat", "dog"):
        own = user_survey.results[("custom", name)].to_failure_modes(class_name=name)
        expected += sorted_modes(own)
    assert expected and sorted_modes(view.failure_modes("all")) == expected
    # δ/τ re-filter the given tree's leaves; depth does not refit it
    view.delta, view.tau = 0.0, 0.0
    assert sorted_modes(view.failure_modes()) == sorted_modes(
        mine.to_failure_modes(0.0, 0.0, class_name="cat")
    )
    view.depth = 1
    assert view.result is mine
    # a node click fills the grid; the feature panel says what it needs
    view.select(mine.top_leaf)
    np.testing.assert_array_equal(view.selected_members, np.sort(mine.members(mine.top_leaf)))
    assert view.visual["state"] == "error" and "features=" in view.visual["message"]
    with pytest.raises(ValueError, match="feature: no features were given"):
        view.visualize(0)
    # a class without a given tree says so
    view.set_class(EVIL)
    assert view.result is None
    assert view.canvas.tree["message"].startswith(f"No Barlow result was given for {EVIL}")
    json.dumps(view.canvas.tree)


def test_a_single_result_tells_its_class_and_grouping(data, monkeypatch):
    evalset, features = data
    mine = barlow_module.Barlow(k=D, depth=1).fit(features, evalset, ("prediction", "cat"))
    no_refit(monkeypatch)
    view = TreeView(evalset, results=mine, background=False)
    assert (view.class_name, view.grouping) == ("cat", "prediction")
    assert view.result is mine
    assert sorted_modes(view.failure_modes()) == sorted_modes(
        [
            FailureMode("barlow", "cat", f"predicted as cat: {m.description}", m.members)
            for m in mine.to_failure_modes(class_name="cat")
        ]
    )


def test_a_survey_by_grouping_and_the_default_k(data):
    evalset, features = data
    estimator = barlow_module.Barlow(k=D, depth=1)
    survey = estimator.survey(features, evalset, "prediction", ["dog"], keep_results=True)
    view = TreeView(evalset, results=survey, background=False)
    assert (view.class_name, view.grouping) == ("dog", "prediction")
    assert view.result is survey.results[("prediction", "dog")]
    view.grouping = "label"
    assert view.result is None and "No Barlow result was given for dog" in view.status
    assert TreeView(evalset, features[:, :6], background=False).k == 6  # 20, capped at D


def test_classes_without_a_given_tree_are_fitted_from_features(data):
    evalset, features = data
    mine = barlow_module.Barlow(k=D, depth=1).fit(features, evalset, ("label", "dog"))
    view = TreeView(evalset, features, results={1: mine}, k=D, background=False)
    assert view.class_name == "dog" and view.result is mine
    assert view.given_results == {("dog", "label"): mine}
    view.set_class("cat")  # fitted from the features, at the view's depth and k
    assert not view.result_is_given and view.result.params["depth"] == 2
    assert view._controls_by_name["depth"].layout.display is None
    view.select(view.result.top_leaf)
    assert view.visual["state"] == "ready"


def test_bad_results_name_results(data, split_data, user_survey):
    import dataclasses

    evalset, features = data
    cat = user_survey.results[("custom", "cat")]
    mixed = barlow_module.Barlow(k=D).fit(features, evalset, np.arange(90))
    no_results = barlow_module.Barlow(k=D).fit_groups(
        features, evalset, {"cat": evalset.label_group("cat")}
    )
    cases = [
        (3, TypeError, r"^results: expected a BarlowSurvey"),
        ({"cat": "tree"}, TypeError, r"^results: expected BarlowResult values"),
        ({"bird": cat}, ValueError, r"^results: unknown class 'bird'"),
        ({7: cat}, ValueError, r"^results: unknown class 7"),
        ({}, ValueError, r"^results: no fitted tree"),
        (no_results, ValueError, r"^results: the BarlowSurvey kept no trees"),
        (mixed, ValueError, r"^results: cannot tell which class"),
        ({"dog": cat}, ValueError, r"^results: the tree given for 'dog' has rows not all"),
        ({"cat": cat, 0: cat}, ValueError, r"^results: two trees for class 'cat'"),
        (
            dataclasses.replace(cat, group=cat.group + evalset.n),
            ValueError,
            r"^results: a tree has row index \d+ but the evalset has 600",
        ),
        (
            dataclasses.replace(cat, errors=~cat.errors),
            ValueError,
            r"^results: the tree for 'cat' marks \d+ of its rows wrong",
        ),
    ]
    for results, error, pattern in cases:
        with pytest.raises(error, match=pattern):
            TreeView(evalset, results=results)
    split_set, _ = split_data
    with pytest.raises(ValueError, match=r"^results: the tree for 'cat' has \d+ rows outside"):
        TreeView(split_set, results=cat, split="test")
    with pytest.raises(ValueError, match=r"^features: the given results split on feature"):
        TreeView(evalset, features[:, :2], results=cat, k=2)
    with pytest.raises(TypeError, match=r"^features: expected an array .* got None"):
        TreeView(evalset)


def test_module_exports():
    assert tree_module.__all__ == ["TreeCanvas", "TreeView", "tree_view_model"]
