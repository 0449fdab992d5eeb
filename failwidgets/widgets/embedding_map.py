"""EmbeddingMap: a 2-D map of per-sample embeddings (WebGL, jupyter-scatter), linked to a grid.

A thin view over :func:`failwidgets.methods.projection.project`: each sample is one point at
the PCA (default), t-SNE or UMAP layout of its embedding, drawn by jupyter-scatter
(regl-scatterplot, WebGL), which renders 10^6 points. Points are coloured by correct/error,
true class, prediction, or membership of a failure mode (:meth:`EmbeddingMap.show_mode`).
A lasso (the toolbar's lasso button, or a long press then drag) or a click selects points: the selection goes to
the (shared) :class:`ImageGrid`, errors first, and to the ``on_select`` callbacks as a
:class:`~failwidgets.modes.FailureMode`. :meth:`EmbeddingMap.set_class` shows one class only.

What the browser receives: the points once (16 bytes per point: x, y and two encoding values
as float32) plus jupyter-scatter's script; a colour change resends the points (its encoding
value changes), a class change sends the class's indices (4 bytes each).
"""

from __future__ import annotations

import html
import re

import anywidget
import ipywidgets as widgets
import numpy as np
import pandas as pd
import traitlets

from ..data import EvalSet
from ..methods.projection import LAYOUTS, PCAProjection, check_embeddings, project
from ..modes import FailureMode
from .grid import ImageGrid
from .guard import GuardedState, validator
from .selectable import Selectable

__all__ = ["COLOR_BY", "EmbeddingMap", "ThemeProbe"]

METHOD = "embedding_map"
COLOR_BY = ("correct", "label", "prediction", "mode")
COLOR_BY_NAMES = {
    "correct": "correct / error",
    "label": "true class",
    "prediction": "prediction",
    "mode": "failure mode",
}
LAYOUT_NAMES = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
GROUPS = ("label", "prediction")
TSNE_TOGGLE_MAX = 50_000  # t-SNE is offered in the toggle up to this many points
LEGEND_MAX_CLASSES = 20
RECOLOR_MAX_POINTS = 60_000
"""Above this many points, :meth:`EmbeddingMap.show_mode` outlines a mode's members (the
map's selection highlight: a message of the members only) instead of recolouring every point,
which resends all the points (16 bytes each: 0.96 MB at 60,000, 16 MB at 1,000,000), so that no
interaction sends more than 1 MB."""
ALL_CLASSES = ""

# (light background, dark background)
PALETTE = {
    "correct": ("#8da0b3", "#5f7185"),
    "error": ("#d62728", "#ff6b5b"),
    "member": ("#ff7f0e", "#ffb000"),
    "other": ("#c4c4c4", "#4a4a4a"),
}
_RGB = re.compile(
    r"^rgba?\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*(?:,\s*([0-9.]+)\s*)?\)$"
)

_PROBE_ESM = """
export default {
  render({ model, el }) {
    el.classList.add("fw-emap-theme");
    const probe = document.createElement("div");
    probe.style.cssText = "display:none;background-color:var(--jp-layout-color0, #ffffff)";
    el.appendChild(probe);
    const report = () => {
      const color = getComputedStyle(probe).backgroundColor;
      if (color && color !== model.get("background")) {
        model.set("background", color);
        model.save_changes();
      }
    };
    report();
    const timer = setInterval(report, 1000);  // theme switches load their CSS later
    return () => { clearInterval(timer); probe.remove(); };
  },
};
"""


def parse_css_rgb(text: str) -> tuple[float, float, float] | None:
    """(r, g, b) in 0..1 from a computed CSS colour ``rgb(...)``/``rgba(...)``; None if
    transparent or not of that form."""
    match = _RGB.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        return None
    channels = [int(v) for v in match.groups()[:3]]
    alpha = match.group(4)
    if any(v > 255 for v in channels) or (alpha is not None and float(alpha) == 0):
        return None
    return tuple(v / 255 for v in channels)


class ThemeProbe(GuardedState, anywidget.AnyWidget):
    """Invisible widget reporting the notebook's background colour (``--jp-layout-color0``).

    jupyter-scatter draws on a background set from Python; the map follows the JupyterLab
    theme through this probe. The browser may set only ``background`` (a computed
    ``rgb(...)`` colour; anything else is refused).
    """

    _esm = _PROBE_ESM
    _browser_traits = frozenset({"background"})
    background = traitlets.Unicode("").tag(sync=True)

    @validator("background")
    def _valid_background(self, proposal):
        value = proposal["value"]
        if not isinstance(value, str):
            raise TypeError(f"background: expected a CSS colour, got {type(value).__name__}")
        if value and parse_css_rgb(value) is None and not _RGB.match(value.strip()):
            raise ValueError(f"background: expected 'rgb(r, g, b)', got {value[:40]!r}")
        return value


def _luminance(rgb) -> float:
    r, g, b = rgb
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _class_palette(n_classes: int, dark: bool) -> list:
    from jscatter.color_maps import glasbey_dark, glasbey_light, okabe_ito

    if n_classes <= len(okabe_ito):
        return list(okabe_ito[:n_classes])
    colors = glasbey_light if dark else glasbey_dark  # light colours on a dark background
    return [colors[i % len(colors)] for i in range(n_classes)]


class EmbeddingMap(Selectable, widgets.VBox):
    """A WebGL map of per-sample embeddings, linked to an :class:`ImageGrid`.

    Parameters
    ----------
    evalset : EvalSet
        The samples; point ``i`` is sample ``i``.
    embeddings : array-like, shape (evalset.n, d)
        Any per-sample embedding (e.g. CLIP image embeddings); float16 is fine. No NaN/inf.
    grid : ImageGrid, optional
        The shared grid that shows the selection. When None the view creates its own and
        shows it below the map.
    projection : {"pca", "tsne", "umap"}
        Layout (see :func:`~failwidgets.methods.projection.project`); UMAP needs the optional
        umap-learn. Layouts are computed once and cached.
    color_by : {"correct", "label", "prediction", "mode"}
        Colour: correct/error (errors drawn on top), true class, predicted class, or
        membership of the failure mode given to :meth:`show_mode` (members on top).
    class_name : str or int, optional
        Show only this class (default: all classes).
    group : {"label", "prediction"}
        Which samples make up a class: those labelled with it (default) or predicted as it.
    fit_rows : int, optional
        Fit the PCA on this many random rows (all rows by default; see
        :class:`~failwidgets.methods.projection.PCAProjection`).
    point_size : float, optional
        Point size in pixels (default: from the number of points).
    height : int
        Map height in pixels.
    random_state : int
        Seed of the layouts.

    Attributes
    ----------
    color_by, projection, class_name : str
        Observable; assigning them redraws (``class_name`` "" is all classes).
    selected_members : np.ndarray
        EvalSet indices of the current map selection (errors first).
    highlighted : np.ndarray
        Members of the failure mode shown with :meth:`show_mode`.
    scatter : jscatter.Scatter
        The jupyter-scatter plot (its ``widget`` is the drawing).
    """

    color_by = traitlets.Unicode("correct")
    projection = traitlets.Unicode("pca")
    class_name = traitlets.Unicode(ALL_CLASSES)

    def __init__(
        self,
        evalset: EvalSet,
        embeddings,
        grid: ImageGrid | None = None,
        *,
        projection: str = "pca",
        color_by: str = "correct",
        class_name: str | int | None = None,
        group: str = "label",
        fit_rows: int | None = None,
        point_size: float | None = None,
        height: int = 480,
        random_state: int = 0,
        **kwargs,
    ):
        if not isinstance(evalset, EvalSet):
            raise TypeError(f"evalset: expected an EvalSet, got {type(evalset).__name__}")
        self._embeddings = check_embeddings(embeddings, evalset.n, name="embeddings")
        if grid is not None:
            if not isinstance(grid, ImageGrid):
                raise TypeError(f"grid: expected an ImageGrid, got {type(grid).__name__}")
            if grid.evalset is not evalset:
                raise ValueError("grid: the shared ImageGrid must show the same EvalSet")
        if group not in GROUPS:
            raise ValueError(f"group: expected one of {GROUPS}, got {group!r}")
        self._check_choice(projection, LAYOUTS, "projection")
        self._check_choice(color_by, COLOR_BY, "color_by")
        if isinstance(height, bool) or not isinstance(height, (int, np.integer)):
            raise TypeError(f"height: expected an integer, got {type(height).__name__}")
        if not 100 <= height <= 4000:
            raise ValueError(f"height: expected 100..4000 pixels, got {height}")
        if point_size is not None:
            if isinstance(point_size, bool) or not isinstance(
                point_size, (int, float, np.integer, np.floating)
            ):
                raise TypeError(f"point_size: expected a number, got {type(point_size).__name__}")
            if not 0.5 <= point_size <= 64:
                raise ValueError(f"point_size: expected 0.5..64 pixels, got {point_size}")
        self._evalset = evalset
        self._group = group
        self._fit_rows = fit_rows
        self._random_state = random_state
        self._coordinates: dict[str, np.ndarray] = {}
        self._explained: dict[str, np.ndarray] = {}
        self._members = np.zeros(0, dtype=np.int64)
        self._outlining = False  # show_mode is setting the scatter's selection
        self._mode_title: str | None = None
        self._selected = np.zeros(0, dtype=np.int64)
        self._pending_title: str | None = None
        self._background = (1.0, 1.0, 1.0)
        self._ready = False

        coordinates = self._layout(projection)  # validates values before any widget exists
        self._frame = self._make_frame(coordinates)
        initial_class = self._class_name_of(class_name, "class_name")
        self._scatter = self._make_scatter(point_size, int(height))
        # encode colours and the class filter before the widget exists: it then opens with
        # them, instead of receiving the points a second time
        self._apply_colors(color_by)
        self._apply_class(initial_class)
        self._scatter.widget.show()  # the toolbar: pan/zoom, lasso, full screen, download, reset

        self._owns_grid = grid is None
        self._grid = grid if grid is not None else ImageGrid(evalset, [], page_size=50)
        self._probe = ThemeProbe()
        self._probe.layout.display = "none"
        names = list(evalset.class_names)
        self._color_dropdown = widgets.Dropdown(
            options=[(COLOR_BY_NAMES[c], c) for c in COLOR_BY],
            value=color_by,
            description="Colour by",
            layout=widgets.Layout(width="min(100%, 240px)"),
        )
        self._class_dropdown = widgets.Dropdown(
            options=[("all classes", ALL_CLASSES)] + [(name, name) for name in names],
            value=ALL_CLASSES,
            description="Class",
            layout=widgets.Layout(width="min(100%, 260px)"),
        )
        layouts = [("PCA", "pca")]
        if evalset.n <= TSNE_TOGGLE_MAX or projection == "tsne":
            layouts.append(("t-SNE", "tsne"))
        if projection == "umap" or _umap_available():
            layouts.append(("UMAP", "umap"))
        self._projection_toggle = widgets.ToggleButtons(
            options=layouts, value=projection, style={"button_width": "auto"}
        )
        self._status = widgets.HTML()
        for control, hook in (
            (self._color_dropdown, "fw-emap-color"),
            (self._class_dropdown, "fw-emap-class"),
            (self._projection_toggle, "fw-emap-projection"),
            (self._status, "fw-emap-status"),
        ):
            control.add_class(hook)
        controls = widgets.HBox(
            [self._color_dropdown, self._class_dropdown, self._projection_toggle]
        )
        controls.layout.flex_flow = "row wrap"
        children = [controls, self._scatter.widget, self._status, self._probe]
        if self._owns_grid:
            children.append(self._grid)
        super().__init__(children=children, **kwargs)
        self.add_class("fw-embedding-map")

        with self.hold_trait_notifications():
            self.projection = projection
            self.color_by = color_by
            self.class_name = initial_class
        self._ready = True
        traitlets.link((self, "color_by"), (self._color_dropdown, "value"))
        traitlets.link((self, "class_name"), (self._class_dropdown, "value"))
        traitlets.link((self, "projection"), (self._projection_toggle, "value"))
        self._scatter.widget.observe(self._on_scatter_selection, "selection")
        self._probe.observe(self._on_background, "background")
        self._render_status()

    # ------------------------------------------------------------------ construction helpers
    @staticmethod
    def _check_choice(value, allowed, name: str) -> str:
        if not isinstance(value, str) or value not in allowed:
            raise ValueError(f"{name}: expected one of {allowed}, got {value!r}")
        return value

    def _layout(self, projection: str) -> np.ndarray:
        """(n, 2) coordinates of ``projection``, computed once."""
        if projection not in self._coordinates:
            if projection == "pca":
                pca = PCAProjection(2, fit_rows=self._fit_rows, random_state=self._random_state)
                coordinates = pca.fit_transform(self._embeddings, name="embeddings")
                self._explained[projection] = pca.explained_variance_ratio_
            else:
                coordinates = project(
                    self._embeddings,
                    projection,
                    fit_rows=self._fit_rows,
                    random_state=self._random_state,
                )
            self._coordinates[projection] = coordinates
        return self._coordinates[projection]

    def _make_frame(self, coordinates: np.ndarray) -> pd.DataFrame:
        evalset = self._evalset
        names = list(evalset.class_names)
        correct = evalset.correct
        return pd.DataFrame(
            {
                "x": coordinates[:, 0],
                "y": coordinates[:, 1],
                "correct": pd.Categorical.from_codes(
                    (~correct).astype(np.int8), ["correct", "error"]
                ),
                "label": pd.Categorical.from_codes(evalset.labels, names),
                "prediction": pd.Categorical.from_codes(evalset.predictions, names),
                "mode": pd.Categorical.from_codes(
                    np.zeros(evalset.n, dtype=np.int8), ["other", "member"]
                ),
            }
        )

    def _make_scatter(self, point_size, height: int):
        from jscatter import Scatter

        n = self._evalset.n
        if point_size is None:
            point_size = 5 if n <= 10_000 else 3 if n <= 200_000 else 1.5
        scatter = Scatter(
            x="x",
            y="y",
            data=self._frame,
            size=point_size,
            height=height,
            axes=False,
            legend=True,
            legend_position="top-right",
            tooltip=True,
            tooltip_properties=["label", "prediction", "correct"],
            zoom_on_filter=True,
            lasso_initiator=False,
        )
        self._set_scales(scatter, self._frame["x"].to_numpy(), self._frame["y"].to_numpy())
        return scatter

    @staticmethod
    def _set_scales(scatter, x: np.ndarray, y: np.ndarray, animate: bool = False) -> None:
        """Same units on both axes (a PCA map must not stretch PC2 to PC1's range)."""
        lo = np.array([x.min(), y.min()], dtype=np.float64)
        hi = np.array([x.max(), y.max()], dtype=np.float64)
        centre, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2, 1e-12) * 1.02
        scatter.xy(
            x="x",
            y="y",
            x_scale=(centre[0] - half, centre[0] + half),
            y_scale=(centre[1] - half, centre[1] + half),
            animate=animate,
        )

    # ------------------------------------------------------------------ public API
    @property
    def evalset(self) -> EvalSet:
        return self._evalset

    @property
    def grid(self) -> ImageGrid:
        return self._grid

    @property
    def scatter(self):
        return self._scatter

    @property
    def coordinates(self) -> np.ndarray:
        """(n, 2) float32 coordinates of the current projection (a copy)."""
        return self._layout(self.projection).copy()

    @property
    def explained_variance_ratio(self) -> np.ndarray | None:
        """Variance fractions of the two PCA axes (None until PCA was computed)."""
        ratio = self._explained.get("pca")
        return None if ratio is None else ratio.copy()

    @property
    def selected_members(self) -> np.ndarray:
        """EvalSet indices of the current map selection, errors first."""
        return self._selected.copy()

    @property
    def highlighted(self) -> np.ndarray:
        """Members of the failure mode shown with :meth:`show_mode` (sorted)."""
        return self._members.copy()

    def visible_indices(self) -> np.ndarray:
        """EvalSet indices of the points shown: the selected class's, or all."""
        if self.class_name == ALL_CLASSES:
            return np.arange(self._evalset.n, dtype=np.int64)
        return self._evalset.group(self.class_name, by=self._group).astype(np.int64)

    def set_class(self, name: str | int | None) -> None:
        """Show only class ``name`` (a name or index); None or "" shows all classes."""
        self.class_name = self._class_name_of(name, "name")

    def _class_name_of(self, name, argument: str) -> str:
        if name is None or name == ALL_CLASSES:
            return ALL_CLASSES
        try:
            index = self._evalset.class_index(name)
        except (TypeError, ValueError) as error:
            raise type(error)(str(error).replace("cls:", f"{argument}:", 1)) from None
        return self._evalset.class_names[index]

    def show_mode(self, mode, title: str | None = None) -> None:
        """Highlight a failure mode's members: colour by membership, members drawn on top.

        ``mode`` is a :class:`~failwidgets.modes.FailureMode` or EvalSet indices (a boolean
        mask works too). The grid is left alone (whoever selected the mode shows it). Above
        ``RECOLOR_MAX_POINTS`` points the members are outlined instead (the map's selection
        highlight), so that the message stays the size of the mode, not of the map.
        """
        if title is not None and not isinstance(title, str):
            raise TypeError(f"title: expected a string, got {type(title).__name__}")
        if isinstance(mode, FailureMode):
            members, title = mode.members, title or f"{mode.method} · {mode.description}"
        else:
            if mode is None or isinstance(mode, (str, bytes)) or np.isscalar(mode):
                raise TypeError(
                    f"mode: expected a FailureMode or sample indices, got {type(mode).__name__}"
                )
            members = mode
        self._members = np.unique(self._evalset.check_indices(members, name="mode"))
        self._mode_title = title
        flags = np.zeros(self._evalset.n, dtype=np.int8)
        flags[self._members] = 1
        self._frame["mode"] = pd.Categorical.from_codes(flags, ["other", "member"])
        if self._evalset.n > RECOLOR_MAX_POINTS:
            self._outline(self._members)
        elif self.color_by == "mode":
            self._apply_colors()
        else:
            self.color_by = "mode"
        self._render_status()

    def _outline(self, rows) -> None:
        """Set the scatter's selection without taking it for a user's (lasso) selection."""
        self._outlining = True
        try:
            self._scatter.selection(None if rows is None else rows.astype(np.uint32))
        finally:
            self._outlining = False

    def clear_mode(self) -> None:
        """Remove the highlighted failure mode (colours go back to correct / error)."""
        self._members = np.zeros(0, dtype=np.int64)
        self._mode_title = None
        self._frame["mode"] = pd.Categorical.from_codes(
            np.zeros(self._evalset.n, dtype=np.int8), ["other", "member"]
        )
        if self._evalset.n > RECOLOR_MAX_POINTS:
            self._outline(None)
        if self.color_by == "mode":
            self.color_by = "correct"
        self._render_status()

    def select(self, indices, title: str | None = None) -> None:
        """Select points (EvalSet indices) as a lasso would: highlighted on the map, shown in
        the grid and passed to the ``on_select`` callbacks. Empty clears the selection."""
        if title is not None and not isinstance(title, str):
            raise TypeError(f"title: expected a string, got {type(title).__name__}")
        if isinstance(indices, (str, bytes)) or indices is None or np.isscalar(indices):
            raise TypeError(
                f"indices: expected a sequence of sample indices, got {type(indices).__name__}"
            )
        rows = np.unique(self._evalset.check_indices(indices, name="indices"))
        self._pending_title = title
        self._scatter.selection(rows.astype(np.uint32))
        if self._pending_title is not None:  # the same selection as before: no change event
            self._pending_title = None
            self._selection_changed(rows, title)

    def clear_selection(self) -> None:
        self.select([])

    def failure_modes(self) -> list[FailureMode]:
        """The current map selection as a failure mode (empty list without a selection)."""
        return [] if not len(self._selected) else [self._selection_mode(self._selected)]

    # ------------------------------------------------------------------ validation
    @validator("color_by")
    def _valid_color_by(self, proposal):
        return self._check_choice(proposal["value"], COLOR_BY, "color_by")

    @validator("projection")
    def _valid_projection(self, proposal):
        value = self._check_choice(proposal["value"], LAYOUTS, "projection")
        self._layout(value)  # compute (or fail: missing umap-learn) before the change lands
        return value

    @validator("class_name")
    def _valid_class_name(self, proposal):
        value = proposal["value"]
        if not isinstance(value, str):
            raise TypeError(f"class_name: expected a class name, got {type(value).__name__}")
        if value != ALL_CLASSES and value not in self._evalset.class_names:
            raise ValueError(
                f"class_name: unknown class {value!r}; known: {list(self._evalset.class_names)[:10]}"
                " (or '' for all classes)"
            )
        return value

    # ------------------------------------------------------------------ reactions
    @traitlets.observe("color_by")
    def _on_color_by(self, change):
        if self._ready:
            self._apply_colors()
            self._render_status()

    @traitlets.observe("projection")
    def _on_projection(self, change):
        if not self._ready:
            return
        coordinates = self._layout(change["new"])
        self._frame["x"] = coordinates[:, 0]
        self._frame["y"] = coordinates[:, 1]
        self._set_scales(self._scatter, coordinates[:, 0], coordinates[:, 1], animate=True)
        self._render_status()

    @traitlets.observe("class_name")
    def _on_class_name(self, change):
        if self._ready:
            self._apply_class()
            self._render_status()

    def _on_background(self, change):
        rgb = parse_css_rgb(change["new"])
        if rgb is None or rgb == self._background:
            return
        self._background = rgb
        self._scatter.background(color=rgb)
        # jupyter-scatter 1.0 draws its axes on any axes_color change (which background()
        # makes), even with axes off; switching them on and off again removes them
        widget = self._scatter.widget
        if not widget.axes:
            widget.axes = True
            widget.axes = False
        self._apply_colors(recolor_only=True)

    def _on_scatter_selection(self, change):
        if self._outlining:
            return
        value = change["new"]
        rows = np.zeros(0, dtype=np.int64) if value is None else np.asarray(value).astype(np.int64)
        rows = np.unique(rows[(rows >= 0) & (rows < self._evalset.n)])
        if self.class_name != ALL_CLASSES:
            rows = rows[np.isin(rows, self.visible_indices())]
        title, self._pending_title = self._pending_title, None
        self._selection_changed(rows, title)

    def _selection_changed(self, rows: np.ndarray, title: str | None) -> None:
        correct = self._evalset.correct[rows]
        ordered = np.concatenate([rows[~correct], rows[correct]])  # errors first
        self._selected = ordered
        self._render_status()
        if not len(ordered):
            self._selected_members = ordered  # nothing selected: the traits say so
            return
        n_errors = int(np.count_nonzero(~correct))
        heading = title or f"Map selection · {len(ordered)} samples · {n_errors} errors"
        self._grid.show(ordered, title=heading)
        self._notify_select(self._selection_mode(ordered))

    def _selection_mode(self, members: np.ndarray) -> FailureMode:
        """The selection as a FailureMode; ``drop``: the shown points' accuracy minus its."""
        where = self.class_name or "all classes"
        return FailureMode.from_members(
            METHOD,
            self.class_name or "all",
            f"map selection: {len(members)} samples ({where}, {self.projection})",
            members.copy(),
            self._evalset,
            reference_indices=self.visible_indices(),  # the class's group (or every row)
            grouping=None,
        )

    # ------------------------------------------------------------------ drawing
    def _color_map(self, column: str, dark: bool) -> dict:
        shade = int(dark)
        if column == "correct":
            return {"correct": PALETTE["correct"][shade], "error": PALETTE["error"][shade]}
        if column == "mode":
            return {"other": PALETTE["other"][shade], "member": PALETTE["member"][shade]}
        names = list(self._evalset.class_names)
        colors = _class_palette(len(names), dark)
        present = self._frame[column].cat.codes.to_numpy()
        used = np.flatnonzero(np.bincount(present, minlength=len(names)))
        return {names[c]: colors[c] for c in used}

    def _apply_colors(self, column: str | None = None, *, recolor_only: bool = False) -> None:
        column = column or self.color_by
        dark = _luminance(self._background) < 0.5
        palette = self._color_map(column, dark)
        scatter = self._scatter
        if recolor_only:
            scatter.color(map=palette)
            return
        scatter.color(by=column, map=palette)
        n_classes = len(self._evalset.class_names)
        scatter.legend(column in ("correct", "mode") or n_classes <= LEGEND_MAX_CLASSES)
        if column == "correct":
            scatter.order(by=np.argsort(~self._evalset.correct, kind="stable"))
        elif column == "mode":
            flags = np.zeros(self._evalset.n, dtype=bool)
            flags[self._members] = True
            scatter.order(by=np.argsort(flags, kind="stable"))
        else:
            scatter.order(by=None)

    def _apply_class(self, name: str | None = None) -> None:
        name = self.class_name if name is None else name
        if name == ALL_CLASSES:
            self._scatter.filter(None)
        else:
            rows = self._evalset.group(name, by=self._group)
            self._scatter.filter(rows.astype(np.uint32))

    def _render_status(self) -> None:
        if not self._ready:
            return
        n = self._evalset.n
        parts = [f"{n:,} points", LAYOUT_NAMES[self.projection]]
        ratio = self._explained.get("pca")
        if self.projection == "pca" and ratio is not None:
            parts[-1] += f" (PC1 {100 * ratio[0]:.1f}%, PC2 {100 * ratio[1]:.1f}% of variance)"
        if self.class_name:
            parts.append(f"class {html.escape(self.class_name)}: {len(self.visible_indices()):,}")
        if len(self._members):
            what = html.escape(self._mode_title or "failure mode")
            parts.append(f"highlighted: {what} ({len(self._members):,})")
        if len(self._selected):
            errors = int(np.count_nonzero(~self._evalset.correct[self._selected]))
            parts.append(f"selected: {len(self._selected):,} ({errors:,} errors)")
        else:
            parts.append(
                "<span style='color: var(--jp-ui-font-color2)'>lasso: the toolbar's lasso, or "
                "long-press and drag; click a point to see it</span>"
            )
        self._status.value = " · ".join(parts)


def _umap_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("umap") is not None
