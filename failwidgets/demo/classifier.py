"""The classifier under inspection: a small CNN trained on the planted-failure world.

The model takes float images in [0, 1] (N, 3, H, W) and normalises them itself, so callers
never apply a separate transform. It splits into ``bottom`` (normalisation + convolutions,
the bottleneck activations) and ``top`` (global average pooling + linear layer), the split
CES and other bottleneck methods need: ``model(x) == model.top(model.bottom(x))``.

Shipped weights live in ``failwidgets/demo/weights/classifier.pt`` (a state dict) with
``classifier.json`` (architecture, class names, training recipe and the measured test
accuracy per planted failure). Re-train them from scratch (a few minutes on one CPU thread)::

    python -m failwidgets.demo.classifier [--out DIR] [--seed 0] [--threads 1]
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..image_tensors import images_to_tensor
from ._common import mirror_half, supervised_step

__all__ = [
    "DEFAULT_TRAINING",
    "WEIGHTS_DIR",
    "DemoCNN",
    "evaluate_on_world",
    "load_classifier",
    "predict",
    "save_classifier",
    "train_classifier",
]

WEIGHTS_DIR = Path(__file__).parent / "weights"
WEIGHTS_NAME = "classifier"
# The recipe of the shipped weights (the world and the optimisation).
DEFAULT_TRAINING = {
    "world": {"n_images": 20000, "image_size": 64, "seed": 0},
    "epochs": 8,
    "batch_size": 128,
    "lr": 3e-3,
    "weight_decay": 5e-4,
    "seed": 0,
}


def _conv_bn_relu(c_in, c_out, kernel=3, stride=1):
    return [
        nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]


class DemoCNN(nn.Module):
    """A stride-2 5x5 stem (width channels) and three 3x3 conv blocks (2w, 4w, 8w; max-pooled
    after the first two), global average pooling and a linear layer. Inputs: float [0, 1] (N, 3, H, W), normalised inside.

    Parameters
    ----------
    n_classes : number of output classes.
    width : channels of the first block.
    mean, std : per-channel normalisation applied to the [0, 1] inputs.
    """

    def __init__(
        self, n_classes: int, width: int = 16, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25)
    ):
        super().__init__()
        if n_classes < 2:
            raise ValueError(f"n_classes: need at least 2 classes, got {n_classes}")
        if width < 1:
            raise ValueError(f"width: must be positive, got {width}")
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
        channels = [width, 2 * width, 4 * width, 8 * width]
        layers = _conv_bn_relu(3, width, kernel=5, stride=2)  # stem: H/2
        for k in range(3):
            layers += _conv_bn_relu(channels[k], channels[k + 1])
            if k < 2:
                layers.append(nn.MaxPool2d(2))  # H/4, then H/8
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(8 * width, n_classes)
        self.config: dict = {}

    def bottom(self, x):
        """Bottleneck activations (N, 8w, H/8, W/8) of [0, 1] images."""
        return self.features((x - self.mean) / self.std)

    def top(self, h):
        """Logits from bottleneck activations (global average pooling + linear)."""
        return self.fc(h.mean(dim=(2, 3)))

    def embed(self, x):
        """Pooled penultimate features (N, 8w) of [0, 1] images."""
        return self.bottom(x).mean(dim=(2, 3))

    def forward(self, x):
        return self.top(self.bottom(x))


def _check_images(images, name="images") -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"{name}: expected uint8 (N, H, W, 3), got shape {images.shape}")
    if images.dtype != np.uint8:
        raise TypeError(f"{name}: expected dtype uint8, got {images.dtype}")
    return images


def _channel_stats(images_uint8: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 (N, H, W, 3) images on the [0, 1] scale."""
    pixels = images_uint8.reshape(-1, 3)
    total = np.zeros(3)
    squares = np.zeros(3)
    for start in range(0, len(pixels), 1 << 22):
        block = pixels[start : start + (1 << 22)].astype(np.float64) / 255.0
        total += block.sum(axis=0)
        squares += (block**2).sum(axis=0)
    mean = total / len(pixels)
    std = np.sqrt(np.maximum(squares / len(pixels) - mean**2, 1e-12))
    return mean.tolist(), std.tolist()


def predict(model, images_uint8, batch_size: int = 128, device: str | None = None):
    """Predicted classes and probabilities of ``model`` on uint8 (N, H, W, 3) images.

    Runs a channels-last copy of the model (``model`` itself is left as it is) on batches of
    ``batch_size`` images under ``torch.inference_mode``: on CPU about 40 % less time than
    channel-first batches of 512, with the same probabilities.

    Returns
    -------
    pred : int64 (N,); probs : float32 (N, C) (softmax).
    """
    images = _check_images(images_uint8, "images_uint8")
    if batch_size <= 0:
        raise ValueError(f"batch_size: must be positive, got {batch_size}")
    if len(images) == 0:
        raise ValueError("images_uint8: no images")
    device = device or next(model.parameters()).device
    runner = copy.deepcopy(model).to(device=device, memory_format=torch.channels_last).eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            x = images_to_tensor(images[start : start + batch_size]).to(device)
            x = x.contiguous(memory_format=torch.channels_last)
            out.append(torch.softmax(runner(x).float(), dim=1).cpu().numpy())
    probs = np.concatenate(out).astype(np.float32)
    return probs.argmax(axis=1).astype(np.int64), probs


def train_classifier(
    world,
    epochs: int = DEFAULT_TRAINING["epochs"],
    seed: int = 0,
    progress: bool = True,
    *,
    batch_size: int = DEFAULT_TRAINING["batch_size"],
    lr: float = DEFAULT_TRAINING["lr"],
    weight_decay: float = DEFAULT_TRAINING["weight_decay"],
    width: int = 16,
    augment: bool = True,
):
    """Train the demo CNN on ``world``'s train split (AdamW, one-cycle schedule, fixed seeds).

    Parameters
    ----------
    world : a :class:`failwidgets.datasets.World`.
    epochs : passes over the train split.
    seed : seeds the weight initialisation and the batch order.
    progress : print one line per epoch (loss, train accuracy, val accuracy, seconds).
    batch_size, lr, weight_decay : AdamW with a one-cycle learning-rate schedule peaking at lr.
    width : channels of the model's first block.
    augment : random left-right mirroring of the training images.

    Returns
    -------
    The trained model (eval mode, on CPU) with ``model.config`` (dict) describing it and
    ``model.history`` (one dict per epoch: loss, train accuracy, val accuracy when progress).
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs: expected a positive integer, got {epochs!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size: must be positive, got {batch_size}")
    train_idx = world.indices("train")
    if train_idx.size == 0:
        raise ValueError("world: its train split is empty")
    images = _check_images(world.images, "world.images")
    x_train = torch.from_numpy(images[train_idx]).permute(0, 3, 1, 2).contiguous()  # uint8
    y_train = torch.from_numpy(world.labels[train_idx].astype(np.int64))
    mean, std = _channel_stats(images[train_idx])

    torch.manual_seed(seed)
    model = DemoCNN(len(world.class_names), width=width, mean=mean, std=std)
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps_per_epoch = -(-len(train_idx) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=lr, epochs=epochs, steps_per_epoch=steps_per_epoch, pct_start=0.25
    )
    generator = torch.Generator().manual_seed(seed)
    val_idx = world.indices("val")
    loss_fn = torch.nn.CrossEntropyLoss()
    history = []
    for epoch in range(epochs):
        start = time.perf_counter()
        model.train()
        order = torch.randperm(len(train_idx), generator=generator)
        total_loss, total_hits = 0.0, 0
        for step in range(steps_per_epoch):
            batch = order[step * batch_size : (step + 1) * batch_size]
            x, y = x_train[batch].float().div_(255.0), y_train[batch]
            if augment:
                mirror_half(x, generator)
            loss, hits = supervised_step(model, loss_fn, optimiser, schedule, x, y)
            total_loss += loss
            total_hits += hits
        record = {
            "epoch": epoch + 1,
            "loss": total_loss / len(train_idx),
            "train_acc": total_hits / len(train_idx),
        }
        if progress and val_idx.size:
            pred, _ = predict(model, images[val_idx])
            record["val_acc"] = float((pred == world.labels[val_idx]).mean())
        record["seconds"] = time.perf_counter() - start
        history.append(record)
        if progress:
            print(
                f"epoch {epoch + 1}/{epochs}: "
                + ", ".join(f"{k} {v:.4g}" for k, v in record.items() if k != "epoch"),
                flush=True,
            )
    model.eval()
    model.history = history
    model.config = {
        "arch": "DemoCNN",
        "n_classes": len(world.class_names),
        "width": width,
        "mean": mean,
        "std": std,
        "class_names": list(world.class_names),
        "image_size": int(images.shape[1]),
        "training": {
            "world": {
                "n_images": len(world),
                "image_size": int(images.shape[1]),
                "seed": world.seed,
            },
            "failures": [f.name for f in world.failures],
            "epochs": epochs,
            "batch_size": batch_size,
            "lr": lr,
            "weight_decay": weight_decay,
            "augment": augment,
            "seed": seed,
            "torch_threads": torch.get_num_threads(),
            "torch_version": torch.__version__,
        },
    }
    return model


def save_classifier(model, directory=WEIGHTS_DIR, name: str = WEIGHTS_NAME) -> Path:
    """Write ``<name>.pt`` (state dict) and ``<name>.json`` (``model.config``) in ``directory``."""
    config = getattr(model, "config", None)
    if not isinstance(config, dict) or not config:
        raise ValueError("model: has no .config dict (train it with train_classifier)")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    torch.save(state, directory / f"{name}.pt")
    (directory / f"{name}.json").write_text(json.dumps(config, indent=2) + "\n")
    return directory / f"{name}.pt"


def load_classifier(directory=WEIGHTS_DIR, name: str = WEIGHTS_NAME, device: str = "cpu"):
    """The classifier from saved weights (the shipped ones by default), in eval mode.

    Loads the state dict with ``torch.load(weights_only=True)`` and the JSON config beside it.
    """
    directory = Path(directory)
    weights, config_path = directory / f"{name}.pt", directory / f"{name}.json"
    for path in (weights, config_path):
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing; re-train with `python -m failwidgets.demo.classifier`"
            )
    config = json.loads(config_path.read_text())
    model = DemoCNN(
        config["n_classes"], width=config["width"], mean=config["mean"], std=config["std"]
    )
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    model.config = config
    return model.to(device).eval()


def evaluate_on_world(model, world, split: str = "test") -> dict:
    """Accuracy on ``split`` and the planted-failure report of ``model`` on ``world``."""
    idx = world.indices(split)
    pred = np.full(len(world), -1, dtype=np.int64)
    pred[idx], _ = predict(model, world.images[idx])
    report = world.failure_report(pred, split=split)
    subsets = {
        f.name: world.subset_report(f, pred, split=split).to_dict(orient="records")
        for f in world.failures
        if f.kind == "conjunction"
    }
    return {
        "split": split,
        "accuracy": float((pred[idx] == world.labels[idx]).mean()),
        "failures": report.to_dict(orient="records"),
        "conjunction_subsets": {
            name: [{**row, "attributes": list(row["attributes"])} for row in rows]
            for name, rows in subsets.items()
        },
    }


def _main(argv=None) -> None:
    import argparse

    import pandas as pd

    from ..datasets import make_world

    parser = argparse.ArgumentParser(description="Re-train the demo classifier from scratch.")
    parser.add_argument("--out", default=str(WEIGHTS_DIR), help="folder for classifier.pt/.json")
    parser.add_argument("--epochs", type=int, default=DEFAULT_TRAINING["epochs"])
    parser.add_argument("--seed", type=int, default=DEFAULT_TRAINING["seed"], help="training seed")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    world = make_world(**DEFAULT_TRAINING["world"])
    model = train_classifier(world, epochs=args.epochs, seed=args.seed)
    model.config["evaluation"] = evaluate_on_world(model, world, "test")
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(f"test accuracy {model.config['evaluation']['accuracy']:.3f}")
        print(pd.DataFrame(model.config["evaluation"]["failures"]).round(3).to_string())
    print("saved", save_classifier(model, args.out))


if __name__ == "__main__":
    _main()
