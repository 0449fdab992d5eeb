"""Batched model inference over a torch Dataset or DataLoader, fast on a GPU.

:func:`predict_dataset` runs a classifier over every sample, in dataset order, and returns
labels, predictions and softmax probabilities (computed in float32). What makes it fast on a GPU:

- uint8 images travel to the device as uint8 (a quarter of the bytes of float32), from pinned
  memory with non-blocking copies, and are converted (``/ 255``) and normalised (``mean`` /
  ``std``) there;
- a ``TensorDataset`` is sliced into batches (no per-item indexing, no collation), and the next
  batch is pinned in a background thread while the device works on the current one;
- probabilities stay on the device and come to the host in one copy at the end (one per
  512 MiB of results): the loop never waits for the device;
- ``autocast="bf16"`` (or ``"fp16"``) runs the model under :func:`torch.autocast`; the softmax
  is always computed in float32.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "INPUT_KEYS",
    "LABEL_KEYS",
    "Predictions",
    "default_device",
    "default_num_workers",
    "predict_dataset",
    "resolve_autocast",
]

INPUT_KEYS = ("pixel_values", "image", "img")
"""Keys tried, in order, for a dict batch's inputs (``pixel_values``: the Hugging Face name)."""
LABEL_KEYS = ("labels", "label")
"""Keys tried, in order, for a dict batch's labels."""

_AUTOCAST_NAMES = {
    "bf16": "bfloat16",
    "bfloat16": "bfloat16",
    "fp16": "float16",
    "float16": "float16",
}


class Predictions(NamedTuple):
    """What :func:`predict_dataset` returns (unpacks as a 5-tuple)."""

    dataset: Any
    """The map-style dataset the samples came from (index ``i`` is sample ``i``)."""
    labels: np.ndarray
    """(N,) int64 labels, in dataset order."""
    predictions: np.ndarray
    """(N,) int64 arg-max classes."""
    probabilities: np.ndarray
    """(N, C) float64 softmax probabilities (computed in float32, rows renormalised)."""
    images: Any
    """A dataset whose item ``i`` shows sample ``i``'s input (what an EvalSet shows):
    ``dataset`` itself, or a view of ``input_key`` for dict items under another key."""


def default_device() -> str:
    """``"cuda"`` when a GPU is visible, else ``"mps"`` on Apple silicon, else ``"cpu"``."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def default_num_workers(device) -> int:
    """Loader processes for a Dataset: ``min(8, CPU cores - 1)`` on CUDA, 0 elsewhere.

    On CUDA the host must decode and collate while the GPU computes; on the CPU the model
    itself needs the cores, and worker processes would only compete with it.
    """
    if getattr(device, "type", str(device)) != "cuda":
        return 0
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        cores = os.cpu_count() or 1
    return max(0, min(8, cores - 1))


def resolve_autocast(autocast):
    """``None`` or the torch dtype meant by ``autocast`` (None/False, ``"bf16"``, ``"fp16"``,
    ``torch.bfloat16`` or ``torch.float16``).

    Raises
    ------
    ValueError
        For any other value.
    """
    import torch

    if autocast is None or autocast is False:
        return None
    if isinstance(autocast, str) and autocast.lower() in _AUTOCAST_NAMES:
        return getattr(torch, _AUTOCAST_NAMES[autocast.lower()])
    if isinstance(autocast, torch.dtype) and autocast in (torch.bfloat16, torch.float16):
        return autocast
    raise ValueError(
        f"autocast: expected None, 'bf16', 'fp16', torch.bfloat16 or torch.float16, "
        f"got {autocast!r}"
    )


def autocast_context(device, dtype):
    """A :func:`torch.autocast` context for ``dtype`` on ``device`` (a no-op for None)."""
    import torch

    if dtype is None:
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def prefetch(items: Iterable, prepare: Callable, depth: int = 2) -> Iterator:
    """``prepare(item)`` for each item, computed ``depth`` items ahead in one background thread.

    Used to pin the next host batch (a memory copy that releases the GIL) while the main
    thread queues the device work of the current one. Order is kept; errors re-raise here.
    """
    iterator = iter(items)
    done = object()

    def fetch():
        try:
            return prepare(next(iterator))
        except StopIteration:
            return done

    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = deque(pool.submit(fetch) for _ in range(depth))
        while True:
            item = pending.popleft().result()
            if item is done:
                return
            pending.append(pool.submit(fetch))
            yield item


def pin(tensor, device):
    """``tensor`` in pinned host memory when copying to CUDA (asynchronous copies need it)."""
    if device.type == "cuda" and tensor.device.type == "cpu" and not tensor.is_pinned():
        return tensor.pin_memory()
    return tensor


class DeviceRows:
    """Collects (B, D) float32 result rows on the device and copies them to the host rarely.

    Rows stay on the device until ``flush_bytes`` of them are pending (or :meth:`result` is
    called); then one copy brings them into a host array. The loop that adds rows thus never
    waits for the device, except once per ``flush_bytes`` of results.

    Parameters
    ----------
    n : total number of rows expected.
    flush_bytes : pending device bytes that trigger a copy to the host.
    """

    def __init__(self, n: int, flush_bytes: int = 512 * 2**20):
        self.n, self.flush_bytes = int(n), int(flush_bytes)
        self.out: np.ndarray | None = None
        self.pending: list = []
        self.pending_bytes = 0
        self.filled = 0  # rows already on the host
        self.added = 0  # rows added so far

    def add(self, rows) -> None:
        """Queue (B, D) rows (a float tensor on any device) after those already added."""
        if self.added + len(rows) > self.n:
            raise ValueError(f"data: more than the {self.n} samples expected")
        if self.out is None:
            self.out = np.empty((self.n, rows.shape[1]), dtype=np.float32)
        self.pending.append(rows.float())
        self.pending_bytes += rows.numel() * 4
        self.added += len(rows)
        if self.pending_bytes >= self.flush_bytes:
            self.flush()

    def flush(self) -> None:
        """Copy the pending rows to the host (waits for the device)."""
        import torch

        if not self.pending:
            return
        block = torch.cat(self.pending).cpu().numpy()
        self.out[self.filled : self.filled + len(block)] = block
        self.filled += len(block)
        self.pending, self.pending_bytes = [], 0

    def result(self) -> np.ndarray:
        """The (n, D) float32 host array of every row added (all ``n`` must have been)."""
        self.flush()
        if self.out is None or self.filled != self.n:
            raise ValueError(f"data: {self.filled} of the {self.n} expected samples were produced")
        return self.out


def _normaliser(mean, std, device):
    """``(mean, std)`` as float32 (1, C, 1, 1) tensors on ``device``, or None."""
    import torch

    if mean is None and std is None:
        return None
    if mean is None or std is None:
        raise ValueError("mean/std: pass both (per-channel normalisation) or neither")
    values = []
    for name, given in (("mean", mean), ("std", std)):
        array = np.asarray(given, dtype=np.float64).reshape(-1)
        if array.size == 0 or not np.all(np.isfinite(array)):
            raise ValueError(f"{name}: expected finite per-channel values, got {given!r}")
        values.append(array)
    if len(values[0]) != len(values[1]):
        raise ValueError(f"mean/std: {len(values[0])} means for {len(values[1])} stds")
    if np.any(values[1] <= 0):
        raise ValueError(f"std: every value must be positive, got {std!r}")
    return tuple(
        torch.tensor(v, dtype=torch.float32, device=device).view(1, -1, 1, 1) for v in values
    )


def prepare_inputs(inputs, device, normaliser=None):
    """Move a batch of inputs to ``device`` and make it float there.

    uint8 inputs are copied as uint8, then converted to float32 in [0, 1] on the device;
    a 4-D channels-last batch (N, H, W, C) with C in (1, 3) becomes channels-first. Float
    inputs are the model's input already and are moved as they are. ``normaliser`` (from
    ``mean``/``std``) then subtracts the mean and divides by the std along axis 1.
    """
    import torch

    x = pin(inputs, device).to(device, non_blocking=True)
    if x.dtype == torch.uint8:
        if x.ndim == 4 and x.shape[1] not in (1, 3) and x.shape[-1] in (1, 3):
            x = x.permute(0, 3, 1, 2).contiguous()
        x = x.float().div_(255.0)
    if normaliser is not None:
        mean, std = normaliser
        if x.ndim != 4 or x.shape[1] != mean.shape[1]:
            raise ValueError(
                f"mean: {mean.shape[1]} channel values for inputs of shape {tuple(x.shape)} "
                "(expected (N, C, H, W) with C channels)"
            )
        if not x.is_floating_point():
            x = x.float()
        x = (x - mean) / std
    return x


# ---------------------------------------------------------------------- batches


def _check_loader_order(loader) -> None:
    """Refuse a DataLoader whose batches do not follow the dataset's order, all of it."""
    from torch.utils.data import BatchSampler, SequentialSampler

    fix = (
        "pass DataLoader(dataset, batch_size=..., shuffle=False) with no sampler, "
        "batch_sampler or drop_last, or pass the Dataset itself"
    )
    batch_sampler = loader.batch_sampler
    if batch_sampler is None:
        raise ValueError(f"data: a DataLoader with batch_size=None is not supported; {fix}")
    if type(batch_sampler) is not BatchSampler:
        raise ValueError(
            f"data: the DataLoader's batch_sampler is {type(batch_sampler).__name__}, so its "
            "batches may not follow the dataset's order and labels and predictions would not "
            f"line up with the dataset's images; {fix}"
        )
    sampler = batch_sampler.sampler
    if not isinstance(sampler, SequentialSampler):
        raise ValueError(
            f"data: the DataLoader's sampler is {type(sampler).__name__} (shuffle=True or a "
            "custom sampler), so its batches are not in dataset order and labels and "
            f"predictions would not line up with the dataset's images; {fix}"
        )
    if batch_sampler.drop_last:
        raise ValueError(
            f"data: the DataLoader has drop_last=True, so the last samples would be missing; {fix}"
        )


def _tensor_dataset_batches(dataset, batch_size: int) -> Iterator[tuple]:
    """Batches of a TensorDataset as slices (views): no per-item indexing, no collation."""
    n = len(dataset)
    for start in range(0, n, batch_size):
        yield tuple(t[start : start + batch_size] for t in dataset.tensors)


def _pin_batch(batch, device):
    if isinstance(batch, (tuple, list)):
        return type(batch)(pin(t, device) if hasattr(t, "pin_memory") else t for t in batch)
    return batch


def _batches(data, batch_size, device, num_workers, pin_memory):
    """``(dataset, n, batches)``: the map-style dataset behind ``data`` and its batches."""
    import torch
    from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset

    if isinstance(data, DataLoader):
        dataset = data.dataset
    else:
        dataset = data
    if isinstance(dataset, IterableDataset):
        raise TypeError(
            "data: an IterableDataset has no index order to line images up with; "
            "pass a map-style Dataset (with __getitem__ and __len__)"
        )
    if not isinstance(data, DataLoader) and not (
        isinstance(data, Dataset) or (hasattr(data, "__getitem__") and hasattr(data, "__len__"))
    ):
        raise TypeError(f"data: expected a torch Dataset or DataLoader, got {type(data).__name__}")
    n = len(dataset)
    if n == 0:
        raise ValueError("data: the dataset is empty")
    if isinstance(data, DataLoader):
        _check_loader_order(data)
        return dataset, n, data
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"batch_size: expected an integer, got {type(batch_size).__name__}")
    if batch_size <= 0:
        raise ValueError(f"batch_size: must be positive, got {batch_size}")
    if type(dataset) is TensorDataset:
        batches = prefetch(
            _tensor_dataset_batches(dataset, int(batch_size)), lambda b: _pin_batch(b, device)
        )
        return dataset, n, batches
    if num_workers is None:
        num_workers = default_num_workers(device)
    if pin_memory is None:
        pin_memory = device.type == "cuda" and torch.cuda.is_available()
    loader = DataLoader(
        dataset,
        batch_size=int(batch_size),
        shuffle=False,
        num_workers=int(num_workers),
        pin_memory=bool(pin_memory),
        persistent_workers=False,
        prefetch_factor=4 if num_workers > 0 else None,
    )
    return dataset, n, loader


def _split_batch(batch, input_key, label_key):
    """``(inputs, labels, input_key)`` of a tuple/list batch or a dict batch."""
    if isinstance(batch, Mapping):
        keys = list(batch.keys())
        chosen = []
        for given, candidates, what in (
            (input_key, INPUT_KEYS, "input_key"),
            (label_key, LABEL_KEYS, "label_key"),
        ):
            names = (given,) if given is not None else candidates
            found = next((k for k in names if k in batch), None)
            if found is None:
                raise ValueError(
                    f"data: a dict batch needs one of the keys {list(names)} "
                    f"(pass {what}= to name another); its keys are {keys}"
                )
            chosen.append(found)
        return batch[chosen[0]], batch[chosen[1]], chosen[0]
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return batch[0], batch[1], None
    raise ValueError(
        "data: each batch must be a tuple (inputs, labels, ...) or a dict with "
        f"{INPUT_KEYS[0]!r} and {LABEL_KEYS[0]!r} keys, got {type(batch).__name__}"
    )


def _logits_of(output):
    """The logits tensor of a model output (a tensor, or an object/dict with ``logits``)."""
    import torch

    if isinstance(output, torch.Tensor):
        return output
    logits = (
        output.get("logits") if isinstance(output, Mapping) else getattr(output, "logits", None)
    )
    if isinstance(logits, torch.Tensor):
        return logits
    raise TypeError(
        "model: expected it to return a logits tensor (batch, classes) or an output with a "
        f"'logits' field, got {type(output).__name__}"
    )


def _labels_of(targets, batch_len: int):
    import torch

    if isinstance(targets, (list, tuple)) and targets and isinstance(targets[0], str):
        raise TypeError("labels: expected integer class indices, got strings")
    labels = torch.as_tensor(targets)
    if labels.ndim != 1 or len(labels) != batch_len:
        raise ValueError(
            f"labels: expected one class index per input ({batch_len}), "
            f"got shape {tuple(labels.shape)}"
        )
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(f"labels: expected integer class indices, got dtype {labels.dtype}")
    return labels


class _ItemKey:
    """Dataset view: item ``i`` is ``dataset[i][key]`` (inputs of dict items)."""

    def __init__(self, dataset, key: str):
        self.dataset, self.key = dataset, key

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        item = self.dataset[index]
        return item[self.key] if isinstance(item, Mapping) else item

    @property
    def transform(self):
        """The dataset's transform (part of an image source's fingerprint)."""
        return getattr(self.dataset, "transform", None)


# ---------------------------------------------------------------------- main loop


def predict_dataset(
    model,
    data,
    *,
    batch_size: int = 256,
    device=None,
    progress: bool = True,
    autocast=None,
    mean=None,
    std=None,
    num_workers: int | None = None,
    pin_memory: bool | None = None,
    input_key: str | None = None,
    label_key: str | None = None,
) -> Predictions:
    """Run a classifier over every sample of ``data``, in dataset order.

    Parameters
    ----------
    model : callable torch module returning logits (B, C) (or an output with ``.logits``).
        It is moved to ``device`` and run in eval mode under ``torch.inference_mode``; its
        training flag is restored afterwards.
    data : map-style Dataset, or a DataLoader over one that keeps the dataset's order
        (``shuffle=False``, no custom sampler, no ``drop_last``; others raise a ValueError).
        Batches are tuples ``(inputs, labels, ...)`` or dicts: inputs under
        ``"pixel_values"``, ``"image"`` or ``"img"`` and labels under ``"labels"`` or
        ``"label"`` (``input_key`` / ``label_key`` name others).
    batch_size : samples per batch when ``data`` is a Dataset.
    device : torch device; default :func:`default_device`.
    progress : show a tqdm bar counting images (its rate reads img/s).
    autocast : None (full precision), ``"bf16"``, ``"fp16"`` or a torch dtype: run the model
        under :func:`torch.autocast`; probabilities are computed in float32 either way.
    mean, std : optional per-channel normalisation applied on the device, after uint8
        inputs are scaled to [0, 1] (e.g. ImageNet's ``(0.485, 0.456, 0.406)``,
        ``(0.229, 0.224, 0.225)``).
    num_workers : loader processes when ``data`` is a Dataset; default
        :func:`default_num_workers` (up to 8 on CUDA, 0 on the CPU). A ``TensorDataset`` is
        sliced in process and needs none.
    pin_memory : pin host batches for asynchronous copies; default True on CUDA.
    input_key, label_key : the keys of dict batches, when not the default ones.

    Returns
    -------
    Predictions
        ``(dataset, labels, predictions, probabilities, images)``.

    Notes
    -----
    uint8 inputs, (N, 3, H, W) or (N, H, W, 3), are copied to the device as uint8 and
    converted there, giving exactly the values of ``x.float() / 255`` (then ``(x - mean) /
    std``) computed on the CPU. Float inputs are passed to the model as they are.
    """
    import torch
    from tqdm.auto import tqdm

    if not callable(model):
        raise TypeError(f"model: expected a callable torch module, got {type(model).__name__}")
    device = torch.device(device if device is not None else default_device())
    amp_dtype = resolve_autocast(autocast)
    normaliser = _normaliser(mean, std, device)
    dataset, n, batches = _batches(data, batch_size, device, num_workers, pin_memory)
    was_training = getattr(model, "training", False)
    if hasattr(model, "to"):
        model = model.to(device)
    if hasattr(model, "eval"):
        model.eval()
    labels, used_key, rows = [], None, DeviceRows(n)
    bar = tqdm(total=n, desc="predicting", unit="img", disable=not progress)
    try:
        with torch.inference_mode(), autocast_context(device, amp_dtype):
            for batch in batches:
                inputs, targets, used_key = _split_batch(batch, input_key, label_key)
                if not isinstance(inputs, torch.Tensor):
                    raise TypeError(
                        "data: batch inputs must be a tensor (give the dataset a transform "
                        f"that returns tensors), got {type(inputs).__name__}"
                    )
                size = len(inputs)
                labels.append(_labels_of(targets, size))
                with torch.autocast(device.type, enabled=False):
                    x = prepare_inputs(inputs, device, normaliser)
                logits = _logits_of(model(x))
                if logits.ndim != 2 or len(logits) != size:
                    raise ValueError(
                        f"model: expected logits ({size}, classes) for a batch of {size}, "
                        f"got {tuple(logits.shape)}"
                    )
                rows.add(torch.softmax(logits.float(), dim=1))
                bar.update(size)
            probabilities = rows.result()
    finally:
        bar.close()
        if was_training and hasattr(model, "train"):
            model.train()
    probs = probabilities.astype(np.float64)
    probs /= probs.sum(axis=1, keepdims=True)
    label_array = torch.cat([t.reshape(-1).cpu() for t in labels]).numpy().astype(np.int64)
    # Image sources read the default input keys of dict items themselves.
    images = dataset if used_key in (None, *INPUT_KEYS) else _ItemKey(dataset, used_key)
    return Predictions(dataset, label_array, probs.argmax(axis=1), probs, images)
