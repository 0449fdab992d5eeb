"""What an EmbeddingMap shows, without widgets: layouts, the point table, colours, marks, text.

:class:`MapContent` computes each layout of the embeddings once
(:func:`failwidgets.methods.projection.project`), keeps the table of points that
jupyter-scatter draws (x, y and the categorical columns it colours by), the highlighted
failure mode and the selection (errors first), and builds the colour maps, the drawing order
and the status line. :class:`~failwidgets.widgets.embedding_map.EmbeddingMap` holds the traits
and the controls, and hands these to the scatter.
"""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd

from ..data import EvalSet
from ..methods.projection import LAYOUTS, PCAProjection, check_embeddings, project
from ..modes import FailureMode

__all__ = [
    "ALL_CLASSES",
    "COLOR_BY",
    "COLOR_BY_NAMES",
    "GROUPS",
    "LAYOUT_NAMES",
    "LEGEND_MAX_CLASSES",
    "PALETTE",
    "RECOLOR_MAX_POINTS",
    "TSNE_TOGGLE_MAX",
    "MapContent",
    "check_choice",
    "check_map_size",
    "default_point_size",
    "is_dark",
    "layout_options",
    "parse_css_rgb",
    "square_scales",
]

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
CSS_RGB = re.compile(
    r"^rgba?\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*(?:,\s*([0-9.]+)\s*)?\)$"
)
_MEMBERSHIP = ["other", "member"]


def parse_css_rgb(text: str) -> tuple[float, float, float] | None:
    """(r, g, b) in 0..1 from a computed CSS colour ``rgb(...)``/``rgba(...)``; None if
    transparent or not of that form."""
    match = CSS_RGB.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        return None
    channels = [int(v) for v in match.groups()[:3]]
    alpha = match.group(4)
    if any(v > 255 for v in channels) or (alpha is not None and float(alpha) == 0):
        return None
    return tuple(v / 255 for v in channels)


def is_dark(rgb) -> bool:
    """Whether a background (r, g, b) in 0..1 is dark (relative luminance below 0.5)."""
    r, g, b = rgb
    return 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.5


def check_choice(value, allowed, name: str) -> str:
    """``value`` when it is one of ``allowed``, else a ValueError naming ``name``."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name}: expected one of {allowed}, got {value!r}")
    return value


def check_map_size(height, point_size) -> None:
    """Errors naming ``height`` (100..4000 pixels) or ``point_size`` (None or 0.5..64)."""
    if isinstance(height, bool) or not isinstance(height, (int, np.integer)):
        raise TypeError(f"height: expected an integer, got {type(height).__name__}")
    if not 100 <= height <= 4000:
        raise ValueError(f"height: expected 100..4000 pixels, got {height}")
    if point_size is None:
        return
    if isinstance(point_size, bool) or not isinstance(
        point_size, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"point_size: expected a number, got {type(point_size).__name__}")
    if not 0.5 <= point_size <= 64:
        raise ValueError(f"point_size: expected 0.5..64 pixels, got {point_size}")


def default_point_size(n: int) -> float:
    """Point size in pixels for ``n`` points: smaller as the map fills up."""
    return 5 if n <= 10_000 else 3 if n <= 200_000 else 1.5


def layout_options(n: int, projection: str, umap_available: bool) -> list[tuple[str, str]]:
    """(label, value) of the layouts offered for ``n`` points; the current one is always in."""
    options = [("PCA", "pca")]
    if n <= TSNE_TOGGLE_MAX or projection == "tsne":
        options.append(("t-SNE", "tsne"))
    if projection == "umap" or umap_available:
        options.append(("UMAP", "umap"))
    return options


def square_scales(x: np.ndarray, y: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    """(x range, y range) with the same units on both axes, 2% margin, around the points.

    A PCA map must not stretch PC2 to PC1's range.
    """
    lo = np.array([x.min(), y.min()], dtype=np.float64)
    hi = np.array([x.max(), y.max()], dtype=np.float64)
    centre, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2, 1e-12) * 1.02
    return (centre[0] - half, centre[0] + half), (centre[1] - half, centre[1] + half)


class MapContent:
    """The points of an embedding map and what is marked on them.

    Parameters
    ----------
    evalset : EvalSet
        The samples; point ``i`` is sample ``i``.
    embeddings : array-like, shape (evalset.n, d)
        Per-sample embeddings (checked: no NaN/inf).
    projection : {"pca", "tsne", "umap"}
        The first layout, computed now (its errors come before anything is built).
    group : {"label", "prediction"}
        Which samples make up a class.
    fit_rows, random_state
        See :class:`~failwidgets.methods.projection.PCAProjection`.

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per point: ``x``, ``y``, and the categories ``correct``, ``label``,
        ``prediction`` and ``mode`` (member of the highlighted mode or not).
    members : np.ndarray
        Sorted members of the highlighted failure mode.
    mode_title : str or None
        Its title.
    selected : np.ndarray
        The selection, errors first.
    """

    def __init__(
        self,
        evalset: EvalSet,
        embeddings,
        *,
        projection: str = "pca",
        group: str = "label",
        fit_rows: int | None = None,
        random_state: int = 0,
    ):
        self.evalset = evalset
        self._embeddings = check_embeddings(embeddings, evalset.n, name="embeddings")
        self.group = check_choice(group, GROUPS, "group")
        check_choice(projection, LAYOUTS, "projection")
        self._fit_rows, self._random_state = fit_rows, random_state
        self._coordinates: dict[str, np.ndarray] = {}
        self._explained: dict[str, np.ndarray] = {}
        self.members = np.zeros(0, dtype=np.int64)
        self.mode_title: str | None = None
        self.selected = np.zeros(0, dtype=np.int64)
        coordinates = self.layout(projection)
        names = list(evalset.class_names)
        self.frame = pd.DataFrame(
            {
                "x": coordinates[:, 0],
                "y": coordinates[:, 1],
                "correct": pd.Categorical.from_codes(
                    (~evalset.correct).astype(np.int8), ["correct", "error"]
                ),
                "label": pd.Categorical.from_codes(evalset.labels, names),
                "prediction": pd.Categorical.from_codes(evalset.predictions, names),
                "mode": self._membership(),
            }
        )

    # ------------------------------------------------------------------ layouts
    def layout(self, projection: str) -> np.ndarray:
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

    def explained(self) -> np.ndarray | None:
        """Variance fractions of the two PCA axes (None until PCA was computed)."""
        return self._explained.get("pca")

    def move_to(self, projection: str) -> np.ndarray:
        """Put the points at ``projection``'s layout (in :attr:`frame`); returns it."""
        coordinates = self.layout(projection)
        self.frame["x"] = coordinates[:, 0]
        self.frame["y"] = coordinates[:, 1]
        return coordinates

    # ------------------------------------------------------------------ classes
    def class_name_of(self, name, argument: str) -> str:
        """The class name of ``name`` (a name or index; None or "" is all classes)."""
        if name is None or name == ALL_CLASSES:
            return ALL_CLASSES
        try:
            index = self.evalset.class_index(name)
        except (TypeError, ValueError) as error:
            raise type(error)(str(error).replace("cls:", f"{argument}:", 1)) from None
        return self.evalset.class_names[index]

    def check_class_name(self, value) -> str:
        """A ``class_name`` trait value: a known class name, or "" for all classes."""
        if not isinstance(value, str):
            raise TypeError(f"class_name: expected a class name, got {type(value).__name__}")
        if value != ALL_CLASSES and value not in self.evalset.class_names:
            raise ValueError(
                f"class_name: unknown class {value!r}; known: {list(self.evalset.class_names)[:10]}"
                " (or '' for all classes)"
            )
        return value

    def visible_indices(self, class_name: str) -> np.ndarray:
        """EvalSet indices of the points shown for ``class_name`` ("" : all)."""
        if class_name == ALL_CLASSES:
            return np.arange(self.evalset.n, dtype=np.int64)
        return self.evalset.group(class_name, by=self.group).astype(np.int64)

    # ------------------------------------------------------------------ failure mode
    def _membership(self) -> pd.Categorical:
        flags = np.zeros(self.evalset.n, dtype=np.int8)
        flags[self.members] = 1
        return pd.Categorical.from_codes(flags, _MEMBERSHIP)

    def set_mode(self, mode, title: str | None = None) -> None:
        """Highlight a FailureMode's members, or sample indices (a boolean mask works too)."""
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
        self.members = np.unique(self.evalset.check_indices(members, name="mode"))
        self.mode_title = title
        self.frame["mode"] = self._membership()

    def clear_mode(self) -> None:
        self.members = np.zeros(0, dtype=np.int64)
        self.mode_title = None
        self.frame["mode"] = self._membership()

    # ------------------------------------------------------------------ selection
    def check_rows(self, indices) -> np.ndarray:
        """Sorted distinct sample indices to select (an error names ``indices``)."""
        if isinstance(indices, (str, bytes)) or indices is None or np.isscalar(indices):
            raise TypeError(
                f"indices: expected a sequence of sample indices, got {type(indices).__name__}"
            )
        return np.unique(self.evalset.check_indices(indices, name="indices"))

    def scatter_rows(self, value, class_name: str) -> np.ndarray:
        """The scatter's selection (point rows or None) as sample indices of ``class_name``."""
        rows = np.zeros(0, dtype=np.int64) if value is None else np.asarray(value).astype(np.int64)
        rows = np.unique(rows[(rows >= 0) & (rows < self.evalset.n)])
        if class_name != ALL_CLASSES:
            rows = rows[np.isin(rows, self.visible_indices(class_name))]
        return rows

    def select(self, rows: np.ndarray) -> np.ndarray:
        """Make ``rows`` the selection, errors first; returns it."""
        self.selected = self.evalset.errors_first(rows)
        return self.selected

    def selection_heading(self, title: str | None = None) -> str:
        """The grid's title for the selection: ``title``, else its size and errors."""
        n_errors = int(np.count_nonzero(~self.evalset.correct[self.selected]))
        return title or f"Map selection · {len(self.selected)} samples · {n_errors} errors"

    def selection_mode(self, class_name: str, projection: str) -> FailureMode:
        """The selection as a FailureMode; ``drop``: the shown points' accuracy minus its."""
        members = self.selected
        where = class_name or "all classes"
        return FailureMode.from_members(
            METHOD,
            class_name or "all",
            f"map selection: {len(members)} samples ({where}, {projection})",
            members.copy(),
            self.evalset,
            reference_indices=self.visible_indices(class_name),  # the class's group (or all)
            grouping=None,
        )

    # ------------------------------------------------------------------ drawing
    def color_map(self, column: str, dark: bool, class_colors: list) -> dict:
        """Category -> colour of ``column`` on a dark or light background.

        ``class_colors`` holds one colour per class (for "label"/"prediction"); only the
        classes present in the column get an entry (so the legend lists those).
        """
        shade = int(dark)
        if column == "correct":
            return {"correct": PALETTE["correct"][shade], "error": PALETTE["error"][shade]}
        if column == "mode":
            return {"other": PALETTE["other"][shade], "member": PALETTE["member"][shade]}
        names = list(self.evalset.class_names)
        present = self.frame[column].cat.codes.to_numpy()
        used = np.flatnonzero(np.bincount(present, minlength=len(names)))
        return {names[c]: class_colors[c] for c in used}

    def draw_order(self, column: str) -> np.ndarray | None:
        """Point order for ``column``: errors or mode members drawn last (on top); None: as is."""
        if column == "correct":
            return np.argsort(~self.evalset.correct, kind="stable")
        if column == "mode":
            flags = np.zeros(self.evalset.n, dtype=bool)
            flags[self.members] = True
            return np.argsort(flags, kind="stable")
        return None

    def show_legend(self, column: str) -> bool:
        """Whether the legend fits: always for correct/mode, up to LEGEND_MAX_CLASSES classes."""
        n_classes = len(self.evalset.class_names)
        return column in ("correct", "mode") or n_classes <= LEGEND_MAX_CLASSES

    def status(self, projection: str, class_name: str) -> str:
        """The status line (HTML; text from data escaped)."""
        parts = [f"{self.evalset.n:,} points", LAYOUT_NAMES[projection]]
        ratio = self.explained()
        if projection == "pca" and ratio is not None:
            parts[-1] += f" (PC1 {100 * ratio[0]:.1f}%, PC2 {100 * ratio[1]:.1f}% of variance)"
        if class_name:
            shown = len(self.visible_indices(class_name))
            parts.append(f"class {html.escape(class_name)}: {shown:,}")
        if len(self.members):
            what = html.escape(self.mode_title or "failure mode")
            parts.append(f"highlighted: {what} ({len(self.members):,})")
        if len(self.selected):
            errors = int(np.count_nonzero(~self.evalset.correct[self.selected]))
            parts.append(f"selected: {len(self.selected):,} ({errors:,} errors)")
        else:
            parts.append(
                "<span style='color: var(--jp-ui-font-color2)'>lasso: the toolbar's lasso, or "
                "long-press and drag; click a point to see it</span>"
            )
        return " · ".join(parts)
