"""The demo classifier: shipped weights against the world's ground truth, API, real training."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from failwidgets.datasets import make_world
from failwidgets.demo.classifier import (
    DEFAULT_TRAINING,
    WEIGHTS_DIR,
    DemoCNN,
    load_classifier,
    predict,
    save_classifier,
    train_classifier,
)

GAP = 0.25  # planted subgroups: at least this far below the rest of their class (test split)


@pytest.fixture(scope="module")
def shipped():
    """The shipped classifier and its predictions on a freshly generated default world."""
    torch.set_num_threads(1)
    world = make_world(**DEFAULT_TRAINING["world"])
    model = load_classifier()
    test = world.indices("test")
    pred = np.full(len(world), -1, dtype=np.int64)
    pred[test], _ = predict(model, world.images[test])
    return world, model, pred


def test_shipped_weights_are_small_and_described():
    weights = WEIGHTS_DIR / "classifier.pt"
    assert weights.stat().st_size <= 5 * 1024 * 1024
    config = json.loads((WEIGHTS_DIR / "classifier.json").read_text())
    assert config["training"]["world"] == DEFAULT_TRAINING["world"]
    state = torch.load(weights, map_location="cpu", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())


def test_shipped_classifier_fails_exactly_on_the_planted_subgroups(shipped):
    world, _, pred = shipped
    test = world.split == "test"
    assert (pred[test] == world.labels[test]).mean() > 0.8
    report = world.failure_report(pred, split="test")
    assert (report["n_members"] >= 40).all(), report
    assert (report["gap"] >= GAP).all(), report.to_string()


def test_planted_free_classes_have_no_such_gap(shipped):
    world, _, pred = shipped
    a = world.attributes
    test = world.split == "test"
    correct = pred == world.labels
    planted = {f.class_name for f in world.failures}
    free = [c for c in world.class_names if c not in planted]
    assert free
    for cls in free:
        own = (a["class_name"] == cls).to_numpy() & test
        assert correct[own].mean() > 0.85, cls
        for column in ("colour", "texture", "background", "occluder", "distractor", "blur"):
            for value in a.loc[own, column].unique():
                group = own & (a[column] == value).to_numpy()
                if group.sum() < 30 or (own & ~group).sum() < 30:
                    continue
                gap = correct[own & ~group].mean() - correct[group].mean()
                assert gap < GAP, (cls, column, value, gap)


def test_conjunction_needs_all_three_attributes(shipped):
    world, _, pred = shipped
    for failure in world.failures:
        if failure.kind != "conjunction":
            continue
        subsets = world.subset_report(failure, pred, split="test")
        triple = subsets.loc[subsets["size"] == 3, "accuracy"].item()
        smaller = subsets.loc[subsets["size"] < 3]
        assert triple <= 0.5 and (smaller["n"] >= 40).all(), subsets
        # as PRIME counts tag sets (members included), every single value and pair is easier
        assert (smaller["accuracy"] >= triple + 0.25).all(), subsets.to_string()
        # and without the members they are as easy as the rest of the class
        assert (smaller["n_outside"] >= 30).all(), subsets
        assert (smaller["accuracy_outside"] >= 0.85).all(), subsets.to_string()


def test_members_are_taken_for_the_confused_class(shipped):
    world, _, pred = shipped
    test = world.split == "test"
    for failure in world.failures:
        if failure.confused_with is None:
            continue
        members = failure.members(world.attributes) & test
        other = world.class_names.index(failure.confused_with)
        assert (pred[members] == other).mean() > 0.3, failure.name


def test_model_api(shipped):
    world, model, _ = shipped
    images = world.images[:7]
    pred, probs = predict(model, images, batch_size=3)
    assert pred.shape == (7,) and pred.dtype == np.int64
    assert probs.shape == (7, len(world.class_names)) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)
    np.testing.assert_array_equal(pred, probs.argmax(axis=1))
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        logits = model(x)
        np.testing.assert_allclose(model.top(model.bottom(x)), logits, atol=1e-5)
        assert model.embed(x).shape == (7, model.fc.in_features)
    np.testing.assert_allclose(torch.softmax(logits, 1).numpy(), probs, atol=1e-5)
    assert model.config["class_names"] == world.class_names


def test_predict_rejects_bad_input(shipped):
    _, model, _ = shipped
    with pytest.raises(TypeError, match="uint8"):
        predict(model, np.zeros((2, 64, 64, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        predict(model, np.zeros((64, 64, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="batch_size"):
        predict(model, np.zeros((2, 64, 64, 3), dtype=np.uint8), batch_size=0)
    with pytest.raises(ValueError, match="no images"):
        predict(model, np.zeros((0, 64, 64, 3), dtype=np.uint8))


def test_training_runs_for_real_and_round_trips(tmp_path):
    torch.set_num_threads(1)
    world = make_world(n_images=500, image_size=32, seed=1)
    model = train_classifier(world, epochs=2, seed=0, progress=True, batch_size=50)
    assert [h["epoch"] for h in model.history] == [1, 2]
    assert model.history[1]["loss"] < model.history[0]["loss"]
    assert 0 <= model.history[1]["val_acc"] <= 1
    assert model.config["training"]["epochs"] == 2 and not model.training
    path = save_classifier(model, tmp_path)
    assert path.exists() and (tmp_path / "classifier.json").exists()
    loaded = load_classifier(tmp_path)
    a = predict(model, world.images[:50])[1]
    b = predict(loaded, world.images[:50])[1]
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_training_is_deterministic():
    torch.set_num_threads(1)
    world = make_world(n_images=200, image_size=32, seed=2)
    a = train_classifier(world, epochs=1, seed=5, progress=False, batch_size=50)
    b = train_classifier(world, epochs=1, seed=5, progress=False, batch_size=50)
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(x, y), name


def test_bad_training_and_loading_arguments(tmp_path):
    world = make_world(n_images=50, image_size=32, seed=0)
    with pytest.raises(ValueError, match="epochs"):
        train_classifier(world, epochs=0)
    with pytest.raises(ValueError, match="batch_size"):
        train_classifier(world, epochs=1, batch_size=0)
    with pytest.raises(FileNotFoundError, match="re-train"):
        load_classifier(tmp_path)
    with pytest.raises(ValueError, match="config"):
        save_classifier(DemoCNN(3), tmp_path)
    with pytest.raises(ValueError, match="n_classes"):
        DemoCNN(1)
