"""Regression tests for the EvalSet defects of issues 12 and 14: read-only arrays, string
probabilities, class names as a pd.Index, predictions that disagree with the probabilities,
zero samples, and float images that were clipped instead of refused."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from failwidgets.data import EvalSet
from failwidgets.images import to_uint8_rgb

NAMES = ["cat", "dog", "fox"]
LABELS = np.array([0, 0, 1, 1, 2, 2])
PREDICTIONS = np.array([0, 1, 1, 0, 2, 2])


def images(n=6):
    return np.zeros((n, 4, 4, 3), dtype=np.uint8)


def build(**change):
    kwargs = dict(images=images(), labels=LABELS, predictions=PREDICTIONS, class_names=NAMES)
    kwargs.update(change)
    return EvalSet.from_arrays(**kwargs)


def one_hot(predictions):
    probs = np.full((len(predictions), 3), 0.1)
    probs[np.arange(len(predictions)), predictions] = 0.8
    return probs


# --------------------------------------------------------------------------- read-only arrays
def test_arrays_are_read_only_so_correct_cannot_go_stale():
    labels = LABELS.copy()
    es = build(labels=labels, probabilities=one_hot(PREDICTIONS), split=["a"] * 6)
    for name in ("labels", "predictions", "probabilities", "split", "correct"):
        with pytest.raises(ValueError, match="read-only"):
            getattr(es, name)[0] = getattr(es, name)[1]
    labels[1] = 1  # the caller's array is copied, not frozen or shared
    assert es.labels[1] == 0 and not es.correct[1]
    assert labels.flags.writeable
    sub = es.subset([0, 1])
    assert not sub.labels.flags.writeable and not sub.probabilities.flags.writeable


# --------------------------------------------------------------------------- probabilities
@pytest.mark.parametrize(
    "probabilities, message",
    [
        (np.full((6, 3), "0.3333"), "^probabilities: expected numbers"),  # was silently parsed
        (np.full((6, 3), "high"), "^probabilities: expected numbers"),  # was a bare numpy error
        ([["0.2", 0.3, 0.5]] * 6, "^probabilities: expected numbers"),
        (np.array([[0.2, 0.3, "x"]] * 6, dtype=object), "^probabilities: expected numbers"),
        (np.array([[{}, 0.3, 0.5]] * 6, dtype=object), "^probabilities: expected numbers"),
        (np.ones((6, 3), dtype=bool), "^probabilities: expected numbers"),
    ],
)
def test_non_numeric_probabilities_name_the_argument(probabilities, message):
    with pytest.raises(TypeError, match=message):
        build(probabilities=probabilities)


def test_ragged_probabilities_name_the_argument():
    with pytest.raises(ValueError, match="^probabilities: rows have different lengths"):
        build(probabilities=[[0.5, 0.5], [0.2, 0.3, 0.5]] * 3)


def test_predictions_that_are_not_the_argmax_warn_once():
    probs = one_hot(PREDICTIONS)
    probs[[2, 4]] = probs[[2, 4]][:, [2, 0, 1]]  # rows 2 and 4 now favour another class
    with pytest.warns(UserWarning) as record:
        es = build(probabilities=probs)
    assert len(record) == 1 and record[0].filename == __file__  # points at the caller
    message = str(record[0].message)
    assert message.startswith("predictions: 2 of 6 predictions are not the argmax")
    assert "first: row 2, predicted 'dog' with p=0.100, but 'fox' has p=0.800" in message
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        es.subset([0, 2, 4])  # the parent already warned
        tied = np.full((6, 3), 1 / 3)
        build(probabilities=tied)  # ties: any of the tied classes is an argmax
        build(probabilities=one_hot(PREDICTIONS))


# --------------------------------------------------------------------------- class names
@pytest.mark.parametrize(
    "class_names",
    [
        pd.Index(NAMES),
        pd.Series(NAMES),
        np.array(NAMES),
        tuple(NAMES),
        pd.Index([0, 1, 2]),
        range(3),
    ],
)
def test_class_names_from_any_ordered_collection(class_names):
    es = build(class_names=class_names)
    assert es.class_names == [str(c) for c in class_names]
    assert all(type(c) is str for c in es.class_names)


@pytest.mark.parametrize(
    "class_names, error, message",
    [
        ("cat", TypeError, "^class_names: expected an ordered list"),
        (set(NAMES), TypeError, "^class_names: expected an ordered list"),
        ({"cat": 0, "dog": 1, "fox": 2}, TypeError, "^class_names: expected an ordered list"),
        (None, TypeError, "^class_names: expected an ordered list"),
        (["cat", None, "fox"], TypeError, r"^class_names: name 1 is a NoneType"),
        (["cat", 1.5, "fox"], TypeError, r"^class_names: name 1 is a float"),
        (["cat", "", "fox"], ValueError, r"^class_names: name 1 is empty"),
        (np.array([NAMES]), ValueError, r"^class_names: expected a 1-D list"),
        ([], ValueError, "^class_names: at least one class name"),
        (["cat", "dog", "cat"], ValueError, "^class_names: duplicate class name 'cat'"),
    ],
)
def test_bad_class_names(class_names, error, message):
    with pytest.raises(error, match=message):
        build(class_names=class_names)


# --------------------------------------------------------------------------- zero samples
@pytest.mark.parametrize(
    "change",
    [
        dict(labels=[], predictions=[], images=images(0)),
        dict(labels=[], predictions=[], images=[]),
        dict(
            labels=np.zeros(0, int),
            predictions=[],
            images=images(0),
            probabilities=np.zeros((0, 3)),
        ),
        dict(labels=[], predictions=[], images=images(0), split=[], metadata=pd.DataFrame()),
    ],
)
def test_zero_samples_give_the_intended_message(change):
    with pytest.raises(ValueError, match="^labels: an EvalSet needs at least one sample, got 0"):
        build(**change)


def test_empty_subset_names_indices():
    with pytest.raises(ValueError, match="^indices: empty selection"):
        build().subset([])


# --------------------------------------------------------------------------- float images
def test_float_images_in_a_list_are_refused_not_clipped():
    in_255 = [np.full((4, 4, 3), 200.0, np.float32) for _ in range(6)]
    with pytest.raises(ValueError, match=r"^images: item 0 has float values in \[200, 200\]"):
        build(images=in_255)
    unit = [np.full((4, 4, 3), 0.5, np.float32) for _ in range(6)]
    assert build(images=unit).image(3)[0, 0, 0] == 128
    integers = [np.full((4, 4, 3), 200, np.int64) for _ in range(6)]  # was clipped to 255
    assert build(images=integers).image(0)[0, 0, 0] == 200


def test_float_dataset_items_are_refused_not_clipped():
    import torch
    from torch.utils.data import TensorDataset

    pixels = torch.full((6, 3, 4, 4), 200.0)  # [0, 255] floats, channels first
    es = build(images=TensorDataset(pixels, torch.zeros(6)))
    with pytest.raises(ValueError, match=r"^images: dataset item 2 has float values in \[200"):
        es.image(2)
    normalised = torch.full((6, 3, 4, 4), -1.5)
    es = build(images=TensorDataset(normalised, torch.zeros(6)))
    with pytest.raises(ValueError, match="Normalised tensors"):
        es.images_at([0])
    good = build(images=TensorDataset(torch.full((6, 3, 4, 4), 1.0), torch.zeros(6)))
    assert good.image(0).shape == (4, 4, 3) and (good.image(0) == 255).all()


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        np.float32,
        hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=5).map(lambda s: (*s[:2], 3)),
        elements=st.floats(-2, 3, width=32),
    )
)
def test_float_conversion_never_clips(array):
    slack = 0.5 / 255
    if array.min() < -slack or array.max() > 1 + slack:
        with pytest.raises(ValueError, match="outside \\[0, 1\\]"):
            to_uint8_rgb(array)
    else:
        converted = to_uint8_rgb(array)
        assert converted.dtype == np.uint8 and converted.shape == array.shape
        expected = np.clip(np.round(array.astype(np.float32) * 255), 0, 255)
        np.testing.assert_array_equal(converted, expected)
        assert np.abs(converted / 255.0 - array).max() <= slack + 1e-6


def test_probabilities_as_a_torch_tensor():
    import torch

    probs = torch.tensor(one_hot(PREDICTIONS), dtype=torch.bfloat16)
    es = build(probabilities=probs / probs.sum(dim=1, keepdim=True))
    assert es.probabilities.dtype == np.float32
    np.testing.assert_array_equal(es.probabilities.argmax(axis=1), PREDICTIONS)
