"""EvalSet.from_dataframe: every kind of image column, class names or indices, probabilities as
one list column or prefixed columns, metadata defaults, and each bad input naming its argument."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from failwidgets.data import EvalSet
from failwidgets.images import ListImages, PathImages

RNG = np.random.default_rng(0)
PICTURES = [RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8) for _ in range(6)]
LABELS = ["cat", "dog", "fox", "cat", "dog", "fox"]
PREDICTIONS = ["cat", "fox", "fox", "cat", "dog", "dog"]


def _encoded(array, fmt="PNG"):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, fmt)
    return buffer.getvalue()


def frame(images=None, **extra):
    table = pd.DataFrame(
        {
            "image": list(PICTURES) if images is None else images,
            "label": LABELS,
            "prediction": PREDICTIONS,
        }
    )
    for key, value in extra.items():
        table[key] = value
    return table


@pytest.fixture
def files(tmp_path):
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    names = []
    for i, picture in enumerate(PICTURES):
        Image.fromarray(picture).save(root / "a" / f"{i}.png")
        names.append(f"a/{i}.png")
    return root, names


# --------------------------------------------------------------------------- images
def test_uint8_arrays_names_inferred_and_metadata_default():
    table = frame(weather=list("sssrrr"), split=["val"] * 3 + ["test"] * 3)
    table.index = range(100, 106)  # the index is ignored
    es = EvalSet.from_dataframe(table, split="split")
    assert es.class_names == ["cat", "dog", "fox"]  # sorted, as ImageFolder sorts
    np.testing.assert_array_equal(es.labels, [0, 1, 2, 0, 1, 2])
    np.testing.assert_array_equal(es.predictions, [0, 2, 2, 0, 1, 1])
    assert list(es.metadata.columns) == ["weather"]  # every column no other role uses
    assert list(es.split) == ["val"] * 3 + ["test"] * 3
    for i in range(6):
        np.testing.assert_array_equal(es.image(i), PICTURES[i])
    assert isinstance(es.images, ListImages)


def test_gray_pil_bytes_and_hf_dicts():
    gray = [p[..., 0] for p in PICTURES]
    es = EvalSet.from_dataframe(frame(gray))
    np.testing.assert_array_equal(es.image(1), np.repeat(gray[1][..., None], 3, axis=-1))
    es = EvalSet.from_dataframe(frame([Image.fromarray(p) for p in PICTURES]))
    np.testing.assert_array_equal(es.image(2), PICTURES[2])
    es = EvalSet.from_dataframe(frame([_encoded(p) for p in PICTURES]))
    np.testing.assert_array_equal(es.image(3), PICTURES[3])
    jpeg = EvalSet.from_dataframe(frame([_encoded(p, "JPEG") for p in PICTURES]))
    assert jpeg.image(0).shape == (5, 7, 3) and jpeg.image(0).dtype == np.uint8
    dicts = [{"bytes": _encoded(p), "path": f"{i}.png"} for i, p in enumerate(PICTURES)]
    np.testing.assert_array_equal(EvalSet.from_dataframe(frame(dicts)).image(4), PICTURES[4])


def test_float_images_in_unit_range_converted_outside_refused():
    unit = [np.full((2, 2, 3), 0.5, np.float32)] * 6
    assert EvalSet.from_dataframe(frame(unit)).image(0)[0, 0, 0] == 128
    bad = list(unit)
    bad[4] = np.full((2, 2, 3), 200.0, np.float32)  # [0, 255] floats: never clipped
    with pytest.raises(ValueError, match=r"^image: row 4 has float values in \[200, 200\]"):
        EvalSet.from_dataframe(frame(bad))


def test_paths_relative_to_root_and_absolute(files):
    root, names = files
    es = EvalSet.from_dataframe(frame(names), root=root)
    assert isinstance(es.images, PathImages)
    np.testing.assert_array_equal(es.image(5), PICTURES[5])
    absolute = [str(root / n) for n in names]
    np.testing.assert_array_equal(EvalSet.from_dataframe(frame(absolute)).image(0), PICTURES[0])
    inside = list(names)
    inside[1] = "a/../a/1.png"  # stays inside root
    np.testing.assert_array_equal(
        EvalSet.from_dataframe(frame(inside), root=root).image(1), PICTURES[1]
    )


@pytest.mark.parametrize(
    "path, message",
    [
        ("../outside.png", r"^image: row 2: path '\.\./outside\.png' leaves root"),
        ("a/../../outside.png", r"^image: row 2: path 'a/\.\./\.\./outside\.png' leaves root"),
        ("/etc/passwd", r"^image: row 2: absolute path '/etc/passwd'"),
        ("a/missing.png", r"^image: row 2: file not found"),
        ("a", r"^image: row 2: not a file"),
        ("", r"^image: row 2: empty path"),
    ],
)
def test_paths_that_leave_root_or_do_not_exist(files, path, message):
    root, names = files
    (root.parent / "outside.png").write_bytes(_encoded(PICTURES[0]))
    names = list(names)
    names[2] = path
    with pytest.raises(ValueError, match=message):
        EvalSet.from_dataframe(frame(names), root=root)


def test_symlink_out_of_root_refused_unless_allowed(files):
    root, names = files
    outside = root.parent / "secret.png"
    outside.write_bytes(_encoded(PICTURES[0]))
    (root / "a" / "link.png").symlink_to(outside)
    names = list(names)
    names[0] = "a/link.png"
    with pytest.raises(ValueError, match=r"^image: row 0: .*symbolic link to .*secret\.png"):
        EvalSet.from_dataframe(frame(names), root=root)
    es = EvalSet.from_dataframe(frame(names), root=root, follow_external_symlinks=True)
    np.testing.assert_array_equal(es.image(0), PICTURES[0])


@pytest.mark.parametrize(
    "images, error, message",
    [
        ([None] + PICTURES[1:], ValueError, r"^image: row 0 has no image"),
        ([3.5] + PICTURES[1:], TypeError, r"^image: row 0 is a float"),
        (["x.png"] + PICTURES[1:], ValueError, r"^image: mixes file paths \(row 0\)"),
        ([b"not an image"] + PICTURES[1:], ValueError, r"^image: row 0: bytes are not an image"),
        (
            [np.zeros((4, 4, 4), np.uint8)] + PICTURES[1:],
            ValueError,
            r"^image: row 0 has unsupported image shape \(4, 4, 4\)",
        ),
        (
            [np.full((2, 2), 300, np.int64)] + PICTURES[1:],
            ValueError,
            r"^image: row 0 has integer values in \[300, 300\]",
        ),
        (
            [np.full((2, 2), np.nan)] + PICTURES[1:],
            ValueError,
            r"^image: row 0 has NaN or infinite values",
        ),
    ],
)
def test_bad_image_values(images, error, message):
    with pytest.raises(error, match=message):
        EvalSet.from_dataframe(frame(images))


def test_root_with_in_memory_images_refused():
    with pytest.raises(ValueError, match="^root: given, but image holds in-memory images"):
        EvalSet.from_dataframe(frame(), root=".")


# --------------------------------------------------------------------------- classes
def test_integer_indices_need_class_names():
    table = frame()
    table["label"] = [0, 1, 2, 0, 1, 2]
    table["prediction"] = np.array([0, 2, 2, 0, 1, 1], dtype=np.int32)
    with pytest.raises(ValueError, match="^label: integer class indices need class_names"):
        EvalSet.from_dataframe(table)
    es = EvalSet.from_dataframe(table, class_names=pd.Index(["cat", "dog", "fox"]))
    assert es.class_names == ["cat", "dog", "fox"]
    np.testing.assert_array_equal(es.predictions, [0, 2, 2, 0, 1, 1])
    table.loc[3, "label"] = 3
    with pytest.raises(
        ValueError, match=r"^label: index 3 at row 3 is outside the class range 0\.\.2"
    ):
        EvalSet.from_dataframe(table, class_names=["cat", "dog", "fox"])
    table.loc[3, "label"] = -1
    with pytest.raises(ValueError, match="-1 often marks an unlabelled sample"):
        EvalSet.from_dataframe(table, class_names=["cat", "dog", "fox"])


def test_given_class_names_fix_order_and_may_add_classes():
    es = EvalSet.from_dataframe(frame(), class_names=["fox", "dog", "cat", "owl"])
    np.testing.assert_array_equal(es.labels, [2, 1, 0, 2, 1, 0])
    assert es.n_classes == 4


@pytest.mark.parametrize(
    "change, error, message",
    [
        (dict(prediction="nope"), ValueError, r"^prediction: no column 'nope'; columns: \["),
        (
            dict(class_names=["cat", "dog"]),
            ValueError,
            r"^label: unknown class name 'fox' at row 2 \(1 unknown: \['fox'\]\)",
        ),
        (dict(label=[True] * 6), TypeError, "^label: expected class names or integer indices"),
        (dict(label=[0.5] * 6), TypeError, r"^label: expected class names or integer indices"),
        (dict(label=["cat", 1, "fox", "cat", "dog", "fox"]), TypeError, "^label: mixes class"),
        (
            dict(label=["cat", None, "fox", "cat", "dog", "fox"]),
            ValueError,
            "^label: missing value at row 1",
        ),
        (dict(label=["cat"] * 5), ValueError, r"^label: expected a column name or 6 values"),
        (dict(prediction=np.zeros((6, 2))), ValueError, r"^prediction: expected one value per row"),
        (dict(label=None), TypeError, "^label: expected a column name"),
        (dict(class_names="cat"), TypeError, "^class_names: expected an ordered list"),
        (dict(class_names={"cat", "dog", "fox"}), TypeError, "^class_names: expected an ordered"),
        (dict(image="picture"), ValueError, r"^image: no column 'picture'"),
        (dict(split="nope"), ValueError, "^split: no column 'nope'"),
        (dict(metadata=["nope"]), ValueError, r"^metadata: no column\(s\) \['nope'\]"),
        (dict(metadata=5), TypeError, "^metadata: expected a list of column names"),
    ],
)
def test_bad_arguments_name_themselves(change, error, message):
    with pytest.raises(error, match=message):
        EvalSet.from_dataframe(frame(), **change)


def test_bad_frames():
    with pytest.raises(TypeError, match="^df: expected a pandas DataFrame, got dict"):
        EvalSet.from_dataframe({"image": []})
    with pytest.raises(ValueError, match="^df: no rows"):
        EvalSet.from_dataframe(frame().iloc[:0])
    doubled = pd.concat([frame(), frame()[["label"]]], axis=1)
    with pytest.raises(ValueError, match=r"^df: duplicate column names \['label'\]"):
        EvalSet.from_dataframe(doubled)


# --------------------------------------------------------------------------- probabilities
def _probs():
    probs = np.full((6, 3), 0.1)
    probs[np.arange(6), [0, 2, 2, 0, 1, 1]] = 0.8
    return probs


def test_probabilities_as_list_column_prefix_columns_list_and_array():
    probs = _probs()
    listed = EvalSet.from_dataframe(frame(p=list(probs)), probabilities="p")
    np.testing.assert_allclose(listed.probabilities, probs, rtol=1e-6)
    assert listed.metadata is None  # the probability column is not metadata
    prefixed = frame()
    for column, name in [(2, "fox"), (0, "cat"), (1, "dog")]:  # any column order
        prefixed[f"prob_{name}"] = probs[:, column]
    es = EvalSet.from_dataframe(prefixed, probabilities="prob_")
    np.testing.assert_allclose(es.probabilities, probs, rtol=1e-6)
    assert es.metadata is None
    es = EvalSet.from_dataframe(prefixed, probabilities=["prob_cat", "prob_dog", "prob_fox"])
    np.testing.assert_allclose(es.probabilities, probs, rtol=1e-6)
    np.testing.assert_allclose(
        EvalSet.from_dataframe(frame(), probabilities=probs).probabilities, probs, rtol=1e-6
    )


def test_prefix_columns_add_classes_never_labelled():
    table = frame()
    probs = np.hstack([_probs() * 0.9, np.full((6, 1), 0.1)])
    for i, name in enumerate(["cat", "dog", "fox", "owl"]):
        table[f"prob_{name}"] = probs[:, i]
    es = EvalSet.from_dataframe(table, probabilities="prob_")
    assert es.class_names == ["cat", "dog", "fox", "owl"]


@pytest.mark.parametrize(
    "make, error, message",
    [
        (
            lambda t: t.drop(columns=["prob_dog"]),
            ValueError,
            r"^probabilities: missing column\(s\) \['prob_dog'\] \(1 of 3",
        ),
        (
            lambda t: t.assign(prob_owl=0.0),
            ValueError,
            r"^probabilities: column\(s\) \['prob_owl'\] start with 'prob_' but match no class",
        ),
        (
            lambda t: t.assign(prob_cat=["0.8"] * 6),
            TypeError,
            "^probabilities: expected numbers, got the string '0.8'",
        ),
    ],
)
def test_bad_prefix_columns(make, error, message):
    table = frame()
    for i, name in enumerate(["cat", "dog", "fox"]):
        table[f"prob_{name}"] = _probs()[:, i]
    with pytest.raises(error, match=message):
        EvalSet.from_dataframe(
            make(table), probabilities="prob_", class_names=["cat", "dog", "fox"]
        )


@pytest.mark.parametrize(
    "values, error, message",
    [
        ([[0.5, 0.5]] * 6, ValueError, r"^probabilities: row 0 has 2 values, expected 3"),
        ([None] + [[0.2, 0.3, 0.5]] * 5, ValueError, "^probabilities: missing value at row 0"),
        (["0.2,0.3,0.5"] * 6, TypeError, "^probabilities: row 0 is a str"),
        ([["a", "b", "c"]] * 6, TypeError, "^probabilities: expected numbers"),
    ],
)
def test_bad_list_column(values, error, message):
    with pytest.raises(error, match=message):
        EvalSet.from_dataframe(frame(p=values), probabilities="p")


def test_probabilities_that_disagree_with_predictions_warn():
    probs = _probs()[:, [1, 0, 2]]  # columns in the wrong class order
    with pytest.warns(UserWarning, match=r"^predictions: 4 of 6 predictions are not the argmax"):
        EvalSet.from_dataframe(frame(), probabilities=probs)


# --------------------------------------------------------------------------- metadata
def test_metadata_none_all_rest_empty_list_and_explicit():
    table = frame(a=range(6), b=list("xyzxyz"))
    assert list(EvalSet.from_dataframe(table).metadata.columns) == ["a", "b"]
    assert EvalSet.from_dataframe(table, metadata=[]).metadata is None
    assert list(EvalSet.from_dataframe(table, metadata="b").metadata.columns) == ["b"]
    kept = EvalSet.from_dataframe(table, metadata=["b", "label"]).metadata
    assert list(kept["label"]) == LABELS  # a used column may be kept on purpose
    es = EvalSet.from_dataframe(table, label=np.array(LABELS), prediction=PREDICTIONS)
    assert list(es.metadata.columns) == ["label", "prediction", "a", "b"]


# --------------------------------------------------------------------------- properties
@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.sampled_from(["ant", "bee", "cow", "Dog", "émeu", "10", "9"]), min_size=1, max_size=12
    ),
    st.data(),
)
def test_names_round_trip(labels, data):
    predictions = data.draw(
        st.lists(st.sampled_from(labels), min_size=len(labels), max_size=len(labels))
    )
    table = pd.DataFrame(
        {
            "image": [np.zeros((2, 2, 3), np.uint8)] * len(labels),
            "label": labels,
            "prediction": predictions,
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        es = EvalSet.from_dataframe(table)
    assert es.class_names == sorted(set(labels) | set(predictions))
    assert [es.class_names[i] for i in es.labels] == labels
    assert [es.class_names[i] for i in es.predictions] == predictions
    np.testing.assert_array_equal(es.correct, np.array(labels) == np.array(predictions))


def test_series_arguments_must_share_the_frames_index():
    table = frame()
    table.index = [10, 11, 12, 13, 14, 15]
    shuffled = pd.Series(PREDICTIONS, index=table.index)[::-1]
    with pytest.raises(ValueError, match="^prediction: its index differs from df's index"):
        EvalSet.from_dataframe(table, prediction=shuffled)
    es = EvalSet.from_dataframe(table, prediction=shuffled.reindex(table.index))
    np.testing.assert_array_equal(es.predictions, [0, 2, 2, 0, 1, 1])
    probs = pd.DataFrame(np.full((6, 3), 1 / 3))
    with pytest.raises(ValueError, match="^probabilities: its index differs"):
        EvalSet.from_dataframe(table, probabilities=probs)
