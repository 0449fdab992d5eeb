"""Barlow failure trees on hand-made features whose best splits are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_selection import mutual_info_classif as sk_mutual_info

from failwidgets.data import EvalSet
from failwidgets.methods.barlow import NODE_COLUMNS, Barlow, Outcomes


def planted(n=400, d=40, seed=0, feature=37):
    """Labels/predictions where errors happen exactly when features[:, feature] < 0.3."""
    rng = np.random.default_rng(seed)
    features = rng.random((n, d)).astype(np.float32)
    labels = np.zeros(n, dtype=np.int64)
    predictions = np.where(features[:, feature] < 0.3, 1, 0)
    return features, labels, predictions


def two_feature_world(n=800, seed=1):
    """Errors iff f5 < 0.5 and f23 > 0.6 (a depth-2 conjunction), 40 features."""
    rng = np.random.default_rng(seed)
    features = rng.random((n, 40)).astype(np.float32)
    wrong = (features[:, 5] < 0.5) & (features[:, 23] > 0.6)
    labels = np.zeros(n, dtype=np.int64)
    return features, labels, wrong.astype(np.int64), wrong


def test_depth_one_finds_the_planted_feature_in_original_indices():
    features, labels, predictions = planted()
    result = Barlow(k=5, depth=1).fit(features, (labels, predictions))
    nodes = result.nodes
    assert list(nodes.columns) == NODE_COLUMNS
    root = nodes.iloc[0]
    assert root["feature"] == 37 and 0.29 < root["threshold"] < 0.31
    assert result.selected_features[0] == 37  # not its position (0) in the selected subset
    left = nodes[(nodes["edge_op"] == "<=") & nodes["is_leaf"]].iloc[0]
    assert left["error_rate"] == 1.0 and left["error_coverage"] == 1.0
    assert left["rule"].startswith("feature[37] <=")
    assert left["passes"]
    right = nodes[(nodes["edge_op"] == ">")].iloc[0]
    assert right["errors"] == 0 and not right["passes"]
    errors = labels != predictions
    assert result.base_error_rate == pytest.approx(errors.mean())
    np.testing.assert_array_equal(
        np.sort(result.members(int(left["node_id"]))), np.flatnonzero(errors)
    )
    assert result.aler == pytest.approx(1.0)  # the error leaf is pure


def test_depth_two_recovers_a_conjunction_and_metrics_are_consistent():
    features, labels, predictions, wrong = two_feature_world()
    result = Barlow(k=10, depth=2).fit(features, (labels, predictions))
    nodes = result.nodes
    leaves = nodes[nodes["is_leaf"]]
    top = result.top_leaf
    conditions = result.rule(top).conditions
    assert {c.feature for c in conditions} == {5, 23}
    np.testing.assert_array_equal(np.sort(result.members(top)), np.flatnonzero(wrong))
    # definitions: EC sums to 1 over leaves, sizes to n, IV = ER * EC, ALER = sum IV
    assert leaves["error_coverage"].sum() == pytest.approx(1.0)
    assert leaves["size"].sum() == len(features)
    np.testing.assert_allclose(nodes["importance"], nodes["error_rate"] * nodes["error_coverage"])
    assert result.aler == pytest.approx(leaves["importance"].sum())
    assert result.aler <= leaves["error_rate"].max() + 1e-12
    assert result.aler_minus_ber == pytest.approx(result.aler - wrong.mean())
    # the tree's own thresholds: parents and depths are consistent
    for row in nodes.itertuples():
        if row.parent >= 0:
            assert nodes.loc[row.parent, "depth"] == row.depth - 1
            assert nodes.loc[row.parent, "feature"] == row.edge_feature
    # rules re-applied to the fitting data give the node members
    for node in range(len(nodes)):
        mask = result.rule(node).mask(features)
        np.testing.assert_array_equal(np.flatnonzero(mask), np.sort(result.members(node)))


def test_metrics_hold_on_noisy_data_for_every_depth():
    rng = np.random.default_rng(3)
    features = rng.gamma(1.0, size=(600, 30)).astype(np.float32)
    p = 1 / (1 + np.exp(-(features[:, 2] - features[:, 9])))
    wrong = rng.random(600) < p * 0.6
    labels = np.zeros(600, dtype=np.int64)
    for depth in (1, 2, 3):
        result = Barlow(k=8, depth=depth).fit(features, (labels, wrong.astype(np.int64)))
        leaves = result.leaves()
        assert leaves["depth"].max() <= depth
        assert leaves["error_coverage"].sum() == pytest.approx(1.0)
        assert result.aler <= leaves["error_rate"].max() + 1e-12
        assert leaves["importance"].is_monotonic_decreasing
        assert result.top_leaf == leaves["node_id"].iloc[0]


def test_mutual_information_selection_matches_sklearn():
    rng = np.random.default_rng(4)
    features = rng.normal(size=(300, 25)).astype(np.float32)
    wrong = rng.random(300) < 1 / (1 + np.exp(-3 * features[:, 11]))
    labels = np.zeros(300, dtype=np.int64)
    group = np.flatnonzero(rng.random(300) < 0.7)
    result = Barlow(k=6, depth=1, random_state=0).fit(
        features, (labels, wrong.astype(np.int64)), group
    )
    expected = sk_mutual_info(features[group], wrong[group].astype(int), random_state=0)
    np.testing.assert_allclose(result.mutual_info, expected, atol=1e-6)
    np.testing.assert_array_equal(
        result.selected_features, np.argsort(-expected, kind="stable")[:6]
    )
    assert result.selected_features[0] == 11


def test_tree_equals_sklearns_fit_with_input_validation():
    # the tree is fitted on a Fortran float32 copy without sklearn's input checks; it must
    # be the tree that sklearn's validated fit gives on the selected features
    from sklearn.tree import DecisionTreeClassifier

    features, labels, predictions, wrong = two_feature_world(n=600, seed=5)
    noisy = features + np.random.default_rng(6).normal(0, 0.05, features.shape).astype(np.float32)
    for data in (noisy, noisy.astype(np.float64)):
        result = Barlow(k=8, depth=3, random_state=0).fit(data, (labels, predictions))
        n_errors = int(wrong.sum())
        reference = DecisionTreeClassifier(
            criterion="entropy",
            max_depth=3,
            class_weight={0: 1.0, 1: (wrong.size - n_errors) / n_errors},
            random_state=0,
        ).fit(data[:, result.selected_features], wrong.astype(np.int64))
        ours, theirs = result.tree.tree_, reference.tree_
        for name in ("feature", "threshold", "children_left", "children_right", "value"):
            np.testing.assert_array_equal(getattr(ours, name), getattr(theirs, name))


def test_leaves_refilter_without_refit():
    features, labels, predictions, _ = two_feature_world(seed=5)
    result = Barlow(k=10, depth=3, delta=0.1, tau=0.2).fit(features, (labels, predictions))
    tree = result.tree
    strict = result.leaves(delta=0.9, tau=0.9)
    loose = result.leaves(delta=0.0, tau=0.0)
    assert not strict["passes"].any()
    er, ec = loose["error_rate"], loose["error_coverage"]
    np.testing.assert_array_equal(loose["passes"], (er > result.base_error_rate) & (ec > 0.0))
    assert result.tree is tree
    assert len(result.failure_leaves(0.0, 0.0)) == int(loose["passes"].sum())
    with pytest.raises(ValueError, match="delta"):
        result.leaves(delta=1.5)
    with pytest.raises(ValueError, match="tau"):
        result.leaves(tau=-0.1)


def test_deterministic():
    features, labels, predictions, _ = two_feature_world(seed=6)
    noisy = features + np.random.default_rng(0).normal(0, 0.3, features.shape).astype(np.float32)
    first = Barlow(k=15, depth=3).fit(noisy, (labels, predictions))
    second = Barlow(k=15, depth=3).fit(noisy, (labels, predictions))
    pd.testing.assert_frame_equal(first.nodes, second.nodes)
    np.testing.assert_array_equal(first.selected_features, second.selected_features)


def test_evalset_groupings_and_global_member_indices():
    features, labels, predictions = planted(n=300)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 300)
    predictions = np.where(features[:, 37] < 0.3, (labels + 1) % 3, labels)
    images = np.zeros((300, 4, 4, 3), dtype=np.uint8)
    evalset = EvalSet.from_arrays(images, labels, predictions, ["ant", "bee", "cow"])
    by_label = Barlow(k=4).fit(features, evalset, ("label", "bee"))
    np.testing.assert_array_equal(by_label.group, np.flatnonzero(labels == 1))
    by_prediction = Barlow(k=4).fit(features, evalset, ("prediction", 2))
    np.testing.assert_array_equal(by_prediction.group, np.flatnonzero(predictions == 2))
    members = by_label.members(0, errors_first=True)
    wrong = labels[members] != predictions[members]
    n_wrong = int(wrong.sum())
    assert n_wrong == by_label.n_errors and wrong[:n_wrong].all() and not wrong[n_wrong:].any()
    np.testing.assert_array_equal(
        np.sort(by_label.errors_in(0)), np.flatnonzero(wrong_of(evalset, 1))
    )
    modes = by_label.to_failure_modes(class_name="bee")
    assert modes and modes[0].method == "barlow" and modes[0].drop > 0.1


def wrong_of(evalset, cls):
    return (evalset.labels == cls) & ~evalset.correct


def test_nothing_to_explain_and_no_correct_samples():
    features, labels, predictions = planted(n=200)
    correct_group = np.flatnonzero(labels == predictions)
    result = Barlow(k=3).fit(features, (labels, predictions), correct_group)
    assert result.nothing_to_explain and result.status == "no_errors"
    assert result.aler == 0.0 and result.base_error_rate == 0.0
    assert not result.leaves()["passes"].any()
    np.testing.assert_array_equal(result.members(0), correct_group)
    assert "nothing to explain" in result.describe(0)
    with pytest.raises(ValueError, match="group: all .* misclassified"):
        Barlow(k=3).fit(features, (labels, predictions), np.flatnonzero(labels != predictions))


def test_no_failure_leaf_says_why_with_the_best_leaf():
    features, labels, predictions = planted()
    result = Barlow(k=5, depth=1, tau=1.0).fit(features, (labels, predictions))
    ber = result.base_error_rate
    leaves = result.failure_leaves()  # EC > 1 is impossible: nothing passes
    assert leaves.empty
    assert leaves.reason == result.empty_reason() == result.empty_reason(0.1, 1.0)
    assert leaves.reason.startswith(
        f"no leaf has ER > BER + δ = {ber + 0.1:.3f} and EC > τ = 1.000 (BER {ber:.3f}, δ 0.1)"
    )
    top = result.top_leaf  # the pure error leaf: ER 1, EC 1
    size = int(result.table["size"][top])
    assert f"best leaf (highest IV = ER × EC): ER 1.000, EC 1.000, {size} samples" in leaves.reason
    assert "highest ER" not in leaves.reason  # the best leaf has the highest ER too
    assert "Why empty: no leaf has" in repr(leaves)
    modes = result.to_failure_modes()
    assert modes == [] and modes.reason == leaves.reason
    assert "failure_leaves=0; none because no leaf has" in repr(result)
    # at the paper's thresholds the pure leaf passes: no reason
    assert result.empty_reason(0.1, 0.2) is None and result.failure_leaves(0.1, 0.2).reason is None
    assert len(result.to_failure_modes(0.1, 0.2)) == 1
    with pytest.raises(ValueError, match="tau"):
        result.empty_reason(tau=2.0)


def test_no_failure_leaf_names_the_highest_error_rate_when_it_is_another_leaf():
    rng = np.random.default_rng(3)
    features = rng.gamma(1.0, size=(600, 30)).astype(np.float32)
    p = 1 / (1 + np.exp(-(features[:, 2] - features[:, 9])))
    wrong = rng.random(600) < p * 0.6
    result = Barlow(k=8, depth=3).fit(features, (np.zeros(600, int), wrong.astype(int)))
    leaves = result.leaves()
    top, highest = (
        int(leaves["node_id"].iloc[0]),
        int(leaves.loc[leaves["error_rate"].idxmax(), "node_id"]),
    )
    assert top != highest  # the highest IV is not the highest ER here
    reason = result.empty_reason(delta=1.0)
    er, ec = result.table["error_rate"], result.table["error_coverage"]
    assert f"best leaf (highest IV = ER × EC): ER {er[top]:.3f}, EC {ec[top]:.3f}" in reason
    assert f"highest ER: ER {er[highest]:.3f}, EC {ec[highest]:.3f}" in reason


def test_nothing_to_explain_is_the_reason_of_an_error_free_group():
    features, labels, predictions = planted(n=200)
    correct_group = np.flatnonzero(labels == predictions)
    result = Barlow(k=3).fit(features, (labels, predictions), correct_group)
    expected = f"no errors among the {len(correct_group)} samples of the group: nothing to explain"
    assert result.failure_leaves().reason == expected == result.to_failure_modes().reason


def test_bad_inputs_raise_clear_errors():
    features, labels, predictions = planted(n=100, d=10, feature=3)
    outcomes = (labels, predictions)
    with pytest.raises(ValueError, match="features: 99 rows but the evalset has 100"):
        Barlow(k=3).fit(features[:99], outcomes)
    bad = features.copy()
    bad[7, 2] = np.inf
    with pytest.raises(ValueError, match="features: non-finite value at row 7, column 2"):
        Barlow(k=3).fit(bad, outcomes)
    bad[7, 2] = 0.5
    bad[50, 1] = np.nan  # outside the group: ignored
    Barlow(k=3).fit(bad, outcomes, np.arange(40))
    huge = features.astype(np.float64)
    huge[:, 3] *= 1e300  # finite in float64, infinite in the tree's float32
    with pytest.raises(ValueError, match="features: values too large for float32"):
        Barlow(k=10).fit(huge, outcomes)
    with pytest.raises(ValueError, match="k: 11 features requested"):
        Barlow(k=11).fit(features, outcomes)
    for depth in (0, 4):
        with pytest.raises(ValueError, match="depth: must be in 1..3"):
            Barlow(k=3, depth=depth).fit(features, outcomes)
    with pytest.raises(TypeError, match="depth: expected an integer, got float"):
        Barlow(k=3, depth=2.0).fit(features, outcomes)
    with pytest.raises(ValueError, match="group: is empty"):
        Barlow(k=3).fit(features, outcomes, np.array([], dtype=int))
    with pytest.raises(ValueError, match="group: contains duplicate"):
        Barlow(k=3).fit(features, outcomes, [1, 2, 2])
    with pytest.raises(ValueError, match="group: indices must lie"):
        Barlow(k=3).fit(features, outcomes, [1, 200])
    with pytest.raises(ValueError, match="group: grouping must be"):
        Barlow(k=3).fit(features, outcomes, ("truth", 0))
    with pytest.raises(ValueError, match="tau"):
        Barlow(k=3, tau=2).fit(features, outcomes)
    with pytest.raises(TypeError, match="evalset"):
        Barlow(k=3).fit(features, "labels")
    result = Barlow(k=3).fit(features, outcomes)
    with pytest.raises(ValueError, match="node_id"):
        result.members(99)


def test_survey_over_classes_and_groupings():
    rng = np.random.default_rng(7)
    n = 900
    features = rng.random((n, 20)).astype(np.float32)
    labels = np.repeat([0, 1, 2], n // 3)
    predictions = labels.copy()
    in_class0 = labels == 0
    predictions[in_class0 & (features[:, 4] < 0.35)] = 1  # planted failure of class 0
    noise = (~in_class0) & (rng.random(n) < 0.05)
    predictions[noise & (labels == 1)] = 2
    evalset = Outcomes.from_any((labels, predictions))
    survey = Barlow(k=5, depth=1, n_jobs=2).survey(features, evalset, keep_results=True)
    per_class = survey.per_class
    assert len(per_class) == 6 and set(per_class["grouping"]) == {"label", "prediction"}
    row = per_class[(per_class["grouping"] == "label") & (per_class["class_index"] == 0)].iloc[0]
    assert row["status"] == "ok" and row["has_valid_leaf"] and row["top_leaf_valid"]
    assert row["top_leaf_rule"].startswith("feature[4] <=")
    assert row["aler_minus_ber"] > 0.3
    no_errors = per_class[(per_class["grouping"] == "label") & (per_class["class_index"] == 2)]
    assert no_errors["status"].iloc[0] == "no_errors"
    summary = survey.summary.set_index("grouping")
    fitted = per_class[(per_class["grouping"] == "label") & (per_class["status"] == "ok")]
    assert summary.loc["label", "n_fitted"] == len(fitted)
    assert summary.loc["label", "frac_has_valid_leaf"] == pytest.approx(
        fitted["has_valid_leaf"].mean()
    )
    assert survey.results[("label", "0")].top_leaf_valid()
    serial = Barlow(k=5, depth=1).survey(features, evalset)
    pd.testing.assert_frame_equal(serial.per_class, per_class)


def test_fit_groups_on_index_sets_reports_empty_and_all_wrong_groups():
    features, labels, predictions = planted(n=200)
    wrong = np.flatnonzero(labels != predictions)
    groups = {"all": np.arange(200), "errors only": wrong, "none": []}
    survey = Barlow(k=4).fit_groups(features, (labels, predictions), groups)
    status = dict(zip(survey.per_class["class_name"], survey.per_class["status"]))
    assert status == {"all": "ok", "errors only": "no_correct", "none": "empty"}
