"""EvalSet.from_huggingface on small datasets built locally (never the hub): lazy decoding,
ClassLabel names, predictions as a column or an array, metadata defaults, bad inputs."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest
from datasets import (
    Array3D,
    ClassLabel,
    Dataset,
    DatasetDict,
    Features,
    Sequence,
    Value,
)
from datasets import Image as HFImage
from PIL import Image

from failwidgets.data import EvalSet
from failwidgets.images import HuggingFaceImages

RNG = np.random.default_rng(3)
PICTURES = [RNG.integers(0, 256, (6, 4, 3), dtype=np.uint8) for _ in range(8)]
NAMES = ["ant", "bee", "cow"]
LABELS = [0, 1, 2, 0, 1, 2, 0, 1]


def _png(array) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


def make_dataset(images=None, **columns):
    data = {
        "image": [{"bytes": _png(p), "path": None} for p in PICTURES] if images is None else images,
        "label": LABELS,
        "weather": list("sssrrrss"),
        "place": [0, 1, 0, 1, 0, 1, 0, 1],
        "mask": [{"bytes": _png(p), "path": None} for p in PICTURES],
        "scores": [[0.1, 0.2]] * 8,
    }
    features = {
        "image": HFImage(),
        "label": ClassLabel(names=NAMES),
        "weather": Value("string"),
        "place": ClassLabel(names=["indoor", "outdoor"]),
        "mask": HFImage(),
        "scores": Sequence(Value("float32")),
    }
    for name, (values, feature) in columns.items():
        data[name] = values
        features[name] = feature
    return Dataset.from_dict(data, features=Features(features))


def test_class_label_names_lazy_images_and_metadata_default():
    es = EvalSet.from_huggingface(make_dataset(), prediction=[0, 1, 2, 1, 1, 2, 0, 0])
    assert es.class_names == NAMES
    np.testing.assert_array_equal(es.labels, LABELS)
    np.testing.assert_array_equal(es.predictions, [0, 1, 2, 1, 1, 2, 0, 0])
    assert isinstance(es.images, HuggingFaceImages)
    for i in (0, 7, 3):
        np.testing.assert_array_equal(es.image(i), PICTURES[i])
    np.testing.assert_array_equal(es.images_at([5, 2]), np.stack([PICTURES[5], PICTURES[2]]))
    # scalar features only, ClassLabel metadata shown by name; other images and lists left out
    assert list(es.metadata.columns) == ["weather", "place"]
    assert list(es.metadata["place"][:2]) == ["indoor", "outdoor"]


def test_images_are_decoded_lazily():
    images = [{"bytes": _png(p), "path": None} for p in PICTURES]
    images[5] = {"bytes": b"not an image", "path": None}
    es = EvalSet.from_huggingface(make_dataset(images), prediction=LABELS)  # nothing decoded
    np.testing.assert_array_equal(es.image(4), PICTURES[4])
    with pytest.raises(ValueError, match="^image: row 5: cannot decode the image"):
        es.image(5)
    with pytest.raises(ValueError, match="^image: row 5: cannot decode the image"):
        es.images_at([4, 5])


def test_prediction_column_names_and_probabilities_column():
    predictions = (["cow"] * 8, Value("string"))
    probs = np.full((8, 3), 0.25)
    probs[:, 2] = 0.5
    dataset = make_dataset(pred=predictions, probs=(probs.tolist(), Sequence(Value("float64"))))
    es = EvalSet.from_huggingface(dataset, prediction="pred", probabilities="probs")
    np.testing.assert_array_equal(es.predictions, [2] * 8)
    np.testing.assert_allclose(es.probabilities, probs)
    assert "pred" not in es.metadata.columns and "probs" not in es.metadata.columns


def test_prefix_probabilities_split_and_explicit_metadata():
    probs = np.full((8, 3), 0.2)
    probs[:, 0] = 0.6
    extra = {f"p_{name}": (probs[:, i].tolist(), Value("float32")) for i, name in enumerate(NAMES)}
    extra["part"] = (["val"] * 4 + ["test"] * 4, Value("string"))
    dataset = make_dataset(**extra)
    with pytest.warns(UserWarning, match="not the argmax"):
        es = EvalSet.from_huggingface(
            dataset, prediction=LABELS, probabilities="p_", split="part", metadata=["weather"]
        )
    np.testing.assert_allclose(es.probabilities, probs, rtol=1e-6)
    assert list(es.split[:5]) == ["val"] * 4 + ["test"]
    assert list(es.metadata.columns) == ["weather"]
    assert EvalSet.from_huggingface(dataset, prediction=LABELS, metadata=[]).metadata is None


def test_shuffled_and_selected_datasets_keep_rows_together():
    dataset = make_dataset().shuffle(seed=1).select([5, 0, 3])
    es = EvalSet.from_huggingface(dataset, prediction="label")
    for i in range(3):
        original = int(np.flatnonzero([np.array_equal(es.image(i), p) for p in PICTURES])[0])
        assert es.labels[i] == LABELS[original]


def test_torch_format_and_array_features():
    es = EvalSet.from_huggingface(make_dataset().with_format("torch"), prediction=LABELS)
    np.testing.assert_array_equal(es.image(1), PICTURES[1])
    floats = [(p / 255.0).astype(np.float32) for p in PICTURES]
    data = {"pixels": [f.tolist() for f in floats], "label": LABELS}
    features = Features({"pixels": Array3D((6, 4, 3), "float32"), "label": ClassLabel(names=NAMES)})
    dataset = Dataset.from_dict(data, features=features)
    es = EvalSet.from_huggingface(dataset, image="pixels", prediction=LABELS)
    np.testing.assert_array_equal(es.image(2), PICTURES[2])


def test_float_images_outside_unit_range_refused():
    data = {"pixels": [np.full((2, 2, 3), 255.0).tolist()] * 8, "label": LABELS}
    features = Features({"pixels": Array3D((2, 2, 3), "float32"), "label": ClassLabel(names=NAMES)})
    es = EvalSet.from_huggingface(
        Dataset.from_dict(data, features=features), image="pixels", prediction=LABELS
    )
    with pytest.raises(ValueError, match=r"^image: row 0 has float values in \[255, 255\]"):
        es.image(0)


def test_label_without_class_label():
    dataset = make_dataset(name=(["bee"] * 8, Value("string")))
    es = EvalSet.from_huggingface(dataset, label="name", prediction=["bee", "ant"] * 4)
    assert es.class_names == ["ant", "bee"]
    plain = Dataset.from_dict(
        {"image": [Image.fromarray(p) for p in PICTURES], "y": LABELS},
        features=Features({"image": HFImage(), "y": Value("int64")}),
    )
    with pytest.raises(ValueError, match="^label: integer class indices need class_names"):
        EvalSet.from_huggingface(plain, label="y", prediction=LABELS)
    es = EvalSet.from_huggingface(plain, label="y", prediction=LABELS, class_names=NAMES)
    assert es.class_names == NAMES and es.correct.all()


@pytest.mark.parametrize(
    "make, kwargs, error, message",
    [
        (
            lambda d: DatasetDict(test=d),
            {},
            TypeError,
            r"^dataset: a DatasetDict with splits \['test'\]",
        ),
        (lambda d: d.to_iterable_dataset(), {}, TypeError, "^dataset: an IterableDataset"),
        (lambda d: d.to_pandas(), {}, TypeError, "^dataset: expected a datasets.Dataset"),
        (lambda d: d.select([]), {}, ValueError, "^dataset: no rows"),
        (lambda d: d, dict(image="img"), ValueError, "^image: no column 'img' in the dataset"),
        (lambda d: d, dict(label="y"), ValueError, "^label: no column 'y'"),
        (
            lambda d: d,
            dict(prediction=[0, 1]),
            ValueError,
            "^prediction: expected a column name or 8",
        ),
        (lambda d: d, dict(prediction=[0] * 7 + [3]), ValueError, "^prediction: index 3 at row 7"),
        (
            lambda d: d,
            dict(prediction=["ant"] * 7 + ["elk"]),
            ValueError,
            "^prediction: unknown class name 'elk'",
        ),
        (
            lambda d: d,
            dict(class_names=["a", "b", "c"]),
            ValueError,
            r"^class_names: \['a', 'b', 'c'\] differ",
        ),
        (
            lambda d: d,
            dict(probabilities="scores"),
            ValueError,
            "^probabilities: row 0 has 2 values, expected 3",
        ),
        (lambda d: d, dict(metadata=["nope"]), ValueError, r"^metadata: no column\(s\) \['nope'\]"),
        (
            lambda d: d.cast_column("place", ClassLabel(names=["x", "y"])),
            dict(prediction="place"),
            ValueError,
            "^prediction: the ClassLabel names of column 'place'",
        ),
    ],
)
def test_bad_inputs_name_their_argument(make, kwargs, error, message):
    kwargs = {"prediction": LABELS, **kwargs}
    with pytest.raises(error, match=message):
        EvalSet.from_huggingface(make(make_dataset()), **kwargs)


def test_unlabelled_split_gets_a_hint():
    dataset = make_dataset().map(lambda row: {"label": -1})
    with pytest.raises(
        ValueError, match=r"^label: index -1 at row 0 .*-1 often marks an unlabelled"
    ):
        EvalSet.from_huggingface(dataset, prediction=LABELS)


def test_missing_datasets_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(ImportError, match=r"pip install failwidgets\[hf\]"):
        EvalSet.from_huggingface(object(), prediction=LABELS)
