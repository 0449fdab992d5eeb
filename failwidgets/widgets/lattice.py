"""LatticeView: PRIME's tag-set lattice of one class as a Hasse diagram (anywidget + ipywidgets).

The view is a thin layer over :class:`~failwidgets.methods.prime.PrimeResult`: the search runs
once; the thresholds ``a``, ``s``, ``b2``, ``b3`` and ``b4`` only re-filter the result's
candidate table (no new search); ``l`` (``max_size``) searches again, on the view's worker,
only when it grows beyond the searched ``l``.

What is drawn (see :meth:`LatticeView.graph`): the empty set (the whole class) at the top,
then one level per set size; an edge joins a set to each of its one-tag-removed subsets.
Nodes are coloured by the accuracy drop ``A_c - A_S``, sized by ``|I_S|``; failure modes are
highlighted together with their necessity edges (removing that tag raises the accuracy by at
least ``b_|S|``). Which sets fit in ``max_nodes`` is the engine's choice
(:meth:`PrimeResult.drawing`).
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Mapping

import anywidget
import ipywidgets as widgets
import numpy as np
import traitlets

from ..checks import check_int
from ..data import EvalSet
from ..methods.answers import answer_list
from ..methods.prime import MAX_SET_SIZE, Prime, PrimeResult, view_result
from ..modes import FailureMode
from ..viewmodels.lattice import (
    L_SLIDER,
    class_title,
    lattice_graph,
    mode_title,
    selected_row,
    status_text,
)
from .failure_view import FailureView
from .grid import ImageGrid
from .guard import (
    BrowserMessageError,
    Checked,
    GuardedState,
    StrictInt,
    TraitValueError,
    answer_errors,
    message_int,
    short_repr,
    validator,
)
from .threshold_controls import ControlLink, Threshold, threshold_slider

__all__ = ["LatticeView", "LatticeCanvas"]

_STATIC = pathlib.Path(__file__).parent.parent / "static"


# ---------------------------------------------------------------------- the drawing
class LatticeCanvas(GuardedState, anywidget.AnyWidget):
    """The Hasse diagram itself (browser side: ``js/src/lattice.js``).

    ``graph`` is the view model built by :meth:`LatticeView.graph`; ``selected_row`` the
    highlighted node (-1: none); ``query`` the tag search text (nodes whose tags contain it,
    case-insensitive, are highlighted and the rest dimmed). The browser may set ``query``
    only. A click in the browser sends ``{"type": "select", "row": int}``, handed to
    ``on_node_click`` when the row is drawn; a message that cannot be applied is answered with
    ``{"type": "error", ...}``.
    """

    _esm = _STATIC / "lattice.js"
    _browser_traits = frozenset({"query"})

    graph = traitlets.Dict({}).tag(sync=True)
    selected_row = StrictInt(-1).tag(sync=True)
    query = traitlets.Unicode("").tag(sync=True)

    def __init__(self, on_node_click: Callable[[int], None] | None = None, **kwargs):
        super().__init__(**kwargs)
        self._on_node_click = on_node_click
        self.on_msg(self._on_message)

    @answer_errors
    def _on_message(self, widget, content, buffers) -> None:
        kind = content.get("type")
        if kind != "select":
            raise BrowserMessageError(f"type: expected 'select', got {short_repr(kind)}")
        row = message_int(content, "row")
        if row not in {node["row"] for node in self.graph.get("nodes", ())}:
            raise BrowserMessageError(
                f"row: {row} is not drawn (the lattice changed since the click?)"
            )
        if self._on_node_click is not None:
            self._on_node_click(row)


# ---------------------------------------------------------------------- the view
class LatticeView(FailureView):
    """PRIME's tag lattice of the selected class, with threshold controls and an image grid.

    Parameters
    ----------
    evalset : EvalSet
        The evaluated samples (labels, predictions, images; metadata for default tags).
    tags : TagMatrix, ``(matrix, names)``, boolean DataFrame, optional
        Tags of all ``evalset.n`` images; default: the metadata's boolean and categorical
        columns (:func:`~failwidgets.features.tags.tags_from_metadata`). Not with ``result``.
    result : PrimeResult or fitted Prime, optional
        A finished search over ``evalset`` (then no search runs at construction).
    indices : split name, indices or boolean mask, optional
        Images to search (e.g. ``"test"``); default all. Not with ``result``.
    grid : ImageGrid, optional
        Where a clicked node's images are shown (errors first). Default: the view makes
        its own grid and shows it below the lattice.
    class_name : str or int, optional
        Class shown first; default: the class whose strongest failure mode drops most.
    a, s : first values of the thresholds (minimum drop; minimum support, not below the
        searched ``min_support``); default: the result's. ``b2``..``b4`` start at its ``b``.
    b, max_size : settings of the result (:meth:`PrimeResult.with_settings`):
        ``{size: b_size}`` necessity thresholds, and ``l``, the largest set size.
    min_support, min_count : search settings when the view searches (``s`` cannot go
        below ``min_support`` without a new search).
    max_nodes : most nodes drawn (the empty set included).
    max_context : most non-mode sets (with their subsets) added to the failure modes.
    background : search again for a larger ``l`` on a worker thread (default) or inline.

    Attributes
    ----------
    a, s, b2, b3, b4 : the thresholds (:data:`failwidgets.thresholds.THRESHOLDS`); setting
        one re-filters and redraws.
    max_size : ``l``; a larger one than searched searches again (meanwhile the drawing
        and :meth:`failure_modes` use the searched ``l``).
    class_name : the drawn class (None: none).
    result : the current :class:`PrimeResult`.
    grid : the linked :class:`ImageGrid`.
    canvas : the :class:`LatticeCanvas` drawing.
    selected_tags : tags of the selected node (``()`` is the whole class) or None.
    selected_members : EvalSet indices of the selected node (ascending; empty when none).
    """

    method = "prime"
    a = Threshold("prime", "a")
    s = Threshold("prime", "s")
    b2 = Threshold("prime", "b2")
    b3 = Threshold("prime", "b3")
    b4 = Threshold("prime", "b4")
    max_size = Checked(help="l, the largest tag-set size (above the searched l: a new search)")

    def __init__(
        self,
        evalset: EvalSet,
        tags=None,
        *,
        result: PrimeResult | Prime | None = None,
        indices=None,
        grid: ImageGrid | None = None,
        class_name: str | int | None = None,
        a: float | None = None,
        s: int | None = None,
        b: Mapping[int, float] | None = None,
        max_size: int | None = None,
        min_support: int = 30,
        min_count: int | None = None,
        max_nodes: int = 40,
        max_context: int = 8,
        background: bool = True,
        **kwargs,
    ):
        super().__init__(evalset, grid=grid, background=background, **kwargs)
        self._max_nodes = check_int(max_nodes, "max_nodes", 1)
        self._max_context = check_int(max_context, "max_context", 0)
        self._result = view_result(
            self.evalset,
            tags=tags,
            result=result,
            indices=indices,
            max_size=max_size,
            min_support=min_support,
            min_count=min_count,
            b=b,
        )
        r = self._result
        self._selected_tags: tuple[str, ...] | None = None
        self.add_class("fw-lattice-view")
        self.canvas = LatticeCanvas(on_node_click=self._on_node_click)

        given = {name: value for name, value in (("a", a), ("s", s)) if value is not None}
        for name, value in {**r.threshold_values(), **given}.items():
            setattr(self, name, value)
        self.max_size = r.max_size if max_size is None else max_size
        if class_name is None:
            class_name = self._answer.strongest_class(**self.thresholds())
        self.class_name = class_name

        self._status_html.add_class("fw-lattice-summary")
        largest = int(r.class_summary["n_images"].max())
        controls = self.threshold_controls(s=(r.min_support, max(r.min_support, largest)))
        sliders = dict(zip(self.threshold_names(), controls))
        sliders["s"].tooltip += "; not below the searched minimum support"
        sliders["max_size"] = threshold_slider(L_SLIDER, self.max_size, low=1, high=MAX_SET_SIZE)
        sliders["max_size"].add_class("fw-prime-max_size")
        ControlLink((self, "max_size"), (sliders["max_size"], "value"), self._control_error)
        self._sliders = sliders
        self._class_dropdown = self.class_control()
        wrap = {"flex_flow": "row wrap"}
        self.children = [
            widgets.HBox([self._class_dropdown, self._status_html]),
            widgets.HBox([sliders["a"], sliders["s"], sliders["max_size"]], layout=wrap),
            widgets.HBox([sliders[name] for name in ("b2", "b3", "b4")], layout=wrap),
            self.canvas,
            *([self.grid] if self._owns_grid else []),
        ]
        # show_controls=False given to the constructor was applied before the controls existed
        self._show_own_controls({"new": self.show_controls})
        self._finish_init()
        self._refresh()
        self._show_class_in_own_grid()

    # ------------------------------------------------------------------ validation
    @validator("s")
    def _valid_s(self, proposal):
        return self._result.check_support(proposal["value"])

    @validator("max_size")
    def _valid_max_size(self, proposal):
        return check_int(proposal["value"], "max_size", 1, MAX_SET_SIZE)

    # ------------------------------------------------------------------ reactions
    def _on_threshold(self, name: str) -> None:
        self._refresh()

    def _on_class(self) -> None:
        self._clear_selection()
        self._refresh()
        self._show_class_in_own_grid()

    @traitlets.observe("max_size")
    def _on_max_size(self, change) -> None:
        if not self._ready:
            return
        if change["new"] <= self._result.max_size:
            self._worker.cancel()  # a pending larger search is no longer wanted
            self._refresh()
            return
        previous = min(change["old"], self._result.max_size)
        self._set_status(f"searching tag sets up to size {change['new']}…")
        self._worker.submit(
            lambda: self._result.search_again(change["new"]),
            self._searched,
            lambda error: self._search_failed(change["new"], previous, error),
        )

    def _searched(self, result: PrimeResult) -> None:
        self._result = result
        self._refresh()

    def _search_failed(self, max_size: int, previous: int, error: BaseException) -> None:
        self.max_size = previous
        message = f"l = {max_size}: {error}"
        if not self._worker.background:  # still inside the assignment: refuse it
            raise TraitValueError(message) from error  # (a slider is put back, as for a refusal)
        self._set_status(message, error=True)

    def _on_node_click(self, row: int) -> None:
        self._pick(self._result.row_failure_mode(row))

    def _pick(self, mode: FailureMode) -> None:
        self.show_mode(mode)
        self._notify_select(mode)

    # ------------------------------------------------------------------ public API
    @property
    def result(self) -> PrimeResult:
        return self._result

    @property
    def query(self) -> str:
        """The tag search text (highlights nodes whose tags contain it)."""
        return self.canvas.query

    @query.setter
    def query(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"query: expected a string, got {type(value).__name__}")
        self.canvas.query = value

    @property
    def selected_tags(self) -> tuple[str, ...] | None:
        return self._selected_tags

    def set_thresholds(self, **values) -> None:
        """Set several of ``a``, ``s``, ``b2``, ``b3``, ``b4``, ``max_size``; all or none."""
        allowed = (*self.threshold_names(), "max_size")
        unknown = sorted(set(values) - set(allowed))
        if unknown:
            raise ValueError(f"values: unknown thresholds {unknown}; use {list(allowed)}")
        old = {name: getattr(self, name) for name in values}
        try:
            for name, value in values.items():
                setattr(self, name, value)
        except (TypeError, ValueError):
            for name, value in old.items():
                setattr(self, name, value)
            raise

    @property
    def _answer(self) -> PrimeResult:
        """The result at the view's ``l``: filtered below the searched ``l`` (no new search),
        the searched one while a search for a larger ``l`` runs."""
        return self._result.with_settings(max_size=min(self.max_size, self._result.max_size))

    def _modes(self, class_names: list[str], thresholds: dict) -> list[FailureMode]:
        if not class_names:
            return answer_list([], lambda: "no class is selected")
        return self._answer.failure_modes(class_names, **thresholds)

    def select(self, tags) -> None:
        """Select the node of ``tags`` (a tag set of the current class; ``()`` for the class):
        highlight it, show its images in the grid (errors first) and notify ``on_select``."""
        if self.class_name is None:
            raise ValueError("class_name: no class is selected")
        self._pick(self._result.tag_set_mode(self.class_name, tags, name="class_name"))

    def show_mode(self, mode: FailureMode, title: str | None = None) -> None:
        """Show ``mode``'s images in the grid (errors first) and highlight its node."""
        if isinstance(mode, FailureMode) and self._candidate_row(mode) is not None:
            title = title or mode_title(mode)
        super().show_mode(mode, title=title)

    def highlight(self, mode: FailureMode) -> None:
        """Highlight ``mode``'s node when it is a tag set of the drawn class from this search
        (else the highlight is cleared)."""
        row = self._candidate_row(mode)
        if row is None:
            self._clear_selection()
            return
        self._selected_tags = self._result.row_tags(row)
        self._selected_members = mode.members
        self.canvas.selected_row = row

    def graph(self) -> dict:
        """The drawing's view model for the current class and thresholds (JSON-ready; see
        :func:`failwidgets.viewmodels.lattice.lattice_graph`)."""
        return lattice_graph(
            self._answer,
            self.class_name,
            self.thresholds(),
            max_nodes=self._max_nodes,
            max_context=self._max_context,
        )

    # ------------------------------------------------------------------ helpers
    def _candidate_row(self, mode) -> int | None:
        """The candidate row of ``mode`` if it is a tag set of the drawn class, else None."""
        row = self._result.mode_row(mode)
        return row if row is not None and mode.class_name == self.class_name else None

    def _refresh(self) -> None:
        graph = self.graph()
        with self.canvas.hold_sync():
            self.canvas.graph = graph
            self.canvas.selected_row = selected_row(graph, self._selected_tags)
        self._set_status(status_text(graph))

    def _clear_selection(self) -> None:
        self._selected_tags = None
        self._selected_members = np.zeros(0, dtype=np.int64)
        self.canvas.selected_row = -1

    def _show_class_in_own_grid(self) -> None:
        root = None if self.class_name is None else self._result.root_row(self.class_name)
        if not self._owns_grid or root is None:
            return
        images = self._result.row_members(root, errors_first=True)
        n_errors = int((~self.evalset.correct[images]).sum())
        self.grid.show(images, title=class_title(self.class_name, len(images), n_errors))
