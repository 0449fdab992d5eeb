"""CES on the result protocol: ``ConceptExplainer.explain_images`` returns a
``ConceptExplanation`` whose ``failure_modes(classes="all", delta=...)`` lists the explained
set's modes, one per label.

The colour world of tests/test_concept_map_view.py: images tinted by one channel, the class c
logit reads channel c, so a mistake of class c lacks colour c and adding that colour's concept
raises p(true label) most; each class's mode is re-applied by that concept.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from failwidgets.features.split import SplitModel
from failwidgets.methods.ces import (
    ConceptExplainer,
    ConceptExplanation,
    ConceptSet,
    concept_failure_modes,
    learn_concept_bank,
)
from failwidgets.mode_source import FailureModeSource

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def world():
    from test_concept_map_view import COLOURS, SIZE, Top, bottom, make_world

    evalset, _ = make_world()
    split = SplitModel.from_callables(bottom, Top(), layer="pool", input_size=(3, SIZE, SIZE))
    concepts = ConceptSet.from_evalset(
        evalset, COLOURS, indices=evalset.split_indices("train"), max_examples=40
    )
    bank = learn_concept_bank(split, concepts, min_accuracy=0.0)
    explainer = ConceptExplainer(split, bank, delta=0.3)
    test = evalset.split_indices("test")
    mistakes = test[~evalset.correct[test]][:18]  # mistakes of every class
    return evalset, explainer, COLOURS, test, mistakes


def test_explain_images_returns_the_explanation_on_the_protocol(world):
    evalset, explainer, colours, test, mistakes = world
    explanation = explainer.explain_images(
        evalset, mistakes, title="picked", reference_indices=test
    )
    assert isinstance(explanation, FailureModeSource) and explanation.method == "ces"
    np.testing.assert_array_equal(explanation.indices, mistakes)
    assert not explanation.indices.flags.writeable
    assert explanation.target is None and explanation.direction == "add"
    assert explanation.delta == 0.3 and explanation.threshold_values() == {"delta": 0.3}
    assert explanation.class_names == list(evalset.class_names)
    np.testing.assert_allclose(
        explanation.scores.raw, explainer.explain_evalset(evalset, mistakes).raw
    )
    # the planted answer: one mode per label, each re-applied by its class's colour
    modes = explanation.failure_modes()
    labels = evalset.labels[mistakes]
    assert [m.class_name for m in modes] == [f"class_{c}" for c in np.unique(labels)]
    for mode in modes:
        c = evalset.class_index(mode.class_name)
        np.testing.assert_array_equal(mode.members, mistakes[labels == c])
        assert mode.method == "ces" and mode.accuracy == 0.0
        assert mode.rule.concept == colours[c]
        rows = test[evalset.labels[test] == c]
        assert mode.drop == pytest.approx(evalset.correct[rows].mean())
        assert mode.description.startswith(f"picked, the {len(mode.members)} {mode.class_name}")
    # the same as the function the view used to call
    expected = concept_failure_modes(
        explainer,
        evalset,
        mistakes,
        explanation.scores,
        title="picked",
        reference_indices=test,
    )
    assert [m.description for m in modes] == [m.description for m in expected]
    assert "ConceptExplanation('picked', 18 images, p(true label)" in repr(explanation)


def test_classes_all_name_index_and_list(world):
    evalset, explainer, _, _, mistakes = world
    explanation = explainer.explain_images(evalset, mistakes)
    every = explanation.failure_modes("all")
    assert [m.class_name for m in explanation.failure_modes("class_1")] == ["class_1"]
    assert [m.class_name for m in explanation.failure_modes(2)] == ["class_2"]
    assert [m.class_name for m in explanation.failure_modes([2, "class_0"])] == [
        "class_2",
        "class_0",
    ]
    by_name = {m.class_name: m.description for m in every}
    assert explanation.failure_modes(1)[0].description == by_name["class_1"]
    # a class with no explained image: empty, and the reason says why
    only_0 = mistakes[evalset.labels[mistakes] == 0]
    empty = explainer.explain_images(evalset, only_0).failure_modes("class_2")
    assert empty == [] and empty.reason.startswith(
        f"none of the {len(only_0)} explained images is labelled class_2"
    )
    with pytest.raises(ValueError, match="^classes: unknown class 'zebra'"):
        explanation.failure_modes("zebra")
    with pytest.raises(ValueError, match="^classes: class index 7"):
        explanation.failure_modes(7)
    with pytest.raises(TypeError, match="^classes: expected 'all'"):
        explanation.failure_modes(0.5)


def test_a_delta_override_recomputes_and_leaves_the_explanation_unchanged(world):
    evalset, explainer, _, _, mistakes = world
    explanation = explainer.explain_images(evalset, mistakes)
    scores, before = explanation.scores, explanation.failure_modes()
    tiny = explanation.failure_modes(delta=1e-12)
    assert all("every score is 0; try a larger delta" in m.description for m in tiny)
    assert all(m.rule is None for m in tiny)  # no concept raises anything: nothing to re-apply
    assert explanation.scores is scores and explanation.delta == 0.3
    assert [m.description for m in explanation.failure_modes()] == [m.description for m in before]
    other = explanation.with_delta(3.0)
    assert other is not explanation and other.delta == 3.0
    assert explanation.with_delta(0.3) is explanation
    np.testing.assert_array_equal(other.indices, explanation.indices)
    with pytest.raises(ValueError, match="^delta: expected a finite positive step"):
        explanation.failure_modes(delta=0)
    with pytest.raises(TypeError, match="^delta: expected a positive number"):
        explanation.failure_modes(delta="big")
    with pytest.raises(TypeError, match=r"^tau: not a threshold of ces; known: \['delta'\]"):
        explanation.failure_modes(tau=0.1)


def test_target_and_direction_are_attributes_of_the_explanation(world):
    evalset, explainer, _, _, mistakes = world
    only_0 = mistakes[evalset.labels[mistakes] == 0]
    green = explainer.explain_images(evalset, only_0, target=1)
    assert green.target == "class_1" and (green.scores.target == 1).all()
    (mode,) = green.failure_modes()
    assert "raises p(class_1) most" in mode.description and mode.rule is None
    removed = explainer.explain_images(evalset, only_0, direction="remove")
    assert removed.direction == "remove"
    assert removed.failure_modes()[0].description.split(": ")[1].startswith("removing ")


def test_bad_input_is_named(world):
    evalset, explainer, _, _, mistakes = world
    with pytest.raises(TypeError, match="^evalset: expected an EvalSet"):
        explainer.explain_images("nope", mistakes)
    with pytest.raises(ValueError, match="^indices: no samples to explain"):
        explainer.explain_images(evalset, [])
    with pytest.raises(TypeError, match="^indices: expected a sequence of sample indices"):
        explainer.explain_images(evalset, 3)
    with pytest.raises(ValueError, match="^indices"):
        explainer.explain_images(evalset, [evalset.n])
    with pytest.raises(ValueError, match="^target: unknown class 'zebra'"):
        explainer.explain_images(evalset, mistakes, target="zebra")
    with pytest.raises(ValueError, match="^direction: expected 'add' or 'remove'"):
        explainer.explain_images(evalset, mistakes, direction="both")
    with pytest.raises(ValueError, match="^delta: expected a finite positive step"):
        explainer.explain_images(evalset, mistakes, delta=-1.0)
    with pytest.raises(TypeError, match="^title: expected a string"):
        explainer.explain_images(evalset, mistakes, title=3)
    with pytest.raises(ValueError, match="^reference_indices"):
        explainer.explain_images(evalset, mistakes, reference_indices=[evalset.n])
    # the constructor checks that the scores belong to what it is told they explain
    scores = explainer.explain_evalset(evalset, mistakes)
    with pytest.raises(ValueError, match="^indices: 3 images, but the scores are of 18"):
        ConceptExplanation(explainer, evalset, mistakes[:3], scores)
    with pytest.raises(ValueError, match=r"^target: the scores do not explain p\(class_1\)"):
        ConceptExplanation(explainer, evalset, mistakes, scores, target="class_1")
    with pytest.raises(TypeError, match="^scores: expected ConceptScores"):
        ConceptExplanation(explainer, evalset, mistakes, "scores")
    with pytest.raises(TypeError, match="^explainer: expected a ConceptExplainer"):
        ConceptExplanation("explainer", evalset, mistakes, scores)
    # the caller's array is not frozen by the explanation
    idx = mistakes.copy()
    ConceptExplanation(explainer, evalset, idx, scores)
    assert idx.flags.writeable
