"""Issue 6's check on the demo world: CES names the planted spurious background.

The class planted with a spurious background sits on one background (the cue) in nearly all its
train images, while val/test are balanced over backgrounds, so the classifier misses many of its
test images on other backgrounds. Concepts come from the world's tag columns (backgrounds,
textures, colours, occluder, distractor, part flag), learned on the train split at the demo
classifier's bottleneck (the output of ``features``). For each misclassified test image of that
class, CES explains the probability of its true label with ``direction="add"``: adding the
training background should raise it, so the cue concept should rank among the top 3 positive
concepts (ranked with ``ConceptScores.order``/``rank``, which break the ties of saturated scores
by the change in log-odds). The issue asks for at least 80% of those images (the paper: over
90% for most of its models).

Needs the shipped demo classifier; skipped with the reason when it is missing.
"""

from __future__ import annotations

import numpy as np
import pytest

from failwidgets.demo._common import WEIGHTS_DIR

REQUIRED = ("classifier.pt", "classifier.json")
missing = [name for name in REQUIRED if not (WEIGHTS_DIR / name).is_file()]
pytestmark = pytest.mark.skipif(
    bool(missing), reason=f"demo weights missing in {WEIGHTS_DIR}: {missing}"
)

TAG_COLUMNS = ("background", "texture", "colour", "occluder", "distractor", "has_part")
TOP_K = 3
REQUIRED_SHARE = 0.8


@pytest.fixture(scope="module")
def demo_ces():
    import torch

    from failwidgets.demo import load
    from failwidgets.features.split import split_model
    from failwidgets.methods.ces import ConceptExplainer, ConceptSet, learn_concept_bank

    torch.set_num_threads(2)
    demo = load()
    evalset = demo.evalset
    train = evalset.split_indices("train")
    # every tag column that gives concepts on the train split (has_part is always true there:
    # the part only goes missing in val/test, so it has no negatives to learn from)
    columns, skipped = [], {}
    for column in TAG_COLUMNS:
        try:
            ConceptSet.from_evalset(evalset, [column], indices=train)
        except ValueError as error:
            skipped[column] = str(error)
        else:
            columns.append(column)
    concepts = ConceptSet.from_evalset(evalset, columns, indices=train)
    split = split_model(demo.classifier, "features", input_size=(3, 64, 64))
    x = torch.from_numpy(evalset.images_at(np.arange(8))).permute(0, 3, 1, 2).float() / 255
    split.check(x)  # the cut reproduces the classifier's logits
    bank = learn_concept_bank(split, concepts)
    (failure,) = [f for f in demo.world.failures if f.kind == "spurious_background"]
    return dict(
        demo=demo,
        bank=bank,
        skipped=skipped,
        failure=failure,
        explainer=ConceptExplainer(split, bank),
        cue=f"background={failure.cue['background']}",
    )


def misclassified_test_images(demo, class_name: str) -> np.ndarray:
    evalset = demo.evalset
    c = evalset.class_index(class_name)
    test = evalset.split_indices("test")
    return test[(evalset.labels[test] == c) & ~evalset.correct[test]]


def test_spurious_background_is_a_top_concept_of_each_mistake(demo_ces):
    demo, bank, explainer, cue = (demo_ces[k] for k in ("demo", "bank", "explainer", "cue"))
    failure = demo_ces["failure"]
    assert cue in bank.names, f"{cue} was dropped: {bank.dropped}"
    wrong = misclassified_test_images(demo, failure.class_name)
    assert len(wrong) >= 20, f"only {len(wrong)} misclassified test images of {failure.class_name}"
    ranks = np.array(
        [explainer.explain_evalset(demo.evalset, [i], direction="add").rank(cue) for i in wrong]
    )
    share = float(np.mean(ranks < TOP_K))
    members = failure.members(demo.world.attributes)[wrong]
    print(
        f"\n{failure.name}: {cue} is among the top {TOP_K} CES concepts (add, p(true label)) "
        f"of {share:.1%} of the {len(wrong)} misclassified test {failure.class_name}s "
        f"(rank 1: {np.mean(ranks == 0):.1%}; median rank {np.median(ranks):.0f} of "
        f"{len(bank)} concepts; {members.mean():.0%} of them are planted members); "
        f"concepts dropped below {bank.min_accuracy}: {sorted(bank.dropped)}; "
        f"columns skipped: {sorted(demo_ces['skipped'])}"
    )
    assert share >= REQUIRED_SHARE


def test_the_cue_does_not_explain_other_classes_mistakes(demo_ces):
    """Control: the cue concept is specific to the planted class, not a generic top concept."""
    demo, explainer, cue = demo_ces["demo"], demo_ces["explainer"], demo_ces["cue"]
    evalset = demo.evalset
    test = evalset.split_indices("test")
    planted = evalset.class_index(demo_ces["failure"].class_name)
    others = test[(evalset.labels[test] != planted) & ~evalset.correct[test]]
    ranks = np.array([explainer.explain_evalset(evalset, [i]).rank(cue) for i in others])
    share = float(np.mean(ranks < TOP_K))
    print(f"\n{cue} is among the top {TOP_K} for {share:.1%} of the other classes' mistakes")
    assert share < 0.2


def test_direction_and_the_set_explanation(demo_ces):
    demo, explainer, cue = demo_ces["demo"], demo_ces["explainer"], demo_ces["cue"]
    wrong = misclassified_test_images(demo, demo_ces["failure"].class_name)
    added = explainer.explain_evalset(demo.evalset, wrong, direction="add")
    removed = explainer.explain_evalset(demo.evalset, wrong, direction="remove")
    # adding the training background raises p(true label) of the mistakes; removing it does not
    assert added.rank(cue) < TOP_K
    assert added.scores[added.names.index(cue)] > 0
    assert removed.scores[removed.names.index(cue)] < 0


def test_concept_map_view_on_the_demo(demo_ces):
    from failwidgets.widgets.concept_map import ConceptMapView

    demo, explainer, cue = demo_ces["demo"], demo_ces["explainer"], demo_ces["cue"]
    failure = demo_ces["failure"]
    view = ConceptMapView(demo.evalset, explainer, class_name=failure.class_name)
    view.wait()
    wrong = misclassified_test_images(demo, failure.class_name)
    np.testing.assert_array_equal(np.sort(view.explained), wrong)
    top = [name for name, _ in view.scores.top_positive(TOP_K)]
    assert cue in top
    assert cue in [e["name"] for e in view.panel.view_model["positive"][:TOP_K]]
    (mode,) = view.failure_modes()
    assert cue in mode.description
    view.show_concept(cue)
    shown = view.grid.indices
    assert len(shown) > 0
    assert (
        demo.world.attributes["background"].to_numpy()[shown] == failure.cue["background"]
    ).all()
