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

import anywidget
import ipywidgets as widgets
import numpy as np
import traitlets

from ..data import EvalSet
from ..methods.projection import LAYOUTS
from ..modes import FailureMode
from ..viewmodels.embedding_map import (
    ALL_CLASSES,
    COLOR_BY,
    COLOR_BY_NAMES,
    CSS_RGB,
    RECOLOR_MAX_POINTS,
    MapContent,
    check_choice,
    check_map_size,
    default_point_size,
    is_dark,
    layout_options,
    parse_css_rgb,
    square_scales,
)
from .grid import ImageGrid
from .guard import GuardedState, validator
from .selectable import Selectable

__all__ = ["COLOR_BY", "RECOLOR_MAX_POINTS", "EmbeddingMap", "ThemeProbe", "parse_css_rgb"]

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
        if value and parse_css_rgb(value) is None and not CSS_RGB.match(value.strip()):
            raise ValueError(f"background: expected 'rgb(r, g, b)', got {value[:40]!r}")
        return value


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
        if grid is not None:
            if not isinstance(grid, ImageGrid):
                raise TypeError(f"grid: expected an ImageGrid, got {type(grid).__name__}")
            if grid.evalset is not evalset:
                raise ValueError("grid: the shared ImageGrid must show the same EvalSet")
        check_choice(color_by, COLOR_BY, "color_by")
        check_map_size(height, point_size)
        self._evalset = evalset
        self._outlining = False  # show_mode is setting the scatter's selection
        self._pending_title: str | None = None
        self._background = (1.0, 1.0, 1.0)
        self._ready = False
        # the layouts (computed once), the point table, the highlighted mode, the selection;
        # checks embeddings, group and projection before any widget exists
        self._content = MapContent(
            evalset,
            embeddings,
            projection=projection,
            group=group,
            fit_rows=fit_rows,
            random_state=random_state,
        )
        initial_class = self._content.class_name_of(class_name, "class_name")
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
        self._projection_toggle = widgets.ToggleButtons(
            options=layout_options(evalset.n, projection, _umap_available()),
            value=projection,
            style={"button_width": "auto"},
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
    def _make_scatter(self, point_size, height: int):
        from jscatter import Scatter

        frame = self._content.frame
        scatter = Scatter(
            x="x",
            y="y",
            data=frame,
            size=default_point_size(self._evalset.n) if point_size is None else point_size,
            height=height,
            axes=False,
            legend=True,
            legend_position="top-right",
            tooltip=True,
            tooltip_properties=["label", "prediction", "correct"],
            zoom_on_filter=True,
            lasso_initiator=False,
        )
        self._set_scales(scatter, frame["x"].to_numpy(), frame["y"].to_numpy())
        return scatter

    @staticmethod
    def _set_scales(scatter, x: np.ndarray, y: np.ndarray, animate: bool = False) -> None:
        """Same units on both axes (a PCA map must not stretch PC2 to PC1's range)."""
        x_scale, y_scale = square_scales(x, y)
        scatter.xy(x="x", y="y", x_scale=x_scale, y_scale=y_scale, animate=animate)

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
        return self._content.layout(self.projection).copy()

    @property
    def explained_variance_ratio(self) -> np.ndarray | None:
        """Variance fractions of the two PCA axes (None until PCA was computed)."""
        ratio = self._content.explained()
        return None if ratio is None else ratio.copy()

    @property
    def selected_members(self) -> np.ndarray:
        """EvalSet indices of the current map selection, errors first."""
        return self._content.selected.copy()

    @property
    def highlighted(self) -> np.ndarray:
        """Members of the failure mode shown with :meth:`show_mode` (sorted)."""
        return self._content.members.copy()

    def visible_indices(self) -> np.ndarray:
        """EvalSet indices of the points shown: the selected class's, or all."""
        return self._content.visible_indices(self.class_name)

    def set_class(self, name: str | int | None) -> None:
        """Show only class ``name`` (a name or index); None or "" shows all classes."""
        self.class_name = self._content.class_name_of(name, "name")

    def show_mode(self, mode, title: str | None = None) -> None:
        """Highlight a failure mode's members: colour by membership, members drawn on top.

        ``mode`` is a :class:`~failwidgets.modes.FailureMode` or EvalSet indices (a boolean
        mask works too). The grid is left alone (whoever selected the mode shows it). Above
        ``RECOLOR_MAX_POINTS`` points the members are outlined instead (the map's selection
        highlight), so that the message stays the size of the mode, not of the map.
        """
        self._content.set_mode(mode, title)
        if self._evalset.n > RECOLOR_MAX_POINTS:
            self._outline(self._content.members)
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
        self._content.clear_mode()
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
        rows = self._content.check_rows(indices)
        self._pending_title = title
        self._scatter.selection(rows.astype(np.uint32))
        if self._pending_title is not None:  # the same selection as before: no change event
            self._pending_title = None
            self._selection_changed(rows, title)

    def clear_selection(self) -> None:
        self.select([])

    def failure_modes(self) -> list[FailureMode]:
        """The current map selection as a failure mode (empty list without a selection)."""
        if not len(self._content.selected):
            return []
        return [self._content.selection_mode(self.class_name, self.projection)]

    # ------------------------------------------------------------------ validation
    @validator("color_by")
    def _valid_color_by(self, proposal):
        return check_choice(proposal["value"], COLOR_BY, "color_by")

    @validator("projection")
    def _valid_projection(self, proposal):
        value = check_choice(proposal["value"], LAYOUTS, "projection")
        self._content.layout(value)  # compute (or fail: missing umap-learn) before it lands
        return value

    @validator("class_name")
    def _valid_class_name(self, proposal):
        return self._content.check_class_name(proposal["value"])

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
        coordinates = self._content.move_to(change["new"])
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
        rows = self._content.scatter_rows(change["new"], self.class_name)
        title, self._pending_title = self._pending_title, None
        self._selection_changed(rows, title)

    def _selection_changed(self, rows: np.ndarray, title: str | None) -> None:
        ordered = self._content.select(rows)  # errors first
        self._render_status()
        if not len(ordered):
            self._selected_members = ordered  # nothing selected: the traits say so
            return
        self._grid.show(ordered, title=self._content.selection_heading(title))
        self._notify_select(self._content.selection_mode(self.class_name, self.projection))

    # ------------------------------------------------------------------ drawing
    def _apply_colors(self, column: str | None = None, *, recolor_only: bool = False) -> None:
        column = column or self.color_by
        dark = is_dark(self._background)
        class_colors = _class_palette(len(self._evalset.class_names), dark)
        palette = self._content.color_map(column, dark, class_colors)
        scatter = self._scatter
        if recolor_only:
            scatter.color(map=palette)
            return
        scatter.color(by=column, map=palette)
        scatter.legend(self._content.show_legend(column))
        scatter.order(by=self._content.draw_order(column))

    def _apply_class(self, name: str | None = None) -> None:
        name = self.class_name if name is None else name
        if name == ALL_CLASSES:
            self._scatter.filter(None)
        else:
            rows = self._evalset.group(name, by=self._content.group)
            self._scatter.filter(rows.astype(np.uint32))

    def _render_status(self) -> None:
        if self._ready:
            self._status.value = self._content.status(self.projection, self.class_name)


def _umap_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("umap") is not None
