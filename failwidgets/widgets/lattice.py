"""LatticeView: PRIME's tag-set lattice of one class as a Hasse diagram (anywidget + ipywidgets).

The view is a thin layer over :class:`~failwidgets.methods.prime.PrimeResult`: the search runs
once; the sliders for ``a``, ``s``, ``b2``, ``b3`` and ``b4`` only re-filter the result's candidate
table (no new search); ``l`` searches again only when it grows beyond the searched ``l``.

What is drawn (see :meth:`LatticeView.graph`): the empty set (the whole class) at the top,
then one level per set size; an edge joins a set to each of its one-tag-removed subsets.
Nodes are coloured by the accuracy drop ``A_c - A_S``, sized by ``|I_S|``; failure modes are
highlighted together with their necessity edges (removing that tag raises the accuracy by at
least ``b_|S|``). To stay readable the drawing is capped at ``max_nodes`` nodes: the failure
modes (strongest drop first) with all their subsets, then up to ``max_context`` of the
strongest other drops (non-minimal or below ``a``) with their subsets, as long as they fit.
"""

from __future__ import annotations

import math
import pathlib
from collections.abc import Callable, Mapping

import anywidget
import ipywidgets as widgets
import numpy as np
import traitlets

from ..checks import check_fraction as _check_fraction
from ..checks import check_int as _check_int
from ..data import EvalSet
from ..methods.answers import answer_list
from ..methods.prime import MAX_SET_SIZE, Prime, PrimeResult, search
from ..thresholds import spec as threshold_spec
from .grid import ImageGrid
from .guard import (
    BrowserMessageError,
    Checked,
    GuardedState,
    StrictInt,
    answer_errors,
    message_int,
    short_repr,
    validator,
)
from .selectable import Selectable

__all__ = ["LatticeView", "LatticeCanvas"]

_STATIC = pathlib.Path(__file__).parent.parent / "static"
SLIDER_SIZES = (2, 3, 4)  # the b_n with a slider; larger sizes keep the result's b_n
_CONTEXT_SCAN = 2000  # candidate sets examined when filling the drawing with other drops


# ---------------------------------------------------------------------- validation


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
class LatticeView(Selectable, widgets.VBox):
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
    class_name : str, optional
        Class shown first; default: the class whose strongest failure mode drops most.
    a, s, b, max_size : thresholds (see :meth:`PrimeResult.failure_modes`): minimum drop,
        minimum support (not below the searched ``min_support``), ``{size: b_size}``
        necessity thresholds and the largest set size ``l``. Defaults: the result's.
    min_support, min_count : search settings when the view searches (``s`` cannot go
        below ``min_support`` without a new search).
    max_nodes : most nodes drawn (the empty set included).
    max_context : most non-mode sets (with their subsets) added to the failure modes.

    Attributes
    ----------
    a, s, b2, b3, b4, max_size, class_name : observable thresholds and the class; setting
        one redraws (``a``, ``s``, ``b*`` re-filter only; a larger ``max_size`` searches).
    result : the current :class:`PrimeResult`.
    grid : the linked :class:`ImageGrid`.
    canvas : the :class:`LatticeCanvas` drawing.
    selected_tags : tags of the selected node (``()`` is the whole class) or None.
    selected_members : EvalSet indices of the selected node (ascending; empty when none).
    """

    a = Checked()
    s = Checked()
    b2 = Checked()
    b3 = Checked()
    b4 = Checked()
    max_size = Checked()
    class_name = Checked()

    def __init__(
        self,
        evalset: EvalSet,
        tags=None,
        *,
        result: PrimeResult | Prime | None = None,
        indices=None,
        grid: ImageGrid | None = None,
        class_name: str | None = None,
        a: float | None = None,
        s: int | None = None,
        b: Mapping[int, float] | None = None,
        max_size: int | None = None,
        min_support: int = 30,
        min_count: int | None = None,
        max_nodes: int = 40,
        max_context: int = 8,
        **kwargs,
    ):
        if not isinstance(evalset, EvalSet):
            raise TypeError(f"evalset: expected an EvalSet, got {type(evalset).__name__}")
        self._evalset = evalset
        self._max_nodes = _check_int(max_nodes, "max_nodes", 1)
        self._max_context = _check_int(max_context, "max_context", 0)
        if grid is not None and not isinstance(grid, ImageGrid):
            raise TypeError(f"grid: expected an ImageGrid or None, got {type(grid).__name__}")
        if grid is not None and grid.evalset is not evalset:
            raise ValueError("grid: the ImageGrid shows another EvalSet; pass one over `evalset`")
        self._result = self._initial_result(
            evalset, tags, result, indices, max_size, min_support, min_count
        )
        r = self._result
        b_values = dict(r.b)
        if b is not None:
            if not isinstance(b, Mapping):
                raise TypeError(
                    "b: expected a mapping from set size to threshold, e.g. {2: 0.1}, "
                    f"got {type(b).__name__}"
                )
            for size, value in b.items():
                size = _check_int(size, "b (set size)", 1, MAX_SET_SIZE)
                b_values[size] = _check_fraction(value, f"b[{size}]")
        self._b_fixed = b_values  # sizes without a slider keep these
        self._selected_tags: tuple[str, ...] | None = None
        self._selected_members = np.zeros(0, dtype=np.int64)
        self._quiet = 0  # > 0: trait changes do not redraw (batched updates)
        self._syncing = False
        self._status_text = ""

        super().__init__(**kwargs)
        self.add_class("fw-lattice-view")
        self._owns_grid = grid is None
        self.grid = ImageGrid(evalset, [], page_size=50, thumb_size=80) if grid is None else grid
        self.canvas = LatticeCanvas(on_node_click=self._on_node_click)
        self._build_controls()

        self._quiet += 1
        try:
            self.a = r.a if a is None else a
            self.s = r.min_support if s is None else s
            self.b2, self.b3, self.b4 = (b_values[k] for k in SLIDER_SIZES)
            self.max_size = r.max_size if max_size is None else max_size
            self.class_name = self._default_class() if class_name is None else class_name
        finally:
            self._quiet -= 1
        self._refresh()
        self._show_class_in_own_grid()
        children = [self._controls, self.canvas]
        if self._owns_grid:
            children.append(self.grid)
        self.children = children

    # ------------------------------------------------------------------ construction
    @staticmethod
    def _initial_result(evalset, tags, result, indices, max_size, min_support, min_count):
        if result is not None:
            if tags is not None or indices is not None:
                raise ValueError("result: pass either a search result or tags/indices to search")
            if isinstance(result, Prime):
                if not hasattr(result, "result_"):
                    raise ValueError("result: the Prime estimator is not fitted; call fit() first")
                result = result.result_
            if not isinstance(result, PrimeResult):
                raise TypeError(
                    f"result: expected a PrimeResult or a fitted Prime, got {type(result).__name__}"
                )
            same = (
                len(result.labels) == evalset.n
                and np.array_equal(result.labels, evalset.labels)
                and np.array_equal(result.correct, evalset.correct)
                and tuple(result.class_names) == tuple(evalset.class_names)
            )
            if not same:
                raise ValueError(
                    "result: it was not searched on this EvalSet (labels, predictions or "
                    "class names differ)"
                )
            if max_size is not None:
                _check_int(max_size, "max_size", 1, MAX_SET_SIZE)
            return result
        if max_size is None:
            max_size = 4
        estimator = Prime(max_size=max_size, min_support=min_support, min_count=min_count)
        return estimator.fit(evalset, tags, indices=indices).result_

    def _build_controls(self) -> None:
        r = self._result
        layout = widgets.Layout(width="260px")
        style = {"description_width": "32px"}

        def fraction(name):
            spec = threshold_spec("prime", name)
            return widgets.FloatSlider(
                min=0.0, max=1.0, step=0.005, readout_format=".3f", description=spec.label,
                tooltip=spec.doc, continuous_update=spec.continuous, layout=layout, style=style,
            )  # fmt: skip

        self._class_dropdown = widgets.Dropdown(
            options=list(r.class_names),
            description="class",
            layout=widgets.Layout(width="240px"),
            style={"description_width": "40px"},
        )
        self._sliders = {
            "a": fraction("a"),
            "s": widgets.IntSlider(
                min=r.min_support,
                max=max(r.min_support, int(r.class_summary["n_images"].max())),
                description=threshold_spec("prime", "s").label,
                tooltip=f"{threshold_spec('prime', 's').doc}; not below the searched minimum",
                continuous_update=True,
                layout=layout,
                style=style,
            ),
            "b2": fraction("b2"),
            "b3": fraction("b3"),
            "b4": fraction("b4"),
            "max_size": widgets.IntSlider(
                min=1,
                max=MAX_SET_SIZE,
                description="l",
                tooltip="largest tag-set size (a larger l than searched runs the search again)",
                continuous_update=False,
                layout=layout,
                style=style,
            ),
        }
        for name, slider in self._sliders.items():
            slider.add_class(f"fw-lattice-slider-{name}")
            slider.observe(self._slider_changed(name), names="value")
        self._class_dropdown.add_class("fw-lattice-class")
        self._class_dropdown.observe(self._dropdown_changed, names="value")
        self._status = widgets.HTML(layout=widgets.Layout(margin="0 0 0 12px"))
        self._status.add_class("fw-lattice-summary")
        s = self._sliders
        self._controls = widgets.VBox(
            [
                widgets.HBox([self._class_dropdown, self._status]),
                widgets.HBox([s["a"], s["s"], s["max_size"]], layout={"flex_flow": "row wrap"}),
                widgets.HBox([s["b2"], s["b3"], s["b4"]], layout={"flex_flow": "row wrap"}),
            ]
        )

    def _default_class(self) -> str:
        modes = self._result.failure_modes(a=self.a, s=self.s, b=self._b(), max_size=self.max_size)
        if len(modes):
            return str(modes.sort_values("drop", ascending=False, kind="stable").iloc[0]["class"])
        return self._result.class_names[0]

    # ------------------------------------------------------------------ validation
    @validator("a", "b2", "b3", "b4")
    def _valid_fraction(self, proposal):
        return threshold_spec("prime", proposal["trait"].name).check(proposal["value"])

    @validator("s")
    def _valid_s(self, proposal):
        value = threshold_spec("prime", "s").check(proposal["value"])
        if value < self._result.min_support:
            raise ValueError(
                f"s: {value} is below the searched minimum support "
                f"{self._result.min_support}; build the view with a smaller min_support"
            )
        return value

    @validator("max_size")
    def _valid_max_size(self, proposal):
        return _check_int(proposal["value"], "max_size", 1, MAX_SET_SIZE)

    @validator("class_name")
    def _valid_class(self, proposal):
        value = proposal["value"]
        if not isinstance(value, str):
            raise TypeError(f"class_name: expected a class name, got {type(value).__name__}")
        if value not in self._result.class_names:
            raise ValueError(
                f"class_name: unknown class {value!r}; known: {list(self._result.class_names)[:10]}"
            )
        return value

    # ------------------------------------------------------------------ reactions
    def _slider_changed(self, name):
        def handler(change):
            if self._syncing:
                return
            try:
                setattr(self, name, change["new"])
            except (TypeError, ValueError) as error:
                self._set_status(str(error), error=True)

        return handler

    def _dropdown_changed(self, change):
        if not self._syncing and change["new"] is not None:
            self.class_name = change["new"]

    @traitlets.observe("a", "s", "b2", "b3", "b4", "max_size", "class_name")
    def _on_setting(self, change):
        name = change["name"]
        self._sync_control(name, change["new"])
        if name == "max_size" and change["new"] > self._result.max_size:
            if not self._research(change["new"], change["old"]):
                return
        if name == "class_name":
            self._clear_selection()
        if not self._quiet:
            self._refresh()
            if name == "class_name":
                self._show_class_in_own_grid()

    def _sync_control(self, name: str, value) -> None:
        control = self._class_dropdown if name == "class_name" else self._sliders[name]
        if control.value == value:
            return
        self._syncing = True
        try:
            if name == "s" and value > control.max:
                control.max = value
            control.value = value
        finally:
            self._syncing = False

    def _research(self, max_size: int, previous) -> bool:
        """Search again with a larger ``l``; on failure restore ``previous`` and say why."""
        r = self._result
        self._set_status(f"searching tag sets up to size {max_size}…")
        try:
            self._result = search(
                r.tag_matrix,
                r.labels,
                r.correct,
                class_names=r.class_names,
                max_size=max_size,
                min_support=r.min_support,
                min_count=r.min_count,
                indices=r.indices,
                a=r.a,
                b=r.b,
            )
        except ValueError as error:
            if previous is None:  # while constructing: nothing to fall back to
                raise
            self._set_status(f"l = {max_size}: {error}", error=True)
            self._quiet += 1
            try:
                self.max_size = previous
            finally:
                self._quiet -= 1
            return False
        return True

    def _on_node_click(self, row: int) -> None:
        columns = self._result.arrays()
        k = int(columns["size"][row])
        self.select(tuple(self._result.tag_names[t] for t in columns["tag_ids"][row, :k]))

    # ------------------------------------------------------------------ public API
    @property
    def evalset(self) -> EvalSet:
        return self._evalset

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

    def thresholds(self) -> dict:
        """The current ``a``, ``s``, ``b`` (all sizes) and ``max_size``."""
        return {"a": self.a, "s": self.s, "b": self._b(), "max_size": self.max_size}

    def set_class(self, name: str) -> None:
        """Show the lattice of class ``name``."""
        self.class_name = name

    def set_thresholds(self, **values) -> None:
        """Set several of ``a``, ``s``, ``b2``, ``b3``, ``b4``, ``max_size`` and redraw once."""
        allowed = ("a", "s", "b2", "b3", "b4", "max_size")
        unknown = sorted(set(values) - set(allowed))
        if unknown:
            raise ValueError(f"values: unknown thresholds {unknown}; use {list(allowed)}")
        old = {name: getattr(self, name) for name in values}
        self._quiet += 1
        try:
            for name, value in values.items():
                setattr(self, name, value)
        except (TypeError, ValueError):
            for name, value in old.items():
                setattr(self, name, value)
            raise
        finally:
            self._quiet -= 1
        self._refresh()

    def failure_modes(self, class_name: str | None = None) -> list:
        """Failure modes at the current thresholds, as :class:`~failwidgets.modes.FailureMode`.

        All classes by default, or only ``class_name`` (e.g. ``view.class_name``). An empty
        list's ``reason`` (shown in its repr) says why (:meth:`PrimeResult.empty_reason`).
        """
        if class_name is not None:
            class_name = self._valid_class({"value": class_name})
        thresholds = self.thresholds()
        if class_name is None:
            return self._result.to_failure_modes(**thresholds)
        modes = self._result.to_failure_modes(**thresholds, classes=class_name)
        return answer_list(
            list(modes), lambda: self._result.empty_reason(**thresholds, classes=class_name)
        )

    def failure_mode_table(self):
        """The current class's failure modes as the engine's DataFrame."""
        return self._result.failure_modes(**self.thresholds(), classes=self.class_name)

    def select(self, tags) -> None:
        """Select the node of ``tags`` (a tag set of the current class; ``()`` for the class):
        highlight it, show its images in the grid (errors first) and notify ``on_select``."""
        from ..modes import FailureMode
        from ..rules import TagSetRule

        if isinstance(tags, str):
            tags = (tags,)
        if not isinstance(tags, (tuple, list)):
            raise TypeError(f"tags: expected a tuple of tag names, got {type(tags).__name__}")
        r = self._result
        c = r.class_index(self.class_name)
        columns = r.arrays(c)
        if len(columns["row"]) == 0:
            raise ValueError(f"class_name: no images of {self.class_name!r} were searched")
        if tags:
            row = r.find(c, tags)
            if row is None:
                raise ValueError(
                    f"tags: {tuple(tags)} is not a candidate of class {self.class_name!r} "
                    f"(unknown tag, support below the searched {r.min_support}, or more than "
                    f"l = {r.max_size} tags)"
                )
        else:
            row = int(columns["row"][0])  # the empty set: the whole class
        local = row - int(columns["row"][0])
        k = int(columns["size"][local])
        ordered_tags = tuple(r.tag_names[t] for t in columns["tag_ids"][local, :k])
        accuracy = float(columns["accuracy"][local])
        class_accuracy = float(columns["accuracy"][0])
        n_errors = int(columns["n_images"][local] - columns["n_correct"][local])
        members = r.row_members(row, errors_first=True)
        self._selected_tags = ordered_tags
        self._selected_members = np.sort(members)
        self.canvas.selected_row = row
        description = " + ".join(ordered_tags) if ordered_tags else "(all images)"
        title = (
            f"{self.class_name}: {description} — {len(members)} images, {n_errors} errors, "
            f"accuracy {accuracy:.1%} (class {class_accuracy:.1%})"
        )
        self.grid.show(members, title=title)
        mode = FailureMode.from_members(
            "prime",
            self.class_name,
            description,
            self._selected_members.copy(),
            r,
            reference_indices=r.class_images(c),
            rule=TagSetRule(self.class_name, ordered_tags, r.tag_matrix),
        )
        self._notify_select(mode)

    # ------------------------------------------------------------------ the view model
    def _b(self) -> dict[int, float]:
        return {**self._b_fixed, 2: self.b2, 3: self.b3, 4: self.b4}

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
        r = self._result
        thresholds = self.thresholds()
        c = r.class_index(self.class_name)
        base = {
            "class_name": self.class_name,
            "thresholds": {
                "a": self.a,
                "s": self.s,
                "l": self.max_size,
                "b": {str(k): thresholds["b"][k] for k in range(2, self.max_size + 1)},
            },
            "max_nodes": self._max_nodes,
            "nodes": [],
            "edges": [],
            "n_modes": 0,
            "n_modes_shown": 0,
            "truncated": False,
            "message": "",
            "reason": "",
        }
        columns = r.arrays(c)
        if len(columns["row"]) == 0:
            base.update(
                class_accuracy=None,
                n_class=0,
                message=f"No images of class {self.class_name!r} in the searched set.",
                reason=r.empty_reason(**thresholds, classes=c) or "",
            )
            return base
        modes = r.failure_modes(**thresholds, classes=c)
        chosen, n_modes_shown, truncated = self._choose_sets(columns, modes)
        lattice = r.lattice(c, **thresholds, include="modes", rows=chosen)
        keep = np.isin(lattice.nodes["row"].to_numpy(), list(self._closure(columns, chosen)))
        nodes = lattice.nodes[keep]
        edges = lattice.edges[
            np.isin(lattice.edges["superset_row"].to_numpy(), nodes["row"].to_numpy())
        ]
        base.update(
            class_accuracy=_finite_or_none(columns["accuracy"][0]),
            n_class=int(columns["n_images"][0]),
            n_modes=int(len(modes)),
            n_modes_shown=n_modes_shown,
            truncated=truncated,
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
        if not len(modes):
            base["reason"] = modes.reason or ""
            base["message"] = f"No failure modes at these thresholds: {base['reason']}."
        elif n_modes_shown < len(modes):
            base["message"] = (
                f"Drawing the {n_modes_shown} strongest of {len(modes)} failure modes "
                f"(at most {self._max_nodes} sets; raise max_nodes to see more)."
            )
        return base

    @staticmethod
    def _closure(columns, rows) -> set[int]:
        """Rows of ``rows`` and all their subsets (the class's root included)."""
        lo = int(columns["row"][0])
        sub = columns["subset_rows"]
        seen = {lo}
        stack = [int(r) for r in rows]
        while stack:
            row = stack.pop()
            if row in seen:
                continue
            seen.add(row)
            stack.extend(int(x) for x in sub[row - lo] if x >= 0)
        return seen

    def _choose_sets(self, columns, modes):
        """Sets to draw (with their subsets): failure modes by drop, then other strong drops,
        while the closure stays within ``max_nodes``."""
        lo = int(columns["row"][0])
        nodes = self._closure(columns, [])
        chosen: list[int] = []
        truncated = False
        n_modes_shown = 0

        def try_add(row: int) -> bool:
            closure = self._closure(columns, [row])
            if len(nodes | closure) > self._max_nodes:
                return False
            nodes.update(closure)
            chosen.append(row)
            return True

        mode_rows = modes.sort_values("drop", ascending=False, kind="stable")["row"]
        for row in mode_rows.to_numpy(dtype=np.int64).tolist():
            if try_add(row):
                n_modes_shown += 1
            else:
                truncated = True
        size, n, drop = columns["size"], columns["n_images"], columns["drop"]
        eligible = (size >= 1) & (size <= self.max_size) & (n >= self.s) & (drop > 0)
        eligible[np.asarray(mode_rows, dtype=np.int64) - lo] = False
        candidates = np.flatnonzero(eligible)
        order = np.lexsort((-n[candidates], size[candidates], -drop[candidates]))
        added = 0
        for local in candidates[order][:_CONTEXT_SCAN].tolist():
            if added >= self._max_context:
                break
            if try_add(lo + local):
                added += 1
            else:
                truncated = True
        return chosen, n_modes_shown, truncated

    def _refresh(self) -> None:
        graph = self.graph()
        with self.canvas.hold_sync():
            self.canvas.graph = graph
            row = -1
            if self._selected_tags is not None:
                rows = {node["row"]: tuple(node["tags"]) for node in graph["nodes"]}
                row = next((k for k, v in rows.items() if v == self._selected_tags), -1)
            self.canvas.selected_row = row
        shown = graph["n_modes_shown"]
        text = f"{graph['n_modes']} failure mode{'s' if graph['n_modes'] != 1 else ''}"
        if shown != graph["n_modes"]:
            text += f" ({shown} drawn; raise max_nodes to see all)"
        text += f" · {len(graph['nodes'])} sets drawn · l = {self.max_size}"
        if graph["reason"]:
            text += f" · none because {graph['reason']}"
        self._set_status(text)

    def _set_status(self, text: str, error: bool = False) -> None:
        import html

        colour = "var(--jp-error-color1, #d32f2f)" if error else "var(--jp-ui-font-color1, #444)"
        self._status_text = text
        self._status.value = f'<span style="color: {colour}">{html.escape(text)}</span>'

    @property
    def status(self) -> str:
        """The status line (mode counts and, when there is none, why; or the last error)."""
        return self._status_text

    def _clear_selection(self) -> None:
        self._selected_tags = None
        self._selected_members = np.zeros(0, dtype=np.int64)
        self.canvas.selected_row = -1

    def _show_class_in_own_grid(self) -> None:
        if not self._owns_grid:
            return
        r = self._result
        c = r.class_index(self.class_name)
        images = r.class_images(c)
        images = images[np.argsort(r.correct[images], kind="stable")]
        n_errors = int((~r.correct[images]).sum())
        self.grid.show(
            images,
            title=f"{self.class_name}: all {len(images)} searched images, {n_errors} errors "
            "first — click a node to see its images",
        )
