"""What an ImageGrid shows, without widgets: the subset, its display order, pages, clicks.

:class:`GridContent` holds the shown sample indices and their scores, the display order of
each sort mode (computed once per subset), the label-issue flags, the selection's membership
mask and the anchor of shift-click ranges. It builds a page's items (the JSON the browser
draws) and turns a click into the new selection. :class:`~failwidgets.widgets.grid.ImageGrid`
holds the traits and the messages, and forwards to it.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..checks import check_int
from ..data import EvalSet

__all__ = [
    "MAX_PAGE_SIZE",
    "MAX_THUMB_SIZE",
    "MIN_THUMB_SIZE",
    "SELECT_MODES",
    "SORT_MODES",
    "GridContent",
    "LabelFlags",
    "check_index_array",
    "check_subset",
    "format_score",
    "n_pages",
    "page_bounds",
    "unique_in_order",
]

SORT_MODES = ("none", "asc", "desc")
SELECT_MODES = ("replace", "toggle", "range", "range-add", "clear")
MAX_PAGE_SIZE = 1000
MIN_THUMB_SIZE, MAX_THUMB_SIZE = 16, 512


def format_score(value: float) -> str:
    """Short text for a score: 3 significant digits, "—" for NaN, "∞"/"−∞" for infinities."""
    if math.isnan(value):
        return "—"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return f"{value:.3g}"


def unique_in_order(values: np.ndarray) -> np.ndarray:
    """Distinct values in order of first appearance."""
    values = np.asarray(values, dtype=np.int64)
    _, first = np.unique(values, return_index=True)
    return values[np.sort(first)]


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def check_index_array(value, name: str) -> np.ndarray:
    """``value`` (a list, tuple, range or array of integers) as a private read-only int64 array.

    Bools, strings, scalars, other dimensions than 1 and non-integers raise a TypeError naming
    ``name``. Ranges and distinctness are the caller's to check.
    """
    if isinstance(value, (str, bytes)) or np.isscalar(value):
        raise TypeError(
            f"{name}: expected a sequence of sample indices, got {type(value).__name__}"
        )
    if not isinstance(value, np.ndarray):
        value = list(value)
        wrong = next((v for v in value if not _is_int(v)), None)
        if wrong is not None:
            raise TypeError(
                f"{name}: expected a list of integer sample indices, got {type(wrong).__name__}"
            )
    array = np.asarray(value)
    if array.size == 0:
        array = np.zeros(0, dtype=np.int64)
    if array.ndim != 1:
        raise TypeError(f"{name}: expected a 1-D sequence, got shape {array.shape}")
    if array.dtype == object:
        wrong = next((v for v in array if not _is_int(v)), None)
        if wrong is not None:
            raise TypeError(
                f"{name}: expected a list of integer sample indices, got {type(wrong).__name__}"
            )
        array = array.astype(np.int64)
    elif not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{name}: expected a list of integer sample indices, got {array.dtype}")
    array = np.array(array, dtype=np.int64)  # a private copy
    array.flags.writeable = False
    return array


def n_pages(total: int, page_size: int) -> int:
    """Pages needed for ``total`` tiles, at least 1 (a ``page_size`` below 1 counts as 1)."""
    return max(1, math.ceil(total / max(1, page_size)))


def page_bounds(page: int, page_size: int, total: int) -> tuple[int, int]:
    """Display positions ``[start, stop)`` of ``page``, clamped to the existing pages."""
    page = min(max(0, check_int(page, "page")), n_pages(total, page_size) - 1)
    start = page * page_size
    return start, min(start + page_size, total)


def check_subset(evalset: EvalSet, indices, scores) -> tuple[np.ndarray, np.ndarray | None]:
    """Read-only (indices, scores or None) of a subset to show; ``indices`` None: all samples."""
    if indices is None:
        idx = np.arange(evalset.n, dtype=np.int64)
    else:
        if isinstance(indices, (str, bytes)) or np.isscalar(indices):
            raise TypeError(
                f"indices: expected a sequence of sample indices, got {type(indices).__name__}"
            )
        idx = evalset.check_indices(indices, name="indices")
    idx = np.ascontiguousarray(idx, dtype=np.int64)
    idx.flags.writeable = False
    if scores is None:
        return idx, None
    try:
        values = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError("scores: expected numbers (one float per index)") from None
    if values.ndim != 1:
        raise ValueError(f"scores: expected a 1-D sequence, got shape {values.shape}")
    if len(values) != len(idx):
        raise ValueError(f"scores: {len(values)} scores for {len(idx)} indices; lengths must match")
    values = values.copy()
    values.flags.writeable = False
    return idx, values


class LabelFlags:
    """Per-sample label-issue flags of a grid: a mask, and the suggested label and label
    quality when they come from a :class:`~failwidgets.label_noise.LabelIssues`."""

    def __init__(self, mask: np.ndarray, suggested=None, quality=None):
        self.mask, self.suggested, self.quality = mask, suggested, quality

    def __bool__(self) -> bool:
        return bool(self.mask.any())

    @classmethod
    def check(cls, value, evalset: EvalSet) -> LabelFlags:
        """Flags from LabelIssues (found on ``evalset``), a boolean mask, indices or None."""
        from ..label_noise import LabelIssues

        n = evalset.n
        if value is None:
            return cls(np.zeros(n, dtype=bool))
        if isinstance(value, LabelIssues):
            if value.n != n or not np.array_equal(value.labels, evalset.labels):
                raise ValueError(
                    f"label_issues: found on another EvalSet ({value.n} samples) than the "
                    f"grid's ({n} samples), or its labels changed since"
                )
            return cls(np.array(value.flagged), value.suggested_label, value.label_quality)
        if isinstance(value, (str, bytes)) or np.isscalar(value):
            raise TypeError(
                "label_issues: expected LabelIssues, a boolean mask or sample indices, got "
                f"{type(value).__name__}"
            )
        mask = np.zeros(n, dtype=bool)
        mask[evalset.check_indices(value, name="label_issues")] = True
        return cls(mask)

    def item(self, index: int, class_names: list[str]) -> dict | None:
        """The page item's ``label_issue`` entry for sample ``index`` (None: not flagged)."""
        if not self.mask[index]:
            return None
        quality = None if self.quality is None else float(self.quality[index])
        return {
            "suggested": None if self.suggested is None else class_names[self.suggested[index]],
            "quality": quality if quality is not None and math.isfinite(quality) else None,
        }


class GridContent:
    """The subset a grid shows, its display orders, label flags and click bookkeeping.

    Parameters
    ----------
    evalset : EvalSet
        The samples.
    indices : array-like of int or bool mask, optional
        Sample indices to show, in order (repeats allowed); default: all samples.
    scores : array-like of float, optional
        One score per entry of ``indices``.
    label_issues : LabelIssues, boolean mask or indices, optional
        Samples to badge as likely label errors.

    Attributes
    ----------
    indices : np.ndarray
        The shown sample indices in the given order (read-only).
    scores : np.ndarray or None
        Their scores (read-only).
    flags : LabelFlags
        The label-issue flags.
    mask : np.ndarray
        Membership of the selection over all samples (see :meth:`set_selected`).
    anchor : int or None
        Display position of the last click that starts a shift-click range.
    """

    def __init__(self, evalset: EvalSet, indices=None, scores=None, label_issues=None):
        self.evalset = evalset
        self.class_names = list(evalset.class_names)
        self.flags = LabelFlags.check(label_issues, evalset)
        self.mask = np.zeros(evalset.n, dtype=bool)
        self.use_subset(*check_subset(evalset, indices, scores))

    @property
    def total(self) -> int:
        return len(self.indices)

    def use_subset(self, indices: np.ndarray, scores: np.ndarray | None) -> None:
        """Show another subset, as :func:`check_subset` returned it; forgets orders and anchor."""
        self.indices, self.scores = indices, scores
        self._orders: dict[str, np.ndarray] = {}
        self._distinct: bool | None = None
        self.anchor = None

    def set_label_issues(self, label_issues) -> None:
        self.flags = LabelFlags.check(label_issues, self.evalset)

    def counts(self) -> dict:
        """``total``, ``has_scores``, ``n_incorrect`` and ``n_label_issues`` of the subset."""
        flagged = np.count_nonzero(self.flags.mask[self.indices]) if self.flags else 0
        return {
            "total": self.total,
            "has_scores": self.scores is not None,
            "n_incorrect": int(np.count_nonzero(~self.evalset.correct[self.indices])),
            "n_label_issues": int(flagged),
        }

    # ------------------------------------------------------------------ ordering
    def order(self, sort: str) -> np.ndarray | None:
        """Permutation of positions for ``sort`` (None: as given). Cached per mode."""
        if sort == "none" or self.scores is None:
            return None
        if sort not in self._orders:
            keys = self.scores if sort == "asc" else -self.scores
            # Stable, and NaN sorts last in numpy (also after negation).
            self._orders[sort] = np.argsort(keys, kind="stable")
        return self._orders[sort]

    def display_indices(self, sort: str) -> np.ndarray:
        """Sample indices in display order."""
        order = self.order(sort)
        return self.indices if order is None else self.indices[order]

    def display_slice(self, sort: str, start: int, stop: int):
        """(sample indices, scores or None) at display positions start..stop-1."""
        order = self.order(sort)
        rows = slice(start, stop) if order is None else order[start:stop]
        scores = None if self.scores is None else self.scores[rows]
        return self.indices[rows], scores

    def is_distinct(self) -> bool:
        """Whether the shown indices have no repeats (cached per subset)."""
        if self._distinct is None:
            counts = np.bincount(self.indices, minlength=1) if self.total else [0]
            self._distinct = bool(np.max(counts) <= 1)
        return self._distinct

    # ------------------------------------------------------------------ pages
    def page_items(self, sort: str, start: int, stop: int, thumbnails) -> tuple[list, list]:
        """The items and thumbnail buffers of display positions ``start..stop-1``.

        ``thumbnails`` has ``get_many(indices) -> (list of bytes or None, {index: error})``
        (a :class:`~failwidgets.thumbnails.ThumbnailCache`). Each item has ``position``,
        ``index``, ``label``, ``prediction``, ``correct``, ``score`` (float or None),
        ``score_text``, ``label_issue`` (None, or ``{"suggested", "quality"}``) and ``buffer``
        (position in the buffers, or -1 with an ``error`` when the image could not be loaded).
        """
        indices, scores = self.display_slice(sort, start, stop)
        thumbs, errors = thumbnails.get_many(indices)
        labels = self.evalset.labels[indices]
        predictions = self.evalset.predictions[indices]
        names = self.class_names
        flags = self.flags if self.flags else None
        items, buffers = [], []
        for offset, (index, label, prediction, thumb) in enumerate(
            zip(indices.tolist(), labels.tolist(), predictions.tolist(), thumbs)
        ):
            item = {
                "position": start + offset,
                "index": index,
                "label": names[label],
                "prediction": names[prediction],
                "correct": label == prediction,
                "score": None,
                "score_text": None,
                "label_issue": None if flags is None else flags.item(index, names),
                "buffer": -1,
            }
            if scores is not None:
                value = float(scores[offset])
                item["score"] = value if math.isfinite(value) else None
                item["score_text"] = format_score(value)
            if thumb is None:
                item["error"] = errors.get(index, "image unavailable")
            else:
                item["buffer"] = len(buffers)
                buffers.append(thumb)
            items.append(item)
        return items, buffers

    # ------------------------------------------------------------------ selection
    def check_selected(self, items: np.ndarray) -> np.ndarray:
        """A proposed selection (an int64 array) in range, repeats dropped (read-only)."""
        if len(items) == 0:
            return items
        low, high = int(items.min()), int(items.max())
        if low < 0 or high >= self.evalset.n:
            raise ValueError(
                f"selected: index {low if low < 0 else high} outside 0..{self.evalset.n - 1}"
            )
        distinct = unique_in_order(items)
        distinct.flags.writeable = False
        return distinct

    def set_selected(self, selected: np.ndarray) -> np.ndarray:
        """Record the selection; returns its membership mask over all samples."""
        mask = np.zeros(self.evalset.n, dtype=bool)
        mask[selected] = True
        self.mask = mask
        return mask

    def kept_selection(self, selected: np.ndarray, indices: np.ndarray) -> np.ndarray:
        """The part of ``selected`` that a subset showing ``indices`` contains, in order."""
        shown = np.zeros(self.evalset.n, dtype=bool)
        shown[indices] = True
        return selected[shown[selected]]

    def click(
        self, mode: str, position, index, *, sort: str, selected: np.ndarray
    ) -> np.ndarray | None:
        """The selection after a click at display ``position``; None when it is ignored.

        Modes: "replace" (only this one), "toggle" (add or remove it), "range" (the
        display-order range from :attr:`anchor`), "range-add" (add that range), "clear". A
        click whose ``index`` no longer matches ``position`` is ignored. ``selected`` is the
        current selection (whose membership :meth:`set_selected` recorded).
        """
        if mode not in SELECT_MODES:
            raise ValueError(f"mode: expected one of {SELECT_MODES}, got {mode!r}")
        if mode == "clear":
            self.anchor = None
            return np.zeros(0, dtype=np.int64)
        position = check_int(position, "position")
        if not 0 <= position < self.total:
            return None
        at = int(self.display_slice(sort, position, position + 1)[0][0])
        if index is not None and check_int(index, "index") != at:
            return None
        if mode in ("range", "range-add") and self.anchor is not None and self.anchor < self.total:
            lo, hi = sorted((self.anchor, position))
            span = self.display_slice(sort, lo, hi + 1)[0]
            if not self.is_distinct():
                span = unique_in_order(span)
            if mode == "range-add":
                span = np.concatenate([selected, span[~self.mask[span]]])
            return span  # the anchor stays, so the next shift-click re-spans from it
        self.anchor = position
        if mode == "toggle":
            return selected[selected != at] if self.mask[at] else np.append(selected, at)
        return np.array([at], dtype=np.int64)  # replace, or a range without an anchor
