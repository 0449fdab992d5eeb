"""PRIME search: exactness against brute force, planted conjunctions, filters, bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from failwidgets.features.tags import TagMatrix
from failwidgets.methods.prime import (
    DEFAULT_NECESSITY,
    TOLERANCE,
    Prime,
    PrimeResult,
    caption,
    necessity_thresholds,
    prime_result,
    search,
)
from failwidgets.mode_source import FailureModeSource

# ---------------------------------------------------------------------- brute force


def brute_force_table(matrix, labels, correct, n_classes, max_size, min_support, min_count):
    """{(class, tag tuple): (n, n_correct)} for every set with support >= min_support."""
    table = {}
    for c in range(n_classes):
        rows = np.flatnonzero(labels == c)
        if rows.size == 0:
            continue
        sub, ok = matrix[rows], correct[rows]
        table[(c, ())] = (len(rows), int(ok.sum()))
        kept = [t for t in range(matrix.shape[1]) if sub[:, t].sum() >= min_count]
        for k in range(1, max_size + 1):
            for tags in itertools.combinations(kept, k):
                member = sub[:, list(tags)].all(axis=1)
                if member.sum() >= min_support:
                    table[(c, tags)] = (int(member.sum()), int(ok[member].sum()))
    return table


def brute_force_modes(table, a, s, b, max_size):
    """The paper's definition, literally, with the documented tolerance."""
    modes = set()
    for (c, tags), (n, n_ok) in table.items():
        if not tags or n < s or len(tags) > max_size:
            continue
        acc = n_ok / n
        n_c, ok_c = table[(c, ())]
        if not (ok_c / n_c - acc >= a - TOLERANCE):
            continue
        without = [table[(c, tags[:j] + tags[j + 1 :])] for j in range(len(tags))]
        min_without = min(k / m for m, k in without)
        if min_without - acc >= b[len(tags)] - TOLERANCE:
            modes.add((c, tags))
    return modes


def engine_table(result: PrimeResult) -> dict:
    frame = result.candidates()
    index = {name: i for i, name in enumerate(result.tag_names)}
    return {
        (result.class_index(row["class"]), tuple(index[t] for t in row["tags"])): (
            int(row["n_images"]),
            int(row["n_images"] - row["n_errors"]),
        )
        for _, row in frame.iterrows()
    }


def mode_keys(result: PrimeResult, frame: pd.DataFrame) -> set:
    index = {name: i for i, name in enumerate(result.tag_names)}
    return {
        (result.class_index(c), tuple(index[t] for t in tags))
        for c, tags in zip(frame["class"], frame["tags"])
    }


@st.composite
def problems(draw):
    n = draw(st.integers(1, 48))
    n_tags = draw(st.integers(1, 7))
    n_classes = draw(st.integers(1, 3))
    matrix = draw(hnp.arrays(bool, (n, n_tags)))
    labels = draw(hnp.arrays(np.int64, n, elements=st.integers(0, n_classes - 1)))
    correct = draw(hnp.arrays(bool, n))
    max_size = draw(st.integers(1, 6))
    min_support = draw(st.integers(1, 6))
    min_count = draw(st.integers(1, 8))
    return matrix, labels, correct, n_classes, max_size, min_support, min_count


thresholds = st.fixed_dictionaries(
    {size: st.floats(0, 1) for size in range(2, 7)},
    optional={1: st.floats(0, 1)},
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    problem=problems(),
    a=st.floats(0, 1),
    extra_support=st.integers(0, 4),
    b=thresholds,
    size_cut=st.integers(0, 5),
)
def test_search_equals_brute_force(problem, a, extra_support, b, size_cut):
    matrix, labels, correct, n_classes, max_size, min_support, min_count = problem
    names = [f"tag{i}" for i in range(matrix.shape[1])]
    result = search(
        matrix,
        labels,
        correct,
        tag_names=names,
        class_names=[f"c{i}" for i in range(n_classes)],
        max_size=max_size,
        min_support=min_support,
        min_count=min_count,
    )
    table = brute_force_table(matrix, labels, correct, n_classes, max_size, min_support, min_count)
    assert engine_table(result) == table

    # accuracies of the one-tag-removed subsets, aligned with the tags tuple
    frame = result.candidates()
    index = {name: i for i, name in enumerate(names)}
    for _, row in frame.iterrows():
        c = result.class_index(row["class"])
        tags = tuple(index[t] for t in row["tags"])
        expected = [table[(c, tags[:j] + tags[j + 1 :])] for j in range(len(tags))]
        assert row["accuracy_without"] == pytest.approx([k / m for m, k in expected])

    s = min_support + extra_support
    cut = max(1, max_size - size_cut)
    others = {size: value for size, value in b.items() if size not in (2, 3, 4)}
    narrowed = result.with_settings(b=others, max_size=cut)  # b_1, b_5, b_6 are settings
    got = mode_keys(result, narrowed.table(a=a, s=s, b2=b[2], b3=b[3], b4=b[4]))
    b_all = {**DEFAULT_NECESSITY, **b}
    assert got == brute_force_modes(table, a, s, b_all, cut)


# ---------------------------------------------------------------------- planted conjunction


def planted_problem(n_per_cell: int = 60, seed: int = 0):
    """Class 0: tags A, B, C (full factorial, p = 0.3 each) and two noise tags.

    Images with all of A, B, C are 10 % correct, every other image 95 % correct (exact
    counts), so only the triple is a failure mode: each pair's accuracy stays within 0.3
    of the class accuracy.
    """
    rng = np.random.default_rng(seed)
    cells = []
    for pattern in itertools.product([0, 1], repeat=3):
        weight = np.prod([0.3 if p else 0.7 for p in pattern])
        count = int(round(n_per_cell * 8 * weight))
        block = np.zeros((count, 5), dtype=bool)
        block[:, :3] = pattern
        if all(pattern):
            ok = np.arange(count) % 10 == 0
        else:
            ok = np.arange(count) % 20 != 0
        cells.append((block, ok))
    matrix = np.concatenate([b for b, _ in cells])
    correct = np.concatenate([o for _, o in cells])
    matrix[:, 3:] = rng.random((len(matrix), 2)) < 0.4
    labels = np.zeros(len(matrix), dtype=np.int64)
    names = ["A", "B", "C", "noise1", "noise2"]
    return matrix, labels, correct, names


def test_planted_conjunction_is_the_only_mode_and_its_subsets_are_not_reported():
    matrix, labels, correct, names = planted_problem()
    result = search(matrix, labels, correct, tag_names=names, min_support=10, max_size=4)
    modes = result.table(a=0.3, s=10)
    assert list(modes["tags"]) == [("A", "B", "C")]
    row = modes.iloc[0]
    members = result.members(0, ("A", "B", "C"))
    assert row["n_images"] == len(members) == matrix[:, :3].all(1).sum()
    assert row["accuracy"] == pytest.approx(correct[members].mean())
    assert row["drop"] == pytest.approx(correct.mean() - correct[members].mean())
    for j, tag in enumerate(row["tags"]):
        rest = [t for t in row["tags"] if t != tag]
        expected = correct[result.members(0, rest)].mean()
        assert row["accuracy_without"][j] == pytest.approx(expected)
        assert expected >= row["accuracy"] + 0.05
    # the subsets are candidates but not failure modes
    for k in (1, 2):
        for subset in itertools.combinations(("A", "B", "C"), k):
            assert result.find(0, subset) is not None
    # a stricter necessity threshold removes it, without a new search
    assert result.table(a=0.3, s=10, b3=0.9).empty
    assert result.table(a=0.95, s=10).empty


def test_members_use_global_indices_and_errors_first():
    matrix, labels, correct, names = planted_problem()
    n = len(labels)
    shuffle = np.random.default_rng(1).permutation(n)
    matrix, labels, correct = matrix[shuffle], labels[shuffle], correct[shuffle]
    # add a second class, and search only the even images
    labels = np.where(np.arange(n) % 7 == 0, 1, labels)
    searched = np.arange(0, n, 2)
    result = search(
        matrix,
        labels,
        correct,
        tag_names=names,
        indices=searched,
        min_support=5,
        class_names=["x", "y"],
    )
    got = result.members("x", ["B", "A"])
    expected = searched[(labels[searched] == 0) & matrix[searched][:, :2].all(1)]
    np.testing.assert_array_equal(got, expected)
    first = result.members("x", ["A", "B"], errors_first=True)
    assert set(first) == set(expected)
    n_err = int((~correct[first]).sum())
    assert not correct[first[:n_err]].any() and correct[first[n_err:]].all()
    row = result.find("x", ["A", "B"])
    np.testing.assert_array_equal(result.row_members(row), expected)
    first_row = result.candidates("x").iloc[0]  # the empty set: the whole class
    assert first_row["size"] == 0 and first_row["tags"] == ()
    root = int(first_row["row"])
    np.testing.assert_array_equal(np.sort(result.row_members(root)), result.class_images("x"))


def test_threshold_boundary_counts_as_met():
    # A_c = 0.7, A_S = 0.4: 0.7 - 0.4 is 0.29999999999999993 in floating point
    correct = np.array([1] * 7 + [0] * 3, dtype=bool)
    tag = np.zeros((10, 1), dtype=bool)
    tag[[0, 1, 7, 8, 9], 0] = True  # 2 of 5 correct
    result = search(tag, np.zeros(10, int), correct, tag_names=["x"], min_support=1)
    assert list(result.table(a=0.3)["tags"]) == [("x",)]
    assert result.table(a=0.3 + 1e-6).empty


def test_single_tags_need_no_necessity_gain_beyond_the_drop():
    correct = np.array([1] * 8 + [0] * 4, dtype=bool)
    tag = np.zeros((12, 1), dtype=bool)
    tag[8:, 0] = True  # all errors
    result = search(tag, np.zeros(12, int), correct, tag_names=["dark"], min_support=2)
    modes = result.table(a=0.5)
    assert list(modes["tags"]) == [("dark",)]
    assert modes.iloc[0]["accuracy_without"] == pytest.approx((8 / 12,))
    assert result.with_settings(b={1: 0.7}).table(a=0.5).empty  # an explicit b_1 applies


def test_refilter_is_consistent_with_a_new_search():
    rng = np.random.default_rng(3)
    matrix = rng.random((400, 8)) < 0.35
    labels = rng.integers(0, 2, 400)
    correct = rng.random(400) < 0.75
    names = [f"t{i}" for i in range(8)]
    wide = search(matrix, labels, correct, tag_names=names, min_support=5, max_size=4)
    narrow = search(matrix, labels, correct, tag_names=names, min_support=12, max_size=3)
    cut = wide.with_settings(max_size=3)
    assert (cut.max_size, cut.searched_max_size, wide.max_size) == (3, 4, 4)
    for a in (0.0, 0.1, 0.2):
        expected = narrow.table(a=a)
        got = cut.table(a=a, s=12)
        assert mode_keys(wide, got) == mode_keys(narrow, expected)
    mask = cut.failure_mode_mask(a=0.1, s=12)
    assert mask.sum() == len(cut.table(a=0.1, s=12)) == len(cut.failure_modes(a=0.1, s=12))


def test_threads_give_the_same_table():
    rng = np.random.default_rng(4)
    matrix = rng.random((600, 10)) < 0.4
    labels = rng.integers(0, 4, 600)
    correct = rng.random(600) < 0.8
    names = [f"t{i}" for i in range(10)]
    one = search(matrix, labels, correct, tag_names=names, min_support=4, n_jobs=1)
    two = search(matrix, labels, correct, tag_names=names, min_support=4, n_jobs=2)
    pd.testing.assert_frame_equal(one.candidates(), two.candidates())


def test_lattice_of_the_planted_class():
    matrix, labels, correct, names = planted_problem()
    result = search(matrix, labels, correct, tag_names=names, min_support=10)
    lattice = result.lattice(0, a=0.3, s=10)
    expected = {s for k in (0, 1, 2, 3) for s in itertools.combinations(("A", "B", "C"), k)}
    assert set(lattice.nodes["tags"]) == expected and len(lattice.nodes) == 8
    assert lattice.nodes["is_failure_mode"].sum() == 1
    assert len(lattice.edges) == 3 + 6 + 3
    top = result.find(0, ("A", "B", "C"))
    necessity = lattice.edges[lattice.edges["superset_row"] == top]
    assert len(necessity) == 3
    assert necessity["necessary"].all() and necessity["from_failure_mode"].all()
    assert set(necessity["removed_tag"]) == {"A", "B", "C"}
    rows = set(lattice.nodes["row"])
    assert set(lattice.edges["subset_row"]) <= rows and set(lattice.edges["superset_row"]) <= rows
    everything = result.lattice(0, s=10, include="all")
    assert len(everything.nodes) == len(result.candidates(0, s=10))
    with pytest.raises(ValueError, match="include"):
        result.lattice(0, include="some")


def test_drawing_keeps_modes_then_context_within_the_node_budget():
    matrix, labels, correct, names = planted_problem()
    result = search(matrix, labels, correct, tag_names=names, min_support=10)
    closed = {s for k in (0, 1, 2, 3) for s in itertools.combinations(("A", "B", "C"), k)}
    bare = result.drawing(0, a=0.3, s=10, max_context=0)
    assert set(bare.lattice.nodes["tags"]) == closed  # the mode and all its subsets
    assert (bare.n_modes, bare.n_modes_shown, bare.truncated, bare.reason) == (1, 1, False, "")
    assert bare.class_name == "0" and bare.n_class == len(labels)
    assert bare.class_accuracy == pytest.approx(correct.mean())
    assert len(bare.lattice.edges) == 3 + 6 + 3
    # context: the strongest other drops (with their subsets), while they fit
    wide = result.drawing(0, a=0.3, s=10, max_context=3)
    others = result.candidates(0, s=10)
    others = others[(others["size"] >= 1) & (others["tags"] != ("A", "B", "C"))]
    strongest = others.sort_values("drop", ascending=False).iloc[0]["tags"]
    assert strongest in set(wide.lattice.nodes["tags"]) and len(wide.lattice.nodes) > 8
    rows = set(wide.lattice.nodes["row"])
    sizes = dict(zip(wide.lattice.nodes["row"], wide.lattice.nodes["size"]))
    for row, size in sizes.items():  # a closed diagram: every node's subsets are nodes
        edges = wide.lattice.edges[wide.lattice.edges["superset_row"] == row]
        assert len(edges) == size and set(edges["subset_row"]) <= rows
    assert len(result.drawing(0, a=0.3, s=10, max_nodes=9, max_context=5).lattice.nodes) <= 9
    # at a = 0 the pairs and single tags drop too: a budget of 4 cannot hold the triple
    tight = result.drawing(0, a=0.0, s=10, max_nodes=4, max_context=0)
    assert len(tight.lattice.nodes) <= 4 and tight.truncated
    assert tight.n_modes > tight.n_modes_shown >= 1
    assert ("A", "B", "C") not in set(tight.lattice.nodes["tags"])
    roomy = result.drawing(0, a=0.0, s=10, max_nodes=8, max_context=0)
    assert ("A", "B", "C") in set(roomy.lattice.nodes["tags"])  # strongest drop first
    # no mode: the reason comes along; a class without images draws nothing
    assert "below a = 0.95" in result.drawing(0, a=0.95, s=10).reason
    with pytest.raises(ValueError, match="max_nodes"):
        result.drawing(0, max_nodes=0)
    with pytest.raises(TypeError, match="max_context"):
        result.drawing(0, max_context=1.5)
    with pytest.raises(ValueError, match="s: 5 is below"):
        result.drawing(0, s=5)


def test_drawing_of_a_class_without_searched_images_is_empty():
    matrix = np.ones((20, 1), bool)
    result = search(matrix, np.zeros(20, int), np.ones(20, bool), tag_names=["t"],
                    class_names=["here", "absent"], min_support=2)  # fmt: skip
    drawing = result.drawing("absent")
    assert drawing.lattice.nodes.empty and drawing.lattice.edges.empty
    assert drawing.n_class == 0 and np.isnan(drawing.class_accuracy)
    assert drawing.reason == "no images of 'absent' were searched"


def calm_and_planted() -> PrimeResult:
    """Class "calm" (always right) and class "planted" (the triple A + B + C fails)."""
    matrix, labels, correct, names = planted_problem()
    calm = np.random.default_rng(2).random((200, matrix.shape[1])) < 0.5  # always right
    matrix = np.concatenate([matrix, calm])
    labels = np.r_[np.ones(len(labels), int), np.zeros(len(calm), int)]
    correct = np.r_[correct, np.ones(len(calm), bool)]
    names_of_classes = ["calm", "planted"]
    return search(
        matrix, labels, correct, tag_names=names, min_support=10, class_names=names_of_classes
    )


def test_strongest_class_node_modes_and_a_new_search():
    result = calm_and_planted()
    assert result.strongest_class(a=0.3) == "planted"
    assert result.strongest_class(a=0.99) == "calm"  # no mode: the first class
    top = result.find("planted", ("A", "B", "C"))
    mode = result.row_failure_mode(top)
    assert (mode.method, mode.class_name, mode.description) == ("prime", "planted", "A + B + C")
    np.testing.assert_array_equal(mode.members, result.members("planted", ("A", "B", "C")))
    (same,) = result.failure_modes("planted", a=0.3)
    assert (same.description, same.accuracy, same.drop) == (
        mode.description,
        mode.accuracy,
        mode.drop,
    )
    np.testing.assert_array_equal(same.members, mode.members)
    assert same.rule.tags == mode.rule.tags == ("A", "B", "C")
    root = int(result.arrays("planted")["row"][0])
    whole = result.row_failure_mode(root)  # the empty set: the whole class
    assert whole.description == "(all images)" and whole.drop == 0.0
    np.testing.assert_array_equal(whole.members, result.class_images("planted"))
    with pytest.raises(ValueError, match="row"):
        result.row_failure_mode(result.n_candidates)
    larger = result.search_again(5)
    assert larger.max_size == 5 and larger.min_support == result.min_support
    pd.testing.assert_frame_equal(
        larger.table(a=0.3).drop(columns="row"),
        result.table(a=0.3).drop(columns="row"),
    )
    with pytest.raises(ValueError, match="max_size"):
        result.search_again(7)


# ---------------------------------------------------------------------- the result protocol


def describe(modes) -> list:
    return [(m.class_name, m.description, m.members.tolist(), m.drop) for m in modes]


def test_result_protocol_classes_and_thresholds():
    result = calm_and_planted()
    assert isinstance(result, FailureModeSource) and result.method == "prime"
    assert result.class_names == ("calm", "planted")
    assert result.threshold_values() == {"a": 0.3, "s": 10, "b2": 0.1, "b3": 0.05, "b4": 0.025}
    everything = result.failure_modes()
    (mode,) = everything
    assert (mode.class_name, mode.description) == ("planted", "A + B + C")
    assert mode.rule.tags == ("A", "B", "C")
    np.testing.assert_array_equal(mode.members, result.members("planted", ("A", "B", "C")))
    for classes in ("all", "planted", 1, ["planted"], ["planted", "calm"], [1, "calm", 1]):
        assert describe(result.failure_modes(classes)) == describe(everything), classes
    calm = result.failure_modes("calm")
    assert calm == [] and "of 'calm'" in calm.reason and "below a = 0.3" in calm.reason
    assert result.failure_modes(0).reason == calm.reason == result.table("calm").reason
    # table: the same modes as a DataFrame, same arguments
    table = result.table(["planted"], a=0.3)
    assert list(table["tags"]) == [mode.rule.tags] and table["drop"].iloc[0] == mode.drop
    # a threshold given to the call is for that answer only
    assert result.failure_modes(a=0.99) == [] and result.table(b3=0.9).empty
    assert describe(result.failure_modes()) == describe(everything)
    assert result.threshold_values()["a"] == 0.3 and result.b[3] == 0.05
    # the planted triple needs b3 <= its smallest gain; l and b_5, b_6 are settings
    gain = result.table()["min_gain"].iloc[0]
    assert len(result.failure_modes(b3=gain - 0.01)) == 1
    assert result.failure_modes(b3=gain + 0.01) == []
    assert result.with_settings(max_size=2).failure_modes() == []
    assert result.max_size == 4 and describe(result.failure_modes()) == describe(everything)
    strict = result.with_settings(b={3: 0.99, 5: 0.5})
    assert strict.threshold_values()["b3"] == 0.99 and strict.b[5] == 0.5
    assert strict.failure_modes() == [] and len(strict.failure_modes(b3=0.05)) == 1


def test_result_protocol_refuses_bad_classes_and_thresholds():
    result = calm_and_planted()
    with pytest.raises(TypeError, match=r"^delta: not a threshold of prime; known: \['a', 'b2'"):
        result.failure_modes(delta=0.1)
    with pytest.raises(TypeError, match="^l: not a threshold of prime"):
        result.table(l=2)
    with pytest.raises(ValueError, match=r"^a: must lie in \[0, 1\], got 1.5"):
        result.failure_modes(a=1.5)
    with pytest.raises(TypeError, match="^s: expected an integer, got float"):
        result.failure_modes(s=10.0)
    with pytest.raises(ValueError, match="^s: 5 is below the searched minimum support 10"):
        result.failure_modes(s=5)
    with pytest.raises(TypeError, match="^b4: expected a number"):
        result.failure_modes(b4="0.1")
    with pytest.raises(ValueError, match="^classes: unknown class 'dog'"):
        result.failure_modes("dog")
    with pytest.raises(ValueError, match="^classes: class index 2 outside"):
        result.table(2)
    with pytest.raises(ValueError, match="^classes: unknown class 'dog'"):
        result.failure_modes(["planted", "dog"])
    with pytest.raises(TypeError, match="^classes: expected 'all', a class name or index"):
        result.failure_modes(1.5)
    assert result.failure_modes([]).reason == "no class was given"


def test_tag_sets_of_a_class_as_failure_modes_and_back():
    result = calm_and_planted()
    mode = result.tag_set_mode("planted", ("C", "A", "B"))  # any order
    assert mode.description == "A + B + C" and result.mode_row(mode) == result.find(1, tuple("ABC"))
    assert result.row_tags(result.mode_row(mode)) == ("A", "B", "C")
    whole = result.tag_set_mode(1, ())
    assert whole.description == "(all images)" and result.mode_row(whole) == result.root_row(1)
    pair = result.tag_set_mode("planted", ["A", "B"])  # a candidate, not a failure mode
    assert pair.drop < mode.drop and result.mode_row(pair) == result.find(1, ("A", "B"))
    # a mode of another search, method or membership is not a row of this one
    from dataclasses import replace

    assert result.mode_row(replace(mode, members=mode.members[:-1])) is None
    assert result.mode_row(replace(mode, method="barlow")) is None
    assert result.mode_row(replace(mode, class_name="calm")) is None
    assert result.mode_row("A + B + C") is None
    with pytest.raises(ValueError, match="^tags: unknown tag 'zz'"):
        result.tag_set_mode("planted", ("A", "zz"))
    five = ("A", "B", "C", "noise1", "noise2")
    with pytest.raises(
        ValueError, match=r"^tags: \('A', .*\) is not a candidate of class 'planted'"
    ):
        result.tag_set_mode("planted", five)  # more than l = 4 tags
    with pytest.raises(TypeError, match="^tags: expected a tuple of tag names, got int"):
        result.tag_set_mode("planted", 3)
    with pytest.raises(ValueError, match="^class_name: unknown class 'dog'"):
        result.tag_set_mode("dog", (), name="class_name")
    ones = np.ones(20, bool)
    empty = search(
        ones[:, None],
        np.zeros(20, int),
        ones,
        tag_names=["t"],
        class_names=["here", "absent"],
        min_support=2,
    )
    assert empty.root_row("absent") is None
    with pytest.raises(ValueError, match="^class_: no images of 'absent' were searched"):
        empty.tag_set_mode("absent", ())
    with pytest.raises(ValueError, match="^s: 1 is below the searched minimum support 2"):
        empty.check_support(1)


def test_prime_result_accepts_a_result_or_a_fitted_estimator_of_the_same_evalset():
    from failwidgets.data import EvalSet

    matrix, labels, correct, names = planted_problem()
    predictions = np.where(correct, labels, 1 - labels)
    evalset = EvalSet.from_arrays(np.zeros((len(labels), 2, 2, 3), np.uint8), labels,
                                  predictions, ["square", "circle"])  # fmt: skip
    prime = Prime(min_support=10).fit(evalset, (matrix, names))
    assert prime_result(prime, evalset) is prime.result_
    assert prime_result(prime.result_) is prime.result_
    with pytest.raises(ValueError, match="result: the Prime estimator is not fitted"):
        prime_result(Prime())
    with pytest.raises(TypeError, match="lattice: expected a PrimeResult"):
        prime_result("search result", name="lattice")
    flipped = EvalSet.from_arrays(np.zeros((len(labels), 2, 2, 3), np.uint8), labels,
                                  1 - labels, ["square", "circle"])  # fmt: skip
    with pytest.raises(ValueError, match="not searched on this EvalSet"):
        prime_result(prime, flipped)


def test_generalization_on_held_out_images():
    rng = np.random.default_rng(5)
    n_classes, n = 6, 3000
    labels = np.repeat(np.arange(n_classes), n // n_classes)
    matrix = rng.random((n, 4)) < 0.5
    correct = rng.random(n) < 0.95
    for c in range(n_classes):  # class c fails on A & B with a class-specific severity
        member = (labels == c) & matrix[:, 0] & matrix[:, 1]
        correct[member] = rng.random(member.sum()) < 0.05 + 0.1 * c
    names = ["A", "B", "C", "D"]
    train = np.arange(0, n, 2)
    held = np.arange(1, n, 2)
    result = search(matrix, labels, correct, tag_names=names, indices=train, min_support=20)
    modes = result.table(a=0.2)
    modes = modes[modes["tags"] == ("A", "B")]
    assert len(modes) == n_classes
    report = result.generalization(held, modes=modes)
    assert report.n_modes == n_classes
    assert report.pearson > 0.8 and report.spearman > 0.8
    row = report.table.iloc[0]
    c = result.class_index(row["class"])
    member = held[(labels[held] == c) & matrix[held, 0] & matrix[held, 1]]
    in_class = held[labels[held] == c]
    assert row["heldout_n_images"] == len(member)
    assert row["heldout_drop"] == pytest.approx(correct[in_class].mean() - correct[member].mean())
    # the same through explicit held-out arrays
    again = result.generalization(
        tags=TagMatrix(matrix[held], tuple(names)),
        labels=labels[held],
        correct=correct[held],
        modes=modes,
    )
    pd.testing.assert_frame_equal(again.table, report.table)
    with pytest.raises(ValueError, match="unseen"):
        result.generalization(train[:10])
    few = result.generalization(held, modes=modes.head(2))
    assert np.isnan(few.pearson)


class WordEncoder:
    """Fake CLIP: a text is the normalised sum of its words' random vectors; an image's
    embedding is given per image (pixel [0, 0] holds its index in base 256)."""

    def __init__(self, image_embeddings, dim=32, seed=0):
        self.table = np.asarray(image_embeddings, dtype=np.float32)
        self.rng = np.random.default_rng(seed)
        self.words: dict[str, np.ndarray] = {}
        self.dim = dim

    def word(self, w):
        if w not in self.words:
            self.words[w] = self.rng.standard_normal(self.dim).astype(np.float32)
        return self.words[w]

    def encode_texts(self, texts):
        out = np.stack([sum(self.word(w) for w in t.split()) for t in texts])
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def encode_images(self, images, indices=None):
        if indices is not None:
            return self.table[np.asarray(indices)]
        idx = images[:, 0, 0, 0].astype(int) + 256 * images[:, 0, 0, 1].astype(int)
        return self.table[idx]


def test_description_quality_with_a_fake_encoder():
    matrix, labels, correct, names = planted_problem()
    result = search(matrix, labels, correct, tag_names=names, min_support=10, class_names=["shape"])
    probe = WordEncoder(np.zeros((1, 32)))
    # image embedding: words of its class and its tags, plus noise
    emb = np.stack(
        [
            sum(probe.word(w) for w in ["shape"] + [t for t, on in zip(names, row) if on])
            for row in matrix
        ]
    )
    emb += np.random.default_rng(0).normal(0, 0.5, emb.shape)
    encoder = WordEncoder(emb)
    encoder.words = probe.words
    modes = result.table(a=0.3)
    quality = result.description_quality(encoder, image_embeddings=emb, modes=modes)
    assert list(quality["caption"]) == ["a photo of shape A B C"]
    row = quality.iloc[0]
    members = result.members(0, ("A", "B", "C"))
    text = encoder.encode_texts(["a photo of shape A B C"])[0]
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    sims = unit[members] @ text
    assert row["similarity_mean"] == pytest.approx(sims.mean(), rel=1e-5)
    assert row["similarity_std"] == pytest.approx(sims.std(), rel=1e-4)
    from sklearn.metrics import roc_auc_score

    others = np.setdiff1d(np.arange(len(labels)), members)
    scores = np.r_[sims, unit[others] @ text]
    truth = np.r_[np.ones(len(members)), np.zeros(len(others))]
    assert row["auroc"] == pytest.approx(roc_auc_score(truth, scores))
    assert row["auroc"] > 0.75  # the caption's words are in the members' embeddings
    # the same through images and the encoder
    images = np.zeros((len(labels), 2, 2, 3), dtype=np.uint8)
    images[:, 0, 0, 0] = np.arange(len(labels)) % 256
    images[:, 0, 0, 1] = np.arange(len(labels)) // 256
    via_images = result.description_quality(encoder, images, modes=modes)
    pd.testing.assert_frame_equal(via_images, quality, check_exact=False, rtol=1e-5)
    sampled = result.description_quality(
        encoder, image_embeddings=emb, modes=modes, max_nonmembers=20, random_state=1
    )
    assert 0.5 < sampled.iloc[0]["auroc"] <= 1.0
    empty = result.description_quality(encoder, image_embeddings=emb, modes=modes.iloc[:0])
    assert empty.empty and "auroc" in empty.columns


def test_caption_uses_metadata_values():
    assert caption("golden_retriever", ("colour=red", "on_grass")) == (
        "a photo of golden retriever red on grass"
    )
    # a boolean column's tags read as its name or its absence, never "True" / "False"
    assert caption("arrow", ("has_part=False", "occluder=True")) == (
        "a photo of arrow no has part occluder"
    )


def test_estimator_on_an_evalset_with_metadata():
    from failwidgets.data import EvalSet

    matrix, labels, correct, _ = planted_problem()
    n = len(labels)
    labels = labels.copy()
    labels[::5] = 1
    predictions = np.where(correct, labels, 1 - labels)
    metadata = pd.DataFrame(
        {
            "colour": np.where(matrix[:, 0], "red", "blue"),
            "striped": matrix[:, 1],
            "background": pd.Categorical(np.where(matrix[:, 2], "sand", "grass")),
            "size": np.linspace(0, 1, n),
        }
    )
    split = np.where(np.arange(n) % 2 == 0, "val", "test")
    evalset = EvalSet.from_arrays(
        images=np.zeros((n, 2, 2, 3), np.uint8),
        labels=labels,
        predictions=predictions,
        class_names=["square", "circle"],
        metadata=metadata,
        split=split,
    )
    prime = Prime(min_support=8, a=0.3).fit(evalset)
    square = prime.table_[prime.table_["class"] == "square"]
    # tags appear in the order of the tag matrix's columns; booleans are named column=value
    assert list(square["tags"]) == [("colour=red", "striped=True", "background=sand")]
    members = prime.result_.members("square", ("colour=red", "striped=True", "background=sand"))
    assert len(members) == int(square["n_images"].iloc[0])
    with pytest.raises(ValueError, match=r"tags: unknown tag 'striped'; valid tags \(closest"):
        prime.result_.members("square", ("colour=red", "striped"))
    assert "size" not in " ".join(prime.result_.tag_names)
    val = Prime(min_support=4, a=0.3).fit(evalset, indices="val")
    assert set(val.result_.indices) == set(np.flatnonzero(split == "val"))
    modes = prime.failure_modes_
    assert [m.description for m in modes] == [" + ".join(t) for t in prime.table_["tags"]]
    assert modes[0].method == "prime"
    np.testing.assert_array_equal(
        modes[0].members, prime.result_.row_members(int(prime.table_.iloc[0]["row"]))
    )
    prime.fit(evalset, indices="val")  # a new fit: new modes, not the first fit's
    assert set(prime.failure_modes_[0].members) <= set(np.flatnonzero(split == "val"))
    assert [m.description for m in prime.failure_modes_] == [
        " + ".join(t) for t in prime.table_["tags"]
    ]


# ---------------------------------------------------------------------- bad input


@pytest.fixture(scope="module")
def small_result():
    matrix, labels, correct, names = planted_problem()
    return search(matrix, labels, correct, tag_names=names, min_support=10)


def test_bad_search_arguments():
    m = np.ones((5, 2), dtype=bool)
    y = np.zeros(5, int)
    ok = np.ones(5, bool)
    names = ["a", "b"]
    with pytest.raises(ValueError, match="no tags"):
        search(np.zeros((5, 0), bool), y, ok, tag_names=[])
    with pytest.raises(ValueError, match="no rows"):
        search(np.zeros((0, 2), bool), y[:0], ok[:0], tag_names=names)
    for bad in (0, 7):
        with pytest.raises(ValueError, match="max_size"):
            search(m, y, ok, tag_names=names, max_size=bad)
    with pytest.raises(TypeError, match="max_size"):
        search(m, y, ok, tag_names=names, max_size=2.5)
    with pytest.raises(ValueError, match="min_support"):
        search(m, y, ok, tag_names=names, min_support=0)
    with pytest.raises(ValueError, match="a: must lie in"):
        search(m, y, ok, tag_names=names, a=1.5)
    with pytest.raises(ValueError, match=r"b\[2\]"):
        search(m, y, ok, tag_names=names, b={2: -0.1})
    with pytest.raises(ValueError, match="set size"):
        search(m, y, ok, tag_names=names, b={7: 0.1})
    with pytest.raises(ValueError, match="0 and 1"):
        search(m.astype(int) * 2, y, ok, tag_names=names)
    with pytest.raises(ValueError, match="tag_names"):
        search(m, y, ok, tag_names=["a"])
    with pytest.raises(ValueError, match="duplicate"):
        search(m, y, ok, tag_names=["a", "a"])
    with pytest.raises(ValueError, match="labels"):
        search(m, y[:4], ok, tag_names=names)
    with pytest.raises(ValueError, match="labels"):
        search(m, y + 3, ok, tag_names=names, class_names=["x"])
    with pytest.raises(ValueError, match="correct"):
        search(m, y, np.full(5, 2), tag_names=names)
    with pytest.raises(ValueError, match="indices"):
        search(m, y, ok, tag_names=names, indices=[0, 9])
    with pytest.raises(ValueError, match="n_jobs"):
        search(m, y, ok, tag_names=names, n_jobs=0)


def test_too_many_candidates_is_a_clear_error():
    m = np.ones((50, 12), dtype=bool)
    with pytest.raises(ValueError, match="max_candidates"):
        search(
            m,
            np.zeros(50, int),
            np.ones(50, bool),
            tag_names=list("abcdefghijkl"),
            min_support=1,
            max_candidates=100,
        )


def test_bad_filter_arguments(small_result):
    r = small_result
    with pytest.raises(ValueError, match="a: must lie in"):
        r.failure_modes(a=-0.1)
    with pytest.raises(ValueError, match="a: must lie in"):
        r.table(a=-0.1)
    with pytest.raises(ValueError, match="below the searched"):
        r.failure_modes(s=5)
    with pytest.raises(TypeError, match="s: expected an integer"):
        r.table(s=12.5)
    with pytest.raises(ValueError, match="b3: must lie in"):
        r.failure_modes(b3=1.2)
    with pytest.raises(TypeError, match=r"max_size: not a threshold of prime; known: \['a', "):
        r.failure_modes(max_size=3)  # a setting: with_settings(max_size=3)
    with pytest.raises(TypeError, match="b: not a threshold of prime"):
        r.table(b={3: 0.1})
    with pytest.raises(ValueError, match="max_size: 5 exceeds the searched l = 4; search_again"):
        r.with_settings(max_size=5)
    with pytest.raises(ValueError, match=r"b\[3\]"):
        r.with_settings(b={3: 1.2})
    with pytest.raises(TypeError, match="mapping"):
        r.with_settings(b=0.1)
    with pytest.raises(ValueError, match="at least one tag"):
        r.members(0, [])
    with pytest.raises(ValueError, match="tags: unknown tag 'nope'; valid tags"):
        r.members(0, ["A", "nope"])
    with pytest.raises(ValueError, match="unknown class"):
        r.members("nope", ["A"])
    with pytest.raises(ValueError, match="class_"):
        r.members(3, ["A"])
    with pytest.raises(ValueError, match="repeated"):
        r.members(0, ["A", "A"])
    with pytest.raises(ValueError, match="modes"):
        r.generalization(np.array([], dtype=int), modes=pd.DataFrame({"x": [1]}))


def test_classes_without_errors_images_or_tags_give_explicit_empty_results():
    rng = np.random.default_rng(6)
    matrix = rng.random((90, 3)) < 0.5
    matrix[:, 2] = False  # a tag with no images
    labels = np.repeat([0, 1], 45)
    correct = np.ones(90, bool)
    correct[45:][matrix[45:, 0]] = False  # class 1 fails on tag0; class 0 never fails
    result = search(
        matrix,
        labels,
        correct,
        tag_names=["t0", "t1", "t2"],
        class_names=["perfect", "faulty", "absent"],
        min_support=3,
    )
    summary = result.class_summary.set_index("class")
    assert summary.loc["perfect", "n_errors"] == 0 and summary.loc["perfect", "accuracy"] == 1.0
    assert summary.loc["absent", "n_images"] == 0 and summary.loc["absent", "n_candidates"] == 0
    assert "t2" not in result.class_tags("faulty")
    modes = result.table(a=0.3)
    assert set(modes["class"]) == {"faulty"}
    assert result.table("perfect", a=0.3).empty
    assert result.candidates("absent").empty
    assert result.members("absent", ["t0"]).size == 0
    assert result.lattice("absent").nodes.empty
    assert result.find("faulty", ["t2"]) is None


# ---------------------------------------------------------------------- empty answers say why


def test_no_failure_mode_for_lack_of_support_says_so(small_result):
    modes = small_result.table(s=10_000)
    assert modes.empty and modes.reason.startswith("no tag set has at least s = 10000 images")
    assert "Why empty: no tag set has at least s = 10000" in repr(modes)
    assert "Why empty" in modes._repr_html_()
    assert small_result.empty_reason(s=10_000) == modes.reason


def test_no_failure_mode_for_lack_of_drop_names_the_best_drop(small_result):
    r = small_result
    candidates = r.candidates()
    sets = candidates[candidates["size"] >= 1]
    best = sets.loc[sets["drop"].idxmax()]
    modes = r.table(a=0.99)
    assert modes.empty
    assert f"{len(sets)} tag sets with at least s = 10 images" in modes.reason
    assert f"the largest accuracy drop is {best['drop']:.3f}" in modes.reason
    assert " + ".join(best["tags"]) in modes.reason and "below a = 0.99" in modes.reason
    as_list = r.failure_modes(a=0.99)
    assert as_list == [] and as_list.reason == modes.reason
    assert repr(as_list) == f"[]  # empty: {modes.reason}"


def test_no_failure_mode_for_lack_of_minimality_names_b(small_result):
    # the planted triple drops by > 0.3 but must gain 1.0 per removed tag: nothing is minimal
    reason = small_result.empty_reason(a=0.3, b3=1.0)
    assert small_result.table(a=0.3, b3=1.0).reason == reason
    assert "drop of at least a = 0.3" in reason and "none is minimal" in reason
    assert "A + B + C" in reason and "b_3 = 1" in reason


def test_a_result_with_modes_has_no_reason_and_its_repr_counts_them(small_result):
    assert small_result.empty_reason() is None
    modes = small_result.table()
    assert not modes.empty and modes.reason is None and "Why empty" not in repr(modes)
    assert repr(small_result).endswith("failure_modes=1)")
    matrix, labels, correct, names = planted_problem()
    strict = search(matrix, labels, correct, tag_names=names, min_support=10, a=0.99)
    n_sets = len(strict.candidates()) - 1  # all but the empty set
    assert f"failure_modes=0; none because {n_sets} tag sets with" in repr(strict)


def test_a_class_without_searched_images_says_so():
    matrix = np.ones((20, 1), bool)
    result = search(matrix, np.zeros(20, int), np.ones(20, bool), tag_names=["t"],
                    class_names=["here", "absent"], min_support=2)  # fmt: skip
    assert result.table("absent").reason == "no images of 'absent' were searched"
    assert result.failure_modes("absent").reason == "no images of 'absent' were searched"
    reason = result.table("here").reason
    assert "1 tag set of 'here' with at least s = 2 images" in reason  # accuracy 1: no drop


def test_estimator_failure_modes_say_why_when_empty():
    from failwidgets.data import EvalSet

    matrix, labels, correct, names = planted_problem()
    evalset = EvalSet.from_arrays(
        np.zeros((len(labels), 2, 2, 3), np.uint8),
        labels,
        np.where(correct, labels, 1),
        ["square", "other"],
    )
    prime = Prime(min_support=10, a=0.99).fit(evalset, (matrix, names))
    assert prime.table_.empty and "below a = 0.99" in repr(prime.table_)
    assert prime.failure_modes_ == [] and "below a = 0.99" in repr(prime.failure_modes_)


# ---------------------------------------------------------------------- row counts


def test_row_count_mismatches_name_the_input_that_differs():
    matrix, labels, correct, names = planted_problem()
    n = len(labels)
    with pytest.raises(ValueError, match=rf"tags: {n - 3} rows for {n} images"):
        search(matrix[:-3], labels, correct, tag_names=names)
    with pytest.raises(ValueError, match=rf"labels: {n - 3} entries for {n} images"):
        search(matrix, labels[:-3], correct, tag_names=names)
    with pytest.raises(ValueError, match=rf"correct: {n - 3} entries for {n} images"):
        search(matrix, labels, correct[:-3], tag_names=names)
    with pytest.raises(ValueError, match=rf"tags: {n - 1} rows for {n - 2} images"):
        search(matrix[:-1], labels[:-2], correct[:-3], tag_names=names)  # all differ
    result = search(matrix, labels, correct, tag_names=names, min_support=10)
    with pytest.raises(ValueError, match=rf"tags: {n - 1} rows for {n} images"):
        result.generalization(tags=(matrix[:-1], names), labels=labels, correct=correct)


def test_necessity_thresholds_defaults_follow_the_paper():
    b = necessity_thresholds()
    assert b[2] == 0.10 and b[3] == 0.05 and b[4] == 0.025 and b[1] == 0.0
    assert necessity_thresholds({4: 0.5})[4] == 0.5


# ---------------------------------------------------------------------- at scale
# The kernel projects each tag's members into bitsets of 64-member words, counts 8
# candidates per SIMD pass, keeps misclassified images as a prefix of every word
# range and grows its table: these problems have many words per space, more than 64
# tags, error prefixes ending mid-word and tables larger than the initial capacity.


def as_int(mask: np.ndarray) -> int:
    """A boolean vector as a Python integer bitset (bit i = mask[i])."""
    return int.from_bytes(np.packbits(mask, bitorder="little").tobytes(), "little")


def reference_table(matrix, labels, correct, n_classes, max_size, min_support, min_count):
    """Level-wise (Apriori) enumeration on Python integer bitsets, independent of the
    kernel: {(class, tag tuple): (n, n_correct)} for every set with support >= s."""
    table = {}
    for c in range(n_classes):
        rows = np.flatnonzero(labels == c)
        if rows.size == 0:
            continue
        sub, ok = matrix[rows], as_int(correct[rows])
        table[(c, ())] = (len(rows), ok.bit_count())
        kept = [t for t in range(matrix.shape[1]) if sub[:, t].sum() >= min_count]
        members = {t: as_int(sub[:, t]) for t in kept}
        level = [((), (1 << len(rows)) - 1)]
        for _ in range(max_size):
            grown = []
            for tags, mask in level:
                for t in kept:
                    if tags and t <= tags[-1]:
                        continue
                    both = mask & members[t]
                    if both.bit_count() >= min_support:
                        grown.append((tags + (t,), both))
                        table[(c, tags + (t,))] = (both.bit_count(), (both & ok).bit_count())
            level = grown
    return table


def table_from_arrays(result: PrimeResult) -> dict:
    """The candidate table as {(class, tag tuple): (n, n_correct)}, from its arrays."""
    a = result.arrays()
    return {
        (int(c), tuple(tags[:k].tolist())): (int(n), int(ok))
        for c, k, tags, n, ok in zip(
            a["class_id"], a["size"], a["tag_ids"], a["n_images"], a["n_correct"]
        )
    }


def check_table_columns(result: PrimeResult) -> None:
    """Subset rows, accuracies, drops and gains agree with the rows' own counts."""
    a = result.arrays()
    size, tags, sub = a["size"].astype(int), a["tag_ids"], a["subset_rows"]
    accuracy = a["n_correct"] / a["n_images"]
    np.testing.assert_array_equal(a["accuracy"], accuracy)
    root = result._offsets[a["class_id"]]
    np.testing.assert_array_equal(a["drop"], accuracy[root] - accuracy)
    for lo, hi in zip(result._offsets[:-1], result._offsets[1:]):
        assert (np.diff(size[lo:hi]) >= 0).all()  # grouped by size within a class
    for k in range(1, result.max_size + 1):
        rows = np.flatnonzero(size == k)
        if not rows.size:
            continue
        assert (np.diff(tags[rows, :k], axis=1) > 0).all() and (tags[rows, k:] == -1).all()
        assert (sub[rows, k:] == -1).all()
        for j in range(k):
            s = sub[rows, j]
            assert (size[s] == k - 1).all() and (a["class_id"][s] == a["class_id"][rows]).all()
            np.testing.assert_array_equal(tags[s, : k - 1], np.delete(tags[rows, :k], j, axis=1))
        np.testing.assert_array_equal(
            a["min_gain"][rows], accuracy[sub[rows, :k]].min(axis=1) - accuracy[rows]
        )
    assert np.isnan(a["min_gain"][size == 0]).all()


def scale_problem(seed, n=1500, n_tags=150, n_classes=2, n_common=20, accuracy=0.75):
    """Many rare tags and a few common, correlated ones (so that 4-sets are frequent)."""
    rng = np.random.default_rng(seed)
    freq = np.r_[rng.uniform(0.25, 0.6, n_common), rng.uniform(0.0, 0.08, n_tags - n_common)]
    latent = rng.random(n)[:, None] < 0.5
    matrix = rng.random((n, n_tags)) < np.where(latent, freq * 1.3, freq * 0.7)
    labels = rng.integers(0, n_classes, n)
    correct = rng.random(n) < accuracy
    return matrix, labels, correct


@pytest.mark.parametrize(
    "seed, max_size, min_support, min_count, accuracy",
    [(0, 4, 25, 10, 0.75), (1, 3, 12, 40, 0.5), (2, 4, 40, 40, 0.9)],
)
def test_search_at_scale_equals_an_independent_enumeration(
    seed, max_size, min_support, min_count, accuracy
):
    matrix, labels, correct = scale_problem(seed, accuracy=accuracy)
    result = search(matrix, labels, correct, tag_names=[f"t{i}" for i in range(150)],
                    max_size=max_size, min_support=min_support, min_count=min_count,
                    n_jobs=2)  # fmt: skip
    table = reference_table(matrix, labels, correct, 2, max_size, min_support, min_count)
    assert table_from_arrays(result) == table
    assert result.n_candidates > 2000 and max(len(k[1]) for k in table) == max_size
    check_table_columns(result)
    for a, b in ((0.2, {}), (0.1, {2: 0.05, 3: 0.02, 4: 0.01})):
        got = mode_keys(result, result.with_settings(b=b).table(a=a))
        assert got == brute_force_modes(table, a, min_support, {**DEFAULT_NECESSITY, **b}, max_size)


@pytest.mark.parametrize("n_errors", [0, 64, 128, 191, 400])
def test_error_prefixes_of_every_length_count_correctly(n_errors):
    rng = np.random.default_rng(n_errors)
    n = 400
    matrix = rng.random((n, 9)) < np.linspace(0.2, 0.7, 9)
    correct = np.ones(n, bool)
    correct[rng.permutation(n)[:n_errors]] = False
    labels = np.zeros(n, int)
    result = search(matrix, labels, correct, tag_names=list("abcdefghi"), max_size=6,
                    min_support=3)  # fmt: skip
    assert table_from_arrays(result) == brute_force_table(matrix, labels, correct, 1, 6, 3, 3)
    check_table_columns(result)


def test_table_growth_and_threads_do_not_change_the_table():
    from failwidgets.methods import prime_search as kernel

    matrix, labels, correct = scale_problem(3, n=800, n_tags=70)
    rows = np.flatnonzero(labels == 0)
    tags = np.argsort(matrix[rows].sum(0), kind="stable")[-40:].astype(np.int32)
    ok = correct[rows]
    bits = kernel.pack_rows(matrix, rows[np.argsort(ok, kind="stable")], tags)
    searches = [
        kernel.search_frequent_sets(
            bits, int((~ok).sum()), len(tags), 5, 5, 10**7, *kernel.new_table(capacity)
        )  # fmt: skip
        for capacity in (16, 1 << 20)
    ]
    (sets, nodes, n_sets, n_nodes, size_counts, complete), big = searches
    assert complete and big[5] and n_sets > 1000 and sets.shape[0] >= n_sets
    assert (n_sets, n_nodes) == (big[2], big[3]) and size_counts.sum() == n_sets
    np.testing.assert_array_equal(size_counts, big[4])
    np.testing.assert_array_equal(sets[:n_sets], big[0][:n_sets])
    np.testing.assert_array_equal(nodes[:n_nodes], big[1][:n_nodes])
    names = [f"t{i}" for i in range(70)]
    one = search(matrix, labels, correct, tag_names=names, min_support=5, n_jobs=1)
    two = search(matrix, labels, correct, tag_names=names, min_support=5, n_jobs=3)
    for key, value in one.arrays().items():
        np.testing.assert_array_equal(value, two.arrays()[key], err_msg=key)


def test_max_candidates_counts_every_row():
    matrix = np.ones((20, 5), dtype=bool)  # every subset of 5 tags: 32 rows with the root
    names = list("abcde")
    ones = np.ones(20, bool)
    assert search(matrix, np.zeros(20, int), ones, tag_names=names, min_support=1,
                  max_size=5, max_candidates=32).n_candidates == 32  # fmt: skip
    with pytest.raises(ValueError, match="more than 31 tag sets"):
        search(matrix, np.zeros(20, int), ones, tag_names=names, min_support=1, max_size=5,
               max_candidates=31)  # fmt: skip


def test_eight_lane_and_popcount_matches_numpy():
    from numba import njit

    from failwidgets.methods.prime_search import _and_counts8

    @njit
    def run(counts, c, bits, start, stride, b, n_words, mask):
        _and_counts8(counts, c, bits, start, stride, b, n_words, mask)

    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2**63, (2, 5, 24), dtype=np.int64).astype(np.uint64) * np.uint64(3)
    flat = bits.ravel()
    for n_words, mask, b, c in ((5, 2**64 - 1, 3, 8), (3, 0x1F, 17, 16), (0, 7, 0, 0)):
        counts = np.full(24, -1, dtype=np.int64)
        run(counts, c, bits, 120, 24, b, n_words, np.uint64(mask))
        q = flat[120 + b : 120 + b + 24 * n_words : 24].copy()
        if n_words:
            q[-1] &= np.uint64(mask)
        rows = flat[120:].reshape(5, 24)[:n_words, c : c + 8]
        expected = np.bitwise_count(rows & q[:, None]).sum(axis=0)
        np.testing.assert_array_equal(counts[c : c + 8], expected)
        assert (counts[:c] == -1).all() and (counts[c + 8 :] == -1).all()


def test_projection_transposes_64_bit_blocks():
    from failwidgets.methods.prime_search import _transpose64

    rng = np.random.default_rng(1)
    block = rng.integers(0, 2**63, 64, dtype=np.int64).astype(np.uint64) * np.uint64(3)
    bits = np.unpackbits(block.view(np.uint8), bitorder="little").reshape(64, 64)
    expected = np.packbits(bits.T.copy(), axis=1, bitorder="little").view(np.uint64).ravel()
    _transpose64(block)
    np.testing.assert_array_equal(block, expected)


def test_pack_rows_bit_layout():
    from failwidgets.methods.prime_search import pack_rows

    matrix = np.zeros((3, 70), dtype=bool)
    matrix[0, [0, 3, 66]] = True
    matrix[2, :] = True
    columns = np.r_[66, np.arange(66), 69].astype(np.int32)  # 68 columns, reordered
    bits = pack_rows(matrix, np.array([0, 1, 2]), columns)
    assert bits.shape == (3, 2) and bits.dtype == np.uint64
    assert bits[0, 0] == 1 | (1 << 1) | (1 << 4) and bits[0, 1] == 0 and not bits[1].any()
    assert bits[2, 0] == np.uint64(2**64 - 1) and bits[2, 1] == 0b1111  # no padding bits
