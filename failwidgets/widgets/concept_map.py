"""ConceptMapView: conceptual explanation scores (CES) of the selected images, on a concept map.

A thin :class:`FailureView` over :class:`~failwidgets.methods.ces.ConceptExplainer` (a split
model plus a :class:`~failwidgets.methods.ces.ConceptBank`). Its answer is the
:class:`~failwidgets.methods.ces.ConceptExplanation` of the explained set; what it shows is
kept in a :class:`~failwidgets.viewmodels.concept_map.ConceptMapState` (no widgets there):

- a map (anywidget) with one point per concept at a 2-D embedding of its CAV (PCA, or t-SNE),
  coloured by the sign of its score, sized by ``|score|``, the top concepts labelled, and a
  tooltip with the name, the score and the CAV's validation accuracy;
- beside it a ranked bar list of the top positive and top negative concepts;
- controls: the class whose mistakes are explained and the step ``delta`` (log slider), both
  from the base (the Explorer shows them once, in its panel), the class whose probability is
  explained (default: each image's true label), the direction (add / remove the concept) and
  the map embedding.

The explained set follows the current selection: by default the misclassified images of the
selected class in ``split``; images selected in the (shared) :class:`ImageGrid` replace it, and
:meth:`ConceptMapView.explain` sets it from another view (e.g. a failure mode's members).
Clicking a concept shows its positive examples in the grid.

Scores are recomputed on every change through the view's latest-wins worker (a quick change
never leaves a stale result on screen), and the last results are cached. With
``background="auto"`` small requests (``n_images * n_concepts`` up to ``sync_limit``) run at
once and larger ones on the worker while the map shows a busy state.
"""

from __future__ import annotations

import contextlib
import pathlib
from collections.abc import Callable

import anywidget
import ipywidgets as widgets
import numpy as np
import traitlets

from ..checks import check_int as _check_int
from ..data import EvalSet
from ..methods.answers import answer_list
from ..methods.ces import ConceptBank, ConceptExplainer, ConceptExplanation, ConceptScores
from ..modes import FailureMode
from ..viewmodels import concept_map as vm
from .failure_view import ClassName, FailureView
from .grid import ImageGrid
from .guard import (
    BrowserMessageError,
    Checked,
    GuardedState,
    answer_errors,
    message_int,
    short_repr,
    validator,
)
from .threshold_controls import Threshold

__all__ = ["DIRECTIONS", "ConceptMapPanel", "ConceptMapView"]

_STATIC = pathlib.Path(__file__).parent.parent / "static"
METHOD = "ces"
DIRECTIONS = vm.DIRECTIONS


class ConceptMapPanel(GuardedState, anywidget.AnyWidget):
    """The drawing of a :class:`ConceptMapView`: map, bar list, tooltip (view model in, clicks out).

    The view owns it: it writes ``view_model`` and ``busy`` (the browser may set no trait) and
    handles the panel's messages (``{"type": "concept", "index", "name"}`` and
    ``{"type": "show_explained"}``; one that cannot be applied is answered with
    ``{"type": "error", ...}``).
    """

    _esm = _STATIC / "concept_map.js"
    view_model = traitlets.Dict({}).tag(sync=True)
    busy = traitlets.Bool(False).tag(sync=True)


class ConceptMapView(FailureView):
    """Concept explanations (CES) of the selected images on a map of the concept bank.

    Parameters
    ----------
    evalset : EvalSet
        The images to explain. The bank's positive examples are shown in the grid when the
        bank was learned from this EvalSet's tags (``ConceptSet.from_evalset``).
    explainer : ConceptExplainer or SplitModel
        The classifier cut at the bank's layer, with the bank; a bare SplitModel needs ``bank``.
    bank : ConceptBank, optional
        Only with a SplitModel.
    grid : ImageGrid, optional
        The shared grid: its selection becomes the explained set, and a concept's positive
        examples are shown in it. When None the view creates its own, showing the selected
        class's images (mistakes first), and shows it.
    class_name : str or int, optional
        Class whose mistakes are explained first (default: the class with most mistakes in
        ``split``).
    split : str or None
        Split whose mistakes are explained by default ("test"); None, or an EvalSet without
        splits, uses every sample.
    target : str or int, optional
        Class whose probability is explained; None (default) explains each image's true label.
    delta : float, optional
        CES step along each raw CAV (default: the explainer's).
    direction : {"add", "remove"}
        Step toward the concept (add it) or away from it (remove it).
    embedding : {"pca", "tsne"}
        Map coordinates of the CAVs.
    n_labels : int
        Labelled points on each side (top positive and top negative concepts).
    n_bars : int
        Concepts in each of the two ranked bar lists.
    indices : array-like of int, optional
        An explained set to start with instead of the class's mistakes.
    background : {"auto", True, False}
        Run score computations on the worker thread: always, never, or ("auto") when
        ``n_images * n_concepts`` exceeds ``sync_limit`` (or a computation is under way).
    sync_limit : int
        Size up to which "auto" computes at once.
    transform : callable, optional
        Image preprocessing, with a SplitModel (see :class:`ConceptExplainer`).

    Attributes
    ----------
    class_name : str
        Class whose mistakes are explained by default (observable; the Explorer sets it).
    target : str or None
        Class whose probability is explained; None: each image's true label.
    delta : float
        The CES step (the ``ces`` threshold; log slider).
    direction : str
    embedding : str
    n_labels, n_bars : int
        All observable; assigning them recomputes or redraws.
    explanation : ConceptExplanation or None
        The CES of the current explained set with the current settings, the method's answer
        (:meth:`ConceptExplainer.explain_images`); None while none is available.
    scores : ConceptScores or None
        ``explanation.scores``.
    explained : np.ndarray
        EvalSet indices of the explained images.
    selected_concept : str or None
        The last clicked concept.
    selected_members : np.ndarray
        EvalSet indices of the current selection: the clicked concept's positive examples.
    """

    method = METHOD
    class_name = ClassName(help="the class whose mistakes are explained by default")
    delta = Threshold(METHOD, "delta")
    target = ClassName(
        None, allow_none=True, help="the class whose probability is explained (None: true label)"
    )
    direction = traitlets.Unicode("add", help="'add' or 'remove' the concept")
    embedding = traitlets.Unicode("pca", help="map coordinates of the CAVs: 'pca' or 'tsne'")
    n_labels = Checked(4, help="labelled points on each side of the map")
    n_bars = Checked(8, help="concepts in each ranked bar list")

    def __init__(
        self,
        evalset: EvalSet,
        explainer: ConceptExplainer,
        bank: ConceptBank | None = None,
        *,
        grid: ImageGrid | None = None,
        class_name: str | int | None = None,
        split: str | None = "test",
        target: str | int | None = None,
        delta: float | None = None,
        direction: str = "add",
        embedding: str = "pca",
        n_labels: int = 4,
        n_bars: int = 8,
        indices=None,
        background: bool | str = "auto",
        sync_limit: int = 50_000,
        transform: Callable | None = None,
        **kwargs,
    ):
        explainer = ConceptExplainer.coerce(explainer, bank, transform)
        if len(explainer.bank) == 0:
            raise ValueError("bank: has no concepts (all were dropped below min_accuracy?)")
        if not (isinstance(background, bool) or background == "auto"):
            raise ValueError(f"background: expected 'auto', True or False, got {background!r}")
        self._sync_limit = _check_int(sync_limit, "sync_limit", 0)
        super().__init__(evalset, grid=grid, background=background is not False, **kwargs)
        self._auto = background == "auto"
        self._explainer, self._bank = explainer, explainer.bank
        self._showing = False  # True while this view changes the grid (its selection follows)
        try:  # a refused argument closes what the base made
            self._state = vm.ConceptMapState(explainer, evalset, split)
            explainer.check_evalset(evalset)
            if class_name is None:
                class_name = self._state.most_mistaken_class()
            self.class_name = class_name  # first: its default ("") is no class to roll back to
            with self.hold_trait_notifications():
                self.delta = explainer.delta if delta is None else delta
                self.direction = direction
                self.embedding = embedding
                self.n_labels = n_labels
                self.n_bars = n_bars
                self.target = target
            if indices is not None:
                self._state.explain_indices(indices)
            else:
                self._state.explain_class(self.class_name)
        except Exception:
            self.close()
            raise
        self._state.coordinates(self.embedding)
        self._panel = ConceptMapPanel()
        self._panel.on_msg(self._on_panel_message)
        self.children = self._build_controls()
        self.add_class("fw-concept-map-view")
        if self._owns_grid:
            self._show_class_images()
        self._finish_init()
        self.grid.observe(self._on_grid_selected, "selected")
        self._request()

    def _build_controls(self) -> list[widgets.Widget]:
        names = list(self._evalset.class_names)
        class_dropdown = self.class_control(self._state.class_options())
        class_dropdown.description = "Mistakes of"
        class_dropdown.style.description_width = "initial"
        self._class_dropdown = class_dropdown
        self._target_dropdown = widgets.Dropdown(
            options=vm.target_options(names),
            description="Probability of",
            style={"description_width": "initial"},
            layout=widgets.Layout(width="min(100%, 280px)"),
        )
        traitlets.link(
            (self, "target"),
            (self._target_dropdown, "value"),
            transform=(
                lambda name: vm.TRUE_LABEL if name is None else names.index(name),
                lambda value: None if value == vm.TRUE_LABEL else names[value],
            ),
        )
        (self._delta_slider,) = self.threshold_controls()
        self._direction_toggle = widgets.ToggleButtons(
            options=vm.DIRECTION_OPTIONS,
            tooltips=vm.DIRECTION_TOOLTIPS,
            style={"button_width": "auto"},
        )
        self._embedding_toggle = widgets.ToggleButtons(
            options=vm.embedding_options(len(self._bank)), style={"button_width": "auto"}
        )
        traitlets.link((self, "direction"), (self._direction_toggle, "value"))
        traitlets.link((self, "embedding"), (self._embedding_toggle, "value"))
        for control, hook in (
            (self._target_dropdown, "fw-cmap-target"),
            (self._direction_toggle, "fw-cmap-direction"),
            (self._embedding_toggle, "fw-cmap-embedding"),
        ):
            control.add_class(hook)
        row1 = widgets.HBox([class_dropdown, self._target_dropdown, self._delta_slider])
        row2 = widgets.HBox([self._direction_toggle, self._embedding_toggle, self._status_html])
        for row in (row1, row2):
            row.layout.flex_flow = "row wrap"
        return [row1, row2, self._panel] + ([self.grid] if self._owns_grid else [])

    # ------------------------------------------------------------------ public API
    @property
    def explainer(self) -> ConceptExplainer:
        return self._explainer

    @property
    def bank(self) -> ConceptBank:
        return self._bank

    @property
    def panel(self) -> ConceptMapPanel:
        return self._panel

    @property
    def split(self) -> str | None:
        return self._state.split

    @property
    def explanation(self) -> ConceptExplanation | None:
        """CES of the explained set with the current settings (None while unavailable)."""
        return self._state.explanation

    @property
    def scores(self) -> ConceptScores | None:
        """The scores of :attr:`explanation` (None while unavailable)."""
        explanation = self._state.explanation
        return None if explanation is None else explanation.scores

    @property
    def explained(self) -> np.ndarray:
        """EvalSet indices of the explained images."""
        return self._state.explained.indices.copy()

    @property
    def busy(self) -> bool:
        """Whether a score computation is under way."""
        return self._panel.busy

    @property
    def error(self) -> str | None:
        """Why the last computation failed (None when it did not)."""
        return self._state.error

    @property
    def selected_concept(self) -> str | None:
        return self._state.concept

    @property
    def selected_members(self) -> np.ndarray:
        """EvalSet indices of the current selection: the clicked concept's positive examples."""
        return self._state.concept_members.copy()

    @property
    def coordinates(self) -> np.ndarray:
        """Map coordinates (C, 2) of the concepts, in ``bank.names`` order, for ``embedding``."""
        return self._state.coordinates(self.embedding).copy()

    def explain(self, indices, title: str | None = None) -> None:
        """Make ``indices`` (EvalSet indices, e.g. a failure mode's members) the explained set.

        The scores are recomputed (at once, or on the worker thread; see :meth:`wait`).
        ``title`` names the set in the map's header.
        """
        self._state.explain_indices(indices, title)
        self._request()

    def wait(self, timeout: float | None = None) -> ConceptScores | None:
        """Block until the latest computation has finished; returns :attr:`scores`."""
        self._worker.wait(timeout=timeout)
        return self.scores

    def show_concept(self, name: str) -> FailureMode:
        """Select concept ``name``: show its positive examples in the grid.

        Returns the selection as a :class:`~failwidgets.modes.FailureMode` whose members are
        the positive examples (``accuracy`` the model's accuracy on them; ``drop`` is not
        measured: a concept's examples are not a failure mode), also passed to the
        ``on_select`` callbacks. Concepts learned from image folders have no EvalSet examples:
        the grid is left alone and the map says so.
        """
        mode, shown = self._state.select_concept(name, self.class_name)
        if shown is not None:
            with self._changing_grid():
                self.grid.show(shown, title=vm.examples_title(name, len(shown)))
        self._render()
        self._notify_select(mode)
        return mode

    def show_explained(self) -> None:
        """Show the explained images in the grid."""
        with self._changing_grid():
            title = self._state.explained.text(self.class_name, self._state.split)
            self.grid.show(self.explained, title=title)

    def show_mode(self, mode: FailureMode, title: str | None = None) -> None:
        """Show ``mode``'s members in the grid, errors first (what is explained stays)."""
        with self._changing_grid():
            super().show_mode(mode, title=title)

    def _modes(self, class_names: list[str], thresholds: dict) -> list[FailureMode]:
        """The failure modes of :attr:`explanation`
        (:meth:`ConceptExplanation.failure_modes <failwidgets.methods.ces.ConceptExplanation>`:
        one mode per label among the explained images, each described by its own top concepts
        and re-applied by its :class:`~failwidgets.rules.ConceptRule`; another ``delta``
        recomputes the scores, the view is not changed). ``classes="current"`` keeps the
        images labelled the selected class. Empty, with the ``reason``, when nothing is
        explained or the scores could not be computed.
        """
        self.wait()
        explanation = self._state.explanation
        if explanation is None:
            return answer_list([], lambda: self._state.no_scores_reason(self.class_name))
        return explanation.failure_modes(class_names, **thresholds)

    def close(self) -> None:
        """Stop following the grid, drop pending work and close the widgets."""
        grid = getattr(self, "grid", None)  # also called after a failed __init__
        if grid is not None:
            with contextlib.suppress(ValueError):
                grid.unobserve(self._on_grid_selected, "selected")
        panel = getattr(self, "_panel", None)
        if panel is not None:
            panel.close()
        super().close()  # closes the controls, and the grid when the view made it

    # ------------------------------------------------------------------ validation
    @validator("direction", "embedding")
    def _valid_setting(self, proposal):
        return vm.check_setting(proposal["trait"].name, proposal["value"], len(self._bank))

    @validator("n_labels", "n_bars")
    def _valid_count(self, proposal):
        name = proposal["trait"].name
        return _check_int(proposal["value"], name, 0 if name == "n_labels" else 1)

    # ------------------------------------------------------------------ reactions
    def _on_class(self) -> None:
        self._state.explain_class(self.class_name)
        if self._owns_grid:
            self._show_class_images()
        self._request()

    def _on_threshold(self, name: str) -> None:
        self._request()

    @traitlets.observe("target", "direction")
    def _on_setting(self, change):
        if self._ready:
            self._request()

    @traitlets.observe("embedding")
    def _on_embedding(self, change):
        if self._ready:
            self._panel.busy = True
            try:
                self._state.coordinates(change["new"])
            finally:
                self._render()
                self._panel.busy = self._worker.pending

    @traitlets.observe("n_labels", "n_bars")
    def _on_counts(self, change):
        if self._ready:
            self._render()

    def _on_grid_selected(self, change):
        if self._showing:
            return  # this view changed the grid; the selection only followed
        self._state.explain_selection(change["new"], self.class_name)
        self._request()

    @answer_errors
    def _on_panel_message(self, widget, content, buffers) -> None:
        kind = content.get("type")
        if kind == "concept":
            index, name = message_int(content, "index"), content.get("name")
            if not 0 <= index < len(self._bank) or self._bank.names[index] != name:
                raise BrowserMessageError(
                    f"index: concept {index} is not named {str(name)[:100]!r} in the bank"
                )
            self.show_concept(name)
        elif kind == "show_explained":
            self.show_explained()
        else:
            raise BrowserMessageError(
                f"type: expected 'concept' or 'show_explained', got {short_repr(kind)}"
            )

    # ------------------------------------------------------------------ grid
    @contextlib.contextmanager
    def _changing_grid(self):
        self._showing = True
        try:
            yield
        finally:
            self._showing = False

    def _show_class_images(self) -> None:
        rows, title = self._state.class_images(self.class_name)
        with self._changing_grid():
            self.grid.show(rows, title=title)

    # ------------------------------------------------------------------ computation
    def _request(self) -> None:
        """Explain the current explained set with the current settings (the latest wins)."""
        request = self._state.request(
            self.class_name, target=self.target, direction=self.direction, delta=self.delta
        )
        cached = None if request is None else self._state.cached(request)
        if request is None or cached is not None:
            self._worker.cancel()  # whatever is still running is stale now
            self._apply(cached, None)
            return
        if self._auto:
            expensive = self._state.cost(request) > self._sync_limit
            self._worker.background = expensive or self._worker.pending
        self._panel.busy = True
        if self._worker.background:
            self._set_status(f"computing the scores of {len(request['indices'])} images…")
        self._worker.submit(
            lambda: self._state.compute(request),
            lambda explanation: self._apply(explanation, None),
            lambda error: self._apply(None, f"{type(error).__name__}: {error}"),
        )

    def _apply(self, explanation: ConceptExplanation | None, error: str | None) -> None:
        self._state.finish(explanation, error)
        self._set_status(vm.failed_text(error) if error else "", bool(error))
        with self._panel.hold_sync():
            self._render()
            self._panel.busy = False

    # ------------------------------------------------------------------ drawing
    def view_model(self) -> dict:
        """The JSON the panel draws (also handy to inspect the view's state): see
        :func:`~failwidgets.viewmodels.concept_map.concept_map_view_model`."""
        return self._state.view_model(
            self.class_name,
            target=self.target,
            direction=self.direction,
            delta=self.delta,
            embedding=self.embedding,
            n_labels=self.n_labels,
            n_bars=self.n_bars,
        )

    def _render(self) -> None:
        self._panel.view_model = self.view_model()
