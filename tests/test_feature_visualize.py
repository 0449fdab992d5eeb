"""Feature views on a hand-built model whose channels respond to known colours."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from failwidgets.features.visualize import (
    FeatureMapModel,
    cam_heatmaps,
    default_step_size,
    feature_attack,
    jet_colors,
    overlay_heatmap,
    top_activating,
    visualize_feature,
)

torch.set_num_threads(1)


class ColourNet(nn.Module):
    """Channel 0 fires on red pixels, channel 1 on green ones; 4x4 average-pooled map."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 1, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(
                torch.tensor([[1.0, -0.5, -0.5], [-0.5, 1.0, -0.5]])[..., None, None]
            )
        self.bn = nn.BatchNorm2d(2, affine=False)  # identity in eval mode (fresh statistics)
        self.pool = nn.AvgPool2d(4)

    def forward_features_map(self, x):
        return self.pool(torch.relu(self.bn(self.conv(x))))


def red_square_images():
    images = np.zeros((2, 32, 32, 3), dtype=np.uint8)
    images[0, 0:12, 0:12, 0] = 255  # top-left
    images[1, 20:32, 16:32, 0] = 255  # bottom-right
    return images


def test_heat_sits_on_the_feature_not_its_complement():
    model = ColourNet()
    heat = cam_heatmaps(model, red_square_images(), feature=0)
    assert heat.shape == (2, 32, 32) and heat.dtype == np.float32
    assert heat.min() >= 0.0 and heat.max() == pytest.approx(1.0)
    assert heat[0, 1:11, 1:11].mean() > 0.9 and heat[0, 20:, 20:].max() == 0.0
    assert heat[1, 21:31, 17:31].mean() > 0.9 and heat[1, :10, :10].max() == 0.0
    overlay = overlay_heatmap(red_square_images(), heat)
    assert overlay.dtype == np.uint8 and overlay.shape == (2, 32, 32, 3)
    # JET: hot = red, cold = blue, so the feature is red and the background blue
    hot, cold = overlay[0, 5, 5].astype(int), overlay[0, 28, 28].astype(int)
    assert hot[0] > hot[2] and cold[2] > cold[0]
    assert model.training  # eval mode was only borrowed


def test_channel_that_never_fires_gives_a_zero_map():
    heat = cam_heatmaps(ColourNet(), red_square_images(), feature=1)  # no green anywhere
    assert np.all(heat == 0.0)


def test_jet_colours_run_blue_to_red():
    colours = jet_colors(np.array([0.0, 0.5, 1.0]))
    assert colours[0].argmax() == 2 and colours[1].argmax() == 1 and colours[2].argmax() == 0


def test_feature_attack_increases_the_feature_and_keeps_pixels_valid():
    rng = np.random.default_rng(0)
    images = rng.integers(60, 200, size=(3, 32, 32, 3), dtype=np.uint8)
    attack = feature_attack(ColourNet(), images, feature=1, steps=30)
    assert attack.images.dtype == np.uint8 and attack.images.shape == images.shape
    assert np.all(attack.values_after > attack.values_before + 0.1)
    assert attack.step_size == pytest.approx(np.sqrt(3 * 32 * 32 / (3 * 224 * 224)))
    # green goes up, red and blue go down: the feature is amplified
    change = attack.images.astype(int) - images.astype(int)
    assert change[..., 1].mean() > 10 and change[..., 0].mean() < -5
    again = feature_attack(ColourNet(), images, feature=1, steps=30)
    np.testing.assert_array_equal(again.images, attack.images)


def test_attack_steps_are_l2_normalised_and_projection_bounds_the_change():
    images = np.full((1, 16, 16, 3), 100, dtype=np.uint8)
    images[0, :, :, 1] = 160  # green channel positive: the feature has a gradient
    one = feature_attack(ColourNet(), images, feature=1, steps=1, step_size=0.5)
    moved = one.images.astype(float) / 255 - images.astype(float) / 255
    assert np.linalg.norm(moved) == pytest.approx(0.5, abs=0.03)  # uint8 rounding
    bounded = feature_attack(ColourNet(), images, feature=1, steps=20, step_size=0.5, eps=0.8)
    moved = bounded.images.astype(float) / 255 - images.astype(float) / 255
    assert np.linalg.norm(moved) <= 0.8 + 0.03
    assert default_step_size(224, 224) == 1.0


def test_top_activating_and_the_full_triplet():
    rng = np.random.default_rng(1)
    features = rng.random((20, 4))
    group = np.arange(0, 20, 2)
    top = top_activating(features, 3, group=group, k=6)
    expected = group[np.argsort(-features[group, 3])[:6]]
    np.testing.assert_array_equal(top, expected)
    images = rng.integers(0, 256, size=(20, 32, 32, 3), dtype=np.uint8)
    view = visualize_feature(ColourNet(), images, features, 0, group=group, k=6, steps=3)
    np.testing.assert_array_equal(view.indices, top_activating(features, 0, group=group, k=6))
    assert view.images.shape == (6, 32, 32, 3) and view.heatmaps.shape == (6, 32, 32)
    assert view.overlays.dtype == np.uint8 and view.attacks.shape == (6, 32, 32, 3)


def test_model_adapters():
    net = ColourNet().eval()
    images = red_square_images()
    reference = cam_heatmaps(net, images, 0)
    np.testing.assert_array_equal(cam_heatmaps(net.forward_features_map, images, 0), reference)
    pair = (net.forward_features_map, lambda maps: maps.amax(dim=(2, 3)))
    np.testing.assert_array_equal(cam_heatmaps(pair, images, 0), reference)
    adapter = FeatureMapModel.from_any(net)
    assert FeatureMapModel.from_any(adapter) is adapter
    pooled = adapter.features(torch.rand(2, 3, 32, 32))
    assert pooled.shape == (2, 2)


def test_bad_inputs():
    net = ColourNet()
    images = red_square_images()
    with pytest.raises(TypeError, match="model"):
        cam_heatmaps(object(), images, 0)
    with pytest.raises(ValueError, match="feature: index 5"):
        cam_heatmaps(net, images, 5)
    with pytest.raises(ValueError, match="feature"):
        cam_heatmaps(net, images, -1)
    with pytest.raises(ValueError, match="images"):
        cam_heatmaps(net, images[..., :2], 0)
    with pytest.raises(ValueError, match="images: float images"):
        cam_heatmaps(net, images.astype(np.float32), 0)  # 0..255 floats are not in [0, 1]
    with pytest.raises(ValueError, match="step_size"):
        feature_attack(net, images, 0, steps=1, step_size=0)
    with pytest.raises(ValueError, match="steps"):
        feature_attack(net, images, 0, steps=-1)
    with pytest.raises(ValueError, match="heatmaps"):
        overlay_heatmap(images, np.zeros((2, 8, 8)))
    with pytest.raises(ValueError, match="k"):
        top_activating(np.zeros((5, 2)), 0, k=0)
    with pytest.raises(ValueError, match="group: is empty"):
        top_activating(np.zeros((5, 2)), 0, group=np.array([], dtype=int))


def _occlusion_drop(model, images, heat, feature, hot: bool):
    """Feature drop when the hottest (or coldest) quarter of each image is greyed out."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    flat = heat.reshape(len(heat), -1)
    cut = np.quantile(flat, 0.75 if hot else 0.25, axis=1)[:, None]
    region = (flat >= cut) if hot else (flat <= cut)
    mask = torch.from_numpy(region.reshape(heat.shape))[:, None].float()
    occluded = x * (1 - mask) + 0.5 * mask
    adapter = FeatureMapModel.from_any(model)
    with adapter.evaluating(), torch.no_grad():
        return (adapter.features(x)[:, feature] - adapter.features(occluded)[:, feature]).numpy()


def test_occluding_the_heat_removes_the_feature_hand_model():
    images = red_square_images()
    heat = cam_heatmaps(ColourNet(), images, 0)
    hot = _occlusion_drop(ColourNet(), images, heat, 0, hot=True)
    cold = _occlusion_drop(ColourNet(), images, heat, 0, hot=False)
    assert np.all(hot > 0) and np.all(cold == 0)


def test_heat_sits_on_the_feature_of_the_demo_robust_model():
    from failwidgets.demo.robust import load_robust

    try:
        model = load_robust()
    except FileNotFoundError:
        pytest.skip("demo robust weights not built yet (python -m failwidgets.demo.robust)")
    from failwidgets.datasets.world import make_world

    world = make_world(n_images=200)
    images = np.asarray(world.images[:24])
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        pooled = model.forward_features(x)
    wins = 0
    for i, feature in enumerate(pooled.argmax(dim=1).tolist()):  # each image's top feature
        heat = cam_heatmaps(model, images[i : i + 1], feature)
        hot = _occlusion_drop(model, images[i : i + 1], heat, feature, hot=True)[0]
        cold = _occlusion_drop(model, images[i : i + 1], heat, feature, hot=False)[0]
        wins += hot > cold
    assert wins >= 0.8 * len(images)  # greying the heat kills the feature, the rest does not
