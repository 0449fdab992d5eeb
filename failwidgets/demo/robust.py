"""The demo's robust feature extractor: a small CNN adversarially trained with L2 PGD.

It plays, on the 64x64 demo world, the part that the `robustness` library's L2-robust
ResNet-50 plays on ImageNet for Barlow: inputs are images in [0, 1] (the normalisation lives
inside the module), the penultimate layer is a global average pool over a ReLU feature map, so
features, CAM heatmaps (one channel of the map) and feature attacks all work on it.

Re-train the shipped weights with (see ``robust.json`` for the time it took)::

    python -m failwidgets.demo.robust
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._common import (
    images_to_tensor,
    mirror_half,
    read_weights,
    retraining_parser,
    split_arrays,
    supervised_step,
    write_weights,
)

__all__ = [
    "RobustCNN",
    "evaluate_robust",
    "load_robust",
    "pgd_l2",
    "save_robust",
    "train_robust",
]

WEIGHTS_NAME = "robust"
DEFAULT_WIDTHS = (24, 48, 48, 96, 96, 128)
DEFAULT_STRIDES = (2, 2, 1, 2, 1, 1)


class RobustCNN(nn.Module):
    """Plain conv-BN-ReLU network with a global-average-pooled penultimate layer.

    Parameters
    ----------
    n_classes : number of output classes.
    widths, strides : channels and stride of each 3x3 conv layer (same length).
    mean, std : per-channel statistics of the training images (values in [0, 1]); the module
        normalises its [0, 1] input with them, so callers never normalise.

    The feature map (last conv layer, after ReLU) has ``widths[-1]`` channels at
    1/prod(strides) of the input resolution (8x8 for 64x64 inputs with the defaults).
    """

    def __init__(
        self,
        n_classes: int,
        widths: Sequence[int] = DEFAULT_WIDTHS,
        strides: Sequence[int] = DEFAULT_STRIDES,
        mean: Sequence[float] = (0.5, 0.5, 0.5),
        std: Sequence[float] = (0.25, 0.25, 0.25),
    ):
        super().__init__()
        if int(n_classes) < 2:
            raise ValueError(f"n_classes: need at least 2 classes, got {n_classes}")
        widths, strides = [int(w) for w in widths], [int(s) for s in strides]
        if not widths or len(widths) != len(strides):
            raise ValueError(
                f"widths and strides: need equal, non-zero lengths, got {len(widths)} and "
                f"{len(strides)}"
            )
        if min(widths) < 1 or min(strides) < 1:
            raise ValueError("widths and strides: every entry must be a positive integer")
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise ValueError("mean and std: need 3 values each, std strictly positive")
        self.n_classes = int(n_classes)
        self.widths, self.strides = tuple(widths), tuple(strides)
        layers, channels = [], 3
        for width, stride in zip(widths, strides):
            layers += [
                nn.Conv2d(channels, width, 3, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
            ]
            channels = width
        self.body = nn.Sequential(*layers)
        self.fc = nn.Linear(channels, self.n_classes)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    @property
    def n_features(self) -> int:
        """Dimension of :meth:`forward_features` (channels of the feature map)."""
        return self.widths[-1]

    def forward_features_map(self, x: torch.Tensor) -> torch.Tensor:
        """Feature map before pooling, ``(B, C, h, w)``, for images ``x`` in [0, 1]."""
        return self.body((x - self.mean) / self.std)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Global-average-pooled features ``(B, C)`` (the penultimate layer)."""
        return self.forward_features_map(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``(B, n_classes)`` for images ``x`` in [0, 1], ``(B, 3, H, W)``."""
        return self.fc(self.forward_features(x))

    def config(self) -> dict:
        """Constructor arguments, JSON-serialisable."""
        return {
            "n_classes": self.n_classes,
            "widths": list(self.widths),
            "strides": list(self.strides),
            "mean": [float(v) for v in self.mean.flatten()],
            "std": [float(v) for v in self.std.flatten()],
        }


# --------------------------------------------------------------------------- attack
def _per_sample_norm(t: torch.Tensor) -> torch.Tensor:
    return t.flatten(1).norm(dim=1).view(-1, *([1] * (t.ndim - 1)))


def pgd_l2(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    eps: float,
    steps: int,
    step_size: float | None = None,
    random_start: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Untargeted L2 projected gradient ascent on the cross-entropy loss.

    Each step moves the perturbation by ``step_size`` along the per-sample L2-normalised
    gradient, projects it back onto the L2 ball of radius ``eps`` around ``images`` and clamps
    the result to [0, 1] (clamping only shrinks the perturbation, so both constraints hold).

    Parameters
    ----------
    model : maps images in [0, 1] to logits; run in eval mode during the attack (its mode is
        restored afterwards), its parameters get no gradients.
    images : float tensor (B, C, H, W) in [0, 1].
    labels : int tensor (B,).
    eps : radius of the L2 ball (per image, over all pixels and channels).
    steps : number of gradient steps.
    step_size : L2 length of each step; default ``2.5 * eps / steps`` (as in the robustness
        library).
    random_start : start from a random point on the sphere of radius ``eps``.

    Returns
    -------
    Adversarial images, detached, with ``||adv - images||_2 <= eps`` per image and values
    in [0, 1].
    """
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        raise TypeError("images: expected a float tensor of shape (B, C, H, W)")
    if not torch.is_floating_point(images):
        raise TypeError(f"images: expected a float tensor in [0, 1], got {images.dtype}")
    if images.numel() and (images.min() < 0 or images.max() > 1):
        raise ValueError("images: values must lie in [0, 1]")
    if not isinstance(labels, torch.Tensor) or labels.shape != images.shape[:1]:
        raise ValueError(f"labels: expected a tensor of shape ({images.shape[0]},)")
    if not np.isfinite(eps) or eps < 0:
        raise ValueError(f"eps: must be a finite number >= 0, got {eps}")
    if int(steps) != steps or steps < 1:
        raise ValueError(f"steps: must be a positive integer, got {steps}")
    step_size = 2.5 * eps / steps if step_size is None else float(step_size)
    if not np.isfinite(step_size) or step_size < 0:
        raise ValueError(f"step_size: must be a finite number >= 0, got {step_size}")
    images = images.detach()
    if eps == 0:
        return images.clone()

    was_training = model.training
    model.eval()
    try:
        if random_start:
            noise = torch.randn(images.shape, generator=generator, dtype=images.dtype)
            noise = noise.to(images.device)
            delta = eps * noise / _per_sample_norm(noise).clamp_min(1e-12)
            delta = (images + delta).clamp(0, 1) - images
        else:
            delta = torch.zeros_like(images)
        for _ in range(int(steps)):
            delta.requires_grad_(True)
            with torch.enable_grad():
                loss = F.cross_entropy(model(images + delta), labels, reduction="sum")
                (grad,) = torch.autograd.grad(loss, delta)
            with torch.no_grad():
                delta = delta + step_size * grad / _per_sample_norm(grad).clamp_min(1e-12)
                delta = delta * (eps / _per_sample_norm(delta).clamp_min(1e-12)).clamp(max=1.0)
                delta = (images + delta).clamp(0, 1) - images
    finally:
        model.train(was_training)
    return (images + delta).detach()


def evaluate_robust(
    model: nn.Module,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    eps: float = 0.5,
    steps: int = 10,
    batch_size: int = 256,
) -> dict:
    """Natural and PGD-L2 robust accuracy of ``model`` on uint8 images (N, H, W, 3).

    Returns ``{"natural_accuracy", "robust_accuracy", "eps", "steps", "n"}``.
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images: expected uint8 (N, H, W, 3), got {images.dtype} {images.shape}")
    if labels.shape != (len(images),):
        raise ValueError(f"labels: expected shape ({len(images)},), got {labels.shape}")
    if len(images) == 0:
        raise ValueError("images: need at least one image")
    natural = robust = 0
    was_training = model.training
    model.eval()
    for start in range(0, len(images), batch_size):
        x = images_to_tensor(images[start : start + batch_size])
        y = torch.from_numpy(labels[start : start + batch_size].astype(np.int64))
        with torch.no_grad():
            natural += int((model(x).argmax(1) == y).sum())
        adv = pgd_l2(model, x, y, eps=eps, steps=steps)
        with torch.no_grad():
            robust += int((model(adv).argmax(1) == y).sum())
    model.train(was_training)
    n = len(images)
    return {
        "natural_accuracy": natural / n,
        "robust_accuracy": robust / n,
        "eps": float(eps),
        "steps": int(steps),
        "n": n,
    }


# --------------------------------------------------------------------------- training
def _channel_stats(images: np.ndarray, chunk: int = 1024) -> tuple[list, list]:
    """Exact per-channel mean and std (on the [0, 1] scale) of uint8 images (N, H, W, 3)."""
    total = np.zeros(3, dtype=np.int64)
    squares = np.zeros(3, dtype=np.int64)
    for start in range(0, len(images), chunk):
        block = images[start : start + chunk].reshape(-1, 3).astype(np.int64)
        total += block.sum(axis=0)
        squares += (block * block).sum(axis=0)
    count = images.shape[0] * images.shape[1] * images.shape[2]
    mean = total / count
    var = np.maximum(squares / count - mean**2, 0.0)
    return (mean / 255.0).tolist(), np.maximum(np.sqrt(var) / 255.0, 1e-3).tolist()


def train_robust(
    world,
    *,
    epochs: int = 8,
    eps: float = 0.5,
    steps: int = 3,
    step_size: float | None = None,
    batch_size: int = 128,
    lr: float = 3e-3,
    weight_decay: float = 5e-4,
    seed: int = 0,
    widths: Sequence[int] = DEFAULT_WIDTHS,
    strides: Sequence[int] = DEFAULT_STRIDES,
    augment: bool = True,
    max_samples: int | None = None,
    verbose: bool = False,
) -> RobustCNN:
    """Adversarially train a :class:`RobustCNN` on the world's train split (Madry et al.).

    Every mini-batch (randomly mirrored left-right when ``augment``) is replaced by its
    PGD-L2 adversarial version (``steps`` steps inside the ball of radius ``eps``, model in
    eval mode), then one AdamW step (one-cycle learning rate peaking at ``lr``; no weight
    decay on biases and norms) is taken on it. ``eps=0`` trains naturally.

    Parameters
    ----------
    world : object with ``images`` uint8 (N, H, W, 3), ``labels``, ``class_names``, ``split``
        (e.g. :func:`failwidgets.datasets.make_world`).
    max_samples : train on the first ``max_samples`` train images only (tests, quick runs).
    verbose : print one line per epoch.

    Returns
    -------
    The trained model in eval mode, on the CPU.
    """
    if int(epochs) != epochs or epochs < 1:
        raise ValueError(f"epochs: must be a positive integer, got {epochs}")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size: must be a positive integer, got {batch_size}")
    if not np.isfinite(eps) or eps < 0:
        raise ValueError(f"eps: must be a finite number >= 0, got {eps}")
    if not lr > 0:
        raise ValueError(f"lr: must be positive, got {lr}")
    images, labels, _ = split_arrays(world, "train")
    if max_samples is not None:
        if int(max_samples) != max_samples or max_samples < 1:
            raise ValueError(f"max_samples: must be a positive integer, got {max_samples}")
        images, labels = images[: int(max_samples)], labels[: int(max_samples)]
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    mean, std = _channel_stats(images)
    model = RobustCNN(len(world.class_names), widths=widths, strides=strides, mean=mean, std=std)
    data = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)  # uint8 NCHW
    targets = torch.from_numpy(labels)
    n = len(data)
    batches_per_epoch = -(-n // batch_size)
    decay, no_decay = [], []
    for param in model.parameters():
        (no_decay if param.ndim == 1 else decay).append(param)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0}],
        lr=lr,
    )
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=int(epochs) * batches_per_epoch, pct_start=0.25
    )
    for epoch in range(int(epochs)):
        start = time.perf_counter()
        order = torch.randperm(n, generator=generator)
        total_loss, correct = 0.0, 0
        for b in range(batches_per_epoch):
            idx = order[b * batch_size : (b + 1) * batch_size]
            x = data[idx].float().div_(255.0)
            y = targets[idx]
            if augment:
                mirror_half(x, generator)
            if eps > 0:
                x = pgd_l2(model, x, y, eps=eps, steps=steps, step_size=step_size)
            model.train()
            loss, hits = supervised_step(model, F.cross_entropy, optimizer, schedule, x, y)
            total_loss += loss
            correct += hits
        if verbose:
            kind = "adversarial" if eps > 0 else "natural"
            print(
                f"epoch {epoch + 1}/{epochs}: {kind} train loss {total_loss / n:.3f}, "
                f"accuracy {correct / n:.3f} ({time.perf_counter() - start:.0f} s)",
                flush=True,
            )
    return model.eval()


# --------------------------------------------------------------------------- weights
def save_robust(model: RobustCNN, directory=None, *, class_names=None, training=None, metrics=None):
    """Write ``robust.pt`` (state dict) and ``robust.json`` (architecture + provenance)."""
    if not isinstance(model, RobustCNN):
        raise TypeError(f"model: expected a RobustCNN, got {type(model).__name__}")
    config = {
        "format": 1,
        "architecture": model.config(),
        "class_names": list(class_names) if class_names is not None else None,
        "training": training or {},
        "metrics": metrics or {},
    }
    return write_weights(WEIGHTS_NAME, model.state_dict(), config, directory)


def load_robust(directory=None) -> RobustCNN:
    """The shipped robust demo model (eval mode, CPU), or one saved with :func:`save_robust`.

    The model's JSON config is available as ``model.demo_config``.
    """
    tensors, config = read_weights(WEIGHTS_NAME, directory)
    model = RobustCNN(**config["architecture"])
    model.load_state_dict(tensors)
    model.demo_config = config
    return model.eval()


def main(argv=None) -> None:  # pragma: no cover - exercised by the re-training command
    import json

    from failwidgets.datasets import make_world

    parser = retraining_parser("Re-train the shipped robust demo model.", epochs=8)
    parser.add_argument("--eps", type=float, default=0.5)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--compare-natural", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    world_args = {"n_images": 20000, "image_size": 64, "seed": 0}
    world = make_world(**world_args)
    start = time.perf_counter()
    model = train_robust(
        world, epochs=args.epochs, eps=args.eps, steps=args.steps, seed=args.seed, verbose=True
    )
    seconds = time.perf_counter() - start
    test_images, test_labels, _ = split_arrays(world, "test")
    test_images = test_images[: args.eval_samples]
    test_labels = test_labels[: args.eval_samples]
    metrics = {"test": evaluate_robust(model, test_images, test_labels, eps=args.eps, steps=10)}
    if args.compare_natural:
        natural = train_robust(world, epochs=args.epochs, eps=0.0, seed=args.seed)
        metrics["natural_model_test"] = evaluate_robust(
            natural, test_images, test_labels, eps=args.eps, steps=10
        )
    training = {
        "world": world_args,
        "split": "train",
        "epochs": args.epochs,
        "eps": args.eps,
        "steps": args.steps,
        "step_size": 2.5 * args.eps / args.steps,
        "optimizer": "AdamW, one-cycle, lr 3e-3, weight decay 5e-4, batch 128, mirroring",
        "seed": args.seed,
        "threads": args.threads,
        "seconds": round(seconds, 1),
        "torch": torch.__version__,
    }
    path = save_robust(
        model, args.out, class_names=world.class_names, training=training, metrics=metrics
    )
    print(json.dumps({"weights": str(path), "seconds": round(seconds, 1), **metrics}))


if __name__ == "__main__":  # pragma: no cover
    main()
