"""User VAEs: the encode / decode contract is checked when a VAE is passed, and a small
convolutional VAE of the user's own runs through Defuse end to end."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from failwidgets.methods.defuse import Defuse, identify_failures, sample_scenario
from failwidgets.methods.vae import CheckedVAE, check_vae

torch.set_num_threads(1)

IMAGES = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)


class MeanColour(nn.Module):
    """Linear in the mean colour, biased towards red: dim green/blue images are called red."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 3)
        with torch.no_grad():
            self.linear.weight.copy_(torch.eye(3) * 20)
            self.linear.bias.copy_(torch.tensor([12.0, 0.0, 0.0]))

    def forward(self, x):
        return self.linear(x.mean(dim=(2, 3)))


class ColourVAE(nn.Module):
    """Hand-made: the code is the mean colour, decoding paints it; what ``encode`` and ``decode``
    return is configurable, to break the contract one way at a time."""

    latent_dim = 3

    def __init__(self, encode_as="tuple", decode_as="image"):
        super().__init__()
        self.encode_as, self.decode_as = encode_as, decode_as

    def encode(self, x):
        mu = x.mean(dim=(2, 3))
        if self.encode_as == "tuple":
            return mu, torch.zeros_like(mu)
        if self.encode_as == "tensor":
            return mu
        if self.encode_as == "distribution":
            return torch.distributions.Normal(mu, torch.ones_like(mu))
        if self.encode_as == "numpy":
            return mu.numpy()
        if self.encode_as == "flat":
            return mu.flatten()
        if self.encode_as == "nan":
            return mu * float("nan")
        if self.encode_as == "wide":
            return torch.cat([mu, mu], dim=1)
        raise AssertionError(self.encode_as)

    def decode(self, z):
        x = z[:, :, None, None].expand(-1, -1, 8, 8).clamp(0, 1)
        if self.decode_as == "image":
            return x
        if self.decode_as == "logits":
            return torch.logit(x.clamp(0.01, 0.99))
        if self.decode_as == "tanh":
            return 2 * x - 1
        if self.decode_as == "uint8-scale":
            return x * 255
        if self.decode_as == "nan":
            return x * float("nan")
        if self.decode_as == "small":
            return x[:, :, :4, :4]
        if self.decode_as == "grey":
            return x[:, :1]
        if self.decode_as == "list":
            return [x]
        raise AssertionError(self.decode_as)


@pytest.mark.parametrize("encode_as", ["tuple", "tensor", "distribution"])
def test_the_documented_encode_outputs_are_accepted(encode_as):
    checked = check_vae(ColourVAE(encode_as=encode_as), IMAGES)
    assert isinstance(checked, CheckedVAE) and checked.latent_dim == 3
    assert checked.image_shape == (3, 8, 8) and checked.image_size == 8
    codes = np.random.default_rng(1).uniform(0, 1, (5, 3)).astype(np.float32)
    decoded = checked.decode_codes(codes)
    assert decoded.shape == (5, 8, 8, 3) and decoded.dtype == np.uint8
    np.testing.assert_allclose(decoded[:, 0, 0] / 255, codes, atol=0.003)


@pytest.mark.parametrize(
    "vae, error, match",
    [
        (
            object(),
            TypeError,
            r"vae: expected a VAE with methods encode\(x\).*object has no encode",
        ),
        (nn.Linear(2, 2), TypeError, "Linear has no encode and no decode method"),
        (ColourVAE(encode_as="numpy"), TypeError, "encode.* must return the posterior mean"),
        (ColourVAE(encode_as="flat"), ValueError, r"encode\(x\) of 2 images returned a mean"),
        (ColourVAE(encode_as="wide"), ValueError, "returned 6-dimensional codes, but its latent"),
        (ColourVAE(encode_as="nan"), ValueError, r"encode\(x\) returned non-finite values"),
        (ColourVAE(decode_as="logits"), ValueError, r"decode\(z\) returned values in \[-.*sigmoid"),
        (ColourVAE(decode_as="tanh"), ValueError, r"values in \[-.*map a tanh output"),
        (ColourVAE(decode_as="uint8-scale"), ValueError, "divide 0..255 values by 255"),
        (ColourVAE(decode_as="nan"), ValueError, r"decode\(z\) returned non-finite values"),
        (ColourVAE(decode_as="small"), ValueError, r"images of shape \(3, 4, 4\), but the images"),
        (ColourVAE(decode_as="grey"), ValueError, r"returned shape \(2, 1, 8, 8\); expected"),
        (ColourVAE(decode_as="list"), TypeError, r"decode\(z\) must return a tensor of images"),
    ],
)
def test_a_vae_breaking_the_contract_is_refused_naming_the_argument(vae, error, match):
    with pytest.raises(error, match=match) as caught:
        check_vae(vae, IMAGES)
    assert str(caught.value).startswith("vae: ")
    with pytest.raises(error, match=match):  # Defuse checks at once, or on the first images
        Defuse(vae, MeanColour(), progress=False).fit(IMAGES, np.zeros(4, np.int64))


def test_a_declared_latent_dim_lets_decode_be_checked_when_the_vae_is_passed():
    with pytest.raises(ValueError, match=r"vae: decode\(z\) returned values in"):
        Defuse(ColourVAE(decode_as="tanh"), MeanColour())  # no image seen yet


def test_an_encoder_that_cannot_take_the_images_says_so():
    class Fixed(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.Linear(3 * 16 * 16, 4)  # built for 16x16 images

        def encode(self, x):
            return self.enc(x.flatten(1))

        def decode(self, z):
            return torch.sigmoid(z[:, :3, None, None].expand(-1, -1, 16, 16))

    with pytest.raises(ValueError, match=r"vae: encode failed on an input of shape \(2, 3, 8, 8\)"):
        check_vae(Fixed(), IMAGES)
    checked = check_vae(Fixed(), np.zeros((2, 16, 16, 3), np.uint8))
    with pytest.raises(ValueError, match="images: the VAE decodes 16x16 images, got 8x8"):
        checked.to_tensor(IMAGES)


def test_decoded_values_are_checked_on_every_decode_not_only_the_first():
    class LateLogits(ColourVAE):
        calls = 0

        def decode(self, z):
            LateLogits.calls += 1
            x = super().decode(z)
            return x if LateLogits.calls < 4 else x * 3 - 1  # sometimes outside [0, 1]

    images = np.full((6, 8, 8, 3), 40, np.uint8)
    with pytest.raises(ValueError, match=r"vae: decode\(z\) returned values in"):
        identify_failures(
            LateLogits(), MeanColour(), images, np.ones(6, np.int64), n_samples=5, batch_size=6
        )


# -- a torchvision-style VAE of the user's own, end to end ----------------------------------------


class MyConvVAE(nn.Module):
    """As in the module docstring of failwidgets.methods.vae, for 8x8 images: conv encoder,
    transposed-conv decoder ending in a sigmoid."""

    latent_dim = 3

    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(
            nn.Conv2d(3, 16, 4, 2, 1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 4, 2, 1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(32 * 2 * 2, 2 * self.latent_dim),
        )
        self.dec = nn.Sequential(
            nn.Linear(self.latent_dim, 32 * 2 * 2),
            nn.ReLU(),
            nn.Unflatten(1, (32, 2, 2)),
            nn.ConvTranspose2d(32, 16, 4, 2, 1),
            nn.ReLU(),
            nn.ConvTranspose2d(16, 3, 4, 2, 1),
            nn.Sigmoid(),
        )

    def encode(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z):
        return self.dec(z)


def colour_world(n, seed):
    """8x8 images of one lit channel (the class) at brightness 0.2..1, plus pixel noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    images = np.zeros((n, 8, 8, 3), np.float32)
    images[np.arange(n), :, :, labels] = rng.uniform(0.2, 1.0, n)[:, None, None]
    images += rng.normal(0, 0.03, images.shape)
    return (np.clip(images, 0, 1) * 255).round().astype(np.uint8), labels


def train_user_vae(images, steps=400, seed=0):
    """The user's own training loop (beta = 1, BCE)."""
    torch.manual_seed(seed)
    vae = MyConvVAE()
    x_all = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    optimizer = torch.optim.Adam(vae.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = x_all[torch.randint(len(x_all), (32,), generator=generator)]
        mu, logvar = vae.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=generator)
        recon = nn.functional.binary_cross_entropy(vae.decode(z), x, reduction="sum") / len(x)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1).mean()
        optimizer.zero_grad()
        (recon + kl).backward()
        optimizer.step()
    return vae.eval()


def test_a_users_convolutional_vae_runs_through_defuse_end_to_end():
    images, labels = colour_world(600, seed=0)
    vae = train_user_vae(images[:400])
    classifier = MeanColour()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a decent VAE: the quality gate passes quietly
        defuse = Defuse(vae, classifier, n_samples=20, max_per_image=5, max_components=10)
        defuse.progress = False
        defuse.fit(images[:300], labels[:300])
    assert defuse.vae is vae and defuse.quality_.passed
    assert defuse.reconstruction_accuracy_ >= 0.8 * defuse.original_accuracy_
    identification = defuse.identification_
    assert identification.n_found > 20 and identification.latent_dim == 3
    assert (identification.predictions != identification.labels).all()
    assert len(defuse.scenarios_) >= 1
    assert "failure scenarios" in repr(defuse) and "MyConvVAE" in repr(defuse)

    scenario = defuse.scenarios_[0]
    samples = defuse.sample(scenario.id, n=6, tau=0.2)
    assert samples.images.shape == (6, 8, 8, 3) and samples.images.dtype == np.uint8
    again = sample_scenario(scenario, vae, classifier, n=6, tau=0.2)  # the raw module works too
    np.testing.assert_array_equal(again.images, samples.images)

    result = defuse.correct(
        {scenario.id: int(scenario.majority_label)},
        train_images=images[:400],
        train_labels=labels[:400],
        test_images=images[400:],
        test_labels=labels[400:],
        lambdas=[1.0],
        n_per_scenario=32,
        epochs=1,
        batch_size=50,
        lr=0.01,
    )
    assert result.n_scenarios == 1 and len(result.sweep) == 1
