"""Held-out drops remembered per rule, so that a threshold change re-measures only new modes.

A rule seen before (same kind, parameters and data sources) has the same held-out drop on the
same rows. :class:`HeldoutCache` keys each mode's rule by :func:`rule_key` and measures with
:func:`~failwidgets.rules.heldout.with_heldout` only the modes whose rule it has not seen.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..modes import FailureMode
from .heldout import with_heldout

__all__ = ["HeldoutCache", "rule_key"]

CACHE_SIZE = 20_000


def rule_key(mode: FailureMode) -> tuple | None:
    """What decides a mode's held-out drop: its rule's kind, parameters and data sources (by
    identity); None when the rule is not a dataclass (then it is measured every time)."""
    rule = getattr(mode, "rule", None)
    if rule is None or not dataclasses.is_dataclass(rule):
        return None
    parts: list = [type(rule)]
    for field in dataclasses.fields(rule):
        value = getattr(rule, field.name)
        if isinstance(value, (str, int, float, bool, type(None))):
            parts.append(value)
        elif isinstance(value, tuple):
            try:
                hash(value)
                parts.append(value)
            except TypeError:
                parts.append(("id", id(value)))
        else:  # arrays, callables, models: the same object gives the same values
            parts.append(("id", id(value)))
    return tuple(parts)


class HeldoutCache:
    """Held-out drops of modes on fixed ``rows`` of ``evalset``, remembered per rule."""

    def __init__(self, evalset, rows: np.ndarray, size: int = CACHE_SIZE):
        self._evalset = evalset
        self._rows = rows
        self._size = size
        self._drops: dict[tuple, tuple] = {}

    def measure(self, modes: list[FailureMode]) -> tuple[list[FailureMode], list[str]]:
        """``modes`` with ``heldout_drop`` filled where a rule applies (a drop a mode already
        has is kept), and the errors of the rules that failed (those modes stay unmeasured)."""
        failed: list[str] = []
        keys = [rule_key(mode) for mode in modes]
        todo = [
            m
            for m, key in zip(modes, keys)
            if m.rule is not None
            and m.heldout_drop is None
            and (key is None or key not in self._drops)
        ]
        measured = {}
        if todo:
            done = with_heldout(
                todo,
                self._evalset,
                None,
                indices=self._rows,
                on_error=lambda mode, error: failed.append(f"{type(error).__name__}: {error}"),
            )
            for mode, result, key in zip(todo, done, map(rule_key, todo)):
                measured[id(mode)] = result
                if key is not None and result is not mode:
                    if len(self._drops) >= self._size:
                        self._drops.clear()
                    # the entry holds the rule, so the ids in its key stay unique
                    self._drops[key] = (result.heldout_drop, mode.rule)
        out = []
        for mode, key in zip(modes, keys):
            if id(mode) in measured:
                out.append(measured[id(mode)])
            elif mode.heldout_drop is None and key is not None and key in self._drops:
                out.append(dataclasses.replace(mode, heldout_drop=self._drops[key][0]))
            else:
                out.append(mode)
        return out, failed
