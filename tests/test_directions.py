"""Failure directions on synthetic embeddings with planted failure modes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from failwidgets.methods.caption_words import (
    CIFAR10_PREPOSITIONS,
    DEFAULT_ADJECTIVES,
    DEFAULT_PREPOSITIONS,
    CaptionWords,
)
from failwidgets.methods.directions import (
    FailureDirections,
    FailureDirectionsResult,
    Whitener,
    find_failure_directions,
)
from failwidgets.methods.linear_svm import DEFAULT_CS, cv_folds, fit_balanced_svm_cv

SPLIT_SIZES = {"train": 300, "val": 240, "test": 240, "extra": 240}  # per class
CLASS_NAMES = ["bird", "cat", "ship"]


def planted_world(seed: int = 0, dim: int = 24, error_free: tuple = ()):
    """Three classes; "bird" and "cat" fail on a planted minority, "ship" fails at random.

    Minority images of class c carry ``+2.5 * u[c]``; the model errs on 60% of them and on
    5% of the majority. "ship"'s errors (15%) are independent of its embedding.
    """
    rng = np.random.default_rng(seed)
    u = np.linalg.qr(rng.normal(size=(dim, dim)))[0][:, :3].T  # orthonormal planted directions
    means = rng.normal(scale=0.5, size=(3, dim))
    rows = []
    for split, per_class in SPLIT_SIZES.items():
        for c in range(3):
            minority = rng.random(per_class) < 0.25
            x = means[c] + rng.normal(size=(per_class, dim)) + 2.5 * minority[:, None] * u[c]
            if c < 2:
                p_error = np.where(minority, 0.6, 0.05)
            else:
                p_error = np.full(per_class, 0.15)
            wrong = rng.random(per_class) < p_error
            if c in error_free:
                wrong[:] = False
            rows.append((x, np.full(per_class, c), ~wrong, np.full(per_class, split), minority))
    X, labels, correct, split, minority = (np.concatenate(parts) for parts in zip(*rows))
    return dict(X=X, labels=labels, correct=correct, split=split, minority=minority, u=u)


class PlantedTextEncoder:
    """Texts as vectors in the image space: a class base plus one vector per phrase.

    "on the grass" points along bird's planted (hard) direction, "in the water" against it.
    """

    def __init__(self, u: np.ndarray, dim: int, seed: int = 1):
        rng = np.random.default_rng(seed)
        self.base = {name: 3 * rng.normal(size=dim) / np.sqrt(dim) for name in CLASS_NAMES}
        self.phrases = {
            "on the grass": 3.0 * u[0],
            "in the water": -3.0 * u[0],
            **{p: 0.3 * rng.normal(size=dim) / np.sqrt(dim) for p in ("red", "blue", "inside")},
        }
        self.calls = 0

    def encode_texts(self, texts):
        self.calls += 1
        out = []
        for text in texts:
            vec = sum(b for name, b in self.base.items() if name in text)
            vec = vec + sum(v for phrase, v in self.phrases.items() if phrase in text)
            out.append(vec)
        return np.array(out)


WORDS = CaptionWords(
    adjectives=("red", "blue"), prepositions=("on the grass", "in the water", "inside")
)


@pytest.fixture(scope="module")
def world():
    return planted_world()


@pytest.fixture(scope="module")
def result(world):
    return FailureDirectionsResult.from_arrays(
        world["X"],
        world["labels"],
        world["correct"],
        world["split"],
        CLASS_NAMES,
        text_encoder=PlantedTextEncoder(world["u"], world["X"].shape[1]),
        caption_words=WORDS,
        n_jobs=2,
    )


# ---------------------------------------------------------------- detection
def test_svm_recovers_the_planted_minority(world, result):
    for c in (0, 1):
        hardest = result.most_aligned(c, k=40, split="test", side="hard")
        assert world["minority"][hardest.index].mean() >= 0.8
        easiest = result.most_aligned(c, k=40, split="test", side="easy")
        assert world["minority"][easiest.index].mean() <= 0.1
        assert hardest.is_monotonic_increasing and easiest.is_monotonic_decreasing
        assert (world["labels"][hardest.index] == c).all()
        assert (world["split"][hardest.index] == "test").all()


def test_failure_strength_separates_planted_from_random_errors(result):
    summary = result.summary
    assert list(summary.columns) == [
        "class",
        "failure_strength",
        "best_C",
        "n_val",
        "n_errors",
        "skipped_reason",
    ]
    assert summary["class"].tolist() == CLASS_NAMES
    strength = summary.set_index("class")["failure_strength"]
    assert strength["bird"] > 0.7 and strength["cat"] > 0.7  # ~0.84 with a perfect detector
    assert strength["ship"] < 0.6
    assert (summary["n_val"] == SPLIT_SIZES["val"]).all()
    assert summary["skipped_reason"].isna().all()
    assert set(summary["best_C"]) <= set(DEFAULT_CS)


def test_direction_points_along_the_planted_vector(world, result):
    model = result.model
    planted = world["u"][0] / model.whitener_.scale_  # the planted shift, whitened
    planted /= np.linalg.norm(planted)
    direction = model.coef_[0] / np.linalg.norm(model.coef_[0])
    assert direction @ planted < -0.6  # minority (along +u) = negative = hard


# ---------------------------------------------------------------- preprocessing
def test_whitener_uses_reference_statistics_and_unit_rows():
    rng = np.random.default_rng(0)
    train = rng.normal(loc=3.0, scale=[1.0, 2.0, 0.5, 1.0], size=(500, 4))
    train[:, 3] = 7.0  # constant dimension: centred only
    other = rng.normal(size=(20, 4))
    whitener = Whitener().fit(train)
    np.testing.assert_allclose(whitener.mean_, train.mean(axis=0))
    expected = (other - train.mean(axis=0)) / np.where(train.std(axis=0) > 0, train.std(axis=0), 1)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(whitener.transform(other), expected)
    np.testing.assert_allclose(np.linalg.norm(whitener.transform(other), axis=1), 1.0)
    with pytest.raises(ValueError, match="dimension"):
        whitener.transform(other[:, :3])
    with pytest.raises(RuntimeError, match="fit"):
        Whitener().transform(other)


def test_preprocessing_is_applied_exactly_once(world, result):
    """The fitted SVM equals an SVC fitted on once-whitened, once-normalised embeddings."""
    from sklearn.svm import SVC

    X, split, labels = world["X"], world["split"], world["labels"]
    train = X[split == "train"]
    mean, std = train.mean(axis=0), train.std(axis=0)

    def once(Z):
        Z = (Z - mean) / std
        return Z / np.linalg.norm(Z, axis=1, keepdims=True)

    rows = (split == "val") & (labels == 1)
    model = result.model
    svc = SVC(kernel="linear", C=model.best_C_[1], class_weight="balanced")
    svc.fit(once(X[rows]), world["correct"][rows])
    np.testing.assert_allclose(model.coef_[1], svc.coef_[0], atol=1e-6)
    np.testing.assert_allclose(model.intercept_[1], svc.intercept_[0], atol=1e-6)

    test_rows = np.flatnonzero((split == "test") & (labels == 1))
    single = svc.decision_function(once(X[test_rows]))
    np.testing.assert_allclose(result.decision_values(1, "test").to_numpy(), single, atol=1e-6)
    double = svc.decision_function(once(once(X[test_rows])))
    assert not np.allclose(single, double, atol=1e-3)  # the test can tell the reference bug


# ---------------------------------------------------------------- agreement with SVC
def test_cv_scores_agree_with_sklearn_svc_on_the_same_folds(world):
    from sklearn.model_selection import cross_val_score
    from sklearn.svm import SVC

    X, split, labels = world["X"], world["split"], world["labels"]
    whitener = Whitener().fit(X[split == "train"])
    rows = (split == "val") & (labels == 0)
    Z, y = whitener.transform(X[rows]), world["correct"][rows].astype(int)
    ours = fit_balanced_svm_cv(Z, y)
    folds = cv_folds(y, 2, random_state=0)
    reference = [
        cross_val_score(
            SVC(kernel="linear", C=C, class_weight="balanced"),
            Z,
            y,
            cv=folds,
            scoring="balanced_accuracy",
        ).mean()
        for C in DEFAULT_CS
    ]
    assert np.max(np.abs(ours.cv_scores - reference)) <= 0.01
    assert ours.best_C == DEFAULT_CS[int(np.argmax(reference))]
    linear = fit_balanced_svm_cv(Z, y, solver="linear")
    np.testing.assert_allclose(linear.cv_scores, ours.cv_scores, atol=0.01)
    np.testing.assert_allclose(linear.coef, ours.coef, atol=1e-6)


def test_folds_are_deterministic_and_stratified():
    y = np.array([0] * 10 + [1] * 30)
    a, b = cv_folds(y, 2, 0), cv_folds(y, 2, 0)
    for (_, te_a), (_, te_b) in zip(a, b):
        np.testing.assert_array_equal(te_a, te_b)
        assert y[te_a].sum() == 15 and (y[te_a] == 0).sum() == 5
    ordered = cv_folds(y, 2, None)
    np.testing.assert_array_equal(ordered[0][1], np.r_[0:5, 10:25])


# ---------------------------------------------------------------- captions
def test_caption_candidates_follow_the_template():
    words = CaptionWords()
    captions = words.candidates("sea_turtle")
    assert words.reference("sea_turtle") == "a photo of a sea turtle"
    assert "a photo of a sea turtle" not in captions
    assert "a photo of a white sea turtle" in captions
    assert "a photo of a sea turtle on a brown background" in captions
    assert "a photo of a orange sea turtle inside" in captions
    assert len(captions) == (len(DEFAULT_ADJECTIVES) + 1) * (len(DEFAULT_PREPOSITIONS) + 1) - 1
    extended = words.with_extra(
        prepositions=["on the grass"], class_prepositions=CIFAR10_PREPOSITIONS
    )
    assert "a photo of a red bird perched" in extended.candidates("bird")
    assert "a photo of a red cat perched" not in extended.candidates("cat")
    assert "a photo of a cat on the grass" in extended.candidates("cat")
    nouns = CaptionWords(nouns={"cat": ["kitten", "tabby cat"]}, adjectives=(), prepositions=())
    assert nouns.candidates("cat") == ["a photo of a kitten", "a photo of a tabby cat"]
    with pytest.raises(TypeError, match="adjectives"):
        CaptionWords(adjectives="red")


def test_captions_have_no_reason_and_the_result_says_what_it_holds(result):
    assert result.caption_reason("bird") is None and result.caption_reason(0) is None
    assert result.captions("bird", k=2).reason is None
    assert repr(result) == "FailureDirectionsResult(classes=3, directions=3, captions=yes)"
    bare = FailureDirectionsResult(
        result.model, result.embeddings, result.labels, result.correct, result.split,
        CLASS_NAMES, caption_words=CaptionWords(adjectives=(), prepositions=()),
    )  # fmt: skip
    assert bare.caption_reason("bird").startswith("no text encoder: captions need one")
    words = CaptionWords(adjectives=(), prepositions=())  # only the reference caption
    none = FailureDirectionsResult(
        result.model, result.embeddings, result.labels, result.correct, result.split,
        CLASS_NAMES, text_encoder=result.text_encoder, caption_words=words,
    )  # fmt: skip
    empty = none.captions("bird")
    assert empty.empty and empty.reason == (
        "the caption words give no candidate caption for class 'bird'"
    )
    with pytest.raises(ValueError, match="unknown class"):
        result.caption_reason("zebra")


def test_top_hard_and_easy_captions_name_the_planted_background(result):
    hard = result.captions("bird", side="hard", k=3)
    easy = result.captions("bird", side="easy", k=3)
    assert list(hard.columns) == ["caption", "score"]
    assert "on the grass" in hard["caption"].iloc[0]
    assert "in the water" in easy["caption"].iloc[0]
    assert hard["score"].is_monotonic_increasing and easy["score"].is_monotonic_decreasing
    scores = result.caption_scores("bird")
    assert len(scores) == len(WORDS.candidates("bird"))


def test_caption_scores_whiten_the_text_difference_with_image_statistics(world, result):
    encoder = result.text_encoder
    caption = "a photo of a red bird on the grass"
    texts = encoder.encode_texts(["a photo of a bird", caption])
    texts /= np.linalg.norm(texts, axis=1, keepdims=True)
    diff = texts[1] - texts[0]
    z = (diff - result.model.whitener_.mean_) / result.model.whitener_.scale_
    z /= np.linalg.norm(z)
    expected = z @ result.model.coef_[0] + result.model.intercept_[0]
    scores = result.caption_scores(0).set_index("caption")["score"]
    assert scores[caption] == pytest.approx(expected, abs=1e-9)


def test_caption_subpopulation_on_a_hand_made_case():
    X = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.5, 0.5], [1.0, 0.05], [0.0, 2.0]])
    labels = np.array([0, 0, 0, 0, 1, 0])
    correct = np.array([False, True, True, True, True, True])
    split = np.array(["test"] * 6)
    model = FailureDirections().fit(
        np.random.default_rng(0).normal(size=(10, 2)),
        np.random.default_rng(1).normal(size=(12, 2)),
        np.r_[np.zeros(12, int)],
        np.r_[np.zeros(6, bool), np.ones(6, bool)],
        n_classes=2,
    )
    res = FailureDirectionsResult(
        model,
        X,
        labels,
        correct,
        split,
        ["a", "b"],
        text_encoder=lambda t: np.array([[2.0, 0.0]] * len(t)),
    )
    sub = res.caption_subpopulation("along x", cls="a", k=2)
    np.testing.assert_array_equal(sub.indices, [0, 1])
    np.testing.assert_allclose(sub.similarities, [1.0, 0.9 / np.hypot(0.9, 0.1)])
    assert sub.accuracy == 0.5 and sub.class_name == "a"
    every_class = res.caption_subpopulation("along x", k=3)
    np.testing.assert_array_equal(every_class.indices, [0, 4, 1])


def test_hard_caption_subpopulation_is_less_accurate(world, result):
    hard = result.caption_subpopulation(
        result.captions("bird", "hard", 1)["caption"][0], "bird", 40
    )
    easy = result.caption_subpopulation(
        result.captions("bird", "easy", 1)["caption"][0], "bird", 40
    )
    assert len(hard.indices) == 40 and (world["labels"][hard.indices] == 0).all()
    assert hard.accuracy < easy.accuracy - 0.2


# ---------------------------------------------------------------- failure modes
def test_tail_mode_is_the_k_most_negative_images_with_a_rule_that_reapplies(world, result):
    k = 30
    mode = result.tail_mode("bird", k)
    values = result.decision_values("bird", "test").sort_values(kind="stable")
    np.testing.assert_array_equal(mode.members, values.index[:k])
    correct, labels, split = world["correct"], world["labels"], world["split"]
    in_class = (split == "test") & (labels == 0)
    assert mode.method == "directions" and mode.class_name == "bird"
    assert mode.accuracy == pytest.approx(correct[mode.members].mean())
    assert mode.drop == pytest.approx(correct[in_class].mean() - mode.accuracy)
    assert mode.drop > 0.1 and mode.heldout_drop is None
    assert mode.description == result.captions("bird", k=1)["caption"][0]
    assert "on the grass" in mode.description
    # the rule: decision value at most midway between the k-th and the next value
    assert mode.rule.threshold == pytest.approx((values.iloc[k - 1] + values.iloc[k]) / 2)
    np.testing.assert_array_equal(
        np.sort(mode.rule.apply(result, np.flatnonzero(split == "test"))), np.sort(mode.members)
    )
    # re-applied to a held-out split: the drop measured there by hand
    held = result.with_splits(heldout_split="extra").tail_mode("bird", k)
    extra = result.decision_values("bird", "extra")
    members = extra.index[extra.to_numpy() <= mode.rule.threshold]
    in_extra = (split == "extra") & (labels == 0)
    expected = correct[in_extra].mean() - correct[members].mean()
    assert held.heldout_drop == pytest.approx(expected) and held.heldout_drop > 0.1
    np.testing.assert_array_equal(held.members, mode.members)


def test_failure_modes_one_per_class_with_a_direction(world, result):
    modes = result.failure_modes(k=10)
    assert [m.class_name for m in modes] == CLASS_NAMES
    for c, mode in enumerate(modes):
        np.testing.assert_array_equal(mode.members, result.most_aligned(c, 10).index)
    assert [m.class_name for m in result.failure_modes(["cat", 0], k=5)] == ["cat", "bird"]
    assert result.failure_modes("ship", k=5)[0].size == 5
    skipping = planted_world(error_free=(2,))
    partial = FailureDirectionsResult.from_arrays(
        skipping["X"], skipping["labels"], skipping["correct"], skipping["split"], CLASS_NAMES,
        n_jobs=1,
    )  # fmt: skip
    assert [m.class_name for m in partial.failure_modes(k=5)] == ["bird", "cat"]
    empty = partial.failure_modes(["ship"], k=5)
    assert empty == [] and empty.reason == (
        "class 'ship' has no failure direction: 0 errors in the validation split "
        "(at least 4 needed)"
    )
    assert partial.failure_modes([], k=5).reason == "no class asked for"
    assert partial.failure_modes(k=5).reason is None
    description = partial.tail_mode("bird", 5).description  # no text encoder
    assert description.startswith("failure direction of bird (strength 0.")
    with pytest.raises(ValueError, match="^cls: class 'ship' has no failure direction"):
        partial.tail_mode("ship", 5)
    with pytest.raises(ValueError, match="^k: must be >= 1"):
        result.failure_modes(k=0)
    with pytest.raises(TypeError, match="^k: expected an integer"):
        result.tail_mode("bird", 2.5)
    with pytest.raises(ValueError, match="^classes: unknown class 'dog'"):
        result.failure_modes(["dog"], k=5)


# ---------------------------------------------------------------- the result protocol
def test_the_result_is_a_failure_mode_source(world, result):
    """``failure_modes(classes, k=)``: the same call as every method's result."""
    from failwidgets.mode_source import FailureModeSource

    assert isinstance(result, FailureModeSource) and result.method == "directions"
    assert result.threshold_values() == {"k": 20}  # the spec's default
    assert (result.mode_split, result.heldout_split) == ("test", None)
    everything = result.failure_modes()  # "all", k = 20
    assert [m.class_name for m in everything] == CLASS_NAMES
    assert [m.size for m in everything] == [20, 20, 20]
    by_name = {m.class_name: m for m in everything}
    for classes, expected in (("cat", ["cat"]), (1, ["cat"]), (["ship", "bird"], ["ship", "bird"])):
        modes = result.failure_modes(classes)
        assert [m.class_name for m in modes] == expected
        for mode in modes:
            np.testing.assert_array_equal(mode.members, by_name[mode.class_name].members)
    # the planted minority of bird is what its mode holds, with a real drop
    bird = by_name["bird"]
    assert world["minority"][bird.members].mean() >= 0.8 and bird.drop > 0.05
    # a threshold override changes the answer, not the result
    (seven,) = result.failure_modes("bird", k=7)
    np.testing.assert_array_equal(seven.members, result.most_aligned("bird", 7).index)
    assert result.threshold_values() == {"k": 20} and result.failure_modes("bird")[0].size == 20


def test_protocol_refuses_bad_thresholds_and_classes(result):
    with pytest.raises(TypeError, match=r"^delta: not a threshold of directions; known: \['k'\]"):
        result.failure_modes(delta=0.1)
    with pytest.raises(TypeError, match="^k: expected an integer, got float"):
        result.failure_modes(k=2.5)
    with pytest.raises(ValueError, match="^k: must be >= 1, got 0"):
        result.failure_modes(k=0)
    with pytest.raises(ValueError, match="^classes: unknown class 'dog'"):
        result.failure_modes("dog")
    with pytest.raises(ValueError, match="^classes: class index 5 outside 0..2"):
        result.failure_modes([0, 5])
    with pytest.raises(TypeError, match="^classes: expected 'all', a class name or index"):
        result.failure_modes(2.5)
    # an old positional K is a class index now: out of range here, refused
    with pytest.raises(ValueError, match="^classes: class index 20"):
        result.failure_modes(20)


def test_splits_are_attributes_set_when_built_or_on_a_copy(world, result):
    split, labels, correct = world["split"], world["labels"], world["correct"]
    extra = result.with_splits(mode_split="extra", heldout_split="test")
    assert (extra.mode_split, extra.heldout_split) == ("extra", "test")
    assert (result.mode_split, result.heldout_split) == ("test", None)  # unchanged
    assert extra.model is result.model and result.with_splits() is result
    assert result.with_splits(mode_split="test", heldout_split=None) is result
    (mode,) = extra.failure_modes("bird", k=15)
    in_extra = np.flatnonzero((split == "extra") & (labels == 0))
    assert set(mode.members) <= set(in_extra)
    np.testing.assert_array_equal(mode.members, result.most_aligned("bird", 15, "extra").index)
    assert mode.drop == pytest.approx(correct[in_extra].mean() - correct[mode.members].mean())
    # the held-out drop: the tail's rule re-applied to the test split, by hand
    test_values = result.decision_values("bird", "test")
    held = test_values.index[test_values.to_numpy() <= mode.rule.threshold]
    in_test = (split == "test") & (labels == 0)
    expected = correct[in_test].mean() - correct[held].mean()
    assert mode.heldout_drop == pytest.approx(expected) and mode.heldout_drop > 0.05
    # the queries' default split follows too
    np.testing.assert_array_equal(extra.decision_values("bird").index, np.sort(in_extra))
    assert extra.class_accuracy("bird") == pytest.approx(correct[in_extra].mean())
    # set when built
    built = FailureDirectionsResult.from_arrays(
        world["X"], labels, correct, split, CLASS_NAMES, n_jobs=1, classes=[],
        mode_split="extra", heldout_split="test",
    )  # fmt: skip
    (again,) = built.failure_modes("bird", k=15)
    np.testing.assert_array_equal(again.members, mode.members)
    assert again.heldout_drop == pytest.approx(mode.heldout_drop)


@pytest.mark.parametrize(
    ("splits", "error", "message"),
    [
        ({"mode_split": "nope"}, ValueError, r"^mode_split: no samples in split 'nope'; splits"),
        ({"mode_split": 3}, TypeError, "^mode_split: expected a split name, got int"),
        ({"heldout_split": "nope"}, ValueError, "^heldout_split: no samples in split 'nope'"),
        ({"heldout_split": ["extra"]}, TypeError, "^heldout_split: expected a split name"),
        ({"heldout_split": "test"}, ValueError, "^heldout_split: must differ from mode_split"),
    ],
)
def test_bad_splits_raise_clear_errors(world, result, splits, error, message):
    with pytest.raises(error, match=message):
        result.with_splits(**splits)
    with pytest.raises(error, match=message):  # refused before any SVM is fitted
        FailureDirectionsResult.from_arrays(
            world["X"], world["labels"], world["correct"], world["split"], CLASS_NAMES,
            n_jobs=1, Cs=[-1.0], **splits,
        )  # fmt: skip


def test_an_absent_default_mode_split_is_named_when_used(world):
    no_test = world["split"] != "test"
    result = FailureDirectionsResult.from_arrays(
        world["X"][no_test], world["labels"][no_test], world["correct"][no_test],
        world["split"][no_test], CLASS_NAMES, n_jobs=1, classes=[],
    )  # fmt: skip
    assert result.mode_split == "test"
    with pytest.raises(ValueError, match=r"^mode_split: no samples in split 'test'"):
        result.failure_modes()
    assert result.with_splits(mode_split="extra").failure_modes("bird", k=3)[0].size == 3


def test_a_class_without_candidate_captions_gets_a_generic_description(world):
    bare = FailureDirectionsResult.from_arrays(
        world["X"], world["labels"], world["correct"], world["split"], CLASS_NAMES,
        text_encoder=PlantedTextEncoder(world["u"], world["X"].shape[1]),
        caption_words=CaptionWords(adjectives=(), prepositions=()), n_jobs=1, classes=[0],
    )  # fmt: skip
    assert bare.tail_mode("bird", 5).description.startswith("failure direction of bird")


def test_subpopulation_mode_and_class_accuracy(world, result):
    sub = result.caption_subpopulation("a photo of a bird on the grass", "bird", 25)
    mode = result.subpopulation_mode(sub)
    in_class = (world["split"] == "test") & (world["labels"] == 0)
    assert result.class_accuracy("bird") == pytest.approx(world["correct"][in_class].mean())
    assert np.isnan(result.class_accuracy("bird", "nope"))
    np.testing.assert_array_equal(mode.members, sub.indices)
    assert mode.description == sub.caption and mode.class_name == "bird"
    assert mode.accuracy == pytest.approx(sub.accuracy)
    assert mode.drop == pytest.approx(result.class_accuracy("bird") - sub.accuracy)
    with pytest.raises(TypeError, match="^sub: expected a CaptionSubpopulation"):
        result.subpopulation_mode("a photo")
    with pytest.raises(ValueError, match="^sub: a failure mode needs"):
        result.subpopulation_mode(result.caption_subpopulation("a photo of a bird", k=3))


def test_default_class_and_preparing_a_class(world, result):
    assert result.default_class() == int(np.nanargmax(result.model.failure_strength_))
    encoder = PlantedTextEncoder(world["u"], world["X"].shape[1])
    lazy = FailureDirectionsResult.from_arrays(
        world["X"], world["labels"], world["correct"], world["split"], CLASS_NAMES,
        text_encoder=encoder, caption_words=WORDS, n_jobs=1, classes=[],
    )  # fmt: skip
    errors = lazy.model.n_errors_
    assert lazy.default_class() == int(np.argmax(errors))  # nothing fitted: most errors
    assert lazy.is_pending("cat") and lazy.is_pending(1)
    calls = encoder.calls
    lazy.prepare_class("cat")  # the direction and the caption scores, ready to draw
    assert not lazy.is_pending("cat") and lazy.is_pending("bird")
    assert encoder.calls == calls + 1
    lazy.captions("cat")
    assert encoder.calls == calls + 1  # scored already
    np.testing.assert_array_equal(lazy.model.coef_[1], result.model.coef_[1])
    assert lazy.default_class() == 1  # the strongest fitted so far


# ---------------------------------------------------------------- interventions
def test_pool_selection_takes_the_most_negative_pool_images(world, result):
    selected = result.select_from_pool(k=30, split="extra")
    assert set(selected) == set(CLASS_NAMES)
    for c, name in enumerate(CLASS_NAMES):
        idx = selected[name]
        assert len(idx) == 30
        assert (world["split"][idx] == "extra").all() and (world["labels"][idx] == c).all()
        expected = result.decision_values(c, "extra").nsmallest(30).index.to_numpy()
        assert set(idx) == set(expected)
    assert world["minority"][selected["bird"]].mean() >= 0.8


def test_upweight_mask_flags_negative_training_images(world, result):
    mask = result.upweight_mask("train")
    assert mask.shape == (len(world["X"]),) and mask.dtype == bool
    assert not mask[world["split"] != "train"].any()
    for c in range(3):
        values = result.decision_values(c, "train")
        np.testing.assert_array_equal(mask[values.index], values.to_numpy() < 0)
    assert world["minority"][mask & (world["labels"] == 0)].mean() > 0.5  # base rate 0.25


# ---------------------------------------------------------------- bad input
def test_classes_with_too_few_errors_or_correct_samples_are_skipped():
    world = planted_world(error_free=(2,))
    correct = world["correct"].copy()
    bird_val = np.flatnonzero((world["split"] == "val") & (world["labels"] == 0))
    correct[bird_val] = True
    correct[bird_val[:3]] = False  # 3 errors < 4
    cat_val = np.flatnonzero((world["split"] == "val") & (world["labels"] == 1))
    correct[cat_val] = False
    correct[cat_val[:2]] = True  # 2 correct < 4
    with pytest.warns(UserWarning, match="every class was skipped"):
        res = FailureDirectionsResult.from_arrays(
            world["X"], world["labels"], correct, world["split"], CLASS_NAMES, n_jobs=1
        )
    reasons = res.summary.set_index("class")["skipped_reason"]
    assert "3 errors" in reasons["bird"]
    assert "2 correct" in reasons["cat"]
    assert "0 errors" in reasons["ship"]
    assert res.summary["failure_strength"].isna().all()
    assert set(res.skipped) == set(CLASS_NAMES)
    with pytest.raises(ValueError, match="no failure direction"):
        res.decision_values("bird")
    assert not res.upweight_mask().any()
    assert all(len(v) == 0 for v in res.select_from_pool(5).values())
    # no caption for a skipped class: an empty answer that says why
    captions = res.captions("bird")
    assert captions.empty and list(captions.columns) == ["caption", "score"]
    assert captions.reason == res.caption_reason("bird")
    assert captions.reason == (
        "class 'bird' has no failure direction: 3 errors in the validation split "
        "(at least 4 needed)"
    )
    assert "Why empty: class 'bird' has no failure direction" in repr(captions)
    assert res.captions("cat", side="easy").reason.startswith("class 'cat' has no failure")
    text = repr(res)
    assert text.startswith("FailureDirectionsResult(classes=3, directions=0, captions=no")
    assert "'cat': 2 correct samples in the validation split" in text


def test_all_skipped_warns():
    world = planted_world(error_free=(0, 1, 2))
    with pytest.warns(UserWarning, match="every class was skipped"):
        FailureDirectionsResult.from_arrays(
            world["X"], world["labels"], world["correct"], world["split"], CLASS_NAMES
        )


def test_missing_splits_and_bad_arrays_raise_clear_errors(world):
    args = (world["X"], world["labels"], world["correct"])
    no_val = np.where(world["split"] == "val", "extra", world["split"])
    with pytest.raises(ValueError, match="val_split: no samples in split 'val'"):
        FailureDirectionsResult.from_arrays(*args, no_val, CLASS_NAMES)
    with pytest.raises(ValueError, match="split column"):
        FailureDirectionsResult.from_arrays(*args, None, CLASS_NAMES)
    with pytest.raises(ValueError, match="labels: expected shape"):
        FailureDirectionsResult.from_arrays(
            world["X"], world["labels"][:-1], world["correct"], world["split"], CLASS_NAMES
        )
    bad = world["X"].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        FailureDirectionsResult.from_arrays(bad, *args[1:], world["split"], CLASS_NAMES)
    with pytest.raises(ValueError, match="Cs"):
        FailureDirectionsResult.from_arrays(*args, world["split"], CLASS_NAMES, Cs=[0.1, -1])
    with pytest.raises(ValueError, match="cv"):
        FailureDirectionsResult.from_arrays(*args, world["split"], CLASS_NAMES, cv=1)
    with pytest.raises(ValueError, match="min_errors"):
        FailureDirectionsResult.from_arrays(*args, world["split"], CLASS_NAMES, min_errors=1)


def test_dimension_mismatches_raise(world, result):
    with pytest.raises(ValueError, match="dimension"):
        result.model.decision_function(world["X"][:5, :10], world["labels"][:5])
    with pytest.raises(ValueError, match="dimension"):
        FailureDirections().fit(
            world["X"][:50], world["X"][:50, :10], world["labels"][:50], world["correct"][:50]
        )
    short = FailureDirectionsResult(
        result.model,
        world["X"],
        world["labels"],
        world["correct"],
        world["split"],
        CLASS_NAMES,
        text_encoder=lambda texts: np.ones((len(texts), 5)),
    )
    with pytest.raises(ValueError, match="text embedding dimension 5"):
        short.captions("bird")
    no_text = FailureDirectionsResult(
        result.model, world["X"], world["labels"], world["correct"], world["split"], CLASS_NAMES
    )
    with pytest.raises(ValueError, match="text_encoder"):
        no_text.captions("bird")


def test_bad_queries_raise(result):
    with pytest.raises(ValueError, match="splits present"):
        result.decision_values("bird", split="holdout")
    with pytest.raises(ValueError, match="unknown class"):
        result.most_aligned("zebra")
    with pytest.raises(ValueError, match="side"):
        result.most_aligned("bird", side="middle")
    with pytest.raises(ValueError, match="k"):
        result.captions("bird", k=0)
    with pytest.raises(ValueError, match="splits present"):
        result.select_from_pool(5, split="unlabeled")


def test_find_failure_directions_from_an_evalset(world):
    from failwidgets.data import EvalSet

    n = len(world["X"])
    predictions = np.where(world["correct"], world["labels"], (world["labels"] + 1) % 3)
    evalset = EvalSet.from_arrays(
        np.zeros((n, 2, 2, 3), np.uint8),
        world["labels"],
        predictions,
        CLASS_NAMES,
        split=world["split"],
    )
    res = find_failure_directions(evalset, world["X"], n_jobs=1)
    assert isinstance(res.summary, pd.DataFrame) and res.summary["failure_strength"].notna().all()
    single = find_failure_directions(evalset, world["X"].astype(np.float32), n_jobs=1)
    assert single.embeddings.dtype == np.float32  # kept compact; arithmetic in float64
    np.testing.assert_allclose(single.model.coef_, res.model.coef_, atol=1e-4)
    with pytest.raises(ValueError, match="rows"):
        find_failure_directions(evalset, world["X"][:-1])
    no_split = EvalSet.from_arrays(
        np.zeros((n, 2, 2, 3), np.uint8), world["labels"], predictions, CLASS_NAMES
    )
    with pytest.raises(ValueError, match="split"):
        find_failure_directions(no_split, world["X"])
    with pytest.raises(ValueError, match="encoder"):
        find_failure_directions(evalset)
