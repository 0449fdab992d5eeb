"""The demo's robust CNN: PGD-L2, adversarial training, shipped weights."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from failwidgets.demo._common import WEIGHTS_DIR
from failwidgets.demo.robust import (
    RobustCNN,
    evaluate_robust,
    load_robust,
    pgd_l2,
    save_robust,
    train_robust,
)


def _toy_world(n=96, size=16, seed=0):
    """Two classes: reddish vs bluish noisy squares; 3/4 train, 1/4 test."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    base = np.where(labels[:, None] == 0, [[0.7, 0.3, 0.3]], [[0.3, 0.3, 0.7]])
    images = base[:, None, None, :] + rng.normal(0, 0.1, size=(n, size, size, 3))
    images = (np.clip(images, 0, 1) * 255).astype(np.uint8)
    split = np.where(np.arange(n) < 3 * n // 4, "train", "test")
    return SimpleNamespace(images=images, labels=labels, class_names=["red", "blue"], split=split)


def _small_model(seed=0):
    torch.manual_seed(seed)
    return RobustCNN(3, widths=(8, 16), strides=(2, 2)).eval()


# --------------------------------------------------------------------------- PGD
def test_pgd_stays_in_ball_and_box_and_raises_loss():
    model = _small_model()
    x = torch.rand(6, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    x[0] = 0.0  # corners of the box force the clamp
    x[1] = 1.0
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    for random_start in (False, True):
        adv = pgd_l2(model, x, y, eps=0.5, steps=5, random_start=random_start)
        norms = (adv - x).flatten(1).norm(dim=1)
        assert bool((norms <= 0.5 + 1e-5).all())
        assert adv.min() >= 0 and adv.max() <= 1
        with torch.no_grad():
            loss_clean = nn.functional.cross_entropy(model(x), y, reduction="none")
            loss_adv = nn.functional.cross_entropy(model(adv), y, reduction="none")
        assert bool((loss_adv[2:] > loss_clean[2:]).all())
    assert not model.training  # mode restored
    assert all(p.grad is None for p in model.parameters())


def test_pgd_on_a_linear_model_moves_eps_along_the_known_direction():
    # logits = W x: the loss gradient for label 0 with two classes points along w1 - w0,
    # so every step (and the projection) keeps the perturbation on that direction.
    torch.manual_seed(0)
    linear = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 2, bias=False))
    x = torch.full((1, 3, 4, 4), 0.5)
    y = torch.tensor([0])
    adv = pgd_l2(linear, x, y, eps=0.1, steps=7)
    w = linear[1].weight.detach()
    direction = (w[1] - w[0]) / (w[1] - w[0]).norm()
    np.testing.assert_allclose((adv - x).flatten().numpy(), 0.1 * direction.numpy(), atol=1e-6)


def test_pgd_eps_zero_and_bad_input():
    model = _small_model()
    x, y = torch.rand(2, 3, 16, 16), torch.tensor([0, 1])
    assert torch.equal(pgd_l2(model, x, y, eps=0.0, steps=3), x)
    with pytest.raises(ValueError, match="eps"):
        pgd_l2(model, x, y, eps=-1.0, steps=3)
    with pytest.raises(ValueError, match="steps"):
        pgd_l2(model, x, y, eps=0.5, steps=0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        pgd_l2(model, x * 2 + 0.1, y, eps=0.5, steps=1)
    with pytest.raises(ValueError, match="labels"):
        pgd_l2(model, x, torch.tensor([0]), eps=0.5, steps=1)
    with pytest.raises(TypeError, match="images"):
        pgd_l2(model, x.numpy(), y, eps=0.5, steps=1)


# --------------------------------------------------------------------------- model
def test_robust_cnn_interface():
    model = _small_model()
    x = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        fmap = model.forward_features_map(x)
        feats = model.forward_features(x)
        logits = model(x)
    assert fmap.shape == (2, 16, 4, 4) and bool((fmap >= 0).all())
    torch.testing.assert_close(feats, fmap.mean(dim=(2, 3)))
    torch.testing.assert_close(logits, model.fc(feats))
    assert model.n_features == 16
    with pytest.raises(ValueError, match="widths and strides"):
        RobustCNN(3, widths=(8, 16), strides=(2,))
    with pytest.raises(ValueError, match="n_classes"):
        RobustCNN(1)


# --------------------------------------------------------------------------- training
def test_train_robust_tiny_budget_learns_and_is_seeded(tmp_path):
    world = _toy_world()
    kwargs = dict(epochs=3, eps=0.25, steps=2, batch_size=24, lr=1e-2, widths=(8, 16),
                  strides=(2, 2), seed=3)  # fmt: skip
    model = train_robust(world, **kwargs)
    again = train_robust(world, **kwargs)
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    test = world.split == "test"
    report = evaluate_robust(model, world.images[test], world.labels[test], eps=0.25, steps=5)
    assert report["natural_accuracy"] >= 0.9 and report["robust_accuracy"] >= 0.5
    assert report["n"] == int(test.sum())
    # per-channel statistics of the train images live in the model
    train = world.images[world.split == "train"].reshape(-1, 3) / 255.0
    np.testing.assert_allclose(model.mean.flatten().numpy(), train.mean(0), atol=1e-5)

    save_robust(model, tmp_path, class_names=world.class_names, metrics={"test": report})
    loaded = load_robust(tmp_path)
    x = torch.rand(3, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))
    assert loaded.demo_config["class_names"] == ["red", "blue"]


def test_train_robust_bad_input():
    world = _toy_world()
    with pytest.raises(ValueError, match="epochs"):
        train_robust(world, epochs=0)
    with pytest.raises(ValueError, match="eps"):
        train_robust(world, eps=-0.1)
    with pytest.raises(TypeError, match="world"):
        train_robust(object())
    no_train = SimpleNamespace(**{**vars(world), "split": np.full(len(world.labels), "test")})
    with pytest.raises(ValueError, match="no samples in split 'train'"):
        train_robust(no_train)
    with pytest.raises(ValueError, match="images"):
        evaluate_robust(_small_model(), world.images.astype(np.float32), world.labels)


# --------------------------------------------------------------------------- shipped weights
def test_shipped_robust_model_is_small_and_robust():
    for name in ("robust.pt", "robust.json"):
        assert (WEIGHTS_DIR / name).is_file(), f"missing shipped weights {name}"
    assert (WEIGHTS_DIR / "robust.pt").stat().st_size <= 5 * 2**20
    config = json.loads((WEIGHTS_DIR / "robust.json").read_text())
    assert config["training"]["eps"] > 0 and "test" in config["metrics"]

    from failwidgets.datasets import make_world

    torch.set_num_threads(1)
    model = load_robust()
    world = make_world(n_images=1000, image_size=64, seed=0)
    assert model.demo_config["class_names"] == world.class_names
    test = world.indices("test")[:150]
    report = evaluate_robust(model, world.images[test], world.labels[test], eps=0.5, steps=10)
    print("shipped robust model on 150 test images:", report)
    chance = 1 / len(world.class_names)
    assert report["natural_accuracy"] > 0.6
    assert report["robust_accuracy"] > 2 * chance
    with torch.no_grad():
        fmap = model.forward_features_map(torch.rand(1, 3, 64, 64))
    assert fmap.shape == (1, model.n_features, 8, 8) and 128 <= model.n_features <= 256
