"""Helpers shared by the demo training routines: world validation, batching, weight files.

Weights ship as a pair of files in ``failwidgets/demo/weights/``: ``<name>.pt`` holds a flat
dict of tensors (read back with ``torch.load(weights_only=True)``) and ``<name>.json`` the
architecture, the training settings and the measured quality, so a model can be rebuilt
without unpickling any code.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..image_tensors import images_to_tensor

WEIGHTS_DIR = Path(__file__).parent / "weights"

__all__ = [
    "WEIGHTS_DIR",
    "images_to_tensor",
    "mirror_half",
    "read_weights",
    "retraining_parser",
    "split_arrays",
    "supervised_step",
    "write_weights",
]


def split_arrays(world, split: str):
    """Return ``(images, labels, indices)`` of one split of a world, validated.

    ``world`` needs ``images`` (uint8, N x H x W x 3), ``labels`` (ints in
    ``range(len(class_names))``), ``class_names`` and ``split`` (N split names).
    """
    for name in ("images", "labels", "class_names", "split"):
        if not hasattr(world, name):
            raise TypeError(
                f"world: expected an object with .images, .labels, .class_names and .split "
                f"(e.g. failwidgets.datasets.make_world()), it has no .{name}"
            )
    images = np.asarray(world.images)
    labels = np.asarray(world.labels)
    splits = np.asarray(world.split).astype(str)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(
            f"world.images: expected uint8 (N, H, W, 3), got {images.dtype} {images.shape}"
        )
    n = len(images)
    if labels.shape != (n,) or splits.shape != (n,):
        raise ValueError(
            f"world: labels {labels.shape} and split {splits.shape} must both have shape ({n},)"
        )
    n_classes = len(world.class_names)
    if n and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"world.labels: values must lie in 0..{n_classes - 1}")
    indices = np.flatnonzero(splits == split)
    if len(indices) == 0:
        raise ValueError(
            f"world.split: no samples in split {split!r} (splits present: {sorted(set(splits))})"
        )
    return images[indices], labels[indices].astype(np.int64), indices


def mirror_half(x, generator):
    """Mirror a random half of the batch ``x`` (N, C, H, W) left-right, in place, drawing from
    ``generator`` (no class of the world depends on left-right orientation); returns ``x``."""
    import torch

    flip = torch.rand(len(x), generator=generator) < 0.5
    x[flip] = x[flip].flip(3)
    return x


def supervised_step(model, loss_fn, optimiser, schedule, x, y) -> tuple[float, int]:
    """One training step on the batch ``(x, y)``: forward, ``loss_fn(logits, y)``, backward,
    then a step of the optimiser and of its learning-rate schedule. Returns the batch's
    summed loss and how many of its images the model classified right."""
    logits = model(x)
    loss = loss_fn(logits, y)
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    schedule.step()
    return float(loss.detach()) * len(y), int((logits.argmax(1) == y).sum())


def retraining_parser(description: str, epochs: int):
    """The options a demo model's re-training command shares with the others: ``--epochs``,
    ``--seed``, ``--threads``, ``--eval-samples`` and ``--out`` (an ``argparse`` parser)."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument(
        "--eval-samples", type=int, default=1000, help="test images measured after training"
    )
    parser.add_argument("--out", default=None, help="weights folder (default: the package's)")
    return parser


def write_weights(name: str, tensors: dict, config: dict, directory=None) -> Path:
    """Write ``<name>.pt`` (dict of tensors) and ``<name>.json`` (config) and return the .pt path."""
    import torch

    directory = Path(directory) if directory is not None else WEIGHTS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.pt"
    torch.save({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, path)
    (directory / f"{name}.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return path


def read_weights(name: str, directory=None):
    """Read back ``(tensors, config)`` written by :func:`write_weights`."""
    import torch

    directory = Path(directory) if directory is not None else WEIGHTS_DIR
    path, config_path = directory / f"{name}.pt", directory / f"{name}.json"
    missing = [str(p) for p in (path, config_path) if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"demo weights missing: {', '.join(missing)}. Re-train them with "
            f"`python -m failwidgets.demo.{name if name != 'clip' else 'clip_model'}`."
        )
    tensors = torch.load(path, map_location="cpu", weights_only=True)
    config = json.loads(config_path.read_text())
    return tensors, config
