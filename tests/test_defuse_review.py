"""ScenarioReview (Defuse's scenarios over an EvalSet, the engine behind ScenarioView) and the
summaries of ScenarioSamples and CorrectionResult, on hand-made cases and on the colour world of
test_scenario_view (a colour classifier and a VAE whose code is the mean colour)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from test_scenario_view import CLASS_NAMES, ColourCodeVAE, MeanColour, colour_world

from failwidgets.data import EvalSet
from failwidgets.methods.defuse import CorrectionResult, Defuse, ScenarioSamples
from failwidgets.methods.scenario_labels import ScenarioLabels
from failwidgets.methods.scenario_review import (
    DEFAULT_SPLIT,
    ScenarioReview,
    check_images_fit_vae,
    review_rows,
)
from failwidgets.methods.vae import CheckedVAE
from failwidgets.rules import MixtureRule

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def world():
    images, labels = colour_world()
    classifier = MeanColour().eval()
    with torch.no_grad():
        x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
        predictions = classifier(x).argmax(1).numpy()
    split = np.array(["val"] * 45 + ["train"] * 30 + ["test"] * 15)
    evalset = EvalSet.from_arrays(images, labels, predictions, CLASS_NAMES, split=split)
    vae = ColourCodeVAE()
    rows = evalset.split_indices("val")
    defuse = Defuse(
        vae, classifier, n_samples=10, max_per_image=3, max_components=10, progress=False
    )
    defuse.fit(evalset.images_at(rows), evalset.labels[rows])
    return evalset, classifier, vae, defuse


@pytest.fixture
def review(world):
    evalset, classifier, vae, defuse = world
    return ScenarioReview(evalset, defuse, evalset.split_indices("val"))


def test_review_rows_follow_indices_split_or_the_val_default(world):
    evalset = world[0]
    val = evalset.split_indices("val")
    np.testing.assert_array_equal(review_rows(evalset), val)  # the default: val
    np.testing.assert_array_equal(review_rows(evalset, DEFAULT_SPLIT), val)
    np.testing.assert_array_equal(review_rows(evalset, None), np.arange(90))
    np.testing.assert_array_equal(review_rows(evalset, "test"), np.arange(75, 90))
    np.testing.assert_array_equal(review_rows(evalset, indices=[5, 2]), [5, 2])
    mask = np.zeros(90, bool)
    mask[[1, 4]] = True
    np.testing.assert_array_equal(review_rows(evalset, indices=mask), [1, 4])
    plain = EvalSet.from_arrays(
        evalset.images_at(range(6)), evalset.labels[:6], evalset.predictions[:6], CLASS_NAMES
    )
    np.testing.assert_array_equal(review_rows(plain), np.arange(6))  # no split column: all
    with pytest.raises(ValueError, match="indices: pass either indices or split"):
        review_rows(evalset, "val", indices=[1])
    with pytest.raises(TypeError, match="indices: expected a sequence"):
        review_rows(evalset, indices=3)
    with pytest.raises(ValueError, match="indices: no images"):
        review_rows(evalset, indices=[])
    with pytest.raises(ValueError, match=r"split: no samples in split 'extra'; .*'test'"):
        review_rows(evalset, "extra")
    with pytest.raises(TypeError, match="split: expected a split name or None"):
        review_rows(evalset, 3)
    with pytest.raises(ValueError, match="split: the EvalSet has no split column"):
        review_rows(plain, "val")


def test_members_and_failure_modes_map_the_scenarios_back_to_evalset_rows(review, world):
    evalset, _, _, defuse = world
    rows = evalset.split_indices("val")
    assert review.rows.tolist() == rows.tolist() and not review.rows.flags.writeable
    assert len(review.scenarios) >= 2 and review.ids() == defuse.scenarios_.ids
    for scenario in defuse.scenarios_:
        positions = defuse.identification_.image_index[scenario.member_index]
        members = np.unique(rows[positions])
        np.testing.assert_array_equal(review.members(scenario.id), members)
        name = CLASS_NAMES[scenario.majority_label]
        assert review.class_of(scenario.id) == name and scenario.id in review.ids(name)
        mode = review.failure_mode(scenario.id)
        assert mode.method == "defuse" and mode.class_name == name
        predicted = CLASS_NAMES[scenario.top_prediction]
        assert mode.description == f"scenario {scenario.id}: {name} → predicted {predicted}"
        np.testing.assert_array_equal(mode.members, members)
        # drop: the class's accuracy over the analysed rows minus the scenario's
        in_class = rows[evalset.labels[rows] == scenario.majority_label]
        accuracy = evalset.correct[members].mean()
        assert mode.accuracy == pytest.approx(accuracy)
        assert mode.drop == pytest.approx(evalset.correct[in_class].mean() - accuracy)
        assert mode.drop == pytest.approx(evalset.accuracy_per_class(rows)[name] - accuracy)
        assert isinstance(mode.rule, MixtureRule) and mode.rule.component == scenario.component
    first, second = (review.failure_mode(i).rule for i in review.ids()[:2])
    assert first.encode is second.encode  # one encoder: each image is encoded once
    assert review.ids("red") == []  # the classifier never misses red
    with pytest.raises(ValueError, match="scenario_id: 99 is not one of the"):
        review.members(99)
    with pytest.raises(TypeError, match="scenario_id: expected an integer, got bool"):
        review.failure_mode(True)


def test_failure_modes_read_the_labels(review, tmp_path):
    ids = review.ids()
    assert len(review.failure_modes()) == len(ids)  # without labels: every scenario
    labels = review.open_labels(tmp_path / "l.json")
    assert review.labels is labels  # opened and made the review's store
    assert [m.description for m in review.failure_modes()] == [
        review.failure_mode(i).description for i in ids
    ]
    review.confirmed_only = True
    assert review.failure_modes() == []
    review.confirmed_only = False
    review.set_label(ids[0], is_failure=False)
    review.set_label(ids[1], is_failure=True, correct_label="green")  # a name or an index
    assert labels.get(ids[1]).correct_label == 1
    left = review.failure_modes()
    assert [m.description.split(":")[0] for m in left] == [f"scenario {i}" for i in ids[1:]]
    review.confirmed_only = True
    (confirmed,) = review.failure_modes()
    assert confirmed.description.startswith(f"scenario {ids[1]}:")
    review.confirmed_only = False
    name = confirmed.class_name
    assert all(m.class_name == name for m in review.failure_modes(name))
    assert review.failure_modes("red") == []
    with pytest.raises(TypeError, match="confirmed_only: expected True or False"):
        review.confirmed_only = "yes"
    with pytest.raises(TypeError, match="labels: expected a ScenarioLabels"):
        review.labels = {0: 1}
    with pytest.raises(ValueError, match="labels: the store is for 5 classes"):
        review.labels = ScenarioLabels(tmp_path / "five.json", n_classes=5)
    with pytest.raises(ValueError, match="labels: the store holds labels of another scenario"):
        review.labels = ScenarioLabels(tmp_path / "o.json", n_classes=3, scenario_set="0" * 16)
    assert review.labels is labels and not review.confirmed_only  # refused values not kept
    frame = review.table()
    assert list(frame.index) == ids
    expected = {ids[0]: False, ids[1]: True}
    assert frame["is_failure"].tolist() == [expected.get(i) for i in ids]
    assert frame.loc[ids[1], "correct_label"] == "green"
    assert frame["n_images"].tolist() == [len(review.members(i)) for i in ids]
    assert list(review.table(name).index) == review.ids(name)
    review.clear_label(ids[0])
    assert ids[0] not in labels
    review.labels = None
    assert "is_failure" not in review.table().columns
    with pytest.raises(ValueError, match="labels: the review has no label store"):
        review.set_label(ids[0], is_failure=True)
    with pytest.raises(ValueError, match="labels: the review has no label store"):
        review.correct(tau=0.1)


def test_the_review_follows_the_result_protocol(review, world, tmp_path):
    from failwidgets.methods.answers import AnswerFrame, AnswerList
    from failwidgets.mode_source import FailureModeSource

    evalset = world[0]
    assert isinstance(review, FailureModeSource) and review.method == "defuse"
    assert review.class_names == CLASS_NAMES
    assert review.threshold_values() == {"tau": 0.1}

    def described(modes):
        return [m.description for m in modes]

    every = review.failure_modes()
    assert isinstance(every, AnswerList) and every.reason is None
    assert described(every) == described(review.failure_mode(i) for i in review.ids())
    assert described(review.failure_modes("all")) == described(every)
    by_class = {name: review.failure_modes(name) for name in CLASS_NAMES}
    for index, (name, modes) in enumerate(by_class.items()):
        assert [m.class_name for m in modes] == [name] * len(modes)
        assert described(review.failure_modes(index)) == described(modes)
        assert len(modes) == len(review.ids(name))
    # the planted failures: grey-ish green and blue draws are called red, red never fails
    assert by_class["red"] == [] and by_class["green"] and by_class[CLASS_NAMES[2]]
    pair = review.failure_modes(["green", 2])
    assert sorted(described(pair)) == sorted(
        described(by_class["green"] + by_class[CLASS_NAMES[2]])
    )
    # tau moves the samples, not the modes: accepted, checked, no change
    assert described(review.failure_modes(tau=0.4)) == described(every)
    assert list(review.table(tau=0.4).index) == review.ids()
    with pytest.raises(ValueError, match=r"tau: must lie in \(0, 1\]"):
        review.failure_modes(tau=1.5)
    with pytest.raises(TypeError, match="tau: expected a number"):
        review.table(tau="0.1")
    with pytest.raises(TypeError, match=r"delta: not a threshold of defuse; known: \['tau'\]"):
        review.failure_modes(delta=0.2)
    with pytest.raises(ValueError, match="classes: unknown class 'purple'"):
        review.failure_modes("purple")
    with pytest.raises(ValueError, match="classes: class index 3 outside"):
        review.table(3)
    with pytest.raises(TypeError, match="classes: expected 'all'"):
        review.failure_modes(1.5)
    # an empty answer says why, per class
    red = review.failure_modes("red")
    assert isinstance(red, AnswerList)
    assert (
        red.reason
        == f"no scenario has majority label 'red'; {len(review.scenarios)} scenarios in other classes"
    )
    table = review.table("red")
    assert isinstance(table, AnswerFrame) and table.empty and table.reason == red.reason
    review.open_labels(tmp_path / "why.json")
    green = review.ids("green")
    for i in green:
        review.set_label(i, is_failure=False)
    reason = review.failure_modes("green").reason
    assert reason == f"its {len(green)} scenarios are marked 'not a failure'"
    review.confirmed_only = True
    reason = review.failure_modes(["green", 2, "red"]).reason
    blue = len(review.ids(CLASS_NAMES[2]))
    assert reason == (
        f"green: its {len(green)} scenarios are marked 'not a failure'; {CLASS_NAMES[2]}: none "
        f"of its {blue} scenarios is marked a failure (0 marked 'not a failure'; confirmed_only "
        "lists only scenarios marked failures); no scenario in the 1 other classes"
    )
    assert review.failure_modes([]).reason == "no class was given"
    # a review without scenarios repeats the identification's message
    red_rows = np.flatnonzero(evalset.labels == 0)
    classifier, vae = world[1], world[2]
    nothing = ScenarioReview.build(
        evalset, classifier, vae, indices=red_rows, fit_kwargs={"n_samples": 5, "progress": False}
    )
    empty = nothing.failure_modes()
    assert empty == [] and empty.reason.startswith("no failures found")


def test_open_labels_names_the_view_arguments(review, tmp_path):
    with pytest.raises(ValueError, match="labels_path: .* is a folder"):
        review.open_labels(tmp_path)
    with pytest.raises(TypeError, match="labels_path: expected a file path, got int"):
        review.open_labels(3)
    with pytest.raises(TypeError, match="adopt_labels: expected True or False"):
        review.open_labels(tmp_path / "a.json", adopt_labels="y")
    ScenarioLabels(tmp_path / "hand.json", n_classes=3).set(0, is_failure=True)
    with pytest.raises(ValueError, match=r"^labels_path: .*pass adopt_labels=True"):
        review.open_labels(tmp_path / "hand.json")
    adopted = review.open_labels(tmp_path / "hand.json", adopt_labels=True)
    assert adopted.get(0).is_failure is True


def test_the_review_refuses_a_defuse_of_other_inputs(world):
    evalset, classifier, vae, defuse = world
    val = evalset.split_indices("val")
    with pytest.raises(ValueError, match="defuse: it was fitted on 45 images but 90"):
        ScenarioReview(evalset, defuse, np.arange(90))
    with pytest.raises(ValueError, match="defuse: the labels it was fitted with differ"):
        ScenarioReview(evalset, defuse, val[::-1])
    with pytest.raises(ValueError, match="defuse: it was fitted with another VAE"):
        ScenarioReview(evalset, defuse, val, vae=ColourCodeVAE())
    with pytest.raises(ValueError, match="defuse: it was fitted with another classifier"):
        ScenarioReview(evalset, defuse, val, classifier=MeanColour())
    with pytest.raises(ValueError, match="preprocess: differs"):
        ScenarioReview(evalset, defuse, val, preprocess=lambda x: x)
    with pytest.raises(ValueError, match="defuse: the Defuse is not fitted"):
        ScenarioReview(evalset, Defuse(vae, classifier), val)
    with pytest.raises(TypeError, match="defuse: expected a fitted Defuse"):
        ScenarioReview(evalset, object(), val)
    with pytest.raises(TypeError, match="classifier: expected a callable"):
        ScenarioReview.build(evalset, 3, vae)
    with pytest.raises(ValueError, match="fit_kwargs: only used when the view fits"):
        ScenarioReview.build(evalset, classifier, vae, defuse=defuse, fit_kwargs={"a": 1})
    with pytest.raises(TypeError, match="fit_kwargs: .*unexpected keyword"):
        ScenarioReview.build(evalset, classifier, vae, fit_kwargs={"bogus": 1})
    with pytest.raises(ValueError, match="max_images"):
        ScenarioReview.build(evalset, classifier, vae, max_images=0)
    small = CheckedVAE(ColourCodeVAE())
    check_images_fit_vae(evalset, val, small)  # probes the VAE on two images
    assert small.image_shape == (3, 8, 8)


def test_fit_subsamples_the_rows_with_a_seed(world):
    evalset, classifier, vae, _ = world
    settings = {"n_samples": 5, "max_per_image": 2, "max_components": 5, "progress": False}
    review = ScenarioReview.build(
        evalset, classifier, vae, split=None, fit_kwargs=settings, max_images=20
    )
    again = ScenarioReview.build(
        evalset, classifier, vae, split=None, fit_kwargs=settings, max_images=20
    )
    assert len(review.rows) == 20 and np.all(np.diff(review.rows) > 0)
    np.testing.assert_array_equal(review.rows, again.rows)
    assert review.defuse.n_samples == 5 and review.defuse.identification_.n_images == 20


def test_quality_summary_and_text(review):
    summary = review.quality_summary()
    assert summary["passed"] and summary["n_images"] == 45
    assert summary["n_vae_failing_draws"] == 0 and summary["vae_failures"] == "exclude"
    share = f"{100 * summary['original_accuracy']:.1f}%"
    assert (
        summary["text"]
        == review.quality_text()
        == (
            f"VAE check: the classifier gets {share} of the 45 images right and {share} of their "
            "VAE reconstructions."
        )
    )


def test_correction_data_comes_from_the_splits(review, world):
    evalset = world[0]
    data = review.correction_data()
    assert sorted(data) == sorted(
        f"{role}_{kind}" for role in ("train", "test", "val") for kind in ("images", "labels")
    )
    train = evalset.split_indices("train")
    np.testing.assert_array_equal(data["train_labels"], evalset.labels[train])
    np.testing.assert_array_equal(data["train_images"], evalset.images_at(train))
    given = review.correction_data(test_images=np.zeros((1, 8, 8, 3), np.uint8))
    assert "test_images" not in given and "test_labels" not in given
    plain = EvalSet.from_arrays(
        evalset.images_at(range(45)), evalset.labels[:45], evalset.predictions[:45], CLASS_NAMES
    )
    defuse = world[3]
    bare = ScenarioReview(plain, defuse, np.arange(45))
    with pytest.raises(ValueError, match="correct: the EvalSet has no 'train' split"):
        bare.correction_data()


def test_sample_summaries_on_hand_made_predictions():
    probabilities = np.array(
        [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.5, 0.3], [0.6, 0.3, 0.1]], np.float32
    )
    samples = ScenarioSamples(
        0, 0.1, np.zeros((4, 2)), np.zeros((4, 2, 2, 3)), np.array([0, 1, 1, 0]), probabilities
    )
    np.testing.assert_allclose(samples.confidence, [0.7, 0.8, 0.5, 0.6])
    assert samples.top_prediction() == (0, 2)  # a tie: the lowest class index
    assert samples.wrong(1).tolist() == [True, False, False, True]
    assert samples.wrong(None).tolist() == [False] * 4
    assert samples.error_rate(1) == 0.5


def test_correction_scenario_table_in_percent():
    per_scenario = pd.DataFrame(
        {"correct_label": [2, 0], "accuracy_before": [0.25, 0.5], "accuracy_after": [0.75, 1.0]},
        index=pd.Index([3, 7], name="scenario"),
    )
    result = CorrectionResult(
        sweep=pd.DataFrame(),
        before={},
        per_scenario=per_scenario,
        best_lambda=1.0,
        best_model=None,
        n_scenarios=2,
        reference="validation",
        selection="",
    )
    table = result.scenario_table(["a", "b", "c"])
    assert list(table.index) == ["#3", "#7"]
    assert table["correct label"].tolist() == ["c", "a"]
    assert table["before"].tolist() == [25.0, 50.0] and table["after"].tolist() == [75.0, 100.0]
    assert result.scenario_table()["correct label"].tolist() == [2, 0]
