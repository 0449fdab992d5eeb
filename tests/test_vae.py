"""The Defuse beta-VAE: architecture, loss, KL warm-up, training, save/load, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from failwidgets.demo.vae_model import DEMO_CONFIG, DEMO_VAE_PATH, load_demo_vae, train_demo_vae
from failwidgets.methods.vae import BetaVAE, VAEConfig, images_to_tensor, load_vae, save_vae

torch.set_num_threads(1)


def colour_images(n=64, size=8, seed=0):
    """Uniformly coloured images: one of three channels lit at a random brightness."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, size, size, 3), np.uint8)
    images[np.arange(n), :, :, rng.integers(0, 3, n)] = rng.integers(60, 256, n)[:, None, None]
    return images


def tiny_vae(size=8, **kwargs):
    torch.manual_seed(0)
    return BetaVAE(VAEConfig(image_size=size, latent_dim=3, channels=8, hidden=16, **kwargs))


@pytest.mark.parametrize(("size", "layers"), [(64, 4), (32, 3), (16, 2), (8, 1), (28, 2), (48, 3)])
def test_default_depth_halves_to_a_side_of_at_least_four(size, layers):
    config = VAEConfig(image_size=size)
    assert config.n_layers == layers and config.feature_size >= 4


def test_architecture_is_4x4_stride_2_and_shapes_round_trip():
    vae = BetaVAE(VAEConfig(image_size=32, latent_dim=5, channels=8, hidden=16))
    convs = [m for m in vae.encoder if isinstance(m, torch.nn.Conv2d)]
    deconvs = [m for m in vae.decoder if isinstance(m, torch.nn.ConvTranspose2d)]
    assert len(convs) == len(deconvs) == 3
    assert all(m.kernel_size == (4, 4) and m.stride == (2, 2) for m in convs + deconvs)
    x = torch.rand(6, 3, 32, 32)
    mu, logvar = vae.encode(x)
    assert mu.shape == logvar.shape == (6, 5)
    out = vae.decode(mu)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    assert vae.encode_images(colour_images(4, 32)).shape == (4, 5)
    decoded = vae.decode_codes(np.zeros((3, 5)))
    assert decoded.shape == (3, 32, 32, 3) and decoded.dtype == np.uint8


def test_kl_is_the_analytic_gaussian_kl():
    vae = tiny_vae()
    x = images_to_tensor(colour_images(16))
    with torch.no_grad():
        mu, logvar = vae.encode(x)
        _, kl = vae.loss_terms(x)
    posterior = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    prior = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    expected = torch.distributions.kl_divergence(posterior, prior).sum(1).mean()
    torch.testing.assert_close(kl, expected)


def test_bce_reconstruction_is_summed_over_pixels():
    vae = tiny_vae()
    x = images_to_tensor(colour_images(4))
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        recon, _ = vae.loss_terms(x, generator=torch.Generator().manual_seed(3))
        logits, _, _ = vae(x, generator=generator)
    per_image = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="sum") / 4
    torch.testing.assert_close(recon, per_image)


def test_training_lowers_the_loss_with_a_linear_kl_warmup_and_is_reproducible():
    images = colour_images(96)
    first = tiny_vae().fit(
        images, epochs=4, batch_size=32, kl_warmup_steps=10, lr=3e-3, progress=False
    )
    history = first.history_
    assert list(history["steps"]) == [3, 6, 9, 12]
    # the weight of the last step of each epoch: (step - 1) / warm-up, capped at 1
    np.testing.assert_allclose(history["kl_weight"], [0.2, 0.5, 0.8, 1.0])
    assert history["recon"].iloc[-1] < history["recon"].iloc[0]
    second = tiny_vae().fit(
        images, epochs=4, batch_size=32, kl_warmup_steps=10, lr=3e-3, progress=False
    )
    for a, b in zip(first.state_dict().values(), second.state_dict().values()):
        torch.testing.assert_close(a, b)
    first.fit(images, epochs=1, batch_size=32, progress=False)  # continues the history
    assert list(first.history_["epoch"]) == [1, 2, 3, 4, 5]


def test_mse_reconstruction_option_trains():
    vae = tiny_vae(recon_loss="mse").fit(colour_images(32), epochs=2, batch_size=16, progress=False)
    assert np.isfinite(vae.history_["loss"]).all()


def test_save_and_load_round_trip_with_weights_only(tmp_path, monkeypatch):
    vae = tiny_vae().fit(colour_images(32), epochs=1, batch_size=16, progress=False)
    path = save_vae(vae, tmp_path / "sub" / "vae.pt", note="test")
    info = json.loads((tmp_path / "sub" / "vae.json").read_text())
    assert info["config"]["latent_dim"] == 3 and info["metadata"] == {"note": "test"}
    calls = []
    original = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return original(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    loaded = load_vae(path)
    assert calls == [True]
    assert loaded.config == vae.config and not loaded.training
    assert len(loaded.history_) == 1 and loaded.metadata == {"note": "test"}
    z = torch.randn(5, 3)
    torch.testing.assert_close(loaded.decode(z), vae.decode(z))


def test_load_and_save_errors(tmp_path):
    vae = tiny_vae()
    with pytest.raises(ValueError, match="path: expected a file name ending in .pt"):
        save_vae(vae, tmp_path / "vae.bin")
    with pytest.raises(TypeError, match="vae: expected a BetaVAE"):
        save_vae(torch.nn.Linear(2, 2), tmp_path / "vae.pt")
    with pytest.raises(FileNotFoundError, match="VAE weights not found"):
        load_vae(tmp_path / "missing.pt")
    path = save_vae(vae, tmp_path / "vae.pt")
    (tmp_path / "vae.json").unlink()
    with pytest.raises(FileNotFoundError, match="config not found"):
        load_vae(path)
    (tmp_path / "vae.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match="not a failwidgets beta-VAE config"):
        load_vae(path)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"image_size": 33}, "image_size: 33 cannot be halved"),
        ({"image_size": 4}, "image_size: 4 cannot be halved"),
        ({"image_size": 20, "n_layers": 3}, "not divisible by 2 \\*\\* n_layers = 8"),
        ({"latent_dim": 0}, "latent_dim: expected a positive integer"),
        ({"beta": -1.0}, "beta: expected a finite number >= 0"),
        ({"recon_loss": "ssim"}, "recon_loss: expected 'bce' or 'mse'"),
        ({"n_layers": 0}, "n_layers: expected a positive integer"),
    ],
)
def test_bad_configs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        VAEConfig(**kwargs)


def test_images_of_the_wrong_size_or_layout_are_refused():
    vae = tiny_vae(size=16)
    with pytest.raises(ValueError, match="VAE was built for 16x16 images, got 32x32"):
        vae.encode_images(colour_images(4, 32))
    with pytest.raises(ValueError, match="VAE was built for 16x16 images, got 8x8"):
        vae.fit(colour_images(4, 8), epochs=1, progress=False)
    with pytest.raises(ValueError, match="uint8 images must be \\(N, H, W, 3\\)"):
        vae.encode_images(np.zeros((2, 3, 16, 16), np.uint8))
    with pytest.raises(ValueError, match="float images must be \\(N, 3, H, W\\)"):
        vae.encode_images(np.zeros((2, 16, 16, 3), np.float32))
    with pytest.raises(TypeError, match="uint8 or floating"):
        vae.encode_images(np.zeros((2, 16, 16, 3), np.int32))
    with pytest.raises(ValueError, match="4-D batch"):
        vae.encode_images(np.zeros((16, 16, 3), np.uint8))
    with pytest.raises(ValueError, match="codes: expected shape \\(N, 3\\)"):
        vae.decode_codes(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="epochs"):
        vae.fit(colour_images(4, 16), epochs=0)
    with pytest.raises(ValueError, match="kl_warmup_steps"):
        vae.fit(colour_images(4, 16), kl_warmup_steps=-1)


def test_images_to_tensor_layouts():
    images = colour_images(2, 8)
    x = images_to_tensor(images)
    assert x.shape == (2, 3, 8, 8) and x.dtype == torch.float32
    torch.testing.assert_close(x.permute(0, 2, 3, 1) * 255, torch.from_numpy(images).float())
    assert images_to_tensor(x) is not None and images_to_tensor(torch.from_numpy(images)).shape == (
        2,
        3,
        8,
        8,
    )
    with pytest.raises(TypeError, match="numpy array or torch tensor"):
        images_to_tensor([[1, 2]])


def test_demo_training_routine_runs_for_real_on_a_tiny_world(tmp_path):
    from failwidgets.datasets import make_world

    world = make_world(n_images=40, image_size=64, seed=1)
    path = tmp_path / "vae.pt"
    vae = train_demo_vae(path, world=world, epochs=1, batch_size=16, progress=False)
    assert vae.config == DEMO_CONFIG and len(vae.history_) == 1
    info = json.loads(path.with_suffix(".json").read_text())
    assert info["metadata"]["n_images"] == int((world.split != "test").sum())
    with pytest.raises(TypeError, match="unknown settings"):
        train_demo_vae(None, world=world, epoch=1)


@pytest.mark.skipif(not DEMO_VAE_PATH.is_file(), reason="demo VAE weights not shipped yet")
def test_shipped_demo_vae_loads_and_is_small():
    assert DEMO_VAE_PATH.stat().st_size <= 5_000_000
    vae = load_demo_vae()
    assert vae.config == DEMO_CONFIG
    assert vae.decode_codes(np.zeros((2, vae.latent_dim))).shape == (2, 64, 64, 3)
