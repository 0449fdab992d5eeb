"""PRIME on the demo world with the shipped classifier: the planted 3-attribute conjunction.

Tags come from the world's metadata: one tag ``column=value`` per value of the categorical
attributes ``colour``, ``texture`` and ``background`` and of the booleans (``occluder=True``,
``occluder=False``, ..., ``has_part=False``); the continuous columns (size, position, blur...)
are not tags.

Split searched: validation + test. The conjunction is planted so that the failing class never
shows the full triple in train (it is a cue for another class there) and shows it in about
15 % of its val/test images, so train holds nothing to find; val + test together give
~110 triple images per class instead of ~55.

Thresholds: ``s = 30`` (the paper's support; the triple has ~100 images in val + test, each
pair ~200) and ``a = 0.5``. In this world about half of each pair's images are triple images
(pair-only images are 10 % of the class, triple images 15 %), so a pair inherits a large part
of the triple's drop, and the pairs *are* minimal (removing a tag from a pair raises the
accuracy by more than b_2 = 0.1). With the classifier trained by the shipped recipe the triple
drops 0.79 (accuracy 0 on 103 images) and the pairs 0.28-0.34: at the paper's a = 0.25-0.30
PRIME correctly reports two or three pairs as failure modes too (the third test checks what
happens there); an ``a`` between the pair drops and the triple drop isolates the triple, and
0.5 sits near the middle of that gap. The necessity thresholds keep the paper's defaults.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from failwidgets.demo.classifier import WEIGHTS_DIR
from failwidgets.features.tags import tags_from_metadata
from failwidgets.methods.prime import search

TAG_COLUMNS = ["colour", "texture", "background", "occluder", "distractor", "has_part"]
A_DEMO = 0.5
S_DEMO = 30

pytestmark = pytest.mark.skipif(
    not (WEIGHTS_DIR / "classifier.pt").exists(),
    reason="the demo classifier's weights (failwidgets/demo/weights/classifier.pt) are missing",
)


@pytest.fixture(scope="module")
def demo():
    # not `from failwidgets.demo import load`: the lazy attribute collides with the submodule
    # failwidgets/demo/load.py and that import returns the module
    from failwidgets.demo import load

    return load()


@pytest.fixture(scope="module")
def conjunction(demo):
    (failure,) = [f for f in demo.world.failures if f.kind == "conjunction"]
    return failure


@pytest.fixture(scope="module")
def tags(demo):
    return tags_from_metadata(demo.evalset, columns=TAG_COLUMNS)


@pytest.fixture(scope="module")
def heldout(demo):
    return np.sort(np.concatenate([demo.world.indices("val"), demo.world.indices("test")]))


@pytest.fixture(scope="module")
def result(demo, tags, heldout):
    es = demo.evalset
    return search(
        tags,
        es.labels,
        es.correct,
        class_names=es.class_names,
        max_size=4,
        min_support=S_DEMO,
        indices=heldout,
        a=A_DEMO,
    )


def triple_tags(failure) -> tuple[str, ...]:
    return tuple(f"{column}={value}" for column, value in failure.attributes.items())


def test_metadata_tags_are_the_attribute_values(tags):
    assert "colour=red" in tags.names and "texture=stripes" in tags.names
    booleans = {f"{c}={v}" for c in ("occluder", "distractor", "has_part") for v in (True, False)}
    assert booleans <= set(tags.names)
    assert not {"occluder", "distractor", "has_part"} & set(tags.names)
    assert not any(name.startswith(("class_name", "size", "blur")) for name in tags.names)


def test_planted_conjunction_is_found_and_none_of_its_subsets(demo, result, conjunction):
    triple = set(triple_tags(conjunction))
    modes = result.table(conjunction.class_name, a=A_DEMO, s=S_DEMO)
    found = [set(t) for t in modes["tags"]]
    assert triple in found, modes[["tags", "n_images", "accuracy", "drop", "min_gain"]]
    for k in (1, 2):
        for subset in itertools.combinations(sorted(triple), k):
            assert set(subset) not in found, f"subset {subset} reported as a failure mode"
    row = modes[[set(t) == triple for t in modes["tags"]]].iloc[0]
    members = result.members(conjunction.class_name, row["tags"])
    planted = np.flatnonzero(conjunction.members(demo.world.attributes))
    np.testing.assert_array_equal(members, np.intersect1d(planted, result.indices))
    assert row["n_images"] >= S_DEMO


def test_at_the_papers_a_the_triple_is_still_a_mode(result, conjunction):
    """At a = 0.30 the triple stays a failure mode; its pairs may join it (see the module
    docstring): they are then minimal by the paper's definition, with drops near 0.6 times
    the triple's."""
    triple = set(triple_tags(conjunction))
    modes = result.table(conjunction.class_name, a=0.30, s=S_DEMO)
    found = [set(t) for t in modes["tags"]]
    assert triple in found
    triple_drop = float(modes[[set(t) == triple for t in modes["tags"]]]["drop"].iloc[0])
    for tags in found:
        if tags < triple:  # a reported subset: a pair that contains most of the triple's images
            assert len(tags) == 2
            pair_drop = float(modes[[set(t) == tags for t in modes["tags"]]]["drop"].iloc[0])
            assert pair_drop < A_DEMO < triple_drop


def test_lattice_view_on_the_demo(demo, result, conjunction):
    from failwidgets.widgets.lattice import LatticeView

    view = LatticeView(demo.evalset, result=result, a=A_DEMO, class_name=conjunction.class_name)
    graph = view.canvas.graph
    triple = set(triple_tags(conjunction))
    modes = [set(node["tags"]) for node in graph["nodes"] if node["mode"]]
    assert triple in modes
    row = next(node["row"] for node in graph["nodes"] if set(node["tags"]) == triple)
    assert sum(e["necessity"] and e["superset"] == row for e in graph["edges"]) == 3
    view.canvas._on_message(view.canvas, {"type": "select", "row": row}, [])
    shown = view.grid.display_indices()
    assert len(shown) == len(view.selected_members) > 0
    assert not demo.evalset.correct[shown[0]]  # errors first
