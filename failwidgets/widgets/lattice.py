"""LatticeView: PRIME's tag-set lattice of one class as a Hasse diagram (anywidget + ipywidgets).

The view is a thin layer over :class:`~failwidgets.methods.prime.PrimeResult`: the search runs
once; the thresholds ``a``, ``s``, ``b2``, ``b3`` and ``b4`` only re-filter the result's
candidate table (no new search); ``l`` (``max_size``) searches again, on the view's worker,
only when it grows beyond the searched ``l``.

What is drawn (see :meth:`LatticeView.graph`): the empty set (the whole class) at the top,
then one level per set size; an edge joins a set to each of its one-tag-removed subsets.
Nodes are coloured by the accuracy drop ``A_c - A_S``, sized by ``|I_S|``; failure modes are
highlighted together with their necessity edges (removing that tag raises the accuracy by at
least ``b_|S|``). Which sets fit in ``max_nodes`` is the engine's choice
(:meth:`PrimeResult.drawing`).
"""

from __future__ import annotations

import math
import pathlib
from collections.abc import Callable, Mapping

import anywidget
import ipywidgets as widgets
import numpy as np
import traitlets

from ..checks import check_fraction, check_int
from ..data import EvalSet
from ..methods.answers import answer_list
from ..methods.prime import MAX_SET_SIZE, Prime, PrimeResult, prime_result
from ..modes import FailureMode
from .failure_view import FailureView
from .grid import ImageGrid
from .guard import (
    BrowserMessageError,
    Checked,
    GuardedState,
    StrictInt,
    TraitValueError,
    answer_errors,
    message_int,
    short_repr,
    validator,
)
from .threshold_controls import ControlLink, Threshold

__all__ = ["LatticeView", "LatticeCanvas"]

_STATIC = pathlib.Path(__file__).parent.parent / "static"
SLIDER_SIZES = (2, 3, 4)  # the b_n with a slider; larger sizes keep the result's b_n


def _finite_or_none(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


# ---------------------------------------------------------------------- the drawing
class LatticeCanvas(GuardedState, anywidget.AnyWidget):
    """The Hasse diagram itself (browser side: ``js/src/lattice.js``).

    ``graph`` is the view model built by :meth:`LatticeView.graph`; ``selected_row`` the
    highlighted node (-1: none); ``query`` the tag search text (nodes whose tags contain it,
    case-insensitive, are highlighted and the rest dimmed). The browser may set ``query``
    only. A click in the browser sends ``{"type": "select", "row": int}``, handed to
    ``on_node_click`` when the row is drawn; a message that cannot be applied is answered with
    ``{"type": "error", ...}``.
    """

    _esm = _STATIC / "lattice.js"
    _browser_traits = frozenset({"query"})

    graph = traitlets.Dict({}).tag(sync=True)
    selected_row = StrictInt(-1).tag(sync=True)
    query = traitlets.Unicode("").tag(sync=True)

    def __init__(self, on_node_click: Callable[[int], None] | None = None, **kwargs):
        super().__init__(**kwargs)
        self._on_node_click = on_node_click
        self.on_msg(self._on_message)

    @answer_errors
    def _on_message(self, widget, content, buffers) -> None:
        kind = content.get("type")
        if kind != "select":
            raise BrowserMessageError(f"type: expected 'select', got {short_repr(kind)}")
        row = message_int(content, "row")
        if row not in {node["row"] for node in self.graph.get("nodes", ())}:
            raise BrowserMessageError(
                f"row: {row} is not drawn (the lattice changed since the click?)"
            )
        if self._on_node_click is not None:
            self._on_node_click(row)


# ---------------------------------------------------------------------- the view
class LatticeView(FailureView):
    """PRIME's tag lattice of the selected class, with threshold controls and an image grid.

    Parameters
    ----------
    evalset : EvalSet
        The evaluated samples (labels, predictions, images; metadata for default tags).
    tags : TagMatrix, ``(matrix, names)``, boolean DataFrame, optional
        Tags of all ``evalset.n`` images; default: the metadata's boolean and categorical
        columns (:func:`~failwidgets.features.tags.tags_from_metadata`). Not with ``result``.
    result : PrimeResult or fitted Prime, optional
        A finished search over ``evalset`` (then no search runs at construction).
    indices : split name, indices or boolean mask, optional
        Images to search (e.g. ``"test"``); default all. Not with ``result``.
    grid : ImageGrid, optional
        Where a clicked node's images are shown (errors first). Default: the view makes
        its own grid and shows it below the lattice.
    class_name : str or int, optional
        Class shown first; default: the class whose strongest failure mode drops most.
    a, s, b, max_size : thresholds (see :meth:`PrimeResult.failure_modes`): minimum drop,
        minimum support (not below the searched ``min_support``), ``{size: b_size}``
        necessity thresholds and the largest set size ``l``. Defaults: the result's.
    min_support, min_count : search settings when the view searches (``s`` cannot go
        below ``min_support`` without a new search).
    max_nodes : most nodes drawn (the empty set included).
    max_context : most non-mode sets (with their subsets) added to the failure modes.
    background : search again for a larger ``l`` on a worker thread (default) or inline.

    Attributes
    ----------
    a, s, b2, b3, b4 : the thresholds (:data:`failwidgets.thresholds.THRESHOLDS`); setting
        one re-filters and redraws.
    max_size : ``l``; a larger one than searched searches again (meanwhile the drawing
        and :meth:`failure_modes` use the searched ``l``).
    class_name : the drawn class (None: none).
    result : the current :class:`PrimeResult`.
    grid : the linked :class:`ImageGrid`.
    canvas : the :class:`LatticeCanvas` drawing.
    selected_tags : tags of the selected node (``()`` is the whole class) or None.
    selected_members : EvalSet indices of the selected node (ascending; empty when none).
    """

    method = "prime"
    a = Threshold("prime", "a")
    s = Threshold("prime", "s")
    b2 = Threshold("prime", "b2")
    b3 = Threshold("prime", "b3")
    b4 = Threshold("prime", "b4")
    max_size = Checked(help="l, the largest tag-set size (above the searched l: a new search)")

    def __init__(
        self,
        evalset: EvalSet,
        tags=None,
        *,
        result: PrimeResult | Prime | None = None,
        indices=None,
        grid: ImageGrid | None = None,
        class_name: str | int | None = None,
        a: float | None = None,
        s: int | None = None,
        b: Mapping[int, float] | None = None,
        max_size: int | None = None,
        min_support: int = 30,
        min_count: int | None = None,
        max_nodes: int = 40,
        max_context: int = 8,
        background: bool = True,
        **kwargs,
    ):
        super().__init__(evalset, grid=grid, background=background, **kwargs)
        self._max_nodes = check_int(max_nodes, "max_nodes", 1)
        self._max_context = check_int(max_context, "max_context", 0)
        self._result = self._initial_result(tags, result, indices, max_size, min_support, min_count)
        r = self._result
        self._b_fixed = dict(r.b)  # sizes without a slider keep these
        if b is not None:
            if not isinstance(b, Mapping):
                raise TypeError(
                    "b: expected a mapping from set size to threshold, e.g. {2: 0.1}, "
                    f"got {type(b).__name__}"
                )
            for size, value in b.items():
                size = check_int(size, "b (set size)", 1, MAX_SET_SIZE)
                self._b_fixed[size] = check_fraction(value, f"b[{size}]")
        self._selected_tags: tuple[str, ...] | None = None
        self.add_class("fw-lattice-view")
        self.canvas = LatticeCanvas(on_node_click=self._on_node_click)

        self.a = r.a if a is None else a
        self.s = r.min_support if s is None else s
        self.b2, self.b3, self.b4 = (self._b_fixed[k] for k in SLIDER_SIZES)
        self.max_size = r.max_size if max_size is None else max_size
        self.class_name = r.strongest_class(**self._filter()) if class_name is None else class_name

        self._status_html.add_class("fw-lattice-summary")
        largest = int(r.class_summary["n_images"].max())
        controls = self.threshold_controls(s=(r.min_support, max(r.min_support, largest)))
        sliders = dict(zip(self.threshold_names(), controls))  # names in alphabetical order
        sliders["s"].tooltip += "; not below the searched minimum support"
        sliders["max_size"] = widgets.IntSlider(
            value=self.max_size,
            min=1,
            max=MAX_SET_SIZE,
            description="l",
            tooltip="largest tag-set size (a larger l than searched runs the search again)",
            continuous_update=False,
            layout=widgets.Layout(width="230px"),
            style=widgets.SliderStyle(description_width="28px"),
        )
        sliders["max_size"].add_class("fw-prime-max_size")
        ControlLink((self, "max_size"), (sliders["max_size"], "value"), self._control_error)
        self._sliders = sliders
        self._class_dropdown = self.class_control()
        wrap = {"flex_flow": "row wrap"}
        self.children = [
            widgets.HBox([self._class_dropdown, self._status_html]),
            widgets.HBox([sliders["a"], sliders["s"], sliders["max_size"]], layout=wrap),
            widgets.HBox([sliders[f"b{k}"] for k in SLIDER_SIZES], layout=wrap),
            self.canvas,
            *([self.grid] if self._owns_grid else []),
        ]
        # show_controls=False given to the constructor was applied before the controls existed
        self._show_own_controls({"new": self.show_controls})
        self._finish_init()
        self._refresh()
        self._show_class_in_own_grid()

    # ------------------------------------------------------------------ construction
    def _initial_result(self, tags, result, indices, max_size, min_support, min_count):
        if max_size is not None:
            check_int(max_size, "max_size", 1, MAX_SET_SIZE)
        if result is None:
            estimator = Prime(max_size=max_size or 4, min_support=min_support, min_count=min_count)
            return estimator.fit(self.evalset, tags, indices=indices).result_
        if tags is not None or indices is not None:
            raise ValueError("result: pass either a search result or tags/indices to search")
        result = prime_result(result, self.evalset)
        if max_size is not None and max_size > result.max_size:
            result = result.search_again(max_size)
        return result

    # ------------------------------------------------------------------ validation
    @validator("s")
    def _valid_s(self, proposal):
        value = proposal["value"]  # the Threshold trait checked the type and range
        if value < self._result.min_support:
            raise ValueError(
                f"s: {value} is below the searched minimum support "
                f"{self._result.min_support}; build the view with a smaller min_support"
            )
        return value

    @validator("max_size")
    def _valid_max_size(self, proposal):
        return check_int(proposal["value"], "max_size", 1, MAX_SET_SIZE)

    # ------------------------------------------------------------------ reactions
    def _on_threshold(self, name: str) -> None:
        self._refresh()

    def _on_class(self) -> None:
        self._clear_selection()
        self._refresh()
        self._show_class_in_own_grid()

    @traitlets.observe("max_size")
    def _on_max_size(self, change) -> None:
        if not self._ready:
            return
        if change["new"] <= self._result.max_size:
            self._worker.cancel()  # a pending larger search is no longer wanted
            self._refresh()
            return
        previous = min(change["old"], self._result.max_size)
        self._set_status(f"searching tag sets up to size {change['new']}…")
        self._worker.submit(
            lambda: self._result.search_again(change["new"]),
            self._searched,
            lambda error: self._search_failed(change["new"], previous, error),
        )

    def _searched(self, result: PrimeResult) -> None:
        self._result = result
        self._refresh()

    def _search_failed(self, max_size: int, previous: int, error: BaseException) -> None:
        self.max_size = previous
        message = f"l = {max_size}: {error}"
        if not self._worker.background:  # still inside the assignment: refuse it
            raise TraitValueError(message) from error  # (a slider is put back, as for a refusal)
        self._set_status(message, error=True)

    def _on_node_click(self, row: int) -> None:
        self._pick(self._result.row_failure_mode(row))

    def _pick(self, mode: FailureMode) -> None:
        self.show_mode(mode)
        self._notify_select(mode)

    # ------------------------------------------------------------------ public API
    @property
    def result(self) -> PrimeResult:
        return self._result

    @property
    def query(self) -> str:
        """The tag search text (highlights nodes whose tags contain it)."""
        return self.canvas.query

    @query.setter
    def query(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"query: expected a string, got {type(value).__name__}")
        self.canvas.query = value

    @property
    def selected_tags(self) -> tuple[str, ...] | None:
        return self._selected_tags

    @property
    def selected_members(self) -> np.ndarray:
        view = self._selected_members.view()
        view.flags.writeable = False
        return view

    def set_thresholds(self, **values) -> None:
        """Set several of ``a``, ``s``, ``b2``, ``b3``, ``b4``, ``max_size``; all or none."""
        allowed = (*self.threshold_names(), "max_size")
        unknown = sorted(set(values) - set(allowed))
        if unknown:
            raise ValueError(f"values: unknown thresholds {unknown}; use {list(allowed)}")
        old = {name: getattr(self, name) for name in values}
        try:
            for name, value in values.items():
                setattr(self, name, value)
        except (TypeError, ValueError):
            for name, value in old.items():
                setattr(self, name, value)
            raise

    def _filter(self, thresholds: dict | None = None) -> dict:
        """The engine's filter arguments (``a``, ``s``, ``b``, ``max_size``) for the current
        or the given thresholds; ``l`` is the searched one while a larger search runs."""
        t = self.thresholds() if thresholds is None else thresholds
        b = {**self._b_fixed, **{k: t[f"b{k}"] for k in SLIDER_SIZES}}
        return {"a": t["a"], "s": t["s"], "b": b, "max_size": self._l}

    @property
    def _l(self) -> int:
        return min(self.max_size, self._result.max_size)

    def _modes(self, class_names: list[str], thresholds: dict) -> list[FailureMode]:
        if not class_names:
            return answer_list([], lambda: "no class is selected")
        everything = len(class_names) == len(self._result.class_names)
        classes = None if everything else class_names  # "all": the reason names no class
        return self._result.to_failure_modes(**self._filter(thresholds), classes=classes)

    def failure_mode_table(self):
        """The current class's failure modes as the engine's DataFrame."""
        return self._result.failure_modes(**self._filter(), classes=self.class_name)

    def select(self, tags) -> None:
        """Select the node of ``tags`` (a tag set of the current class; ``()`` for the class):
        highlight it, show its images in the grid (errors first) and notify ``on_select``."""
        self._pick(self._node_mode(tags))

    def show_mode(self, mode: FailureMode, title: str | None = None) -> None:
        """Show ``mode``'s images in the grid (errors first) and highlight its node."""
        if isinstance(mode, FailureMode) and self._candidate_row(mode) is not None:
            title = title or self._title(mode)
        super().show_mode(mode, title=title)

    def highlight(self, mode: FailureMode) -> None:
        """Highlight ``mode``'s node when it is a tag set of the drawn class from this search
        (else the highlight is cleared)."""
        row = self._candidate_row(mode)
        if row is None:
            self._clear_selection()
            return
        self._selected_tags = tuple(sorted(mode.rule.tags, key=self._result.tag_names.index))
        self._selected_members = mode.members
        self.canvas.selected_row = row

    # ------------------------------------------------------------------ helpers
    def _root_row(self) -> int | None:
        rows = self._result.arrays(self.class_name)["row"]
        return int(rows[0]) if len(rows) else None

    def _row(self, tags) -> int | None:
        return self._result.find(self.class_name, tags) if tags else self._root_row()

    def _candidate_row(self, mode) -> int | None:
        """The candidate row of ``mode`` if it is a tag set of the drawn class, else None."""
        tags = getattr(getattr(mode, "rule", None), "tags", None)
        if not (
            isinstance(mode, FailureMode)
            and mode.method == "prime"
            and mode.class_name == self.class_name
            and isinstance(tags, tuple)
        ):
            return None
        try:
            row = self._row(tags)
        except ValueError:  # a tag this search does not know
            return None
        same = row is not None and np.array_equal(mode.members, self._result.row_members(row))
        return row if same else None

    def _node_mode(self, tags) -> FailureMode:
        if isinstance(tags, str):
            tags = (tags,)
        if not isinstance(tags, (tuple, list)):
            raise TypeError(f"tags: expected a tuple of tag names, got {type(tags).__name__}")
        if self.class_name is None:
            raise ValueError("class_name: no class is selected")
        r = self._result
        root = self._root_row()
        if root is None:
            raise ValueError(f"class_name: no images of {self.class_name!r} were searched")
        row = self._row(tags)
        if row is None:
            raise ValueError(
                f"tags: {tuple(tags)} is not a candidate of class {self.class_name!r} "
                f"(unknown tag, support below the searched {r.min_support}, or more than "
                f"l = {r.max_size} tags)"
            )
        return r.row_failure_mode(row)

    def _title(self, mode: FailureMode) -> str:
        n_errors = mode.size - round(mode.accuracy * mode.size)
        return (
            f"{mode.class_name}: {mode.description} — {mode.size} images, {n_errors} errors, "
            f"accuracy {mode.accuracy:.1%} (class {mode.accuracy + mode.drop:.1%})"
        )

    # ------------------------------------------------------------------ the view model
    def graph(self) -> dict:
        """The drawing's view model for the current class and thresholds (JSON-ready).

        Keys: ``class_name``, ``class_accuracy``, ``n_class``, ``thresholds``, ``n_modes``
        (failure modes of the class), ``n_modes_shown``, ``truncated`` (some modes or
        context sets did not fit in ``max_nodes``), ``max_nodes``, ``message``, ``reason``
        (why the class has no failure mode at these thresholds, from
        :meth:`PrimeResult.empty_reason`; ``""`` when it has one), ``nodes``
        (``row``, ``tags``, ``size``, ``n``, ``n_errors``, ``accuracy``, ``drop``,
        ``mode``) and ``edges`` (``subset``, ``superset``, ``removed``, ``gain``,
        ``necessary``, ``necessity``: a necessary edge of a failure mode).
        """
        limits = self._filter()
        graph = {
            "class_name": self.class_name,
            "thresholds": {
                "a": self.a,
                "s": self.s,
                "l": self._l,
                "b": {str(k): limits["b"][k] for k in range(2, self._l + 1)},
            },
            "max_nodes": self._max_nodes,
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
        if self.class_name is None:
            return graph
        drawing = self._result.drawing(
            self.class_name, **limits, max_nodes=self._max_nodes, max_context=self._max_context
        )
        nodes, edges = drawing.lattice.nodes, drawing.lattice.edges
        graph.update(
            class_accuracy=_finite_or_none(drawing.class_accuracy),
            n_class=drawing.n_class,
            n_modes=drawing.n_modes,
            n_modes_shown=drawing.n_modes_shown,
            truncated=drawing.truncated,
            reason=drawing.reason,
            message="",
            nodes=[
                {
                    "row": int(row.row),
                    "tags": list(row.tags),
                    "size": int(row.size),
                    "n": int(row.n_images),
                    "n_errors": int(row.n_errors),
                    "accuracy": _finite_or_none(row.accuracy),
                    "drop": _finite_or_none(row.drop),
                    "mode": bool(row.is_failure_mode),
                }
                for row in nodes.itertuples(index=False)
            ],
            edges=[
                {
                    "subset": int(e.subset_row),
                    "superset": int(e.superset_row),
                    "removed": str(e.removed_tag),
                    "gain": _finite_or_none(e.accuracy_gain),
                    "necessary": bool(e.necessary),
                    "necessity": bool(e.necessary and e.from_failure_mode),
                }
                for e in edges.itertuples(index=False)
            ],
        )
        if drawing.n_class == 0:
            graph["message"] = f"No images of class {self.class_name!r} in the searched set."
        elif not drawing.n_modes:
            graph["message"] = f"No failure modes at these thresholds: {drawing.reason}."
        elif drawing.n_modes_shown < drawing.n_modes:
            graph["message"] = (
                f"Drawing the {drawing.n_modes_shown} strongest of {drawing.n_modes} failure "
                f"modes (at most {self._max_nodes} sets; raise max_nodes to see more)."
            )
        return graph

    def _refresh(self) -> None:
        graph = self.graph()
        with self.canvas.hold_sync():
            self.canvas.graph = graph
            row = -1
            if self._selected_tags is not None:
                rows = {node["row"]: tuple(node["tags"]) for node in graph["nodes"]}
                row = next((k for k, v in rows.items() if v == self._selected_tags), -1)
            self.canvas.selected_row = row
        if self.class_name is None:
            self._set_status("no class selected")
            return
        shown, n_modes = graph["n_modes_shown"], graph["n_modes"]
        text = f"{n_modes} failure mode{'s' if n_modes != 1 else ''}"
        if shown != n_modes:
            text += f" ({shown} drawn; raise max_nodes to see all)"
        text += f" · {len(graph['nodes'])} sets drawn · l = {self._l}"
        if graph["reason"]:
            text += f" · none because {graph['reason']}"
        self._set_status(text)

    def _clear_selection(self) -> None:
        self._selected_tags = None
        self._selected_members = np.zeros(0, dtype=np.int64)
        self.canvas.selected_row = -1

    def _show_class_in_own_grid(self) -> None:
        root = None if self.class_name is None else self._root_row()
        if not self._owns_grid or root is None:
            return
        images = self._result.row_members(root, errors_first=True)
        n_errors = int((~self.evalset.correct[images]).sum())
        self.grid.show(
            images,
            title=f"{self.class_name}: all {len(images)} searched images, {n_errors} errors "
            "first — click a node to see its images",
        )
