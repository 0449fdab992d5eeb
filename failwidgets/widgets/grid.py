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

import pathlib

import anywidget
import numpy as np
import traitlets

from ..checks import check_int as _check_int
from ..data import EvalSet
from ..thumbnails import THUMBNAIL_FORMATS, ThumbnailCache
from ..viewmodels.grid import (
    MAX_PAGE_SIZE,
    MAX_THUMB_SIZE,
    MIN_THUMB_SIZE,
    SELECT_MODES,
    SORT_MODES,
    GridContent,
    check_index_array,
    check_subset,
    format_score,
    n_pages,
    page_bounds,
)
from .guard import (
    BrowserMessageError,
    GuardedState,
    StrictInt,
    TraitTypeError,
    answer_errors,
    message_int,
    message_request_id,
    short_repr,
    validator,
)
from .selection import encode_selection
from .transport import pack_bytes, pack_images

__all__ = ["SELECT_MODES", "SORT_MODES", "ImageGrid", "format_score"]

_STATIC = pathlib.Path(__file__).parent.parent / "static"


class _IndexArray(traitlets.TraitType):
    """Distinct sample indices as a read-only int64 array, in the order given.

    Accepts a list, tuple, range or numpy array of integers (bools are refused). Uniqueness is
    checked unless the grid itself proposes a value it knows to be distinct (``_trusted``);
    changes are compared with ``np.array_equal`` so that an equal array notifies nobody.
    """

    default_value = np.zeros(0, dtype=np.int64)
    info_text = "a sequence of distinct sample indices"

    def validate(self, obj, value):
        try:
            return check_index_array(value, self.name)
        except TypeError as error:
            raise TraitTypeError(str(error)) from None

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
        # the subset, its display orders, label flags, the selection mask and the click anchor
        self._content = GridContent(evalset, indices, scores, label_issues)
        self._trusted_selection = False
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
        view = self._content.indices.view()
        view.flags.writeable = False
        return view

    @property
    def scores(self) -> np.ndarray | None:
        """The scores given with the indices (a read-only view), or None."""
        if self._content.scores is None:
            return None
        view = self._content.scores.view()
        view.flags.writeable = False
        return view

    @property
    def n_pages(self) -> int:
        # page_size >= 1 once validated; n_pages counts a smaller one as 1 (a page validated
        # in the same held update as a page_size that is about to be refused)
        return n_pages(self.total, self.page_size)

    def display_indices(self) -> np.ndarray:
        """Sample indices in display order (after sorting)."""
        return self._content.display_indices(self.sort)

    def page_indices(self, page: int | None = None) -> np.ndarray:
        """Sample indices shown on ``page`` (default: the current page)."""
        start, stop = page_bounds(self.page if page is None else page, self.page_size, self.total)
        return self._content.display_slice(self.sort, start, stop)[0]

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
        new_indices, new_scores = check_subset(self._evalset, indices, scores)
        if title is not None and not isinstance(title, str):
            raise TypeError(f"title: expected a string, got {type(title).__name__}")
        kept = self._content.kept_selection(self.selected, new_indices)
        with self.hold_sync():
            self._content.use_subset(new_indices, new_scores)
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
        flags = self._content.flags
        flagged = np.flatnonzero(flags.mask) if flags else np.zeros(0, np.int64)
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
        with self.hold_sync():
            self._content.set_label_issues(label_issues)
            self._set_subset_traits()
            self._data_version += 1

    # ------------------------------------------------------------------ validation
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
        if value != "none" and self._content.scores is None:
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
        if self._trusted_selection:
            return items
        return self._content.check_selected(items)

    @traitlets.default("_selection")
    def _default_selection(self):
        return pack_bytes(encode_selection(np.zeros(0, bool)))

    @traitlets.observe("selected")
    def _on_selected(self, change):
        mask = self._content.set_selected(change["new"])
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

    # ------------------------------------------------------------------ reactions
    @traitlets.observe("page_size")
    def _on_page_size(self, change):
        if self.page > self.n_pages - 1:
            self.page = self.n_pages - 1

    @traitlets.observe("sort")
    def _on_sort(self, change):
        self._content.anchor = None  # positions mean something else now
        self.page = 0

    @traitlets.observe("thumb_size")
    def _on_thumb_size(self, change):
        if self._thumbs.size != change["new"]:
            self._thumbs = ThumbnailCache(
                self._evalset.image, size=change["new"], format=self._thumb_format
            )
            self._data_version += 1

    def _set_subset_traits(self) -> None:
        for name, value in self._content.counts().items():
            self.set_trait(name, value)

    # ------------------------------------------------------------------ pages
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
        start, stop = page_bounds(page, self.page_size, self.total)
        items, buffers = self._content.page_items(self.sort, start, stop, self._thumbs)
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
        selection = self._content.click(
            mode, position, index, sort=self.sort, selected=self.selected
        )
        if selection is None:
            return False
        self._select(selection)
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
