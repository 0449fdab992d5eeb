"""The concept map's view model and state, without widgets (failwidgets/viewmodels/concept_map.py)."""

from __future__ import annotations

import json
import threading
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from failwidgets.methods.ces import ConceptExplainer, ConceptScores, ConceptSet, learn_concept_bank
from failwidgets.viewmodels.concept_map import (
    ConceptMapState,
    ExplainedSet,
    check_setting,
    class_options,
    concept_map_view_model,
    embedding_options,
    no_scores_reason,
    signed_text,
    target_options,
    unit_square,
)

torch.set_num_threads(1)


def hand_scores(raw, direction="add", delta=0.5) -> ConceptScores:
    raw = np.asarray(raw, dtype=float)
    peak = np.max(np.abs(raw))
    return ConceptScores(
        names=[f"c{i}" for i in range(len(raw))],
        scores=raw / peak if peak else raw,
        raw=raw,
        per_sample=raw[None, :] / 2 + np.zeros((2, 1)),
        base_probability=np.array([0.3, 0.4]),
        target=np.array([0, 0]),
        direction=direction,
        delta=delta,
        val_accuracy=np.full(len(raw), 0.9),
        log_odds=raw,
    )


BANK = SimpleNamespace(names=["c0", "c1", "c2", "c3"], val_accuracy=np.array([0.9, 0.8, 0.75, 1.0]))
XY = np.array([[0.0, 0.0], [4.0, 0.0], [2.0, 1.0], [1.0, 1.0]])


def model(scores, **options):
    settings = dict(
        explained=ExplainedSet(np.array([3, 5]), "explicit", "two picked"),
        class_name="cat",
        split="test",
        target=None,
        direction="add",
        delta=0.5,
        embedding="pca",
        n_labels=1,
        n_bars=8,
    )
    settings.update(options)
    return concept_map_view_model(BANK, XY, scores, **settings)


def test_unit_square_keeps_the_aspect_and_centres():
    xy = np.array([[0.0, 0.0], [4.0, 0.0], [2.0, 1.0]])
    np.testing.assert_allclose(unit_square(xy), [[0.0, 0.375], [1.0, 0.375], [0.5, 0.625]])
    np.testing.assert_allclose(unit_square(np.ones((3, 2))), np.full((3, 2), 0.5))
    assert unit_square(np.zeros((0, 2))).shape == (0, 2)


def test_texts():
    assert [signed_text(v) for v in (0.5, -1.0, 0.0, 1e-5, np.nan, np.inf, -np.inf)] == [
        "+0.5",
        "-1",
        "0",
        "+1e-05",
        "—",
        "∞",
        "−∞",
    ]
    assert class_options(["cat", "dog"], [3, 0], [10, 12]) == [
        ("cat · 3 mistakes / 10", "cat"),
        ("dog · 0 mistakes / 12", "dog"),
    ]
    assert target_options(["cat"]) == [("true label of each image", -1), ("cat", 0)]
    assert embedding_options(3) == [("PCA", "pca")] and len(embedding_options(4)) == 2
    many, one = ExplainedSet(np.arange(3)), ExplainedSet(np.arange(1))
    assert many.text("cat", "test") == "3 test mistakes of cat"
    assert one.text("cat", None) == "1 mistake of cat"
    assert (
        ExplainedSet(np.arange(1), "selection").text("cat", "x") == "1 image selected in the grid"
    )
    assert ExplainedSet(np.arange(2), "explicit").text("cat", "x") == "2 chosen images"
    assert ExplainedSet(np.arange(2), "explicit", "a mode").text("cat", "x") == "a mode"
    with pytest.raises(ValueError, match="^source: expected one of"):
        ExplainedSet(np.arange(2), "lasso")
    assert no_scores_reason("boom", 3, "cat", "test") == "the scores could not be computed: boom"
    assert no_scores_reason(None, 0, "cat", "test").startswith(
        "nothing is explained: cat has no mistakes in the test split"
    )
    assert no_scores_reason(None, 3, "cat", None).startswith("the scores are not computed yet")
    assert check_setting("direction", "remove", 1) == "remove"
    with pytest.raises(ValueError, match="^direction: expected 'add' or 'remove'"):
        check_setting("direction", "both", 5)
    with pytest.raises(ValueError, match="^embedding: t-SNE needs at least 4 concepts"):
        check_setting("embedding", "tsne", 3)
    with pytest.raises(ValueError, match="^embedding: expected 'pca' or 'tsne'"):
        check_setting("embedding", "umap", 9)


def test_view_model_rows_bars_labels_and_legend():
    vm = model(hand_scores([2.0, -1.0, 0.0, 0.5]), examples={"c1"}, selected="c3", generation=7)
    json.dumps(vm)
    assert vm["generation"] == 7 and vm["explained_text"] == "two picked"
    assert vm["n_explained"] == 2 and vm["has_scores"] and vm["message"] is None
    assert [b["name"] for b in vm["positive"]] == ["c0", "c3"]
    assert [b["name"] for b in vm["negative"]] == ["c1"]
    assert vm["positive"][0] == {
        "index": 0,
        "name": "c0",
        "score": 1.0,
        "score_text": "+1",
        "val_accuracy_text": "90%",
    }
    rows = vm["concepts"]
    assert [r["rank"] for r in rows] == [0, 3, 2, 1]
    assert [r["labelled"] for r in rows] == [True, True, False, False]  # one on each side
    assert [r["has_examples"] for r in rows] == [False, True, False, False]
    assert rows[1]["score_text"] == "-0.5" and rows[1]["mean_change_text"] == "-0.5"
    assert (rows[0]["x"], rows[0]["y"]) == (0.0, 0.375)
    assert vm["selected"] == 3
    assert vm["legend"] == {
        "positive": "Adding it raises p(true label)",
        "negative": "Adding it lowers p(true label)",
    }
    assert vm["empty_reasons"] == {"positive": None, "negative": None}
    removed = model(hand_scores([1.0, 0.5, 0.2, 0.1]), direction="remove", target="dog", n_bars=2)
    assert removed["legend"]["positive"] == "Removing it raises p(dog)"
    assert len(removed["positive"]) == 2 and removed["negative"] == []
    assert removed["empty_reasons"]["negative"].startswith("no concept lowers")


def test_view_model_without_scores_says_why():
    vm = model(None, explained=ExplainedSet(np.zeros(0, dtype=np.int64)))
    assert not vm["has_scores"] and vm["positive"] == vm["negative"] == []
    assert all(r["score"] is None and r["score_text"] == "—" for r in vm["concepts"])
    assert vm["message"] == (
        "cat has no mistakes in the test split: select images in the grid to explain them."
    )
    failed = model(None, error="RuntimeError: oom")
    assert failed["message"] == "Could not compute the scores: RuntimeError: oom"


@pytest.fixture(scope="module")
def state_world():
    from test_concept_map_view import COLOURS, SIZE, Top, bottom, make_world

    from failwidgets.features.split import SplitModel

    evalset, _ = make_world()
    split = SplitModel.from_callables(bottom, Top(), layer="pool", input_size=(3, SIZE, SIZE))
    concepts = ConceptSet.from_evalset(
        evalset, COLOURS, indices=evalset.split_indices("train"), max_examples=40
    )
    bank = learn_concept_bank(split, concepts, min_accuracy=0.0)
    return evalset, ConceptExplainer(split, bank, delta=0.3)


def test_state_explained_set_cache_and_concepts(state_world):
    evalset, explainer = state_world
    state = ConceptMapState(explainer, evalset, "test", cache_size=2)
    test = evalset.split_indices("test")
    np.testing.assert_array_equal(state.rows, test)
    wrong = np.bincount(evalset.labels[test][~evalset.correct[test]], minlength=3)
    assert state.most_mistaken_class() == int(np.argmax(wrong))
    state.explain_class("class_1")
    assert (
        state.explained.source == "class" and (evalset.labels[state.explained.indices] == 1).all()
    )
    rows, title = state.class_images("class_1")
    assert title.startswith(f"class_1: {len(rows)} test images, the {wrong[1]} mistakes first")
    calls = []
    original = explainer.explain_evalset

    def counted(*args, **options):
        calls.append(1)
        return original(*args, **options)

    explainer.explain_evalset = counted
    try:
        request = state.request("class_1", target=None, direction="add", delta=0.3)
        assert state.generation == 1 and state.cached(request) is None
        explanation = state.compute(request)
        assert state.cached(request) is explanation and len(calls) == 1
        assert explanation.title == f"{len(state.explained)} test mistakes of class_1"
        np.testing.assert_array_equal(explanation.reference_indices, test)
        for delta in (0.5, 0.7):  # two more: the first falls out of a cache of 2
            state.compute(state.request("class_1", target=None, direction="add", delta=delta))
        assert state.cached(request) is None and len(calls) == 3
    finally:
        explainer.explain_evalset = original
    state.finish(explanation, None)
    settings = dict(target=None, direction="add", delta=0.3, embedding="pca", n_labels=2)
    assert state.view_model("class_1", **settings, n_bars=3)["has_scores"]
    state.explain_selection([], "class_2")  # nothing selected: the class's mistakes
    assert state.explained.source == "class"
    state.explain_selection([4, 7], "class_2")
    assert state.explained.source == "selection"
    with pytest.raises(TypeError, match="^title"):
        state.explain_indices([1], title=5)
    with pytest.raises(ValueError, match="^indices: no samples to explain"):
        state.explain_indices([])
    mode, shown = state.select_concept("green", "class_1")
    np.testing.assert_array_equal(shown, explainer.bank.positive_ids["green"])
    assert mode.size == len(shown) and state.concept == "green" and state.note is None
    with pytest.raises(ValueError, match="unknown concept 'zebra'"):
        state.select_concept("zebra", "class_1")
    assert state.concept == "green"
    assert state.request("class_1", target=None, direction="add", delta=0.3) is not None
    state.explained = ExplainedSet(np.zeros(0, dtype=np.int64))
    assert state.request("class_1", target=None, direction="add", delta=0.3) is None


def test_state_cache_is_safe_across_threads(state_world):
    evalset, explainer = state_world
    state = ConceptMapState(explainer, evalset, None, cache_size=4)
    requests = []
    for k in range(6):
        state.explain_indices(np.arange(k + 1))
        requests.append(state.request("class_0", target=None, direction="add", delta=0.3))
    threads = [threading.Thread(target=state.compute, args=(r,)) for r in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(state.cached(r) is not None for r in requests) == 4
    assert state.split is None and len(state.rows) == evalset.n
