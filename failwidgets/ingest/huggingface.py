"""``EvalSet.from_huggingface``: a Hugging Face ``datasets.Dataset``, images decoded lazily."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..images import HuggingFaceImages
from .table import is_column_name, probability_columns, resolve_columns

__all__ = ["evalset_from_huggingface", "import_datasets"]

_SCALAR_FEATURES = ("Value", "ClassLabel")


def import_datasets():
    """The ``datasets`` module, or an ImportError that says how to install it."""
    try:
        import datasets
    except ImportError as error:
        raise ImportError(
            "EvalSet.from_huggingface needs the Hugging Face `datasets` package: "
            "pip install failwidgets[hf]"
        ) from error
    return datasets


def _check_dataset(dataset, datasets) -> None:
    if isinstance(dataset, datasets.DatasetDict):
        raise TypeError(
            f"dataset: a DatasetDict with splits {list(dataset)}; pass one split, e.g. "
            f"dataset[{next(iter(dataset), 'test')!r}]"
        )
    if isinstance(dataset, datasets.IterableDataset):
        raise TypeError(
            "dataset: an IterableDataset (streaming) has no random access; load it without "
            "streaming=True"
        )
    if not isinstance(dataset, datasets.Dataset):
        raise TypeError(f"dataset: expected a datasets.Dataset, got {type(dataset).__name__}")
    if len(dataset) == 0:
        raise ValueError("dataset: no rows; an EvalSet needs at least one sample")


def _class_label_names(features, column) -> list[str] | None:
    if is_column_name(column) and type(features.get(column)).__name__ == "ClassLabel":
        return list(features[column].names)
    return None


def _names_of_codes(codes, names: list[str]):
    """ClassLabel codes as names (``None`` for -1, the missing label)."""
    codes = np.asarray(codes, dtype=np.int64)
    lookup = np.asarray(names + [None], dtype=object)
    return lookup[np.where((codes >= 0) & (codes < len(names)), codes, len(names))]


def evalset_from_huggingface(
    cls,
    dataset,
    *,
    image="image",
    label="label",
    prediction,
    probabilities=None,
    split=None,
    metadata=None,
    class_names=None,
):
    """One sample per row of a Hugging Face ``datasets.Dataset`` (pick one split).

    Images are decoded lazily, one row at a time, from the ``image`` column (an ``Image()``
    feature, arrays or file paths). Class names come from the ``ClassLabel`` feature of the
    label column (or of the prediction column); without one, as in :meth:`from_dataframe`.

    Parameters
    ----------
    dataset : a ``datasets.Dataset`` (not a ``DatasetDict`` nor a streaming dataset).
    image : name of the image column.
    label, prediction : column name, or one value per row (class names or indices), e.g.
        ``prediction=model_predictions``.
    probabilities, split, class_names : as in :meth:`from_dataframe`.
    metadata : columns kept as metadata. Default (None): every other column with a scalar
        feature (``Value`` or ``ClassLabel``, shown by name); ``[]`` for none.

    Needs the optional ``datasets`` package (``pip install failwidgets[hf]``).
    """
    datasets = import_datasets()
    _check_dataset(dataset, datasets)
    columns = list(dataset.column_names)
    if not is_column_name(image) or image not in columns:
        raise ValueError(f"image: no column {image!r} in the dataset; columns: {columns[:20]}")
    features = dataset.features
    known = _class_label_names(features, label)
    predicted_names = _class_label_names(features, prediction)
    if known is not None and predicted_names is not None and predicted_names != known:
        raise ValueError(
            f"prediction: the ClassLabel names of column {prediction!r} {predicted_names[:10]} "
            f"differ from those of {label!r} {known[:10]}"
        )
    known = known if known is not None else predicted_names
    prob_columns, _ = probability_columns(columns, probabilities)
    used = {image, *prob_columns}
    used.update(spec for spec in (label, prediction, split) if is_column_name(spec))
    if metadata is None:
        metadata_columns = [
            c for c in columns if c not in used and type(features[c]).__name__ in _SCALAR_FEATURES
        ]
    else:
        metadata_columns = [metadata] if isinstance(metadata, str) else list(metadata)
    needed = [c for c in columns if c in used - {image} or c in metadata_columns]
    if needed:
        table = dataset.select_columns(needed).to_pandas()
    else:
        table = pd.DataFrame(index=range(len(dataset)))
    for column in metadata_columns:
        names = _class_label_names(features, column)
        if names is not None and column in table.columns:
            table[column] = _names_of_codes(table[column].to_numpy(), names)
    values = resolve_columns(
        table,
        label=label,
        prediction=prediction,
        probabilities=probabilities,
        split=split,
        metadata=metadata_columns if metadata is None else metadata,
        class_names=class_names,
        known_class_names=known,
        reserved=[image],
    )
    return cls(HuggingFaceImages(dataset, image), **values)
