"""EvalSet: construction, groupings, masks, accuracies and every documented bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import make_small_evalset
from PIL import Image

from failwidgets.data import EvalSet

NAMES = ["cat", "dog", "fox"]


def arrays(n=6):
    images = np.zeros((n, 8, 8, 3), dtype=np.uint8)
    labels = np.array([0, 0, 1, 1, 2, 2])[:n]
    preds = np.array([0, 1, 1, 0, 2, 2])[:n]
    return images, labels, preds


def test_groupings_masks_and_accuracy():
    images, labels, preds = arrays()
    es = EvalSet.from_arrays(images, labels, preds, NAMES)
    assert es.n == 6 and len(es) == 6
    np.testing.assert_array_equal(es.correct, [True, False, True, False, True, True])
    np.testing.assert_array_equal(es.incorrect, ~es.correct)
    # label grouping: samples labelled dog (errors are false negatives)
    np.testing.assert_array_equal(es.label_group("dog"), [2, 3])
    # prediction grouping: samples predicted dog (errors are false positives)
    np.testing.assert_array_equal(es.prediction_group("dog"), [1, 2])
    np.testing.assert_array_equal(es.group(0, by="prediction"), [0, 3])
    acc = es.accuracy_per_class()
    assert list(acc.index) == NAMES
    np.testing.assert_allclose(acc.to_numpy(), [0.5, 0.5, 1.0])
    np.testing.assert_allclose(es.accuracy_per_class([0, 4]).to_numpy(), [1.0, np.nan, 1.0])


def test_split_metadata_probabilities_subset():
    images, labels, preds = arrays()
    probs = np.full((6, 3), 1 / 3)
    meta = pd.DataFrame({"bg": list("abcabc")}, index=range(10, 16))
    es = EvalSet.from_arrays(
        images,
        labels,
        preds,
        NAMES,
        probabilities=probs,
        metadata=meta,
        split=["train", "train", "val", "val", "test", "test"],
    )
    np.testing.assert_array_equal(es.split_indices("val"), [2, 3])
    assert list(es.metadata.index) == list(range(6))
    sub = es.subset([1, 4])
    assert sub.n == 2 and list(sub.split) == ["train", "test"]
    assert list(sub.metadata["bg"]) == ["b", "b"]
    assert sub.images_at([0, 1]).shape == (2, 8, 8, 3)
    assert "splits=test/train/val" in repr(es)
    with pytest.raises(
        ValueError,
        match=r"^split: no samples in split 'holdout'; splits: \['test', 'train', 'val'\]$",
    ):
        es.split_indices("holdout")
    with pytest.raises(ValueError, match="^heldout_split: no samples in split 'tset'"):
        es.split_indices("tset", argument="heldout_split")
    with pytest.raises(TypeError, match="^split: expected a split name"):
        es.split_indices(0)


@pytest.mark.parametrize(
    "change, error, message",
    [
        (dict(predictions=[0, 1]), ValueError, "predictions: length 2 differs"),
        (dict(labels=[0, 0, 1, 1, 2, 3]), ValueError, r"labels: value 3 at position 5 is outside"),
        (dict(predictions=[0, 0, 1, 1, 2, -1]), ValueError, "predictions: value -1"),
        (dict(labels=[0.5] * 6), TypeError, "labels: expected integer"),
        (dict(class_names=["cat", "dog", "cat"]), ValueError, "duplicate class name 'cat'"),
        (dict(class_names="cat"), TypeError, "class_names"),
        (dict(probabilities=np.full((6, 3), np.nan)), ValueError, "probabilities: contains NaN"),
        (dict(probabilities=np.full((6, 3), 0.5)), ValueError, "probabilities: row 0 sums to 1.5"),
        (
            dict(probabilities=np.full((6, 2), 0.5)),
            ValueError,
            r"probabilities: expected shape \(6, 3\)",
        ),
        (
            dict(images=np.zeros((6, 8, 8, 3), dtype=np.float32)),
            TypeError,
            "images: expected dtype uint8",
        ),
        (
            dict(images=np.zeros((6, 8, 8), dtype=np.uint8)),
            ValueError,
            r"images: expected shape \(N, H, W, 3\)",
        ),
        (
            dict(images=np.zeros((5, 8, 8, 3), dtype=np.uint8)),
            ValueError,
            "images: 5 images for 6 labels",
        ),
        (dict(metadata=pd.DataFrame({"a": [1, 2]})), ValueError, "metadata: 2 rows for 6 samples"),
        (dict(metadata={"a": 1}), TypeError, "metadata: expected a pandas DataFrame"),
        (dict(split=["train"] * 5), ValueError, "split: expected 6 split names"),
        (
            dict(labels=[], predictions=[], images=np.zeros((0, 8, 8, 3), np.uint8)),
            ValueError,
            "at least one sample",
        ),
        (dict(images=42), TypeError, "images: expected a uint8 array"),
    ],
)
def test_bad_input_names_argument(change, error, message):
    images, labels, preds = arrays()
    kwargs = dict(images=images, labels=labels, predictions=preds, class_names=NAMES)
    kwargs.update(change)
    with pytest.raises(error, match=message):
        EvalSet.from_arrays(**kwargs)


def test_bad_lookups(small_evalset):
    with pytest.raises(ValueError, match="cls: unknown class 'zebra'"):
        small_evalset.label_group("zebra")
    with pytest.raises(ValueError, match="cls: class index 7"):
        small_evalset.prediction_group(7)
    with pytest.raises(ValueError, match="by: expected 'label' or 'prediction'"):
        small_evalset.group(0, by="confidence")
    with pytest.raises(ValueError, match="indices: index 60 outside"):
        small_evalset.images_at([0, 60])
    with pytest.raises(TypeError, match="indices: expected integer"):
        small_evalset.images_at([0.5])
    with pytest.raises(IndexError, match="index: 99"):
        small_evalset.image(99)


def _write_folder(tmp_path, corrupt=None):
    root = tmp_path / "imgs"
    rows = []
    rng = np.random.default_rng(1)
    for ci, name in enumerate(["bird", "plane"]):
        (root / name).mkdir(parents=True)
        for j in range(3):
            rel = f"{name}/{j}.png"
            Image.fromarray(rng.integers(0, 255, (10, 12, 3), dtype=np.uint8)).save(root / rel)
            predicted = ["bird", "plane"][(ci + j) % 2]
            rows.append(
                {
                    "path": rel,
                    "prediction": predicted,
                    "prob_bird": 0.7 if predicted == "bird" else 0.3,
                    "prob_plane": 0.3 if predicted == "bird" else 0.7,
                    "split": "test",
                    "weather": "sun",
                }
            )
    if corrupt:
        (root / corrupt).write_bytes(b"not a png")
    csv = tmp_path / "preds.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    return root, csv


def test_from_folder_lazy_paths(tmp_path):
    root, csv = _write_folder(tmp_path)
    es = EvalSet.from_folder(root, csv)
    assert es.class_names == ["bird", "plane"]
    np.testing.assert_array_equal(es.labels, [0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(es.predictions, [0, 1, 0, 1, 0, 1])
    assert es.image(4).shape == (10, 12, 3) and es.image(4).dtype == np.uint8
    assert list(es.metadata.columns) == ["weather"]
    assert es.probabilities.shape == (6, 2)


def test_from_folder_unreadable_file_names_path(tmp_path):
    root, csv = _write_folder(tmp_path, corrupt="plane/1.png")
    es = EvalSet.from_folder(root, csv)
    with pytest.raises(ValueError, match=r"cannot read image file .*plane/1.png"):
        es.image(4)
    table = pd.read_csv(csv)
    table.loc[0, "path"] = "bird/missing.png"
    table.to_csv(csv, index=False)
    with pytest.raises(ValueError, match="file not found: .*bird/missing.png"):
        EvalSet.from_folder(root, csv)


def test_from_model_with_dataset_and_loader():
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(0)
    x = torch.rand(10, 3, 4, 4)
    y = torch.tensor([0, 1] * 5)

    class Model(torch.nn.Module):
        def forward(self, inputs):
            mean = inputs.mean(dim=(1, 2, 3))
            return torch.stack([mean, 1 - mean], dim=1) * 10

    dataset = TensorDataset(x, y)
    model = Model().train()
    es = EvalSet.from_model(model, dataset, ["a", "b"], batch_size=3, progress=False)
    assert model.training, "the model's training flag is restored"
    expected = (x.mean(dim=(1, 2, 3)) < 0.5).long().numpy()
    np.testing.assert_array_equal(es.predictions, expected)
    np.testing.assert_allclose(es.probabilities.sum(1), 1, atol=1e-6)
    assert es.image(0).dtype == np.uint8 and es.image(0).shape == (4, 4, 3)
    es2 = EvalSet.from_model(model, DataLoader(dataset, batch_size=4), ["a", "b"], progress=False)
    np.testing.assert_array_equal(es2.predictions, es.predictions)
    with pytest.raises(TypeError, match="data: expected a torch Dataset"):
        EvalSet.from_model(model, 5, ["a", "b"])
    with pytest.raises(ValueError, match="class_names: not given"):
        EvalSet.from_model(model, dataset, progress=False)


def test_xss_class_name_kept_verbatim():
    es = make_small_evalset(class_names=["<img src=x onerror=alert(1)>", "b", "c"])
    assert es.class_names[0] == "<img src=x onerror=alert(1)>"
