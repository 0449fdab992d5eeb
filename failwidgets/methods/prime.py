"""PRIME: failure modes as minimal tag combinations (Rezaei et al., ICLR 2024).

For each class ``c`` (images grouped by their label) with accuracy ``A_c``, and each set
``S`` of the class's tags, ``I_S`` are the class's images carrying every tag of ``S`` and
``A_S`` the model's accuracy on them. ``S`` is a failure mode when

1. ``|S| <= l`` and ``|I_S| >= s`` (support);
2. ``A_S <= A_c - a`` (accuracy drop);
3. minimality: for every ``t`` in ``S``, ``A_{S minus t} >= A_S + b_|S|``.

Defaults follow the paper: ``l = 4``, ``b_2 = 0.10``, ``b_3 = 0.05``, ``b_4 = 0.025``.
The paper defines ``b_n`` for ``n >= 2`` only: for ``|S| = 1`` the removed-tag subset is the
empty set, whose images are the whole class (``A = A_c``), and condition 2 already asks
``A_c >= A_S + a``; so ``b_1 = 0`` (the condition is vacuous). Sizes 5 and 6 continue the
halving (``b_5 = 0.0125``, ``b_6 = 0.00625``); every ``b_n`` can be set.

Comparisons use a tolerance of ``1e-9`` (``TOLERANCE``) so that a set exactly on a
threshold (e.g. ``A_S = 0.5`` with ``A_c - a = 0.5``) meets it despite floating-point
rounding: condition 2 is ``A_c - A_S >= a - 1e-9`` and condition 3 is
``min_t A_{S minus t} - A_S >= b_|S| - 1e-9``.

The search (:func:`search`) runs once and stores *every* tag set with ``|I_S| >= s`` (the
candidate table: counts, accuracy, drop, the rows of its one-tag-removed subsets). Failure
modes for any ``a``, ``b_n``, ``s`` (not below the searched one) and ``l`` (not above it)
are then a vectorised filter over that table. :class:`PrimeResult` answers with the
package's protocol (:class:`~failwidgets.mode_source.FailureModeSource`):
``result.failure_modes(classes, a=, s=, b2=, b3=, b4=)`` lists
:class:`~failwidgets.modes.FailureMode` objects and ``result.table(...)`` (same signature)
the same modes as a DataFrame; ``b_n`` of the other sizes and ``l`` are attributes of the
result (:meth:`PrimeResult.with_settings`).
"""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..checks import check_fraction as _check_fraction
from ..checks import check_indices
from ..checks import check_int as _check_int
from ..class_names import class_index
from ..features.tags import TagMatrix, as_tag_matrix, tags_from_metadata, unknown_names_message
from ..mode_source import FailureModeSource, resolve_classes, resolve_thresholds
from ..thresholds import spec as threshold_spec
from .answers import AnswerFrame, AnswerList, answer_frame, answer_list

if TYPE_CHECKING:
    from ..modes import FailureMode
    from .prime_lattice import LatticeDrawing

__all__ = [
    "Prime",
    "PrimeResult",
    "TagLattice",
    "GeneralizationReport",
    "search",
    "prime_result",
    "view_result",
    "necessity_thresholds",
    "caption",
    "DEFAULT_NECESSITY",
    "MAX_SET_SIZE",
    "TOLERANCE",
]

MAX_SET_SIZE = 6
DEFAULT_NECESSITY: dict[int, float] = {
    1: 0.0,
    **{size: threshold_spec("prime", f"b{size}").default for size in (2, 3, 4)},
    5: 0.0125,
    6: 0.00625,
}
TOLERANCE = 1e-9
DEFAULT_MAX_CANDIDATES = 5_000_000
THRESHOLD_SIZES = (2, 3, 4)
"""Set sizes whose ``b_n`` is a threshold (``b2``, ``b3``, ``b4``); the others are settings."""


# ---------------------------------------------------------------------- validation


def necessity_thresholds(b: Mapping[int, float] | None = None) -> np.ndarray:
    """The ``b_n`` thresholds as an array indexed by set size (index 0 unused).

    ``b`` maps set sizes (1..6) to values in [0, 1]; missing sizes keep
    :data:`DEFAULT_NECESSITY`.
    """
    values = dict(DEFAULT_NECESSITY)
    if b is not None:
        if not isinstance(b, Mapping):
            raise TypeError(
                "b: expected a mapping from set size to threshold, e.g. {2: 0.1, 3: 0.05}, "
                f"got {type(b).__name__}"
            )
        for size, value in b.items():
            size = _check_int(size, "b (set size)", 1, MAX_SET_SIZE)
            values[size] = _check_fraction(value, f"b[{size}]")
    out = np.full(MAX_SET_SIZE + 1, np.inf)
    for size, value in values.items():
        out[size] = value
    return out


def _tag_words(tag: str) -> str:
    column, equals, value = tag.partition("=")
    if equals and value in ("True", "False"):  # a boolean column: its name, or its absence
        words = column if value == "True" else f"no {column}"
    else:
        words = value if equals else tag
    return words.replace("_", " ").strip()


def caption(class_name: str, tags: Sequence[str]) -> str:
    """The paper's bag-of-words description: ``"a photo of <class> <tag> <tag> ..."``.

    Metadata tags ``"column=value"`` contribute their value, a boolean column's tags its
    name (``"occluder=True"``: "occluder"; ``"occluder=False"``: "no occluder"); underscores
    become spaces.
    """
    if isinstance(tags, str):
        tags = (tags,)
    words = [str(class_name).replace("_", " ")] + [_tag_words(t) for t in tags]
    return "a photo of " + " ".join(w for w in words if w)


def _tag_sets(count) -> str:
    count = int(count)
    return f"{count} tag set" if count == 1 else f"{count} tag sets"


# ---------------------------------------------------------------------- result objects


@dataclass(frozen=True)
class TagLattice:
    """Part of one class's tag-set lattice, ready for a Hasse diagram.

    Attributes
    ----------
    class_name : the class.
    nodes : DataFrame, one row per tag set (columns of :meth:`PrimeResult.candidates` plus
        ``is_failure_mode``); the empty set (the whole class) is included as the bottom.
    edges : DataFrame, one row per subset relation between a node and a node with one tag
        less: ``subset_row``, ``superset_row``, ``removed_tag``, ``accuracy_gain``
        (``A_subset - A_superset``), ``necessary`` (gain ``>= b_|superset|``) and
        ``from_failure_mode`` (the superset is a failure mode; its edges are its necessity
        edges and are all ``necessary``).
    """

    class_name: str
    nodes: pd.DataFrame
    edges: pd.DataFrame


@dataclass(frozen=True)
class GeneralizationReport:
    """Train drop versus held-out drop of failure modes (the paper's Table 4, Fig. 9).

    ``table`` has one row per mode; the correlations use the modes with at least the
    requested held-out support (``NaN`` when fewer than 3 such modes or a constant drop).
    """

    table: pd.DataFrame
    pearson: float
    pearson_pvalue: float
    spearman: float
    spearman_pvalue: float
    n_modes: int


class PrimeResult(FailureModeSource):
    """Candidate table of a PRIME search and everything computed from it.

    Rows are tag sets of one class with support ``>= min_support`` (the searched ``s``),
    plus one row per class for the empty set (the whole class). :meth:`failure_modes` and
    :meth:`table` filter it for any thresholds without searching again.

    Thresholds (``**thresholds`` of :meth:`failure_modes`, :meth:`table` and the other
    filters; :data:`failwidgets.thresholds.THRESHOLDS`): ``a`` (minimum drop ``A_c - A_S``),
    ``s`` (minimum support, not below ``min_support``) and ``b2``, ``b3``, ``b4`` (the
    necessity thresholds of 2-, 3- and 4-tag sets). Not given, they are ``a``,
    ``min_support`` and ``b[2]``, ``b[3]``, ``b[4]``.

    Attributes
    ----------
    class_names, tag_names : tuples of names.
    max_size : ``l``, the largest set size of the failure modes: the searched one, or a
        smaller one (:meth:`with_settings`).
    searched_max_size : the ``l`` the table was searched with.
    min_support, min_count : search settings.
    a : the default minimum drop.
    b : ``{size: b_size}`` for sizes 1..6: the defaults of ``b2``, ``b3``, ``b4`` and the
        necessity thresholds of the other sizes (:meth:`with_settings` changes them).
    class_summary : DataFrame per class: images, errors, accuracy, tags kept, candidates.
    n_candidates : number of rows (empty sets included).
    """

    method = "prime"

    def __init__(
        self,
        *,
        tags: TagMatrix,
        labels: np.ndarray,
        correct: np.ndarray,
        class_names: tuple[str, ...],
        indices: np.ndarray,
        class_images: list[np.ndarray],
        class_kept_tags: list[np.ndarray],
        class_id: np.ndarray,
        size: np.ndarray,
        tag_ids: np.ndarray,
        n: np.ndarray,
        n_correct: np.ndarray,
        subset_rows: np.ndarray,
        accuracy: np.ndarray,
        drop: np.ndarray,
        min_gain: np.ndarray,
        class_offsets: np.ndarray,
        max_size: int,
        min_support: int,
        min_count: int,
        a: float,
        b: Mapping[int, float] | None,
    ):
        self.tag_matrix = tags
        self.tag_names = tags.names
        self.labels = labels
        self.correct = correct
        self._class_names = class_names
        self.indices = indices
        self.max_size = max_size
        self.searched_max_size = max_size
        self.min_support = min_support
        self.min_count = min_count
        self.a = _check_fraction(a, "a")
        necessity_thresholds(b)
        self.b = dict(DEFAULT_NECESSITY) if b is None else {**DEFAULT_NECESSITY, **b}
        self._class_images = class_images
        self._class_kept = class_kept_tags
        self._class_id = class_id
        self._size = size
        self._tags = tag_ids
        self._n = n
        self._n_correct = n_correct
        self._sub = subset_rows
        self._offsets = class_offsets
        self._tag_index = {name: i for i, name in enumerate(self.tag_names)}
        self._names_array = np.array(self.tag_names, dtype=object)

        self._accuracy = accuracy
        n_classes = len(class_names)
        class_acc = np.full(n_classes, np.nan)
        for c in range(n_classes):
            if class_offsets[c + 1] > class_offsets[c]:
                class_acc[c] = accuracy[class_offsets[c]]
        self._class_accuracy = class_acc
        self._drop = drop
        self._gain = min_gain

        counts = np.diff(class_offsets)
        self.class_summary = pd.DataFrame(
            {
                "class": list(class_names),
                "n_images": [len(ix) for ix in class_images],
                "n_errors": [int((~correct[ix]).sum()) for ix in class_images],
                "accuracy": class_acc,
                "n_tags": [len(k) for k in class_kept_tags],
                "n_candidates": np.maximum(counts - 1, 0),
            }
        )

    # ------------------------------------------------------------------ basics
    @property
    def class_names(self) -> tuple[str, ...]:
        return self._class_names

    @property
    def n_candidates(self) -> int:
        return int(len(self._size))

    def __repr__(self) -> str:
        n_modes = int(self.failure_mode_mask().sum())
        why = self.empty_reason() if n_modes == 0 else None
        return (
            f"PrimeResult(classes={len(self.class_names)}, tags={len(self.tag_names)}, "
            f"candidates={self.n_candidates}, l={self.max_size}, s={self.min_support}, "
            f"failure_modes={n_modes}" + (f"; none because {why})" if why else ")")
        )

    def class_index(self, class_) -> int:
        """Index of a class given by name or index."""
        return class_index(class_, self.class_names, "class_")

    def class_tags(self, class_) -> tuple[str, ...]:
        """Tags kept for a class (present in at least ``min_count`` of its images)."""
        return tuple(self.tag_names[i] for i in self._class_kept[self.class_index(class_)])

    def class_images(self, class_) -> np.ndarray:
        """Indices of the searched images of a class."""
        return self._class_images[self.class_index(class_)].copy()

    def _tag_ids(self, tags) -> np.ndarray:
        if isinstance(tags, str):
            tags = (tags,)
        tags = tuple(tags)
        if not tags:
            raise ValueError("tags: a tag set needs at least one tag")
        unknown = [t for t in tags if t not in self._tag_index]
        if unknown:
            raise ValueError(unknown_names_message("tags", unknown, self.tag_names))
        ids = np.unique([self._tag_index[t] for t in tags])
        if len(ids) != len(tags):
            raise ValueError(f"tags: repeated tag in {tags}")
        return ids

    # ------------------------------------------------------------------ settings
    def with_settings(self, *, b: Mapping[int, float] | None = None, max_size=None) -> PrimeResult:
        """The same search (sharing its table) with other settings; no new search.

        Parameters
        ----------
        b : ``{size: b_size}`` overrides of the necessity thresholds (sizes 1..6; those of
            sizes 2..4 become the defaults of ``b2``, ``b3``, ``b4``).
        max_size : ``l``, the largest set size of the failure modes, at most the searched
            one (a larger one needs :meth:`search_again`).
        """
        other = copy.copy(self)
        if b is not None:
            necessity_thresholds(b)
            other.b = {**self.b, **b}
        if max_size is not None:
            max_size = _check_int(max_size, "max_size", 1, MAX_SET_SIZE)
            if max_size > self.searched_max_size:
                raise ValueError(
                    f"max_size: {max_size} exceeds the searched l = {self.searched_max_size}; "
                    f"search_again({max_size}) searches again"
                )
            other.max_size = max_size
        return other

    def search_again(self, max_size: int) -> PrimeResult:
        """The same search (tags, images, ``min_support``, ``min_count``, ``a``, ``b``) up to
        set size ``max_size``; ValueError when it cannot run (e.g. too many candidates)."""
        return search(
            self.tag_matrix,
            self.labels,
            self.correct,
            class_names=self.class_names,
            max_size=max_size,
            min_support=self.min_support,
            min_count=self.min_count,
            indices=self.indices,
            a=self.a,
            b=self.b,
        )

    # ------------------------------------------------------------------ thresholds
    def threshold_values(self) -> dict:
        """The thresholds used when not given: ``a``, ``s`` = ``min_support``, ``b2``..``b4``."""
        return {
            "a": self.a,
            "s": self.min_support,
            **{f"b{size}": self.b[size] for size in THRESHOLD_SIZES},
        }

    def _limits(self, thresholds: dict) -> tuple[float, int, np.ndarray, int]:
        """``(a, s, b by size, max_size)`` of the given thresholds (checked by name and
        range); ``s`` may not go below the searched minimum support."""
        values = resolve_thresholds(self.method, thresholds, self.threshold_values())
        s = self.check_support(values["s"])
        b = {**self.b, **{size: values[f"b{size}"] for size in THRESHOLD_SIZES}}
        return values["a"], s, necessity_thresholds(b), self.max_size

    def check_support(self, s) -> int:
        """``s`` checked as a support threshold: an integer not below ``min_support`` (a
        smaller one needs a new search); TypeError/ValueError naming ``s``."""
        s = threshold_spec(self.method, "s").check(s)
        if s < self.min_support:
            raise ValueError(
                f"s: {s} is below the searched minimum support {self.min_support}; "
                "search again with a smaller min_support"
            )
        return s

    def _class_mask(self, class_names: list[str]) -> np.ndarray:
        """Boolean mask over the candidate rows: rows of these classes."""
        wanted = np.zeros(len(self.class_names), dtype=bool)
        wanted[[self.class_index(name) for name in class_names]] = True
        return wanted[self._class_id]

    def failure_mode_mask(self, **thresholds) -> np.ndarray:
        """Boolean mask over the candidate rows: which sets are failure modes at the given
        thresholds (``a``, ``s``, ``b2``, ``b3``, ``b4``; not given: the result's)."""
        return self._mode_mask(*self._limits(thresholds), slice(None))

    def _mode_mask(self, a, s, b_values, max_size, rows: slice) -> np.ndarray:
        from .prime_table import mode_mask

        return mode_mask(
            self._n[rows],
            self._drop[rows],
            self._gain[rows],
            self._size[rows],
            s,
            a - TOLERANCE,
            b_values - TOLERANCE,
            max_size,
        )

    # ------------------------------------------------------------------ answers
    def _failure_modes(self, class_names: list[str], thresholds: dict) -> AnswerList:
        """Each failure mode as a :class:`~failwidgets.modes.FailureMode` (see
        :meth:`row_failure_mode`), in the order of :meth:`table`."""
        frame = self._table(class_names, thresholds)
        modes = [self.row_failure_mode(row) for row in frame["row"].tolist()]
        return answer_list(modes, lambda: frame.reason)

    def table(self, classes="all", **thresholds) -> AnswerFrame:
        """The failure modes of ``classes`` at the given thresholds, as a DataFrame.

        Same arguments as :meth:`failure_modes`. Columns: ``row`` (candidate id),
        ``class``, ``tags`` (tuple, in the order of the tag matrix's columns), ``size``,
        ``n_images``, ``n_errors``, ``accuracy``, ``class_accuracy``, ``drop``,
        ``accuracy_without`` (tuple: accuracy of the set without ``tags[j]``) and
        ``min_gain`` (smallest ``A_{S minus t} - A_S``). Sorted by class, then by drop.
        When empty, its ``reason`` (shown in its repr) says why: see :meth:`empty_reason`.
        """
        return self._table(resolve_classes(classes, self.class_names), thresholds)

    def _table(self, class_names: list[str], thresholds: dict) -> AnswerFrame:
        mask = self.failure_mode_mask(**thresholds) & self._class_mask(class_names)
        rows = np.flatnonzero(mask)
        order = np.lexsort((self._size[rows], -self._drop[rows], self._class_id[rows]))
        frame = self._frame(rows[order])
        return answer_frame(frame, lambda: self._empty_reason(class_names, thresholds))

    def empty_reason(self, classes="all", **thresholds) -> str | None:
        """Why ``classes`` have no failure mode at these thresholds (None when they have one).

        The sentence says which condition nothing met, with numbers: how many tag sets
        had support ``>= s``, the largest drop found against ``a``, or, when some sets
        drop enough, that none of them is minimal (necessity thresholds ``b_n``).
        """
        return self._empty_reason(resolve_classes(classes, self.class_names), thresholds)

    def _empty_reason(self, class_names: list[str], thresholds: dict) -> str | None:
        a, s, b_values, max_size = self._limits(thresholds)
        if not class_names:
            return "no class was given"
        in_classes = self._class_mask(class_names)
        if (self._mode_mask(a, s, b_values, max_size, slice(None)) & in_classes).any():
            return None
        class_ids = sorted({self.class_index(name) for name in class_names})
        names = [self.class_names[c] for c in class_ids]
        everything = len(class_ids) == len(self.class_names)
        where = "" if everything else f" of {', '.join(map(repr, names[:5]))}"
        n_images = sum(len(self._class_images[c]) for c in class_ids)
        if n_images == 0:
            return f"no images{where} were searched"
        sized = in_classes & (self._size >= 1) & (self._size <= max_size)
        support = sized & (self._n >= s)
        if not support.any():
            n_tags = len(np.unique(np.concatenate([self._class_kept[c] for c in class_ids])))
            return (
                f"no tag set{where} has at least s = {s} images ({n_images} images searched; "
                f"{n_tags} tags occur in at least min_count = {self.min_count} images of a "
                "class); lower s (and min_support) or use more images"
            )
        drops = np.where(support, self._drop, -np.inf)
        best = int(np.argmax(drops))
        if drops[best] < a - TOLERANCE:
            return (
                f"{_tag_sets(support.sum())}{where} with at least s = {s} images, but the "
                f"largest accuracy drop is {drops[best]:.3f} ({self._describe_row(best)}), "
                f"below a = {a:g}"
            )
        dropping = support & (self._drop >= a - TOLERANCE)
        used = {k: float(b_values[k]) for k in np.unique(self._size[dropping]).tolist()}
        return (
            f"{_tag_sets(dropping.sum())}{where} with at least s = {s} images and a drop of "
            f"at least a = {a:g} (largest: {drops[best]:.3f}, {self._describe_row(best)}), "
            "but none is minimal: removing one of its tags raises the accuracy by less than "
            f"b_|S| ({', '.join(f'b_{k} = {v:g}' for k, v in used.items())})"
        )

    def _describe_row(self, row: int) -> str:
        k = int(self._size[row])
        tags = " + ".join(self._names_array[self._tags[row, :k]].tolist())
        return (
            f"{tags} in {self.class_names[int(self._class_id[row])]!r}: {int(self._n[row])} "
            f"images, accuracy {self._accuracy[row]:.3f}"
        )

    def _frame(self, rows: np.ndarray) -> pd.DataFrame:
        rows = np.asarray(rows, dtype=np.int64)
        size = self._size[rows].astype(np.int64)
        acc = self._accuracy
        tags_col: list = [()] * len(rows)
        without: list = [()] * len(rows)
        for k in np.unique(size[size > 0]).tolist():
            where = np.flatnonzero(size == k)
            ids = self._tags[rows[where], :k]
            sub_acc = acc[self._sub[rows[where], :k]]
            names_k = zip(*(self._names_array[ids[:, j]] for j in range(k)))
            acc_k = zip(*(sub_acc[:, j].tolist() for j in range(k)))
            for position, tag_tuple, acc_tuple in zip(where.tolist(), names_k, acc_k):
                tags_col[position] = tag_tuple
                without[position] = acc_tuple
        class_id = self._class_id[rows]
        class_names = np.array(self.class_names, dtype=object)
        return pd.DataFrame(
            {
                "row": rows,
                "class": class_names[class_id],
                "tags": tags_col,
                "size": size,
                "n_images": self._n[rows].astype(np.int64),
                "n_errors": (self._n[rows] - self._n_correct[rows]).astype(np.int64),
                "accuracy": acc[rows],
                "class_accuracy": self._class_accuracy[class_id],
                "drop": self._drop[rows],
                "accuracy_without": without,
                "min_gain": self._gain[rows],
            }
        )

    def candidates(self, class_=None, s: int | None = None) -> pd.DataFrame:
        """The candidate table (all sets with support ``>= s`` and at most ``max_size``
        tags) as a DataFrame.

        ``class_`` restricts it to one class (recommended: a class may have many
        thousands of candidates). The empty set of each class (size 0, the whole class)
        is always included, whatever its support. ``s`` defaults to ``min_support``.
        """
        _, s, _, max_size = self._limits({} if s is None else {"s": s})
        if class_ is None:
            rows = np.arange(self.n_candidates)
        else:
            c = self.class_index(class_)
            rows = np.arange(self._offsets[c], self._offsets[c + 1])
        keep = ((self._n[rows] >= s) | (self._size[rows] == 0)) & (self._size[rows] <= max_size)
        return self._frame(rows[keep])

    def to_frame(self) -> pd.DataFrame:
        """The whole candidate table (may be large; see :meth:`candidates`)."""
        return self.candidates()

    def arrays(self, class_=None) -> dict[str, np.ndarray]:
        """The candidate table as read-only numpy columns (all rows, or one class's rows).

        Keys: ``row``, ``class_id``, ``size``, ``tag_ids`` (k, l; indices into
        ``tag_names``, ``-1`` padded), ``subset_rows`` (k, l; rows of the one-tag-removed
        subsets, column j without ``tag_ids[:, j]``), ``n_images``, ``n_correct``,
        ``accuracy``, ``drop``, ``min_gain``. Meant for views that ship binary buffers.
        """
        if class_ is None:
            rows = slice(0, self.n_candidates)
        else:
            c = self.class_index(class_)
            rows = slice(int(self._offsets[c]), int(self._offsets[c + 1]))
        columns = {
            "row": np.arange(self.n_candidates)[rows],
            "class_id": self._class_id[rows],
            "size": self._size[rows],
            "tag_ids": self._tags[rows],
            "subset_rows": self._sub[rows],
            "n_images": self._n[rows],
            "n_correct": self._n_correct[rows],
            "accuracy": self._accuracy[rows],
            "drop": self._drop[rows],
            "min_gain": self._gain[rows],
        }
        for value in columns.values():
            value.flags.writeable = False
        return columns

    def find(self, class_, tags) -> int | None:
        """Candidate row of a tag set of a class, or None when it is not a candidate."""
        c = self.class_index(class_)
        ids = self._tag_ids(tags)
        k = len(ids)
        if k > self.searched_max_size:
            return None
        lo, hi = self._offsets[c], self._offsets[c + 1]
        block = self._tags[lo:hi]
        hit = (self._size[lo:hi] == k) & np.all(block[:, :k] == ids, axis=1)
        found = np.flatnonzero(hit)
        return int(lo + found[0]) if found.size else None

    def subset_rows(self, rows) -> np.ndarray:
        """(k, l) rows of each row's one-tag-removed subsets (column j: without its j-th
        tag in the ``tags`` tuple); ``-1`` beyond the set's size."""
        rows = np.asarray(rows, dtype=np.int64)
        return self._sub[rows].astype(np.int64)

    # ------------------------------------------------------------------ members
    def members(self, class_, tags, errors_first: bool = False) -> np.ndarray:
        """Global indices of the searched images of ``class_`` carrying all ``tags``.

        Sorted ascending, or misclassified images first when ``errors_first``.
        """
        c = self.class_index(class_)
        ids = self._tag_ids(tags)
        images = self._class_images[c]
        has_all = np.all(self.tag_matrix.matrix[np.ix_(images, ids)], axis=1)
        out = images[has_all]
        if errors_first:
            out = out[np.argsort(self.correct[out], kind="stable")]
        return out

    def row_members(self, row: int, errors_first: bool = False) -> np.ndarray:
        """Members of a candidate row (for the empty set: all of the class's images)."""
        row = _check_int(row, "row", 0, self.n_candidates - 1)
        c = int(self._class_id[row])
        k = int(self._size[row])
        if k == 0:
            out = self._class_images[c]
            if errors_first:
                out = out[np.argsort(self.correct[out], kind="stable")]
            return out.copy()
        return self.members(c, self._names_array[self._tags[row, :k]].tolist(), errors_first)

    def root_row(self, class_) -> int | None:
        """Candidate row of the class's empty set (the whole class); None when none of its
        images was searched."""
        c = self.class_index(class_)
        lo, hi = int(self._offsets[c]), int(self._offsets[c + 1])
        return lo if hi > lo else None

    def row_tags(self, row: int) -> tuple[str, ...]:
        """Tags of candidate ``row``, in the order of the tag matrix's columns."""
        row = _check_int(row, "row", 0, self.n_candidates - 1)
        return tuple(self._names_array[self._tags[row, : int(self._size[row])]].tolist())

    def row_failure_mode(self, row: int) -> FailureMode:
        """The tag set of candidate ``row`` as a :class:`~failwidgets.modes.FailureMode`,
        whether it is a failure mode or not (as :meth:`failure_modes` builds them).

        ``accuracy`` is ``A_S`` and ``drop`` is ``A_c - A_S`` (class accuracy on the searched
        images); members are ascending; the :class:`~failwidgets.rules.TagSetRule` (the tag
        set, over the tags the search was given) re-applies it to any rows of its class. The
        empty set (size 0) is the whole class, described ``"(all images)"`` (drop 0).
        """
        from ..modes import FailureMode
        from ..rules import TagSetRule

        tags = self.row_tags(row)
        c = int(self._class_id[row])
        return FailureMode.from_members(
            "prime",
            self.class_names[c],
            " + ".join(tags) if tags else "(all images)",
            self.row_members(row),
            self,
            reference_indices=self._class_images[c],
            grouping=None,  # the reference rows are the class's searched images already
            rule=TagSetRule(self.class_names[c], tags, self.tag_matrix),
        )

    def tag_set_mode(self, class_, tags, *, name: str = "class_") -> FailureMode:
        """The tag set ``tags`` of ``class_`` as a FailureMode (:meth:`row_failure_mode`),
        whether it is a failure mode or not; ``()`` is the whole class.

        ValueError when no image of the class was searched (naming the class argument as
        ``name``) or when ``tags`` is not a candidate (unknown tag, too few images, more
        than ``l`` tags).
        """
        if isinstance(tags, str):
            tags = (tags,)
        if not isinstance(tags, (tuple, list)):
            raise TypeError(f"tags: expected a tuple of tag names, got {type(tags).__name__}")
        class_name = self.class_names[class_index(class_, self.class_names, name)]
        root = self.root_row(class_name)
        if root is None:
            raise ValueError(f"{name}: no images of {class_name!r} were searched")
        row = self.find(class_name, tags) if tags else root
        if row is None:
            raise ValueError(
                f"tags: {tuple(tags)} is not a candidate of class {class_name!r} (unknown "
                f"tag, support below the searched {self.min_support}, or more than "
                f"l = {self.searched_max_size} tags)"
            )
        return self.row_failure_mode(row)

    def mode_row(self, mode) -> int | None:
        """The candidate row of ``mode`` when it is a tag set of this search (a PRIME
        :class:`~failwidgets.modes.FailureMode` of one of its classes, with the same members),
        else None."""
        from ..modes import FailureMode

        tags = getattr(getattr(mode, "rule", None), "tags", None)
        if not (
            isinstance(mode, FailureMode)
            and mode.method == "prime"
            and mode.class_name in self.class_names
            and isinstance(tags, tuple)
        ):
            return None
        try:
            row = self.find(mode.class_name, tags) if tags else self.root_row(mode.class_name)
        except ValueError:  # a tag this search does not know
            return None
        same = row is not None and np.array_equal(mode.members, self.row_members(row))
        return row if same else None

    def strongest_class(self, **thresholds) -> str:
        """The class whose strongest failure mode drops most at the given thresholds (the
        first class when none has one)."""
        modes = self.table(**thresholds)
        if len(modes):
            return str(modes.sort_values("drop", ascending=False, kind="stable").iloc[0]["class"])
        return self.class_names[0]

    # ------------------------------------------------------------------ lattice
    def _down_closure(self, rows: np.ndarray) -> np.ndarray:
        nodes = np.unique(np.asarray(rows, dtype=np.int64))
        frontier = nodes
        while frontier.size:
            sub = self._sub[frontier].ravel()
            sub = np.unique(sub[sub >= 0]).astype(np.int64)
            frontier = np.setdiff1d(sub, nodes, assume_unique=True)
            nodes = np.union1d(nodes, frontier)
        return nodes

    def lattice(self, class_, *, include: str = "modes", rows=None, **thresholds) -> TagLattice:
        """Nodes and subset edges of one class's lattice for a Hasse diagram.

        Parameters
        ----------
        class_ : class name or index.
        include : which sets besides the empty set: ``"modes"`` the failure modes,
            ``"drops"`` every set with support ``>= s`` and drop ``>= a`` (minimal or not),
            ``"all"`` every candidate with support ``>= s`` (can be many thousands).
            All subsets of the chosen sets are added, so every node's one-tag-removed
            subsets are nodes too.
        rows : extra candidate rows of this class to include (e.g. search hits).
        **thresholds : ``a``, ``s``, ``b2``, ``b3``, ``b4``, as in :meth:`failure_modes`.
        """
        c = self.class_index(class_)
        if include not in ("modes", "drops", "all"):
            raise ValueError(f"include: expected 'modes', 'drops' or 'all', got {include!r}")
        a_, s_, b_values, max_size_ = self._limits(thresholds)
        lo, hi = int(self._offsets[c]), int(self._offsets[c + 1])
        span = np.arange(lo, hi)
        mode_mask = self._mode_mask(a_, s_, b_values, max_size_, slice(lo, hi))
        if include == "modes":
            chosen = span[mode_mask]
        else:
            base = (self._n[lo:hi] >= s_) & (self._size[lo:hi] <= max_size_)
            if include == "drops":
                base &= (self._drop[lo:hi] >= a_ - TOLERANCE) & (self._size[lo:hi] >= 1)
            chosen = span[base]
        if rows is not None:
            extra = np.asarray(rows, dtype=np.int64).ravel()
            if extra.size and (extra.min() < lo or extra.max() >= hi):
                raise ValueError(
                    f"rows: every row must be a candidate of class {c} ({lo}..{hi - 1})"
                )
            chosen = np.concatenate([chosen, extra])
        if hi > lo:
            chosen = np.concatenate([chosen, [lo]])
        nodes_rows = self._down_closure(chosen)
        nodes = self._frame(nodes_rows)
        is_mode = np.zeros(self.n_candidates, dtype=bool)
        is_mode[lo:hi] = mode_mask
        nodes["is_failure_mode"] = is_mode[nodes_rows]

        sizes = self._size[nodes_rows].astype(np.int64)
        sup, col = np.nonzero(np.arange(self._tags.shape[1])[None, :] < sizes[:, None])
        superset = nodes_rows[sup]
        subset = self._sub[superset, col].astype(np.int64)
        removed = self._tags[superset, col]
        gain = self._accuracy[subset] - self._accuracy[superset]
        edges = pd.DataFrame(
            {
                "subset_row": subset,
                "superset_row": superset,
                "removed_tag": self._names_array[removed] if removed.size else [],
                "accuracy_gain": gain,
                "necessary": gain >= b_values[sizes[sup]] - TOLERANCE,
                "from_failure_mode": is_mode[superset],
            }
        )
        return TagLattice(self.class_names[c], nodes.reset_index(drop=True), edges)

    def drawing(
        self, class_, *, max_nodes: int = 40, max_context: int = 8, **thresholds
    ) -> LatticeDrawing:
        """The lattice of one class cut to ``max_nodes`` nodes for a Hasse diagram.

        The failure modes (strongest drop first) with all their subsets, then up to
        ``max_context`` of the strongest other drops with their subsets, while they fit.
        ``thresholds`` as in :meth:`failure_modes`. Returns a
        :class:`~failwidgets.methods.prime_lattice.LatticeDrawing` (the
        :class:`TagLattice`, class accuracy and size, modes drawn of all, why none).
        """
        from .prime_lattice import lattice_drawing

        self._limits(thresholds)  # refuse bad thresholds before anything else
        return lattice_drawing(
            self, class_, thresholds, max_nodes=max_nodes, max_context=max_context
        )

    # ------------------------------------------------------------------ generalisation
    def generalization(
        self,
        heldout_indices=None,
        *,
        tags=None,
        labels=None,
        correct=None,
        modes: pd.DataFrame | None = None,
        min_support: int = 1,
    ) -> GeneralizationReport:
        """Re-apply each failure mode's tag set to held-out data; train vs held-out drop.

        Either ``heldout_indices`` (images of the arrays the search was given, disjoint
        from the searched ones) or a held-out ``tags`` (TagMatrix or ``(matrix, names)``;
        tags matched by name), ``labels`` and ``correct``.

        For mode ``S`` of class ``c``: ``I'_S`` are the held-out images of class ``c`` with
        every tag of ``S``, ``heldout_drop = A'_c - A'_S`` (``NaN`` when
        ``|I'_S| < min_support``). The report holds the per-mode table and the Pearson and
        Spearman correlations of ``drop`` and ``heldout_drop``.
        """
        from scipy import stats

        min_support = _check_int(min_support, "min_support", 1)
        if modes is None:
            modes = self.table()
        for column in ("class", "tags", "drop"):
            if column not in modes.columns:
                raise ValueError(f"modes: missing column {column!r} (use table())")
        if heldout_indices is not None:
            if tags is not None or labels is not None or correct is not None:
                raise ValueError("heldout_indices: pass either it or tags/labels/correct")
            held = _check_indices(heldout_indices, len(self.labels), "heldout_indices")
            overlap = np.intersect1d(held, self.indices)
            if overlap.size:
                raise ValueError(
                    f"heldout_indices: {overlap.size} images were searched (e.g. "
                    f"{int(overlap[0])}); held-out images must be unseen"
                )
            h_matrix = self.tag_matrix.matrix[held]
            h_names = self.tag_names
            h_labels = self.labels[held]
            h_correct = self.correct[held]
        else:
            if tags is None or labels is None or correct is None:
                raise ValueError(
                    "tags/labels/correct: all three are needed without heldout_indices"
                )
            h_matrix, h_names = as_tag_matrix(tags, name="tags")
            _check_row_counts(h_matrix.shape[0], np.asarray(labels), np.asarray(correct))
            h_labels = _check_labels(labels, len(self.class_names), h_matrix.shape[0])
            h_correct = _check_correct(correct, h_matrix.shape[0])
        name_to_col = {name: i for i, name in enumerate(h_names)}

        records = []
        for _, mode in modes.iterrows():
            c = self.class_index(mode["class"])
            in_class = h_labels == c
            n_class = int(in_class.sum())
            class_acc = float(h_correct[in_class].mean()) if n_class else np.nan
            cols = [name_to_col.get(t) for t in mode["tags"]]
            if any(col is None for col in cols) or not n_class:
                member = np.zeros(len(h_labels), dtype=bool)
            else:
                member = in_class & np.all(h_matrix[:, cols], axis=1)
            n_members = int(member.sum())
            acc = float(h_correct[member].mean()) if n_members else np.nan
            ok = n_members >= min_support
            records.append(
                {
                    "class": mode["class"],
                    "tags": tuple(mode["tags"]),
                    "size": len(mode["tags"]),
                    "n_images": int(mode["n_images"]) if "n_images" in mode else np.nan,
                    "accuracy": float(mode["accuracy"]) if "accuracy" in mode else np.nan,
                    "drop": float(mode["drop"]),
                    "heldout_n_images": n_members,
                    "heldout_accuracy": acc if ok else np.nan,
                    "heldout_class_accuracy": class_acc,
                    "heldout_drop": class_acc - acc if ok else np.nan,
                }
            )
        columns = [
            "class",
            "tags",
            "size",
            "n_images",
            "accuracy",
            "drop",
            "heldout_n_images",
            "heldout_accuracy",
            "heldout_class_accuracy",
            "heldout_drop",
        ]
        table = pd.DataFrame.from_records(records, columns=columns)
        valid = table["heldout_drop"].notna().to_numpy()
        x = table["drop"].to_numpy(dtype=float)[valid]
        y = table["heldout_drop"].to_numpy(dtype=float)[valid]
        pearson = pearson_p = spearman = spearman_p = np.nan
        if len(x) >= 3 and np.ptp(x) > 0 and np.ptp(y) > 0:
            pearson, pearson_p = (float(v) for v in stats.pearsonr(x, y))
            spearman, spearman_p = (float(v) for v in stats.spearmanr(x, y))
        return GeneralizationReport(table, pearson, pearson_p, spearman, spearman_p, int(len(x)))

    # ------------------------------------------------------------------ description quality
    def description_quality(
        self,
        encoder,
        images=None,
        *,
        image_embeddings=None,
        modes: pd.DataFrame | None = None,
        max_nonmembers: int | None = None,
        random_state=0,
    ) -> pd.DataFrame:
        """CLIP-based quality of each mode's caption ``"a photo of <class> <tag> ..."``.

        For mode ``S`` with caption ``T``: ``sim(x, T)`` is the cosine similarity of the
        image and text embeddings. Reports, per mode, the mean and standard deviation of
        ``sim`` over the members (similarity, coherence) and the AUROC of ``sim`` separating
        members from the class's other searched images (specificity; all of them, or a
        random sample of ``max_nonmembers``).

        Parameters
        ----------
        encoder : with ``encode_texts`` (and ``encode_images`` unless ``image_embeddings``),
            e.g. a :class:`~failwidgets.features.clip.ClipEncoder`.
        images : EvalSet (indexed like the search's arrays) or uint8 array (N, H, W, 3).
        image_embeddings : (N, D) embeddings of all images instead of ``images``.
        modes : failure modes as :meth:`table` gives them (default: ``table()``).
        """
        from sklearn.metrics import roc_auc_score

        if modes is None:
            modes = self.table()
        for column in ("class", "tags"):
            if column not in modes.columns:
                raise ValueError(f"modes: missing column {column!r} (use table())")
        if max_nonmembers is not None:
            max_nonmembers = _check_int(max_nonmembers, "max_nonmembers", 1)
        columns = [
            "class",
            "tags",
            "caption",
            "n_images",
            "similarity_mean",
            "similarity_std",
            "auroc",
        ]
        if modes.empty:
            return pd.DataFrame(columns=columns)
        class_ids = sorted({self.class_index(c) for c in modes["class"]})
        needed = np.unique(np.concatenate([self._class_images[c] for c in class_ids]))
        if image_embeddings is not None:
            if images is not None:
                raise ValueError("image_embeddings: pass either images or image_embeddings")
            emb_all = np.asarray(image_embeddings, dtype=np.float32)
            if emb_all.ndim != 2 or emb_all.shape[0] != len(self.labels):
                raise ValueError(
                    f"image_embeddings: expected ({len(self.labels)}, D), got {emb_all.shape}"
                )
            emb = emb_all[needed]
        elif images is None:
            raise ValueError("images: pass the images (or image_embeddings)")
        elif isinstance(images, np.ndarray):
            if images.shape[0] != len(self.labels):
                raise ValueError(f"images: {images.shape[0]} images for {len(self.labels)} labels")
            emb = np.asarray(encoder.encode_images(images[needed]), dtype=np.float32)
        else:
            emb = np.asarray(encoder.encode_images(images, indices=needed), dtype=np.float32)
        emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        captions = [caption(row["class"], row["tags"]) for _, row in modes.iterrows()]
        text = np.asarray(encoder.encode_texts(captions), dtype=np.float32)
        text = text / np.maximum(np.linalg.norm(text, axis=1, keepdims=True), 1e-12)
        rng = np.random.default_rng(random_state)

        records = []
        for (_, mode), cap, t in zip(modes.iterrows(), captions, text):
            c = self.class_index(mode["class"])
            members = self.members(c, mode["tags"])
            others = np.setdiff1d(self._class_images[c], members, assume_unique=True)
            if max_nonmembers is not None and len(others) > max_nonmembers:
                others = rng.choice(others, size=max_nonmembers, replace=False)
            sim_in = emb[np.searchsorted(needed, members)] @ t
            sim_out = emb[np.searchsorted(needed, others)] @ t
            auroc = np.nan
            if len(sim_in) and len(sim_out):
                y = np.r_[np.ones(len(sim_in)), np.zeros(len(sim_out))]
                auroc = float(roc_auc_score(y, np.r_[sim_in, sim_out]))
            records.append(
                {
                    "class": mode["class"],
                    "tags": tuple(mode["tags"]),
                    "caption": cap,
                    "n_images": len(members),
                    "similarity_mean": float(sim_in.mean()) if len(sim_in) else np.nan,
                    "similarity_std": float(sim_in.std()) if len(sim_in) else np.nan,
                    "auroc": auroc,
                }
            )
        return pd.DataFrame.from_records(records, columns=columns)


# ---------------------------------------------------------------------- search


def _check_indices(indices, n: int, name: str) -> np.ndarray:
    """Distinct sample indices, sorted (:func:`failwidgets.checks.check_indices`)."""
    array = check_indices(indices, n, name)
    unique = np.unique(array)
    if len(unique) != len(array):
        raise ValueError(f"{name}: repeated indices")
    return unique


def _check_row_counts(n_rows: int, labels, correct, tags_name: str = "tags") -> None:
    """One tag-matrix row, one label and one ``correct`` flag per image.

    When the lengths disagree, the input that differs from the two others is named; when
    all three differ, the tag matrix is measured against ``labels``. Inputs that are not
    1-D are left to their own checks.
    """
    if np.ndim(labels) != 1 or np.ndim(correct) != 1:
        return
    lengths = {tags_name: n_rows, "labels": len(labels), "correct": len(correct)}
    if len(set(lengths.values())) == 1:
        return
    odd, expected = tags_name, lengths["labels"]
    for name in lengths:
        a, b = (v for k, v in lengths.items() if k != name)
        if a == b:
            odd, expected = name, a
            break
    unit = "rows" if odd == tags_name else "entries"
    detail = ", ".join(f"{k}: {v}" for k, v in lengths.items())
    raise ValueError(
        f"{odd}: {lengths[odd]} {unit} for {expected} images; every input needs one per "
        f"image ({detail})"
    )


def _check_labels(labels, n_classes: int, n: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ValueError(f"labels: expected shape ({n},), got {labels.shape}")
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels: expected integer class indices, got dtype {labels.dtype}")
    labels = labels.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels: class indices must lie in 0..{n_classes - 1}")
    return labels


def _check_correct(correct, n: int) -> np.ndarray:
    correct = np.asarray(correct)
    if correct.shape != (n,):
        raise ValueError(f"correct: expected shape ({n},), got {correct.shape}")
    if correct.dtype != bool:
        if correct.size and not np.isin(correct, (0, 1)).all():
            raise ValueError("correct: expected booleans (or 0/1)")
        correct = correct.astype(bool)
    return correct


def search(
    tags,
    labels,
    correct,
    *,
    tag_names: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
    max_size: int = 4,
    min_support: int = threshold_spec("prime", "s").default,
    min_count: int | None = None,
    indices=None,
    a: float = threshold_spec("prime", "a").default,
    b: Mapping[int, float] | None = None,
    n_jobs: int | None = None,
    max_candidates: int = DEFAULT_MAX_CANDIDATES,
) -> PrimeResult:
    """Exhaustive PRIME search: the candidate table of every class.

    Parameters
    ----------
    tags : TagMatrix, ``(matrix, names)`` pair, boolean DataFrame, or boolean (N, T)
        array with ``tag_names``.
    labels : (N,) int class indices (images are grouped by label).
    correct : (N,) bool, whether the model classified each image correctly.
    class_names : names of the classes (default ``"0"``, ``"1"``, ...).
    max_size : ``l``, the largest tag-set size, 1..6.
    min_support : ``s``, the smallest ``|I_S|`` kept in the table; later filters can
        only raise it.
    min_count : keep, per class, the tags present in at least this many of its images
        (the paper's frequency threshold; default: ``min_support``).
    indices : images to search (e.g. one split); default all. Member indices stay global.
    a, b : default thresholds of :meth:`PrimeResult.failure_modes`.
    n_jobs : threads over classes (the kernel releases the GIL); None = 1, -1 = all cores.
    max_candidates : per-class limit on the table size; reaching it raises ValueError
        (raise ``min_support`` or lower ``max_size``).
    """
    from .prime_table import build_table

    tags = as_tag_matrix(tags, tag_names, name="tags")
    matrix = tags.matrix
    n = matrix.shape[0]
    if n == 0:
        raise ValueError("tags: the tag matrix has no rows (images)")
    max_size = _check_int(max_size, "max_size", 1, MAX_SET_SIZE)
    min_support = _check_int(min_support, "min_support", 1)
    min_count = min_support if min_count is None else _check_int(min_count, "min_count", 1)
    max_candidates = _check_int(max_candidates, "max_candidates", 2)
    _check_fraction(a, "a")
    necessity_thresholds(b)
    labels_arr = np.asarray(labels)
    if class_names is None:
        if labels_arr.size and np.issubdtype(labels_arr.dtype, np.integer):
            n_cls = int(labels_arr.max()) + 1 if labels_arr.size else 1
        else:
            n_cls = 1
        class_names = [str(i) for i in range(max(n_cls, 1))]
    _check_row_counts(n, labels_arr, np.asarray(correct))
    if isinstance(class_names, str):
        raise TypeError("class_names: expected a sequence of names, got a single string")
    class_names = tuple(str(c) for c in class_names)
    if not class_names or len(set(class_names)) != len(class_names):
        raise ValueError("class_names: expected distinct names, at least one")
    labels_arr = _check_labels(labels_arr, len(class_names), n)
    correct_arr = _check_correct(correct, n)
    searched = np.arange(n) if indices is None else _check_indices(indices, n, "indices")
    if n_jobs is None:
        n_jobs = 1
    n_jobs = _check_int(n_jobs, "n_jobs", -1)
    if n_jobs == 0:
        raise ValueError("n_jobs: must be -1 (all cores) or >= 1, got 0")
    if n_jobs == -1:
        n_jobs = os.cpu_count() or 1

    n_classes = len(class_names)
    # Images by class, ascending within a class (a stable radix sort of the labels).
    searched_labels = labels_arr[searched].astype(np.int16 if n_classes < 2**15 else np.int64)
    by_class = np.argsort(searched_labels, kind="stable")
    bounds = np.searchsorted(searched_labels[by_class], np.arange(n_classes + 1))
    class_images = [searched[by_class[lo:hi]] for lo, hi in zip(bounds[:-1], bounds[1:])]
    kept, offsets, columns = build_table(
        matrix,
        correct_arr,
        class_images,
        class_names,
        min_count=min_count,
        min_support=min_support,
        max_size=max_size,
        max_candidates=max_candidates,
        n_jobs=n_jobs,
    )

    return PrimeResult(
        tags=tags,
        labels=labels_arr,
        correct=correct_arr,
        class_names=class_names,
        indices=searched,
        class_images=class_images,
        class_kept_tags=kept,
        class_offsets=offsets,
        max_size=max_size,
        min_support=min_support,
        min_count=min_count,
        a=a,
        b=b,
        **columns,
    )


# ---------------------------------------------------------------------- estimator


class Prime:
    """PRIME estimator: ``Prime(...).fit(evalset, tags)``.

    Parameters
    ----------
    max_size, min_support, min_count, n_jobs, max_candidates : see :func:`search`.
    a : minimum accuracy drop ``A_c - A_S`` (paper: 0.25 to 0.30).
    b : ``{size: b_size}`` overrides of the necessity thresholds (defaults
        :data:`DEFAULT_NECESSITY`).

    Attributes
    ----------
    result_ : :class:`PrimeResult` (filter it again with other thresholds for free).
    table_ : DataFrame of the failure modes at ``a``, ``min_support``, ``b``
        (``result_.table()``); when empty, its ``reason`` (shown in its repr) says why.
    failure_modes_ : the same failure modes as FailureMode objects
        (``result_.failure_modes()``), built on first access (their members take about a
        millisecond each).
    """

    def __init__(
        self,
        max_size: int = 4,
        min_support: int = threshold_spec("prime", "s").default,
        min_count: int | None = None,
        a: float = threshold_spec("prime", "a").default,
        b: Mapping[int, float] | None = None,
        n_jobs: int | None = None,
        max_candidates: int = DEFAULT_MAX_CANDIDATES,
    ):
        self.max_size = max_size
        self.min_support = min_support
        self.min_count = min_count
        self.a = a
        self.b = b
        self.n_jobs = n_jobs
        self.max_candidates = max_candidates

    def fit(self, evalset, tags=None, tag_names=None, indices=None) -> Prime:
        """Search the failure modes of ``evalset``.

        Parameters
        ----------
        evalset : an EvalSet (labels, correct, class_names; metadata for default tags).
        tags : tags of all ``evalset.n`` images (TagMatrix, ``(matrix, names)``, boolean
            DataFrame or array with ``tag_names``); default: :func:`tags_from_metadata`.
        indices : images to search: indices, a boolean mask, or a split name.
        """
        for attribute in ("labels", "correct", "class_names"):
            if not hasattr(evalset, attribute):
                raise TypeError(f"evalset: expected an EvalSet, missing .{attribute}")
        if tags is None:
            tags = tags_from_metadata(evalset)
        if isinstance(indices, str):
            indices = evalset.split_indices(indices)
        tags = as_tag_matrix(tags, tag_names, n_rows=len(evalset.labels), name="tags")
        self.result_ = search(
            tags,
            evalset.labels,
            evalset.correct,
            class_names=evalset.class_names,
            max_size=self.max_size,
            min_support=self.min_support,
            min_count=self.min_count,
            indices=indices,
            a=self.a,
            b=self.b,
            n_jobs=self.n_jobs,
            max_candidates=self.max_candidates,
        )
        self.table_ = self.result_.table()
        self.__dict__.pop("failure_modes_", None)  # built again from the new result
        return self

    @functools.cached_property
    def failure_modes_(self) -> AnswerList:
        return self.result_.failure_modes()


def prime_result(result, evalset=None, name: str = "result") -> PrimeResult:
    """``result`` (a :class:`PrimeResult` or a fitted :class:`Prime`) as a PrimeResult,
    checked to be searched on ``evalset`` (same labels, correctness and class names)."""
    if isinstance(result, Prime):
        if not hasattr(result, "result_"):
            raise ValueError(f"{name}: the Prime estimator is not fitted; call fit() first")
        result = result.result_
    if not isinstance(result, PrimeResult):
        raise TypeError(
            f"{name}: expected a PrimeResult or a fitted Prime, got {type(result).__name__}"
        )
    if evalset is not None and not (
        len(result.labels) == evalset.n
        and np.array_equal(result.labels, evalset.labels)
        and np.array_equal(result.correct, evalset.correct)
        and tuple(result.class_names) == tuple(evalset.class_names)
    ):
        raise ValueError(
            f"{name}: it was not searched on this EvalSet (labels, predictions or class "
            "names differ)"
        )
    return result


def view_result(
    evalset,
    *,
    tags=None,
    result=None,
    indices=None,
    max_size: int | None = None,
    min_support: int = threshold_spec("prime", "s").default,
    min_count: int | None = None,
    b: Mapping[int, float] | None = None,
) -> PrimeResult:
    """The search a view of ``evalset`` shows: ``result`` (a :class:`PrimeResult` or fitted
    :class:`Prime`, checked by :func:`prime_result`; searched again when ``max_size`` is
    larger than its ``l``) or a new search of ``tags`` over ``indices`` (split name, indices
    or mask) up to ``max_size`` (default 4). ``b`` overrides necessity thresholds
    (:meth:`PrimeResult.with_settings`)."""
    if max_size is not None:
        _check_int(max_size, "max_size", 1, MAX_SET_SIZE)
    if result is None:
        estimator = Prime(max_size=max_size or 4, min_support=min_support, min_count=min_count)
        result = estimator.fit(evalset, tags, indices=indices).result_
    else:
        if tags is not None or indices is not None:
            raise ValueError("result: pass either a search result or tags/indices to search")
        result = prime_result(result, evalset)
        if max_size is not None and max_size > result.max_size:
            result = result.search_again(max_size)
    return result if b is None else result.with_settings(b=b)
