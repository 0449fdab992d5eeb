"""BarlowTrees: Barlow for every class on the one result protocol (``failure_modes(classes,
**thresholds)``), trees fitted on demand and shared between settings, the planted failure found."""

from __future__ import annotations

import numpy as np
import pytest
from test_tree_view import EVIL, PLANTED, planted_evalset

from failwidgets.methods.barlow import Barlow, BarlowResult
from failwidgets.methods.barlow_trees import BarlowTrees
from failwidgets.mode_source import FailureModeSource
from failwidgets.rules import TreePathRule
from failwidgets.widgets.tree import TreeView

D = 12


@pytest.fixture(scope="module")
def data():
    return planted_evalset()


@pytest.fixture
def trees(data):
    evalset, features = data
    return Barlow(k=D, depth=2).fit_classes(features, evalset)


def test_fit_classes_fits_nothing_until_asked(trees):
    assert isinstance(trees, BarlowTrees) and isinstance(trees, FailureModeSource)
    assert trees._cache == {}
    assert isinstance(trees.tree("cat"), BarlowResult)
    assert list(trees._cache) == [("cat", "label", 2, D)]


def test_planted_failure_is_the_cat_mode_and_its_rule_reapplies(data, trees):
    evalset, features = data
    modes = trees.failure_modes("cat")
    assert modes and {m.class_name for m in modes} == {"cat"}
    best = max(modes, key=lambda m: m.drop)
    assert any(c.feature == PLANTED and c.op == ">" for c in best.rule.conditions)
    assert isinstance(best.rule, TreePathRule)
    assert np.array_equal(best.rule.apply(evalset, np.arange(evalset.n)), best.members)
    assert np.all(np.diff(best.members) > 0)  # ascending
    assert best.drop > 0.3


def test_classes_all_name_index_and_list(trees):
    every = trees.failure_modes("all")
    assert {m.class_name for m in every} <= {"cat", "dog", EVIL}
    by_name = [m.description for m in trees.failure_modes("cat")]
    assert [m.description for m in trees.failure_modes(0)] == by_name
    assert [m.description for m in every if m.class_name == "cat"] == by_name
    pair = trees.failure_modes(["dog", 0])
    assert [m.class_name for m in pair] == sorted(
        (m.class_name for m in pair), key=["dog", "cat"].index
    )


def test_threshold_override_leaves_the_result_unchanged(trees):
    before = len(trees.failure_modes("cat"))
    assert len(trees.failure_modes("cat", delta=0.0, tau=0.0)) >= before
    assert trees.delta == 0.1 and trees.tau == 0.2
    nothing = trees.failure_modes("cat", delta=1.0)
    assert nothing == [] and "BER + δ" in nothing.reason


def test_empty_answer_says_why_per_class(trees):
    answer = trees.failure_modes([EVIL, "cat"], delta=1.0)
    assert answer == []
    assert f"{EVIL}: no errors among its 200 images" in answer.reason
    assert "cat: " in answer.reason


def test_bad_calls_name_the_argument(trees):
    with pytest.raises(
        TypeError, match="^k: not a threshold of barlow; known: \\['delta', 'tau'\\]"
    ):
        trees.failure_modes("cat", k=3)
    with pytest.raises(ValueError, match="delta: must lie in \\[0, 1\\]"):
        trees.failure_modes("cat", delta=2.0)
    with pytest.raises(ValueError, match="classes"):
        trees.failure_modes("cow")
    with pytest.raises(TypeError, match="classes"):
        trees.failure_modes(2.5)
    with pytest.raises(TypeError, match="^wobble: not a setting"):
        trees.with_settings(wobble=1)
    with pytest.raises(ValueError, match="grouping"):
        trees.with_settings(grouping="labels")
    with pytest.raises(ValueError, match="k: 13 features requested"):
        trees.with_settings(k=D + 1)


def test_with_settings_shares_the_fitted_trees(trees):
    trees.tree("cat")
    shallow = trees.with_settings(depth=1)
    shallow.tree("cat")
    assert set(trees._cache) == {("cat", "label", 2, D), ("cat", "label", 1, D)}
    reseeded = trees.with_settings(random_state=3)
    assert reseeded._cache == {}  # another seed: another tree
    assert trees.estimator.depth == 2  # the original is unchanged


def test_prediction_grouping_describes_the_modes(data):
    evalset, features = data
    trees = Barlow(k=D, depth=2).fit_classes(features, evalset, grouping="prediction")
    modes = trees.failure_modes("dog", delta=0.0, tau=0.0)
    assert modes and all(m.description.startswith("predicted as dog: ") for m in modes)


def test_the_view_answers_what_its_result_answers(data):
    evalset, features = data
    view = TreeView(evalset, features, class_name="cat", depth=2, k=D, background=False)
    trees = Barlow(k=D, depth=2).fit_classes(features, evalset)

    def keys(modes):
        return [(m.class_name, m.description, tuple(m.members)) for m in modes]

    assert keys(view.failure_modes("all", tau=0.05)) == keys(trees.failure_modes("all", tau=0.05))
    node = view.result.n_nodes - 1  # a leaf
    view.select(node)
    assert np.array_equal(view.selected_members, trees.node_mode("cat", node).members)
