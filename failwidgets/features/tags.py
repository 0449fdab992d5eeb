"""Image tags for PRIME: boolean (N, T) tag matrices from metadata or from a zero-shot tagger.

A tag matrix is a boolean array with one row per image and one column per tag, together with
the tag names (:class:`TagMatrix`). Tags come from

- the metadata of an EvalSet (:func:`tags_from_metadata`): one tag ``"column=value"`` per
  value of a boolean or categorical column (``"thick=True"``, ``"thick=False"``,
  ``"colour=red"``);
- any object following the :class:`Tagger` protocol, ``tag(images) -> (matrix, names)``; the
  package ships :class:`ClipZeroShotTagger` (open_clip zero-shot tagging over a vocabulary),
  and e.g. a Recognize Anything Model wrapper plugs in the same way.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from importlib import resources
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from ..checks import check_strings

__all__ = [
    "TagMatrix",
    "Tagger",
    "ClipZeroShotTagger",
    "DEFAULT_TEMPLATES",
    "as_tag_matrix",
    "run_tagger",
    "tags_from_metadata",
    "class_tag_counts",
    "load_vocabulary",
    "unknown_names_message",
]

DEFAULT_TEMPLATES: tuple[str, ...] = (
    "a photo of {}.",
    "a photo containing {}.",
    "a picture with {} in it.",
    "{}",
)


class TagMatrix(NamedTuple):
    """Boolean tags of N images: ``matrix`` (N, T) and the T tag ``names``.

    A NamedTuple, so ``matrix, names = tag_matrix`` works wherever a tagger's
    ``(matrix, names)`` pair is expected.
    """

    matrix: np.ndarray
    names: tuple[str, ...]

    @property
    def n_tags(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:  # type: ignore[override]
        """Column of tag ``name``; an unknown name raises a ValueError listing the valid tags."""
        try:
            return self.names.index(name)
        except ValueError:
            raise ValueError(unknown_names_message("name", [name], self.names)) from None


def unknown_names_message(
    argument: str, unknown: Sequence[str], valid: Sequence[str], kind: str = "tag", limit: int = 20
) -> str:
    """The error text for names that are not among ``valid``: the argument, the unknown
    names, then the valid names, closest matches first (``"column=..."`` tags of a column
    named like an unknown name, then :func:`difflib.get_close_matches`), up to ``limit``.

    >>> unknown_names_message("tags", ["thick"], ["colour=red", "thick=False", "thick=True"])
    "tags: unknown tag 'thick'; valid tags (closest first): 'thick=False', 'thick=True', 'colour=red'"
    """
    unknown = [str(u) for u in unknown]
    valid = [str(v) for v in valid]
    close: list[str] = []
    for name in unknown:
        close += [v for v in valid if v.startswith(f"{name}=")]
        close += difflib.get_close_matches(name, valid, n=5, cutoff=0.6)
    ordered = list(dict.fromkeys(close + valid))
    shown = ", ".join(repr(v) for v in ordered[:limit])
    more = f", ... ({len(ordered) - limit} more)" if len(ordered) > limit else ""
    what = f"{kind} {unknown[0]!r}" if len(unknown) == 1 else f"{kind}s {unknown}"
    if not valid:
        return f"{argument}: unknown {what}; there are no {kind}s"
    order = " (closest first)" if close else ""
    return f"{argument}: unknown {what}; valid {kind}s{order}: {shown}{more}"


@runtime_checkable
class Tagger(Protocol):
    """Anything that tags images: ``tag(images) -> (bool matrix (N, T), tag names)``.

    ``images`` is a uint8 array (N, H, W, 3) (implementations may also accept an EvalSet).
    """

    def tag(self, images) -> tuple[np.ndarray, Sequence[str]]: ...


def run_tagger(tagger: Tagger, images, **kwargs) -> TagMatrix:
    """Run any :class:`Tagger` and validate its output as a :class:`TagMatrix`.

    ``images`` with a length (array or EvalSet) fixes the expected number of rows;
    ``kwargs`` go to ``tagger.tag``.
    """
    if not callable(getattr(tagger, "tag", None)):
        raise TypeError(f"tagger: expected an object with tag(images), got {type(tagger).__name__}")
    n_rows = getattr(images, "n", None)
    if n_rows is None and hasattr(images, "__len__"):
        n_rows = len(images)
    if kwargs.get("indices") is not None:
        n_rows = len(kwargs["indices"])
    return as_tag_matrix(tagger.tag(images, **kwargs), n_rows=n_rows, name="tagger output")


def as_tag_matrix(tags, tag_names=None, *, n_rows: int | None = None, name: str = "tags"):
    """Validate tags given as a TagMatrix, a ``(matrix, names)`` pair, a boolean DataFrame
    (columns are the names) or an array plus ``tag_names``; return a :class:`TagMatrix`.

    The matrix must be 2-D, boolean or 0/1 valued, with at least one tag column and
    ``n_rows`` rows when given; names must be distinct strings. A boolean C-contiguous
    matrix is used without a copy.
    """
    if isinstance(tags, pd.DataFrame):
        if tag_names is not None:
            raise ValueError("tag_names: not used with a DataFrame (its columns are the names)")
        tag_names = [str(c) for c in tags.columns]
        matrix = tags.to_numpy()
    elif isinstance(tags, tuple) and len(tags) == 2 and not isinstance(tags, np.ndarray):
        if tag_names is not None:
            raise ValueError(f"tag_names: {name} already carries its names")
        matrix, tag_names = tags
    else:
        matrix = tags
        if tag_names is None:
            raise ValueError(f"tag_names: required when {name} is a plain array")
    matrix = np.asarray(matrix)
    if matrix.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D (images, tags) matrix, got shape {matrix.shape}")
    if matrix.dtype != bool:
        if not (
            np.issubdtype(matrix.dtype, np.integer) or np.issubdtype(matrix.dtype, np.floating)
        ):
            raise TypeError(f"{name}: expected a boolean matrix, got dtype {matrix.dtype}")
        if matrix.size and not np.isin(matrix, (0, 1)).all():
            raise ValueError(f"{name}: a numeric tag matrix may only hold 0 and 1")
        matrix = matrix.astype(bool)
    matrix = np.ascontiguousarray(matrix)
    names = tuple(check_strings(tag_names, "tag_names"))
    for i, tag in enumerate(names):
        if not tag:
            raise ValueError(f"tag_names: item {i} is an empty string")
    if len(names) != matrix.shape[1]:
        raise ValueError(
            f"tag_names: {len(names)} names for {matrix.shape[1]} tag columns of {name}"
        )
    if not names:
        raise ValueError(f"{name}: the tag matrix has no tags (0 columns)")
    if len(set(names)) != len(names):
        seen: set[str] = set()
        dup = next(t for t in names if t in seen or seen.add(t))
        raise ValueError(f"tag_names: duplicate tag name {dup!r}")
    if n_rows is not None and matrix.shape[0] != n_rows:
        raise ValueError(f"{name}: {matrix.shape[0]} rows for {n_rows} images")
    return TagMatrix(matrix, names)


# ---------------------------------------------------------------------- metadata


def _is_boolean(series: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(series.dtype):
        return True
    if series.dtype == object:
        values = series.dropna()
        return len(values) > 0 and all(isinstance(v, (bool, np.bool_)) for v in values)
    return False


def _is_categorical(series: pd.Series) -> bool:
    dtype = series.dtype
    return (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
    )


def _category_values(series: pd.Series) -> list:
    if isinstance(series.dtype, pd.CategoricalDtype):
        present = set(series.dropna().unique())
        return [v for v in series.cat.categories if v in present]
    values = series.dropna().unique().tolist()
    return sorted(values, key=lambda v: (str(type(v)), str(v)))


def tags_from_metadata(metadata, columns: Sequence[str] | None = None, *, max_values: int = 50):
    """Tag matrix from the boolean and categorical columns of a metadata DataFrame.

    Every tag is named ``"column=value"``, booleans included: ``members(cls, ("thick=True",))``.

    Parameters
    ----------
    metadata : DataFrame (one row per image) or an EvalSet (its ``metadata`` is used).
    columns : columns to use. Default: every boolean column and every categorical,
        string or object column with at most ``max_values`` distinct values (numeric
        columns are skipped unless listed here, where they are treated as categorical).
    max_values : in the default column choice, skip categorical columns with more distinct
        values (identifiers, file names).

    Returns
    -------
    TagMatrix
        One column ``"column=value"`` per distinct value of each column, named the same way
        for every column type: a boolean column ``thick`` gives ``"thick=False"`` and
        ``"thick=True"`` (like any two-valued categorical), ``colour`` gives
        ``"colour=red"``, ... Values come in category order for pandas categoricals, else
        sorted; a value that never occurs gives no tag, and a missing value gives no tag of
        its column.
    """
    if not isinstance(metadata, pd.DataFrame) and hasattr(metadata, "metadata"):
        metadata = metadata.metadata
        if metadata is None:
            raise ValueError("metadata: the EvalSet has no metadata DataFrame")
    if not isinstance(metadata, pd.DataFrame):
        raise TypeError(f"metadata: expected a DataFrame or an EvalSet, got {type(metadata)}")
    if isinstance(max_values, bool) or not isinstance(max_values, (int, np.integer)):
        raise TypeError(f"max_values: expected an integer, got {type(max_values).__name__}")
    if max_values < 1:
        raise ValueError(f"max_values: must be at least 1, got {max_values}")
    explicit = columns is not None
    if explicit:
        if isinstance(columns, str):
            columns = [columns]
        columns = list(columns)
        unknown = [c for c in columns if c not in metadata.columns]
        if unknown:
            raise ValueError(f"columns: not in the metadata: {unknown}")
        if not columns:
            raise ValueError("columns: empty list; pass None to use every suitable column")
    else:
        columns = list(metadata.columns)

    blocks: list[np.ndarray] = []
    names: list[str] = []
    for column in columns:
        series = metadata[column]
        label = str(column)
        if _is_boolean(series):
            flags = series.astype("boolean")  # missing values stay <NA>: no tag
            known = flags.notna().to_numpy()
            raw = flags.to_numpy(dtype=bool, na_value=False)
            values = [v for v in (False, True) if (known & (raw == v)).any()]
            raw = np.where(known, raw, None)
        else:
            if not explicit and not _is_categorical(series):
                continue
            values = _category_values(series)
            if not explicit and len(values) > max_values:
                continue
            raw = series.to_numpy()
        if not values:
            continue
        blocks.append(np.stack([(raw == value) for value in values], axis=1).astype(bool))
        names.extend(f"{label}={value}" for value in values)
    if not names:
        raise ValueError(
            "metadata: no boolean or categorical columns to make tags from "
            f"(columns: {list(metadata.columns)[:10]}); pass columns=[...] to choose some"
        )
    matrix = np.concatenate(blocks, axis=1) if len(blocks) > 1 else blocks[0]
    return as_tag_matrix(matrix, names, name="metadata tags")


def class_tag_counts(matrix: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Number of images of each class carrying each tag, (n_classes, T) int64.

    PRIME keeps, per class, the tags whose count reaches a minimum (``min_count``).
    """
    matrix = np.asarray(matrix, dtype=bool)
    labels = np.asarray(labels)
    if matrix.ndim != 2:
        raise ValueError(f"matrix: expected a 2-D (images, tags) matrix, got shape {matrix.shape}")
    if labels.ndim != 1:
        raise ValueError(f"labels: expected a 1-D array, got shape {labels.shape}")
    if labels.shape[0] != matrix.shape[0]:
        raise ValueError(
            f"matrix: the tag matrix has {matrix.shape[0]} rows but labels has "
            f"{labels.shape[0]} entries (one row per image)"
        )
    counts = np.zeros((n_classes, matrix.shape[1]), dtype=np.int64)
    for c in range(n_classes):
        rows = np.flatnonzero(labels == c)
        if rows.size:
            counts[c] = matrix[rows].sum(axis=0)
    return counts


# ---------------------------------------------------------------------- zero-shot tagger


def load_vocabulary(path=None) -> list[str]:
    """Tags of a vocabulary file: one tag per line; blank lines and ``#`` comments skipped.

    Default: the general visual vocabulary shipped with the package
    (``failwidgets/features/tag_vocabulary.txt``: objects, scenes, colours, textures,
    actions, ...).
    """
    if path is None:
        text = resources.files("failwidgets.features").joinpath("tag_vocabulary.txt").read_text()
    else:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    tags = []
    seen: set[str] = set()
    for line in text.splitlines():
        tag = line.split("#", 1)[0].strip()
        if tag and tag not in seen:
            seen.add(tag)
            tags.append(tag)
    if not tags:
        raise ValueError(f"path: no tags in vocabulary file {path!r}")
    return tags


class ClipZeroShotTagger:
    """Zero-shot multi-label tagging with an open_clip model.

    Each tag ``t`` gets a text embedding: the normalised mean of the CLIP text embeddings
    of the tag inserted in each prompt template (prompt ensembling). The score of image
    ``i`` for tag ``t`` is the cosine similarity ``s_it`` of their embeddings.

    Threshold rule (calibration)
        CLIP similarities are not comparable across tags, so each tag gets its own
        threshold from its score distribution over the calibration images: most images
        do *not* show a given tag, so the bulk of ``s_.t`` is the "absent" background and
        presence shows as an upper outlier. With the robust location and scale

        ``median_t = median_i s_it``,  ``scale_t = 1.4826 * median_i |s_it - median_t|``

        (the MAD, scaled to equal the standard deviation for normal data), the tag is
        present when ``s_it >= threshold_t = median_t + z * scale_t`` (default ``z = 3``,
        i.e. about 0.1 % false positives per tag on a normal background). Median and MAD
        ignore the present minority while it stays below half of the images; a tag shown
        in most images is under-tagged by this rule (pass ``thresholds`` for such cases).
        ``max_tags_per_image`` optionally keeps only each image's tags with the largest
        robust z-scores ``(s_it - median_t) / scale_t``.

    Calibration happens on the images given to :meth:`fit`; :meth:`tag` without a prior
    ``fit`` (and without explicit ``thresholds``) calibrates on the images it tags.

    Caching and batching are the encoder's: :class:`~failwidgets.features.clip.ClipEncoder`
    embeds images in batches and caches the embeddings under a content hash of the images
    and the model; the tagger keeps the prompt-ensembled text embeddings.

    Parameters
    ----------
    encoder : object with ``encode_images(images, indices=None) -> (N, D)`` and
        ``encode_texts(list[str]) -> (T, D)`` (a ``ClipEncoder``).
    vocabulary : tag strings; default: :func:`load_vocabulary` (the shipped vocabulary).
    templates : prompt templates, each with one ``{}`` for the tag.
    z : robust z-score a tag's similarity must reach (threshold rule above).
    thresholds : skip calibration and use these similarity thresholds: one float for all
        tags or one per tag.
    max_tags_per_image : keep at most this many tags per image (highest z-scores).

    Attributes
    ----------
    median_, scale_, thresholds_ : (T,) arrays set by :meth:`fit`.
    """

    def __init__(
        self,
        encoder,
        vocabulary: Sequence[str] | None = None,
        templates: Sequence[str] = DEFAULT_TEMPLATES,
        *,
        z: float = 3.0,
        thresholds=None,
        max_tags_per_image: int | None = None,
    ):
        for method in ("encode_images", "encode_texts"):
            if not callable(getattr(encoder, method, None)):
                raise TypeError(f"encoder: needs a callable {method}() (use a ClipEncoder)")
        self.encoder = encoder
        vocab = load_vocabulary() if vocabulary is None else vocabulary
        if isinstance(vocab, str):
            raise TypeError("vocabulary: expected a sequence of tags, got a single string")
        self.vocabulary = tuple(vocab)
        if not self.vocabulary:
            raise ValueError("vocabulary: no tags")
        for i, tag in enumerate(self.vocabulary):
            if not isinstance(tag, str) or not tag.strip():
                raise ValueError(f"vocabulary: item {i} ({tag!r}) is not a non-empty string")
        if len(set(self.vocabulary)) != len(self.vocabulary):
            raise ValueError("vocabulary: duplicate tags")
        if isinstance(templates, str):
            raise TypeError("templates: expected a sequence of templates, got a single string")
        self.templates = tuple(templates)
        if not self.templates:
            raise ValueError("templates: at least one prompt template is needed")
        for template in self.templates:
            if not isinstance(template, str) or template.count("{}") != 1:
                raise ValueError(f"templates: {template!r} must contain exactly one '{{}}'")
        if isinstance(z, bool) or not isinstance(z, (int, float, np.floating, np.integer)):
            raise TypeError(f"z: expected a number, got {type(z).__name__}")
        if not np.isfinite(z):
            raise ValueError(f"z: must be finite, got {z}")
        self.z = float(z)
        self.thresholds = self._check_thresholds(thresholds)
        if max_tags_per_image is not None:
            if isinstance(max_tags_per_image, bool) or not isinstance(
                max_tags_per_image, (int, np.integer)
            ):
                raise TypeError("max_tags_per_image: expected an integer or None")
            if max_tags_per_image < 1:
                raise ValueError(f"max_tags_per_image: must be >= 1, got {max_tags_per_image}")
        self.max_tags_per_image = max_tags_per_image
        self._text_embeddings: np.ndarray | None = None
        self.median_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.thresholds_: np.ndarray | None = None

    def _check_thresholds(self, thresholds):
        if thresholds is None:
            return None
        values = np.asarray(thresholds, dtype=np.float64)
        if values.ndim == 0:
            values = np.full(len(self.vocabulary), float(values))
        if values.shape != (len(self.vocabulary),):
            raise ValueError(
                f"thresholds: expected one value or {len(self.vocabulary)} (one per tag), "
                f"got shape {values.shape}"
            )
        if not np.all(np.isfinite(values)) or values.min() < -1 or values.max() > 1:
            raise ValueError("thresholds: cosine-similarity thresholds must lie in [-1, 1]")
        return values

    @property
    def names(self) -> tuple[str, ...]:
        return self.vocabulary

    def text_embeddings(self) -> np.ndarray:
        """Prompt-ensembled, L2-normalised text embedding per tag, (T, D) float32."""
        if self._text_embeddings is None:
            prompts = [
                template.format(tag) for tag in self.vocabulary for template in self.templates
            ]
            emb = np.asarray(self.encoder.encode_texts(prompts), dtype=np.float32)
            if emb.ndim != 2 or emb.shape[0] != len(prompts):
                raise ValueError(
                    f"encoder: encode_texts returned shape {emb.shape} for {len(prompts)} texts"
                )
            emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
            mean = emb.reshape(len(self.vocabulary), len(self.templates), -1).mean(axis=1)
            mean /= np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)
            self._text_embeddings = mean.astype(np.float32)
        return self._text_embeddings

    def scores(self, images, indices=None) -> np.ndarray:
        """Cosine similarity of every image to every tag, (N, T) float32.

        ``images``: uint8 array (N, H, W, 3) or an EvalSet (with ``indices``).
        """
        if indices is None:
            emb = self.encoder.encode_images(images)
        else:
            emb = self.encoder.encode_images(images, indices=indices)
        emb = np.asarray(emb, dtype=np.float32)
        if emb.ndim != 2:
            raise ValueError(f"encoder: encode_images returned shape {emb.shape}")
        emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        return emb @ self.text_embeddings().T

    @staticmethod
    def _robust_stats(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if scores.ndim != 2 or scores.shape[0] == 0:
            raise ValueError(f"scores: need at least one image to calibrate, got {scores.shape}")
        median = np.median(scores, axis=0)
        scale = 1.4826 * np.median(np.abs(scores - median), axis=0)
        return median, np.maximum(scale, 1e-6)

    def calibrate(self, scores: np.ndarray) -> ClipZeroShotTagger:
        """Set ``median_``, ``scale_`` and ``thresholds_`` from a (N, T) score matrix."""
        scores = np.asarray(scores, dtype=np.float64)
        if scores.ndim != 2 or scores.shape[1] != len(self.vocabulary):
            raise ValueError(
                f"scores: expected shape (N, {len(self.vocabulary)}), got {scores.shape}"
            )
        self.median_, self.scale_ = self._robust_stats(scores)
        self.thresholds_ = (
            self.thresholds if self.thresholds is not None else self.median_ + self.z * self.scale_
        )
        return self

    def fit(self, images, indices=None) -> ClipZeroShotTagger:
        """Calibrate the per-tag thresholds on ``images`` (see the class docstring)."""
        return self.calibrate(self.scores(images, indices))

    def decide(self, scores: np.ndarray) -> TagMatrix:
        """Tag decisions for a (N, T) score matrix with the fitted (or calibrated) thresholds."""
        scores = np.asarray(scores, dtype=np.float64)
        if scores.ndim != 2 or scores.shape[1] != len(self.vocabulary):
            raise ValueError(
                f"scores: expected shape (N, {len(self.vocabulary)}), got {scores.shape}"
            )
        if self.thresholds_ is not None:
            median, scale, thresholds = self.median_, self.scale_, self.thresholds_
        else:
            median, scale = self._robust_stats(scores)
            thresholds = self.thresholds if self.thresholds is not None else median + self.z * scale
        present = scores >= thresholds
        k = self.max_tags_per_image
        if k is not None and k < present.shape[1]:
            zscores = np.where(present, (scores - median) / scale, -np.inf)
            keep = np.argpartition(-zscores, k - 1, axis=1)[:, :k]
            capped = np.zeros_like(present)
            np.put_along_axis(capped, keep, True, axis=1)
            present &= capped
        return TagMatrix(present, self.vocabulary)

    def tag(self, images, indices=None) -> TagMatrix:
        """Boolean tags of ``images`` (uint8 array or EvalSet) and the tag names."""
        return self.decide(self.scores(images, indices))

    def __repr__(self) -> str:
        return (
            f"ClipZeroShotTagger(n_tags={len(self.vocabulary)}, templates={len(self.templates)}, "
            f"z={self.z}, fitted={self.thresholds_ is not None})"
        )
