"""The JSON the lattice drawing shows, and the lattice view's texts, built from PRIME's answer.

Pure functions, no widgets: :func:`lattice_graph` (the Hasse diagram's view model, from the
engine's :meth:`~failwidgets.methods.prime.PrimeResult.drawing`), :func:`status_text` (the
view's status line), :func:`selected_row` (which drawn node is selected), :func:`mode_title`
and :func:`class_title` (the grid's titles); :data:`L_SLIDER`, the ``l`` slider's text.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..methods.prime import THRESHOLD_SIZES, PrimeResult
from ..methods.prime_lattice import LatticeDrawing
from ..modes import FailureMode
from ..text import finite_or_none, plural
from ..thresholds import ThresholdSpec

__all__ = [
    "L_SLIDER",
    "class_title",
    "lattice_graph",
    "mode_title",
    "selected_row",
    "status_text",
]

L_SLIDER = ThresholdSpec(
    "max_size",
    "l",
    "count",
    4,
    "largest tag-set size (a larger l than searched runs the search again)",
    continuous=False,
)
"""The l slider's label and text (l is a search setting, not one of the specs' thresholds)."""


def lattice_graph(
    result: PrimeResult,
    class_name: str | None,
    thresholds: Mapping,
    *,
    max_nodes: int = 40,
    max_context: int = 8,
) -> dict:
    """The drawing's view model (JSON-ready) of one class at these thresholds.

    Parameters
    ----------
    result : the PRIME answer to draw (its ``max_size`` is the drawing's ``l``; sizes
        without a threshold keep its ``b``).
    class_name : the drawn class (None: none; nothing is drawn).
    thresholds : ``a``, ``s``, ``b2``, ``b3``, ``b4``.
    max_nodes, max_context : the node budget and the most non-mode sets added
        (:meth:`PrimeResult.drawing`).

    Returns
    -------
    dict with ``class_name``, ``class_accuracy``, ``n_class``, ``thresholds`` (``a``, ``s``,
    ``l`` and ``b``: ``{"2": b_2, ..., "l": b_l}``), ``n_modes`` (failure modes of the class),
    ``n_modes_shown``, ``truncated`` (some modes or context sets did not fit in
    ``max_nodes``), ``max_nodes``, ``message``, ``reason`` (why the class has no failure mode
    at these thresholds; ``""`` when it has one), ``nodes`` (``row``, ``tags``, ``size``,
    ``n``, ``n_errors``, ``accuracy``, ``drop``, ``mode``) and ``edges`` (``subset``,
    ``superset``, ``removed``, ``gain``, ``necessary``, ``necessity``: a necessary edge of a
    failure mode).
    """
    max_size = result.max_size  # l
    b = {**result.b, **{size: thresholds[f"b{size}"] for size in THRESHOLD_SIZES}}
    graph = {
        "class_name": class_name,
        "thresholds": {
            "a": thresholds["a"],
            "s": thresholds["s"],
            "l": max_size,
            "b": {str(k): b[k] for k in range(2, max_size + 1)},
        },
        "max_nodes": max_nodes,
        "class_accuracy": None,
        "n_class": 0,
        "nodes": [],
        "edges": [],
        "n_modes": 0,
        "n_modes_shown": 0,
        "truncated": False,
        "message": "No class selected.",
        "reason": "",
    }
    if class_name is None:
        return graph
    drawing = result.drawing(class_name, max_nodes=max_nodes, max_context=max_context, **thresholds)
    nodes, edges = drawing.lattice.nodes, drawing.lattice.edges
    graph.update(
        class_accuracy=finite_or_none(drawing.class_accuracy),
        n_class=drawing.n_class,
        n_modes=drawing.n_modes,
        n_modes_shown=drawing.n_modes_shown,
        truncated=drawing.truncated,
        reason=drawing.reason,
        message=_message(drawing, class_name, max_nodes),
        nodes=[
            {
                "row": int(row.row),
                "tags": list(row.tags),
                "size": int(row.size),
                "n": int(row.n_images),
                "n_errors": int(row.n_errors),
                "accuracy": finite_or_none(row.accuracy),
                "drop": finite_or_none(row.drop),
                "mode": bool(row.is_failure_mode),
            }
            for row in nodes.itertuples(index=False)
        ],
        edges=[
            {
                "subset": int(e.subset_row),
                "superset": int(e.superset_row),
                "removed": str(e.removed_tag),
                "gain": finite_or_none(e.accuracy_gain),
                "necessary": bool(e.necessary),
                "necessity": bool(e.necessary and e.from_failure_mode),
            }
            for e in edges.itertuples(index=False)
        ],
    )
    return graph


def _message(drawing: LatticeDrawing, class_name: str, max_nodes: int) -> str:
    """The line above the drawing: why it is empty, or what was left out ("" otherwise)."""
    if drawing.n_class == 0:
        return f"No images of class {class_name!r} in the searched set."
    if not drawing.n_modes:
        return f"No failure modes at these thresholds: {drawing.reason}."
    if drawing.n_modes_shown < drawing.n_modes:
        return (
            f"Drawing the {drawing.n_modes_shown} strongest of {drawing.n_modes} failure "
            f"modes (at most {max_nodes} sets; raise max_nodes to see more)."
        )
    return ""


def status_text(graph: dict) -> str:
    """The view's status line for a graph of :func:`lattice_graph`."""
    if graph["class_name"] is None:
        return "no class selected"
    shown, n_modes = graph["n_modes_shown"], graph["n_modes"]
    text = plural(n_modes, "failure mode")
    if shown != n_modes:
        text += f" ({shown} drawn; raise max_nodes to see all)"
    text += f" · {len(graph['nodes'])} sets drawn · l = {graph['thresholds']['l']}"
    if graph["reason"]:
        text += f" · none because {graph['reason']}"
    return text


def selected_row(graph: dict, tags: tuple[str, ...] | None) -> int:
    """The drawn row of the tag set ``tags`` (``()``: the whole class); -1 when it is not
    drawn or ``tags`` is None."""
    if tags is None:
        return -1
    return next((node["row"] for node in graph["nodes"] if tuple(node["tags"]) == tags), -1)


def mode_title(mode: FailureMode) -> str:
    """The grid's title for a tag set's images: its class, tags, size, errors, accuracies."""
    n_errors = mode.size - round(mode.accuracy * mode.size)
    return (
        f"{mode.class_name}: {mode.description} — {mode.size} images, {n_errors} errors, "
        f"accuracy {mode.accuracy:.1%} (class {mode.accuracy + mode.drop:.1%})"
    )


def class_title(class_name: str, n_images: int, n_errors: int) -> str:
    """The grid's title while it shows a whole class (before a node is clicked)."""
    return (
        f"{class_name}: all {n_images} searched images, {n_errors} errors first — click a "
        "node to see its images"
    )
