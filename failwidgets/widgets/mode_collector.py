"""Every view's failure modes in one list: collected per class, held-out drops added, and
the strongest modes of each method picked for the agreement matrix.

No widget of its own: the Explorer's table shows what :class:`ModeCollector` returns. Method
views answer through the :class:`FailureView` protocol (``failure_modes(classes)``); a user's
own widget with a ``failure_modes()`` method is asked for all its modes, then filtered.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import replace

import numpy as np

from ..data import EvalSet
from ..modes import FailureMode
from .failure_view import FailureView

__all__ = ["ModeCollector"]


class ModeCollector:
    """Failure modes of ``views`` over ``evalset``.

    ``split``: agreement members are cut to its rows; ``heldout_split``: each mode's rule is
    re-applied there for ``heldout_drop``; ``max_agreement``: modes per method in the
    agreement; ``on_message``: where a view's failure is reported (the table keeps going).
    """

    def __init__(
        self,
        evalset: EvalSet,
        views: Mapping,
        *,
        split: str | None,
        heldout_split: str | None,
        max_agreement: int,
        on_message: Callable[[str], None],
    ):
        self._evalset = evalset
        self._views = views
        self._split = split
        self._heldout_split = heldout_split
        self._max_agreement = max_agreement
        self._message = on_message
        self._heldout = None
        self._split_mask: np.ndarray | None = None

    def collect(self, class_name: str | None = None) -> list[FailureMode]:
        """Every view's failure modes: of all classes, or only of ``class_name`` (views that
        fit per class then fit only that class)."""
        modes: list[FailureMode] = []
        for name, view in list(self._views.items()):
            try:
                found = _modes_of(view, class_name)
            except Exception as error:
                self._message(f"{name}: failure_modes() failed ({type(error).__name__}: {error})")
                continue
            if found is None:
                continue
            if self._heldout_split is not None:
                found = self._with_heldout(name, found)
            modes.extend(found)
        return modes

    def _with_heldout(self, name: str, modes: list[FailureMode]) -> list[FailureMode]:
        """The modes with ``heldout_drop``: each mode's rule re-applied to the class's rows in
        ``heldout_split`` (remembered per rule: :class:`~failwidgets.rules.HeldoutCache`); a
        drop the view measured itself is kept. A rule that fails leaves its mode unmeasured,
        with one message."""
        from ..rules.heldout_cache import HeldoutCache

        if self._heldout is None:  # the rows: a scan of every row, once
            rows = self._evalset.split_indices(self._heldout_split)
            self._heldout = HeldoutCache(self._evalset, rows)
        modes, failed = self._heldout.measure(modes)
        if failed:
            self._message(
                f"{name}: held-out drop not measured for {len(failed)} modes ({failed[0]})"
            )
        return modes

    def agreement_modes(self, modes: list[FailureMode], class_name: str) -> list[FailureMode]:
        """``class_name``'s modes for the agreement matrix: at most ``max_agreement`` per
        method, strongest drop first, members cut to ``split``."""
        if self._split is not None and self._split_mask is None:  # a scan of every row, once
            self._split_mask = np.asarray(self._evalset.split == self._split)
        chosen: list[FailureMode] = []
        by_method: dict[str, list[FailureMode]] = {}
        for mode in modes:
            if mode.class_name == class_name:
                by_method.setdefault(mode.method, []).append(mode)
        for method_modes in by_method.values():
            drops = np.array([m.drop if math.isfinite(m.drop) else -np.inf for m in method_modes])
            for i in np.argsort(-drops, kind="stable")[: self._max_agreement]:
                mode = method_modes[int(i)]
                if self._split_mask is not None:
                    members = np.asarray(mode.members, dtype=np.int64)
                    mode = replace(mode, members=np.unique(members[self._split_mask[members]]))
                chosen.append(mode)
        return chosen


def _modes_of(view, class_name: str | None = None) -> list[FailureMode] | None:
    """A view's failure modes of every class (None) or of ``class_name`` (a method view then
    fits only that class); None for a widget without failure modes."""
    if isinstance(view, FailureView):
        return list(view.failure_modes("all" if class_name is None else [class_name]))
    failure_modes = getattr(view, "failure_modes", None)  # a user's own widget
    if not callable(failure_modes):
        return None
    modes = [m for m in failure_modes() if isinstance(m, FailureMode)]
    return [m for m in modes if class_name is None or m.class_name == class_name]
