"""EvalSet: the evaluation data every method shares.

An EvalSet holds N samples: labels, predictions, optional class probabilities, class names,
images, optional per-sample metadata (a DataFrame of tags/attributes) and an optional split
column. It validates everything at construction, so methods can trust it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .images import ImageSource, PathImages, as_image_source

__all__ = ["EvalSet"]

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def _as_int_vector(values, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D sequence, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        if np.issubdtype(array.dtype, np.floating) and np.all(np.isfinite(array)):
            if np.all(array == np.round(array)):
                return array.astype(np.int64)
        raise TypeError(f"{name}: expected integer class indices, got dtype {array.dtype}")
    return array.astype(np.int64)


class EvalSet:
    """Labels, predictions, probabilities, images, metadata and splits of N evaluated samples.

    Parameters
    ----------
    images : uint8 array (N, H, W, 3), list of image paths (loaded lazily), torch Dataset,
        or an :class:`~failwidgets.images.ImageSource`.
    labels, predictions : int arrays (N,) with values in ``range(len(class_names))``.
    class_names : distinct class names.
    probabilities : optional float array (N, C); rows must be finite and sum to 1.
    metadata : optional DataFrame with N rows (tags/attributes per sample).
    split : optional sequence of N split names (e.g. "train", "val", "test").
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
        self.labels = _as_int_vector(labels, "labels")
        self.predictions = _as_int_vector(predictions, "predictions")
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
        self.images: ImageSource = as_image_source(images)
        if len(self.images) != n:
            raise ValueError(f"images: {len(self.images)} images for {n} labels")
        if isinstance(self.images, PathImages):
            self.images.check_readable()
        self.metadata = self._check_metadata(metadata, n)
        self.split = self._check_split(split, n)
        self.correct = self.labels == self.predictions
        self.correct.setflags(write=False)

    # ------------------------------------------------------------------ validation
    @staticmethod
    def _check_class_names(class_names) -> list[str]:
        if isinstance(class_names, str) or not isinstance(class_names, Sequence | np.ndarray):
            raise TypeError("class_names: expected a list of strings")
        names = [str(c) for c in class_names]
        if not names:
            raise ValueError("class_names: at least one class name is needed")
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise ValueError(f"class_names: duplicate class name {name!r}")
            seen.add(name)
        return names

    @staticmethod
    def _check_probabilities(probabilities, n: int, n_classes: int):
        if probabilities is None:
            return None
        probs = np.asarray(probabilities, dtype=np.float64)
        if probs.shape != (n, n_classes):
            raise ValueError(
                f"probabilities: expected shape ({n}, {n_classes}) (samples, classes), "
                f"got {probs.shape}"
            )
        if not np.all(np.isfinite(probs)):
            raise ValueError("probabilities: contains NaN or infinite values")
        if (probs < 0).any():
            raise ValueError("probabilities: contains negative values")
        sums = probs.sum(axis=1)
        bad = np.abs(sums - 1.0) > 1e-3
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"probabilities: row {first} sums to {sums[first]:.4f}, not 1 "
                "(pass softmax outputs, not logits)"
            )
        return probs.astype(np.float32)

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
        return values.astype(str)

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
        """
        from torch.utils.data import DataLoader

        from .inference import predict_dataset

        if class_names is None:
            source = data.dataset if isinstance(data, DataLoader) else data
            class_names = getattr(source, "classes", None)
            if class_names is None:
                raise ValueError("class_names: not given and the dataset has no .classes")
        result = predict_dataset(
            model,
            data,
            batch_size=batch_size,
            device=device,
            progress=progress,
            autocast=autocast,
            mean=mean,
            std=std,
            num_workers=num_workers,
            pin_memory=pin_memory,
            input_key=input_key,
            label_key=label_key,
        )
        return cls(
            images if images is not None else result.images,
            result.labels,
            result.predictions,
            class_names,
            probabilities=result.probabilities,
            metadata=metadata,
            split=split,
        )

    @classmethod
    def from_folder(
        cls,
        root: str | os.PathLike,
        predictions_csv: str | os.PathLike,
        *,
        path_column: str = "path",
        prediction_column: str = "prediction",
        split_column: str = "split",
    ) -> EvalSet:
        """ImageFolder-style directory (``root/<class>/<image>``) plus a CSV of predictions.

        The CSV has one row per image: ``path`` (relative to ``root``), ``prediction`` (class
        name or index), optional ``prob_<class>`` columns (all classes), optional ``split``;
        other columns become metadata. Labels come from the folder names.
        """
        root = Path(root)
        if not root.is_dir():
            raise ValueError(f"root: not a directory: {root}")
        class_names = sorted(p.name for p in root.iterdir() if p.is_dir())
        if not class_names:
            raise ValueError(f"root: no class sub-folders in {root}")
        table = pd.read_csv(predictions_csv)
        for column in (path_column, prediction_column):
            if column not in table.columns:
                raise ValueError(f"predictions_csv: missing column {column!r}")
        if table.empty:
            raise ValueError(f"predictions_csv: no rows in {predictions_csv}")
        rel_paths = table[path_column].astype(str).tolist()
        labels = []
        index_of = {name: i for i, name in enumerate(class_names)}
        for rel in rel_paths:
            parts = Path(rel).parts
            if len(parts) < 2 or parts[0] not in index_of:
                raise ValueError(
                    f"predictions_csv: path {rel!r} is not inside a class folder of {root}"
                )
            if Path(rel).suffix.lower() not in _IMAGE_SUFFIXES:
                raise ValueError(f"predictions_csv: {rel!r} is not an image file name")
            labels.append(index_of[parts[0]])
        raw_pred = table[prediction_column]
        if pd.api.types.is_integer_dtype(raw_pred):
            predictions = raw_pred.to_numpy()
        else:
            unknown = sorted(set(raw_pred.astype(str)) - set(class_names))
            if unknown:
                raise ValueError(f"predictions_csv: unknown predicted class names {unknown[:5]}")
            predictions = raw_pred.astype(str).map(index_of).to_numpy()
        prob_columns = [f"prob_{name}" for name in class_names]
        present = [c for c in prob_columns if c in table.columns]
        probabilities = None
        if present:
            if len(present) != len(prob_columns):
                missing = sorted(set(prob_columns) - set(present))
                raise ValueError(f"predictions_csv: missing probability columns {missing[:5]}")
            probabilities = table[prob_columns].to_numpy(dtype=np.float64)
        split = table[split_column].to_numpy() if split_column in table.columns else None
        used = {path_column, prediction_column, split_column, *prob_columns}
        extra = [c for c in table.columns if c not in used]
        metadata = table[extra].reset_index(drop=True) if extra else None
        return cls(
            PathImages(rel_paths, root=root),
            labels,
            predictions,
            class_names,
            probabilities=probabilities,
            metadata=metadata,
            split=split,
        )

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
        if isinstance(cls, (int, np.integer)) and not isinstance(cls, bool):
            if not 0 <= int(cls) < self.n_classes:
                raise ValueError(f"cls: class index {cls} outside 0..{self.n_classes - 1}")
            return int(cls)
        if isinstance(cls, str):
            try:
                return self.class_names.index(cls)
            except ValueError:
                raise ValueError(
                    f"cls: unknown class {cls!r}; known: {self.class_names[:10]}"
                ) from None
        raise TypeError(f"cls: expected a class name or index, got {type(cls).__name__}")

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
        array = np.asarray(indices)
        if array.dtype == bool:
            if array.shape != (self.n,):
                raise ValueError(
                    f"{name}: boolean mask of shape {array.shape}, expected ({self.n},)"
                )
            return np.flatnonzero(array)
        if array.ndim != 1:
            raise ValueError(f"{name}: expected a 1-D sequence of indices, got shape {array.shape}")
        if array.size == 0:
            return array.astype(np.int64)
        if not np.issubdtype(array.dtype, np.integer):
            raise TypeError(f"{name}: expected integer indices, got dtype {array.dtype}")
        if array.min() < 0 or array.max() >= self.n:
            bad = array[(array < 0) | (array >= self.n)][0]
            raise ValueError(f"{name}: index {int(bad)} outside 0..{self.n - 1}")
        return array.astype(np.int64)

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

    def split_indices(self, name: str) -> np.ndarray:
        """Indices of the samples in split ``name``."""
        if self.split is None:
            raise ValueError("split: this EvalSet has no split column")
        mask = self.split == name
        if not mask.any():
            raise ValueError(
                f"name: no samples in split {name!r}; splits: {sorted(set(self.split))}"
            )
        return np.flatnonzero(mask)

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
        return EvalSet(
            SubsetImages(self.images, idx),
            self.labels[idx],
            self.predictions[idx],
            self.class_names,
            probabilities=None if self.probabilities is None else self.probabilities[idx],
            metadata=None if self.metadata is None else self.metadata.iloc[idx],
            split=None if self.split is None else self.split[idx],
        )
