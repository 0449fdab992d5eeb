"""EvalSet.from_model on a Hugging Face Dataset: predictions from the model, images, class
names and metadata from the dataset, in the dataset's order."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

datasets = pytest.importorskip("datasets")

from failwidgets.data import EvalSet  # noqa: E402

NAMES = ["red", "green", "blue"]
torch.set_num_threads(1)


class ChannelNet(nn.Module):
    """Predicts the brightest colour channel."""

    def forward(self, x):
        return 10.0 * x.mean(dim=(2, 3))


def make_dataset(n=30, size=8, seed=0, sizes=None):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    images = []
    for i, label in enumerate(labels):
        side = size if sizes is None else sizes[i % len(sizes)]
        image = rng.integers(0, 60, size=(side, side, 3), dtype=np.uint8)
        tint = label if i % 5 else (label + 1) % 3  # every fifth image wears another colour
        image[..., tint] = 220
        images.append(image)
    features = datasets.Features(
        {
            "image": datasets.Image(),
            "label": datasets.ClassLabel(names=NAMES),
            "striped": datasets.Value("bool"),
            "source": datasets.Value("string"),
        }
    )
    data = {
        "image": images,
        "label": labels.tolist(),
        "striped": (np.arange(n) % 5 == 0).tolist(),
        "source": ["cam-a" if i % 2 else "cam-b" for i in range(n)],
    }
    return datasets.Dataset.from_dict(data, features=features), np.stack(
        images
    ) if sizes is None else None


def test_predictions_images_names_and_metadata_come_in_dataset_order():
    dataset, images = make_dataset()
    evalset = EvalSet.from_model(ChannelNet(), dataset, progress=False, batch_size=7)
    assert evalset.class_names == NAMES
    np.testing.assert_array_equal(evalset.labels, dataset["label"])
    np.testing.assert_array_equal(evalset.images_at(np.arange(evalset.n)), images)
    expected = images.reshape(len(images), -1, 3).mean(axis=1).argmax(axis=1)
    np.testing.assert_array_equal(evalset.predictions, expected)
    assert not evalset.correct[::5].any() and evalset.correct[1::5].all()
    assert set(evalset.metadata.columns) == {"striped", "source"}
    assert evalset.metadata["striped"].tolist() == dataset["striped"]


def test_split_and_explicit_columns():
    dataset, _ = make_dataset()
    dataset = dataset.rename_columns({"image": "pixels", "label": "target"})
    split = np.where(np.arange(len(dataset)) % 2, "val", "test")
    evalset = EvalSet.from_model(
        ChannelNet(), dataset, split=split, input_key="pixels", label_key="target", progress=False
    )
    assert evalset.class_names == NAMES
    assert list(evalset.split) == list(split)


def test_images_of_different_sizes_get_a_clear_error():
    dataset, _ = make_dataset(n=10, sizes=[8, 9])
    with pytest.raises(ValueError, match=r"^data: the dataset's images have different sizes"):
        EvalSet.from_model(ChannelNet(), dataset, progress=False, batch_size=4)


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(images=np.zeros((30, 8, 8, 3), np.uint8)), r"^images: not used with a Hugging Face"),
        (dict(input_key="nope"), r"^input_key: no column 'nope'"),
        (dict(label_key="nope"), r"^label_key: no column 'nope'"),
    ],
)
def test_bad_arguments_name_themselves(kwargs, pattern):
    dataset, _ = make_dataset()
    with pytest.raises(ValueError, match=pattern):
        EvalSet.from_model(ChannelNet(), dataset, progress=False, **kwargs)


def test_no_image_column_is_named():
    dataset = datasets.Dataset.from_dict({"x": [1, 2], "label": [0, 1]})
    with pytest.raises(ValueError, match=r"^input_key: cannot tell which column holds the images"):
        EvalSet.from_model(ChannelNet(), dataset, NAMES, progress=False)
