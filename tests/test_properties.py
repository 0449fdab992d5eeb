"""Property-based attacks (issue 14): EvalSet constructors and failure-mode round trips.

Invariants:
- EvalSet.from_arrays with random valid and invalid labels, predictions, probabilities, class
  names and splits either raises a TypeError/ValueError whose message starts with the name of
  an argument, or returns an EvalSet that holds exactly what was given (and that its own
  validator accepts again). Never another exception, never a silent change.
- Failure modes with arbitrary unicode text, NA-like strings, numbers written as strings,
  NaN/infinite floats and empty member lists come back exactly from CSV and from Parquet.
- A CSV whose members are edited to arbitrary JSON values is either read exactly (lists of
  non-negative integers) or refused with an error naming ``members`` and the row.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from failwidgets.data import EvalSet
from failwidgets.modes import FailureMode, export_modes, import_modes

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ARGUMENTS = ("images", "labels", "predictions", "class_names", "probabilities", "metadata", "split")
NAMED = re.compile(rf"^({'|'.join(ARGUMENTS)})\b")


# --------------------------------------------------------------------------- EvalSet constructors
def _labels(n: int, n_classes: int):
    """Valid class indices, or one of the usual ways to get them wrong."""
    valid = st.lists(st.integers(0, n_classes - 1), min_size=n, max_size=n)
    return st.one_of(
        valid,  # plain lists
        valid.map(lambda v: np.asarray(v, dtype=np.int32)),
        valid.map(lambda v: np.asarray(v, dtype=np.float64)),  # integral floats
        st.lists(st.integers(-3, n_classes + 3), min_size=n, max_size=n),  # out of range
        st.lists(st.floats(allow_nan=True), min_size=n, max_size=n),
        st.lists(st.sampled_from(["0", "1", "a", ""]), min_size=n, max_size=n),
        st.lists(st.booleans(), min_size=n, max_size=n),
        st.lists(st.integers(0, n_classes - 1), max_size=n + 2),  # other lengths
        valid.map(lambda v: np.asarray(v).reshape(-1, 1)),  # 2-D
        st.just(None),
    )


def _probabilities(n: int, n_classes: int):
    rows = st.lists(
        st.lists(st.floats(0.01, 1.0), min_size=n_classes, max_size=n_classes),
        min_size=n,
        max_size=n,
    )
    softmax = rows.map(lambda r: (np.asarray(r) / np.asarray(r).sum(1, keepdims=True)).tolist())
    return st.one_of(
        st.none(),
        softmax,
        softmax.map(np.asarray),
        rows,  # not normalised
        softmax.map(lambda p: [[str(v) for v in row] for row in p]),  # text
        softmax.map(lambda p: np.where(np.eye(n, n_classes) > 0, np.nan, p)),
        softmax.map(lambda p: -np.asarray(p)),
        softmax.map(lambda p: np.asarray(p)[:, :-1]),  # too few classes
        st.just("probabilities"),
    )


def _class_names(n_classes: int):
    names = st.lists(st.text(min_size=1, max_size=8), min_size=n_classes, max_size=n_classes)
    return st.one_of(
        names,
        names.map(tuple),
        names.map(pd.Index),
        names.map(lambda v: np.asarray(v, dtype=object)),
        st.lists(st.text(max_size=3), min_size=n_classes, max_size=n_classes + 2),
        st.just([]),
        st.just("abc"),
        st.just(None),
        st.just(["a"] * n_classes),
    )


def _split(n: int):
    names = st.sampled_from(["train", "val", "test", "", "NA", "0"])
    return st.one_of(
        st.none(),
        st.lists(names, min_size=n, max_size=n),
        st.lists(st.one_of(names, st.none(), st.just(float("nan"))), min_size=n, max_size=n),
        st.lists(names, max_size=n + 2),
        st.just("train"),
    )


@st.composite
def evalset_arguments(draw):
    n = draw(st.integers(1, 6))
    n_classes = draw(st.integers(1, 4))
    return {
        "images": np.zeros((n, 4, 4, 3), np.uint8),
        "labels": draw(_labels(n, n_classes)),
        "predictions": draw(_labels(n, n_classes)),
        "class_names": draw(_class_names(n_classes)),
        "probabilities": draw(_probabilities(n, n_classes)),
        "split": draw(_split(n)),
    }


def _holds_what_was_given(evalset: EvalSet, arguments: dict) -> None:
    labels = np.asarray(arguments["labels"])
    predictions = np.asarray(arguments["predictions"])
    assert evalset.n == len(labels) == len(predictions)
    assert np.array_equal(evalset.labels, labels) and evalset.labels.dtype.kind == "i"
    assert np.array_equal(evalset.predictions, predictions)
    assert np.array_equal(evalset.correct, labels == predictions)
    assert evalset.class_names == [str(name) for name in arguments["class_names"]]
    if arguments["probabilities"] is None:
        assert evalset.probabilities is None
    else:
        given_p = np.asarray(arguments["probabilities"], dtype=np.float64)
        np.testing.assert_allclose(evalset.probabilities, given_p, rtol=1e-6, atol=1e-7)
    if arguments["split"] is None:
        assert evalset.split is None
    else:
        assert list(evalset.split) == [str(s) for s in arguments["split"]]
    # nothing stored that the validator would refuse: the EvalSet rebuilds from itself
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the same argmax warning as for the original
        again = EvalSet.from_arrays(
            evalset.images,
            evalset.labels,
            evalset.predictions,
            evalset.class_names,
            probabilities=evalset.probabilities,
            split=evalset.split,
        )
    assert np.array_equal(again.labels, evalset.labels)


@SETTINGS
@given(evalset_arguments())
def test_evalset_constructor_names_the_argument_or_is_correct(arguments):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. predictions that are not the argmax
            evalset = EvalSet.from_arrays(**arguments)
    except (TypeError, ValueError) as error:
        message = str(error)
        assert NAMED.match(message), f"{type(error).__name__} names no argument: {message!r}"
        return
    _holds_what_was_given(evalset, arguments)


# ------------------------------------------------------------------ failure-mode round trips
NA_LIKE = [
    "NA",
    "N/A",
    "n/a",
    "#N/A",
    "None",
    "none",
    "null",
    "NULL",
    "nan",
    "NaN",
    "",
    " ",
    "-nan",
    "1.#IND",
    "<NA>",
    "TRUE",
    "False",
    "inf",
    "-inf",
]
text = st.one_of(
    st.text(max_size=30),  # arbitrary unicode (no surrogates), newlines, quotes, commas
    st.sampled_from(NA_LIKE),
    st.from_regex(r"[+-]?0[0-9]{1,5}(\.[0-9]*)?(e[0-9]+)?", fullmatch=True),  # "007", "0123"
    st.integers().map(str),
    st.floats().map(repr),
)
numbers = st.floats(allow_nan=True, allow_infinity=True)
modes = st.lists(
    st.builds(
        FailureMode,
        method=text,
        class_name=text,
        description=text,
        members=st.lists(st.integers(0, 2**62), max_size=6).map(
            lambda v: np.asarray(v, dtype=np.int64)
        ),
        accuracy=numbers,
        drop=numbers,
        heldout_drop=st.one_of(st.none(), st.floats(allow_nan=False)),
    ),
    max_size=5,
)


def _same_float(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or (
        a == b and math.copysign(1, a) == math.copysign(1, b)
    )


def _assert_same_modes(back: list[FailureMode], given_modes: list[FailureMode]) -> None:
    assert len(back) == len(given_modes)
    for a, b in zip(back, given_modes):
        for column in ("method", "class_name", "description"):
            assert type(getattr(a, column)) is str and getattr(a, column) == getattr(b, column)
        assert a.members.dtype == np.int64 and a.members.tolist() == b.members.tolist()
        assert _same_float(a.accuracy, b.accuracy) and _same_float(a.drop, b.drop)
        if b.heldout_drop is None:
            assert a.heldout_drop is None
        else:
            assert _same_float(a.heldout_drop, b.heldout_drop)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_failure_modes_round_trip_exactly(suffix):
    @SETTINGS
    @given(modes)
    def round_trip(given_modes):
        with tempfile.TemporaryDirectory() as folder:
            path = export_modes(given_modes, Path(folder) / f"modes{suffix}")
            _assert_same_modes(import_modes(path), given_modes)

    round_trip()


json_values = st.recursive(
    st.one_of(
        st.integers(-5, 2**62),
        st.floats(allow_nan=False),
        st.booleans(),
        st.none(),
        st.text(max_size=3),
    ),
    lambda children: st.lists(children, max_size=3),
    max_leaves=6,
)


@SETTINGS
@given(st.one_of(st.lists(json_values, max_size=5), json_values))
def test_edited_members_are_read_exactly_or_refused_by_name(members):
    mode = FailureMode("m", "c", "d", np.array([], dtype=np.int64))
    with tempfile.TemporaryDirectory() as folder:
        path = export_modes([mode], Path(folder) / "modes.csv")
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame["members"] = [json.dumps(members)]
        frame["size"] = [str(len(members)) if isinstance(members, list) else "0"]
        frame.to_csv(path, index=False)
        try:
            (back,) = import_modes(path)
        except (TypeError, ValueError) as error:
            assert str(error).startswith(("members: row 0", "size: row 0")), str(error)
            return
    valid = isinstance(members, list) and all(type(m) is int and m >= 0 for m in members)
    assert valid, f"{members!r} was accepted as {back.members!r}"
    assert back.members.tolist() == members
