"""EvalSet: the evaluation data every method shares.

An EvalSet holds N samples: labels, predictions, optional class probabilities, class names,
images, optional per-sample metadata (a DataFrame of tags/attributes) and an optional split
column. It validates everything at construction, so methods can trust it.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .checks import check_indices
from .class_names import check_class_names, class_index
from .images import ImageSource, PathImages, as_image_source
from .ingest.dataframe import evalset_from_dataframe
from .ingest.folder import evalset_from_folder
from .ingest.huggingface import evalset_from_huggingface

__all__ = ["EvalSet", "check_class_names"]

#: Probabilities this close to a row's maximum count as tied with it.
_ARGMAX_TOLERANCE = 1e-6


def _as_int_vector(values, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D sequence, got shape {array.shape}")
    if array.dtype == np.bool_:
        raise TypeError(f"{name}: expected integer class indices, got booleans")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        if np.issubdtype(array.dtype, np.floating) and np.all(np.isfinite(array)):
            if np.all(array == np.round(array)):
                return array.astype(np.int64)
        raise TypeError(f"{name}: expected integer class indices, got dtype {array.dtype}")
    return array.astype(np.int64)


def _outside_stacklevel() -> int:
    """``stacklevel`` of a warning issued here that points at the first caller outside the
    package (what the user wrote), however deep the package's own calls go."""
    package = os.path.join(os.path.dirname(os.path.abspath(__file__)), "")
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def _read_only(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


#: How far a row of probabilities may sum from 1.
PROBABILITY_SUM_TOLERANCE = 1e-3


def as_probability_matrix(probabilities, n: int, n_classes: int) -> np.ndarray:
    """``probabilities`` (an array, nested lists, or a torch tensor on any device and dtype)
    as an (n, n_classes) float64 array; a TypeError or ValueError naming ``probabilities``
    for ragged rows, non-numbers or another shape. Values are not checked."""
    if hasattr(probabilities, "detach"):  # a torch tensor, on any device and dtype
        probabilities = probabilities.detach().float().cpu().numpy()
    try:
        probs = np.asarray(probabilities)
    except ValueError:
        raise ValueError(
            "probabilities: rows have different lengths; expected one value per class"
        ) from None
    if probs.dtype.kind == "O":
        flat = probs.ravel()
        bad = next((v for v in flat if isinstance(v, (str, bytes))), None)
        if bad is not None:
            raise TypeError(f"probabilities: expected numbers, got the string {bad!r}")
        try:
            probs = probs.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(
                "probabilities: expected numbers (an (N, C) float array), got objects such "
                f"as {type(flat[0]).__name__}"
            ) from None
    if probs.dtype.kind not in "iuf":
        raise TypeError(
            f"probabilities: expected numbers (an (N, C) float array), got dtype {probs.dtype}"
        )
    if probs.shape != (n, n_classes):
        raise ValueError(
            f"probabilities: expected shape ({n}, {n_classes}) (samples, classes), "
            f"got {probs.shape}"
        )
    return probs.astype(np.float64)


def check_rows_sum_to_one(probs: np.ndarray) -> np.ndarray:
    """The row sums of ``probs``; a ValueError naming the first row that is further than
    :data:`PROBABILITY_SUM_TOLERANCE` from 1 (logits passed for probabilities)."""
    sums = probs.sum(axis=1)
    bad = np.abs(sums - 1.0) > PROBABILITY_SUM_TOLERANCE
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"probabilities: row {first} sums to {sums[first]:.4f}, not 1 "
            "(pass softmax outputs, not logits)"
        )
    return sums


class EvalSet:
    """Labels, predictions, probabilities, images, metadata and splits of N evaluated samples.

    Parameters
    ----------
    images : uint8 array (N, H, W, 3), list of image paths (loaded lazily), torch Dataset,
        or an :class:`~failwidgets.images.ImageSource`.
    labels, predictions : int arrays (N,) with values in ``range(len(class_names))``.
    class_names : distinct class names (a list, tuple, array or ``pd.Index``).
    probabilities : optional float array (N, C); rows must be finite and sum to 1. A prediction
        that is not the argmax of its row (ties allowed) gives a ``UserWarning`` that counts them
        and names the first row, not an error: thresholded, calibrated or ensemble decisions
        differ from the argmax on purpose; otherwise the two come from different models or
        class orders.
    metadata : optional DataFrame with N rows (tags/attributes per sample).
    split : optional sequence of N split names (e.g. "train", "val", "test").

    ``labels``, ``predictions``, ``probabilities``, ``split`` and ``correct`` are read-only
    arrays (copies of what was passed), so ``correct`` cannot go stale; build a new EvalSet
    (e.g. with :meth:`subset`) to change them.
    """

    def __init__(
        self,
        images,
        labels,
        predictions,
        class_names: Sequence[str],
        probabilities=None,
        metadata: pd.DataFrame | None = None,
        split=None,
    ):
        self.class_names = self._check_class_names(class_names)
        n_classes = len(self.class_names)
        self.labels = _read_only(_as_int_vector(labels, "labels"))
        self.predictions = _read_only(_as_int_vector(predictions, "predictions"))
        n = len(self.labels)
        if n == 0:
            raise ValueError("labels: an EvalSet needs at least one sample, got 0")
        if len(self.predictions) != n:
            raise ValueError(
                f"predictions: length {len(self.predictions)} differs from labels' length {n}"
            )
        for name, values in (("labels", self.labels), ("predictions", self.predictions)):
            bad = (values < 0) | (values >= n_classes)
            if bad.any():
                first = int(np.flatnonzero(bad)[0])
                raise ValueError(
                    f"{name}: value {int(values[first])} at position {first} is outside the "
                    f"class range 0..{n_classes - 1} ({n_classes} class names)"
                )
        self.probabilities = self._check_probabilities(probabilities, n, n_classes)
        if self.probabilities is not None:
            self._warn_if_not_argmax()
        self.images: ImageSource = as_image_source(images)
        if len(self.images) != n:
            raise ValueError(f"images: {len(self.images)} images for {n} labels")
        if isinstance(self.images, PathImages):
            self.images.check_readable()
        self.metadata = self._check_metadata(metadata, n)
        self.split = self._check_split(split, n)
        self.correct = _read_only(self.labels == self.predictions)

    # ------------------------------------------------------------------ validation
    @staticmethod
    def _check_class_names(class_names) -> list[str]:
        return check_class_names(class_names)

    @staticmethod
    def _check_probabilities(probabilities, n: int, n_classes: int):
        if probabilities is None:
            return None
        probs = as_probability_matrix(probabilities, n, n_classes)
        if not np.all(np.isfinite(probs)):
            raise ValueError("probabilities: contains NaN or infinite values")
        if (probs < 0).any():
            raise ValueError("probabilities: contains negative values")
        check_rows_sum_to_one(probs)
        return _read_only(probs.astype(np.float32))

    def _warn_if_not_argmax(self) -> None:
        rows = np.arange(self.n)
        chosen = self.probabilities[rows, self.predictions]
        best = self.probabilities.max(axis=1)
        off = chosen < best - _ARGMAX_TOLERANCE
        if not off.any():
            return
        first = int(np.flatnonzero(off)[0])
        top = int(np.argmax(self.probabilities[first]))
        warnings.warn(
            f"predictions: {int(off.sum())} of {self.n} predictions are not the argmax of "
            f"probabilities (first: row {first}, predicted "
            f"{self.class_names[self.predictions[first]]!r} with p={chosen[first]:.3f}, but "
            f"{self.class_names[top]!r} has p={best[first]:.3f}); fine for thresholded or "
            "calibrated decisions, otherwise check that both come from the same model and "
            "class order",
            UserWarning,
            stacklevel=_outside_stacklevel(),
        )

    @staticmethod
    def _check_metadata(metadata, n: int):
        if metadata is None:
            return None
        if not isinstance(metadata, pd.DataFrame):
            raise TypeError(f"metadata: expected a pandas DataFrame, got {type(metadata).__name__}")
        if len(metadata) != n:
            raise ValueError(f"metadata: {len(metadata)} rows for {n} samples")
        return metadata.reset_index(drop=True)

    @staticmethod
    def _check_split(split, n: int):
        if split is None:
            return None
        values = np.asarray(split, dtype=object)
        if values.ndim != 1 or len(values) != n:
            raise ValueError(f"split: expected {n} split names, got shape {values.shape}")
        if any(v is None or (isinstance(v, float) and np.isnan(v)) for v in values):
            raise ValueError("split: contains missing values")
        return _read_only(values.astype(str))

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_arrays(
        cls,
        images,
        labels,
        predictions,
        class_names,
        probabilities=None,
        metadata=None,
        split=None,
    ) -> EvalSet:
        """Build an EvalSet from in-memory arrays (or image paths / a torch Dataset)."""
        return cls(images, labels, predictions, class_names, probabilities, metadata, split)

    @classmethod
    def from_model(
        cls,
        model,
        data,
        class_names: Sequence[str] | None = None,
        *,
        images=None,
        batch_size: int = 256,
        device: str | None = None,
        metadata=None,
        split=None,
        progress: bool = True,
        autocast=None,
        mean=None,
        std=None,
        num_workers: int | None = None,
        pin_memory: bool | None = None,
        input_key: str | None = None,
        label_key: str | None = None,
    ) -> EvalSet:
        """Run ``model`` over a torch Dataset or DataLoader and keep predictions and probabilities.

        Batched under ``torch.inference_mode`` with the model in eval mode, on CUDA when
        available (or ``device``); see :func:`failwidgets.inference.predict_dataset` for the
        batch formats (tuples ``(inputs, labels, ...)`` or dicts with ``"pixel_values"`` and
        ``"labels"``), the uint8 fast path, ``autocast``, ``mean``/``std`` and the loader
        settings. A DataLoader must keep the dataset's order (no shuffling or custom sampler,
        no ``drop_last``), so that every label and prediction stays with its image.

        ``images`` sets what the grid shows (default: the dataset's own inputs, converted to
        uint8 RGB; pass the untransformed dataset or an array for faithful pictures).
        ``class_names`` defaults to the dataset's ``.classes``.

        A Hugging Face ``datasets.Dataset`` is read as it is: the model sees its image column
        (``input_key``, default: the ``Image`` feature) as uint8 tensors, labels come from
        ``label_key`` (default: the ``ClassLabel`` column), class names from the ``ClassLabel``
        feature, and the grid shows the dataset's images, decoded lazily; other scalar columns
        become metadata (see :meth:`from_huggingface`). The images must share one size.
        """
        from torch.utils.data import DataLoader

        from .inference import predict_dataset
        from .ingest.model_on_huggingface import (
            evalset_from_model_on_huggingface,
            is_huggingface_dataset,
        )

        run = dict(
            batch_size=batch_size,
            device=device,
            progress=progress,
            autocast=autocast,
            mean=mean,
            std=std,
            num_workers=num_workers,
            pin_memory=pin_memory,
        )
        if is_huggingface_dataset(data):
            return evalset_from_model_on_huggingface(
                cls,
                model,
                data,
                class_names=class_names,
                images=images,
                metadata=metadata,
                split=split,
                input_key=input_key,
                label_key=label_key,
                **run,
            )
        if class_names is None:
            source = data.dataset if isinstance(data, DataLoader) else data
            class_names = getattr(source, "classes", None)
            if class_names is None:
                raise ValueError("class_names: not given and the dataset has no .classes")
        result = predict_dataset(model, data, input_key=input_key, label_key=label_key, **run)
        return cls(
            images if images is not None else result.images,
            result.labels,
            result.predictions,
            class_names,
            probabilities=result.probabilities,
            metadata=metadata,
            split=split,
        )

    # the ways in from a folder, a DataFrame and a Hugging Face dataset: one module each in
    # failwidgets.ingest, whose functions take the class first, as classmethods do
    from_folder = classmethod(evalset_from_folder)
    from_dataframe = classmethod(evalset_from_dataframe)
    from_huggingface = classmethod(evalset_from_huggingface)

    # ------------------------------------------------------------------ access
    @property
    def n(self) -> int:
        """Number of samples."""
        return len(self.labels)

    def __len__(self) -> int:
        return self.n

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def incorrect(self) -> np.ndarray:
        """Boolean mask of misclassified samples."""
        return ~self.correct

    def __repr__(self) -> str:
        parts = [f"n={self.n}", f"classes={self.n_classes}", f"accuracy={self.correct.mean():.3f}"]
        if self.split is not None:
            parts.append("splits=" + "/".join(sorted(set(self.split.tolist()))))
        if self.metadata is not None:
            parts.append(f"metadata_columns={len(self.metadata.columns)}")
        return f"EvalSet({', '.join(parts)})"

    def class_index(self, cls: int | str) -> int:
        """Class index for a class name or index (validated)."""
        return class_index(cls, self.class_names)

    def image(self, index: int) -> np.ndarray:
        """The image at ``index`` as uint8 (H, W, 3)."""
        index = self._check_index(index)
        return self.images.get(index)

    def images_at(self, indices) -> np.ndarray:
        """Images at ``indices`` stacked as uint8 (k, H, W, 3); they must share one size."""
        idx = self.check_indices(indices)
        items = self.images.get_many(idx)
        if not items:
            shape = self.images.uniform_shape or (0, 0)
            return np.zeros((0, *shape, 3), dtype=np.uint8)
        shapes = {item.shape for item in items}
        if len(shapes) > 1:
            raise ValueError(
                f"indices: images have different sizes {sorted(shapes)[:3]}; use image(i)"
            )
        return np.stack(items)

    def _check_index(self, index) -> int:
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
            raise TypeError(f"index: expected an integer, got {type(index).__name__}")
        if not -self.n <= int(index) < self.n:
            raise IndexError(f"index: {index} outside 0..{self.n - 1}")
        return int(index) % self.n

    def check_indices(self, indices, name: str = "indices") -> np.ndarray:
        """Validate a sequence of sample indices (or a boolean mask) and return int64 indices."""
        return check_indices(indices, self.n, name)

    # ------------------------------------------------------------------ groupings
    def label_group(self, cls: int | str) -> np.ndarray:
        """Indices of samples whose label is ``cls`` (errors in it are false negatives)."""
        return np.flatnonzero(self.labels == self.class_index(cls))

    def prediction_group(self, cls: int | str) -> np.ndarray:
        """Indices of samples predicted as ``cls`` (errors in it are false positives)."""
        return np.flatnonzero(self.predictions == self.class_index(cls))

    def group(self, cls: int | str, by: str = "label") -> np.ndarray:
        """Barlow's grouping of a class: ``by="label"`` or ``by="prediction"``."""
        if by == "label":
            return self.label_group(cls)
        if by == "prediction":
            return self.prediction_group(cls)
        raise ValueError(f"by: expected 'label' or 'prediction', got {by!r}")

    def split_indices(self, name: str, *, argument: str = "split") -> np.ndarray:
        """Indices of the samples in split ``name``.

        ``argument`` is the caller's argument that errors name (e.g. ``"heldout_split"``).
        """
        if self.split is None:
            raise ValueError(f"{argument}: this EvalSet has no split column")
        if not isinstance(name, str):
            raise TypeError(f"{argument}: expected a split name (str), got {type(name).__name__}")
        mask = self.split == name
        if not mask.any():
            raise ValueError(
                f"{argument}: no samples in split {name!r}; "
                f"splits: {sorted(set(self.split.tolist()))}"
            )
        return np.flatnonzero(mask)

    def errors_first(self, indices) -> np.ndarray:
        """``indices`` as int64 with the misclassified ones first (each part keeps its order)."""
        indices = np.asarray(indices, dtype=np.int64)
        return indices[np.argsort(self.correct[indices], kind="stable")]

    def accuracy_per_class(self, indices=None) -> pd.Series:
        """Accuracy per class (by label), over ``indices`` when given; NaN for absent classes."""
        idx = np.arange(self.n) if indices is None else self.check_indices(indices)
        labels = self.labels[idx]
        totals = np.bincount(labels, minlength=self.n_classes).astype(float)
        hits = np.bincount(labels, weights=self.correct[idx], minlength=self.n_classes)
        with np.errstate(invalid="ignore", divide="ignore"):
            accuracy = np.where(totals > 0, hits / np.maximum(totals, 1), np.nan)
        return pd.Series(accuracy, index=pd.Index(self.class_names, name="class"), name="accuracy")

    def subset(self, indices) -> EvalSet:
        """A new EvalSet over ``indices`` (images shared, not copied when lazily loaded)."""
        from .images import SubsetImages

        idx = self.check_indices(indices)
        if idx.size == 0:
            raise ValueError("indices: empty selection; an EvalSet needs at least one sample")
        with warnings.catch_warnings():  # the parent already warned about argmax mismatches
            warnings.filterwarnings("ignore", message=r"predictions: .* not the argmax")
            return EvalSet(
                SubsetImages(self.images, idx),
                self.labels[idx],
                self.predictions[idx],
                self.class_names,
                probabilities=None if self.probabilities is None else self.probabilities[idx],
                metadata=None if self.metadata is None else self.metadata.iloc[idx],
                split=None if self.split is None else self.split[idx],
            )
