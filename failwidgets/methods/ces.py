"""Conceptual explanation scores (CES) and conceptual counterfactuals (CCE).

Abid & Zou, "Meaningfully explaining a model's mistakes" (CES), and the later
conceptual counterfactual explanations (CCE) of the same group.

Pipeline
--------
1. :class:`ConceptSet`: concepts as positive / negative example rows of one
   shared pool of images (from per-concept folders or from an EvalSet's tag
   columns).
2. :func:`learn_concept_bank` / :func:`fit_concept_bank`: one concept
   activation vector (CAV) per concept, a linear SVM on the flattened
   activations of a layer, C chosen on a hold-out split; concepts whose
   validation accuracy is below ``min_accuracy`` are dropped. The activations
   of the pool are computed once and shared; each concept's SVM is solved in
   the dual on the Gram matrix of its own examples, so the cost grows with the
   number of examples, not with the layer's width (86,528-d at SqueezeNet's
   ``features``), and ``w = X^T (alpha * y)`` is recovered at the end.
3. :func:`concept_scores`: ``CES_c = sum_j p_y(t(b(x_j) + delta v_c)) - p_y(t(b(x_j)))``
   with the raw SVM coefficient vector ``v_c``, normalised by ``max_c |CES_c|``.
4. :func:`conceptual_counterfactual`: one weight per concept, optimised with
   Adam to move the prediction to the target class, L1/L2 penalised,
   margin-scaled unit CAVs, weights projected to each concept's margin range.
5. :func:`embed_concepts`: 2-D coordinates of the CAVs for a concept map.
6. :meth:`ConceptExplainer.explain_images`: the CES of a set of an EvalSet's images (by
   default, a class's mistakes) as a :class:`ConceptExplanation`, the method's answer on the
   result protocol: ``failure_modes(classes="all", delta=...)``.

Everything here is UI-free; torch and scikit-learn are imported on first use.
"""

from __future__ import annotations

import json
import numbers
import os
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..class_names import class_index
from ..image_tensors import images_to_tensor
from ..mode_source import FailureModeSource
from ..text import plural
from ..thresholds import spec as threshold_spec

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ..data import EvalSet
    from ..features.split import SplitModel
    from ..images import ImageSource

__all__ = [
    "MIN_EXAMPLES",
    "DEFAULT_C_GRID",
    "ConceptSet",
    "ConceptBank",
    "ConceptScores",
    "ConceptRanking",
    "CounterfactualResult",
    "ConceptExplainer",
    "ConceptExplanation",
    "images_to_tensor",
    "learn_concept_bank",
    "fit_concept_bank",
    "concept_scores",
    "conceptual_counterfactual",
    "embed_concepts",
    "check_explained",
    "mistakes_per_class",
    "class_mistakes",
    "class_images_mistakes_first",
    "concept_examples_mode",
    "target_text",
    "describe_scores",
    "concept_failure_modes",
]

MIN_EXAMPLES = 10
"""Fewest positive (and negative) examples a concept may have."""

PAPER_DELTA = 1e4
"""The CES step of the reference implementation (also this module's default)."""

DEFAULT_C_GRID = (0.01, 0.1, 1.0, 10.0)
"""SVM regularisation values tried, relative to activations scaled to unit mean squared norm."""

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


# =============================================================================
# Concept definitions
# =============================================================================
@dataclass
class ConceptSet:
    """Concepts as positive / negative rows of one shared pool of examples.

    Parameters
    ----------
    names : list of str
        Concept names (distinct).
    positives, negatives : list of int arrays
        Per concept, row indices into the pool.
    n_pool : int
        Number of rows in the pool.
    pool : ImageSource, optional
        The pool's images (needed by :func:`learn_concept_bank`, not by
        :func:`fit_concept_bank`).
    example_ids : list, optional
        One id per pool row: an image path or an EvalSet index.
    source : str
        ``"folders"``, ``"evalset"`` or ``"indices"``.

    Raises
    ------
    ValueError
        If a concept has fewer than :data:`MIN_EXAMPLES` positives or negatives,
        or indices fall outside the pool.
    """

    names: list[str]
    positives: list[np.ndarray]
    negatives: list[np.ndarray]
    n_pool: int
    pool: ImageSource | None = None
    example_ids: list[Any] | None = None
    source: str = "indices"
    skipped: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.names = [str(n) for n in self.names]
        if len(set(self.names)) != len(self.names):
            raise ValueError("names: concept names must be distinct")
        if not (len(self.names) == len(self.positives) == len(self.negatives)):
            raise ValueError(
                f"names, positives, negatives: lengths differ "
                f"({len(self.names)}, {len(self.positives)}, {len(self.negatives)})"
            )
        if not self.names:
            raise ValueError("names: no concepts given")
        self.positives = [np.asarray(p, dtype=np.int64).ravel() for p in self.positives]
        self.negatives = [np.asarray(n, dtype=np.int64).ravel() for n in self.negatives]
        small = [
            f"{name} ({len(p)} positives, {len(n)} negatives)"
            for name, p, n in zip(self.names, self.positives, self.negatives)
            if len(p) < MIN_EXAMPLES or len(n) < MIN_EXAMPLES
        ]
        if small:
            raise ValueError(
                f"concepts need at least {MIN_EXAMPLES} positive and {MIN_EXAMPLES} negative "
                f"examples; too few in: {', '.join(small[:10])}"
                + (f" and {len(small) - 10} more" if len(small) > 10 else "")
            )
        for name, rows in [*zip(self.names, self.positives), *zip(self.names, self.negatives)]:
            if rows.min() < 0 or rows.max() >= self.n_pool:
                raise ValueError(
                    f"concept {name!r}: example index outside the pool 0..{self.n_pool - 1}"
                )
        if self.example_ids is not None and len(self.example_ids) != self.n_pool:
            raise ValueError(
                f"example_ids: {len(self.example_ids)} ids for a pool of {self.n_pool}"
            )
        if self.pool is not None and len(self.pool) != self.n_pool:
            raise ValueError(f"pool: {len(self.pool)} images for a pool of {self.n_pool}")

    def __len__(self) -> int:
        return len(self.names)

    def __repr__(self) -> str:
        return (
            f"ConceptSet({len(self.names)} concepts, pool of {self.n_pool}, source={self.source!r})"
        )

    # ------------------------------------------------------------------ builders
    @classmethod
    def from_indices(
        cls,
        names: Sequence[str],
        positives: Sequence[Sequence[int]],
        negatives: Sequence[Sequence[int]],
        n_pool: int,
    ) -> ConceptSet:
        """Concepts over a pool of precomputed activations (no images)."""
        return cls(list(names), list(positives), list(negatives), int(n_pool))

    @classmethod
    def from_folders(
        cls,
        folders: str | os.PathLike | Mapping[str, str | os.PathLike | Sequence[str | os.PathLike]],
        *,
        negative_folder: str | os.PathLike | None = None,
        max_examples: int | None = None,
        random_state: int = 0,
    ) -> ConceptSet:
        """Concepts from folders of example images.

        Parameters
        ----------
        folders : path or mapping
            A directory with one sub-folder of images per concept, or a mapping
            ``name -> folder`` (or ``name -> list of image paths``).
        negative_folder : path, optional
            Images without any of the concepts. Without it, a concept's negatives
            are drawn from the other concepts' positives (as the reference does).
        max_examples : int, optional
            Cap on the positives per concept (a random subset).
        random_state : int
            Seed of the negative (and capped positive) sampling.

        Each concept gets as many negatives as positives when enough are available.
        """
        mapping = _concept_folders(folders)
        rng = np.random.default_rng(random_state)
        paths: list[Path] = []
        row_of: dict[Path, int] = {}

        def rows_for(files: list[Path]) -> np.ndarray:
            out = []
            for f in files:
                key = f.resolve()
                if key not in row_of:
                    row_of[key] = len(paths)
                    paths.append(f)
                out.append(row_of[key])
            return np.asarray(sorted(set(out)), dtype=np.int64)

        names, positives = [], []
        for name, files in mapping.items():
            rows = rows_for(files)
            if max_examples is not None and len(rows) > max_examples:
                rows = np.sort(rng.choice(rows, size=max_examples, replace=False))
            names.append(name)
            positives.append(rows)
        if negative_folder is not None:
            negative_rows = rows_for(_image_files(Path(negative_folder), "negative_folder"))
        else:
            negative_rows = None
        negatives = []
        all_positive = np.unique(np.concatenate(positives))
        for rows in positives:
            candidates = negative_rows if negative_rows is not None else all_positive
            candidates = np.setdiff1d(candidates, rows)
            k = min(len(rows), len(candidates))
            negatives.append(np.sort(rng.choice(candidates, size=k, replace=False)))
        from ..images import PathImages

        return cls(
            names,
            positives,
            negatives,
            n_pool=len(paths),
            pool=PathImages(paths),
            example_ids=[str(p) for p in paths],
            source="folders",
        )

    @classmethod
    def from_evalset(
        cls,
        evalset: EvalSet,
        columns: Sequence[str] | None = None,
        *,
        indices: Sequence[int] | np.ndarray | None = None,
        max_examples: int = 100,
        random_state: int = 0,
    ) -> ConceptSet:
        """Concepts from an EvalSet's tag / metadata columns.

        A boolean (or 0/1) column is one concept: positives have the tag,
        negatives do not. A text or categorical column gives one concept per
        value, named ``"column=value"``, whose negatives have another value.
        Positives are capped at ``max_examples`` and an equal number of
        negatives is sampled (balanced).

        Parameters
        ----------
        evalset : EvalSet
            With ``metadata``.
        columns : list of str, optional
            Columns to use. By default every boolean / 0-1 / text column; then
            concepts with fewer than :data:`MIN_EXAMPLES` positives or negatives
            are skipped (listed in ``skipped``) instead of raising.
        indices : int array, optional
            Rows allowed as examples (e.g. ``evalset.split_indices("train")``).
        """
        metadata = getattr(evalset, "metadata", None)
        if metadata is None:
            raise ValueError("evalset: has no metadata (tag columns) to build concepts from")
        rows = (
            np.arange(evalset.n) if indices is None else evalset.check_indices(indices, "indices")
        )
        if max_examples < MIN_EXAMPLES:
            raise ValueError(f"max_examples: must be >= {MIN_EXAMPLES}, got {max_examples}")
        explicit = columns is not None
        if explicit:
            if isinstance(columns, str):
                columns = [columns]
            missing = [c for c in columns if c not in metadata.columns]
            if missing:
                raise ValueError(
                    f"columns: {missing} not in the metadata; columns: {list(metadata.columns)}"
                )
        else:
            columns = list(metadata.columns)
        rng = np.random.default_rng(random_state)
        names, positives, negatives, skipped = [], [], [], {}
        for column in columns:
            for name, pos_mask, neg_mask, why in _tag_masks(metadata[column].iloc[rows], column):
                if why:
                    if explicit:
                        raise ValueError(f"columns: {why}")
                    skipped[name] = why
                    continue
                pos, neg = rows[pos_mask], rows[neg_mask]
                if len(pos) < MIN_EXAMPLES or len(neg) < MIN_EXAMPLES:
                    why = f"{len(pos)} positives and {len(neg)} negatives"
                    if explicit:
                        raise ValueError(
                            f"concept {name!r} needs at least {MIN_EXAMPLES} positive and "
                            f"{MIN_EXAMPLES} negative examples, has {why}"
                        )
                    skipped[name] = why
                    continue
                if len(pos) > max_examples:
                    pos = rng.choice(pos, size=max_examples, replace=False)
                neg = rng.choice(neg, size=min(len(pos), len(neg)), replace=False)
                names.append(name)
                positives.append(np.sort(pos))
                negatives.append(np.sort(neg))
        if not names:
            raise ValueError(
                f"evalset: no tag column gives a concept with at least {MIN_EXAMPLES} positive "
                f"and negative examples; skipped: {skipped}"
            )
        return cls(
            names,
            positives,
            negatives,
            n_pool=evalset.n,
            pool=evalset.images,
            example_ids=list(range(evalset.n)),
            source="evalset",
            skipped=skipped,
        )

    # ------------------------------------------------------------------ helpers
    def used_rows(self) -> np.ndarray:
        """Sorted pool rows used by any concept."""
        return np.unique(np.concatenate([*self.positives, *self.negatives]))

    def compact(self) -> ConceptSet:
        """The same concepts over a pool reduced to the rows they use."""
        used = self.used_rows()
        new_row = np.full(self.n_pool, -1, dtype=np.int64)
        new_row[used] = np.arange(len(used))
        pool = None
        if self.pool is not None:
            from ..images import SubsetImages

            pool = SubsetImages(self.pool, used)
        ids = [self.example_ids[i] for i in used] if self.example_ids is not None else list(used)
        return ConceptSet(
            self.names,
            [new_row[p] for p in self.positives],
            [new_row[n] for n in self.negatives],
            n_pool=len(used),
            pool=pool,
            example_ids=ids,
            source=self.source,
            skipped=dict(self.skipped),
        )

    def positive_ids(self, name: str) -> list[Any]:
        """Ids (paths or EvalSet indices) of a concept's positive examples."""
        rows = self.positives[self.names.index(name)]
        if self.example_ids is None:
            return [int(r) for r in rows]
        return [_plain(self.example_ids[r]) for r in rows]


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _image_files(folder: Path, what: str) -> list[Path]:
    if not folder.is_dir():
        raise ValueError(f"{what}: {folder} is not a directory")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)


def _concept_folders(folders) -> dict[str, list[Path]]:
    if isinstance(folders, (str, os.PathLike)):
        root = Path(folders)
        if not root.is_dir():
            raise ValueError(f"folders: {root} is not a directory")
        subdirs = sorted(p for p in root.iterdir() if p.is_dir())
        if not subdirs:
            raise ValueError(f"folders: no concept sub-folders in {root}")
        return {d.name: _image_files(d, "folders") for d in subdirs}
    if isinstance(folders, Mapping):
        out = {}
        for name, value in folders.items():
            if isinstance(value, (str, os.PathLike)):
                out[str(name)] = _image_files(Path(value), f"folders[{name!r}]")
            else:
                out[str(name)] = [Path(v) for v in value]
        if not out:
            raise ValueError("folders: empty mapping")
        return out
    raise TypeError(
        f"folders: expected a directory or a mapping name -> folder, got {type(folders).__name__}"
    )


def _tag_masks(values: pd.Series, column: str):
    """Yield (concept name, positive mask, negative mask, reason to skip) for one column."""
    known = values.notna().to_numpy()
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        flags = values.fillna(False).astype(bool).to_numpy()
        yield column, flags & known, ~flags & known, None
    elif pd.api.types.is_numeric_dtype(dtype):
        if set(np.unique(values[known].to_numpy()).tolist()) <= {0, 1}:
            flags = values.fillna(0).to_numpy() == 1
            yield column, flags & known, ~flags & known, None
        else:
            why = f"column {column!r} has numbers other than 0/1; threshold it into booleans first"
            yield column, None, None, why
    elif isinstance(dtype, pd.CategoricalDtype) or all(isinstance(v, str) for v in values[known]):
        as_text = values.astype("string")
        for value in sorted(as_text[known].unique()):
            flags = (as_text == value).fillna(False).to_numpy()
            yield f"{column}={value}", flags & known, ~flags & known, None
    else:
        yield column, None, None, f"column {column!r} holds values that are neither tags nor text"


# =============================================================================
# Concept bank (CAVs)
# =============================================================================
@dataclass
class ConceptBank:
    """Concept activation vectors of one layer.

    Attributes
    ----------
    names : list of str
        Kept concepts (validation accuracy >= ``min_accuracy``).
    vectors : float32 array (C, D)
        Raw SVM coefficient vectors ``w_c`` in the flattened activation space.
    intercepts : float array (C,)
        SVM intercepts ``b_c``; a sample has the concept when ``w_c . h + b_c > 0``.
    val_accuracy, train_accuracy : float arrays (C,)
    c_values : float array (C,)
        Chosen C, relative to activations scaled to unit mean squared norm.
    margin_min, margin_max : float arrays (C,)
        Range of the signed distances ``(w_c . h + b_c) / |w_c|`` of the
        training examples (used by the counterfactual method).
    n_positives, n_negatives : int arrays (C,)
    activation_shape : tuple
        Shape of one activation of the layer, e.g. ``(512, 13, 13)``.
    layer : str
    input_shape : tuple or None
        ``(C, H, W)`` of the images the bank was learned on.
    dropped : dict
        Concepts below the accuracy threshold -> their validation accuracy.
    positive_ids : dict
        Concept -> ids (image paths or EvalSet indices) of its positive examples.
    source : str
        Where the examples came from (``"folders"``, ``"evalset"``, ``"indices"``).
    min_accuracy : float
    """

    names: list[str]
    vectors: np.ndarray
    intercepts: np.ndarray
    val_accuracy: np.ndarray
    train_accuracy: np.ndarray
    c_values: np.ndarray
    margin_min: np.ndarray
    margin_max: np.ndarray
    n_positives: np.ndarray
    n_negatives: np.ndarray
    activation_shape: tuple[int, ...]
    layer: str = ""
    input_shape: tuple[int, ...] | None = None
    dropped: dict[str, float] = field(default_factory=dict)
    positive_ids: dict[str, list[Any]] = field(default_factory=dict)
    source: str = "indices"
    min_accuracy: float = 0.7

    _ARRAYS = (
        "vectors",
        "intercepts",
        "val_accuracy",
        "train_accuracy",
        "c_values",
        "margin_min",
        "margin_max",
        "n_positives",
        "n_negatives",
    )

    def __post_init__(self) -> None:
        self.names = list(self.names)
        self.vectors = np.asarray(self.vectors, dtype=np.float32)
        if self.vectors.ndim != 2 or len(self.vectors) != len(self.names):
            raise ValueError(
                f"vectors: expected shape ({len(self.names)}, D), got {self.vectors.shape}"
            )
        self.activation_shape = tuple(int(s) for s in self.activation_shape)
        if int(np.prod(self.activation_shape)) != self.vectors.shape[1]:
            raise ValueError(
                f"activation_shape {self.activation_shape} does not match vectors of "
                f"dimension {self.vectors.shape[1]}"
            )
        if self.input_shape is not None:
            self.input_shape = tuple(int(s) for s in self.input_shape)
        for name in self._ARRAYS[1:]:
            array = np.asarray(getattr(self, name))
            if array.shape != (len(self.names),):
                raise ValueError(f"{name}: expected shape ({len(self.names)},), got {array.shape}")
            setattr(self, name, array)
        for name in ("vectors", "intercepts", "margin_min", "margin_max"):
            finite = np.isfinite(np.asarray(getattr(self, name), dtype=np.float64))
            if finite.ndim == 2:
                finite = finite.all(axis=1)
            if not finite.all():
                bad = self.names[int(np.flatnonzero(~finite)[0])]
                raise ValueError(
                    f"{name}: concept {bad!r} has NaN or infinite values "
                    f"({int((~finite).sum())} of {len(self.names)} concepts)"
                )

    def __len__(self) -> int:
        return len(self.names)

    def __repr__(self) -> str:
        return (
            f"ConceptBank({len(self.names)} concepts at layer {self.layer!r}, "
            f"dim {self.dim}, {len(self.dropped)} dropped)"
        )

    @property
    def dim(self) -> int:
        """Dimension of the flattened activations."""
        return int(self.vectors.shape[1])

    @property
    def norms(self) -> np.ndarray:
        """``|w_c|`` per concept."""
        return np.linalg.norm(self.vectors.astype(np.float64), axis=1)

    @property
    def unit_vectors(self) -> np.ndarray:
        """CAVs scaled to unit length, float32 (C, D)."""
        return (self.vectors / np.maximum(self.norms, 1e-30)[:, None]).astype(np.float32)

    def index(self, name: str) -> int:
        """Row of concept ``name``."""
        try:
            return self.names.index(name)
        except ValueError:
            raise ValueError(f"name: unknown concept {name!r}") from None

    def decision_function(self, activations: np.ndarray) -> np.ndarray:
        """``w_c . h + b_c`` for activations (n, D or activation_shape) -> (n, C)."""
        h = _flat_activations(activations, self)
        return h.astype(np.float64) @ self.vectors.T.astype(np.float64) + self.intercepts

    def to_frame(self) -> pd.DataFrame:
        """One row per concept: accuracies, C, margins, example counts."""
        return pd.DataFrame(
            {
                "val_accuracy": self.val_accuracy,
                "train_accuracy": self.train_accuracy,
                "C": self.c_values,
                "norm": self.norms,
                "margin_min": self.margin_min,
                "margin_max": self.margin_max,
                "n_positives": self.n_positives,
                "n_negatives": self.n_negatives,
            },
            index=pd.Index(self.names, name="concept"),
        )

    # ----------------------------------------------------------------- storage
    def save(self, path: str | os.PathLike) -> tuple[Path, Path]:
        """Write ``<path>.npz`` (arrays, no pickle) and ``<path>.json`` (metadata).

        Returns the two file paths.
        """
        stem = _stem(path)
        stem.parent.mkdir(parents=True, exist_ok=True)
        arrays = {name: np.asarray(getattr(self, name)) for name in self._ARRAYS}
        npz = stem.with_name(stem.name + ".npz")
        np.savez(npz, **arrays)
        meta = {
            "format": "failwidgets.ConceptBank",
            "version": 1,
            "names": self.names,
            "activation_shape": list(self.activation_shape),
            "layer": self.layer,
            "input_shape": list(self.input_shape) if self.input_shape is not None else None,
            "dropped": {k: float(v) for k, v in self.dropped.items()},
            "positive_ids": {k: [_plain(i) for i in v] for k, v in self.positive_ids.items()},
            "source": self.source,
            "min_accuracy": float(self.min_accuracy),
        }
        js = stem.with_name(stem.name + ".json")
        js.write_text(json.dumps(meta, indent=1))
        return npz, js

    @classmethod
    def load(cls, path: str | os.PathLike) -> ConceptBank:
        """Read a bank written by :meth:`save` (``path`` with or without suffix)."""
        stem = _stem(path)
        npz, js = stem.with_name(stem.name + ".npz"), stem.with_name(stem.name + ".json")
        for f in (npz, js):
            if not f.is_file():
                raise ValueError(f"path: {f} not found (a bank is a .npz plus a .json file)")
        try:
            meta = json.loads(js.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"path: {js} is not valid JSON ({error})") from None
        if not isinstance(meta, dict) or meta.get("format") != "failwidgets.ConceptBank":
            raise ValueError(f"path: {js} is not a failwidgets concept bank")
        arrays = _read_bank_arrays(npz, cls._ARRAYS)
        try:
            return cls(
                names=meta["names"],
                activation_shape=tuple(meta["activation_shape"]),
                layer=meta["layer"],
                input_shape=tuple(meta["input_shape"]) if meta["input_shape"] is not None else None,
                dropped=meta["dropped"],
                positive_ids=meta["positive_ids"],
                source=meta["source"],
                min_accuracy=meta["min_accuracy"],
                **arrays,
            )
        except KeyError as error:
            raise ValueError(f"path: {js} lacks the field {error.args[0]!r}") from None
        except (TypeError, ValueError) as error:
            raise ValueError(f"path: {stem} is not a consistent concept bank ({error})") from None


def _read_bank_arrays(npz: Path, names: Sequence[str]) -> dict[str, np.ndarray]:
    """The named arrays of a bank's ``.npz``; a truncated or foreign file names ``path``."""
    try:
        with np.load(npz, allow_pickle=False) as data:
            missing = [name for name in names if name not in data.files]
            arrays = {name: data[name] for name in names if name in data.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        raise ValueError(
            f"path: {npz} is truncated or not a concept bank archive "
            f"({type(error).__name__}: {error})"
        ) from None
    if missing:
        raise ValueError(f"path: {npz} lacks the arrays {missing}")
    return arrays


def _stem(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path.with_suffix("") if path.suffix in (".npz", ".json") else path


def _resize(images: list[np.ndarray], size: tuple[int, int] | None) -> np.ndarray:
    if size is None:
        shapes = {im.shape for im in images}
        if len(shapes) > 1:
            raise ValueError(
                f"images: concept images have different sizes {sorted(shapes)[:3]}; "
                "pass image_size=(H, W) to resize them"
            )
        return np.stack(images)
    from PIL import Image

    h, w = size
    out = [
        im
        if im.shape[:2] == (h, w)
        else np.asarray(Image.fromarray(im).resize((w, h), Image.BILINEAR))
        for im in images
    ]
    return np.stack(out)


def learn_concept_bank(
    split: SplitModel,
    concepts: ConceptSet,
    *,
    transform: Callable[[np.ndarray], torch.Tensor] | None = None,
    image_size: tuple[int, int] | None = None,
    batch_size: int = 64,
    activation_dtype: Any = np.float32,
    **fit_options: Any,
) -> ConceptBank:
    """Learn one CAV per concept at the split's layer from the concepts' images.

    The activations of every example image are computed once (shared by all
    concepts) and then :func:`fit_concept_bank` is called.

    Parameters
    ----------
    split : SplitModel
        The classifier cut at the bottleneck layer.
    concepts : ConceptSet
        With a ``pool`` of images.
    transform : callable, optional
        uint8 images (n, H, W, 3) -> model input tensor (n, 3, H, W); default
        :func:`images_to_tensor` (scale to [0, 1], no normalisation).
    image_size : (H, W), optional
        Resize the example images to this size first (they must otherwise share one size).
    activation_dtype : numpy dtype
        Storage of the pool's activations (``np.float16`` halves the memory of wide layers).
    **fit_options
        Passed to :func:`fit_concept_bank` (``c_grid``, ``val_fraction``,
        ``min_accuracy``, ``random_state``).
    """
    if concepts.pool is None:
        raise ValueError("concepts: has no image pool; use fit_concept_bank with activations")
    transform = transform or images_to_tensor
    compact = concepts.compact()
    activations = None
    input_shape = None
    for start in range(0, compact.n_pool, batch_size):
        rows = np.arange(start, min(start + batch_size, compact.n_pool))
        images = _resize(compact.pool.get_many(rows), image_size)
        x = transform(images)
        if input_shape is None:
            input_shape = tuple(x.shape[1:])
        elif tuple(x.shape[1:]) != input_shape:
            raise ValueError(
                f"images: concept images give inputs of shape {tuple(x.shape[1:])} and "
                f"{input_shape}; pass image_size=(H, W)"
            )
        h = split.activations(x, batch_size=batch_size)
        if activations is None:
            activations = np.empty(
                (compact.n_pool, int(np.prod(h.shape[1:]))), dtype=activation_dtype
            )
            activation_shape = tuple(h.shape[1:])
        activations[rows] = h.reshape(len(rows), -1).numpy()
    return fit_concept_bank(
        activations,
        compact,
        activation_shape=activation_shape,
        layer=split.layer,
        input_shape=input_shape,
        **fit_options,
    )


def fit_concept_bank(
    activations: np.ndarray,
    concepts: ConceptSet,
    *,
    activation_shape: Sequence[int] | None = None,
    c_grid: Sequence[float] = DEFAULT_C_GRID,
    val_fraction: float = 0.25,
    min_accuracy: float = 0.7,
    random_state: int = 0,
    layer: str = "",
    input_shape: Sequence[int] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ConceptBank:
    """Fit one linear SVM (CAV) per concept on precomputed activations.

    Each concept's positives (label +1) and negatives (label -1) are split
    (stratified) into a training and a hold-out part. A hinge-loss linear SVM
    with an unregularised intercept (``SVC(kernel="linear")``) is trained for
    each C in ``c_grid`` on the training part; the C with the best hold-out
    accuracy is kept (the smaller C on ties) and that accuracy is recorded.
    Concepts below ``min_accuracy`` are dropped.

    The SVMs are solved in the dual on the Gram matrix of each concept's own
    examples, with the activations scaled to unit mean squared norm (which
    makes ``c_grid`` scale-free); the returned ``w`` is the exact primal
    coefficient vector in the raw activation space.

    Parameters
    ----------
    activations : array (n_pool, D) or (n_pool, *activation_shape)
        Activations of the pool rows the concepts index (any float dtype; a
        ``np.memmap`` works).
    concepts : ConceptSet
    activation_shape : tuple, optional
        Shape of one activation; default ``activations.shape[1:]``.
    """
    from sklearn.model_selection import train_test_split

    if len(activations) != concepts.n_pool:
        raise ValueError(
            f"activations: {len(activations)} rows for a concept pool of {concepts.n_pool}"
        )
    if activation_shape is None:
        activation_shape = tuple(activations.shape[1:])
    dim = int(np.prod(activation_shape))
    flat = activations.reshape(len(activations), -1) if activations.ndim != 2 else activations
    if flat.shape[1] != dim:
        raise ValueError(f"activations: dimension {flat.shape[1]} != prod{tuple(activation_shape)}")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction: must be in (0, 1), got {val_fraction}")
    c_grid = sorted(float(c) for c in c_grid)
    if not c_grid or c_grid[0] <= 0:
        raise ValueError(f"c_grid: expected positive values, got {c_grid}")

    n = len(concepts)
    vectors = np.empty((n, dim), dtype=np.float32)
    results = []
    for k, (pos, neg) in enumerate(zip(concepts.positives, concepts.negatives)):
        rows = np.concatenate([pos, neg])
        y = np.concatenate([np.ones(len(pos)), -np.ones(len(neg))])
        train, val = train_test_split(
            np.arange(len(rows)),
            test_size=val_fraction,
            stratify=y,
            random_state=random_state + k,
        )
        x = np.ascontiguousarray(flat[rows], dtype=np.float32)
        fit = _fit_linear_svm_dual(x, y, train, val, c_grid)
        vectors[k] = fit.pop("w")
        results.append(fit)
        if progress is not None:
            progress(k + 1, n)

    val_acc = np.array([r["val_accuracy"] for r in results])
    keep = val_acc >= min_accuracy
    names = [name for name, kept in zip(concepts.names, keep) if kept]

    def col(key: str, dtype=float) -> np.ndarray:
        return np.array([r[key] for r, kept in zip(results, keep) if kept], dtype=dtype)

    return ConceptBank(
        names=names,
        vectors=vectors[keep],
        intercepts=col("intercept"),
        val_accuracy=col("val_accuracy"),
        train_accuracy=col("train_accuracy"),
        c_values=col("C"),
        margin_min=col("margin_min"),
        margin_max=col("margin_max"),
        n_positives=np.array([len(p) for p, kept in zip(concepts.positives, keep) if kept]),
        n_negatives=np.array([len(q) for q, kept in zip(concepts.negatives, keep) if kept]),
        activation_shape=tuple(activation_shape),
        layer=layer,
        input_shape=tuple(input_shape) if input_shape is not None else None,
        dropped={
            name: float(a) for name, a, kept in zip(concepts.names, val_acc, keep) if not kept
        },
        positive_ids={name: concepts.positive_ids(name) for name in names},
        source=concepts.source,
        min_accuracy=float(min_accuracy),
    )


def _fit_linear_svm_dual(
    x: np.ndarray,
    y: np.ndarray,
    train: np.ndarray,
    val: np.ndarray,
    c_grid: Sequence[float],
) -> dict[str, Any]:
    """Linear SVM on the rows of ``x`` (float32, C-contiguous) via the dual (precomputed Gram).

    Returns the raw coefficient vector ``w``, intercept, chosen C, accuracies
    and the range of the training margins.
    """
    import sklearn
    from sklearn.svm import SVC

    gram = (x @ x.T).astype(np.float64)  # numpy computes x @ x.T with BLAS syrk
    k_train = gram[np.ix_(train, train)]
    scale = float(np.mean(np.diag(k_train)))
    if not (np.isfinite(scale) and scale > 0):
        if not np.all(np.isfinite(gram)):
            raise ValueError("activations: contain NaN or infinite values")
        scale = 1.0
    k_train = k_train / scale
    k_val = gram[np.ix_(val, train)] / scale
    y_train, y_val = y[train], y[val]

    best = None
    # The inputs are validated here; skipping sklearn's checks halves the cost of these small fits.
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        for c in c_grid:
            svm = SVC(kernel="precomputed", C=c).fit(k_train, y_train)
            decision = k_val[:, svm.support_] @ svm.dual_coef_[0] + svm.intercept_[0]
            acc = float(np.mean(np.where(decision > 0, 1.0, -1.0) == y_val))
            if best is None or acc > best[0]:
                best = (acc, c, svm)
            if np.all(np.abs(svm.dual_coef_) < c * (1.0 - 1e-8)):
                break  # no multiplier at its bound C: every larger C gives this same solution
    val_acc, c, svm = best
    # Dual coefficients a_i = y_i alpha_i over the training rows; decision on the
    # scaled data z = x / sqrt(scale) is sum_i a_i z_i.z + b = (sum_i a_i x_i / scale).x + b.
    a = np.zeros(len(train))
    a[svm.support_] = svm.dual_coef_[0]
    intercept = float(svm.intercept_[0])
    decision_train = k_train @ a + intercept
    norm = float(np.sqrt(max(a @ k_train @ a, 0.0) / scale))
    w = x[train].T @ (a / scale).astype(np.float32)
    margins = decision_train / norm if norm > 0 else np.zeros_like(decision_train)
    return {
        "w": w,
        "intercept": intercept,
        "C": c,
        "val_accuracy": val_acc,
        "train_accuracy": float(np.mean(np.where(decision_train > 0, 1.0, -1.0) == y_train)),
        "margin_min": float(margins.min()),
        "margin_max": float(margins.max()),
    }


# =============================================================================
# Scores
# =============================================================================
class ConceptRanking(list):
    """``(concept, score)`` pairs, best first: a list that says why when it is empty.

    Attributes
    ----------
    reason : str or None
        Why no concept qualifies (e.g. every score is 0 at this ``delta``); None when the
        ranking is not empty. An empty ranking shows the reason in its repr.
    """

    def __init__(self, items=(), reason: str | None = None) -> None:
        super().__init__(items)
        self.reason = None if self else reason

    def __repr__(self) -> str:
        if not self and self.reason:
            return f"[]  # empty: {self.reason}"
        return super().__repr__()


@dataclass
class ConceptScores:
    """CES of every concept for one sample or a set of samples.

    Attributes
    ----------
    names : list of str
    scores : float array (C,)
        ``raw / max|raw|`` in [-1, 1] (all zero when every raw score is zero).
    raw : float array (C,)
        ``sum_j p_y(t(h_j + s*delta*v_c)) - p_y(t(h_j))`` with ``s = +1`` for
        ``direction="add"`` and ``-1`` for ``"remove"``.
    per_sample : float array (n, C)
        The unsummed differences.
    base_probability : float array (n,)
        ``p_y(t(h_j))`` of the unperturbed samples.
    target : int array (n,)
        The class ``y`` explained for each sample.
    direction : str
    delta : float
    val_accuracy : float array (C,)
        The concepts' CAV validation accuracies (for display).
    log_odds : float array (C,)
        ``sum_j`` of the change in the log-odds ``log p_y / (1 - p_y)``. It does
        not saturate, so it orders concepts whose steps all drive ``p_y`` to 0
        or 1 (equal scores, common with the reference's large ``delta``); the
        rankings below break score ties with it.
    per_sample_log_odds : float array (n, C) or None
        The unsummed log-odds changes (what :meth:`subset` sums again).
    """

    names: list[str]
    scores: np.ndarray
    raw: np.ndarray
    per_sample: np.ndarray
    base_probability: np.ndarray
    target: np.ndarray
    direction: str
    delta: float
    val_accuracy: np.ndarray
    log_odds: np.ndarray
    per_sample_log_odds: np.ndarray | None = field(default=None, repr=False)

    def subset(self, positions) -> ConceptScores:
        """The CES of some of the samples: ``positions`` (0-based rows of :attr:`per_sample`).

        The sums are taken again over those rows only and normalised by their own peak, so
        the result equals :func:`concept_scores` run on just those samples.
        """
        n = len(self.per_sample)
        pos = np.asarray(positions)
        if pos.ndim != 1 or (pos.size and pos.dtype.kind not in "iu"):
            raise TypeError(f"positions: expected 1-D integer row positions, got {pos.dtype}")
        if pos.size == 0:
            raise ValueError("positions: no samples")
        if pos.min() < 0 or pos.max() >= n:
            raise ValueError(f"positions: must lie in 0..{n - 1}")
        if self.per_sample_log_odds is None:
            raise ValueError("per_sample_log_odds: these scores keep no per-sample log-odds")
        per_sample = self.per_sample[pos]
        raw = per_sample.sum(axis=0)
        peak = float(np.max(np.abs(raw))) if raw.size else 0.0
        odds = self.per_sample_log_odds[pos]
        return replace(
            self,
            scores=raw / peak if peak > 0 else np.zeros_like(raw),
            raw=raw,
            per_sample=per_sample,
            base_probability=np.asarray(self.base_probability)[pos],
            target=np.asarray(self.target)[pos],
            log_odds=odds.sum(axis=0),
            per_sample_log_odds=odds,
        )

    def order(self) -> np.ndarray:
        """Concept indices by descending score, ties broken by descending log-odds change."""
        return np.lexsort((-self.log_odds, -self.scores))

    def sides(self) -> tuple[list[int], list[int]]:
        """``(positive, negative)``: indices of the concepts whose step raises ``p_y``, best
        first, and of those whose step lowers it, most negative first (ties as :meth:`order`)."""
        order = [int(i) for i in self.order()]
        return (
            [i for i in order if self.scores[i] > 0],
            [i for i in order[::-1] if self.scores[i] < 0],
        )

    def top_positive(self, k: int = 5) -> ConceptRanking:
        """The ``k`` highest positive scores: concepts whose step raises ``p_y``.

        An empty answer carries its reason (:attr:`ConceptRanking.reason`, shown in the repr).
        """
        return self._ranking("positive", k)

    def top_negative(self, k: int = 5) -> ConceptRanking:
        """The ``k`` most negative scores: concepts whose step lowers ``p_y``.

        An empty answer carries its reason (:attr:`ConceptRanking.reason`, shown in the repr).
        """
        return self._ranking("negative", k)

    def _ranking(self, side: str, k) -> ConceptRanking:
        k = _check_k(k)
        rows = self.sides()[0 if side == "positive" else 1]
        return ConceptRanking(
            [(self.names[i], float(self.scores[i])) for i in rows[:k]], self.empty_reason(side)
        )

    def top(self, k: int = 5) -> tuple[ConceptRanking, ConceptRanking]:
        """``(top_positive(k), top_negative(k))``."""
        return self.top_positive(k), self.top_negative(k)

    def target_text(self) -> str:
        """``"p(class 3)"`` when every sample explains class 3, else ``"p(y)"``."""
        targets = np.unique(np.asarray(self.target))
        return f"p(class {int(targets[0])})" if len(targets) == 1 else "p(y)"

    def empty_reason(self, side: str = "positive") -> str | None:
        """Why no concept has a ``side`` ("positive" or "negative") score; None when some do.

        The reasons: the bank has no concepts; every score is 0 (the step changes nothing:
        ``delta`` too small, or ``p_y`` saturated at exactly 0 or 1); or every concept moves
        ``p_y`` the other way.
        """
        if side not in ("positive", "negative"):
            raise ValueError(f"side: expected 'positive' or 'negative', got {side!r}")
        scores = np.asarray(self.scores, dtype=float)
        if np.any(scores > 0 if side == "positive" else scores < 0):
            return None
        p = self.target_text()
        if not len(self.names):
            return "the concept bank has no concepts (all were dropped below min_accuracy)"
        step = f"at delta={self.delta:g}"
        if np.all(np.asarray(self.raw) == 0):
            base = np.asarray(self.base_probability)
            if base.size and (np.all(base == 1.0) or np.all(base == 0.0)):
                return (
                    f"{p} is exactly {base[0]:g} for every explained sample, so no step can "
                    "change it; explain other samples or another target class"
                )
            hint = f" (the paper uses {PAPER_DELTA:g})" if self.delta < PAPER_DELTA else ""
            return f"no concept changes {p} {step}: every score is 0; try a larger delta{hint}"
        verb = "adding" if self.direction == "add" else "removing"
        wanted, other = ("raises", "lowers") if side == "positive" else ("lowers", "raises")
        reason = (
            f"no concept {wanted} {p} {step}: {verb} any of the {len(self.names)} concepts "
            f"{other} it or leaves it unchanged"
        )
        stepped = np.asarray(self.per_sample) + np.asarray(self.base_probability)[:, None]
        saturated = np.all(np.minimum(stepped, 1.0 - stepped) < 1e-9)
        if len(scores) > 1 and np.ptp(np.asarray(self.raw)) == 0 and saturated:
            reason += (
                f"; all scores tie at {scores[0]:g}, as the step saturates the softmax: "
                "a smaller delta separates them"
            )
        return reason

    def __repr__(self) -> str:
        n = len(np.asarray(self.base_probability))
        lines = [
            f"ConceptScores({len(self.names)} concepts, {plural(n, 'sample')}, "
            f"direction={self.direction!r}, delta={self.delta:g})"
        ]
        p = self.target_text()
        for side, verb in (("positive", "raise"), ("negative", "lower")):
            ranking = self.top_positive(3) if side == "positive" else self.top_negative(3)
            shown = ", ".join(f"{name} {score:+.2f}" for name, score in ranking)
            lines.append(f"  {verb} {p} most: {shown or 'none (' + str(ranking.reason) + ')'}")
        return "\n".join(lines)

    def rank(self, name: str) -> int:
        """0-based rank of a concept among all, in :meth:`order`."""
        return int(np.flatnonzero(self.order() == self.names.index(name))[0])

    def to_frame(self) -> pd.DataFrame:
        """One row per concept in :meth:`order`: score, raw sum, log-odds change, accuracy."""
        frame = pd.DataFrame(
            {
                "score": self.scores,
                "raw": self.raw,
                "log_odds": self.log_odds,
                "val_accuracy": self.val_accuracy,
            },
            index=pd.Index(self.names, name="concept"),
        )
        return frame.iloc[self.order()]


def _check_k(k) -> int:
    if not isinstance(k, (int, np.integer)) or isinstance(k, (bool, np.bool_)):
        raise TypeError(f"k: expected a positive integer, got {k!r}")
    if k < 1:
        raise ValueError(f"k: expected a positive integer, got {k}")
    return int(k)


def _check_delta(delta) -> float:
    """``delta`` as a finite positive float (the threshold spec's check)."""
    return threshold_spec("ces", "delta").check(delta)


def _flat_activations(activations, bank: ConceptBank) -> np.ndarray:
    """Samples' activations as finite float32 (n, D); (0, D) when there are none."""
    if hasattr(activations, "detach"):  # a torch tensor (bfloat16 has no numpy dtype)
        activations = activations.detach().cpu()
        if activations.is_floating_point():
            activations = activations.float()
        activations = activations.numpy()
    h = np.asarray(activations)
    if h.dtype.kind not in "iuf":
        raise TypeError(f"activations: expected a numeric array, got dtype {h.dtype}")
    if h.ndim == 0:
        raise ValueError("activations: expected samples (n, ...), got a scalar")
    if h.size == 0 and (h.ndim == 1 or len(h) == 0):
        return np.zeros((0, bank.dim), dtype=np.float32)  # no samples: callers say so
    if h.ndim == 1:
        h = h[None]
    if h.shape[1:] != (bank.dim,) and tuple(h.shape[1:]) != bank.activation_shape:
        raise ValueError(
            f"activations: shape {tuple(h.shape[1:])} per sample does not match the bank's "
            f"layer activations {bank.activation_shape}; images of another size than the "
            "concept images give other activation shapes"
        )
    with np.errstate(over="ignore"):  # values beyond float32 become inf, refused below
        flat = np.ascontiguousarray(h.reshape(len(h), -1), dtype=np.float32)
    finite = np.isfinite(flat).all(axis=1)
    if not finite.all():
        raise ValueError(
            f"activations: {int((~finite).sum())} of {len(flat)} samples have NaN or infinite "
            f"values (first: sample {int(np.flatnonzero(~finite)[0])})"
        )
    return flat


def _targets(target, n: int, n_classes: int) -> np.ndarray:
    t = np.asarray(target)
    if t.ndim == 0:
        t = np.full(n, t)
    if t.shape != (n,):
        raise ValueError(f"target: expected one class or {n} classes, got shape {t.shape}")
    if t.size and not np.issubdtype(t.dtype, np.integer):
        raise TypeError(f"target: expected integer class indices, got dtype {t.dtype}")
    t = t.astype(np.int64)
    if t.size and (t.min() < 0 or t.max() >= n_classes):
        bad = int(t[(t < 0) | (t >= n_classes)][0])
        raise ValueError(f"target: class {bad} outside the model's classes 0..{n_classes - 1}")
    return t


def _top_and_device(top) -> tuple[Callable, torch.device]:
    """The top callable of a SplitModel (or a plain callable) and the device it runs on."""
    import torch

    if hasattr(top, "top") and hasattr(top, "bottom"):  # a SplitModel
        return top.top, top.device
    if not callable(top):
        raise TypeError(f"top: expected a SplitModel or a callable, got {type(top).__name__}")
    if isinstance(top, torch.nn.Module):
        for p in top.parameters():
            return top, p.device
    return top, torch.device("cpu")


def concept_scores(
    top: SplitModel | Callable[[torch.Tensor], torch.Tensor],
    bank: ConceptBank,
    activations: np.ndarray | torch.Tensor,
    target: int | Sequence[int] | np.ndarray,
    *,
    delta: float = threshold_spec("ces", "delta").default,
    direction: str = "add",
    max_batch_elements: int = 1 << 20,
) -> ConceptScores:
    """CES for one sample or a set of samples, all concepts at once.

    Parameters
    ----------
    top : SplitModel or callable
        The top of the network ``t`` (activations -> logits).
    bank : ConceptBank
    activations : array (n, *activation_shape) or (n, D)
        ``b(x_j)`` of the samples to explain.
    target : int or int array (n,)
        Class ``y`` whose probability is explained (usually the true label).
    delta : float
        Step length along the raw SVM coefficient vector (reference: 1e4). Too small a step
        changes no prediction and every score is 0; the rankings then say so.
    direction : {"add", "remove"}
        ``"add"`` steps by ``+delta * v_c``, ``"remove"`` by ``-delta * v_c``.
    max_batch_elements : int
        Floats of perturbed activations per call of ``t``. The default (4 MiB)
        keeps each batch in the CPU cache, several times faster than large batches.

    Returns
    -------
    ConceptScores

    Raises
    ------
    ValueError, TypeError
        Naming the argument: NaN or infinite activations, no samples, a non-numeric or
        non-positive ``delta``, a step that makes ``top`` return NaN logits.
    """
    import torch

    if direction not in ("add", "remove"):
        raise ValueError(f"direction: expected 'add' or 'remove', got {direction!r}")
    delta = _check_delta(delta)
    top_fn, device = _top_and_device(top)
    flat = _flat_activations(activations, bank)
    if len(flat) == 0:
        raise ValueError("activations: no samples to explain")
    h = torch.from_numpy(flat).to(device)
    n, dim = h.shape
    shape = bank.activation_shape
    sign = 1.0 if direction == "add" else -1.0
    step = torch.from_numpy(bank.vectors).to(device) * (sign * delta)
    n_concepts = len(bank)

    with torch.no_grad():
        base_logits = _batched(top_fn, h, shape, max_batch_elements)
        n_classes = base_logits.shape[1]
        if base_logits.ndim != 2 or n_classes < 2:
            raise ValueError(
                f"top: expected logits (n, classes >= 2), got {tuple(base_logits.shape)}"
            )
        if not torch.isfinite(base_logits).all():
            raise ValueError("top: returned NaN or infinite logits for the given activations")
        y = _targets(target, n, n_classes)
        y_t = torch.from_numpy(y).to(device)
        base, base_odds = _probability_and_log_odds(base_logits, y_t)
        per_sample = torch.empty((n, n_concepts), dtype=torch.float64)
        odds = torch.empty((n, n_concepts), dtype=torch.float64)
        if n_concepts:
            # Each call of t also runs the unperturbed rows (a zero step): the differences then
            # compare outputs of one call, so a step that changes nothing scores exactly 0
            # rather than the rounding noise between batches of different shapes.
            zero = torch.zeros((1, dim), dtype=step.dtype, device=device)
            concepts_per_call = max(1, min(n_concepts, max_batch_elements // dim - 1))
            samples_per_call = max(1, max_batch_elements // ((concepts_per_call + 1) * dim))
            for s0 in range(0, n, samples_per_call):
                hs = h[s0 : s0 + samples_per_call]
                ys = y_t[s0 : s0 + samples_per_call]
                for c0 in range(0, n_concepts, concepts_per_call):
                    vs = torch.cat([zero, step[c0 : c0 + concepts_per_call]])
                    perturbed = (hs[:, None, :] + vs[None]).reshape(-1, *shape)
                    p_y, odds_y = _probability_and_log_odds(
                        top_fn(perturbed), ys.repeat_interleave(len(vs))
                    )
                    if torch.isnan(p_y).any() or torch.isnan(odds_y).any():
                        raise ValueError(
                            f"delta: the step delta={delta:g} along the concept vectors makes "
                            "top return NaN or infinite logits; try a smaller delta"
                        )
                    p_y, odds_y = p_y.reshape(len(hs), len(vs)), odds_y.reshape(len(hs), len(vs))
                    block = (slice(s0, s0 + len(hs)), slice(c0, c0 + len(vs) - 1))
                    per_sample[block] = p_y[:, 1:] - p_y[:, :1]
                    odds[block] = odds_y[:, 1:] - odds_y[:, :1]

    per_sample_np = per_sample.numpy()
    raw = per_sample_np.sum(axis=0)
    peak = float(np.max(np.abs(raw))) if raw.size else 0.0
    scores = raw / peak if peak > 0 else np.zeros_like(raw)
    return ConceptScores(
        names=list(bank.names),
        scores=scores,
        raw=raw,
        per_sample=per_sample_np,
        base_probability=base.numpy(),
        target=y,
        direction=direction,
        delta=delta,
        val_accuracy=np.asarray(bank.val_accuracy, dtype=float),
        log_odds=odds.sum(dim=0).numpy(),
        per_sample_log_odds=odds.numpy(),
    )


def _probability_and_log_odds(logits: torch.Tensor, y: torch.Tensor):
    """``p_y`` and ``log p_y / (1 - p_y) = z_y - logsumexp_{k != y} z_k`` (float64, CPU)."""
    import torch

    z = logits.double()
    z_y = z.gather(1, y[:, None])[:, 0]
    p_y = torch.softmax(z, dim=1).gather(1, y[:, None])[:, 0]
    others = z.scatter(1, y[:, None], float("-inf"))
    return p_y.cpu(), (z_y - torch.logsumexp(others, dim=1)).cpu()


def _batched(fn, h: torch.Tensor, shape: tuple[int, ...], max_elements: int) -> torch.Tensor:
    import torch

    rows = max(1, max_elements // max(1, h.shape[1]))
    return torch.cat([fn(h[i : i + rows].reshape(-1, *shape)) for i in range(0, len(h), rows)])


# =============================================================================
# Conceptual counterfactuals (CCE)
# =============================================================================
@dataclass
class CounterfactualResult:
    """Per-sample concept weights that move the prediction toward the target class.

    Attributes
    ----------
    names : list of str
    weights : float array (n, C)
        Weight of each concept's margin-scaled unit CAV in the counterfactual
        ``h + sum_c w_c * margin_max_c * v_c / |v_c|``; positive = add the
        concept, negative = remove it.
    success : bool array (n,)
        The counterfactual is predicted as the target class.
    prediction, counterfactual_prediction, target : int arrays (n,)
    """

    names: list[str]
    weights: np.ndarray
    success: np.ndarray
    prediction: np.ndarray
    counterfactual_prediction: np.ndarray
    target: np.ndarray

    def ranked(self, sample: int = 0) -> list[tuple[str, float]]:
        """Concepts of one sample by descending weight."""
        w = self.weights[sample]
        return [(self.names[i], float(w[i])) for i in np.argsort(-w, kind="stable")]

    def to_frame(self, sample: int = 0) -> pd.DataFrame:
        """Weights of one sample, sorted descending."""
        ranked = self.ranked(sample)
        return pd.DataFrame(
            {"weight": [w for _, w in ranked]},
            index=pd.Index([n for n, _ in ranked], name="concept"),
        )


def conceptual_counterfactual(
    top: SplitModel | Callable[[torch.Tensor], torch.Tensor],
    bank: ConceptBank,
    activations: np.ndarray | torch.Tensor,
    target: int | Sequence[int] | np.ndarray,
    *,
    alpha: float = 0.1,
    beta: float = 0.01,
    n_steps: int = 100,
    lr: float = 0.1,
    enforce_validity: bool = True,
) -> CounterfactualResult:
    """Conceptual counterfactual explanation (CCE), one weight per concept.

    For each sample, minimise over ``W`` (Adam, ``n_steps`` steps of ``lr``)::

        CE(t(h + W @ C_hat), y) + alpha * |W|_1 / n_C + beta * |W|_2 / n_C

    where ``C_hat_c = margin_max_c * v_c / |v_c|`` (margin-scaled unit CAVs)
    and ``CE`` is the cross-entropy of the logits (softmax applied once; the
    reference applies it twice). After every step each weight is projected
    (clamped) so that the sample's margin to concept c stays inside the range
    of the training margins ``[margin_min_c, margin_max_c]``; with
    ``enforce_validity`` a concept the sample already shows can only be
    removed and one it lacks can only be added (as in the reference).

    Samples are optimised jointly but independently (summed losses).

    Parameters
    ----------
    top : SplitModel or callable
        The top of the network (activations -> logits), differentiable.
    bank : ConceptBank
    activations : array (n, *activation_shape) or (n, D)
    target : int or int array (n,)
        The class to move toward (the true label of a mistake).
    """
    import torch

    if not isinstance(n_steps, (int, np.integer)) or isinstance(n_steps, (bool, np.bool_)):
        raise TypeError(f"n_steps: expected an integer, got {n_steps!r}")
    if n_steps < 1:
        raise ValueError(f"n_steps: expected >= 1, got {n_steps}")
    for name, value in (("alpha", alpha), ("beta", beta), ("lr", lr)):
        if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name}: expected a number, got {type(value).__name__} {value!r}")
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(f"{name}: expected a finite number >= 0, got {value}")
    top_fn, device = _top_and_device(top)
    flat = _flat_activations(activations, bank)
    if len(flat) == 0:
        raise ValueError("activations: no samples to explain")
    h = torch.from_numpy(flat).to(device)  # float32 (n, D)
    n = len(h)
    shape = bank.activation_shape

    def logits_of(z: torch.Tensor) -> torch.Tensor:
        return top_fn(z.reshape(-1, *shape))

    with torch.no_grad():
        original = logits_of(h)
    y = torch.from_numpy(_targets(target, n, original.shape[1])).to(device)

    # Margins and bounds in float64; the optimisation in float32 (the model's precision).
    def as_tensor(values) -> torch.Tensor:
        return torch.from_numpy(np.asarray(values, dtype=np.float64)).to(device)

    vectors = as_tensor(bank.vectors)
    norms = vectors.norm(dim=1).clamp_min(1e-30)
    intercepts = as_tensor(bank.intercepts)
    max_m = as_tensor(bank.margin_max).clamp_min(1e-12)
    min_m = as_tensor(bank.margin_min)
    scaled = (max_m[:, None] * vectors / norms[:, None]).float()  # (C, D)
    margins = (h.double() @ vectors.T + intercepts) / norms  # (n, C)
    # Moving by w_c * scaled_c changes the margin to concept c by w_c * max_m_c.
    w_max = (max_m - margins) / max_m
    w_min = (min_m - margins) / max_m
    if enforce_validity:
        w_max = torch.where(margins > 0, torch.zeros_like(w_max), w_max)
        w_min = torch.where(margins < 0, torch.zeros_like(w_min), w_min)
    w_max, w_min = w_max.float(), w_min.float()

    n_concepts = len(bank)
    weights = torch.zeros((n, n_concepts), device=device, requires_grad=True)
    optimizer = torch.optim.Adam([weights], lr=lr)
    for _ in range(n_steps):
        optimizer.zero_grad()
        logits = logits_of(h + weights @ scaled)
        ce = torch.nn.functional.cross_entropy(logits, y, reduction="sum")
        l1 = weights.abs().sum(dim=1) / n_concepts
        l2 = weights.norm(dim=1) / n_concepts
        loss = ce + alpha * l1.sum() + beta * l2.sum()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            weights.copy_(torch.clamp(weights, min=w_min, max=w_max))

    with torch.no_grad():
        final = logits_of(h + weights @ scaled)
    counterfactual = final.argmax(dim=1).cpu().numpy()
    return CounterfactualResult(
        names=list(bank.names),
        weights=weights.detach().cpu().double().numpy(),
        success=counterfactual == y.cpu().numpy(),
        prediction=original.argmax(dim=1).cpu().numpy(),
        counterfactual_prediction=counterfactual,
        target=y.cpu().numpy(),
    )


# =============================================================================
# Concept map embedding
# =============================================================================
def embed_concepts(
    bank: ConceptBank,
    method: str = "pca",
    *,
    random_state: int = 0,
    perplexity: float | None = None,
) -> np.ndarray:
    """2-D coordinates of the concepts' CAVs for a concept explanation map.

    The unit-length CAVs (directions) are embedded, so a concept's place does
    not depend on its SVM's norm.

    Parameters
    ----------
    method : {"pca", "tsne"}
        PCA (the paper's choice), or t-SNE after PCA to at most 50 dimensions
        (the reference's map).
    perplexity : float, optional
        t-SNE perplexity; default ``min(30, (C - 1) / 3)``.

    Returns
    -------
    float array (C, 2), in ``bank.names`` order.
    """
    from sklearn.decomposition import PCA

    if method not in ("pca", "tsne"):
        raise ValueError(f"method: expected 'pca' or 'tsne', got {method!r}")
    units = bank.unit_vectors.astype(np.float64)
    n = len(units)
    out = np.zeros((n, 2))
    if n < 2:
        return out
    if method == "pca":
        k = min(2, n, units.shape[1])
        out[:, :k] = PCA(n_components=k, random_state=random_state).fit_transform(units)
        return out
    from sklearn.manifold import TSNE

    if n < 4:
        raise ValueError(f"method: t-SNE needs at least 4 concepts, the bank has {n}")
    reduced = PCA(n_components=min(50, n, units.shape[1]), random_state=random_state).fit_transform(
        units
    )
    perplexity = perplexity if perplexity is not None else min(30.0, (n - 1) / 3.0)
    if not 0 < perplexity < n:
        raise ValueError(f"perplexity: must be in (0, {n}), got {perplexity}")
    return TSNE(
        n_components=2, perplexity=perplexity, init="pca", random_state=random_state
    ).fit_transform(reduced)


# =============================================================================
# Convenience: a split + a bank + a preprocessing
# =============================================================================
class ConceptExplainer:
    """Explain samples of a classifier with a concept bank.

    Parameters
    ----------
    split : SplitModel
        The classifier cut at the bank's layer.
    bank : ConceptBank
    transform : callable, optional
        uint8 images (n, H, W, 3) -> model input (n, 3, H, W); default
        :func:`images_to_tensor`. Must be the preprocessing the bank was learned with.
    delta : float
        Default CES step (a finite positive number).
    """

    def __init__(
        self,
        split: SplitModel,
        bank: ConceptBank,
        *,
        transform: Callable[[np.ndarray], torch.Tensor] | None = None,
        delta: float = threshold_spec("ces", "delta").default,
        batch_size: int = 64,
    ) -> None:
        if bank.layer and split.layer and bank.layer != split.layer:
            raise ValueError(
                f"bank: learned at layer {bank.layer!r}, the split is at {split.layer!r}"
            )
        self.split = split
        self.bank = bank
        self.transform = transform or images_to_tensor
        self.delta = _check_delta(delta)
        self.batch_size = batch_size
        self._cached_evalset: EvalSet | None = None
        self._cache: dict[int, np.ndarray] = {}

    def activations(self, images: np.ndarray) -> np.ndarray:
        """Flattened ``b(x)`` of uint8 images (n, H, W, 3) -> float32 (n, D)."""
        x = self.transform(np.asarray(images))
        if self.bank.input_shape is not None and tuple(x.shape[1:]) != self.bank.input_shape:
            raise ValueError(
                f"images: model inputs of shape {tuple(x.shape[1:])}, but the concept bank was "
                f"learned on {self.bank.input_shape}; resize the images"
            )
        h = self.split.activations(x, batch_size=self.batch_size)
        return _flat_activations(h, self.bank)

    def evalset_activations(self, evalset: EvalSet, indices) -> np.ndarray:
        """Activations of EvalSet samples (n, D), cached per sample for the last EvalSet used."""
        idx = evalset.check_indices(indices)
        if evalset is not self._cached_evalset:
            self._cached_evalset, self._cache = evalset, {}
        missing = [i for i in dict.fromkeys(idx.tolist()) if i not in self._cache]
        if missing:
            computed = self.activations(evalset.images_at(missing))
            self._cache.update(zip(missing, computed))
        if len(idx) == 0:
            return np.zeros((0, self.bank.dim), dtype=np.float32)
        return np.stack([self._cache[i] for i in idx.tolist()])

    def explain(
        self,
        activations: np.ndarray,
        target,
        *,
        direction: str = "add",
        delta: float | None = None,
    ) -> ConceptScores:
        """:func:`concept_scores` with this explainer's split and bank."""
        return concept_scores(
            self.split,
            self.bank,
            activations,
            target,
            delta=self.delta if delta is None else delta,
            direction=direction,
        )

    def explain_evalset(
        self,
        evalset: EvalSet,
        indices,
        target: int | str | None = None,
        *,
        direction: str = "add",
        delta: float | None = None,
    ) -> ConceptScores:
        """CES of EvalSet samples; ``target`` (class index or name) defaults to their labels."""
        idx = evalset.check_indices(indices)
        y = evalset.labels[idx] if target is None else evalset.class_index(target)
        return self.explain(
            self.evalset_activations(evalset, idx), y, direction=direction, delta=delta
        )

    def explain_images(
        self,
        evalset: EvalSet,
        indices,
        *,
        target: int | str | None = None,
        direction: str = "add",
        delta: float | None = None,
        title: str | None = None,
        reference_indices=None,
    ) -> ConceptExplanation:
        """The CES of a set of ``evalset``'s images, as a :class:`ConceptExplanation`.

        The explanation holds the scores and what they explain, and lists the set's failure
        modes (``explanation.failure_modes(classes="all", delta=...)``).

        Parameters
        ----------
        evalset : EvalSet
        indices : array-like of int or boolean mask
            The explained images (at least one), e.g. :func:`class_mistakes`.
        target : class name or index, optional
            Class whose probability is explained; None (default): each image's true label.
        direction : {"add", "remove"}
            Step toward the concept (add it) or away from it (remove it).
        delta : float, optional
            The CES step (the ``ces`` threshold); default this explainer's :attr:`delta`.
        title : str, optional
            The explained set in words (starts each failure mode's description); default
            ``"<n> explained images"``.
        reference_indices : array-like of int, optional
            Rows a failure mode's ``drop`` measures the class accuracy on (e.g. the split);
            default every row.

        Returns
        -------
        ConceptExplanation
        """
        from ..data import EvalSet

        if not isinstance(evalset, EvalSet):
            raise TypeError(f"evalset: expected an EvalSet, got {type(evalset).__name__}")
        idx = check_explained(evalset, indices)
        if target is not None:
            target = evalset.class_names[class_index(target, evalset.class_names, name="target")]
        scores = self.explain_evalset(
            evalset,
            idx,
            target=target,
            direction=direction,
            delta=self.delta if delta is None else delta,
        )
        return ConceptExplanation(
            self,
            evalset,
            idx,
            scores,
            target=target,
            title=title,
            reference_indices=reference_indices,
        )

    def counterfactual(
        self, activations: np.ndarray, target, **options: Any
    ) -> CounterfactualResult:
        """:func:`conceptual_counterfactual` with this explainer's split and bank."""
        return conceptual_counterfactual(self.split, self.bank, activations, target, **options)

    def embedding(self, method: str = "pca", **options: Any) -> np.ndarray:
        """:func:`embed_concepts` of the bank."""
        return embed_concepts(self.bank, method, **options)

    @classmethod
    def coerce(
        cls,
        explainer: ConceptExplainer | SplitModel,
        bank: ConceptBank | None = None,
        transform: Callable | None = None,
    ) -> ConceptExplainer:
        """``explainer`` itself, or a new one from a SplitModel and ``bank`` (argument checks
        for callers that accept either)."""
        if isinstance(explainer, ConceptExplainer):
            if bank is not None and bank is not explainer.bank:
                raise ValueError("bank: the explainer already has a bank; pass one or the other")
            if transform is not None:
                raise ValueError("transform: give it to the ConceptExplainer instead")
            return explainer
        from ..features.split import SplitModel

        if isinstance(explainer, SplitModel):
            if bank is None:
                raise ValueError("bank: a SplitModel needs a ConceptBank (learn_concept_bank)")
            if not isinstance(bank, ConceptBank):
                raise TypeError(f"bank: expected a ConceptBank, got {type(bank).__name__}")
            return cls(explainer, bank, transform=transform)
        raise TypeError(
            "explainer: expected a ConceptExplainer or a SplitModel (with bank=), "
            f"got {type(explainer).__name__}"
        )

    def check_evalset(self, evalset: EvalSet) -> None:
        """Run one image of ``evalset`` through the bottom: ValueError naming ``evalset`` when
        it has no samples or its images do not fit the bank's layer."""
        if evalset.n == 0:
            raise ValueError("evalset: has no samples")
        try:
            self.evalset_activations(evalset, [0])
        except ValueError as error:
            raise ValueError(f"evalset: its images do not fit the explainer: {error}") from None

    def evalset_examples(self, evalset: EvalSet) -> dict[str, np.ndarray]:
        """Concept -> ``evalset`` indices of its positive examples, for the concepts learned
        from this EvalSet's rows (``ConceptSet.from_evalset``); concepts learned from image
        files, or from rows outside ``evalset``, are left out."""
        out = {}
        for name in self.bank.names:
            ids = self.bank.positive_ids.get(name)
            if not ids or not all(isinstance(i, numbers.Integral) for i in ids):
                continue  # none, or image paths (concepts from folders)
            if any(isinstance(i, (bool, np.bool_)) for i in ids):
                continue
            rows = np.asarray(ids, dtype=np.int64)
            if rows.min() >= 0 and rows.max() < evalset.n:
                out[name] = rows
        return out


# =============================================================================
# Explaining an EvalSet's mistakes: the sets explained, and their failure modes
# =============================================================================
def check_explained(evalset: EvalSet, indices, name: str = "indices") -> np.ndarray:
    """``indices`` as the int64 EvalSet indices of a non-empty set of images to explain:
    TypeError for a string or a single number, ValueError for bad indices or no images."""
    if isinstance(indices, (str, bytes)) or np.isscalar(indices):
        raise TypeError(
            f"{name}: expected a sequence of sample indices, got {type(indices).__name__}"
        )
    idx = evalset.check_indices(indices, name)
    if len(idx) == 0:
        raise ValueError(f"{name}: no samples to explain")
    return idx


def mistakes_per_class(evalset: EvalSet, rows=None) -> tuple[np.ndarray, np.ndarray]:
    """``(mistakes, images)``: per class (by label), how many of ``rows`` (default all) the
    model gets wrong, and how many there are."""
    rows = np.arange(evalset.n) if rows is None else evalset.check_indices(rows, "rows")
    labels = evalset.labels[rows]
    wrong = np.bincount(labels[~evalset.correct[rows]], minlength=evalset.n_classes)
    return wrong, np.bincount(labels, minlength=evalset.n_classes)


def class_mistakes(evalset: EvalSet, class_name: str | int, rows=None) -> np.ndarray:
    """EvalSet indices of the mistakes among ``rows`` (default all) labelled ``class_name``:
    the set CES explains by default."""
    c = evalset.class_index(class_name)
    rows = np.arange(evalset.n) if rows is None else evalset.check_indices(rows, "rows")
    return rows[(evalset.labels[rows] == c) & ~evalset.correct[rows]]


def class_images_mistakes_first(
    evalset: EvalSet, class_name: str | int, rows=None
) -> tuple[np.ndarray, int]:
    """``(indices, n_mistakes)``: the images among ``rows`` (default all) labelled
    ``class_name``, its mistakes first (each part in row order), and how many mistakes."""
    c = evalset.class_index(class_name)
    rows = np.arange(evalset.n) if rows is None else evalset.check_indices(rows, "rows")
    rows = rows[evalset.labels[rows] == c]
    wrong = ~evalset.correct[rows]
    return np.concatenate([rows[wrong], rows[~wrong]]), int(wrong.sum())


def concept_examples_mode(evalset: EvalSet, concept: str, members, class_name: str):
    """A concept's positive examples (EvalSet indices) as a selection: a
    :class:`~failwidgets.modes.FailureMode` whose ``accuracy`` is the model's on them; its
    ``drop`` is not measured (NaN), as a concept's examples are not a failure mode."""
    from ..modes import FailureMode

    members = evalset.check_indices(members, "members")
    return FailureMode(
        method="ces",
        class_name=class_name,
        description=f"positive examples of the concept {concept}",
        members=members,
        accuracy=float(evalset.correct[members].mean()) if len(members) else float("nan"),
    )


def target_text(target: str | None) -> str:
    """The explained probability in words: ``"p(true label)"`` (None) or ``"p(<class>)"``."""
    return "p(true label)" if target is None else f"p({target})"


def describe_scores(scores: ConceptScores, target: str | None = None, n_concepts: int = 3) -> str:
    """One sentence for a set's CES: the top ``n_concepts`` positive concepts and the top
    negative one; when a side is empty, its reason (:meth:`ConceptScores.empty_reason`)."""
    verb = "adding" if scores.direction == "add" else "removing"
    positive, negative = scores.top_positive(n_concepts), scores.top_negative(1)
    if positive:
        names = ", ".join(name for name, _ in positive)
        text = f"{verb} {names} raises {target_text(target)} most"
    else:
        text = str(positive.reason)  # "no concept raises p(...) ...: why"
    if negative:
        return f"{text}; {negative[0][0]} lowers it most"
    if positive:  # (both empty: every score is 0, and one reason covers both)
        return f"{text}; {negative.reason}"
    return text


def concept_failure_modes(
    explainer: ConceptExplainer,
    evalset: EvalSet,
    indices,
    scores: ConceptScores,
    classes: Sequence[str] | None = None,
    *,
    target: str | None = None,
    title: str | None = None,
    reference_indices=None,
    n_concepts: int = 3,
):
    """The failure modes of a set of explained images: one per class among their labels.

    CES explains mistakes rather than finding subgroups. The mode of class ``c`` is the
    explained images labelled ``c`` (all of them when the set is one class's mistakes, CES's
    default), described by the CES of just those images (:meth:`ConceptScores.subset`): the
    concepts whose addition (or removal) raises the explained probability most, and the one
    that lowers it most. Its ``drop`` is the class's accuracy on ``reference_indices`` minus
    the members'. When some concept raises the probability of the class itself (``target``
    None or ``c``), its ``rule`` (:class:`~failwidgets.rules.ConceptRule`) re-applies the
    explanation as the class's images without (``"remove"``: with) the top concept.

    Parameters
    ----------
    explainer : ConceptExplainer
        The explainer that computed ``scores`` (its CAVs make the rules).
    evalset : EvalSet
    indices : array-like of int
        EvalSet indices of the explained images, in the order of ``scores``' samples.
    scores : ConceptScores
        Their CES.
    classes : list of str, optional
        Whose modes (class names); default every class among the explained labels.
    target : str or None
        The class whose probability was explained (None: each image's true label).
    title : str, optional
        The explained set in words, which starts each description.
    reference_indices : array-like of int, optional
        The rows the drop's class accuracy is measured on (e.g. the split); default all.
    n_concepts : int
        Top positive concepts named in a description.

    Returns
    -------
    AnswerList of FailureMode
        Empty, with its ``reason``, when no explained image is labelled one of ``classes``.
    """
    from ..modes import FailureMode
    from ..rules import ConceptRule
    from .answers import answer_list

    idx = evalset.check_indices(indices)
    if len(idx) != len(scores.per_sample):
        raise ValueError(
            f"indices: {len(idx)} images, but the scores are of {len(scores.per_sample)} samples"
        )
    labels = evalset.labels[idx]
    names = list(evalset.class_names)
    if classes is None:
        classes = [names[c] for c in np.unique(labels)]
    classes = [names[evalset.class_index(c)] for c in classes]
    title = title or plural(len(idx), "explained image")
    modes = []
    for name in classes:
        positions = np.flatnonzero(labels == names.index(name))
        if not len(positions):
            continue
        part = scores if len(positions) == len(idx) else scores.subset(positions)
        where = title if len(positions) == len(idx) else f"{title}, the {len(positions)} {name}"
        rule = None
        if part.top_positive(1) and target in (None, name):
            top = part.top_positive(1)[0][0]
            rule = ConceptRule.from_explainer(explainer, top, name, part.direction)
        modes.append(
            FailureMode.from_members(
                "ces",
                name,
                f"{where}: {describe_scores(part, target, n_concepts)}",
                idx[positions],
                evalset,
                reference_indices=reference_indices,
                grouping="label",
                rule=rule,
            )
        )

    def why() -> str:
        present = sorted({names[c] for c in np.unique(labels)})
        return (
            f"none of the {len(idx)} explained images is labelled {', '.join(classes) or '—'} "
            f"(their labels: {', '.join(present)})"
        )

    return answer_list(modes, why)


class ConceptExplanation(FailureModeSource):
    """The CES of a set of explained images: what :meth:`ConceptExplainer.explain_images` returns.

    CES explains mistakes rather than finding subgroups. The failure modes of an explanation
    are its explained images, one mode per class among their labels, each described by the
    CES of its own images and carrying the :class:`~failwidgets.rules.ConceptRule` that
    re-applies it (:func:`concept_failure_modes`). ``failure_modes(classes="all", delta=...)``
    lists them; a ``delta`` other than the explanation's computes the scores again at that
    step (the explanation is not changed).

    Parameters
    ----------
    explainer : ConceptExplainer
        The explainer that computed ``scores`` (its CAVs make the rules).
    evalset : EvalSet
    indices : array-like of int
        EvalSet indices of the explained images (at least one), in the order of the scores'
        samples.
    scores : ConceptScores
        Their CES (:meth:`ConceptExplainer.explain_evalset`).
    target : class name or index, optional
        The class whose probability ``scores`` explain; None: each image's true label.
    title : str, optional
        The explained set in words, which starts each failure mode's description (default
        ``"<n> explained images"``).
    reference_indices : array-like of int, optional
        Rows a failure mode's ``drop`` measures the class accuracy on (default every row).

    Attributes
    ----------
    explainer, evalset, scores, title : as given.
    indices : np.ndarray
        The explained images (read-only).
    target : str or None
        The explained class's name (None: each image's true label).
    reference_indices : np.ndarray or None
    direction : str
        ``"add"`` or ``"remove"`` (the scores').
    delta : float
        The step the scores were computed with: the ``delta`` threshold used when
        :meth:`failure_modes` is not given one.
    """

    method = "ces"

    def __init__(
        self,
        explainer: ConceptExplainer,
        evalset: EvalSet,
        indices,
        scores: ConceptScores,
        *,
        target: int | str | None = None,
        title: str | None = None,
        reference_indices=None,
    ) -> None:
        from ..data import EvalSet

        if not isinstance(explainer, ConceptExplainer):
            raise TypeError(
                f"explainer: expected a ConceptExplainer, got {type(explainer).__name__}"
            )
        if not isinstance(evalset, EvalSet):
            raise TypeError(f"evalset: expected an EvalSet, got {type(evalset).__name__}")
        if not isinstance(scores, ConceptScores):
            raise TypeError(f"scores: expected ConceptScores, got {type(scores).__name__}")
        if title is not None and not isinstance(title, str):
            raise TypeError(f"title: expected a string, got {type(title).__name__}")
        idx = check_explained(evalset, indices).copy()  # frozen below
        if len(idx) != len(scores.per_sample):
            raise ValueError(
                f"indices: {len(idx)} images, but the scores are of {len(scores.per_sample)} "
                "samples"
            )
        if list(scores.names) != list(explainer.bank.names):
            raise ValueError("scores: computed with another concept bank than the explainer's")
        names = list(evalset.class_names)
        if target is not None:
            target = names[class_index(target, names, name="target")]
        explained = (
            evalset.labels[idx] if target is None else np.full(len(idx), names.index(target))
        )
        if not np.array_equal(np.asarray(scores.target).reshape(-1), explained):
            raise ValueError(
                f"target: the scores do not explain {target_text(target)} of these images"
            )
        idx.flags.writeable = False
        self.explainer = explainer
        self.evalset = evalset
        self.indices = idx
        self.scores = scores
        self.target = target
        self.title = title or plural(len(idx), "explained image")
        self.reference_indices = (
            None
            if reference_indices is None
            else evalset.check_indices(reference_indices, "reference_indices")
        )

    @property
    def direction(self) -> str:
        return self.scores.direction

    @property
    def delta(self) -> float:
        return float(self.scores.delta)

    def __repr__(self) -> str:
        rankings = repr(self.scores).splitlines()[1:]
        head = (
            f"ConceptExplanation({self.title!r}, {len(self.indices)} images, "
            f"{target_text(self.target)}, direction={self.direction!r}, delta={self.delta:g})"
        )
        return "\n".join([head, *rankings])

    def with_delta(self, delta: float) -> ConceptExplanation:
        """The explanation of the same images at step ``delta``: this one when ``delta`` is
        its own, else a new one with the scores computed again (this one is not changed)."""
        delta = _check_delta(delta)
        if delta == self.delta:
            return self
        return self.explainer.explain_images(
            self.evalset,
            self.indices,
            target=self.target,
            direction=self.direction,
            delta=delta,
            title=self.title,
            reference_indices=self.reference_indices,
        )

    # ---------------------------------------------------------------- protocol
    @property
    def class_names(self) -> list[str]:
        return list(self.evalset.class_names)

    def threshold_values(self) -> dict:
        return {"delta": self.delta}

    def _failure_modes(self, class_names: list[str], thresholds: dict):
        """One mode per class of ``class_names`` among the explained labels
        (:func:`concept_failure_modes`); empty, with the ``reason``, when no explained image
        has one of those labels."""
        scores = self.with_delta(thresholds["delta"]).scores
        return concept_failure_modes(
            self.explainer,
            self.evalset,
            self.indices,
            scores,
            class_names,
            target=self.target,
            title=self.title,
            reference_indices=self.reference_indices,
        )
