"""The Explorer's words: the grid titles, the selection line, the status line and the table
caption, built from its state (pure functions, no widgets; HTML is escaped here)."""

from __future__ import annotations

import html

import numpy as np

from ..modes import FailureMode
from ..text import percent, plural

__all__ = [
    "class_images_title",
    "mode_title",
    "selection_html",
    "status_html",
    "table_caption",
]

MUTED = "color: var(--jp-ui-font-color2)"
ERROR = "color: var(--jp-error-color1, #d32f2f)"


def mode_title(mode: FailureMode, n_errors: int) -> str:
    """The grid's title for a selected failure mode (its members shown errors first)."""
    return (
        f"{mode.method} · {mode.class_name}: {mode.description} — {mode.size} images, "
        f"{n_errors} errors first, accuracy {percent(mode.accuracy, digits=0)}"
    )


def class_images_title(class_name: str, n_images: int, n_errors: int, split: str | None) -> str:
    """The grid's title for a class's images (shown when the class changes)."""
    where = f"{split} images" if split else "images"
    return (
        f"{class_name}: {n_images} {where}, the {n_errors} errors first — select a failure "
        "mode in a view or in the table to see its images"
    )


def selection_html(mode: FailureMode | None, n_selected: int) -> str:
    """The selection line: the selected mode and how many grid images are selected."""
    parts = []
    if mode is not None:
        parts.append(
            f"<b>Selected:</b> {html.escape(mode.method)} · {html.escape(mode.class_name)}: "
            f"{html.escape(mode.description)} ({mode.size} images, accuracy "
            f"{percent(mode.accuracy, digits=0)})"
        )
    if n_selected:
        parts.append(f"{plural(n_selected, 'image')} selected in the grid")
    if not parts:
        parts.append(
            f"<span style='{MUTED}'>Click a failure mode in a view or in the table; select "
            "images in the grid to explain them.</span>"
        )
    return " · ".join(parts)


def status_html(unavailable: dict[str, str], last_message: str | None) -> str:
    """The status line: the views left out and why, and the last problem met."""
    parts = []
    if unavailable:
        missing = "; ".join(
            f"{html.escape(name)} ({html.escape(reason)})" for name, reason in unavailable.items()
        )
        parts.append(f"<span style='{MUTED}'>Not shown: {missing}</span>")
    if last_message:
        parts.append(f"<span style='{ERROR}'>{html.escape(last_message)}</span>")
    return "<br>".join(parts)


def table_caption(modes: list[FailureMode], scope: str, class_name: str) -> str:
    """The table's caption: how many modes from how many methods, and what to click."""
    n_methods = len({m.method for m in modes})
    where = "all classes" if scope == "all" else f"class {class_name}"
    return (
        f"{plural(len(modes), 'failure mode')} from {plural(n_methods, 'method')} ({where}) "
        "— click a row to see its images; click a header to sort"
    )


def class_rows(evalset, class_name: str, split: str | None) -> np.ndarray:
    """The class's images (labelled ``class_name``) in ``split`` (None: all), errors first."""
    rows = np.arange(evalset.n) if split is None else evalset.split_indices(split)
    c = evalset.class_index(class_name)
    return evalset.errors_first(rows[evalset.labels[rows] == c])
