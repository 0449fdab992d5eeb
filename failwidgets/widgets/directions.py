"""DirectionsView: failure directions per class, with aligned images and captions.

A thin :class:`~failwidgets.widgets.failure_view.FailureView` over a
:class:`~failwidgets.methods.directions.FailureDirectionsResult`:

- a bqplot bar chart of every class's failure strength (click a bar to select the class);
- the class selector and the K slider of the base (``show_controls``);
- for the selected class, two one-row :class:`~failwidgets.widgets.grid.ImageGrid` strips of
  the K test images with the most negative (hardest) and most positive (easiest) decision
  values, the values shown as scores;
- a caption panel (anywidget) with the top hard and easy captions; clicking a caption shows
  its K nearest test images of the class in the shared grid and the model's accuracy on
  them next to the caption (the paper's Fig. 7b). Skipped classes show their stated reason,
  and a class without captions shows why (:meth:`FailureDirectionsResult.caption_reason`).

A class whose direction is not fitted yet (a result built with ``classes=[]``) is fitted on
the view's worker when it is opened: the switch returns at once, the view shows the class as
pending ("fitting <class>…") and draws it when its fit lands; a newer class switch wins.

The view does no analysis: it asks the result for decision values, captions, caption
subpopulations and failure modes, builds what it draws with
:mod:`failwidgets.viewmodels.directions`, and wires the widgets.
"""

from __future__ import annotations

import pathlib

import anywidget
import ipywidgets as widgets
import numpy as np
import traitlets

from ..checks import check_int as _check_int
from ..data import EvalSet
from ..methods.directions import METHOD, FailureDirectionsResult
from ..modes import FailureMode
from ..thresholds import spec as threshold_spec
from ..viewmodels import directions as vm
from .failure_view import ClassName, FailureView
from .grid import ImageGrid
from .guard import (
    BrowserMessageError,
    Checked,
    GuardedState,
    answer_errors,
    validator,
)
from .threshold_controls import ControlLink, Threshold

__all__ = ["DirectionsPanel", "DirectionsView"]

_STATIC = pathlib.Path(__file__).parent.parent / "static"
SIDES = vm.SIDES
MAX_STRIP_SIZE = 50


class DirectionsPanel(GuardedState, anywidget.AnyWidget):
    """The caption panel of a :class:`DirectionsView` (one class's view model, clicks back).

    The view owns it: it writes ``view_model`` (the browser may set no trait) and handles the
    panel's messages (``{"type": "caption", "side", "rank", "caption"}`` and
    ``{"type": "tail"}``; one that cannot be applied is answered with ``{"type": "error"}``).
    """

    _esm = _STATIC / "directions.js"
    view_model = traitlets.Dict({}).tag(sync=True)


class DirectionsView(FailureView):
    """Failure directions of an EvalSet's classes: strengths, aligned images and captions.

    Parameters
    ----------
    evalset : EvalSet
        The samples the directions were found on (same labels and predictions).
    result : FailureDirectionsResult
        From :func:`~failwidgets.methods.directions.find_failure_directions`. Captions need
        its ``text_encoder``; without one the view shows images only.
    grid : ImageGrid, optional
        The shared grid in which selections (a caption's nearest images, a direction's
        hardest images) are shown. When None the view creates its own and shows it.
    k : int
        Images per strip, per caption subpopulation and per failure mode (the K slider).
    n_captions : int
        Hard and easy captions listed per class.
    split : str, optional
        Split whose images are shown and checked (default: the result's ``mode_split``,
        "test" unless set).
    class_name : str or int, optional
        The class shown first (default: the strongest failure direction).
    heldout_split : str, optional
        A split (e.g. "extra") on which :meth:`failure_modes` re-applies each direction
        (its K most negative images) to measure ``heldout_drop`` (default: the result's).
    strip_size : int
        Thumbnails per strip page (one row).
    thumb_size : int
        Thumbnail size of the strips in pixels.
    background : bool
        Fit a pending class's direction on the view's worker thread (default) or at once.

    Attributes
    ----------
    class_name : str
        The selected class (observable; assigning it changes the class).
    k, n_captions : int
        The thresholds above (observable; assigning them updates the drawing).
    result : FailureDirectionsResult
        The result the view shows, with ``split`` and ``heldout_split`` as its
        ``mode_split`` and ``heldout_split`` (a copy sharing the fits when they differ
        from the given result's: :meth:`FailureDirectionsResult.with_splits`).
    grid : ImageGrid
        The grid selections are shown in.
    hard_strip, easy_strip : ImageGrid
        The strips of the most negative / most positive images.
    chart : bqplot.Figure
        The bar chart of the failure strengths.
    panel : DirectionsPanel
        The caption panel.
    """

    method = METHOD
    class_name = ClassName(help="the selected class")
    k = Threshold(METHOD, "k")
    n_captions = Checked(5, help="hard and easy captions listed per class")

    def __init__(
        self,
        evalset: EvalSet,
        result: FailureDirectionsResult,
        *,
        grid: ImageGrid | None = None,
        k: int = threshold_spec(METHOD, "k").default,
        n_captions: int = 5,
        split: str | None = None,
        class_name: str | int | None = None,
        heldout_split: str | None = None,
        strip_size: int = 8,
        thumb_size: int = 64,
        background: bool = True,
        **kwargs,
    ):
        super().__init__(evalset, grid=grid, background=background, **kwargs)
        if not isinstance(result, FailureDirectionsResult):
            raise TypeError(
                f"result: expected a FailureDirectionsResult (find_failure_directions), "
                f"got {type(result).__name__}"
            )
        result.check_same_samples(evalset, "result")
        splits = {}
        if split is not None:
            splits["mode_split"] = result.check_split(split, "split")
        if heldout_split is not None:
            splits["heldout_split"] = result.check_split(heldout_split, "heldout_split")
        strip_size = _check_int(strip_size, "strip_size", 1, MAX_STRIP_SIZE)
        thumb_size = _check_int(thumb_size, "thumb_size", 1)
        self.result = result.with_splits(**splits)
        self._selection = vm.Selection()  # the tail or a caption, and the checked captions
        self._tail_wanted = False  # a class picked in the view: select its tail once drawn
        self._drawn_pending = frozenset(result.model.pending_)
        self.k = k
        self.n_captions = n_captions
        self.class_name = result.default_class() if class_name is None else class_name

        self.panel = DirectionsPanel()
        self.panel.on_msg(self._on_panel_message)
        self.panel.layout = widgets.Layout(flex="1 1 320px", min_width="280px")
        self.hard_strip, self.easy_strip = (
            ImageGrid(evalset, [], page_size=strip_size, thumb_size=thumb_size, sort="none")
            for _ in SIDES
        )
        self.hard_strip.add_class("fw-directions-hard")
        self.easy_strip.add_class("fw-directions-easy")
        self._dropdown = self._class_dropdown()
        largest = int(self.result.class_sizes().max())  # K's slider: up to the largest class
        (self._slider,) = self.threshold_controls(k=(1, largest))
        self.chart, self._bars = self._build_chart()
        self._bars.observe(self._on_bar_selected, "selected")

        controls = widgets.HBox([self._dropdown, self._slider, self._status_html])
        controls.layout.flex_flow = "row wrap"
        controls.layout.align_items = "center"
        top = widgets.HBox([self.chart, self.panel])
        top.layout.flex_flow = "row wrap"
        children = [controls, top, self.hard_strip, self.easy_strip]
        self.children = children + ([self.grid] if self._owns_grid else [])
        self.add_class("fw-directions-view")
        self._finish_init()
        self._show_class()

    # ------------------------------------------------------------------ construction helpers
    def _class_dropdown(self) -> widgets.Dropdown:
        """The class selector, its labels showing each class's strength.

        Like the base's :meth:`class_control`, but the link is kept: relabelling a dropdown
        selects its first option, which the link must not pass on to ``class_name``.
        """
        dropdown = widgets.Dropdown(
            options=vm.class_options(self.result),
            value=self.class_name,
            description="Class",
            layout=widgets.Layout(width="min(100%, 320px)"),
        )
        dropdown.add_class(f"fw-{self.method}-class")
        self._class_link = ControlLink(
            (self, "class_name"), (dropdown, "value"), on_error=self._control_error
        )
        dropdown.observe(self._on_dropdown, "value")  # after the link: sees class_name set
        self._adopt([dropdown])
        return dropdown

    def _build_chart(self):
        import bqplot

        options = vm.chart_options(self.result)
        x_scale, y_scale = bqplot.OrdinalScale(), bqplot.LinearScale(**options["y_scale"])
        bars = bqplot.Bars(
            scales={"x": x_scale, "y": y_scale},
            selected=[self.class_index],
            tooltip=bqplot.Tooltip(fields=["x"], labels=["class"]),
            **options["bars"],
        )
        figure = bqplot.Figure(
            marks=[bars],
            axes=[
                bqplot.Axis(scale=x_scale, **options["x_axis"]),
                bqplot.Axis(scale=y_scale, **options["y_axis"]),
            ],
            layout=widgets.Layout(**options["layout"]),
            **options["figure"],
        )
        figure.add_class("fw-directions-chart")
        return figure, bars

    # ------------------------------------------------------------------ public API
    @property
    def split(self) -> str:
        """The split whose images are shown (the result's ``mode_split``)."""
        return self.result.mode_split

    @property
    def class_index(self) -> int:
        return self.result.class_index(self.class_name)

    @property
    def skipped_reason(self) -> str | None:
        """Why the selected class has no failure direction (None when it has one)."""
        return self.result.model.skipped_.get(self.class_index)

    @property
    def pending(self) -> bool:
        """Whether the selected class's direction is still being fitted (not drawn yet)."""
        return self.result.is_pending(self.class_index)

    def captions(self, side: str = "hard"):
        """The class's top ``n_captions`` captions (DataFrame caption, score).

        When the class has none, the empty frame's ``reason`` (shown in its repr) says why
        (:meth:`FailureDirectionsResult.caption_reason`).
        """
        return vm.caption_table(self.result, self.class_index, side, self.n_captions)

    @property
    def has_captions(self) -> bool:
        """Whether the selected class has captions (a direction and a text encoder)."""
        return vm.has_captions(self.result, self.class_index)

    def select_caption(self, caption: str) -> FailureMode:
        """Show the K images of the class nearest to ``caption`` in the grid, with accuracy.

        Any caption can be checked, not only the listed ones. Returns the selection as a
        :class:`~failwidgets.modes.FailureMode` (also passed to the ``on_select`` callbacks).
        """
        self._selection.choose_caption(self.result, caption)
        return self._apply_selection()

    def show_tail(self) -> FailureMode:
        """Select the class's failure direction: its K hardest images, shown in the grid."""
        self._selection.choose_tail(self.result, self.class_index)
        return self._apply_selection()

    def clear_selection(self) -> None:
        """Forget the current selection (the grid keeps what it shows)."""
        self._selection.current = None
        self._selected_members = np.zeros(0, dtype=np.int64)
        self._render_panel()

    def _modes(self, class_names: list[str], thresholds: dict) -> list[FailureMode]:
        """The result's failure modes (:meth:`FailureDirectionsResult.failure_modes`).

        Pending classes are fitted first (an explicit call: it waits for them); their bars
        are drawn afterwards.
        """
        modes = self.result.failure_modes(class_names, **thresholds)
        with self._worker.lock:
            self._redraw_strengths()  # the classes fitted on the way
        return modes

    # ------------------------------------------------------------------ validation
    @validator("n_captions")
    def _valid_n_captions(self, proposal):
        return _check_int(proposal["value"], "n_captions", 1)

    # ------------------------------------------------------------------ reactions
    def _on_class(self) -> None:
        with self._worker.lock:  # a fit landing now draws before or not at all
            self._selection.reset()
            self._selected_members = np.zeros(0, dtype=np.int64)
            self._tail_wanted = False
            self._bars.selected = [self.class_index]
            self._show_class()

    def _show_class(self) -> None:
        """Draw the selected class, or show it pending and fit it on the worker first."""
        c, name = self.class_index, self.class_name
        if not self.result.is_pending(c):
            self._worker.cancel()  # a newer class switch wins over a fit still running
            self._draw_class()
            return
        self._set_status(f"fitting {name}…")
        self._render_strips()
        self._render_panel()
        self._worker.submit(
            lambda: self.result.prepare_class(c), lambda _: self._draw_class(), self._fit_failed
        )

    def _draw_class(self) -> None:
        """Bars, strips and captions of the (fitted) selected class."""
        self.result.prepare_class(self.class_index)  # at once when fitted already
        self._set_status("")
        self._redraw_strengths()
        self._render_strips()
        self._render_panel()
        if self._tail_wanted:
            self._tail_wanted = False
            self._show_picked_class()

    def _fit_failed(self, error: BaseException) -> None:
        self._set_status(
            f"fitting {self.class_name} failed: {type(error).__name__}: {error}", error=True
        )

    def _on_threshold(self, name: str) -> None:  # k
        with self._worker.lock:
            if self.pending:  # drawn with the new K when the fit lands
                self._render_panel()
                return
            self._render_strips()
            self._selection.recheck(self.result, self.class_index, self.k)
            if self._selection.current is not None:
                self._apply_selection()
            else:
                self._render_panel()

    @traitlets.observe("n_captions")
    def _on_n_captions(self, change) -> None:
        if self._ready:
            self._render_panel()

    def _on_dropdown(self, change) -> None:
        if not self._class_link.updating:  # picked in the dropdown, not set from Python
            self._class_picked()

    def _on_bar_selected(self, change) -> None:
        bar = vm.picked_bar(change["new"], self.class_index, len(self.result.class_names))
        if bar is not None:
            self.class_name = self.result.class_names[bar]
            self._class_picked()
        self._bars.selected = [self.class_index]  # one highlighted bar: the class

    def _class_picked(self) -> None:
        """A class chosen in this view: select its direction in the grid once it is drawn."""
        with self._worker.lock:  # the fit's delivery sees the wish, or it landed already
            if self.pending:
                self._tail_wanted = True
            else:
                self._show_picked_class()

    def _show_picked_class(self) -> None:
        reason = self.skipped_reason
        if reason is None:
            self.show_tail()
        else:
            self.grid.show([], title=f"{self.class_name}: no failure direction ({reason})")

    @answer_errors
    def _on_panel_message(self, widget, content, buffers) -> None:
        """A click in the caption panel: the direction's tail or a listed caption."""
        try:
            request = vm.panel_request(content, self.result, self.class_index, self.n_captions)
        except vm.ClickError as error:  # answered to the browser, nothing changes
            raise BrowserMessageError(str(error)) from None
        if request[0] == "tail":
            self.show_tail()
        else:
            self.select_caption(request[1])

    # ------------------------------------------------------------------ selection
    def _apply_selection(self) -> FailureMode:
        """Show the current selection in the grid, record its members, tell the callbacks."""
        mode, scores, title = self._selection.show(self.result, self.class_index, self.k)
        self.grid.show(mode.members, scores=scores, title=title)
        self._render_panel()
        self._notify_select(mode)
        return mode

    # ------------------------------------------------------------------ drawing
    def _redraw_strengths(self) -> None:
        """Bars, title and dropdown labels again, when classes were fitted since last drawn."""
        pending = frozenset(self.result.model.pending_)
        if pending == self._drawn_pending:
            return
        self._drawn_pending = pending
        drawn = vm.bars(self.result)
        y_scale = self._bars.scales["y"]
        with self._bars.hold_sync():
            if drawn.low < y_scale.min:
                y_scale.min = drawn.low
            self._bars.y = drawn.heights
            self._bars.colors = drawn.colors
        self.chart.title = drawn.title
        with self._class_link._busy_updating():  # relabelling selects the first option
            self._dropdown.options = vm.class_options(self.result)
            self._dropdown.value = self.class_name

    def _render_strips(self) -> None:
        shown = vm.strips(self.result, self.class_index, self.k)
        for strip, drawn in zip((self.hard_strip, self.easy_strip), shown):
            strip.show(drawn.indices, scores=drawn.scores, title=drawn.title)
            strip.layout.display = drawn.display

    def view_model(self) -> dict:
        """The JSON the caption panel draws (also handy to inspect the view's state); see
        :func:`failwidgets.viewmodels.directions.panel_view_model`."""
        return vm.panel_view_model(
            self.result,
            self.class_index,
            k=self.k,
            n_captions=self.n_captions,
            pending=self.pending,
            selection=self._selection,
        )

    def _render_panel(self) -> None:
        self.panel.view_model = self.view_model()
