"""Batched model inference over a torch Dataset or DataLoader."""

from __future__ import annotations

import numpy as np

__all__ = ["default_device", "predict_dataset"]


def default_device() -> str:
    """``"cuda"`` when a GPU is visible, else ``"mps"`` on Apple silicon, else ``"cpu"``."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def predict_dataset(model, data, *, batch_size=256, device=None, progress=True):
    """Run ``model`` over ``data`` (Dataset or DataLoader yielding ``(inputs, labels)``).

    Returns ``(dataset, labels, predictions, probabilities)`` as numpy arrays; the model runs in
    eval mode under ``torch.inference_mode`` and its training flag is restored afterwards.
    """
    import torch
    from torch.utils.data import DataLoader, Dataset
    from tqdm.auto import tqdm

    if not callable(model):
        raise TypeError(f"model: expected a callable torch module, got {type(model).__name__}")
    if isinstance(data, DataLoader):
        loader, dataset = data, data.dataset
    elif isinstance(data, Dataset) or (hasattr(data, "__getitem__") and hasattr(data, "__len__")):
        if batch_size <= 0:
            raise ValueError(f"batch_size: must be positive, got {batch_size}")
        dataset = data
        loader = DataLoader(data, batch_size=batch_size, shuffle=False)
    else:
        raise TypeError(f"data: expected a torch Dataset or DataLoader, got {type(data).__name__}")
    if len(dataset) == 0:
        raise ValueError("data: the dataset is empty")
    device = device or default_device()
    was_training = getattr(model, "training", False)
    if hasattr(model, "to"):
        model = model.to(device)
    if hasattr(model, "eval"):
        model.eval()
    labels, probabilities = [], []
    try:
        with torch.inference_mode():
            for batch in tqdm(loader, desc="predicting", disable=not progress, unit="batch"):
                if not isinstance(batch, (tuple, list)) or len(batch) < 2:
                    raise ValueError("data: each batch must be (inputs, labels, ...)")
                inputs, targets = batch[0], batch[1]
                logits = model(inputs.to(device))
                if logits.ndim != 2:
                    raise ValueError(
                        f"model: expected logits (batch, classes), got {tuple(logits.shape)}"
                    )
                probabilities.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
                labels.append(np.asarray(targets))
    finally:
        if was_training and hasattr(model, "train"):
            model.train()
    probs = np.concatenate(probabilities).astype(np.float64)
    probs /= probs.sum(axis=1, keepdims=True)
    return dataset, np.concatenate(labels).astype(np.int64), probs.argmax(axis=1), probs
