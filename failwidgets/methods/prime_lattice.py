"""One class's PRIME lattice cut to a node budget, ready to draw as a Hasse diagram.

A class may have thousands of candidate tag sets; a drawing stays readable with a few dozen.
:func:`lattice_drawing` keeps the failure modes (strongest drop first), each with all its
subsets, then up to ``max_context`` of the strongest other drops (sets that are not minimal
or drop less than ``a``) with their subsets, as long as the closure of the chosen sets stays
within ``max_nodes`` nodes (the empty set, the whole class, included). Call it through
:meth:`failwidgets.methods.prime.PrimeResult.drawing`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..checks import check_int

__all__ = ["CONTEXT_SCAN", "LatticeDrawing", "lattice_drawing"]

CONTEXT_SCAN = 2000
"""Candidate sets examined (strongest drop first) when filling the drawing with other drops."""


@dataclass(frozen=True)
class LatticeDrawing:
    """The part of one class's lattice to draw, and what was left out.

    Attributes
    ----------
    lattice : :class:`~failwidgets.methods.prime.TagLattice` of the chosen sets and all
        their subsets (the empty set included); its edges are those between drawn nodes.
    class_accuracy : ``A_c`` on the searched images of the class (NaN: none searched).
    n_class : searched images of the class.
    n_modes : failure modes of the class at the thresholds.
    n_modes_shown : failure modes that fit in ``max_nodes`` (strongest drop first).
    truncated : some failure modes or context sets did not fit.
    max_nodes : the node budget.
    reason : why the class has no failure mode at these thresholds ("" when it has one).
    """

    lattice: object
    class_accuracy: float
    n_class: int
    n_modes: int
    n_modes_shown: int
    truncated: bool
    max_nodes: int
    reason: str

    @property
    def class_name(self) -> str:
        return self.lattice.class_name


def _closure(subset_rows: np.ndarray, lo: int, rows) -> set[int]:
    """Rows of ``rows`` and all their subsets (the class's root row ``lo`` included)."""
    seen = {lo}
    stack = [int(r) for r in rows]
    while stack:
        row = stack.pop()
        if row in seen:
            continue
        seen.add(row)
        stack.extend(int(x) for x in subset_rows[row - lo] if x >= 0)
    return seen


def _choose_sets(columns, mode_rows: np.ndarray, s: int, max_size: int, max_nodes, max_context):
    """Sets to draw: failure modes by drop, then other strong drops, while the closure of
    the chosen sets stays within ``max_nodes``. Returns (rows, modes shown, truncated)."""
    lo = int(columns["row"][0])
    sub = columns["subset_rows"]
    nodes = _closure(sub, lo, [])
    chosen: list[int] = []
    truncated = False
    n_modes_shown = 0

    def try_add(row: int) -> bool:
        closure = _closure(sub, lo, [row])
        if len(nodes | closure) > max_nodes:
            return False
        nodes.update(closure)
        chosen.append(row)
        return True

    for row in mode_rows.tolist():
        if try_add(row):
            n_modes_shown += 1
        else:
            truncated = True
    size, n, drop = columns["size"], columns["n_images"], columns["drop"]
    eligible = (size >= 1) & (size <= max_size) & (n >= s) & (drop > 0)
    eligible[mode_rows - lo] = False
    candidates = np.flatnonzero(eligible)
    order = np.lexsort((-n[candidates], size[candidates], -drop[candidates]))
    added = 0
    for local in candidates[order][:CONTEXT_SCAN].tolist():
        if added >= max_context:
            break
        if try_add(lo + local):
            added += 1
        else:
            truncated = True
    return chosen, n_modes_shown, truncated


def lattice_drawing(
    result, class_, thresholds: dict, *, max_nodes: int = 40, max_context: int = 8
) -> LatticeDrawing:
    """The lattice of ``class_`` to draw at these thresholds (see the module docstring).

    Parameters
    ----------
    result : :class:`~failwidgets.methods.prime.PrimeResult`.
    class_ : class name or index.
    thresholds : ``{name: value}`` of some of ``a``, ``s``, ``b2``, ``b3``, ``b4``, as in
        :meth:`PrimeResult.failure_modes` (the others: the result's); sets of more than
        ``result.max_size`` tags are not drawn.
    max_nodes : most nodes drawn (the empty set included), >= 1.
    max_context : most non-mode sets (with their subsets) added to the failure modes, >= 0.
    """
    max_nodes = check_int(max_nodes, "max_nodes", 1)
    max_context = check_int(max_context, "max_context", 0)
    c = result.class_index(class_)
    modes = result.table(c, **thresholds)
    reason = "" if len(modes) else (modes.reason or "")
    columns = result.arrays(c)
    if len(columns["row"]) == 0:  # no image of the class was searched
        empty = result.lattice(c, **thresholds)
        return LatticeDrawing(empty, math.nan, 0, 0, 0, False, max_nodes, reason)
    s = thresholds.get("s", result.min_support)
    mode_rows = modes.sort_values("drop", ascending=False, kind="stable")["row"]
    chosen, n_modes_shown, truncated = _choose_sets(
        columns, mode_rows.to_numpy(dtype=np.int64), s, result.max_size, max_nodes, max_context
    )
    lattice = result.lattice(c, include="modes", rows=chosen, **thresholds)
    drawn = _closure(columns["subset_rows"], int(columns["row"][0]), chosen)
    nodes = lattice.nodes[lattice.nodes["row"].isin(sorted(drawn))].reset_index(drop=True)
    edges = lattice.edges[lattice.edges["superset_row"].isin(nodes["row"])]
    return LatticeDrawing(
        type(lattice)(lattice.class_name, nodes, edges.reset_index(drop=True)),
        class_accuracy=float(columns["accuracy"][0]),
        n_class=int(columns["n_images"][0]),
        n_modes=int(len(modes)),
        n_modes_shown=n_modes_shown,
        truncated=truncated,
        max_nodes=max_nodes,
        reason=reason,
    )
