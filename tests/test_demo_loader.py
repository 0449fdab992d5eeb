"""demo.load(): the world and the classifier's probabilities cached on disk, read back equal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from failwidgets.datasets import world_cache
from failwidgets.demo import classifier as classifier_module
from failwidgets.demo import loader

N, SEED, SIZE = 160, 1, 64


@pytest.fixture(autouse=True)
def _no_memo():
    loader._load_cached.cache_clear()
    yield
    loader._load_cached.cache_clear()


@pytest.fixture(scope="module")
def fresh():
    torch.set_num_threads(1)
    return loader.load(N, SEED, SIZE, cache=False)


@pytest.fixture
def calls(monkeypatch):
    """Counts world generations and prediction passes."""
    counts = {"world": 0, "predict": 0}
    make_world, predict = world_cache.make_world, classifier_module.predict

    def counting_world(*args, **kwargs):
        counts["world"] += 1
        return make_world(*args, **kwargs)

    def counting_predict(*args, **kwargs):
        counts["predict"] += 1
        return predict(*args, **kwargs)

    monkeypatch.setattr(world_cache, "make_world", counting_world)
    monkeypatch.setattr(classifier_module, "predict", counting_predict)
    return counts


def _assert_same_demo(a, b):
    np.testing.assert_array_equal(a.world.images, b.world.images)
    np.testing.assert_array_equal(a.evalset.labels, b.evalset.labels)
    np.testing.assert_array_equal(a.evalset.predictions, b.evalset.predictions)
    np.testing.assert_array_equal(a.evalset.probabilities, b.evalset.probabilities)
    np.testing.assert_array_equal(a.evalset.split, b.evalset.split)
    pd.testing.assert_frame_equal(a.evalset.metadata, b.evalset.metadata, check_exact=True)
    assert a.evalset.predictions.dtype == b.evalset.predictions.dtype == np.int64
    assert a.evalset.probabilities.dtype == b.evalset.probabilities.dtype == np.float32
    assert a.failures == b.failures


def test_a_cached_load_equals_a_fresh_one(tmp_path, fresh, calls):
    first = loader.load(N, SEED, SIZE, cache_dir=tmp_path)
    assert calls == {"world": 1, "predict": 1}
    assert len(list(tmp_path.glob("world-*.json"))) == 1
    assert len(list(tmp_path.glob("demo-probabilities-*.npy"))) == 1
    loader._load_cached.cache_clear()  # as in a new process
    second = loader.load(N, SEED, SIZE, cache_dir=tmp_path)
    assert calls == {"world": 1, "predict": 1}  # read back, not made again
    assert isinstance(second.world.images.base, np.memmap)
    for demo in (first, second):
        _assert_same_demo(fresh, demo)
        assert set(demo.timings) == {"world", "classifier", "evalset"}


def test_one_demo_per_process_and_arguments(tmp_path, calls):
    a = loader.load(N, SEED, SIZE, cache_dir=tmp_path)
    assert loader.load(N, SEED, SIZE, cache_dir=tmp_path) is a
    assert loader.load(N, SEED, SIZE, cache_dir=tmp_path / "other") is not a


def test_without_cache_no_file_is_read_or_written(tmp_path, monkeypatch, fresh, calls):
    monkeypatch.setenv("FAILWIDGETS_CACHE_DIR", str(tmp_path))
    loader.load(N, SEED, SIZE)  # fills the default cache folder
    demo = loader.load(N, SEED, SIZE, cache=False)
    assert calls == {"world": 1, "predict": 2}
    _assert_same_demo(fresh, demo)
    written = sorted(path.name for path in tmp_path.iterdir())
    other = tmp_path.parent / f"{tmp_path.name}-unused"
    monkeypatch.setenv("FAILWIDGETS_CACHE_DIR", str(other))
    loader.load(N, SEED, SIZE, cache=False)
    assert not other.exists() and sorted(p.name for p in tmp_path.iterdir()) == written


def _save(values):
    def damage(path):
        np.save(path, values)

    return damage


@pytest.mark.parametrize(
    "damage",
    [
        lambda path: path.write_bytes(path.read_bytes()[:1000]),
        lambda path: path.write_bytes(b"garbage" * 100),
        _save(np.full((N, 10), 0.1, dtype=np.float64)),  # wrong dtype
        _save(np.full((N, 3), 1 / 3, dtype=np.float32)),  # wrong number of classes
        _save(np.full((N - 1, 10), 0.1, dtype=np.float32)),  # wrong number of images
        _save(np.zeros((N, 10), dtype=np.float32)),  # not probabilities
        _save(np.full((N, 10), np.nan, dtype=np.float32)),
    ],
    ids=["truncated", "garbage", "float64", "classes", "rows", "zeros", "nan"],
)
def test_damaged_probabilities_are_computed_again(tmp_path, fresh, calls, damage):
    loader.load(N, SEED, SIZE, cache_dir=tmp_path)
    (path,) = tmp_path.glob("demo-probabilities-*.npy")
    damage(path)
    loader._load_cached.cache_clear()
    demo = loader.load(N, SEED, SIZE, cache_dir=tmp_path)
    assert calls == {"world": 1, "predict": 2}
    _assert_same_demo(fresh, demo)
    loader._load_cached.cache_clear()
    loader.load(N, SEED, SIZE, cache_dir=tmp_path)  # rewritten: read back now
    assert calls["predict"] == 2


def test_the_probabilities_are_named_by_the_world_and_the_weights(tmp_path):
    model = classifier_module.load_classifier()
    key = world_cache.world_key(N, SIZE, SEED)
    path = loader._probabilities_path(model, key, str(tmp_path))
    assert path.parent == tmp_path
    assert loader._probabilities_path(model, key, str(tmp_path)) == path
    assert loader._probabilities_path(
        model, world_cache.world_key(N + 1, SIZE, SEED), "x"
    ).name != (path.name)
    with torch.no_grad():
        model.fc.bias[0] += 1e-3
    assert loader._probabilities_path(model, key, str(tmp_path)) != path


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n_images": 0}, ValueError, "n_images"),
        ({"n_images": 10, "image_size": 8}, ValueError, "image_size"),
        ({"n_images": 10, "seed": -1}, ValueError, "seed"),
        ({"n_images": 10.0}, TypeError, "n_images"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, error, match):
    for cache in (True, False):
        with pytest.raises(error, match=match):
            loader.load(**kwargs, cache=cache, cache_dir=tmp_path)
    assert not any(tmp_path.iterdir())


def test_predict_leaves_the_model_alone_and_equals_its_forward(fresh):
    model = classifier_module.load_classifier()
    model.train()
    images = fresh.world.images[:40]
    pred, probs = classifier_module.predict(model, images, batch_size=16)
    assert model.training  # the caller's model: mode and memory format unchanged
    assert all(p.is_contiguous() for p in model.parameters())
    model.eval()
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        expected = torch.softmax(model(x), dim=1).numpy()
    np.testing.assert_allclose(probs, expected, atol=1e-6)
    np.testing.assert_array_equal(pred, expected.argmax(axis=1))
    np.testing.assert_allclose(
        classifier_module.predict(model, images, batch_size=7)[1], probs, atol=1e-6
    )
    np.testing.assert_array_equal(fresh.evalset.probabilities[:40], probs)
