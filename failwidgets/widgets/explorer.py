"""Explorer: the five methods in one linked workspace.

One class selector and one panel of thresholds drive every view (TreeView for Barlow,
LatticeView for PRIME, ConceptMapView for CES, DirectionsView, ScenarioView for Defuse); the
views share one :class:`~failwidgets.widgets.grid.ImageGrid`. Selecting a failure mode in any
view (or in the failure-mode table) shows its images in the grid, and "Explain with CES" sends
the grid's selection, or else the selected mode's members, to the concept map. A sortable table
lists every view's failure modes (method, class, description, size, accuracy, drop, held-out
drop) and the Jaccard agreement between the member sets that different methods found for the
selected class.

The Explorer does no analysis: it sets the views' public thresholds and class, listens to their
``on_select`` and asks them for ``failure_modes()``. A view whose widget module or inputs are
missing is left out with the reason shown (:attr:`Explorer.unavailable`); nothing crashes.

The table and the agreement are recomputed on a worker thread after a short pause, each request
with a new generation number: only the latest request's result is shown, so a burst of slider
moves never leaves a stale table on screen. :meth:`Explorer.failure_modes` itself always
computes from the views' current state, synchronously.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
import pandas as pd
import traitlets

from ..assets import DEMO_METHODS, FromAssets, ViewUnavailable
from ..checks import check_int
from ..data import EvalSet
from ..modes import FailureMode, modes_to_frame
from ..text import plural
from ..thresholds import THRESHOLDS as METHOD_THRESHOLDS
from ..viewmodels.explorer import (
    class_images_title,
    class_rows,
    mode_title,
    selection_html,
    status_html,
    table_caption,
)
from .explorer_sharing import ExplorerSharing
from .failure_view import FailureView
from .grid import ImageGrid, _IndexArray
from .latest import LatestWins
from .mode_collector import ModeCollector
from .mode_table import ModeTable, sort_frame
from .threshold_controls import ControlLink
from .threshold_panel import ThresholdPanel

__all__ = ["Explorer", "METHODS", "THRESHOLDS", "DEMO_METHODS"]


# ---------------------------------------------------------------------- what can be composed
@dataclass(frozen=True)
class MethodInfo:
    """A method's view: its tab title and the class name of its widget."""

    title: str
    view: str


METHODS: dict[str, MethodInfo] = {
    "barlow": MethodInfo("Tree · Barlow", "TreeView"),
    "prime": MethodInfo("Lattice · PRIME", "LatticeView"),
    "ces": MethodInfo("Concepts · CES", "ConceptMapView"),
    "directions": MethodInfo("Directions", "DirectionsView"),
    "defuse": MethodInfo("Scenarios · Defuse", "ScenarioView"),
}
#: Tab titles of the views that are not a method's.
OTHER_VIEWS = {"map": "Embedding map"}


THRESHOLDS = METHOD_THRESHOLDS
"""Each method's thresholds (:data:`failwidgets.thresholds.THRESHOLDS`): the panel's sliders."""

DEBOUNCE_S = 0.15


# ---------------------------------------------------------------------- the widget
class Explorer(FromAssets, ThresholdPanel, ExplorerSharing, widgets.VBox):
    """The failure-analysis views of one EvalSet, linked: one class, one grid, one table.

    Parameters
    ----------
    evalset : EvalSet
        The samples every view shows.
    views : mapping of name -> view, factory or None
        The views to compose, keyed by method (``"barlow"``, ``"prime"``, ``"ces"``,
        ``"directions"``, ``"defuse"``) or any other name. A value is a view widget built with
        ``grid=explorer_grid`` (see ``grid``), a factory ``factory(grid) -> view`` (the usual
        way: the Explorer passes its grid), or None (not given: left out). A factory that
        raises is left out with its reason in :attr:`unavailable`. A method view
        (:class:`~failwidgets.widgets.failure_view.FailureView`) under another name is
        recognised by its ``method``; its own class selector and threshold sliders are hidden
        (``show_controls=False``): the Explorer shows each once, linked to the view's traits.
    grid : ImageGrid, optional
        The shared grid; default: a new one over ``evalset`` (or the grid of the given views).
    class_name : str or int, optional
        The class selected first; default: the first view's class.
    split : str or None
        Split whose images are shown on a class change and over which the agreement is
        measured (member sets are cut to it, so methods fitted on different images compare on
        the same ones). None: all images.
    heldout_split : str, optional
        The split on which each failure mode's rule is re-applied to measure
        ``heldout_drop`` (:func:`failwidgets.rules.heldout`; it must not have been searched):
        Barlow's tree path, PRIME's tag set, the failure direction's threshold, the CES
        concept, Defuse's mixture component. A drop a view measured itself is kept (e.g.
        DirectionsView's ``heldout_split``).
    max_agreement_modes : int
        Failure modes per method in the agreement matrix (strongest drops first).
    background : bool
        Recompute the table and the agreement on a worker thread (latest request wins); when
        False they are recomputed at once (tests, scripts).

    Attributes
    ----------
    class_name : str
        The selected class (observable; setting it sets every view's class).
    views : dict
        The shown views by name.
    unavailable : dict
        Views left out, name -> reason.
    grid : ImageGrid
    table : ModeTable
        The failure-mode table widget.
    controls : dict
        The threshold sliders, ``(view name, attribute) -> slider``.
    selected_mode : FailureMode or None
        The last failure mode selected in a view or the table (a read-only trait).
    selected_indices : np.ndarray
        The images selected in the shared grid (a trait; setting it selects them).
    threshold_traits : dict
        ``(view name, attribute) -> trait name``: every threshold is also a typed, bounded
        trait of the Explorer named ``<view>_<attribute>`` (``barlow_delta``, ``prime_a``,
        ``directions_k``...). ``class_name``, ``selected_mode``, ``selected_indices`` and these
        work with ``observe`` and ``traitlets.link``; ``ipywidgets.jslink`` links the sliders
        in ``controls`` in the browser.
    source_indices : np.ndarray or None
        For an Explorer over a subset of a larger EvalSet (``from_demo``), the index of each
        of its rows in the larger one; None otherwise.
    timings : dict
        Seconds spent building (``from_demo``) and in the last table update.
    """

    class_name = traitlets.Unicode("", help="the selected class, shown by every view")
    selected_mode = traitlets.Instance(
        FailureMode,
        allow_none=True,
        read_only=True,
        help="the last failure mode selected in a view or the table (None: none)",
    )
    selected_indices = _IndexArray(help="the images selected in the shared grid")

    def __init__(
        self,
        evalset: EvalSet,
        views: Mapping | None = None,
        *,
        grid: ImageGrid | None = None,
        class_name: str | int | None = None,
        split: str | None = "test",
        heldout_split: str | None = None,
        max_agreement_modes: int = 6,
        background: bool = True,
        **kwargs,
    ):
        if not isinstance(evalset, EvalSet):
            raise TypeError(f"evalset: expected an EvalSet, got {type(evalset).__name__}")
        if views is None:
            views = {}
        if not isinstance(views, Mapping):
            raise TypeError(
                "views: expected a mapping of name -> view, factory(grid) or None, "
                f"got {type(views).__name__}"
            )
        for name in views:
            if not isinstance(name, str) or not name:
                raise TypeError(f"views: names must be non-empty strings, got {name!r}")
        self._evalset = evalset
        for name, value in views.items():
            self._check_view_value(name, value)
        if class_name is not None:  # before any factory runs
            class_name = evalset.class_names[self._class_arg(class_name)]
        if grid is not None:
            if not isinstance(grid, ImageGrid):
                raise TypeError(f"grid: expected an ImageGrid, got {type(grid).__name__}")
            if grid.evalset is not evalset:
                raise ValueError("grid: the shared ImageGrid must show the same EvalSet")
        self._split = self._check_split(evalset, split, "split")
        self._heldout_split = self._check_split(evalset, heldout_split, "heldout_split")
        max_agreement_modes = check_int(max_agreement_modes, "max_agreement_modes", 1)
        if not isinstance(background, bool):
            raise TypeError(f"background: expected True or False, got {background!r}")

        self._background = background
        self._syncing = 0
        self._selected_mode: FailureMode | None = None
        self._messages: list[str] = []
        self._refresher = LatestWins(
            "fw-explorer", background=background, debounce_s=DEBOUNCE_S
        )  # a burst of slider moves computes the table once
        self._last_modes: list[FailureMode] = []
        self.saved_modes: list[FailureMode] | None = None  # the table of a loaded session
        self._ready = False
        self.timings: dict[str, float] = {}
        self.source_indices: np.ndarray | None = None

        if grid is None:
            grid = next(
                (
                    v.grid
                    for v in views.values()
                    if isinstance(v, widgets.Widget)
                    and isinstance(getattr(v, "grid", None), ImageGrid)
                ),
                None,
            )
            if grid is not None and grid.evalset is not evalset:
                grid = None
        self.grid = (
            grid if grid is not None else ImageGrid(evalset, [], page_size=60, thumb_size=80)
        )
        self.grid.add_class("fw-explorer-grid")

        self.views: dict[str, widgets.Widget] = {}
        self.unavailable: dict[str, str] = {}
        self._methods: dict[str, str | None] = {}
        for name in self._ordered(views):
            self._add_view(name, views[name])
        self._modes = ModeCollector(
            evalset,
            self.views,
            split=self._split,
            heldout_split=self._heldout_split,
            max_agreement=int(max_agreement_modes),
            on_message=self._message,
        )

        names = list(evalset.class_names)
        first = self._initial_class(class_name)
        self._class_dropdown = widgets.Dropdown(
            options=names,
            value=first,
            description="Class",
            layout=widgets.Layout(width="min(100%, 260px)"),
            style={"description_width": "40px"},
        )
        self._class_dropdown.add_class("fw-explorer-class")
        self._status = widgets.HTML(layout=widgets.Layout(flex="1 1 300px"))
        self._status.add_class("fw-explorer-status")
        title = widgets.HTML("<b style='font-size: 1.15em'>failwidgets Explorer</b>")
        header = widgets.HBox(
            [title, self._class_dropdown, self._status],
            layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
        )

        self.controls: dict[tuple[str, str], widgets.Widget] = {}
        self.threshold_traits: dict[tuple[str, str], str] = {}
        thresholds = self._build_thresholds()

        self.table = ModeTable()
        self.table.add_class("fw-explorer-table")
        self.table.on_select(self._on_table_select)
        self._table_scope = widgets.ToggleButtons(
            options=[("selected class", "class"), ("all classes", "all")],
            value="class",
            style={"button_width": "auto"},
        )
        self._table_scope.add_class("fw-explorer-scope")
        table_box = widgets.VBox([self._table_scope, self.table])
        table_box.add_class("fw-explorer-modes")

        tab_children = list(self.views.values()) + [table_box]
        self.tabs = widgets.Tab(children=tab_children)
        for i, name in enumerate(self.views):
            self.tabs.set_title(i, self._title(name))
        self.tabs.set_title(len(self.views), "All failure modes")
        self.tabs.add_class("fw-explorer-tabs")

        self._selection_text = widgets.HTML(layout=widgets.Layout(flex="1 1 300px"))
        self._selection_text.add_class("fw-explorer-selection")
        self._explain_button = widgets.Button(
            description="Explain with CES",
            icon="lightbulb-o",
            tooltip="Explain the images selected in the grid (or the selected failure mode) "
            "with concept explanation scores",
            disabled="ces" not in self._methods.values(),
        )
        self._explain_button.add_class("fw-explorer-explain")
        self._explain_button.on_click(lambda _: self.explain_selection())
        selection_bar = widgets.HBox(
            [self._selection_text, self._explain_button],
            layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
        )

        super().__init__(
            children=[header, thresholds, self.tabs, selection_bar, self.grid], **kwargs
        )
        self.add_class("fw-explorer")

        for name, view in self.views.items():
            if isinstance(view, traitlets.HasTraits) and view.has_trait("class_name"):
                view.observe(self._view_class_changed, "class_name")
            on_select = getattr(view, "on_select", None)
            if callable(on_select):
                on_select(self._view_selected(name))
        self._table_scope.observe(lambda change: self._request_refresh(), "value")
        self.grid.observe(self._on_grid_selected, "selected")

        self.class_name = first  # sets every view's class, fills the grid and the table
        ControlLink((self, "class_name"), (self._class_dropdown, "value"), on_error=self._message)
        self._ready = True
        self._render_selection()
        self._refresh_now()
        self._render_status()

    # ------------------------------------------------------------------ construction
    @staticmethod
    def _check_split(evalset: EvalSet, split, name: str) -> str | None:
        if split is None:
            return None
        if not isinstance(split, str):
            raise TypeError(f"{name}: expected a split name or None, got {type(split).__name__}")
        if evalset.split is None:
            raise ValueError(f"{name}: the EvalSet has no split column; pass {name}=None")
        if not np.any(evalset.split == split):
            present = sorted(set(evalset.split.tolist()))
            raise ValueError(f"{name}: no samples in split {split!r}; splits present: {present}")
        return split

    @staticmethod
    def _ordered(views: Mapping) -> list[str]:
        known = [key for key in METHODS if key in views]
        return known + [name for name in views if name not in METHODS]

    def _title(self, name: str) -> str:
        method = self._methods.get(name)
        if name in METHODS:
            return METHODS[name].title
        if name in OTHER_VIEWS:
            return OTHER_VIEWS[name]
        if method is not None:
            return f"{name} · {method}"
        return name

    def _check_view_value(self, name: str, value) -> None:
        """Bad arguments raise; a factory's failure only leaves its view out."""
        if value is None or callable(value) and not isinstance(value, widgets.Widget):
            return
        if not isinstance(value, widgets.Widget):
            raise TypeError(
                f"views[{name!r}]: expected a view widget, a factory(grid) or None, "
                f"got {type(value).__name__}"
            )
        self._check_view(name, value)

    def _check_view(self, name: str, view) -> None:
        if not isinstance(view, widgets.Widget):
            raise TypeError(f"views[{name!r}]: expected a widget, got {type(view).__name__}")
        view_evalset = getattr(view, "evalset", None)
        if isinstance(view_evalset, EvalSet) and view_evalset is not self._evalset:
            raise ValueError(f"views[{name!r}]: the view shows another EvalSet")

    def _add_view(self, name: str, value) -> None:
        if value is None:
            self.unavailable[name] = "not given"
            return
        if isinstance(value, widgets.Widget):
            view = value
        else:
            try:
                view = value(self.grid)
                if view is None:
                    raise ViewUnavailable("its factory returned None")
                self._check_view(name, view)
            except ViewUnavailable as reason:
                self.unavailable[name] = str(reason)
                return
            except ImportError as error:  # a view or engine not installed / not written yet
                self.unavailable[name] = f"not available: {error}"
                return
            except Exception as error:  # the factory failed (e.g. missing weights): say why
                self.unavailable[name] = f"{type(error).__name__}: {error}"
                return
        self.views[name] = view
        if isinstance(view, FailureView):
            self._methods[name] = view.method
            view.show_controls = False  # the Explorer's panel shows its class and thresholds
        else:
            self._methods[name] = name if name in METHODS else None

    def _initial_class(self, class_name) -> str:
        names = list(self._evalset.class_names)
        if class_name is not None:
            return names[self._class_arg(class_name)]
        for view in self.views.values():
            value = getattr(view, "class_name", None)
            if isinstance(value, str) and value in names:
                return value
        return names[0]

    # ------------------------------------------------------------------ public API
    @property
    def evalset(self) -> EvalSet:
        return self._evalset

    @property
    def selected_members(self) -> np.ndarray:
        """EvalSet indices of the selected failure mode (empty when none)."""
        if self._selected_mode is None:
            return np.zeros(0, dtype=np.int64)
        return np.asarray(self._selected_mode.members, dtype=np.int64).copy()

    @property
    def messages(self) -> list[str]:
        """What went wrong while driving the views (newest last)."""
        return list(self._messages)

    def set_class(self, name: str | int) -> None:
        """Select class ``name`` (a name or index) in every view."""
        self.class_name = self._evalset.class_names[self._class_arg(name)]

    def select_mode(self, mode: FailureMode) -> None:
        """Make ``mode`` the selection: its class is selected and its images (errors first)
        are shown in the grid."""
        if not isinstance(mode, FailureMode):
            raise TypeError(f"mode: expected a FailureMode, got {type(mode).__name__}")
        if mode.class_name in self._evalset.class_names and mode.class_name != self.class_name:
            self.class_name = mode.class_name
        members = self._evalset.errors_first(mode.members)
        n_errors = int(np.count_nonzero(~self._evalset.correct[members]))
        self.grid.show(members, title=mode_title(mode, n_errors))
        self._set_selected(mode)

    def explain_selection(self) -> np.ndarray | None:
        """Send the grid's selected images, or else the selected mode's members, to CES.

        Returns the explained indices (None when there is no CES view or nothing selected).
        """
        name = self._view_of("ces")
        if name is None:
            self._message("Explain with CES: there is no concept map (CES view) in this Explorer.")
            return None
        selected = np.asarray(self.grid.selected, dtype=np.int64)
        if len(selected):
            indices = selected
            title = f"{plural(len(selected), 'image')} selected in the grid"
        elif self._selected_mode is not None and self._selected_mode.size:
            mode = self._selected_mode
            indices = np.asarray(mode.members, dtype=np.int64)
            title = f"{mode.method} · {mode.class_name}: {mode.description} ({mode.size} images)"
        else:
            self._message("Explain with CES: select images in the grid or a failure mode first.")
            return None
        view = self.views[name]
        try:
            view.explain(indices, title=title)
        except Exception as error:
            self._message(f"{name}: could not explain the selection ({error})")
            return None
        self.tabs.selected_index = list(self.views).index(name)
        self._request_refresh()
        return indices

    def failure_modes(self, class_name: str | None = None) -> pd.DataFrame:
        """Every view's failure modes at the current thresholds, as one DataFrame.

        Columns of :func:`~failwidgets.modes.modes_to_frame` (method, class_name, description,
        size, accuracy, drop, heldout_drop, members), sorted as the table is. ``class_name``
        keeps one class's modes.
        """
        name = None
        if class_name is not None:
            name = self._evalset.class_names[self._class_arg(class_name)]
        modes = self._modes.collect(name)
        return sort_frame(modes_to_frame(modes), self.table.sort_by, self.table.ascending)

    def agreement(self, class_name: str | None = None) -> pd.DataFrame:
        """Jaccard overlaps of the member sets of one class's failure modes (default: the
        selected class), at most ``max_agreement_modes`` per method, strongest drop first;
        members are cut to ``split`` first. Rows and columns are labelled ``method: description``.
        """
        name = self.class_name if class_name is None else class_name
        name = self._evalset.class_names[self._class_arg(name)]
        modes = self._modes.agreement_modes(self._modes.collect(name), name)
        return _jaccard(modes)

    def wait(self, timeout: float | None = None) -> None:
        """Block until every view's latest background work and the latest table update have
        been drawn."""
        for view in self.views.values():
            if isinstance(view, FailureView):
                view.wait(timeout)
        self._refresher.wait(timeout)

    def close(self) -> None:
        """Stop the worker and close the Explorer's own widgets (the views are the caller's)."""
        refresher = self.__dict__.get("_refresher")  # also from __del__ after a failed __init__
        if refresher is not None:
            refresher.close()
        super().close()

    # ------------------------------------------------------------------ class
    def _class_arg(self, value) -> int:
        try:
            return self._evalset.class_index(value)
        except (TypeError, ValueError) as error:
            raise type(error)(str(error).replace("cls:", "class_name:", 1)) from None

    @traitlets.validate("class_name")
    def _valid_class_name(self, proposal):
        value = proposal["value"]
        if not isinstance(value, str):
            raise TypeError(f"class_name: expected a class name, got {type(value).__name__}")
        if value not in self._evalset.class_names:
            raise ValueError(
                f"class_name: unknown class {value!r}; known: {list(self._evalset.class_names)[:10]}"
            )
        return value

    @traitlets.observe("class_name")
    def _on_class_name(self, change):
        name = change["new"]
        self._syncing += 1  # the views follow the Explorer, not the reverse
        try:
            for view_name, view in self.views.items():
                try:
                    if isinstance(view, FailureView):
                        view.class_name = name
                    elif callable(getattr(view, "set_class", None)):
                        view.set_class(name)  # a user's own widget with a class
                except Exception as error:  # a view that cannot show this class says why
                    self._message(f"{view_name}: cannot show class {name!r} ({error})")
        finally:
            self._syncing -= 1
        self._selected_mode = None
        self.set_trait("selected_mode", None)
        self.table.mark(None)
        self.table.class_name = name
        self._show_class_images()
        if self._ready:
            self._render_selection()
            self._request_refresh()

    def _view_class_changed(self, change):
        if self._syncing or not self._ready:
            return
        name = change["new"]
        if isinstance(name, str) and name in self._evalset.class_names and name != self.class_name:
            self.class_name = name

    def _show_class_images(self) -> None:
        rows = class_rows(self._evalset, self.class_name, self._split)
        n_errors = int(np.count_nonzero(~self._evalset.correct[rows]))
        self.grid.show(
            rows, title=class_images_title(self.class_name, len(rows), n_errors, self._split)
        )

    # ------------------------------------------------------------------ selection
    def _view_of(self, method: str) -> str | None:
        return next((name for name, m in self._methods.items() if m == method), None)

    def _view_selected(self, name: str):
        def callback(mode):
            if not isinstance(mode, FailureMode):
                return
            view = self.views[name]
            if getattr(view, "grid", None) is not self.grid:  # a view with its own grid
                members = self._evalset.errors_first(mode.members)
                self.grid.show(members, title=f"{mode.method} · {mode.description}")
            self._set_selected(mode)

        return callback

    def _on_table_select(self, mode: FailureMode) -> None:
        self.select_mode(mode)

    def _set_selected(self, mode: FailureMode) -> None:
        self._selected_mode = mode
        self.set_trait("selected_mode", mode)
        self.table.mark(mode)
        for view in self.views.values():  # each view marks the mode in its drawing
            if isinstance(view, FailureView):
                view.highlight(mode)
            elif callable(getattr(view, "show_mode", None)):  # the embedding map
                view.show_mode(mode)
        self._render_selection()

    def _on_grid_selected(self, change):
        self.selected_indices = change["new"]
        if self._ready:
            self._render_selection()

    @traitlets.validate("selected_indices")
    def _valid_selected_indices(self, proposal):
        # the grid checks the indices (range, duplicates) and keeps the selection
        self.grid.selected = proposal["value"]
        return self.grid.selected

    def _render_selection(self) -> None:
        self._selection_text.value = selection_html(self._selected_mode, len(self.grid.selected))

    # ------------------------------------------------------------------ messages
    def _message(self, text: str) -> None:
        self._messages.append(text)
        del self._messages[:-20]
        self._render_status()

    def _render_status(self) -> None:
        self._status.value = status_html(self.unavailable, (self._messages or [None])[-1])

    # ------------------------------------------------------------------ failure modes
    def _request_refresh(self) -> None:
        """Recompute the table and the agreement on the worker; only the latest is drawn."""
        if self._ready:
            self.table.busy = True
            self._refresher.submit(self._compute_table, self._draw_table, self._table_failed)

    def _refresh_now(self) -> None:
        self._refresher.cancel()
        try:
            self._draw_table(self._compute_table())
        except Exception as error:
            self._table_failed(error)

    def _compute_table(self) -> tuple:
        start = time.perf_counter()
        class_name, scope = self.class_name, self._table_scope.value
        modes = self._modes.collect(None if scope == "all" else class_name)
        agreement = self._modes.agreement_modes(modes, class_name)
        values = _jaccard(agreement).to_numpy() if agreement else np.zeros((0, 0))
        return start, class_name, scope, modes, agreement, values

    def _table_failed(self, error: BaseException) -> None:
        self.table.busy = False  # never leave the table busy
        self._message(f"failure-mode table: {type(error).__name__}: {error}")

    def _draw_table(self, computed: tuple) -> None:
        start, class_name, scope, modes, agreement, values = computed
        self._last_modes = modes
        shown = modes if scope == "all" else [m for m in modes if m.class_name == class_name]
        with self.table.hold_sync():
            self.table.set_modes(shown, caption=table_caption(shown, scope, class_name))
            self.table.set_agreement(class_name, agreement, values)
            self.table.busy = False
        self.timings["table"] = time.perf_counter() - start


def _jaccard(modes: list[FailureMode]) -> pd.DataFrame:
    from ..modes import jaccard_matrix

    return jaccard_matrix(modes)
