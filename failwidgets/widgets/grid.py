"""ImageGrid: a paged thumbnail grid over any subset of an EvalSet (anywidget).

The index list (up to millions of entries) stays in Python; only small state is synced
(``total``, ``page``, ``page_size``, ``sort``...). The browser asks for one page at a time with a
custom message and receives the page's metadata as JSON plus one binary buffer per thumbnail, so
nothing image-like is stored in the notebook. The selection reaches the browser as one binary
buffer of ranges or a bitmap (:mod:`~failwidgets.widgets.selection`), never as a JSON list: a
million selected images cost at most 125 KB per change. For front ends that drop binary buffers
(Colab), the ``"dataurl"`` image transport (:mod:`~failwidgets.widgets.transport`) sends the
thumbnails as data URLs inside the JSON and the selection as base64 text instead.

Samples flagged as likely label errors (:func:`failwidgets.label_noise.find_label_issues`, or
any mask) wear a "label?" badge: see :meth:`ImageGrid.set_label_issues`.
"""

from __future__ import annotations

import math
import pathlib

import anywidget
import numpy as np
import traitlets

from ..checks import check_int as _check_int
from ..data import EvalSet
from ..thumbnails import THUMBNAIL_FORMATS, ThumbnailCache
from .guard import (
    BrowserMessageError,
    GuardedState,
    StrictInt,
    TraitTypeError,
    answer_errors,
    is_int,
    message_int,
    message_request_id,
    short_repr,
    validator,
)
from .selection import encode_selection
from .transport import pack_bytes, pack_images

__all__ = ["ImageGrid", "format_score"]

_STATIC = pathlib.Path(__file__).parent.parent / "static"
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


class _IndexArray(traitlets.TraitType):
    """Distinct sample indices as a read-only int64 array, in the order given.

    Accepts a list, tuple, range or numpy array of integers (bools are refused). Uniqueness is
    checked unless the grid itself proposes a value it knows to be distinct (``_trusted``);
    changes are compared with ``np.array_equal`` so that an equal array notifies nobody.
    """

    default_value = np.zeros(0, dtype=np.int64)
    info_text = "a sequence of distinct sample indices"

    def validate(self, obj, value):
        if isinstance(value, (str, bytes)) or np.isscalar(value):
            raise TraitTypeError(
                f"{self.name}: expected a sequence of sample indices, got {type(value).__name__}"
            )
        if not isinstance(value, np.ndarray):
            value = list(value)
            wrong = next((v for v in value if not is_int(v)), None)
            if wrong is not None:
                raise TraitTypeError(
                    f"{self.name}: expected a list of integer sample indices, got "
                    f"{type(wrong).__name__}"
                )
        array = np.asarray(value)
        if array.size == 0:
            array = np.zeros(0, dtype=np.int64)
        if array.ndim != 1:
            raise TraitTypeError(f"{self.name}: expected a 1-D sequence, got shape {array.shape}")
        if array.dtype == object:
            wrong = next((v for v in array if not is_int(v)), None)
            if wrong is not None:
                raise TraitTypeError(
                    f"{self.name}: expected a list of integer sample indices, got "
                    f"{type(wrong).__name__}"
                )
            array = array.astype(np.int64)
        elif not np.issubdtype(array.dtype, np.integer):
            raise TraitTypeError(
                f"{self.name}: expected a list of integer sample indices, got {array.dtype}"
            )
        array = np.array(array, dtype=np.int64)  # a private copy
        array.flags.writeable = False
        return array

    def set(self, obj, value):
        new_value = self._validate(obj, value)
        old_value = obj._trait_values.get(self.name, self.default_value)
        obj._trait_values[self.name] = new_value
        if not np.array_equal(old_value, new_value):
            obj._notify_trait(self.name, old_value, new_value)


class ImageGrid(GuardedState, anywidget.AnyWidget):
    """Paged thumbnails of a subset of an :class:`~failwidgets.data.EvalSet`.

    Each tile shows the image, its label and (when wrong) its prediction, a ✓/✗ badge with a
    border for correct/incorrect, the sample index and an optional score. Click selects,
    shift-click selects a range in display order (across pages), ctrl/cmd-click toggles.

    Parameters
    ----------
    evalset : EvalSet
        The samples to show.
    indices : array-like of int or bool mask, optional
        Sample indices to show, in order (repeats allowed); default: all samples.
    scores : array-like of float, optional
        One score per entry of ``indices`` (e.g. a decision value), shown on the tile and usable
        for sorting. NaN is allowed: shown as "—" and sorted last in both directions.
    page_size : int
        Tiles per page (1..1000).
    thumb_size : int
        Longest side of a thumbnail in pixels (16..512).
    selected : array-like of int, optional
        Initially selected sample indices.
    title : str, optional
        Heading shown above the grid.
    label_issues : LabelIssues, boolean mask or indices, optional
        Samples to badge as likely label errors (see :meth:`set_label_issues`).
    sort : {"none", "asc", "desc"}
        Display order: as given, or by score (stable, NaN last).
    thumb_format : {"jpeg", "png", "webp"}
        Encoding of the thumbnails.

    Attributes
    ----------
    selected : np.ndarray
        Selected sample indices (distinct, int64, read-only), in the order they were
        selected; observable. Set it to any sequence of indices.
    n_selected : int
        How many are selected.
    indices : np.ndarray
        The shown sample indices in the given order (read-only).
    scores : np.ndarray or None
        The scores (read-only).
    label_issues : np.ndarray
        Sample indices badged as likely label errors (ascending, read-only).
    n_label_issues : int
        How many of the shown samples are badged.

    Notes
    -----
    The browser may set ``page``, ``page_size``, ``sort`` and ``thumb_size`` (validated; a
    refused update changes nothing); the other synced traits are the kernel's, and the browser
    changes the selection only by clicks (the ``select`` message).
    Its custom messages ``{"type": "page", "page", "request_id"}`` and ``{"type": "select",
    "mode", "position", "index"}`` are answered with the page, or with ``{"type": "error"}``
    when a field is missing or of the wrong type, or the click is stale.
    """

    _esm = _STATIC / "grid.js"
    _browser_traits = frozenset({"page", "page_size", "sort", "thumb_size"})

    total = StrictInt(0, read_only=True).tag(sync=True)
    page = StrictInt(0).tag(sync=True)
    page_size = StrictInt(100).tag(sync=True)
    thumb_size = StrictInt(96).tag(sync=True)
    sort = traitlets.Unicode("none").tag(sync=True)
    has_scores = traitlets.Bool(False, read_only=True).tag(sync=True)
    n_incorrect = StrictInt(0, read_only=True).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    selected = _IndexArray()  # kept in the kernel; the browser gets ``_selection``
    n_selected = StrictInt(0, read_only=True).tag(sync=True)
    n_label_issues = StrictInt(0, read_only=True).tag(sync=True)
    # The selection as one binary buffer (see widgets/selection.py): a million selected
    # samples are at most 125 KB, and a contiguous run 16 bytes. Base64 text instead under the
    # "dataurl" image transport (see widgets/transport.py), for front ends that drop buffers.
    _selection = traitlets.Union([traitlets.Bytes(), traitlets.Unicode()]).tag(sync=True)
    # Bumped whenever page contents change without other state changing (new subset, thumb size):
    # the browser drops its cached pages when it changes.
    _data_version = StrictInt(0).tag(sync=True)

    def __init__(
        self,
        evalset: EvalSet,
        indices=None,
        scores=None,
        *,
        page_size: int = 100,
        thumb_size: int = 96,
        selected=None,
        title: str | None = None,
        sort: str = "none",
        thumb_format: str = "jpeg",
        label_issues=None,
        **kwargs,
    ):
        if not isinstance(evalset, EvalSet):
            raise TypeError(f"evalset: expected an EvalSet, got {type(evalset).__name__}")
        self._evalset = evalset
        self._issues = _LabelFlags.check(label_issues, evalset)
        self._class_names = list(evalset.class_names)
        self._indices, self._scores = self._check_subset(indices, scores)
        self._orders: dict[str, np.ndarray] = {}
        self._anchor: int | None = None
        self._distinct: bool | None = None
        self._trusted_selection = False
        self._mask = np.zeros(evalset.n, dtype=bool)  # membership of ``selected``
        if not isinstance(thumb_format, str) or thumb_format.lower() not in THUMBNAIL_FORMATS:
            raise ValueError(
                f"thumb_format: expected one of {sorted(THUMBNAIL_FORMATS)}, got {thumb_format!r}"
            )
        self._thumb_format = thumb_format.lower()
        self._thumbs = ThumbnailCache(evalset.image, size=96, format=self._thumb_format)
        # Type errors name the argument here; traitlets would raise a generic TraitError.
        page_size, thumb_size = (
            _check_int(page_size, "page_size"),
            _check_int(thumb_size, "thumb_size"),
        )
        if title is not None and not isinstance(title, str):
            raise TypeError(f"title: expected a string, got {type(title).__name__}")
        super().__init__(**kwargs)
        with self.hold_sync():
            self._set_subset_traits()
            self.page_size = page_size
            self.thumb_size = thumb_size
            self.sort = sort
            self.title = "" if title is None else title
            self.selected = [] if selected is None else selected
        self.on_msg(self._on_message)

    # ------------------------------------------------------------------ public API
    @property
    def evalset(self) -> EvalSet:
        return self._evalset

    @property
    def indices(self) -> np.ndarray:
        """The shown sample indices in the order given (a read-only view)."""
        view = self._indices.view()
        view.flags.writeable = False
        return view

    @property
    def scores(self) -> np.ndarray | None:
        """The scores given with the indices (a read-only view), or None."""
        if self._scores is None:
            return None
        view = self._scores.view()
        view.flags.writeable = False
        return view

    @property
    def n_pages(self) -> int:
        # page_size >= 1 once validated; the guard covers a page validated in the same held
        # update as a page_size that is about to be refused
        return max(1, math.ceil(self.total / max(1, self.page_size)))

    def display_indices(self) -> np.ndarray:
        """Sample indices in display order (after sorting)."""
        order = self._order()
        return self._indices if order is None else self._indices[order]

    def page_indices(self, page: int | None = None) -> np.ndarray:
        """Sample indices shown on ``page`` (default: the current page)."""
        start, stop = self._page_bounds(self.page if page is None else page)
        return self._display_slice(start, stop)[0]

    def show(self, indices, scores=None, title: str | None = None) -> None:
        """Show another subset: go to page 0 and keep only the selected samples it contains.

        Parameters
        ----------
        indices : array-like of int or bool mask
            Sample indices to show (repeats allowed).
        scores : array-like of float, optional
            One score per index. Without scores, sorting falls back to the given order.
        title : str, optional
            New heading (cleared when not given).
        """
        new_indices, new_scores = self._check_subset(indices, scores)
        if title is not None and not isinstance(title, str):
            raise TypeError(f"title: expected a string, got {type(title).__name__}")
        current = self.selected
        shown = np.zeros(self._evalset.n, dtype=bool)
        shown[new_indices] = True
        kept = current[shown[current]]
        with self.hold_sync():
            self._indices, self._scores = new_indices, new_scores
            self._orders.clear()
            self._distinct = None
            self._anchor = None
            if new_scores is None and self.sort != "none":
                self.sort = "none"
            self._set_subset_traits()
            self.page = 0
            self.title = "" if title is None else title
            self._select(kept)
            self._data_version += 1

    def clear_selection(self) -> None:
        self._select(np.zeros(0, dtype=np.int64))

    @property
    def label_issues(self) -> np.ndarray:
        """Sample indices badged as likely label errors (ascending, read-only)."""
        flagged = np.flatnonzero(self._issues.mask) if self._issues else np.zeros(0, np.int64)
        flagged.flags.writeable = False
        return flagged

    def set_label_issues(self, label_issues) -> None:
        """Badge samples as likely label errors ("label?" on their tiles; None: no badges).

        Parameters
        ----------
        label_issues : LabelIssues, boolean mask, sample indices or None
            A :class:`~failwidgets.label_noise.LabelIssues` (found on this grid's EvalSet;
            each badge's tooltip then gives the suggested label and the label quality), a
            boolean mask over the EvalSet's samples, or the indices of the flagged samples.
        """
        flags = _LabelFlags.check(label_issues, self._evalset)
        with self.hold_sync():
            self._issues = flags
            self._set_subset_traits()
            self._data_version += 1

    # ------------------------------------------------------------------ validation
    def _check_subset(self, indices, scores):
        evalset = self._evalset
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
            raise ValueError(
                f"scores: {len(values)} scores for {len(idx)} indices; lengths must match"
            )
        values = values.copy()
        values.flags.writeable = False
        return idx, values

    @validator("page_size")
    def _valid_page_size(self, proposal):
        value = _check_int(proposal["value"], "page_size")
        if not 1 <= value <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size: must be in 1..{MAX_PAGE_SIZE}, got {value}")
        return value

    @validator("page")
    def _valid_page(self, proposal):
        value = _check_int(proposal["value"], "page")
        if value < 0:
            raise ValueError(f"page: must be >= 0, got {value}")
        return min(value, self.n_pages - 1)  # past the end: the last page

    @validator("thumb_size")
    def _valid_thumb_size(self, proposal):
        value = _check_int(proposal["value"], "thumb_size")
        if not MIN_THUMB_SIZE <= value <= MAX_THUMB_SIZE:
            raise ValueError(
                f"thumb_size: must be in {MIN_THUMB_SIZE}..{MAX_THUMB_SIZE}, got {value}"
            )
        return value

    @validator("sort")
    def _valid_sort(self, proposal):
        value = proposal["value"]
        if value not in SORT_MODES:
            raise ValueError(f"sort: expected one of {SORT_MODES}, got {value!r}")
        if value != "none" and self._scores is None:
            raise ValueError(
                f"sort: {value!r} needs scores; pass scores= or use show(indices, scores)"
            )
        return value

    @validator("title")
    def _valid_title(self, proposal):
        value = proposal["value"]
        if not isinstance(value, str):
            raise TypeError(f"title: expected a string, got {type(value).__name__}")
        return value

    @validator("selected")
    def _valid_selected(self, proposal):
        items = proposal["value"]  # a read-only int64 array (the trait type checked it)
        if len(items) == 0 or self._trusted_selection:
            return items
        low, high = int(items.min()), int(items.max())
        if low < 0 or high >= self._evalset.n:
            raise ValueError(
                f"selected: index {low if low < 0 else high} outside 0..{self._evalset.n - 1}"
            )
        distinct = _unique_in_order(items)
        distinct.flags.writeable = False
        return distinct

    @traitlets.default("_selection")
    def _default_selection(self):
        return pack_bytes(encode_selection(np.zeros(0, bool)))

    @traitlets.observe("selected")
    def _on_selected(self, change):
        mask = np.zeros(self._evalset.n, dtype=bool)
        mask[change["new"]] = True
        self._mask = mask
        with self.hold_sync():
            self.set_trait("n_selected", len(change["new"]))
            self._selection = pack_bytes(encode_selection(mask))

    def _select(self, indices: np.ndarray) -> None:
        """Set ``selected`` to ``indices``, known to be distinct and in range."""
        self._trusted_selection = True
        try:
            self.selected = indices
        finally:
            self._trusted_selection = False

    def _subset_is_distinct(self) -> bool:
        """Whether the shown indices have no repeats (cached per subset)."""
        if self._distinct is None:
            counts = np.bincount(self._indices, minlength=1) if len(self._indices) else [0]
            self._distinct = bool(np.max(counts) <= 1)
        return self._distinct

    # ------------------------------------------------------------------ reactions
    @traitlets.observe("page_size")
    def _on_page_size(self, change):
        if self.page > self.n_pages - 1:
            self.page = self.n_pages - 1

    @traitlets.observe("sort")
    def _on_sort(self, change):
        self._anchor = None  # positions mean something else now
        self.page = 0

    @traitlets.observe("thumb_size")
    def _on_thumb_size(self, change):
        if self._thumbs.size != change["new"]:
            self._thumbs = ThumbnailCache(
                self._evalset.image, size=change["new"], format=self._thumb_format
            )
            self._data_version += 1

    def _set_subset_traits(self) -> None:
        self.set_trait("total", len(self._indices))
        self.set_trait("has_scores", self._scores is not None)
        n_wrong = int(np.count_nonzero(~self._evalset.correct[self._indices]))
        self.set_trait("n_incorrect", n_wrong)
        flagged = 0 if not self._issues else np.count_nonzero(self._issues.mask[self._indices])
        self.set_trait("n_label_issues", int(flagged))

    # ------------------------------------------------------------------ ordering and pages
    def _order(self) -> np.ndarray | None:
        """Permutation of positions for the current sort (None: as given). Cached per mode."""
        if self.sort == "none" or self._scores is None:
            return None
        if self.sort not in self._orders:
            keys = self._scores if self.sort == "asc" else -self._scores
            # Stable, and NaN sorts last in numpy (also after negation).
            self._orders[self.sort] = np.argsort(keys, kind="stable")
        return self._orders[self.sort]

    def _page_bounds(self, page: int) -> tuple[int, int]:
        page = min(max(0, _check_int(page, "page")), self.n_pages - 1)
        start = page * self.page_size
        return start, min(start + self.page_size, self.total)

    def _display_slice(self, start: int, stop: int):
        """(sample indices, scores or None) at display positions start..stop-1."""
        order = self._order()
        if order is None:
            rows = slice(start, stop)
        else:
            rows = order[start:stop]
        scores = None if self._scores is None else self._scores[rows]
        return self._indices[rows], scores

    def page_payload(self, page: int, request_id: str | None = None) -> tuple[dict, list[bytes]]:
        """The message and thumbnail buffers answering the browser's request for ``page``.

        Returns
        -------
        content : dict
            ``{"type": "page", "items": [...], ...}``; each item has ``position``, ``index``,
            ``label``, ``prediction``, ``correct``, ``score`` (float or None), ``score_text``,
            ``label_issue`` (None, or ``{"suggested", "quality"}`` for a badged sample, each
            None when unknown) and ``buffer`` (position in ``buffers``, or -1 with an
            ``error`` when the image could not be loaded).
        buffers : list of bytes
            One encoded thumbnail per item that has one.
        """
        page = min(max(0, _check_int(page, "page")), self.n_pages - 1)
        start, stop = self._page_bounds(page)
        indices, scores = self._display_slice(start, stop)
        thumbnails, errors = self._thumbs.get_many(indices)
        labels = self._evalset.labels[indices]
        predictions = self._evalset.predictions[indices]
        flags = self._issues if self._issues else None
        items, buffers = [], []
        for offset, (index, label, prediction, thumb) in enumerate(
            zip(indices.tolist(), labels.tolist(), predictions.tolist(), thumbnails)
        ):
            item = {
                "position": start + offset,
                "index": index,
                "label": self._class_names[label],
                "prediction": self._class_names[prediction],
                "correct": label == prediction,
                "score": None,
                "score_text": None,
                "label_issue": None if flags is None else flags.item(index, self._class_names),
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
        content = {
            "type": "page",
            "request_id": request_id,
            "page": page,
            "page_size": self.page_size,
            "sort": self.sort,
            "version": self._data_version,
            "thumb_size": self.thumb_size,
            "total": self.total,
            "mime": self._thumbs.mime_type,
            "items": items,
        }
        return content, buffers

    # ------------------------------------------------------------------ selection
    def apply_click(self, mode: str, position: int | None = None, index: int | None = None) -> bool:
        """Apply a click at display ``position`` (as the browser does); returns False if ignored.

        Modes: "replace" (select only this one), "toggle" (add or remove it), "range" (select the
        display-order range from the last clicked position), "range-add" (add that range),
        "clear". A click whose ``index`` no longer matches ``position`` (the subset or order
        changed meanwhile) is ignored.
        """
        if mode not in SELECT_MODES:
            raise ValueError(f"mode: expected one of {SELECT_MODES}, got {mode!r}")
        if mode == "clear":
            self._anchor = None
            self.clear_selection()
            return True
        position = _check_int(position, "position")
        if not 0 <= position < self.total:
            return False
        at = int(self._display_slice(position, position + 1)[0][0])
        if index is not None and _check_int(index, "index") != at:
            return False
        if (
            mode in ("range", "range-add")
            and self._anchor is not None
            and self._anchor < self.total
        ):
            lo, hi = sorted((self._anchor, position))
            span = self._display_slice(lo, hi + 1)[0]
            if not self._subset_is_distinct():
                span = _unique_in_order(span)
            if mode == "range-add":
                span = np.concatenate([self.selected, span[~self._mask[span]]])
            self._select(span)
            return True  # the anchor stays, so the next shift-click re-spans from it
        current = self.selected
        if mode == "toggle":
            self._select(current[current != at] if self._mask[at] else np.append(current, at))
        else:  # replace, or a range without an anchor
            self._select(np.array([at], dtype=np.int64))
        self._anchor = position
        return True

    @answer_errors
    def _on_message(self, widget, content, buffers) -> None:
        kind = content.get("type")
        if kind == "page":
            page = message_int(content, "page")
            reply, thumbs = self.page_payload(page, request_id=message_request_id(content))
            reply, thumbs = pack_images(reply, thumbs)  # buffers, or data URLs (Colab)
            self.send(reply, buffers=thumbs)
        elif kind == "select":
            mode = content.get("mode")
            if mode not in SELECT_MODES:
                raise BrowserMessageError(
                    f"mode: expected one of {SELECT_MODES}, got {short_repr(mode)}"
                )
            if mode == "clear":
                self.apply_click(mode)
                return
            position, index = message_int(content, "position"), message_int(content, "index")
            if not self.apply_click(mode, position, index):
                raise BrowserMessageError(
                    f"position: {position} does not show sample {index} (the grid changed "
                    "since the click); the click was ignored"
                )
        else:
            raise BrowserMessageError(f"type: expected 'page' or 'select', got {short_repr(kind)}")


def _unique_in_order(values: np.ndarray) -> np.ndarray:
    """Distinct values in order of first appearance."""
    values = np.asarray(values, dtype=np.int64)
    _, first = np.unique(values, return_index=True)
    return values[np.sort(first)]


class _LabelFlags:
    """Per-sample label-issue flags of a grid: a mask, and the suggested label and label
    quality when they come from a :class:`~failwidgets.label_noise.LabelIssues`."""

    def __init__(self, mask: np.ndarray, suggested=None, quality=None):
        self.mask, self.suggested, self.quality = mask, suggested, quality

    def __bool__(self) -> bool:
        return bool(self.mask.any())

    @classmethod
    def check(cls, value, evalset: EvalSet) -> _LabelFlags:
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
