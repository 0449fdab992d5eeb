"""ImageGrid: a paged thumbnail grid over any subset of an EvalSet (anywidget).

The index list (up to millions of entries) stays in Python; only small state is synced
(``total``, ``page``, ``page_size``, ``sort``, ``selected``...). The browser asks for one page at a
time with a custom message and receives the page's metadata as JSON plus one binary buffer per
thumbnail, so nothing image-like is stored in the notebook.
"""

from __future__ import annotations

import math
import pathlib

import anywidget
import numpy as np
import traitlets

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


def _check_int(value, name: str) -> int:
    if not is_int(value):
        raise TypeError(f"{name}: expected an integer, got {type(value).__name__}")
    return int(value)


class _IndexList(traitlets.List):
    """A List trait of integers that also accepts tuples, ranges and numpy arrays (converted
    to lists of int); bools are refused."""

    _cast_types = (tuple, range, np.ndarray)

    def validate(self, obj, value):
        items = super().validate(obj, value)
        if all(type(v) is int for v in items):  # the common case, checked fast
            return items
        wrong = [v for v in items if not is_int(v)]
        if wrong:
            raise TraitTypeError(
                f"{self.name}: expected a list of integer sample indices, got "
                f"{type(wrong[0]).__name__}"
            )
        return [int(v) for v in items]


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
    selected : list of int, optional
        Initially selected sample indices.
    title : str, optional
        Heading shown above the grid.
    sort : {"none", "asc", "desc"}
        Display order: as given, or by score (stable, NaN last).
    thumb_format : {"jpeg", "png", "webp"}
        Encoding of the thumbnails.

    Attributes
    ----------
    selected : list of int
        Selected sample indices (synced with the browser; observable).
    indices : np.ndarray
        The shown sample indices in the given order (read-only).
    scores : np.ndarray or None
        The scores (read-only).

    Notes
    -----
    The browser may set ``page``, ``page_size``, ``sort``, ``thumb_size`` and ``selected``
    (validated; a refused update changes nothing); the other synced traits are the kernel's.
    Its custom messages ``{"type": "page", "page", "request_id"}`` and ``{"type": "select",
    "mode", "position", "index"}`` are answered with the page, or with ``{"type": "error"}``
    when a field is missing or of the wrong type, or the click is stale.
    """

    _esm = _STATIC / "grid.js"
    _browser_traits = frozenset({"page", "page_size", "sort", "thumb_size", "selected"})

    total = StrictInt(0, read_only=True).tag(sync=True)
    page = StrictInt(0).tag(sync=True)
    page_size = StrictInt(100).tag(sync=True)
    thumb_size = StrictInt(96).tag(sync=True)
    sort = traitlets.Unicode("none").tag(sync=True)
    has_scores = traitlets.Bool(False, read_only=True).tag(sync=True)
    n_incorrect = StrictInt(0, read_only=True).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    selected = _IndexList([]).tag(sync=True)
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
        **kwargs,
    ):
        if not isinstance(evalset, EvalSet):
            raise TypeError(f"evalset: expected an EvalSet, got {type(evalset).__name__}")
        self._evalset = evalset
        self._class_names = list(evalset.class_names)
        self._indices, self._scores = self._check_subset(indices, scores)
        self._orders: dict[str, np.ndarray] = {}
        self._anchor: int | None = None
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
        current = np.asarray(self.selected, dtype=np.int64)
        kept = current[np.isin(current, new_indices)].tolist()
        with self.hold_sync():
            self._indices, self._scores = new_indices, new_scores
            self._orders.clear()
            self._anchor = None
            if new_scores is None and self.sort != "none":
                self.sort = "none"
            self._set_subset_traits()
            self.page = 0
            self.title = "" if title is None else title
            self.selected = kept
            self._data_version += 1

    def clear_selection(self) -> None:
        self.selected = []

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
        items = proposal["value"]  # a list of int (the trait type checked them)
        if not items:
            return []
        low, high = min(items), max(items)  # Python ints: no overflow before the range check
        if low < 0 or high >= self._evalset.n:
            raise ValueError(
                f"selected: index {int(low if low < 0 else high)} outside 0..{self._evalset.n - 1}"
            )
        return _unique_in_order(np.asarray(items, dtype=np.int64)).tolist()

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
            ``label``, ``prediction``, ``correct``, ``score`` (float or None), ``score_text``
            and ``buffer`` (position in ``buffers``, or -1 with an ``error`` when the image could
            not be loaded).
        buffers : list of bytes
            One encoded thumbnail per item that has one.
        """
        page = min(max(0, _check_int(page, "page")), self.n_pages - 1)
        start, stop = self._page_bounds(page)
        indices, scores = self._display_slice(start, stop)
        thumbnails, errors = self._thumbs.get_many(indices)
        labels = self._evalset.labels[indices]
        predictions = self._evalset.predictions[indices]
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
            self.selected = []
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
            if mode == "range-add":
                span = np.concatenate([np.asarray(self.selected, dtype=np.int64), span])
            self.selected = _unique_in_order(span).tolist()
            return True  # the anchor stays, so the next shift-click re-spans from it
        if mode == "toggle":
            current = list(self.selected)
            self.selected = [i for i in current if i != at] if at in current else [*current, at]
        else:  # replace, or a range without an anchor
            self.selected = [at]
        self._anchor = position
        return True

    @answer_errors
    def _on_message(self, widget, content, buffers) -> None:
        kind = content.get("type")
        if kind == "page":
            page = message_int(content, "page")
            reply, thumbs = self.page_payload(page, request_id=message_request_id(content))
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
