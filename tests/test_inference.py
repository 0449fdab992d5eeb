"""predict_dataset / EvalSet.from_model: batch formats, order safety, fast paths equal the plain loop."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch.utils.data import (  # noqa: E402
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
    TensorDataset,
)

from failwidgets.data import EvalSet  # noqa: E402
from failwidgets.inference import (  # noqa: E402
    default_num_workers,
    predict_dataset,
    prepare_inputs,
    resolve_autocast,
)

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
NAMES = [f"c{i}" for i in range(5)]


def small_net(seed: int = 0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(8, 5),
    )


def uint8_images(n: int = 40, size: int = 12, seed: int = 0) -> torch.Tensor:
    """(N, 3, H, W) uint8 images whose predictions differ from image to image."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, size, size), generator=gen, dtype=torch.uint8)


def plain_loop(model, x_float: torch.Tensor, batch_size: int = 8) -> np.ndarray:
    """The reference: the old loop's probabilities, on float inputs prepared on the CPU."""
    with torch.inference_mode():
        chunks = [
            torch.softmax(model.eval()(x_float[i : i + batch_size]).float(), dim=1)
            for i in range(0, len(x_float), batch_size)
        ]
    probs = torch.cat(chunks).numpy().astype(np.float64)
    return probs / probs.sum(axis=1, keepdims=True)


def run(model, data, **kwargs):
    kwargs.setdefault("device", "cpu")
    kwargs.setdefault("progress", False)
    return predict_dataset(model, data, **kwargs)


class DictDataset(Dataset):
    """Items as dicts, as Hugging Face datasets with a torch transform give them."""

    def __init__(self, images, labels, image_key="pixel_values", label_key="labels"):
        self.images, self.labels = images, labels
        self.image_key, self.label_key = image_key, label_key

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return {self.image_key: self.images[i], self.label_key: self.labels[i], "id": i}


class ItemDataset(Dataset):
    """A plain map-style dataset (not a TensorDataset): goes through a DataLoader."""

    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i], int(self.labels[i])


# ---------------------------------------------------------------------- order safety


def test_shuffled_loader_is_refused_instead_of_misaligning_labels():
    images = uint8_images(40)
    labels = torch.arange(40) % 5
    dataset = TensorDataset(images, labels)
    with pytest.raises(ValueError, match=r"data: .*RandomSampler.*shuffle=False"):
        run(small_net(), DataLoader(dataset, batch_size=8, shuffle=True))
    ordered = run(small_net(), DataLoader(dataset, batch_size=8, shuffle=False))
    np.testing.assert_array_equal(ordered.labels, labels.numpy())
    es = EvalSet.from_model(small_net(), dataset, NAMES, batch_size=7, device="cpu", progress=False)
    np.testing.assert_array_equal(es.labels, labels.numpy())
    for i in (0, 13, 39):  # each label stays with its own image
        np.testing.assert_array_equal(es.image(i), images[i].permute(1, 2, 0).numpy())


class EveryOther(Sampler):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(list(range(0, self.n, 2)) + list(range(1, self.n, 2)))

    def __len__(self):
        return self.n


@pytest.mark.parametrize(
    "make_loader, message",
    [
        (lambda d: DataLoader(d, sampler=RandomSampler(d)), "RandomSampler"),
        (lambda d: DataLoader(d, sampler=EveryOther(len(d))), "EveryOther"),
        (lambda d: DataLoader(d, batch_size=3, drop_last=True), "drop_last"),
        (lambda d: DataLoader(d, batch_size=None), "batch_size=None"),
        (
            lambda d: DataLoader(d, batch_sampler=[[1, 0], [2, 3], [4, 5], [6, 7], [8, 9]]),
            "batch_sampler",
        ),
    ],
)
def test_loaders_that_break_dataset_order_are_refused(make_loader, message):
    dataset = TensorDataset(uint8_images(10), torch.arange(10) % 5)
    with pytest.raises(ValueError, match=message) as info:
        run(small_net(), make_loader(dataset))
    assert str(info.value).startswith("data: ") and "pass the Dataset itself" in str(info.value)


def test_explicit_sequential_sampler_is_accepted():
    dataset = TensorDataset(uint8_images(10), torch.arange(10) % 5)
    loader = DataLoader(dataset, batch_size=4, sampler=SequentialSampler(dataset))
    np.testing.assert_array_equal(run(small_net(), loader).labels, np.arange(10) % 5)


def test_iterable_dataset_and_other_objects_are_refused():
    class Stream(IterableDataset):
        def __iter__(self):
            yield from zip(uint8_images(4), range(4))

    with pytest.raises(TypeError, match="data: an IterableDataset"):
        run(small_net(), Stream())
    with pytest.raises(TypeError, match="data: expected a torch Dataset"):
        run(small_net(), 5)
    with pytest.raises(ValueError, match="data: the dataset is empty"):
        run(small_net(), TensorDataset(uint8_images(0), torch.zeros(0, dtype=torch.long)))


# ---------------------------------------------------------------------- batch formats


def test_dict_batches_give_the_same_result_as_tuples():
    images, labels = uint8_images(20), torch.arange(20) % 5
    expected = run(small_net(), TensorDataset(images, labels), batch_size=6)
    for image_key, label_key in (("pixel_values", "labels"), ("image", "label"), ("img", "label")):
        got = run(small_net(), DictDataset(images, labels, image_key, label_key), batch_size=6)
        np.testing.assert_array_equal(got.labels, expected.labels)
        np.testing.assert_array_equal(got.probabilities, expected.probabilities)
    custom = DictDataset(images, labels, "photo", "fine_label")
    got = run(small_net(), custom, batch_size=6, input_key="photo", label_key="fine_label")
    np.testing.assert_array_equal(got.probabilities, expected.probabilities)


def test_dict_batch_with_unknown_keys_lists_the_keys_found():
    dataset = DictDataset(uint8_images(4), torch.arange(4), "photo", "target")
    with pytest.raises(
        ValueError, match=r"'pixel_values'.*input_key=.*\['photo', 'target', 'id'\]"
    ):
        run(small_net(), dataset)
    with pytest.raises(ValueError, match=r"'labels'.*label_key="):
        run(small_net(), dataset, input_key="photo")


def test_from_model_with_dict_items_shows_the_input_images():
    images, labels = uint8_images(6), torch.arange(6) % 5
    es = EvalSet.from_model(
        small_net(), DictDataset(images, labels), NAMES, device="cpu", progress=False
    )
    np.testing.assert_array_equal(es.image(4), images[4].permute(1, 2, 0).numpy())
    np.testing.assert_array_equal(es.labels, labels.numpy())


def test_hugging_face_style_model_outputs_are_accepted():
    class Output:
        def __init__(self, logits):
            self.logits = logits

    class HFNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = small_net()

        def forward(self, pixel_values):
            return Output(self.net(pixel_values))

    dataset = TensorDataset(uint8_images(8), torch.arange(8) % 5)
    expected = run(small_net(), dataset).probabilities
    np.testing.assert_array_equal(run(HFNet(), dataset).probabilities, expected)
    as_dict = lambda x: {"logits": small_net()(x)}  # noqa: E731
    np.testing.assert_array_equal(run(as_dict, dataset).probabilities, expected)


def test_bad_batches_labels_and_outputs_are_named():
    images = uint8_images(4)
    with pytest.raises(ValueError, match="model: expected logits"):
        run(lambda x: torch.zeros(len(x), 2, 2), TensorDataset(images, torch.arange(4)))
    with pytest.raises(ValueError, match="model: expected logits"):
        run(lambda x: torch.zeros(len(x) + 1, 3), TensorDataset(images, torch.arange(4)))
    with pytest.raises(TypeError, match="model: expected it to return a logits"):
        run(lambda x: (x,), TensorDataset(images, torch.arange(4)))
    with pytest.raises(TypeError, match="labels: expected integer"):
        run(small_net(), TensorDataset(images, torch.rand(4)))
    with pytest.raises(ValueError, match="labels: expected one class index"):
        run(small_net(), TensorDataset(images, torch.zeros(4, 2, dtype=torch.long)))
    with pytest.raises(ValueError, match=r"data: each batch must be a tuple"):
        run(small_net(), TensorDataset(images))
    with pytest.raises(TypeError, match="model: expected a callable"):
        run("resnet", TensorDataset(images, torch.arange(4)))
    with pytest.raises(ValueError, match="batch_size: must be positive"):
        run(small_net(), TensorDataset(images, torch.arange(4)), batch_size=0)
    with pytest.raises(TypeError, match="batch_size: expected an integer"):
        run(small_net(), TensorDataset(images, torch.arange(4)), batch_size=2.5)


def test_training_flag_is_restored_even_on_error():
    model = small_net().train()
    run(model, TensorDataset(uint8_images(4), torch.arange(4)))
    assert model.training
    with pytest.raises(TypeError, match="labels"):
        run(model, TensorDataset(uint8_images(4), torch.rand(4)))
    assert model.training


# ---------------------------------------------------------------------- fast paths


def test_uint8_path_equals_cpu_conversion_exactly():
    images, labels = uint8_images(30), torch.arange(30) % 5
    model = small_net()
    x = images.float() / 255.0
    np.testing.assert_array_equal(
        run(model, TensorDataset(images, labels), batch_size=8).probabilities, plain_loop(model, x)
    )
    normalised = (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    expected = plain_loop(model, normalised)
    got = run(model, TensorDataset(images, labels), batch_size=8, mean=MEAN, std=STD)
    np.testing.assert_array_equal(got.probabilities, expected)
    np.testing.assert_array_equal(got.predictions, expected.argmax(1))
    with torch.inference_mode():
        on_device = prepare_inputs(images, torch.device("cpu"), _normaliser_of(MEAN, STD))
    assert torch.equal(on_device, normalised)


def _normaliser_of(mean, std):
    from failwidgets.inference import _normaliser

    return _normaliser(mean, std, torch.device("cpu"))


def test_channels_last_uint8_equals_channels_first():
    images, labels = uint8_images(12), torch.arange(12) % 5
    first = run(small_net(), TensorDataset(images, labels), mean=MEAN, std=STD)
    last = run(
        small_net(),
        TensorDataset(images.permute(0, 2, 3, 1).contiguous(), labels),
        mean=MEAN,
        std=STD,
    )
    np.testing.assert_array_equal(first.probabilities, last.probabilities)


def test_every_loading_path_gives_the_same_outputs():
    images, labels = uint8_images(25), torch.arange(25) % 5
    model = small_net()
    reference = run(model, TensorDataset(images, labels), batch_size=25)
    variants = [
        run(model, TensorDataset(images, labels), batch_size=4),
        run(model, ItemDataset(images, labels), batch_size=6),
        run(model, ItemDataset(images, labels), batch_size=6, num_workers=1),
        run(model, DataLoader(TensorDataset(images, labels), batch_size=9)),
        run(model, TensorDataset(images.float() / 255.0, labels), batch_size=5),
    ]
    for got in variants:
        np.testing.assert_array_equal(got.labels, reference.labels)
        np.testing.assert_allclose(got.probabilities, reference.probabilities, atol=1e-6)
        np.testing.assert_array_equal(got.predictions, reference.predictions)


def test_float_inputs_are_passed_as_they_are():
    x = torch.rand(6, 3, 10, 10) * 7 - 3  # already the model's input, any range
    model = small_net()
    got = run(model, TensorDataset(x, torch.arange(6) % 5), batch_size=4)
    np.testing.assert_array_equal(got.probabilities, plain_loop(model, x, batch_size=4))


@pytest.mark.parametrize("autocast", ["bf16", torch.bfloat16])
def test_bf16_autocast_on_cpu_gives_close_float32_probabilities(autocast):
    images, labels = uint8_images(16), torch.arange(16) % 5
    full = run(small_net(), TensorDataset(images, labels), mean=MEAN, std=STD)
    half = run(small_net(), TensorDataset(images, labels), mean=MEAN, std=STD, autocast=autocast)
    assert half.probabilities.dtype == np.float64
    np.testing.assert_allclose(half.probabilities.sum(1), 1.0, atol=1e-9)
    np.testing.assert_allclose(half.probabilities, full.probabilities, atol=2e-2)
    assert not np.array_equal(half.probabilities, full.probabilities)  # it did run in bf16


def test_bad_autocast_mean_and_std_are_named():
    dataset = TensorDataset(uint8_images(4), torch.arange(4))
    with pytest.raises(ValueError, match="autocast: expected None, 'bf16'"):
        run(small_net(), dataset, autocast="int8")
    assert resolve_autocast("FP16") is torch.float16 and resolve_autocast(None) is None
    with pytest.raises(ValueError, match="mean/std: pass both"):
        run(small_net(), dataset, mean=MEAN)
    with pytest.raises(ValueError, match="std: every value must be positive"):
        run(small_net(), dataset, mean=MEAN, std=(0.2, 0.0, 0.2))
    with pytest.raises(ValueError, match="mean: 2 channel values"):
        run(small_net(), dataset, mean=(0.5, 0.5), std=(0.2, 0.2))
    with pytest.raises(ValueError, match="mean: expected finite"):
        run(small_net(), dataset, mean=(0.5, np.nan, 0.5), std=STD)


def test_progress_bar_counts_images(monkeypatch):
    import tqdm.auto

    bars = []

    class Recorder:
        def __init__(self, **kwargs):
            self.kwargs, self.count = kwargs, 0
            bars.append(self)

        def update(self, k):
            self.count += k

        def close(self):
            pass

    monkeypatch.setattr(tqdm.auto, "tqdm", Recorder)
    run(small_net(), TensorDataset(uint8_images(11), torch.arange(11) % 5), batch_size=4)
    (bar,) = bars
    assert bar.kwargs["unit"] == "img" and bar.kwargs["total"] == 11 and bar.count == 11


def test_loader_defaults():
    assert default_num_workers(torch.device("cpu")) == 0
    assert 0 <= default_num_workers(torch.device("cuda")) <= 8


def test_from_model_with_a_custom_input_key_shows_that_input():
    images, labels = uint8_images(5), torch.arange(5) % 5
    dataset = DictDataset(images, labels, "photo", "fine_label")
    es = EvalSet.from_model(
        small_net(),
        dataset,
        NAMES,
        device="cpu",
        progress=False,
        input_key="photo",
        label_key="fine_label",
    )
    np.testing.assert_array_equal(es.image(3), images[3].permute(1, 2, 0).numpy())


def test_device_rows_flushes_in_order_and_checks_the_count():
    from failwidgets.inference import DeviceRows

    rows = DeviceRows(7, flush_bytes=3 * 2 * 4)  # flush every ~3 rows of 2 floats
    data = torch.arange(14, dtype=torch.float32).view(7, 2)
    for start in range(0, 7, 2):
        rows.add(data[start : start + 2])
    np.testing.assert_array_equal(rows.result(), data.numpy())
    short = DeviceRows(3)
    short.add(data[:2])
    with pytest.raises(ValueError, match="2 of the 3 expected"):
        short.result()
    with pytest.raises(ValueError, match="more than the 3"):
        short.add(data[:2])
