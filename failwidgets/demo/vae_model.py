"""The demo VAE: its architecture, training recipe and shipped weights.

Defuse on the demo world uses a :class:`~failwidgets.methods.vae.BetaVAE` trained here on the
world's train and val images (``python -m failwidgets.demo.vae_model``, or ``make retrain``);
the weights ship in ``failwidgets/demo/weights/vae.pt``.
"""

from __future__ import annotations

import numpy as np
import torch

from ..methods.vae import BetaVAE, VAEConfig, load_vae, save_vae
from ._common import WEIGHTS_DIR

__all__ = [
    "DEMO_CONFIG",
    "DEMO_TRAINING",
    "DEMO_VAE_PATH",
    "DEMO_WORLD",
    "load_demo_vae",
    "train_demo_vae",
]

DEMO_VAE_PATH = WEIGHTS_DIR / "vae.pt"

# The demo VAE uses beta = 1 and small batches: on a 2-core CPU budget (about 16,000 Adam steps)
# beta = 4 collapses to background colours (the demo classifier gets 8% of its decodes of test
# images right), while beta = 1 learns the objects' position, size and colour (22%; the shapes
# would need a larger budget).
DEMO_CONFIG = VAEConfig(image_size=64, latent_dim=16, beta=1.0, channels=32, hidden=256)
DEMO_TRAINING = {"epochs": 30, "batch_size": 32, "lr": 1e-3, "kl_warmup_steps": 500, "seed": 0}
DEMO_WORLD = {"n_images": 20000, "image_size": 64, "seed": 0}


def train_demo_vae(
    path=DEMO_VAE_PATH, *, progress: bool = True, world=None, device=None, **overrides
) -> BetaVAE:
    """Train the demo beta-VAE on the demo world's train and val images; save it to ``path``.

    Reproducible: fixed seeds for the world, the initialisation, the shuffling and the noise.
    ``overrides`` replace entries of ``DEMO_TRAINING`` (e.g. ``epochs=1`` for a quick run);
    ``world`` reuses an already generated world (default: ``make_world(**DEMO_WORLD)``);
    ``device`` trains elsewhere than the CPU (e.g. ``"cuda"`` with more ``epochs``);
    ``path=None`` skips saving. Returns the trained VAE (on the CPU).
    """
    unknown = sorted(set(overrides) - set(DEMO_TRAINING))
    if unknown:
        raise TypeError(
            f"train_demo_vae: unknown settings {unknown}; known: {sorted(DEMO_TRAINING)}"
        )
    settings = {**DEMO_TRAINING, **overrides}
    if world is None:
        from ..datasets import make_world

        world = make_world(**DEMO_WORLD)
    images = np.asarray(world.images)[np.asarray(world.split) != "test"]
    torch.manual_seed(settings["seed"])
    vae = BetaVAE(DEMO_CONFIG)
    if device is not None:
        vae.to(device)
    vae.fit(images, progress=progress, **settings)
    vae.cpu()
    if path is not None:
        save_vae(
            vae,
            path,
            trained_on="demo world, train and val splits",
            world=DEMO_WORLD,
            training=settings,
            n_images=int(len(images)),
        )
    return vae


def load_demo_vae(*, device=None) -> BetaVAE:
    """The demo VAE shipped in ``failwidgets/demo/weights/vae.pt``."""
    if not DEMO_VAE_PATH.is_file():
        raise FileNotFoundError(
            f"the demo VAE weights are missing at {DEMO_VAE_PATH}; re-create them with "
            "`python -m failwidgets.demo.vae_model`"
        )
    return load_vae(DEMO_VAE_PATH, device=device)


if __name__ == "__main__":  # python -m failwidgets.demo.vae_model  -> re-train the demo VAE
    torch.set_num_threads(min(2, torch.get_num_threads()))
    trained = train_demo_vae()
    print(trained.history_.to_string(index=False))
    print(f"saved {DEMO_VAE_PATH} ({DEMO_VAE_PATH.stat().st_size / 1e6:.2f} MB)")
