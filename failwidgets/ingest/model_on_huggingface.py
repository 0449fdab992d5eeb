"""``EvalSet.from_model`` on a Hugging Face ``datasets.Dataset``: the model's predictions, with
the dataset's images (decoded lazily), class names (``ClassLabel``) and metadata columns."""

from __future__ import annotations

__all__ = ["is_huggingface_dataset", "evalset_from_model_on_huggingface"]

_IMAGE_KEYS = ("pixel_values", "image", "img")
_LABEL_KEYS = ("labels", "label")


def is_huggingface_dataset(data) -> bool:
    """Whether ``data`` is a ``datasets.Dataset`` (without importing ``datasets``)."""
    return type(data).__module__.split(".")[0] == "datasets" and hasattr(data, "features")


def _column(dataset, given, keys, kind_of_feature, argument: str) -> str:
    columns = dataset.column_names
    if given is not None:
        if given not in columns:
            raise ValueError(f"{argument}: no column {given!r} in the dataset; columns: {columns}")
        return given
    typed = [c for c in columns if type(dataset.features[c]).__name__ == kind_of_feature]
    named = [c for c in keys if c in columns]
    found = typed or named
    if not found:
        raise ValueError(
            f"{argument}: cannot tell which column holds the "
            f"{'images' if argument == 'input_key' else 'labels'}; columns: {columns}; "
            f"pass {argument}="
        )
    return found[0]


def evalset_from_model_on_huggingface(
    cls, model, dataset, *, class_names, images, metadata, split, input_key, label_key, **run
):
    """See :meth:`EvalSet.from_model`."""
    from ..inference import predict_dataset

    if images is not None:
        raise ValueError(
            "images: not used with a Hugging Face dataset (the grid shows its image column)"
        )
    image_column = _column(dataset, input_key, _IMAGE_KEYS, "Image", "input_key")
    label_column = _column(dataset, label_key, _LABEL_KEYS, "ClassLabel", "label_key")
    tensors = dataset.with_format("torch", columns=[image_column, label_column])
    try:
        result = predict_dataset(
            model, tensors, input_key=image_column, label_key=label_column, **run
        )
    except RuntimeError as error:
        if "stack expects each tensor to be equal size" in str(error):
            raise ValueError(
                "data: the dataset's images have different sizes, so they cannot be batched; "
                "resize them first (e.g. dataset.map with a resize) or pass a DataLoader"
            ) from None
        raise
    return cls.from_huggingface(
        dataset,
        image=image_column,
        label=label_column,
        prediction=result.predictions,
        probabilities=result.probabilities,
        split=split,
        metadata=metadata,
        class_names=class_names,
    )
