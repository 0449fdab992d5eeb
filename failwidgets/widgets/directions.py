"""DirectionsView: failure directions per class, with aligned images and captions.

A thin view over a :class:`~failwidgets.methods.directions.FailureDirectionsResult`:

- a bqplot bar chart of every class's failure strength (click a bar to select the class);
- a class selector and a K slider;
- for the selected class, two one-row :class:`~failwidgets.widgets.grid.ImageGrid` strips of
  the K test images with the most negative (hardest) and most positive (easiest) decision
  values, the values shown as scores;
- a caption panel (anywidget) with the top hard and easy captions; clicking a caption shows
  its K nearest test images of the class in the shared grid and the model's accuracy on
  them next to the caption (the paper's Fig. 7b). Skipped classes show their stated reason,
  and a class without captions shows why (:meth:`FailureDirectionsResult.caption_reason`).

The view does no analysis: it asks the result for decision values, captions and caption
subpopulations, and serialises what it gets.
"""

from __future__ import annotations

import math
import pathlib

import anywidget
import ipywidgets as widgets
import numpy as np
import traitlets

from ..checks import check_int as _check_int
from ..data import EvalSet
from ..methods.answers import answer_frame
from ..methods.directions import FailureDirectionsResult
from ..modes import FailureMode
from ..thresholds import spec as threshold_spec
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
from .selectable import Selectable

__all__ = ["DirectionsPanel", "DirectionsView"]

_STATIC = pathlib.Path(__file__).parent.parent / "static"
METHOD = "directions"
SIDES = ("hard", "easy")
MAX_STRIP_SIZE = 50
BAR_COLOR = "#4a90d9"
SKIPPED_BAR_COLOR = "#9e9e9e"
PENDING_BAR_COLOR = "#c7dcf2"
SELECTED_BAR_COLOR = "#f57c00"
SKIPPED_STUB = 0.015


def _check_split(value, name: str, result: FailureDirectionsResult) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected a split name, got {type(value).__name__}")
    if value not in result.splits:
        raise ValueError(f"{name}: no samples in split {value!r}; splits present: {result.splits}")


def _has_items(values) -> bool:
    return values is not None and len(values) > 0


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


def _percent(value: float) -> str:
    return "—" if math.isnan(value) else f"{100 * value:.0f}%"


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


class DirectionsView(Selectable, widgets.VBox):
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

    class_name = traitlets.Unicode("")
    k = Checked(20)
    n_captions = Checked(5)

    def __init__(
        self,
        evalset: EvalSet,
        result: FailureDirectionsResult,
        *,
        grid: ImageGrid | None = None,
        k: int = threshold_spec("directions", "k").default,
        n_captions: int = 5,
        split: str = "test",
        class_name: str | int | None = None,
        heldout_split: str | None = None,
        strip_size: int = 8,
        thumb_size: int = 64,
        **kwargs,
    ):
        if not isinstance(evalset, EvalSet):
            raise TypeError(f"evalset: expected an EvalSet, got {type(evalset).__name__}")
        if not isinstance(result, FailureDirectionsResult):
            raise TypeError(
                f"result: expected a FailureDirectionsResult (find_failure_directions), "
                f"got {type(result).__name__}"
            )
        self._check_consistent(evalset, result)
        _check_split(split, "split", result)
        if heldout_split is not None:
            _check_split(heldout_split, "heldout_split", result)
        if grid is not None:
            if not isinstance(grid, ImageGrid):
                raise TypeError(f"grid: expected an ImageGrid, got {type(grid).__name__}")
            if grid.evalset is not evalset:
                raise ValueError("grid: the shared ImageGrid must show the same EvalSet")
        k = _check_int(k, "k", 1)
        n_captions = _check_int(n_captions, "n_captions", 1)
        strip_size = _check_int(strip_size, "strip_size", 1)
        if strip_size > MAX_STRIP_SIZE:
            raise ValueError(f"strip_size: at most {MAX_STRIP_SIZE}, got {strip_size}")
        thumb_size = _check_int(thumb_size, "thumb_size", 1)
        first = self._initial_class(result, class_name)
        self._drawn_pending = frozenset(result.model.pending_)

        self._evalset = evalset
        self._result = result
        self._split = split
        self._heldout_split = heldout_split
        self._selected_members = np.zeros(0, dtype=np.int64)
        self._selection: tuple | None = None  # ("tail",) or ("caption", caption)
        self._checked: dict = {}  # caption -> CaptionSubpopulation, current class and k
        self._syncing = False
        self._in_split = result.split == split
        counts = np.bincount(result.labels[self._in_split], minlength=len(result.class_names))
        self._owns_grid = grid is None
        self._grid = grid if grid is not None else ImageGrid(evalset, [], page_size=50)

        self._panel = DirectionsPanel()
        self._panel.on_msg(self._on_panel_message)
        self.hard_strip = ImageGrid(
            evalset, [], page_size=strip_size, thumb_size=thumb_size, sort="none"
        )
        self.easy_strip = ImageGrid(
            evalset, [], page_size=strip_size, thumb_size=thumb_size, sort="none"
        )
        self._dropdown = widgets.Dropdown(
            options=self._dropdown_options(),
            value=result.class_names[first],
            description="Class",
            layout=widgets.Layout(width="min(100%, 320px)"),
        )
        self._slider = widgets.IntSlider(
            value=k,
            min=1,
            max=max(k, int(counts.max())),
            description=threshold_spec("directions", "k").label,
            tooltip=threshold_spec("directions", "k").doc,
            continuous_update=False,
            layout=widgets.Layout(width="min(100%, 360px)"),
        )
        self._chart, self._bars = self._build_chart()
        self._dropdown.add_class("fw-directions-class")
        self._slider.add_class("fw-directions-k")
        self._chart.add_class("fw-directions-chart")
        self.hard_strip.add_class("fw-directions-hard")
        self.easy_strip.add_class("fw-directions-easy")

        controls = widgets.HBox([self._dropdown, self._slider])
        controls.layout.flex_flow = "row wrap"
        top = widgets.HBox([self._chart, self._panel])
        top.layout.flex_flow = "row wrap"
        self._panel.layout = widgets.Layout(flex="1 1 320px", min_width="280px")
        children = [controls, top, self.hard_strip, self.easy_strip]
        if self._owns_grid:
            children.append(self._grid)
        super().__init__(children=children, **kwargs)
        self.add_class("fw-directions-view")

        with self.hold_trait_notifications():
            self.k = k
            self.n_captions = n_captions
        self.class_name = result.class_names[first]  # draws the class
        traitlets.link((self._slider, "value"), (self, "k"))
        self._dropdown.observe(self._on_dropdown, "value")
        self._bars.observe(self._on_bar_selected, "selected")

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

    @staticmethod
    def _initial_class(result: FailureDirectionsResult, class_name) -> int:
        if class_name is not None:
            try:
                return result.class_index(class_name)
            except (TypeError, ValueError) as error:
                raise type(error)(str(error).replace("cls:", "class_name:", 1)) from None
        model = result.model
        strength = model.failure_strength_
        if not np.isnan(strength).all():
            return int(np.nanargmax(strength))
        if model.pending_:  # nothing fitted yet: the class with the most validation errors
            pending = sorted(model.pending_)
            return pending[int(np.argmax(model.n_errors_[pending]))]
        return 0

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
        base = 0.5  # chance level of a balanced accuracy
        # classes without a direction (or not fitted yet) get a short stub, so their bar
        # can still be clicked
        heights = np.where(np.isnan(strength), base + SKIPPED_STUB, strength)
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

    def _ensure_direction(self) -> None:
        """Fit the selected class's direction if it is pending, and redraw what changed."""
        c = self.class_index
        if c in self._result.model.pending_:
            self._result.fit_classes([c])
        self._redraw_strengths()

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
        syncing, self._syncing = self._syncing, True
        try:
            self._dropdown.options = self._dropdown_options()
            self._dropdown.value = self.class_name
        finally:
            self._syncing = syncing

    def _build_chart(self):
        import bqplot

        names = list(self._result.class_names)
        base = 0.5  # chance level of a balanced accuracy
        heights, colors = self._bar_heights_and_colors()
        low = min(0.4, np.floor(10 * (min(float(heights.min()), 0.5) - 0.05)) / 10)
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
            base=base,
            scales={"x": x_scale, "y": y_scale},
            colors=colors,
            color_mode="no_group",
            padding=0.2,
            interactions={"click": "select"},
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
    def evalset(self) -> EvalSet:
        return self._evalset

    @property
    def result(self) -> FailureDirectionsResult:
        return self._result

    @property
    def grid(self) -> ImageGrid:
        return self._grid

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
    def selected_members(self) -> np.ndarray:
        """EvalSet indices of the current selection (empty when nothing is selected)."""
        return self._selected_members.copy()

    def set_class(self, name: str | int) -> None:
        """Show class ``name`` (a name or index) without touching the shared grid."""
        self.class_name = self._result.class_names[self._class_arg(name, "name")]

    def hard_images(self):
        """The K most negative decision values of the class in the split (index: sample)."""
        return self._result.most_aligned(self.class_index, k=self.k, split=self._split)

    def easy_images(self):
        """The K most positive decision values of the class in the split (index: sample)."""
        return self._result.most_aligned(self.class_index, k=self.k, split=self._split, side="easy")

    def captions(self, side: str = "hard"):
        """The class's top ``n_captions`` captions (DataFrame caption, score).

        When the class has none, the empty frame's ``reason`` (shown in its repr) says why
        (:meth:`FailureDirectionsResult.caption_reason`).
        """
        import pandas as pd

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
        self._check_caption(caption)
        self._selection = ("caption", caption)
        return self._apply_selection(notify=True)

    def show_tail(self) -> FailureMode:
        """Select the class's failure direction: its K hardest images, shown in the grid."""
        reason = self.skipped_reason
        if reason is not None:
            raise ValueError(
                f"class_name: class {self.class_name!r} has no failure direction: {reason}"
            )
        self._selection = ("tail",)
        return self._apply_selection(notify=True)

    def clear_selection(self) -> None:
        """Forget the current selection (the grid keeps what it shows)."""
        self._selection = None
        self._selected_members = np.zeros(0, dtype=np.int64)
        self._render_panel()

    def failure_modes(self, class_name: str | int | None = None) -> list[FailureMode]:
        """One failure mode per class with a direction: its K most negative images.

        All classes by default, or only ``class_name`` (a name or index; an empty list when
        the class has no direction). ``accuracy`` is the model's accuracy on them, ``drop``
        the class's accuracy in the split minus it; ``description`` is the class's top hard
        caption (or a generic name without a text encoder); ``heldout_drop`` the same drop
        for the images of ``heldout_split`` whose decision value is below the mode's
        threshold (its rule re-applied; None without ``heldout_split``).
        """
        classes = range(len(self._result.class_names))
        if class_name is not None:
            classes = [self._class_arg(class_name, "class_name")]
        modes = [self._tail_mode(c) for c in classes if c not in self._result.model.skipped_]
        self._redraw_strengths()  # the classes fitted on the way
        return modes

    # ------------------------------------------------------------------ validation
    def _class_arg(self, value, name: str) -> int:
        try:
            return self._result.class_index(value)
        except (TypeError, ValueError) as error:
            raise type(error)(str(error).replace("cls:", f"{name}:", 1)) from None

    @validator("class_name")
    def _valid_class_name(self, proposal):
        value = proposal["value"]
        if not isinstance(value, str):
            raise TypeError(f"class_name: expected a class name, got {type(value).__name__}")
        if value not in self._result.class_names:
            raise ValueError(
                f"class_name: unknown class {value!r}; known: {self._result.class_names[:10]}"
            )
        return value

    @validator("k")
    def _valid_k(self, proposal):
        return threshold_spec("directions", "k").check(proposal["value"])

    @validator("n_captions")
    def _valid_n_captions(self, proposal):
        return _check_int(proposal["value"], "n_captions", 1)

    def _check_caption(self, caption: str) -> None:
        if self._result.text_encoder is None:
            raise ValueError(
                "caption: checking a caption needs the result's text encoder; pass "
                "encoder=... to find_failure_directions"
            )

    # ------------------------------------------------------------------ reactions
    @traitlets.observe("class_name")
    def _on_class_name(self, change):
        c = self.class_index
        self._selection = None
        self._selected_members = np.zeros(0, dtype=np.int64)
        self._checked = {}
        self._syncing = True
        try:
            self._ensure_direction()
            self._dropdown.value = change["new"]
            self._bars.selected = [c]
        finally:
            self._syncing = False
        self._render_strips()
        self._render_panel()

    @traitlets.observe("k")
    def _on_k(self, change):
        if self._slider.max < change["new"]:
            self._slider.max = change["new"]
        if not self.class_name:  # still constructing
            return
        self._render_strips()
        for caption in list(self._checked):
            self._checked[caption] = self._subpopulation(caption)
        if self._selection is not None:
            self._apply_selection(notify=True)
        else:
            self._render_panel()

    @traitlets.observe("n_captions")
    def _on_n_captions(self, change):
        if self.class_name:
            self._render_panel()

    def _on_dropdown(self, change):
        if not self._syncing and change["new"] != self.class_name:
            self._user_class_change(change["new"])

    def _on_bar_selected(self, change):
        if self._syncing:
            return
        selected = change["new"]
        n_bars = len(self._result.class_names)
        bar = _bar_index(selected[-1], n_bars) if _has_items(selected) else None
        # a click on another bar selects its class (with ctrl, the last one clicked); a second
        # click on the selected bar unselects it, and the browser may name no bar of the
        # chart: the class stays
        if bar is not None and self._result.class_names[bar] != self.class_name:
            self._user_class_change(self._result.class_names[bar])
        elif bar is not None and len(selected) > 1:
            self._user_class_change(self.class_name)
        self._syncing = True
        try:
            self._bars.selected = [self.class_index]  # one highlighted bar: the class
        finally:
            self._syncing = False

    def _user_class_change(self, name: str) -> None:
        """A class chosen in this view: show it and select its direction in the grid."""
        self.class_name = name
        reason = self.skipped_reason
        if reason is None:
            self.show_tail()
        else:
            self._grid.show([], title=f"{name}: no failure direction ({reason})")

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

    def _class_accuracy(self, c: int, split: str) -> float:
        rows = (self._result.split == split) & (self._result.labels == c)
        return float(self._result.correct[rows].mean()) if rows.any() else float("nan")

    def _tail_mode(self, c: int) -> FailureMode:
        """The class's K most negative images in the split, with the rule that re-applies
        them: decision value at most the threshold between the K-th and the next value."""
        from ..rules import DirectionRule

        name = self._result.class_names[c]
        values = self._result.decision_values(c, self._split)
        hard = values.sort_values(kind="stable").iloc[: self.k]  # = most_aligned(c, k, split)
        members = hard.index.to_numpy(dtype=np.int64)
        rule = None
        if len(members):
            rest = values.drop(hard.index).to_numpy()
            threshold = DirectionRule.boundary(hard.to_numpy(), rest)
            rule = DirectionRule.from_result(self._result, name, threshold)
        if self._result.text_encoder is not None:
            description = str(self._result.captions(c, side="hard", k=1)["caption"].iloc[0])
        else:
            strength = self._result.model.failure_strength_[c]
            description = f"failure direction of {name} (strength {strength:.2f})"
        mode = FailureMode.from_members(
            METHOD,
            name,
            description,
            members,
            self._result,
            reference_indices=values.index.to_numpy(dtype=np.int64),  # the class in the split
            grouping="label",
            rule=rule,
        )
        if self._heldout_split is not None and rule is not None:
            from ..rules import with_heldout  # the rule re-applied, as for every method

            (mode,) = with_heldout([mode], self._evalset, self._heldout_split)
        return mode

    def _apply_selection(self, notify: bool) -> FailureMode:
        """Show the current selection in the grid, record its members, tell the callbacks."""
        c = self.class_index
        name = self.class_name
        if self._selection[0] == "tail":
            mode = self._tail_mode(c)
            values = self._result.decision_values(c, self._split).loc[mode.members]
            self._grid.show(
                mode.members,
                scores=values.to_numpy(),
                title=(
                    f"{name}: the {mode.size} {self._split} images with the most negative "
                    f"decision values · {_percent(mode.accuracy)} correct"
                ),
            )
        else:
            caption = self._selection[1]
            sub = self._subpopulation(caption)
            self._checked[caption] = sub
            mode = FailureMode.from_members(
                METHOD,
                name,
                caption,
                np.asarray(sub.indices, dtype=np.int64),
                self._result,
                reference_indices=np.flatnonzero(self._result.split == self._split),
                grouping="label",
            )
            accuracy = mode.accuracy
            self._grid.show(
                mode.members,
                scores=sub.similarities,
                title=(
                    f"“{caption}”: its {mode.size} nearest {self._split} images of {name} "
                    f"· {_percent(accuracy)} correct"
                ),
            )
        self._selected_members = mode.members.copy()
        self._render_panel()
        if notify:
            self._notify_select(mode)
        else:
            self.set_trait("selected_mode", mode)
        return mode

    # ------------------------------------------------------------------ drawing
    def _render_strips(self) -> None:
        name = self.class_name
        if self.skipped_reason is not None:
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
        :meth:`~FailureDirectionsResult.caption_reason`, as a sentence; None when it has).
        """
        result, c = self._result, self.class_index
        model = result.model
        reason = model.skipped_.get(c)
        hard = self._caption_entries("hard") if self.has_captions else []
        easy = self._caption_entries("easy") if self.has_captions else []
        why = None if hard else result.caption_reason(c)
        note = None if why is None else _sentence(why)
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
            "strength_text": "—" if math.isnan(strength) else f"{strength:.3f}",
            "n_val": int(model.n_val_[c]),
            "n_errors": int(model.n_errors_[c]),
            "class_accuracy_text": _percent(self._class_accuracy(c, self._split)),
            "split": self._split,
            "k": int(self.k),
            "skipped_reason": reason,
            "captions_note": note,
            "hard": hard,
            "easy": easy,
            "checked": checked,
            "selected": selected,
            "tail_selected": self._selection == ("tail",),
        }

    def _render_panel(self) -> None:
        self._panel.view_model = self.view_model()
