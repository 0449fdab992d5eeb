"""ConceptMapView: conceptual explanation scores (CES) of the selected images, on a concept map.

A thin :class:`FailureView` over :class:`~failwidgets.methods.ces.ConceptExplainer` (a split
model plus a :class:`~failwidgets.methods.ces.ConceptBank`):

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
import math
import pathlib
from collections import OrderedDict
from collections.abc import Callable

import anywidget
import ipywidgets as widgets
import numpy as np
import traitlets

from ..checks import check_int as _check_int
from ..data import EvalSet
from ..methods.answers import answer_list
from ..methods.ces import (
    ConceptBank,
    ConceptExplainer,
    ConceptScores,
    class_images_mistakes_first,
    class_mistakes,
    concept_examples_mode,
    concept_failure_modes,
    embed_concepts,
    mistakes_per_class,
    target_text,
    unit_square,
)
from ..modes import FailureMode
from ..text import percent
from .failure_view import ClassName, FailureView
from .grid import ImageGrid, format_score
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

__all__ = ["ConceptMapPanel", "ConceptMapView"]

_STATIC = pathlib.Path(__file__).parent.parent / "static"
METHOD = "ces"
DIRECTIONS = ("add", "remove")
EMBEDDINGS = {"pca": "PCA", "tsne": "t-SNE"}
TRUE_LABEL = -1  # the target dropdown's value for "each image's true label"
CACHE_SIZE = 32


def _percent(value) -> str:
    return percent(value, digits=0)


def _signed(value: float) -> str:
    if not math.isfinite(value):
        return format_score(value)
    return ("+" if value > 0 else "") + f"{value:.3g}"


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
    scores : ConceptScores or None
        Scores of the current explained set (None while none are available).
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
        self._cache: OrderedDict = OrderedDict()
        self._scores: ConceptScores | None = None
        self._error: str | None = None
        self._selected_concept: str | None = None
        self._note: str | None = None
        self._coordinates: dict[str, np.ndarray] = {}
        self._requests = 0  # requests so far: the view model's generation
        self._showing = False  # True while this view changes the grid (its selection follows)
        try:  # a refused argument closes what the base made
            no_split = split is None or evalset.split is None
            self._split = None if no_split else split
            self._rows = np.arange(evalset.n) if no_split else evalset.split_indices(split)
            explainer.check_evalset(evalset)
            if class_name is None:
                class_name = int(np.argmax(mistakes_per_class(evalset, self._rows)[0]))
            self.class_name = class_name  # first: its default ("") is no class to roll back to
            with self.hold_trait_notifications():
                self.delta = explainer.delta if delta is None else delta
                self.direction = direction
                self.embedding = embedding
                self.n_labels = n_labels
                self.n_bars = n_bars
                self.target = target
            if indices is not None:
                self._explained = self._check_explained(indices, "indices")
                self._source = ("explicit", None)
            else:
                self._explain_class()
        except Exception:
            self.close()
            raise
        self._positives = explainer.evalset_examples(evalset)
        self._embedding_coordinates(self.embedding)
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
        wrong, total = mistakes_per_class(self._evalset, self._rows)
        options = [(f"{n} · {wrong[c]} mistakes / {total[c]}", n) for c, n in enumerate(names)]
        class_dropdown = self.class_control(options)
        class_dropdown.description = "Mistakes of"
        class_dropdown.style.description_width = "initial"
        self._class_dropdown = class_dropdown
        self._target_dropdown = widgets.Dropdown(
            options=[("true label of each image", TRUE_LABEL)]
            + [(n, c) for c, n in enumerate(names)],
            description="Probability of",
            style={"description_width": "initial"},
            layout=widgets.Layout(width="min(100%, 280px)"),
        )
        traitlets.link(
            (self, "target"),
            (self._target_dropdown, "value"),
            transform=(
                lambda name: TRUE_LABEL if name is None else names.index(name),
                lambda value: None if value == TRUE_LABEL else names[value],
            ),
        )
        (self._delta_slider,) = self.threshold_controls()
        self._direction_toggle = widgets.ToggleButtons(
            options=[("add concept", "add"), ("remove concept", "remove")],
            tooltips=["step toward the concept", "step away from the concept"],
            style={"button_width": "auto"},
        )
        embeddings = [("PCA", "pca")] + ([("t-SNE", "tsne")] if len(self._bank) >= 4 else [])
        self._embedding_toggle = widgets.ToggleButtons(
            options=embeddings, style={"button_width": "auto"}
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
        return self._split

    @property
    def scores(self) -> ConceptScores | None:
        """CES of the explained set with the current settings (None while unavailable)."""
        return self._scores

    @property
    def explained(self) -> np.ndarray:
        """EvalSet indices of the explained images."""
        return self._explained.copy()

    @property
    def busy(self) -> bool:
        """Whether a score computation is under way."""
        return self._panel.busy

    @property
    def error(self) -> str | None:
        """Why the last computation failed (None when it did not)."""
        return self._error

    @property
    def selected_concept(self) -> str | None:
        return self._selected_concept

    @property
    def selected_members(self) -> np.ndarray:
        """EvalSet indices of the current selection: the clicked concept's positive examples."""
        return self._selected_members.copy()

    @property
    def coordinates(self) -> np.ndarray:
        """Map coordinates (C, 2) of the concepts, in ``bank.names`` order, for ``embedding``."""
        return self._embedding_coordinates(self.embedding).copy()

    def explain(self, indices, title: str | None = None) -> None:
        """Make ``indices`` (EvalSet indices, e.g. a failure mode's members) the explained set.

        The scores are recomputed (at once, or on the worker thread; see :meth:`wait`).
        ``title`` names the set in the map's header.
        """
        if title is not None and not isinstance(title, str):
            raise TypeError(f"title: expected a string, got {type(title).__name__}")
        self._explained = self._check_explained(indices, "indices")
        self._source = ("explicit", title)
        self._request()

    def wait(self, timeout: float | None = None) -> ConceptScores | None:
        """Block until the latest computation has finished; returns :attr:`scores`."""
        self._worker.wait(timeout=timeout)
        return self._scores

    def show_concept(self, name: str) -> FailureMode:
        """Select concept ``name``: show its positive examples in the grid.

        Returns the selection as a :class:`~failwidgets.modes.FailureMode` whose members are
        the positive examples (``accuracy`` the model's accuracy on them; ``drop`` is not
        measured: a concept's examples are not a failure mode), also passed to the
        ``on_select`` callbacks. Concepts learned from image folders have no EvalSet examples:
        the grid is left alone and the map says so.
        """
        if not isinstance(name, str):
            raise TypeError(f"name: expected a concept name, got {type(name).__name__}")
        self._bank.index(name)  # unknown names raise
        self._selected_concept = name
        members = self._positives.get(name)
        if members is None:
            self._note = (
                f"The positive examples of {name!r} are not samples of this EvalSet "
                "(image files), so they cannot be shown in the grid."
            )
            members = np.zeros(0, dtype=np.int64)
        else:
            self._note = None
            with self._changing_grid():
                self.grid.show(
                    members, title=f"Positive examples of the concept “{name}” ({len(members)})"
                )
        self._selected_members = members.copy()
        mode = concept_examples_mode(self._evalset, name, members, self.class_name)
        self._render()
        self._notify_select(mode)
        return mode

    def show_explained(self) -> None:
        """Show the explained images in the grid."""
        with self._changing_grid():
            self.grid.show(self._explained, title=self._explained_text())

    def show_mode(self, mode: FailureMode, title: str | None = None) -> None:
        """Show ``mode``'s members in the grid, errors first (what is explained stays)."""
        with self._changing_grid():
            super().show_mode(mode, title=title)

    def _modes(self, class_names: list[str], thresholds: dict) -> list[FailureMode]:
        """The explained images' failure modes: one per class of ``class_names`` among the
        explained images' labels (:func:`~failwidgets.methods.ces.concept_failure_modes`).

        CES explains mistakes rather than finding subgroups, so ``failure_modes()`` is the
        current explained set (by default the selected class's mistakes in the split) at the
        current ``target`` and ``direction``: ``classes="current"`` keeps the explained images
        labelled the selected class, ``"all"`` gives one mode per label among them, a list the
        modes of those labels. Each is described by its own top concepts, and its ``rule``
        re-applies the explanation (:class:`~failwidgets.rules.ConceptRule`). A ``delta``
        other than the view's recomputes the scores (the view is not changed). Empty, with
        the ``reason``, when nothing is explained, the scores could not be computed or no
        explained image has one of those labels.
        """
        self.wait()
        scores = self._scores
        if len(self._explained) and thresholds["delta"] != self.delta:
            key = self._request_key(delta=thresholds["delta"])
            scores = self._cached(key)
            if scores is None:
                scores = self._compute(key, self._explained.copy())
        if scores is None or len(self._explained) == 0:
            return answer_list([], self._no_scores_reason)
        return concept_failure_modes(
            self._explainer,
            self._evalset,
            self._explained,
            scores,
            class_names,
            target=self.target,
            title=self._explained_text(),
            reference_indices=self._rows,
        )

    def _no_scores_reason(self) -> str:
        """Why there are no scores: the computation failed, or nothing is explained."""
        if self._error:
            return f"the scores could not be computed: {self._error}"
        if len(self._explained) == 0:
            where = f" in the {self._split} split" if self._split else ""
            return (
                f"nothing is explained: {self.class_name} has no mistakes{where}; select images "
                "in the grid or call explain(indices)"
            )
        return "the scores are not computed yet (see wait())"

    def close(self) -> None:
        """Stop following the grid, drop pending work and close the widgets."""
        grid = getattr(self, "grid", None)  # also called after a failed __init__
        if grid is not None:
            with contextlib.suppress(ValueError):
                grid.unobserve(self._on_grid_selected, "selected")
        panel = getattr(self, "_panel", None)
        if panel is not None:
            panel.close()
        if grid is not None and self._owns_grid:
            grid.close()
        super().close()

    # ------------------------------------------------------------------ validation
    def _check_explained(self, indices, name: str) -> np.ndarray:
        if isinstance(indices, (str, bytes)) or np.isscalar(indices):
            raise TypeError(
                f"{name}: expected a sequence of sample indices, got {type(indices).__name__}"
            )
        idx = self._evalset.check_indices(indices, name)
        if len(idx) == 0:
            raise ValueError(f"{name}: no samples to explain")
        return idx

    @validator("direction")
    def _valid_direction(self, proposal):
        value = proposal["value"]
        if value not in DIRECTIONS:
            raise ValueError(f"direction: expected 'add' or 'remove', got {value!r}")
        return value

    @validator("embedding")
    def _valid_embedding(self, proposal):
        value = proposal["value"]
        if value not in EMBEDDINGS:
            raise ValueError(f"embedding: expected 'pca' or 'tsne', got {value!r}")
        if value == "tsne" and len(self._bank) < 4:
            raise ValueError(
                f"embedding: t-SNE needs at least 4 concepts, the bank has {len(self._bank)}"
            )
        return value

    @validator("n_labels", "n_bars")
    def _valid_count(self, proposal):
        name = proposal["trait"].name
        return _check_int(proposal["value"], name, 0 if name == "n_labels" else 1)

    # ------------------------------------------------------------------ reactions
    def _on_class(self) -> None:
        self._explain_class()
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
                self._embedding_coordinates(change["new"])
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
        selected = np.asarray(change["new"], dtype=np.int64)
        if len(selected):
            self._explained, self._source = selected, ("selection", None)
        else:
            self._explain_class()
        self._request()

    def _explain_class(self) -> None:
        self._explained = class_mistakes(self._evalset, self.class_name, self._rows)
        self._source = ("class", None)

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
        rows, wrong = class_images_mistakes_first(self._evalset, self.class_name, self._rows)
        where = f"{self._split} images" if self._split else "images"
        with self._changing_grid():
            self.grid.show(
                rows,
                title=(
                    f"{self.class_name}: {len(rows)} {where}, the {wrong} mistakes first · "
                    "select images to explain them"
                ),
            )

    # ------------------------------------------------------------------ computation
    def _request_key(self, delta: float | None = None):
        target = None if self.target is None else self._evalset.class_index(self.target)
        delta = float(self.delta if delta is None else delta)
        return (self._explained.tobytes(), target, delta, self.direction)

    def _cached(self, key) -> ConceptScores | None:
        with self._worker.lock:
            scores = self._cache.get(key)
            if scores is not None:
                self._cache.move_to_end(key)
            return scores

    def _request(self) -> None:
        """Recompute the scores for the current explained set and settings (the latest wins)."""
        self._requests += 1
        if len(self._explained) == 0:
            self._worker.cancel()
            self._apply(None, None)
            return
        key = self._request_key()
        cached = self._cached(key)
        if cached is not None:
            self._worker.cancel()  # whatever is still running is stale now
            self._apply(cached, None)
            return
        explained = self._explained.copy()
        if self._auto:
            cost = len(explained) * len(self._bank)
            self._worker.background = cost > self._sync_limit or self._worker.pending
        self._panel.busy = True
        if self._worker.background:
            self._set_status(f"computing the scores of {len(explained)} images…")
        self._worker.submit(
            lambda: self._compute(key, explained),
            lambda scores: self._apply(scores, None),
            lambda error: self._apply(None, f"{type(error).__name__}: {error}"),
        )

    def _compute(self, key, explained: np.ndarray) -> ConceptScores:
        _, target, delta, direction = key
        scores = self._explainer.explain_evalset(
            self._evalset, explained, target=target, delta=delta, direction=direction
        )
        with self._worker.lock:
            self._cache[key] = scores
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return scores

    def _apply(self, scores, error) -> None:
        self._scores, self._error = scores, error
        self._set_status(f"Could not compute the scores: {error}" if error else "", bool(error))
        with self._panel.hold_sync():
            self._render()
            self._panel.busy = False

    # ------------------------------------------------------------------ drawing
    def _embedding_coordinates(self, method: str) -> np.ndarray:
        if method not in self._coordinates:
            self._coordinates[method] = embed_concepts(self._bank, method)
        return self._coordinates[method]

    def _explained_text(self) -> str:
        n = len(self._explained)
        images = "image" if n == 1 else "images"
        kind, title = self._source
        if kind == "selection":
            return f"{n} {images} selected in the grid"
        if kind == "explicit":
            return title if title else f"{n} chosen {images}"
        where = f" {self._split}" if self._split else ""
        return f"{n}{where} {'mistake' if n == 1 else 'mistakes'} of {self.class_name}"

    def view_model(self) -> dict:
        """The JSON the panel draws (also handy to inspect the view's state).

        ``positive`` / ``negative`` are the bar lists; when one is empty although there are
        scores, ``empty_reasons[side]`` says why (:meth:`ConceptScores.empty_reason`), shown
        where its bars would be.
        """
        bank, scores = self._bank, self._scores
        layout = unit_square(self._embedding_coordinates(self.embedding))
        accuracy = np.asarray(bank.val_accuracy, dtype=float)
        n_images = len(self._explained)
        labelled, positive, negative, rank = set(), [], [], {}
        empty_reasons = {"positive": None, "negative": None}
        if scores is not None:
            empty_reasons = {side: scores.empty_reason(side) for side in empty_reasons}
            rank = {int(i): r for r, i in enumerate(scores.order())}
            top_pos, top_neg = scores.sides()
            labelled = set(top_pos[: self.n_labels] + top_neg[: self.n_labels])
            positive = [self._bar(i) for i in top_pos[: self.n_bars]]
            negative = [self._bar(i) for i in top_neg[: self.n_bars]]
        concepts = []
        for i, name in enumerate(bank.names):
            entry = {
                "index": i,
                "name": name,
                "x": float(layout[i, 0]),
                "y": float(layout[i, 1]),
                "score": None,
                "score_text": "—",
                "mean_change_text": "—",
                "val_accuracy_text": _percent(float(accuracy[i])),
                "rank": rank.get(i),
                "labelled": i in labelled,
                "has_examples": name in self._positives,
            }
            if scores is not None:
                value = float(scores.scores[i])
                entry["score"] = value if math.isfinite(value) else None
                entry["score_text"] = _signed(value)
                entry["mean_change_text"] = _signed(float(scores.raw[i]) / max(1, n_images))
            concepts.append(entry)
        message = None
        if self._error:
            message = f"Could not compute the scores: {self._error}"
        elif n_images == 0:
            where = f" in the {self._split} split" if self._split else ""
            message = (
                f"{self.class_name} has no mistakes{where}: select images in the grid to "
                "explain them."
            )
        verb = "Adding" if self.direction == "add" else "Removing"
        target = target_text(self.target)
        return {
            "generation": self._requests,
            "class_name": self.class_name,
            "explained_text": self._explained_text(),
            "n_explained": n_images,
            "target_text": target,
            "direction": self.direction,
            "delta_text": format_score(float(self.delta)),
            "embedding": self.embedding,
            "embedding_text": EMBEDDINGS[self.embedding],
            "has_scores": scores is not None,
            "concepts": concepts,
            "positive": positive,
            "negative": negative,
            "empty_reasons": empty_reasons,
            "legend": {
                "positive": f"{verb} it raises {target}",
                "negative": f"{verb} it lowers {target}",
            },
            "selected": None
            if self._selected_concept is None
            else bank.names.index(self._selected_concept),
            "message": message,
            "note": self._note,
        }

    def _bar(self, i: int) -> dict:
        value = float(self._scores.scores[i])
        return {
            "index": i,
            "name": self._bank.names[i],
            "score": value if math.isfinite(value) else 0.0,
            "score_text": _signed(value),
            "val_accuracy_text": _percent(float(self._bank.val_accuracy[i])),
        }

    def _render(self) -> None:
        self._panel.view_model = self.view_model()
