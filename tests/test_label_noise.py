"""Label-noise guard: planted label errors are flagged, and excluding them changes PRIME's modes.

The planted world: three well-separated Gaussian classes in 2-D (200 samples each), a logistic
regression's 5-fold cross-validated (out-of-sample) probabilities, and 30 flipped labels (5%):

- 20 samples of classes b and c relabelled ``a``, all tagged ``blurry``, plus 25 clean ``a``
  samples tagged ``blurry``: with the noise, ``blurry`` looks like a failure mode of ``a``
  (accuracy 25/45); without it, the model is right on every blurry sample;
- 10 more random flips elsewhere;
- a real failure mode, correctly labelled: 30 ``b`` and 30 ``c`` samples tagged ``occluded``
  sit on the b/c boundary, where the model is unsure (probabilities near 0.5); those are hard
  for the model, not mislabelled, and must stay after the exclusion.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict

from failwidgets.data import EvalSet
from failwidgets.label_noise import (
    FILTERS,
    LabelIssues,
    find_label_issues,
    with_label_issues,
)
from failwidgets.methods.prime import Prime

CLASSES = ["a", "b", "c"]


def _planted(seed: int = 0):
    rng = np.random.default_rng(seed)
    true = np.repeat(np.arange(3), 200)
    n = len(true)
    angles = 2 * np.pi * np.arange(3) / 3
    centers = 4.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    x = centers[true] + rng.normal(size=(n, 2))
    occluded = np.zeros(n, dtype=bool)
    boundary = np.concatenate(
        [rng.choice(np.flatnonzero(true == c), 30, replace=False) for c in (1, 2)]
    )
    occluded[boundary] = True
    x[boundary] = (centers[1] + centers[2]) / 2 + rng.normal(scale=0.5, size=(60, 2))

    labels = true.copy()
    blurry = np.zeros(n, dtype=bool)
    into_a = rng.choice(np.flatnonzero((true != 0) & ~occluded), 20, replace=False)
    labels[into_a] = 0
    clean_a = rng.choice(np.flatnonzero(true == 0), 25, replace=False)
    blurry[into_a] = blurry[clean_a] = True
    rest = np.setdiff1d(np.arange(n), np.concatenate([into_a, clean_a, boundary]))
    other = rng.choice(rest, 10, replace=False)
    labels[other] = (true[other] + rng.integers(1, 3, size=10)) % 3
    flipped = labels != true
    assert flipped.sum() == 30  # 5% of 600

    probabilities = cross_val_predict(LogisticRegression(), x, labels, cv=5, method="predict_proba")
    split = np.where(rng.random(n) < 0.5, "train", "test")
    evalset = EvalSet.from_arrays(
        images=np.zeros((n, 4, 4, 3), dtype=np.uint8),
        labels=labels,
        predictions=probabilities.argmax(axis=1),
        class_names=CLASSES,
        probabilities=probabilities,
        metadata=pd.DataFrame({"blurry": blurry, "occluded": occluded}),
        split=split,
    )
    return evalset, true, flipped, occluded


@pytest.fixture(scope="module")
def planted():
    return _planted()


@pytest.fixture(scope="module")
def issues(planted):
    return find_label_issues(planted[0])


def _recall_precision(flagged, flipped):
    hits = int((flagged & flipped).sum())
    return hits / flipped.sum(), hits / max(int(flagged.sum()), 1)


def test_flags_find_the_planted_label_errors(planted, issues):
    evalset, true, flipped, occluded = planted
    recall, precision = _recall_precision(issues.flagged, flipped)
    # 30 flips among 600: flagging ~30 samples at random would give precision ~0.05
    assert recall >= 0.9 and precision >= 0.8, (recall, precision)
    # the model is unsure on the occluded (boundary) samples: hard, not mislabelled
    assert (issues.flagged & occluded).sum() <= 3
    caught = issues.flagged & flipped
    assert np.mean(issues.suggested_label[caught] == true[caught]) >= 0.9
    assert issues.checked.all()
    assert isinstance(issues, LabelIssues) and issues.class_names == tuple(CLASSES)
    assert (
        np.median(issues.label_quality[flipped]) < 0.2 < np.median(issues.label_quality[~flipped])
    )
    ranked = issues.flagged_indices
    assert set(ranked.tolist()) == set(np.flatnonzero(issues.flagged).tolist())
    assert np.all(np.diff(issues.label_quality[ranked]) >= 0)
    assert issues.n == evalset.n and issues.n_flagged == int(issues.flagged.sum())
    assert f"{issues.n_flagged} of 600 checked samples flagged" in repr(issues)


def test_excluding_flags_removes_the_noise_mode_and_keeps_the_real_one(planted, issues):
    evalset = planted[0]
    prime = Prime(max_size=1, min_support=20, a=0.25)
    before = prime.fit(evalset).table_
    modes_before = set(zip(before["class"], before["tags"], strict=True))
    assert ("a", ("blurry=True",)) in modes_before
    occluded_before = {m for m in modes_before if m[1] == ("occluded=True",)}
    assert occluded_before

    kept = issues.exclude()
    result = prime.fit(evalset, indices=kept).result_
    after = result.table()
    modes_after = set(zip(after["class"], after["tags"], strict=True))
    assert ("a", ("blurry=True",)) not in modes_after
    # not a support artefact: the clean blurry samples remain, and the model is right on them
    row = result.find("a", ["blurry=True"])
    assert row is not None
    table = result.candidates("a").set_index("row")
    assert table.loc[row, "n_images"] >= 20 and table.loc[row, "accuracy"] >= 0.95
    assert {m for m in modes_after if m[1] == ("occluded=True",)} == occluded_before


def test_exclude_keeps_order_and_accepts_masks(issues):
    flagged = issues.flagged_indices[:2]
    clean = np.flatnonzero(~issues.flagged)[:3]
    rows = np.array([clean[2], flagged[0], clean[0], flagged[1], clean[1]])
    np.testing.assert_array_equal(issues.exclude(rows), clean[[2, 0, 1]])
    mask = np.zeros(issues.n, dtype=bool)
    mask[rows] = True
    np.testing.assert_array_equal(issues.exclude(mask), np.sort(clean))
    np.testing.assert_array_equal(issues.exclude(), np.flatnonzero(~issues.flagged))
    assert issues.exclude([]).size == 0
    with pytest.raises(ValueError, match=r"indices: index 600 outside 0\.\.599"):
        issues.exclude([0, 600])
    with pytest.raises(ValueError, match=r"indices: boolean mask of shape \(3,\)"):
        issues.exclude(np.ones(3, dtype=bool))
    with pytest.raises(TypeError, match="indices: expected integer indices"):
        issues.exclude([0.5])


def test_restricting_to_a_split_checks_only_its_rows(planted):
    evalset, _, flipped, _ = planted
    issues = find_label_issues(evalset, indices="test")
    test = evalset.split == "test"
    np.testing.assert_array_equal(issues.checked, test)
    assert not issues.flagged[~test].any()
    assert np.isnan(issues.label_quality[~test]).all()
    assert np.isfinite(issues.label_quality[test]).all()
    recall, precision = _recall_precision(issues.flagged, flipped & test)
    assert recall >= 0.8 and precision >= 0.7, (recall, precision)
    same = find_label_issues(evalset, indices=np.flatnonzero(test))
    np.testing.assert_array_equal(same.flagged, issues.flagged)
    masked = find_label_issues(evalset, indices=test)
    np.testing.assert_array_equal(masked.flagged, issues.flagged)


def test_explicit_probabilities_override_the_evalsets(planted, issues):
    evalset = planted[0]
    # uninformative probabilities: no sample is confidently in another class
    uniform = np.full((evalset.n, 3), 1 / 3)
    assert find_label_issues(evalset, uniform).n_flagged == 0
    same = find_label_issues(evalset, np.asarray(evalset.probabilities, dtype=np.float64))
    np.testing.assert_array_equal(same.flagged, issues.flagged)


@pytest.mark.parametrize("filter_by", FILTERS)
def test_every_filter_finds_the_noise(planted, filter_by):
    evalset, _, flipped, occluded = planted
    issues = find_label_issues(evalset, filter_by=filter_by, quality_method="normalized_margin")
    assert issues.filter_by == filter_by and issues.quality_method == "normalized_margin"
    recall, precision = _recall_precision(issues.flagged, flipped)
    assert recall >= 0.9, (filter_by, recall)
    if filter_by == "predicted_neq_given":
        # the naive baseline flags every error, the hard (occluded) samples' included
        np.testing.assert_array_equal(issues.flagged, evalset.incorrect)
        assert (issues.flagged & occluded).sum() >= 20
    else:  # confident learning keeps the model's unsure errors out
        assert precision >= 0.85, (filter_by, precision)


def test_frames_and_per_class_counts(planted, issues):
    evalset = planted[0]
    frame = issues.to_frame()
    assert list(frame.columns) == ["index", "label", "suggested_label", "label_quality", "flagged"]
    assert len(frame) == issues.n_flagged and frame["flagged"].all()
    np.testing.assert_array_equal(frame["index"], issues.flagged_indices)
    first = int(frame["index"].iloc[0])
    assert frame["label"].iloc[0] == CLASSES[evalset.labels[first]]
    assert len(issues.to_frame(flagged_only=False)) == evalset.n
    with pytest.raises(TypeError, match="flagged_only: expected a bool"):
        issues.to_frame(flagged_only="yes")
    per_class = issues.per_class()
    assert per_class["checked"].tolist() == np.bincount(evalset.labels, minlength=3).tolist()
    assert per_class["flagged"].sum() == issues.n_flagged
    # class a received the 20 blurry flips
    assert per_class["fraction"].idxmax() == "a"


def test_results_are_read_only(issues):
    for name in ("flagged", "label_quality", "suggested_label", "labels", "checked"):
        with pytest.raises(ValueError, match="read-only"):
            getattr(issues, name)[0] = 0


def test_label_issue_column(planted, issues):
    evalset = planted[0]
    marked = with_label_issues(evalset, issues, quality_column="label_quality")
    assert isinstance(marked, EvalSet) and marked is not evalset
    assert list(marked.metadata.columns) == ["blurry", "occluded", "label_issue", "label_quality"]
    np.testing.assert_array_equal(marked.metadata["label_issue"], issues.flagged)
    assert marked.metadata["label_issue"].dtype == bool
    np.testing.assert_array_equal(marked.metadata["label_quality"], issues.label_quality)
    assert list(evalset.metadata.columns) == ["blurry", "occluded"]  # original untouched
    assert marked.images is evalset.images
    np.testing.assert_array_equal(marked.labels, evalset.labels)
    np.testing.assert_array_equal(marked.split, evalset.split)
    np.testing.assert_array_equal(marked.probabilities, evalset.probabilities)
    # through the result, and on an EvalSet without metadata
    bare = EvalSet.from_arrays(
        evalset.images, evalset.labels, evalset.predictions, CLASSES, evalset.probabilities
    )
    assert list(issues.add_to(bare, column="noisy").metadata.columns) == ["noisy"]

    with pytest.raises(ValueError, match="column: the metadata has a column 'blurry'"):
        with_label_issues(evalset, issues, column="blurry")
    replaced = with_label_issues(evalset, issues, column="blurry", overwrite=True)
    np.testing.assert_array_equal(replaced.metadata["blurry"], issues.flagged)
    with pytest.raises(ValueError, match="quality_column: must differ from column"):
        with_label_issues(evalset, issues, quality_column="label_issue")
    with pytest.raises(TypeError, match="column: expected a non-empty column name"):
        with_label_issues(evalset, issues, column="")
    with pytest.raises(TypeError, match="issues: expected LabelIssues"):
        with_label_issues(evalset, issues.flagged)
    with pytest.raises(TypeError, match="evalset: expected an EvalSet"):
        with_label_issues(evalset.metadata, issues)
    with pytest.raises(ValueError, match="issues: found on another EvalSet"):
        with_label_issues(evalset.subset(np.arange(10)), issues)


def _evalset(probabilities=None, n=6):
    labels = np.arange(n) % 3
    return EvalSet.from_arrays(
        np.zeros((n, 2, 2, 3), dtype=np.uint8), labels, labels, CLASSES, probabilities
    )


def test_bad_arguments_name_the_argument(planted):
    evalset = planted[0]
    good = np.full((6, 3), 1 / 3)
    plain = _evalset()
    with pytest.raises(ValueError, match="probabilities: the EvalSet has no probabilities"):
        find_label_issues(plain)
    with pytest.raises(ValueError, match=r"probabilities: expected shape \(6, 3\).*got \(6, 2\)"):
        find_label_issues(plain, good[:, :2] * 1.5)
    with pytest.raises(ValueError, match=r"probabilities: expected shape \(6, 3\)"):
        find_label_issues(plain, good[:5])
    with pytest.raises(ValueError, match="probabilities: row 2 sums to 2.0000, not 1"):
        find_label_issues(plain, np.where(np.arange(6)[:, None] == 2, 2 / 3, good))
    nan = good.copy()
    nan[4, 1] = np.nan
    with pytest.raises(ValueError, match="probabilities: row 4 has NaN or infinite values"):
        find_label_issues(plain, nan)
    negative = good.copy()
    negative[1] = [1.5, -0.5, 0.0]
    with pytest.raises(ValueError, match="probabilities: row 1 has negative values"):
        find_label_issues(plain, negative)
    with pytest.raises(TypeError, match="probabilities: expected numbers"):
        find_label_issues(plain, np.full((6, 3), "x"))
    with pytest.raises(ValueError, match="probabilities: rows have different lengths"):
        find_label_issues(plain, [[1.0], [0.5, 0.5]])
    # within tolerance: accepted (and renormalised)
    assert find_label_issues(plain, good * (1 + 5e-4)).n == 6

    with pytest.raises(TypeError, match="evalset: expected an EvalSet"):
        find_label_issues(evalset.probabilities)
    with pytest.raises(ValueError, match="filter_by: unknown value 'best'; expected one of"):
        find_label_issues(evalset, filter_by="best")
    with pytest.raises(TypeError, match="filter_by: expected one of"):
        find_label_issues(evalset, filter_by=None)
    with pytest.raises(ValueError, match="quality_method: unknown value 'entropy'"):
        find_label_issues(evalset, quality_method="entropy")
    for bad in (0, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"frac_noise: must lie in \(0, 1\]"):
            find_label_issues(evalset, frac_noise=bad)
    with pytest.raises(TypeError, match="frac_noise: expected a number"):
        find_label_issues(evalset, frac_noise=True)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="n_jobs: expected a positive integer or None"):
            find_label_issues(evalset, n_jobs=bad)
    with pytest.raises(ValueError, match="indices: no samples in split 'val'"):
        find_label_issues(evalset, indices="val")
    with pytest.raises(ValueError, match="indices: this EvalSet has no split column"):
        find_label_issues(_evalset(good), indices="test")
    with pytest.raises(ValueError, match="indices: no samples to check"):
        find_label_issues(evalset, indices=[])
    with pytest.raises(ValueError, match=r"indices: index -1 outside 0\.\.599"):
        find_label_issues(evalset, indices=[-1, 2])


def test_missing_cleanlab_names_the_extra(planted, monkeypatch):
    for module in ("cleanlab", "cleanlab.filter", "cleanlab.rank"):
        monkeypatch.setitem(sys.modules, module, None)  # importing it now raises ImportError
    with pytest.raises(ImportError, match=r'pip install "failwidgets\[cleanlab\]"'):
        find_label_issues(planted[0])


# ---------------------------------------------------------------------- the Explorer's wiring
PRIME_OPTIONS = {"max_size": 1, "min_support": 20, "a": 0.25}


def _explorer(planted, tmp_path, **kwargs):
    from failwidgets.widgets.explorer import Explorer

    evalset = planted[0]
    metadata = evalset.metadata.to_numpy(dtype=np.float32)
    noise = np.random.default_rng(1).normal(size=(evalset.n, 4)).astype(np.float32)
    return Explorer.from_evalset(
        evalset,
        features=np.hstack([metadata, noise]),  # Barlow: blurry, occluded, 4 noise features
        methods=("barlow", "prime"),
        options={"prime": PRIME_OPTIONS, "barlow": {"depth": 1, "k": 6}},
        progress=False,
        background=False,
        cache_dir=tmp_path,
        **kwargs,
    )


def _modes(explorer) -> dict:
    """method -> list of (class, description, members) of every class's modes."""
    frame = explorer.failure_modes()
    found: dict = {}
    for method, name, text, members in zip(
        frame["method"], frame["class_name"], frame["description"], frame["members"], strict=True
    ):
        found.setdefault(method, []).append((name, text, set(np.asarray(members).tolist())))
    return found


def test_excluding_label_issues_per_method_removes_flagged_members(planted, issues, tmp_path):
    flagged = set(np.flatnonzero(issues.flagged).tolist())
    plain = _explorer(planted, tmp_path, label_issues=issues)
    before = _modes(plain)
    # the planted noise makes "blurry" a failure mode of class a, made of flagged samples
    assert any(n == "a" and "blurry" in t for n, t, _ in before["prime"])
    for method in ("prime", "barlow"):
        assert set().union(*(m for _, _, m in before[method])) & flagged, method
    # the flags are badged in the shared grid, whatever is excluded
    np.testing.assert_array_equal(plain.grid.label_issues, sorted(flagged))

    only_prime = _explorer(planted, tmp_path, label_issues=issues, exclude_label_issues=("prime",))
    after = _modes(only_prime)
    assert not any(n == "a" and "blurry" in t for n, t, _ in after["prime"])
    assert not set().union(*(m for _, _, m in after["prime"])) & flagged
    # the real (correctly labelled) failure mode stays
    assert {(n, t) for n, t, _ in after["prime"] if "occluded" in t} == {
        (n, t) for n, t, _ in before["prime"] if "occluded" in t
    }
    assert after["barlow"] == before["barlow"]  # not excluded there

    both = _modes(_explorer(planted, tmp_path, label_issues=issues, exclude_label_issues=True))
    for method in ("prime", "barlow"):
        members = set().union(*(m for _, _, m in both[method]))
        assert members and not members & flagged, method


def test_label_issue_options_are_checked(planted, issues, tmp_path):
    with pytest.raises(ValueError, match="exclude_label_issues: no flags to exclude"):
        _explorer(planted, tmp_path, exclude_label_issues=True)
    with pytest.raises(ValueError, match="exclude_label_issues: ces cannot leave samples out"):
        _explorer(planted, tmp_path, label_issues=issues, exclude_label_issues="ces")
    with pytest.raises(ValueError, match="exclude_label_issues: unknown method 'primes'"):
        _explorer(planted, tmp_path, label_issues=issues, exclude_label_issues=["primes"])
    with pytest.raises(TypeError, match="exclude_label_issues: expected True, False or method"):
        _explorer(planted, tmp_path, label_issues=issues, exclude_label_issues=3)
    with pytest.raises(ValueError, match="label_issues: found on another EvalSet"):
        _explorer(planted, tmp_path, label_issues=find_label_issues(_planted(seed=1)[0]))
    with pytest.raises(TypeError, match="label_issues: expected LabelIssues"):
        _explorer(planted, tmp_path, label_issues="flags")
    mask = np.zeros(planted[0].n, dtype=bool)
    mask[[3, 5]] = True
    explorer = _explorer(planted, tmp_path, label_issues=mask)  # a plain mask works too
    assert explorer.grid.label_issues.tolist() == [3, 5]
