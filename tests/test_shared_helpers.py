"""The helpers every layer shares: class lookup, integer checks, images -> tensors, lazy names."""

from __future__ import annotations

import numpy as np
import pytest

from failwidgets._lazy import lazy_getattr
from failwidgets.checks import check_indices, check_int
from failwidgets.class_names import class_index
from failwidgets.image_tensors import images_to_tensor

NAMES = ["cat", "dog", "fox"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("cat", 0), ("fox", 2), (1, 1), (np.int64(2), 2), (np.uint8(0), 0)],
)
def test_class_index_reads_names_and_indices(value, expected):
    index = class_index(value, NAMES)
    assert index == expected and type(index) is int


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ("cow", ValueError, r"^target: unknown class 'cow'; known: \['cat', 'dog', 'fox'\]$"),
        (3, ValueError, r"^target: class index 3 outside 0\.\.2$"),
        (-1, ValueError, r"^target: class index -1 outside 0\.\.2$"),
        (True, TypeError, r"^target: expected a class name or index, got bool$"),
        (np.bool_(True), TypeError, r"^target: expected a class name or index, got bool"),
        (1.0, TypeError, r"^target: expected a class name or index, got float$"),
        (None, TypeError, r"^target: expected a class name or index, got NoneType$"),
    ],
)
def test_class_index_refuses_what_names_no_class(value, error, message):
    with pytest.raises(error, match=message):
        class_index(value, NAMES, "target")


def test_class_index_lists_only_the_first_ten_names_and_takes_unnamed_classes():
    names = [f"c{i}" for i in range(30)]
    with pytest.raises(ValueError) as info:
        class_index("zebra", names)
    assert str(info.value).startswith("cls: unknown class 'zebra'") and "c10" not in str(info.value)
    assert class_index(4, range(5)) == 4
    with pytest.raises(ValueError, match="unknown class '4'"):
        class_index("4", range(5))


def test_every_class_lookup_is_the_shared_one():
    """EvalSet, the Barlow outcomes, PRIME and the directions results answer alike."""
    from failwidgets.data import EvalSet
    from failwidgets.methods.barlow import Outcomes

    evalset = EvalSet.from_arrays(
        images=np.zeros((3, 4, 4, 3), dtype=np.uint8),
        labels=[0, 1, 2],
        predictions=[0, 1, 1],
        class_names=NAMES,
    )
    outcomes = Outcomes.from_any((np.array([0, 1, 2]), np.array([0, 1, 1])))
    assert evalset.class_index("dog") == 1 and outcomes.class_index(np.int32(2)) == 2
    with pytest.raises(ValueError, match=r"^cls: class index 5 outside 0\.\.2$"):
        evalset.class_index(5)
    with pytest.raises(ValueError, match=r"^group: class index 5 outside 0\.\.2$"):
        outcomes.class_index(5)
    with pytest.raises(TypeError, match=r"^group: expected a class name or index, got bool$"):
        outcomes.class_index(True)


@pytest.mark.parametrize(
    ("args", "expected"),
    [((5, "n"), 5), ((-7, "n"), -7), ((np.int16(3), "n", 0), 3), ((3, "n", 1, 3), 3)],
)
def test_check_int_accepts_integers_within_the_bounds(args, expected):
    value = check_int(*args)
    assert value == expected and type(value) is int


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((True, "n"), TypeError, r"^n: expected an integer, got bool$"),
        ((2.0, "n"), TypeError, r"^n: expected an integer, got float$"),
        ((None, "n"), TypeError, r"^n: expected an integer, got NoneType$"),
        ((0, "n", 1), ValueError, r"^n: must be >= 1, got 0$"),
        ((4, "n", 1, 3), ValueError, r"^n: must be in 1\.\.3, got 4$"),
        ((4, "n", None, 3), ValueError, r"^n: must be <= 3, got 4$"),
    ],
)
def test_check_int_refuses_non_integers_and_values_out_of_bounds(args, error, message):
    with pytest.raises(error, match=message):
        check_int(*args)


def test_check_indices_reads_indices_in_order_and_masks():
    out = check_indices([3, 0, 3], 4)
    assert out.dtype == np.int64 and out.tolist() == [3, 0, 3]
    assert check_indices(np.array([True, False, True]), 3).tolist() == [0, 2]
    assert check_indices([], 3).dtype == np.int64


@pytest.mark.parametrize(
    ("indices", "error", "message"),
    [
        ([0, 4], ValueError, r"^rows: index 4 outside 0\.\.3$"),
        ([-1], ValueError, r"^rows: index -1 outside 0\.\.3$"),
        ([True, False], ValueError, r"^rows: boolean mask of shape \(2,\), expected \(4,\)$"),
        ([[0, 1]], ValueError, r"^rows: expected a 1-D sequence of indices, got shape \(1, 2\)$"),
        ([0.0, 1.0], TypeError, r"^rows: expected integer indices, got dtype float64$"),
    ],
)
def test_check_indices_refuses_what_is_no_index_of_n_samples(indices, error, message):
    with pytest.raises(error, match=message):
        check_indices(indices, 4, "rows")


def test_images_to_tensor_converts_uint8_images_and_keeps_float_batches():
    torch = pytest.importorskip("torch")
    images = np.arange(2 * 3 * 4 * 3, dtype=np.uint8).reshape(2, 3, 4, 3)
    x = images_to_tensor(images)
    assert x.shape == (2, 3, 3, 4) and x.dtype == torch.float32
    np.testing.assert_allclose(x.permute(0, 2, 3, 1).numpy() * 255, images, atol=1e-4)
    from_torch = images_to_tensor(torch.from_numpy(images[:, ::-1].copy()))
    np.testing.assert_allclose(from_torch.numpy(), x.flip(2).numpy())
    floats = torch.rand(2, 3, 5, 5, dtype=torch.float64)
    assert torch.equal(images_to_tensor(floats), floats.float())
    assert images_to_tensor(images[:, :, :, :1], channels=1).shape == (2, 1, 3, 4)


@pytest.mark.parametrize(
    ("images", "error", "message"),
    [
        ([[1, 2]], TypeError, "expected a numpy array or torch tensor, got list"),
        (np.zeros((4, 4, 3), np.uint8), ValueError, "expected a 4-D batch"),
        (np.zeros((1, 4, 4, 4), np.uint8), ValueError, r"uint8 images must be \(N, H, W, 3\)"),
        (np.zeros((1, 4, 4, 3), np.float32), ValueError, r"float images must be \(N, 3, H, W\)"),
        (np.zeros((1, 3, 4, 4), np.int32), TypeError, "expected dtype uint8 or floating"),
    ],
)
def test_images_to_tensor_refuses_other_layouts(images, error, message):
    pytest.importorskip("torch")
    with pytest.raises(error, match=f"^images: {message}"):
        images_to_tensor(images)


def test_lazy_getattr_imports_on_first_use_and_names_the_package():
    getter = lazy_getattr("failwidgets", {"check_int": ".checks", "EvalSet": "failwidgets.data"})
    assert getter("check_int") is check_int
    assert getter("EvalSet").__name__ == "EvalSet"
    with pytest.raises(AttributeError, match="^module 'failwidgets' has no attribute 'nope'$"):
        getter("nope")


def test_percent_writes_fractions_and_says_when_missing():
    from failwidgets.text import percent

    assert percent(0.1234) == "12.3%" and percent(0.1234, digits=0) == "12%"
    assert percent(None) == "—" and percent(float("nan")) == "—"
    assert percent(float("inf"), missing="n/a") == "n/a"
    assert percent(np.float32(0.5)) == "50.0%"


def test_errors_first_keeps_each_part_in_order():
    from failwidgets.data import EvalSet

    es = EvalSet.from_arrays(
        images=np.zeros((5, 4, 4, 3), np.uint8),
        labels=[0, 1, 0, 1, 0],
        predictions=[0, 0, 0, 0, 1],
        class_names=["a", "b"],
    )
    assert es.errors_first([0, 1, 2, 3, 4]).tolist() == [1, 3, 4, 0, 2]
    assert es.errors_first([4, 2, 3]).tolist() == [4, 3, 2]
    assert es.errors_first([]).dtype == np.int64
