"""The EvalSet rows an analysis covers: given as indices, a boolean mask or a split name."""

from __future__ import annotations

import functools

import numpy as np

from .data import EvalSet

__all__ = ["analysed_rows"]


def analysed_rows(evalset: EvalSet, indices=None, split=None) -> tuple[np.ndarray | None, str]:
    """The rows to analyse (ascending, read-only; None: all) and a phrase naming them.

    ``indices``: indices, a boolean mask or a split name; ``split``: a split name. With both,
    the rows in both. The phrase (e.g. ``" in split 'test'"``) completes messages such as
    "No images labelled cat…"; it is empty for all rows.
    """
    if indices is None and split is None:
        return None, ""
    parts: list[tuple[np.ndarray, str]] = []
    if split is not None:
        parts.append((evalset.split_indices(split, argument="split"), f" in split {split!r}"))
    if isinstance(indices, str):
        rows = evalset.split_indices(indices, argument="indices")
        parts.append((rows, f" in split {indices!r}"))
    elif indices is not None:
        chosen = evalset.check_indices(indices, "indices")
        if chosen.size == 0:
            raise ValueError("indices: no rows to analyse (empty)")
        if np.unique(chosen).size != chosen.size:
            raise ValueError("indices: contains repeated indices")
        parts.append((np.unique(chosen), f" in the {chosen.size} given rows"))
    rows = functools.reduce(np.intersect1d, [part[0] for part in parts])
    if rows.size == 0:
        raise ValueError(f"indices: none of the given rows is in split {split!r}")
    where = parts[0][1] if len(parts) == 1 else f" in the {rows.size} given rows of {split!r}"
    rows.flags.writeable = False
    return rows, where
