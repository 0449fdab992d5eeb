"""The selection state every failure view shares, as typed traits that can be observed.

A view mixes :class:`Selectable` in before its ipywidgets container class. It keeps writing
its selection to ``self._selected_members`` (EvalSet indices; empty: nothing selected) and
announces a new selection with ``self._notify_select(mode)``; the mixin mirrors both into
the read-only traits ``selected_indices`` and ``selected_mode``, which ``observe`` and
``traitlets.link``/``dlink`` accept, and calls the ``on_select`` callbacks.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import traitlets

from ..modes import FailureMode
from .grid import _IndexArray

__all__ = ["Selectable"]


class Selectable(traitlets.HasTraits):
    """Mixin: ``selected_mode``, ``selected_indices`` and ``on_select`` for a view."""

    selected_mode = traitlets.Instance(
        FailureMode,
        allow_none=True,
        read_only=True,
        help="the view's current selection as a failure mode (None: nothing selected)",
    )
    selected_indices = _IndexArray(
        read_only=True, help="EvalSet indices of the view's current selection"
    )

    @property
    def selected_members(self) -> np.ndarray:
        """EvalSet indices of the view's current selection (read-only; empty: nothing)."""
        return self.selected_indices

    @property
    def _selected_members(self) -> np.ndarray:
        return self.selected_indices

    @_selected_members.setter
    def _selected_members(self, members) -> None:
        members = np.asarray(members, dtype=np.int64)
        self.set_trait("selected_indices", members)
        if not len(members):
            self.set_trait("selected_mode", None)

    @property
    def _callbacks(self) -> list[Callable[[FailureMode], None]]:
        callbacks = self.__dict__.get("_select_callbacks")
        if callbacks is None:
            callbacks = self.__dict__["_select_callbacks"] = []
        return callbacks

    @_callbacks.setter
    def _callbacks(self, value) -> None:
        self.__dict__["_select_callbacks"] = list(value)

    def on_select(self, callback: Callable[[FailureMode], None]) -> None:
        """Call ``callback(mode)`` on each selection (also ``observe(..., "selected_mode")``)."""
        if not callable(callback):
            raise TypeError(f"callback: expected a callable, got {type(callback).__name__}")
        self._callbacks.append(callback)

    def _notify_select(self, mode: FailureMode) -> None:
        """Publish a new selection: the traits first, then the callbacks."""
        self.set_trait("selected_indices", np.asarray(mode.members, dtype=np.int64))
        self.set_trait("selected_mode", mode)
        for callback in list(self._callbacks):
            callback(mode)
