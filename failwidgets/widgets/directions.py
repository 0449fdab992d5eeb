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
subpopulations and failure modes, and serialises what it gets.
"""

from __future__ import annotations

import math
import pathlib

import anywidget
import ipywidgets as widgets
import numpy as np
import pandas as pd
import traitlets

from ..checks import check_int as _check_int
from ..data import EvalSet
from ..methods.answers import answer_frame
from ..methods.directions import METHOD, FailureDirectionsResult
from ..modes import FailureMode
from ..text import percent
from ..thresholds import spec as threshold_spec
from .failure_view import ClassName, FailureView
from .grid import ImageGrid, format_score
from .guard import (
    BrowserMessageError,
    Checked,
    GuardedState,
    answer_errors,
    is_int,
    message_int,
    short_repr,
    validator,
)
from .threshold_controls import ControlLink, Threshold

__all__ = ["DirectionsPanel", "DirectionsView"]

_STATIC = pathlib.Path(__file__).parent.parent / "static"
SIDES = ("hard", "easy")
MAX_STRIP_SIZE = 50
BAR_COLOR = "#4a90d9"
SKIPPED_BAR_COLOR = "#9e9e9e"
PENDING_BAR_COLOR = "#c7dcf2"
SELECTED_BAR_COLOR = "#f57c00"
SKIPPED_STUB = 0.015
CHANCE = 0.5  # the bars' base: chance level of a balanced accuracy


def _check_split(value, name: str, result: FailureDirectionsResult) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected a split name, got {type(value).__name__}")
    if value not in result.splits:
        raise ValueError(f"{name}: no samples in split {value!r}; splits present: {result.splits}")


def _bar_index(value, n_bars: int) -> int | None:
    """The bar a chart selection names (a whole number in 0..n_bars-1), else None."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    if not is_int(value) or not 0 <= value < n_bars:
        return None
    return int(value)


def _sentence(text: str) -> str:
    """``text`` as a sentence: first letter capitalised, ending with a full stop."""
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def _percent(value) -> str:
    return percent(value, digits=0)


def _finite_or_none(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


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
    split : str
        Split whose images are shown and checked (default "test").
    class_name : str or int, optional
        The class shown first (default: the strongest failure direction).
    heldout_split : str, optional
        A split (e.g. "extra") on which :meth:`failure_modes` re-applies each direction
        (its K most negative images) to measure ``heldout_drop``.
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
    grid : ImageGrid
        The grid selections are shown in.
    hard_strip, easy_strip : ImageGrid
        The strips of the most negative / most positive images.
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
        split: str = "test",
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
        self._check_consistent(evalset, result)
        _check_split(split, "split", result)
        if heldout_split is not None:
            _check_split(heldout_split, "heldout_split", result)
        strip_size = _check_int(strip_size, "strip_size", 1)
        if strip_size > MAX_STRIP_SIZE:
            raise ValueError(f"strip_size: at most {MAX_STRIP_SIZE}, got {strip_size}")
        thumb_size = _check_int(thumb_size, "thumb_size", 1)
        self._result = result
        self._split = split
        self._heldout_split = heldout_split
        self._selection: tuple | None = None  # ("tail",) or ("caption", caption)
        self._checked: dict = {}  # caption -> CaptionSubpopulation, current class and k
        self._tail_wanted = False  # a class picked in the view: select its tail once drawn
        self._drawn_pending = frozenset(result.model.pending_)
        self.k = k
        self.n_captions = n_captions
        self.class_name = result.default_class() if class_name is None else class_name

        self._panel = DirectionsPanel()
        self._panel.on_msg(self._on_panel_message)
        self._panel.layout = widgets.Layout(flex="1 1 320px", min_width="280px")
        self.hard_strip, self.easy_strip = (
            ImageGrid(evalset, [], page_size=strip_size, thumb_size=thumb_size, sort="none")
            for _ in SIDES
        )
        self.hard_strip.add_class("fw-directions-hard")
        self.easy_strip.add_class("fw-directions-easy")
        self._dropdown = self._class_dropdown()
        in_split = result.labels[result.split == split]
        largest = int(np.bincount(in_split, minlength=len(result.class_names)).max())
        (self._slider,) = self.threshold_controls(k=(1, largest))
        self._chart, self._bars = self._build_chart()
        self._chart.add_class("fw-directions-chart")
        self._bars.observe(self._on_bar_selected, "selected")

        controls = widgets.HBox([self._dropdown, self._slider, self._status_html])
        controls.layout.flex_flow = "row wrap"
        controls.layout.align_items = "center"
        top = widgets.HBox([self._chart, self._panel])
        top.layout.flex_flow = "row wrap"
        children = [controls, top, self.hard_strip, self.easy_strip]
        self.children = children + ([self.grid] if self._owns_grid else [])
        self.add_class("fw-directions-view")
        self._finish_init()
        self._show_class()

    # ------------------------------------------------------------------ construction helpers
    @staticmethod
    def _check_consistent(evalset: EvalSet, result: FailureDirectionsResult) -> None:
        if len(result.labels) != evalset.n:
            raise ValueError(
                f"result: {len(result.labels)} samples, but the EvalSet has {evalset.n}"
            )
        if list(result.class_names) != list(evalset.class_names):
            raise ValueError("result: its class names differ from the EvalSet's")
        if not np.array_equal(result.labels, evalset.labels) or not np.array_equal(
            result.correct, evalset.correct
        ):
            raise ValueError(
                "result: its labels or correctness differ from the EvalSet's; "
                "fit the directions on this EvalSet"
            )

    def _class_dropdown(self) -> widgets.Dropdown:
        """The class selector, its labels showing each class's strength.

        Like the base's :meth:`class_control`, but the link is kept: relabelling a dropdown
        selects its first option, which the link must not pass on to ``class_name``.
        """
        dropdown = widgets.Dropdown(
            options=self._dropdown_options(),
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

    def _dropdown_options(self) -> list[tuple[str, str]]:
        model = self._result.model
        strength = model.failure_strength_
        options = []
        for c, name in enumerate(self._result.class_names):
            if c in model.pending_:
                note = "fitted when opened"
            elif np.isnan(strength[c]):
                note = "no direction"
            else:
                note = f"{strength[c]:.2f}"
            options.append((f"{name} · {note}", name))
        return options

    def _bar_heights_and_colors(self) -> tuple[np.ndarray, list[str]]:
        model = self._result.model
        strength = model.failure_strength_
        # classes without a direction (or not fitted yet) get a short stub, so their bar
        # can still be clicked
        heights = np.where(np.isnan(strength), CHANCE + SKIPPED_STUB, strength)
        colors = [
            PENDING_BAR_COLOR
            if c in model.pending_
            else SKIPPED_BAR_COLOR
            if np.isnan(s)
            else BAR_COLOR
            for c, s in enumerate(strength)
        ]
        return heights, colors

    def _chart_title(self) -> str:
        pending = len(self._result.model.pending_)
        if not pending:
            return "Failure strength per class"
        fitted = len(self._result.class_names) - len(self._result.model.skipped_) - pending
        return f"Failure strength per class ({fitted} fitted; others when opened)"

    def _build_chart(self):
        import bqplot

        names = list(self._result.class_names)
        heights, colors = self._bar_heights_and_colors()
        low = min(0.4, np.floor(10 * (min(float(heights.min()), CHANCE) - 0.05)) / 10)
        x_scale = bqplot.OrdinalScale()
        y_scale = bqplot.LinearScale(min=low, max=1.0)
        many = len(names) > 8
        x_axis = bqplot.Axis(
            scale=x_scale,
            tick_rotate=-35 if many else 0,
            tick_style={"text-anchor": "end"} if many else {},
            num_ticks=min(len(names), 40),
        )
        y_axis = bqplot.Axis(
            scale=y_scale,
            side="left",
            label="CV balanced accuracy",
            tick_format=".1f",
            tick_values=np.round(np.arange(low, 1.0 + 1e-9, 0.1), 1),
            label_offset="40px",
        )
        bars = bqplot.Bars(
            x=names,
            y=heights,
            base=CHANCE,
            scales={"x": x_scale, "y": y_scale},
            colors=colors,
            color_mode="no_group",
            padding=0.2,
            interactions={"click": "select"},
            selected=[self.class_index],
            selected_style={"fill": SELECTED_BAR_COLOR},
            unselected_style={"opacity": 0.8},
            tooltip=bqplot.Tooltip(fields=["x"], labels=["class"]),
        )
        figure = bqplot.Figure(
            marks=[bars],
            axes=[x_axis, y_axis],
            title=self._chart_title(),
            title_style={"font-size": "14px"},
            fig_margin={"top": 40, "bottom": 70 if many else 35, "left": 55, "right": 10},
            animation_duration=0,
            layout=widgets.Layout(width="min(100%, 420px)", height="280px", flex="0 0 auto"),
        )
        return figure, bars

    # ------------------------------------------------------------------ public API
    @property
    def result(self) -> FailureDirectionsResult:
        return self._result

    @property
    def panel(self) -> DirectionsPanel:
        return self._panel

    @property
    def chart(self):
        """The bqplot Figure of the failure strengths."""
        return self._chart

    @property
    def split(self) -> str:
        return self._split

    @property
    def class_index(self) -> int:
        return self._result.class_index(self.class_name)

    @property
    def skipped_reason(self) -> str | None:
        """Why the selected class has no failure direction (None when it has one)."""
        return self._result.model.skipped_.get(self.class_index)

    @property
    def pending(self) -> bool:
        """Whether the selected class's direction is still being fitted (not drawn yet)."""
        return self._result.is_pending(self.class_index)

    @property
    def selected_members(self) -> np.ndarray:
        """EvalSet indices of the current selection (empty when nothing is selected)."""
        return self._selected_members.copy()

    def hard_images(self) -> pd.Series:
        """The K most negative decision values of the class in the split (index: sample)."""
        return self._result.most_aligned(self.class_index, k=self.k, split=self._split)

    def easy_images(self) -> pd.Series:
        """The K most positive decision values of the class in the split (index: sample)."""
        return self._result.most_aligned(self.class_index, k=self.k, split=self._split, side="easy")

    def captions(self, side: str = "hard"):
        """The class's top ``n_captions`` captions (DataFrame caption, score).

        When the class has none, the empty frame's ``reason`` (shown in its repr) says why
        (:meth:`FailureDirectionsResult.caption_reason`).
        """
        if side not in SIDES:
            raise ValueError(f"side: expected 'hard' or 'easy', got {side!r}")
        if not self.has_captions:
            c = self.class_index
            empty = pd.DataFrame({"caption": pd.Series([], dtype=object), "score": []})
            return answer_frame(empty, lambda: self._result.caption_reason(c))
        return self._result.captions(self.class_index, side=side, k=self.n_captions)

    @property
    def has_captions(self) -> bool:
        """Whether the selected class has captions (a direction and a text encoder)."""
        return self.skipped_reason is None and self._result.text_encoder is not None

    def select_caption(self, caption: str) -> FailureMode:
        """Show the K images of the class nearest to ``caption`` in the grid, with accuracy.

        Any caption can be checked, not only the listed ones. Returns the selection as a
        :class:`~failwidgets.modes.FailureMode` (also passed to the ``on_select`` callbacks).
        """
        if not isinstance(caption, str) or not caption.strip():
            raise TypeError(f"caption: expected a non-empty string, got {caption!r}")
        if self._result.text_encoder is None:
            raise ValueError(
                "caption: checking a caption needs the result's text encoder; pass "
                "encoder=... to find_failure_directions"
            )
        self._selection = ("caption", caption)
        return self._apply_selection()

    def show_tail(self) -> FailureMode:
        """Select the class's failure direction: its K hardest images, shown in the grid."""
        reason = self.skipped_reason
        if reason is not None:
            raise ValueError(
                f"class_name: class {self.class_name!r} has no failure direction: {reason}"
            )
        self._selection = ("tail",)
        return self._apply_selection()

    def clear_selection(self) -> None:
        """Forget the current selection (the grid keeps what it shows)."""
        self._selection = None
        self._selected_members = np.zeros(0, dtype=np.int64)
        self._render_panel()

    def _modes(self, class_names: list[str], thresholds: dict) -> list[FailureMode]:
        """One failure mode per class with a direction: its K most negative images.

        See :meth:`FailureDirectionsResult.tail_mode` (``heldout_drop`` measured on
        ``heldout_split``, None without one). Pending classes are fitted first (an explicit
        call: it waits for them).
        """
        modes = self._result.failure_modes(
            thresholds["k"], classes=class_names, split=self._split,
            heldout_split=self._heldout_split,
        )  # fmt: skip
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
            self._selection = None
            self._selected_members = np.zeros(0, dtype=np.int64)
            self._checked = {}
            self._tail_wanted = False
            self._bars.selected = [self.class_index]
            self._show_class()

    def _show_class(self) -> None:
        """Draw the selected class, or show it pending and fit it on the worker first."""
        c, name = self.class_index, self.class_name
        if not self._result.is_pending(c):
            self._worker.cancel()  # a newer class switch wins over a fit still running
            self._draw_class()
            return
        self._set_status(f"fitting {name}…")
        self._render_strips()
        self._render_panel()
        self._worker.submit(
            lambda: self._result.prepare_class(c), lambda _: self._draw_class(), self._fit_failed
        )

    def _draw_class(self) -> None:
        """Bars, strips and captions of the (fitted) selected class."""
        self._result.prepare_class(self.class_index)  # at once when fitted already
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
            for caption in list(self._checked):
                self._checked[caption] = self._subpopulation(caption)
            if self._selection is not None:
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
        selected = change["new"]
        n_bars = len(self._result.class_names)
        bar = _bar_index(selected[-1], n_bars) if len(selected) else None
        # a click on another bar selects its class (with ctrl, the last one clicked); a second
        # click on the selected bar unselects it, and the browser may name no bar of the
        # chart: the class stays
        if bar is not None and (bar != self.class_index or len(selected) > 1):
            self.class_name = self._result.class_names[bar]
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
        kind = content.get("type")
        if kind == "tail":
            reason = self.skipped_reason
            if reason is not None:
                raise BrowserMessageError(
                    f"tail: class {self.class_name!r} has no failure direction: {reason}"
                )
            self.show_tail()
        elif kind == "caption":
            side, caption = content.get("side"), content.get("caption")
            if side not in SIDES:
                raise BrowserMessageError(
                    f"side: expected 'hard' or 'easy', got {short_repr(side)}"
                )
            rank = message_int(content, "rank")
            if not self.has_captions:
                raise BrowserMessageError(
                    f"caption: class {self.class_name!r} has no captions to click"
                )
            listed = self.captions(side)["caption"].tolist()
            if not 0 <= rank < len(listed) or listed[rank] != caption:
                # stale click: the class or the captions changed meanwhile
                raise BrowserMessageError(
                    f"rank: {side} caption {rank} is not {str(caption)[:100]!r} (the list "
                    "changed since the click?)"
                )
            self.select_caption(caption)
        else:
            raise BrowserMessageError(f"type: expected 'caption' or 'tail', got {short_repr(kind)}")

    # ------------------------------------------------------------------ selection
    def _subpopulation(self, caption: str):
        return self._result.caption_subpopulation(
            caption, cls=self.class_index, k=self.k, split=self._split
        )

    def _apply_selection(self) -> FailureMode:
        """Show the current selection in the grid, record its members, tell the callbacks."""
        name = self.class_name
        if self._selection[0] == "tail":
            mode = self._result.tail_mode(
                self.class_index, self.k, split=self._split, heldout_split=self._heldout_split
            )
            values = self._result.decision_values(self.class_index, self._split)
            self.grid.show(
                mode.members,
                scores=values.loc[mode.members].to_numpy(),
                title=(
                    f"{name}: the {mode.size} {self._split} images with the most negative "
                    f"decision values · {_percent(mode.accuracy)} correct"
                ),
            )
        else:
            caption = self._selection[1]
            sub = self._checked[caption] = self._subpopulation(caption)
            mode = self._result.subpopulation_mode(sub)
            self.grid.show(
                mode.members,
                scores=sub.similarities,
                title=(
                    f"“{caption}”: its {mode.size} nearest {self._split} images of {name} "
                    f"· {_percent(mode.accuracy)} correct"
                ),
            )
        self._render_panel()
        self._notify_select(mode)
        return mode

    # ------------------------------------------------------------------ drawing
    def _redraw_strengths(self) -> None:
        """Bars, title and dropdown labels again, when classes were fitted since last drawn."""
        pending = frozenset(self._result.model.pending_)
        if pending == self._drawn_pending:
            return
        self._drawn_pending = pending
        heights, colors = self._bar_heights_and_colors()
        y_scale = self._bars.scales["y"]
        low = np.floor(10 * (float(heights.min()) - 0.05)) / 10
        with self._bars.hold_sync():
            if low < y_scale.min:
                y_scale.min = low
            self._bars.y = heights
            self._bars.colors = colors
        self._chart.title = self._chart_title()
        with self._class_link._busy_updating():  # relabelling selects the first option
            self._dropdown.options = self._dropdown_options()
            self._dropdown.value = self.class_name

    def _render_strips(self) -> None:
        name = self.class_name
        if self.skipped_reason is not None or self.pending:  # the panel says why
            for strip in (self.hard_strip, self.easy_strip):
                strip.show([], title="")
                strip.layout.display = "none"
            return
        hard, easy = self.hard_images(), self.easy_images()
        self.hard_strip.show(
            hard.index.to_numpy(),
            scores=hard.to_numpy(),
            title=f"Most negative (hardest): {len(hard)} {self._split} images of {name}",
        )
        self.easy_strip.show(
            easy.index.to_numpy(),
            scores=easy.to_numpy(),
            title=f"Most positive (easiest): {len(easy)} {self._split} images of {name}",
        )
        for strip in (self.hard_strip, self.easy_strip):
            strip.layout.display = None

    def _caption_entries(self, side: str) -> list[dict]:
        table = self.captions(side)
        return [
            {"caption": caption, "score": _finite_or_none(score), "score_text": format_score(score)}
            for caption, score in zip(table["caption"].tolist(), table["score"].tolist())
        ]

    def view_model(self) -> dict:
        """The JSON the caption panel draws (also handy to inspect the view's state).

        ``captions_note`` says why the class has no captions (the result's
        :meth:`~FailureDirectionsResult.caption_reason`, as a sentence; None when it has);
        ``pending`` whether the class's direction is still being fitted (then no captions).
        """
        result, c = self._result, self.class_index
        model = result.model
        pending = self.pending
        listed = self.has_captions and not pending
        hard = self._caption_entries("hard") if listed else []
        easy = self._caption_entries("easy") if listed else []
        why = None if hard else result.caption_reason(c)
        note = None if why is None else _sentence(why)
        if pending:
            note = f"Fitting the failure direction of {self.class_name}…"
        selected = None
        if self._selection is not None and self._selection[0] == "caption":
            caption = self._selection[1]
            selected = {"side": None, "rank": None, "caption": caption}
            for side, entries in (("hard", hard), ("easy", easy)):
                ranks = [i for i, e in enumerate(entries) if e["caption"] == caption]
                if ranks:
                    selected.update(side=side, rank=ranks[0])
                    break
        checked = {
            caption: {
                "accuracy": _finite_or_none(sub.accuracy),
                "accuracy_text": _percent(sub.accuracy),
                "n_correct": int(np.count_nonzero(sub.correct)),
                "k": len(sub.indices),
            }
            for caption, sub in self._checked.items()
        }
        strength = float(model.failure_strength_[c])
        return {
            "class_name": self.class_name,
            "class_index": c,
            "strength": _finite_or_none(strength),
            "strength_text": "…" if pending else "—" if math.isnan(strength) else f"{strength:.3f}",
            "n_val": int(model.n_val_[c]),
            "n_errors": int(model.n_errors_[c]),
            "class_accuracy_text": _percent(result.class_accuracy(c, self._split)),
            "split": self._split,
            "k": int(self.k),
            "skipped_reason": model.skipped_.get(c),
            "pending": pending,
            "captions_note": note,
            "hard": hard,
            "easy": easy,
            "checked": checked,
            "selected": selected,
            "tail_selected": self._selection == ("tail",),
        }

    def _render_panel(self) -> None:
        self._panel.view_model = self.view_model()
