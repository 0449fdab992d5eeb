"""What the DirectionsView draws, built from a :class:`FailureDirectionsResult`.

No widgets here: the strength bars (:func:`bars`: heights, colours, title and axis range;
:func:`chart_options`: the bar chart's settings), the class selector's labels
(:func:`class_options`), the strips' titles, the captions of a class (:func:`caption_table`),
the caption panel's JSON (:func:`panel_view_model`) and the selection with the captions
checked so far (:class:`Selection`: what the grid shows for it). The view keeps the widgets
and wires them; what it shows is computed here.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..methods.answers import AnswerFrame, answer_frame
from ..methods.directions import CaptionSubpopulation, FailureDirectionsResult
from ..text import finite_or_none, percent
from .grid import format_score

__all__ = [
    "BAR_COLOR",
    "PENDING_BAR_COLOR",
    "SIDES",
    "Bars",
    "ClickError",
    "Selection",
    "Strip",
    "picked_bar",
    "bars",
    "caption_table",
    "chart_options",
    "class_options",
    "panel_request",
    "panel_view_model",
    "strips",
]

SIDES = ("hard", "easy")
BAR_COLOR = "#4a90d9"
SKIPPED_BAR_COLOR = "#9e9e9e"
PENDING_BAR_COLOR = "#c7dcf2"
SELECTED_BAR_COLOR = "#f57c00"
SKIPPED_STUB = 0.015
CHANCE = 0.5  # the bars' base: chance level of a balanced accuracy


@dataclass(frozen=True)
class Bars:
    """The strength chart of every class: one bar per class, based at chance (0.5).

    ``heights``: the failure strengths (a short stub above chance for a class without a
    direction or not fitted yet, so its bar can still be clicked); ``colors``: fitted,
    skipped or pending; ``low``: the lowest value the y axis must show; ``title``.
    """

    heights: np.ndarray
    colors: list[str]
    low: float
    title: str

    @property
    def ticks(self) -> np.ndarray:
        """The y axis ticks: every 0.1 from ``low`` to 1."""
        return np.round(np.arange(self.low, 1.0 + 1e-9, 0.1), 1)


def bars(result: FailureDirectionsResult) -> Bars:
    """The bars of ``result``'s classes as fitted so far (pending classes light blue)."""
    model = result.model
    strength = model.failure_strength_
    heights = np.where(np.isnan(strength), CHANCE + SKIPPED_STUB, strength)
    colors = [
        PENDING_BAR_COLOR
        if c in model.pending_
        else SKIPPED_BAR_COLOR
        if np.isnan(s)
        else BAR_COLOR
        for c, s in enumerate(strength)
    ]
    low = min(0.4, math.floor(10 * (min(float(heights.min()), CHANCE) - 0.05)) / 10)
    pending = len(model.pending_)
    title = "Failure strength per class"
    if pending:
        fitted = len(result.class_names) - len(model.skipped_) - pending
        title += f" ({fitted} fitted; others when opened)"
    return Bars(heights, colors, low, title)


def chart_options(result: FailureDirectionsResult) -> dict:
    """The bar chart's settings as bqplot keyword arguments, by object: ``y_scale``,
    ``x_axis``, ``y_axis``, ``bars`` (without scales and selection), ``figure`` (without
    marks and axes) and ``layout`` (the figure's)."""
    drawn = bars(result)
    names = list(result.class_names)
    many = len(names) > 8  # long axes: rotated labels, a deeper bottom margin
    return {
        "y_scale": {"min": drawn.low, "max": 1.0},
        "x_axis": {
            "tick_rotate": -35 if many else 0,
            "tick_style": {"text-anchor": "end"} if many else {},
            "num_ticks": min(len(names), 40),
        },
        "y_axis": {
            "side": "left",
            "label": "CV balanced accuracy",
            "tick_format": ".1f",
            "tick_values": drawn.ticks,
            "label_offset": "40px",
        },
        "bars": {
            "x": names,
            "y": drawn.heights,
            "base": CHANCE,
            "colors": drawn.colors,
            "color_mode": "no_group",
            "padding": 0.2,
            "interactions": {"click": "select"},
            "selected_style": {"fill": SELECTED_BAR_COLOR},
            "unselected_style": {"opacity": 0.8},
        },
        "figure": {
            "title": drawn.title,
            "title_style": {"font-size": "14px"},
            "fig_margin": {"top": 40, "bottom": 70 if many else 35, "left": 55, "right": 10},
            "animation_duration": 0,
        },
        "layout": {"width": "min(100%, 420px)", "height": "280px", "flex": "0 0 auto"},
    }


def class_options(result: FailureDirectionsResult) -> list[tuple[str, str]]:
    """The class selector's (label, class name) pairs, each label with the strength."""
    model = result.model
    strength = model.failure_strength_
    options = []
    for c, name in enumerate(result.class_names):
        if c in model.pending_:
            note = "fitted when opened"
        elif np.isnan(strength[c]):
            note = "no direction"
        else:
            note = f"{strength[c]:.2f}"
        options.append((f"{name} · {note}", name))
    return options


def picked_bar(selected, current: int, n_bars: int) -> int | None:
    """The class a click on the chart picks (its bar), or None when the class stays.

    ``selected``: the chart's selection after the click. A click on another bar selects its
    class (with ctrl, the last bar clicked); a second click on the selected bar unselects it,
    and the browser may name no bar of the chart (-1, 7, 0.5, "cat"): the class stays.
    """
    if not len(selected):
        return None
    value = selected[-1]
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        return None
    if not 0 <= value < n_bars or (value == current and len(selected) == 1):
        return None
    return int(value)


@dataclass(frozen=True)
class Strip:
    """What one strip shows: sample ``indices`` with their decision values as ``scores``,
    a ``title``, and ``display`` (``"none"``: hidden, None: shown)."""

    indices: np.ndarray
    scores: np.ndarray | None
    title: str
    display: str | None


def strips(result: FailureDirectionsResult, c: int, k: int) -> list[Strip]:
    """The hardest and the easiest strip of class ``c``: its ``k`` most negative and most
    positive decision values in the mode split. Both are hidden when the class has no
    direction or is still being fitted (the panel says why)."""
    if c in result.model.skipped_ or result.is_pending(c):
        return [Strip(np.zeros(0, dtype=np.int64), None, "", "none") for _ in SIDES]
    name, split = result.class_names[c], result.mode_split
    shown = []
    for side, words in zip(SIDES, ("Most negative (hardest)", "Most positive (easiest)")):
        values = result.most_aligned(c, k=k, side=side)
        title = f"{words}: {len(values)} {split} images of {name}"
        shown.append(Strip(values.index.to_numpy(), values.to_numpy(), title, None))
    return shown


class ClickError(ValueError):
    """A click of the caption panel that cannot be applied (the view answers it)."""


def panel_request(content: dict, result: FailureDirectionsResult, c: int, n_captions: int) -> tuple:
    """A message of the caption panel as ``("tail",)`` or ``("caption", caption)``.

    ``{"type": "tail"}`` asks for class ``c``'s direction; ``{"type": "caption", "side",
    "rank", "caption"}`` for a listed caption (of the ``n_captions`` on ``side``), which must
    still be at that rank. Anything else is a :class:`ClickError` naming the field.
    """
    kind, name = content.get("type"), result.class_names[c]
    if kind == "tail":
        reason = result.model.skipped_.get(c)
        if reason is not None:
            raise ClickError(f"tail: class {name!r} has no failure direction: {reason}")
        return ("tail",)
    if kind != "caption":
        raise ClickError(f"type: expected 'caption' or 'tail', got {_short_repr(kind)}")
    side, rank, caption = content.get("side"), content.get("rank"), content.get("caption")
    if side not in SIDES:
        raise ClickError(f"side: expected 'hard' or 'easy', got {_short_repr(side)}")
    if isinstance(rank, (bool, np.bool_)) or not isinstance(rank, numbers.Integral):
        raise ClickError(f"rank: expected an integer, got {type(rank).__name__}")
    if not has_captions(result, c):
        raise ClickError(f"caption: class {name!r} has no captions to click")
    listed = caption_table(result, c, side, n_captions)["caption"].tolist()
    if not 0 <= rank < len(listed) or listed[rank] != caption:
        # stale click: the class or the captions changed meanwhile
        raise ClickError(
            f"rank: {side} caption {rank} is not {str(caption)[:100]!r} (the list changed "
            "since the click?)"
        )
    return ("caption", caption)


class Selection:
    """What the view has selected in one class, and the captions checked there so far.

    ``current``: None, ``("tail",)`` (the direction's K hardest images) or
    ``("caption", caption)`` (a caption's K nearest images); ``checked``: caption -> its
    :class:`CaptionSubpopulation` at the current K (the accuracies the panel lists).
    """

    def __init__(self):
        self.current: tuple | None = None
        self.checked: dict[str, CaptionSubpopulation] = {}

    def choose_tail(self, result: FailureDirectionsResult, c: int) -> None:
        """Select class ``c``'s direction (a ValueError naming ``class_name`` when it has
        none)."""
        reason = result.model.skipped_.get(c)
        if reason is not None:
            raise ValueError(
                f"class_name: class {result.class_names[c]!r} has no failure direction: {reason}"
            )
        self.current = ("tail",)

    def choose_caption(self, result: FailureDirectionsResult, caption) -> None:
        """Select ``caption`` (any text; checking it needs the result's text encoder)."""
        if not isinstance(caption, str) or not caption.strip():
            raise TypeError(f"caption: expected a non-empty string, got {caption!r}")
        if result.text_encoder is None:
            raise ValueError(
                "caption: checking a caption needs the result's text encoder; pass "
                "encoder=... to find_failure_directions"
            )
        self.current = ("caption", caption)

    def reset(self) -> None:
        """Nothing selected, nothing checked (a new class)."""
        self.current = None
        self.checked = {}

    def recheck(self, result: FailureDirectionsResult, c: int, k: int) -> None:
        """Check the checked captions again with ``k`` images each."""
        for caption in list(self.checked):
            self.checked[caption] = result.caption_subpopulation(caption, cls=c, k=k)

    def show(self, result: FailureDirectionsResult, c: int, k: int) -> tuple:
        """The current selection of class ``c`` at K = ``k`` as ``(mode, scores, title)``:
        the :class:`~failwidgets.modes.FailureMode`, the scores and the title the grid
        shows (a caption is checked on the way)."""
        name, split = result.class_names[c], result.mode_split
        if self.current[0] == "tail":
            mode = result.tail_mode(c, k)
            scores = result.decision_values(c).loc[mode.members].to_numpy()
            what = f"{name}: the {mode.size} {split} images with the most negative decision values"
        else:
            caption = self.current[1]
            sub = self.checked[caption] = result.caption_subpopulation(caption, cls=c, k=k)
            mode, scores = result.subpopulation_mode(sub), sub.similarities
            what = f"“{caption}”: its {mode.size} nearest {split} images of {name}"
        return mode, scores, f"{what} · {_percent(mode.accuracy)} correct"


def has_captions(result: FailureDirectionsResult, c: int) -> bool:
    """Whether class ``c`` has captions to list (a direction and a text encoder)."""
    return c not in result.model.skipped_ and result.text_encoder is not None


def caption_table(result: FailureDirectionsResult, c: int, side: str, n: int) -> AnswerFrame:
    """The top ``n`` captions of class ``c`` on ``side`` (DataFrame caption, score); when
    it has none, an empty frame whose ``reason`` says why (no direction, no text encoder,
    no candidate caption)."""
    if side not in SIDES:
        raise ValueError(f"side: expected 'hard' or 'easy', got {side!r}")
    if not has_captions(result, c):
        empty = pd.DataFrame({"caption": pd.Series([], dtype=object), "score": []})
        return answer_frame(empty, lambda: result.caption_reason(c))
    return result.captions(c, side=side, k=n)


def panel_view_model(
    result: FailureDirectionsResult,
    c: int,
    *,
    k: int,
    n_captions: int,
    pending: bool,
    selection: Selection,
) -> dict:
    """The JSON the caption panel draws for class ``c`` with its ``selection``.

    ``captions_note`` says why the class has
    no captions (:meth:`FailureDirectionsResult.caption_reason` as a sentence; None when it
    has); ``pending``: the class's direction is still being fitted (then no captions).
    """
    model = result.model
    name = result.class_names[c]
    listed = has_captions(result, c) and not pending
    hard, easy = [_caption_entries(result, c, s, n_captions) for s in SIDES] if listed else ([], [])
    why = None if hard else result.caption_reason(c)
    note = None if why is None else _sentence(why)
    if pending:
        note = f"Fitting the failure direction of {name}…"
    strength = float(model.failure_strength_[c])
    return {
        "class_name": name,
        "class_index": c,
        "strength": finite_or_none(strength),
        "strength_text": "…" if pending else "—" if math.isnan(strength) else f"{strength:.3f}",
        "n_val": int(model.n_val_[c]),
        "n_errors": int(model.n_errors_[c]),
        "class_accuracy_text": _percent(result.class_accuracy(c)),
        "split": result.mode_split,
        "k": int(k),
        "skipped_reason": model.skipped_.get(c),
        "pending": pending,
        "captions_note": note,
        "hard": hard,
        "easy": easy,
        "checked": {caption: _check_entry(sub) for caption, sub in selection.checked.items()},
        "selected": _selected_caption(selection.current, hard, easy),
        "tail_selected": selection.current == ("tail",),
    }


def _caption_entries(result: FailureDirectionsResult, c: int, side: str, n: int) -> list[dict]:
    table = caption_table(result, c, side, n)
    return [
        {"caption": caption, "score": finite_or_none(score), "score_text": format_score(score)}
        for caption, score in zip(table["caption"].tolist(), table["score"].tolist())
    ]


def _check_entry(sub: CaptionSubpopulation) -> dict:
    """A checked caption's accuracy on its nearest images."""
    return {
        "accuracy": finite_or_none(sub.accuracy),
        "accuracy_text": _percent(sub.accuracy),
        "n_correct": int(np.count_nonzero(sub.correct)),
        "k": len(sub.indices),
    }


def _selected_caption(selection: tuple | None, hard: list[dict], easy: list[dict]) -> dict | None:
    """The selected caption with its place in the lists (side and rank None: not listed)."""
    if selection is None or selection[0] != "caption":
        return None
    caption = selection[1]
    for side, entries in (("hard", hard), ("easy", easy)):
        ranks = [i for i, entry in enumerate(entries) if entry["caption"] == caption]
        if ranks:
            return {"side": side, "rank": ranks[0], "caption": caption}
    return {"side": None, "rank": None, "caption": caption}


def _short_repr(value, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters (values from the browser in errors)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _sentence(text: str) -> str:
    """``text`` as a sentence: first letter capitalised, ending with a full stop."""
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def _percent(value) -> str:
    return percent(value, digits=0)
