"""A convolutional beta-VAE for Defuse: model, training, save/load and the VAE contract.

Architecture (Defuse, appendix B): an encoder of 4x4 stride-2 convolutions with ReLU, two
fully connected layers of ``hidden`` units and a linear layer to ``2 * latent_dim`` (mean and
log-variance); a decoder of three fully connected layers and 4x4 stride-2 transposed
convolutions mirroring the encoder, the last one followed by a sigmoid.

Loss per image, averaged over the batch::

    recon(x, x_hat) + beta * w(step) * KL(q(z|x) || N(0, I))

* ``KL`` is the analytic KL divergence between the diagonal Gaussian posterior and the standard
  normal prior, ``0.5 * sum(mu^2 + sigma^2 - 1 - log sigma^2)``: exact, with none of the variance
  of the one-sample estimate used by the reference implementation.
* ``w(step) = min(1, step / kl_warmup_steps)``: linear KL annealing (warm-up).
* ``recon`` is the pixel-wise binary cross-entropy on [0, 1] pixels summed over pixels and
  channels (``recon_loss="bce"``, the default): the Bernoulli log-likelihood of the beta-VAE
  paper (Higgins et al., 2017), so ``beta = 4`` keeps the meaning it has there, and computed from
  logits it stays well conditioned near saturated (black/white) pixels where a squared error's
  gradient vanishes through the sigmoid. ``recon_loss="mse"`` (summed squared error, a Gaussian
  likelihood of fixed variance) is available; its per-image scale is several times smaller than
  the BCE's, so the same ``beta`` regularises it much more strongly (blurrier decodes).

Images enter as uint8 ``(N, H, W, C)`` (the EvalSet layout) or float ``(N, C, H, W)`` in [0, 1]
(the torch layout); see :func:`images_to_tensor`.

Bring your own VAE
------------------
Defuse works with any VAE-like object that keeps this contract (:func:`check_vae` checks it
when the VAE is passed, and every decode is checked again while Defuse runs):

* ``encode(x)``: ``x`` is a float tensor ``(N, C, H, W)`` with values in [0, 1] (``C = 3``
  unless the module has ``in_channels``), on the module's device. Returns the posterior mean
  ``mu`` of shape ``(N, d)``, or a tuple / list whose first item is it (e.g. ``(mu, logvar)``;
  the rest is ignored), or a ``torch.distributions.Distribution`` (its ``mean``).
* ``decode(z)``: ``z`` is a float tensor ``(N, d)``. Returns images ``(N, C, H, W)`` of the
  input's size with finite values in [0, 1] (apply the sigmoid, or map a tanh output with
  ``(x + 1) / 2``; Defuse applies the classifier's own ``preprocess`` afterwards).
* optional: ``latent_dim`` (int) lets Defuse check ``decode`` before it sees any image;
  a torch module's parameters give its device (CPU for parameter-free objects).

Example: a small convolutional VAE of one's own, plugged into Defuse::

    class MyVAE(torch.nn.Module):
        latent_dim = 8

        def __init__(self):
            super().__init__()
            self.enc = torch.nn.Sequential(
                torch.nn.Conv2d(3, 16, 4, 2, 1), torch.nn.ReLU(),
                torch.nn.Conv2d(16, 32, 4, 2, 1), torch.nn.ReLU(),
                torch.nn.Flatten(), torch.nn.Linear(32 * 8 * 8, 2 * 8),
            )
            self.dec = torch.nn.Sequential(
                torch.nn.Linear(8, 32 * 8 * 8), torch.nn.ReLU(),
                torch.nn.Unflatten(1, (32, 8, 8)),
                torch.nn.ConvTranspose2d(32, 16, 4, 2, 1), torch.nn.ReLU(),
                torch.nn.ConvTranspose2d(16, 3, 4, 2, 1), torch.nn.Sigmoid(),
            )

        def encode(self, x):                    # (N, 3, 32, 32) in [0, 1]
            mu, logvar = self.enc(x).chunk(2, dim=1)
            return mu, logvar                   # (N, 8) each

        def decode(self, z):                    # (N, 8)
            return self.dec(z)                  # (N, 3, 32, 32) in [0, 1]

    vae = MyVAE()   # ... trained on images like the classifier's
    defuse = Defuse(vae, classifier, preprocess=normalise).fit(images, labels)
    defuse.quality_   # classifier accuracy on the originals and on the VAE's reconstructions

A VAE that expects other inputs (e.g. normalised to [-1, 1]) is wrapped in a small module whose
``encode`` and ``decode`` convert to and from [0, 1].
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..image_tensors import images_to_tensor as to_float_images

__all__ = [
    "VAEConfig",
    "BetaVAE",
    "CheckedVAE",
    "check_vae",
    "images_to_tensor",
    "tensor_to_uint8",
    "module_device",
    "save_vae",
    "load_vae",
]

_FORMAT = "failwidgets.beta_vae"
_FORMAT_VERSION = 1


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _check_positive_int(value, name: str) -> None:
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")


@dataclass(frozen=True)
class VAEConfig:
    """Shape and loss settings of a :class:`BetaVAE`.

    Parameters
    ----------
    image_size : side of the square input images; divisible by ``2 ** n_layers``.
    in_channels : image channels (3 for RGB).
    latent_dim : size of the latent code z.
    beta : weight of the KL term (4, as in Defuse).
    channels : width of every (transposed) convolution.
    hidden : width of the fully connected layers.
    n_layers : number of 4x4 stride-2 (transposed) convolutions; ``None`` picks the most
        halvings that leave a feature map of side >= 4 (64 -> 4 layers, 32 -> 3, 16 -> 2).
    recon_loss : ``"bce"`` (default) or ``"mse"``, both summed over the pixels of [0, 1] images.
    """

    image_size: int = 64
    in_channels: int = 3
    latent_dim: int = 10
    beta: float = 4.0
    channels: int = 64
    hidden: int = 256
    n_layers: int | None = None
    recon_loss: str = "bce"

    def __post_init__(self):
        for name in ("image_size", "in_channels", "latent_dim", "channels", "hidden"):
            _check_positive_int(getattr(self, name), name)
        beta = self.beta
        if (
            isinstance(beta, bool)
            or not isinstance(beta, (int, float))
            or not math.isfinite(beta)
            or beta < 0
        ):
            raise ValueError(f"beta: expected a finite number >= 0, got {beta!r}")
        if self.recon_loss not in ("bce", "mse"):
            raise ValueError(f"recon_loss: expected 'bce' or 'mse', got {self.recon_loss!r}")
        size = self.image_size
        if self.n_layers is None:
            layers = 0
            while size % 2 ** (layers + 1) == 0 and size // 2 ** (layers + 1) >= 4:
                layers += 1
            if layers == 0:
                raise ValueError(
                    f"image_size: {size} cannot be halved by a stride-2 layer to a side >= 4; "
                    "use an even size of at least 8 (e.g. 32 or 64)"
                )
            object.__setattr__(self, "n_layers", layers)
        else:
            _check_positive_int(self.n_layers, "n_layers")
            if size % 2**self.n_layers != 0:
                raise ValueError(
                    f"image_size: {size} is not divisible by 2 ** n_layers = {2**self.n_layers}; "
                    "each 4x4 stride-2 layer halves the side"
                )

    @property
    def feature_size(self) -> int:
        """Side of the feature map after the last encoder convolution."""
        return self.image_size // 2**self.n_layers

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> VAEConfig:
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"config: unknown VAE config keys {unknown}")
        return cls(**data)


def images_to_tensor(images, *, image_size: int | None = None, channels: int = 3) -> torch.Tensor:
    """Images as a float32 tensor ``(N, C, H, W)`` in [0, 1]
    (:func:`failwidgets.image_tensors.images_to_tensor`).

    uint8 input (numpy or torch) is read as ``(N, H, W, C)`` with values 0..255 (EvalSet layout),
    float input as ``(N, C, H, W)`` with values in [0, 1] (torch layout). With ``image_size``, a
    size mismatch raises a ValueError that says what was expected.
    """
    tensor = to_float_images(images, channels=channels)
    if image_size is not None and tuple(tensor.shape[2:]) != (image_size, image_size):
        raise ValueError(
            f"images: the VAE was built for {image_size}x{image_size} images, got "
            f"{tensor.shape[2]}x{tensor.shape[3]}; resize the images or train a VAE with "
            f"image_size={tensor.shape[2]}"
        )
    return tensor


def tensor_to_uint8(x: torch.Tensor) -> np.ndarray:
    """Float images ``(N, C, H, W)`` in [0, 1] as a uint8 numpy array ``(N, H, W, C)``."""
    x = (x.detach().float().clamp(0, 1) * 255.0).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


def module_device(module, default: str = "cpu") -> torch.device:
    """Device of a module's first parameter (``default`` for parameter-free callables)."""
    parameters = getattr(module, "parameters", None)
    if callable(parameters):
        for parameter in parameters():
            return parameter.device
    return torch.device(default)


class BetaVAE(nn.Module):
    """Convolutional beta-VAE.

    Parameters
    ----------
    config : a :class:`VAEConfig`; or pass its fields as keywords.

    Attributes
    ----------
    encoder, decoder : ``nn.Sequential``; the decoder returns logits (``decode`` applies the
        sigmoid).
    history_ : DataFrame of mean losses per epoch after :meth:`fit` (None before).
    metadata : dict stored with the weights (filled by :func:`load_vae`).
    """

    def __init__(self, config: VAEConfig | None = None, **kwargs):
        super().__init__()
        if config is None:
            config = VAEConfig(**kwargs)
        elif kwargs:
            raise TypeError("BetaVAE: pass either a VAEConfig or keyword settings, not both")
        if not isinstance(config, VAEConfig):
            raise TypeError(f"config: expected a VAEConfig, got {type(config).__name__}")
        self.config = config
        c, ch, s = config.in_channels, config.channels, config.feature_size
        encoder: list[nn.Module] = []
        for i in range(config.n_layers):
            encoder += [nn.Conv2d(c if i == 0 else ch, ch, 4, stride=2, padding=1), nn.ReLU()]
        self.encoder = nn.Sequential(
            *encoder,
            nn.Flatten(),
            nn.Linear(ch * s * s, config.hidden),
            nn.ReLU(),
            nn.Linear(config.hidden, config.hidden),
            nn.ReLU(),
            nn.Linear(config.hidden, 2 * config.latent_dim),
        )
        decoder: list[nn.Module] = [
            nn.Linear(config.latent_dim, config.hidden),
            nn.ReLU(),
            nn.Linear(config.hidden, config.hidden),
            nn.ReLU(),
            nn.Linear(config.hidden, ch * s * s),
            nn.ReLU(),
            nn.Unflatten(1, (ch, s, s)),
        ]
        for i in range(config.n_layers):
            last = i == config.n_layers - 1
            decoder.append(nn.ConvTranspose2d(ch, c if last else ch, 4, stride=2, padding=1))
            if not last:
                decoder.append(nn.ReLU())
        self.decoder = nn.Sequential(*decoder)
        self.history_ = None
        self.metadata: dict = {}

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    @property
    def image_size(self) -> int:
        return self.config.image_size

    def check_images(self, images) -> torch.Tensor:
        """Images as float ``(N, C, H, W)`` in [0, 1]; ValueError when their size differs."""
        return images_to_tensor(
            images, image_size=self.config.image_size, channels=self.config.in_channels
        )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance for float images ``(N, C, H, W)`` in [0, 1]."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Decoded images ``(N, C, H, W)`` in [0, 1] for codes ``(N, latent_dim)``."""
        return torch.sigmoid(self.decoder(z))

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        """Reconstruction logits, posterior mean and log-variance (one reparameterised sample)."""
        mu, logvar = self.encode(x)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return self.decoder(mu + torch.exp(0.5 * logvar) * eps), mu, logvar

    def loss_terms(self, x: torch.Tensor, generator: torch.Generator | None = None):
        """Batch means of the per-image reconstruction loss and of the analytic KL."""
        logits, mu, logvar = self(x, generator=generator)
        if self.config.recon_loss == "bce":
            recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
        else:
            recon = (torch.sigmoid(logits) - x).pow(2)
        recon = recon.flatten(1).sum(1).mean()
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(1).mean()
        return recon, kl

    # -- numpy conveniences ---------------------------------------------------------------------
    @torch.inference_mode()
    def encode_images(self, images, *, batch_size: int = 512) -> np.ndarray:
        """Posterior means ``(N, latent_dim)`` of uint8 NHWC or float NCHW images."""
        _check_positive_int(batch_size, "batch_size")
        if not isinstance(images, (np.ndarray, torch.Tensor)):
            raise TypeError(
                f"images: expected a numpy array or torch tensor, got {type(images).__name__}"
            )
        self.check_images(images[:1])  # layout and size errors before any work
        device = module_device(self)
        with _eval_mode(self):  # float conversion batch by batch keeps uint8 input small
            out = [
                self.encode(self.check_images(images[i : i + batch_size]).to(device))[0]
                .float()
                .cpu()
                for i in range(0, len(images), batch_size)
            ]
        return torch.cat(out).numpy() if out else np.zeros((0, self.latent_dim), np.float32)

    @torch.inference_mode()
    def decode_codes(self, codes, *, batch_size: int = 512) -> np.ndarray:
        """Decoded uint8 images ``(N, H, W, C)`` for latent codes ``(N, latent_dim)``."""
        _check_positive_int(batch_size, "batch_size")
        z = torch.as_tensor(np.asarray(codes, dtype=np.float32))
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"codes: expected shape (N, {self.latent_dim}), got {tuple(z.shape)}")
        device = module_device(self)
        with _eval_mode(self):
            out = [
                tensor_to_uint8(self.decode(z[i : i + batch_size].to(device)))
                for i in range(0, len(z), batch_size)
            ]
        if not out:
            s = self.image_size
            return np.zeros((0, s, s, self.config.in_channels), np.uint8)
        return np.concatenate(out)

    # -- training -------------------------------------------------------------------------------
    def fit(
        self,
        images,
        *,
        epochs: int = 10,
        batch_size: int = 128,
        lr: float = 1e-3,
        kl_warmup_steps: int = 500,
        seed: int = 0,
        progress: bool = True,
    ) -> BetaVAE:
        """Train with Adam; append one row per epoch to ``history_``. Returns ``self``.

        Parameters
        ----------
        images : uint8 ``(N, H, W, C)`` or float ``(N, C, H, W)`` in [0, 1], of ``image_size``.
        epochs, batch_size, lr : optimisation settings.
        kl_warmup_steps : the KL weight grows linearly from 0 to ``beta`` over this many steps
            (0: full weight from the first step).
        seed : seeds the shuffling and the reparameterisation noise.
        progress : show a tqdm progress bar.
        """
        import pandas as pd
        from tqdm.auto import tqdm

        _check_positive_int(epochs, "epochs")
        _check_positive_int(batch_size, "batch_size")
        if not _is_int(kl_warmup_steps) or kl_warmup_steps < 0:
            raise ValueError(f"kl_warmup_steps: expected an integer >= 0, got {kl_warmup_steps!r}")
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
            raise ValueError(f"lr: expected a positive number, got {lr!r}")
        data = self._training_tensor(images)
        n = len(data)
        if n == 0:
            raise ValueError("images: no images to train on")
        device = module_device(self)
        order_generator = torch.Generator().manual_seed(int(seed))
        noise_generator = torch.Generator(device=device).manual_seed(int(seed) + 1)
        optimizer = torch.optim.Adam(self.parameters(), lr=lr)
        step = 0 if self.history_ is None else int(self.history_["steps"].iloc[-1])
        rows = []
        bar = tqdm(
            total=epochs * math.ceil(n / batch_size), desc="training beta-VAE", disable=not progress
        )
        self.train()
        try:
            for epoch in range(epochs):
                order = torch.randperm(n, generator=order_generator)
                totals = torch.zeros(3, dtype=torch.float64)
                for start in range(0, n, batch_size):
                    batch = data[order[start : start + batch_size]].to(device)
                    x = batch.float().div_(255.0) if batch.dtype == torch.uint8 else batch
                    weight = 1.0 if kl_warmup_steps == 0 else min(1.0, step / kl_warmup_steps)
                    recon, kl = self.loss_terms(x, generator=noise_generator)
                    loss = recon + self.config.beta * weight * kl
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    step += 1
                    totals += torch.stack(
                        [loss.detach(), recon.detach(), kl.detach()]
                    ).double().cpu() * len(x)
                    bar.update(1)
                    if step % 10 == 0:
                        bar.set_postfix(loss=f"{loss.item():.1f}", kl=f"{kl.item():.2f}")
                loss_sum, recon_sum, kl_sum = (totals / n).tolist()
                rows.append(
                    {
                        "epoch": epoch + 1,
                        "loss": loss_sum,
                        "recon": recon_sum,
                        "kl": kl_sum,
                        "kl_weight": weight,
                        "steps": step,
                    }
                )
        finally:
            bar.close()
            self.eval()
        history = pd.DataFrame(rows)
        if self.history_ is not None:
            history["epoch"] += int(self.history_["epoch"].iloc[-1])
            history = pd.concat([self.history_, history], ignore_index=True)
        self.history_ = history
        return self

    def _training_tensor(self, images) -> torch.Tensor:
        """Training images kept compact: uint8 ``(N, C, H, W)`` for uint8 input, else float."""
        is_uint8 = (isinstance(images, np.ndarray) and images.dtype == np.uint8) or (
            isinstance(images, torch.Tensor) and images.dtype == torch.uint8
        )
        if not is_uint8:
            return self.check_images(images)
        tensor = torch.as_tensor(images)
        self.check_images(tensor[:1])  # shape / size validation with the shared messages
        if tensor.ndim == 4 and len(tensor) == 0:
            return tensor.permute(0, 3, 1, 2)
        return tensor.permute(0, 3, 1, 2).contiguous()

    def save(self, path, **metadata) -> Path:
        """Save to ``path`` (``.pt`` state dict) and the JSON config beside it."""
        return save_vae(self, path, **metadata)


class _eval_mode:
    """Put modules in eval mode for a block and restore their training flags afterwards."""

    def __init__(self, *modules):
        self.modules = [m for m in modules if hasattr(m, "train") and hasattr(m, "training")]

    def __enter__(self):
        self.flags = [m.training for m in self.modules]
        for m in self.modules:
            m.eval()

    def __exit__(self, *exc):
        for m, flag in zip(self.modules, self.flags):
            m.train(flag)


# -- the VAE contract (any encode / decode module) -----------------------------------------------

#: Decoded values may leave [0, 1] by this much (rounding); they are clipped to [0, 1].
DECODE_RANGE_TOLERANCE = 1e-3


def _declared_latent_dim(vae) -> int | None:
    for holder in (vae, getattr(vae, "config", None)):
        value = getattr(holder, "latent_dim", None) if holder is not None else None
        if _is_int(value) and value > 0:
            return int(value)
    return None


class CheckedVAE:
    """A VAE checked against the contract Defuse relies on (module docstring, "Bring your own
    VAE"): a :class:`BetaVAE` or any object with ``encode`` and ``decode``.

    Wraps ``module`` without copying it. ``latent_dim`` and ``image_shape`` ``(C, H, W)`` come
    from a :class:`BetaVAE`'s config or a declared ``latent_dim``, else from the first checked
    encode / decode. :meth:`encode_mean` and :meth:`decode` check every output (type, shape,
    finite values, decoded range) and raise a ValueError or TypeError naming ``name``.
    """

    def __init__(self, vae, *, name: str = "vae"):
        missing = [m for m in ("encode", "decode") if not callable(getattr(vae, m, None))]
        if missing:
            raise TypeError(
                f"{name}: expected a VAE with methods encode(x) -> (mu, logvar) and "
                f"decode(z) -> images (a BetaVAE or a module of your own; see "
                f"failwidgets.methods.vae, 'Bring your own VAE'); {type(vae).__name__} has no "
                f"{' and no '.join(missing)} method"
            )
        self.module = vae
        self.name = name
        self.latent_dim = _declared_latent_dim(vae)
        if isinstance(vae, BetaVAE) or isinstance(getattr(vae, "config", None), VAEConfig):
            config = vae.config
            self.channels = int(config.in_channels)
            self.image_shape: tuple[int, int, int] | None = (
                self.channels,
                int(config.image_size),
                int(config.image_size),
            )
        else:
            channels = getattr(vae, "in_channels", 3)
            if not _is_int(channels) or channels < 1:
                raise ValueError(
                    f"{name}: in_channels must be a positive integer, got {channels!r}"
                )
            self.channels = int(channels)
            self.image_shape = None

    def __repr__(self) -> str:
        return (
            f"CheckedVAE({type(self.module).__name__}, latent_dim={self.latent_dim}, "
            f"image_shape={self.image_shape})"
        )

    @property
    def device(self) -> torch.device:
        return module_device(self.module)

    @property
    def image_size(self) -> int | None:
        """Side of the (square) images, the height of non-square ones; None before a check."""
        return None if self.image_shape is None else self.image_shape[1]

    def to_tensor(self, images) -> torch.Tensor:
        """Images as float ``(N, C, H, W)`` in [0, 1]; ValueError when their size differs."""
        config = getattr(self.module, "config", None)
        if isinstance(config, VAEConfig):  # the messages name its config
            return images_to_tensor(images, image_size=config.image_size, channels=self.channels)
        x = images_to_tensor(images, channels=self.channels)
        if self.image_shape is not None and tuple(x.shape[2:]) != self.image_shape[1:]:
            h, w = self.image_shape[1:]
            raise ValueError(
                f"images: the VAE decodes {h}x{w} images, got {x.shape[2]}x{x.shape[3]}; resize "
                "the images or use a VAE trained on images of their size"
            )
        return x

    def encode_mean(self, x: torch.Tensor) -> torch.Tensor:
        """The posterior mean ``(N, latent_dim)`` (float32) of float images ``(N, C, H, W)``."""
        out = self.module.encode(x)
        if isinstance(out, torch.distributions.Distribution):
            mu = out.mean
        elif isinstance(out, (tuple, list)) and out:
            mu = out[0]
        else:
            mu = out
        if not isinstance(mu, torch.Tensor):
            raise TypeError(
                f"{self.name}: encode(x) must return the posterior mean as a tensor "
                f"(N, latent_dim), or a tuple (mu, logvar); got {type(out).__name__}"
                + (f" of {type(mu).__name__}" if mu is not out else "")
            )
        if mu.ndim != 2 or mu.shape[0] != len(x):
            raise ValueError(
                f"{self.name}: encode(x) of {len(x)} images returned a mean of shape "
                f"{tuple(mu.shape)}; expected ({len(x)}, latent_dim)"
            )
        if self.latent_dim is not None and mu.shape[1] != self.latent_dim:
            raise ValueError(
                f"{self.name}: encode(x) returned {mu.shape[1]}-dimensional codes, but its "
                f"latent_dim is {self.latent_dim}"
            )
        if not bool(torch.isfinite(mu).all()):
            raise ValueError(
                f"{self.name}: encode(x) returned non-finite values (NaN or inf) for images in "
                "[0, 1]; check the VAE's weights and that it expects [0, 1] inputs"
            )
        self.latent_dim = int(mu.shape[1])
        return mu.float()

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Decoded float32 images ``(N, C, H, W)`` in [0, 1] of codes ``(N, latent_dim)``."""
        x = self.module.decode(z)
        if not isinstance(x, torch.Tensor):
            raise TypeError(
                f"{self.name}: decode(z) must return a tensor of images (N, C, H, W), got "
                f"{type(x).__name__}"
            )
        if x.ndim != 4 or x.shape[0] != len(z) or x.shape[1] != self.channels:
            raise ValueError(
                f"{self.name}: decode(z) of {len(z)} codes returned shape {tuple(x.shape)}; "
                f"expected ({len(z)}, {self.channels}, H, W) images"
            )
        if self.image_shape is not None and tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(
                f"{self.name}: decode(z) returned images of shape {tuple(x.shape[1:])}, but the "
                f"images it encodes are {self.image_shape} (C, H, W); decode must give back "
                "images of the encoded size"
            )
        if x.numel():
            low, high = (float(v) for v in torch.aminmax(x.detach()))
            tol = DECODE_RANGE_TOLERANCE
            if not (low >= -tol and high <= 1 + tol):
                if not bool(torch.isfinite(x).all()):
                    raise ValueError(
                        f"{self.name}: decode(z) returned non-finite values (NaN or inf); check "
                        "the VAE's weights"
                    )
                raise ValueError(
                    f"{self.name}: decode(z) returned values in [{low:.3g}, {high:.3g}]; Defuse "
                    "needs images in [0, 1] (end the decoder with a sigmoid, map a tanh output "
                    "with (x + 1) / 2, or divide 0..255 values by 255)"
                )
            if low < 0 or high > 1:
                x = x.clamp(0, 1)
        return x.float()

    @torch.inference_mode()
    def decode_codes(self, codes, *, batch_size: int = 512) -> np.ndarray:
        """Decoded uint8 images ``(N, H, W, C)`` of latent codes ``(N, latent_dim)``."""
        _check_positive_int(batch_size, "batch_size")
        z = torch.as_tensor(np.asarray(codes, dtype=np.float32))
        if z.ndim != 2 or (self.latent_dim is not None and z.shape[1] != self.latent_dim):
            raise ValueError(
                f"codes: expected shape (N, {self.latent_dim or 'latent_dim'}), got {tuple(z.shape)}"
            )
        device = self.device
        with _eval_mode(self.module):
            out = [
                tensor_to_uint8(self.decode(z[i : i + batch_size].to(device)))
                for i in range(0, len(z), batch_size)
            ]
        if out:
            return np.concatenate(out)
        c, h, w = self.image_shape or (self.channels, 0, 0)
        return np.zeros((0, h, w, c), np.uint8)

    @torch.inference_mode()
    def probe(self, images=None) -> CheckedVAE:
        """Check ``encode`` and ``decode`` on up to two of ``images`` (uint8 ``(N, H, W, C)`` or
        float ``(N, C, H, W)`` in [0, 1]): decode(encode(x)) must give back images of x's shape,
        finite, in [0, 1]. Without images, decode two zero codes when ``latent_dim`` is known.
        Returns ``self``; raises TypeError / ValueError naming the VAE otherwise."""
        device = self.device
        with _eval_mode(self.module):
            if images is None:
                if self.latent_dim is not None:
                    self._call(
                        "decode", self.decode, torch.zeros(2, self.latent_dim, device=device)
                    )
                return self
            if not isinstance(images, (np.ndarray, torch.Tensor)):
                raise TypeError(
                    f"images: expected a numpy array or torch tensor, got {type(images).__name__}"
                )
            x = self.to_tensor(images[:2]).to(device)
            if self.image_shape is None:
                self.image_shape = tuple(int(v) for v in x.shape[1:])
            mu = self._call("encode", self.encode_mean, x)
            self._call("decode", self.decode, mu)
        return self

    def _call(self, method: str, function, argument):
        try:
            return function(argument)
        except (TypeError, ValueError) as error:
            if str(error).startswith(f"{self.name}:"):
                raise
            raise type(error)(
                f"{self.name}: {method} failed on an input of shape {tuple(argument.shape)}: "
                f"{error}"
            ) from error
        except RuntimeError as error:  # e.g. a layer of another size than the input needs
            raise ValueError(
                f"{self.name}: {method} failed on an input of shape {tuple(argument.shape)} "
                f"({'float images in [0, 1]' if method == 'encode' else 'latent codes'}): {error}"
            ) from error


def check_vae(vae, images=None, *, name: str = "vae") -> CheckedVAE:
    """Check that ``vae`` keeps Defuse's VAE contract; returns a :class:`CheckedVAE`.

    Parameters
    ----------
    vae : a :class:`BetaVAE`, any object with ``encode(x)`` and ``decode(z)`` (see the module
        docstring, "Bring your own VAE"), or a :class:`CheckedVAE` (checked again on
        ``images``).
    images : optional images (uint8 ``(N, H, W, C)`` or float ``(N, C, H, W)`` in [0, 1]); up to
        two are encoded and decoded. Without images, only ``decode`` is checked, and only when
        the VAE declares its ``latent_dim``.
    name : the argument named in error messages.

    Raises
    ------
    TypeError
        No callable ``encode`` / ``decode``, or outputs that are not tensors.
    ValueError
        Outputs of the wrong shape, non-finite outputs, decoded values outside [0, 1], a
        ``decode`` that does not give back images of the encoded size, or an ``encode`` that
        fails on images of this size.
    """
    checked = vae if isinstance(vae, CheckedVAE) else CheckedVAE(vae, name=name)
    return checked.probe(images)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"metadata: a value of type {type(value).__name__} is not JSON-serialisable")


def save_vae(vae: BetaVAE, path, **metadata) -> Path:
    """Write the state dict to ``path`` (``.pt``) and config + ``metadata`` to ``path.json``.

    Both files are written to a temporary name first and moved into place.
    """
    if not isinstance(vae, BetaVAE):
        raise TypeError(f"vae: expected a BetaVAE, got {type(vae).__name__}")
    path = Path(path)
    if path.suffix != ".pt":
        raise ValueError(f"path: expected a file name ending in .pt, got {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    info = {
        "format": _FORMAT,
        "version": _FORMAT_VERSION,
        "config": vae.config.to_dict(),
        "metadata": metadata,
    }
    if vae.history_ is not None:
        info["history"] = vae.history_.to_dict(orient="records")
    text = json.dumps(info, indent=1, default=_json_default) + "\n"
    state = {k: v.detach().cpu().contiguous() for k, v in vae.state_dict().items()}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    json_path = path.with_suffix(".json")
    tmp = json_path.with_name(json_path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, json_path)
    return path


def load_vae(path, *, device=None) -> BetaVAE:
    """Load a VAE written by :func:`save_vae`, in eval mode.

    The weights are read with ``torch.load(weights_only=True)`` (no pickled code runs).
    """
    import pandas as pd

    path = Path(path)
    json_path = path.with_suffix(".json")
    if not path.is_file():
        raise FileNotFoundError(f"path: VAE weights not found: {path}")
    if not json_path.is_file():
        raise FileNotFoundError(f"path: VAE config not found beside the weights: {json_path}")
    try:
        info = json.loads(json_path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"path: {json_path} is not valid JSON ({error})") from None
    if not isinstance(info, dict) or info.get("format") != _FORMAT:
        raise ValueError(f"path: {json_path} is not a failwidgets beta-VAE config")
    if info.get("version") != _FORMAT_VERSION:
        raise ValueError(
            f"path: unsupported VAE file version {info.get('version')!r} in {json_path}"
        )
    vae = BetaVAE(VAEConfig.from_dict(info["config"]))
    vae.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    if "history" in info:
        vae.history_ = pd.DataFrame(info["history"])
    vae.metadata = info.get("metadata", {})
    if device is not None:
        vae.to(device)
    return vae.eval()
