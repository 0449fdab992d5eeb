"""ModeTable: a sortable table of failure modes from any method, plus their agreement (anywidget).

The Explorer feeds it :class:`~failwidgets.modes.FailureMode` objects; the browser draws one
row per mode (method, class, description, size, accuracy, drop, held-out drop), sorts by a
header click (the ``sort_by`` / ``ascending`` traits, synced both ways) and reports row clicks,
which :meth:`ModeTable.on_select` hands on as the clicked ``FailureMode``. Below the rows, the
Jaccard overlaps of one class's modes (the ``agreement`` trait).
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Sequence

import anywidget
import numpy as np
import pandas as pd
import traitlets

from ..modes import FailureMode, modes_to_frame
from ..text import finite_or_none
from .guard import (
    BrowserMessageError,
    GuardedState,
    StrictInt,
    answer_errors,
    is_int,
    message_int,
    short_repr,
    validator,
)

__all__ = ["ModeTable", "SORT_COLUMNS", "sort_frame"]

_STATIC = pathlib.Path(__file__).parent.parent / "static"
SORT_COLUMNS = ("method", "class_name", "description", "size", "accuracy", "drop", "heldout_drop")
TEXT_COLUMNS = ("method", "class_name", "description")


def sort_frame(frame: pd.DataFrame, by: str, ascending: bool) -> pd.DataFrame:
    """``frame`` sorted as the table sorts: stable, missing values last in both directions,
    text case-insensitively."""
    if by not in SORT_COLUMNS:
        raise ValueError(f"by: expected one of {list(SORT_COLUMNS)}, got {by!r}")
    key = (lambda s: s.astype(str).str.lower()) if by in TEXT_COLUMNS else None
    return frame.sort_values(
        by, ascending=ascending, kind="stable", na_position="last", key=key
    ).reset_index(drop=True)


class ModeTable(GuardedState, anywidget.AnyWidget):
    """Sortable failure-mode table with a cross-method agreement matrix.

    Attributes
    ----------
    rows : list of dict
        One JSON row per mode (``id`` is the mode's position in :attr:`modes`).
    sort_by : str
        Column the rows are sorted by (one of ``SORT_COLUMNS``; synced with header clicks).
    ascending : bool
    selected_id : int
        Row marked as selected (-1: none).
    class_name : str
        Rows of other classes are drawn muted.
    caption : str
        Text above the table.
    busy : bool
        Shown as "updating…" while the owner recomputes the rows.
    agreement : dict
        ``{"class_name", "modes": [{method, description, size}], "values": [[float]]}`` or
        ``{}`` for none (see :meth:`set_agreement`).

    Notes
    -----
    The browser may set ``sort_by`` and ``ascending`` (validated; a refused update changes
    nothing); the other synced traits are the kernel's. A row click arrives as
    ``{"type": "select", "id"}``; a message that cannot be applied is answered with
    ``{"type": "error", ...}``.
    """

    _esm = _STATIC / "mode_table.js"
    _browser_traits = frozenset({"sort_by", "ascending"})

    rows = traitlets.List([]).tag(sync=True)
    sort_by = traitlets.Unicode("drop").tag(sync=True)
    ascending = traitlets.Bool(False).tag(sync=True)
    selected_id = StrictInt(-1).tag(sync=True)
    class_name = traitlets.Unicode("").tag(sync=True)
    caption = traitlets.Unicode("").tag(sync=True)
    busy = traitlets.Bool(False).tag(sync=True)
    agreement = traitlets.Dict({}).tag(sync=True)

    def __init__(self, modes: Sequence[FailureMode] = (), **kwargs):
        self._modes: list[FailureMode] = []  # before the traits: selected_id's check reads it
        self._callbacks: list[Callable[[FailureMode], None]] = []
        super().__init__(**kwargs)
        self.on_msg(self._on_message)
        self.set_modes(modes)

    # ------------------------------------------------------------------ public API
    @property
    def modes(self) -> list[FailureMode]:
        """The modes shown, in the order given (row ``id`` = position)."""
        return list(self._modes)

    def set_modes(self, modes: Sequence[FailureMode], caption: str | None = None) -> None:
        """Show ``modes`` (the selection is kept when the same mode is still listed)."""
        modes = list(modes)
        for i, mode in enumerate(modes):
            if not isinstance(mode, FailureMode):
                raise TypeError(f"modes[{i}]: expected a FailureMode, got {type(mode).__name__}")
        previous = self.selected_mode
        self._modes = modes
        selected = -1
        if previous is not None:
            selected = next((i for i, m in enumerate(modes) if _same_mode(m, previous)), -1)
        with self.hold_sync():
            self.rows = [_row(i, m) for i, m in enumerate(modes)]
            self.selected_id = selected
            if caption is not None:
                self.caption = caption

    @property
    def selected_mode(self) -> FailureMode | None:
        if 0 <= self.selected_id < len(self._modes):
            return self._modes[self.selected_id]
        return None

    def select(self, row_id: int) -> FailureMode:
        """Select row ``row_id`` and tell the ``on_select`` callbacks."""
        if not is_int(row_id):
            raise TypeError(f"row_id: expected an integer, got {type(row_id).__name__}")
        if not 0 <= row_id < len(self._modes):
            raise ValueError(f"row_id: expected 0..{len(self._modes) - 1}, got {row_id}")
        self.selected_id = int(row_id)
        mode = self._modes[int(row_id)]
        for callback in list(self._callbacks):
            callback(mode)
        return mode

    def mark(self, mode: FailureMode | None) -> None:
        """Mark the row of ``mode`` as selected (none when it is not listed); no callbacks."""
        if mode is None:
            self.selected_id = -1
            return
        self.selected_id = next((i for i, m in enumerate(self._modes) if _same_mode(m, mode)), -1)

    def on_select(self, callback: Callable[[FailureMode], None]) -> None:
        """Call ``callback(mode)`` when a row is clicked."""
        if not callable(callback):
            raise TypeError(f"callback: expected a callable, got {type(callback).__name__}")
        self._callbacks.append(callback)

    def frame(self) -> pd.DataFrame:
        """The modes as a DataFrame (:func:`~failwidgets.modes.modes_to_frame`), sorted as shown."""
        return sort_frame(modes_to_frame(self._modes), self.sort_by, self.ascending)

    def set_agreement(self, class_name: str, modes: Sequence[FailureMode], values) -> None:
        """Show the overlap matrix ``values`` (n x n) of ``modes`` of ``class_name``."""
        values = np.asarray(values, dtype=float)
        modes = list(modes)
        if values.shape != (len(modes), len(modes)):
            raise ValueError(
                f"values: expected a {len(modes)} x {len(modes)} matrix, got {values.shape}"
            )
        self.agreement = {
            "class_name": str(class_name),
            "modes": [
                {"method": m.method, "description": m.description, "size": m.size} for m in modes
            ],
            "values": [[finite_or_none(v) for v in row] for row in values.tolist()],
        }

    # ------------------------------------------------------------------ validation
    @validator("sort_by")
    def _valid_sort_by(self, proposal):
        value = proposal["value"]
        if value not in SORT_COLUMNS:
            raise ValueError(f"sort_by: expected one of {list(SORT_COLUMNS)}, got {value!r}")
        return value

    @validator("selected_id")
    def _valid_selected_id(self, proposal):
        value = proposal["value"]
        if not -1 <= value < len(self._modes):
            raise ValueError(
                f"selected_id: expected -1 (none) or a row id 0..{len(self._modes) - 1}, "
                f"got {value}"
            )
        return value

    @answer_errors
    def _on_message(self, widget, content, buffers) -> None:
        kind = content.get("type")
        if kind != "select":
            raise BrowserMessageError(f"type: expected 'select', got {short_repr(kind)}")
        row_id = message_int(content, "id")
        if not 0 <= row_id < len(self._modes):
            raise BrowserMessageError(
                f"id: no row {row_id} (the table has {len(self._modes)} rows; it changed since "
                "the click?)"
            )
        self.select(row_id)


def _row(i: int, mode: FailureMode) -> dict:
    return {
        "id": i,
        "method": mode.method,
        "class_name": mode.class_name,
        "description": mode.description,
        "size": mode.size,
        "accuracy": finite_or_none(mode.accuracy),
        "drop": finite_or_none(mode.drop),
        "heldout_drop": finite_or_none(mode.heldout_drop),
    }


def _same_mode(a: FailureMode, b: FailureMode) -> bool:
    return (
        a.method == b.method
        and a.class_name == b.class_name
        and a.description == b.description
        and np.array_equal(a.members, b.members)
    )
