"""ConceptMapView: conceptual explanation scores (CES) of the selected images, on a concept map.

A thin view over :class:`~failwidgets.methods.ces.ConceptExplainer` (a split model plus a
:class:`~failwidgets.methods.ces.ConceptBank`):

- a map (anywidget) with one point per concept at a 2-D embedding of its CAV (PCA, or t-SNE),
  coloured by the sign of its score, sized by ``|score|``, the top concepts labelled, and a
  tooltip with the name, the score and the CAV's validation accuracy;
- beside it a ranked bar list of the top positive and top negative concepts;
- controls: the class whose mistakes are explained, the class whose probability is explained
  (default: each image's true label), the step ``delta`` (log slider), the direction
  (add / remove the concept) and the map embedding.

The explained set follows the current selection: by default the misclassified images of the
selected class in ``split``; images selected in the (shared) :class:`ImageGrid` replace it, and
:meth:`ConceptMapView.explain` sets it from another view (e.g. a failure mode's members).
Clicking a concept shows its positive examples in the grid.

Scores are recomputed on every change. Small requests (``n_images * n_concepts`` up to
``sync_limit``) run at once; larger ones run on one worker thread while the map shows a busy
state. Every request takes a new generation number and only the result of the latest one is
shown, so quick successive changes never leave a stale result on screen.
"""

from __future__ import annotations

import math
import pathlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import anywidget
import ipywidgets as widgets
import numpy as np
import traitlets

from ..checks import check_int as _check_int
from ..data import EvalSet
from ..methods.answers import answer_list
from ..methods.ces import ConceptBank, ConceptExplainer, ConceptScores, embed_concepts
from ..modes import FailureMode
from ..thresholds import spec as threshold_spec
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
from .selectable import Selectable

__all__ = ["ConceptMapPanel", "ConceptMapView"]

_STATIC = pathlib.Path(__file__).parent.parent / "static"
METHOD = "ces"
DIRECTIONS = ("add", "remove")
EMBEDDINGS = {"pca": "PCA", "tsne": "t-SNE"}
TRUE_LABEL = -1  # the target dropdown's value for "each image's true label"
CACHE_SIZE = 32
DESCRIPTION_CONCEPTS = 3  # concepts named in a failure mode's description


def _percent(value: float) -> str:
    return "—" if not math.isfinite(value) else f"{100 * value:.0f}%"


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


class ConceptMapView(Selectable, widgets.VBox):
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
        Run score computations on a worker thread: always, never, or ("auto") when
        ``n_images * n_concepts`` exceeds ``sync_limit``.
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

    class_name = traitlets.Unicode("")
    target = Checked(None)
    delta = Checked(1e4)
    direction = traitlets.Unicode("add")
    embedding = traitlets.Unicode("pca")
    n_labels = Checked(4)
    n_bars = Checked(8)

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
        if not isinstance(evalset, EvalSet):
            raise TypeError(f"evalset: expected an EvalSet, got {type(evalset).__name__}")
        explainer = self._make_explainer(explainer, bank, transform)
        if len(explainer.bank) == 0:
            raise ValueError("bank: has no concepts (all were dropped below min_accuracy?)")
        if grid is not None:
            if not isinstance(grid, ImageGrid):
                raise TypeError(f"grid: expected an ImageGrid, got {type(grid).__name__}")
            if grid.evalset is not evalset:
                raise ValueError("grid: the shared ImageGrid must show the same EvalSet")
        if background not in ("auto", True, False):
            raise ValueError(f"background: expected 'auto', True or False, got {background!r}")
        sync_limit = _check_int(sync_limit, "sync_limit", 0)
        n_labels = _check_int(n_labels, "n_labels", 0)
        n_bars = _check_int(n_bars, "n_bars", 1)
        delta = threshold_spec("ces", "delta").check(explainer.delta if delta is None else delta)
        self._evalset = evalset
        self._explainer = explainer
        self._bank = explainer.bank
        self._split = self._check_split(evalset, split)
        self._rows = (
            np.arange(evalset.n) if self._split is None else evalset.split_indices(self._split)
        )
        first = self._initial_class(class_name)
        self._check_images(evalset, explainer)

        self._background = background
        self._sync_limit = sync_limit
        self._lock = threading.RLock()
        self._generation = 0
        self._executor: ThreadPoolExecutor | None = None
        self._pending: Future | None = None
        self._cache: OrderedDict = OrderedDict()
        self._scores: ConceptScores | None = None
        self._error: str | None = None
        self._explained = np.zeros(0, dtype=np.int64)
        self._source: tuple[str, str | None] = ("class", None)
        self._selected_concept: str | None = None
        self._selected_members = np.zeros(0, dtype=np.int64)
        self._note: str | None = None
        self._coordinates: dict[str, np.ndarray] = {}
        self._positives = self._positive_examples()
        self._showing = False  # True while this view changes the grid (its selection follows)
        self._syncing = False
        self._ready = False

        self._owns_grid = grid is None
        self._grid = grid if grid is not None else ImageGrid(evalset, [], page_size=50)
        self._panel = ConceptMapPanel()
        self._panel.on_msg(self._on_panel_message)
        names = list(evalset.class_names)
        self._class_dropdown = widgets.Dropdown(
            options=[(self._class_option(c), name) for c, name in enumerate(names)],
            value=names[first],
            description="Mistakes of",
            style={"description_width": "initial"},
            layout=widgets.Layout(width="min(100%, 260px)"),
        )
        self._target_dropdown = widgets.Dropdown(
            options=[("true label of each image", TRUE_LABEL)]
            + [(name, c) for c, name in enumerate(names)],
            value=TRUE_LABEL,
            description="Probability of",
            style={"description_width": "initial"},
            layout=widgets.Layout(width="min(100%, 280px)"),
        )
        exponent = math.log10(delta)
        self._delta_slider = widgets.FloatLogSlider(
            value=delta,
            base=10,
            min=math.floor(exponent) - 3,
            max=math.ceil(exponent) + 3,
            step=0.25,
            description=threshold_spec("ces", "delta").label,
            tooltip=threshold_spec("ces", "delta").doc,
            style={"description_width": "initial"},
            readout_format=".3g",
            continuous_update=threshold_spec("ces", "delta").continuous,
            layout=widgets.Layout(width="min(100%, 300px)"),
        )
        self._direction_toggle = widgets.ToggleButtons(
            options=[("add concept", "add"), ("remove concept", "remove")],
            value="add",
            tooltips=["step toward the concept", "step away from the concept"],
            style={"button_width": "auto"},
        )
        embeddings = [("PCA", "pca")]
        if len(self._bank) >= 4:
            embeddings.append(("t-SNE", "tsne"))
        self._embedding_toggle = widgets.ToggleButtons(
            options=embeddings, value="pca", style={"button_width": "auto"}
        )
        for control, hook in (
            (self._class_dropdown, "fw-cmap-class"),
            (self._target_dropdown, "fw-cmap-target"),
            (self._delta_slider, "fw-cmap-delta"),
            (self._direction_toggle, "fw-cmap-direction"),
            (self._embedding_toggle, "fw-cmap-embedding"),
        ):
            control.add_class(hook)
        row1 = widgets.HBox([self._class_dropdown, self._target_dropdown, self._delta_slider])
        row2 = widgets.HBox([self._direction_toggle, self._embedding_toggle])
        for row in (row1, row2):
            row.layout.flex_flow = "row wrap"
        children = [row1, row2, self._panel]
        if self._owns_grid:
            children.append(self._grid)
        super().__init__(children=children, **kwargs)
        self.add_class("fw-concept-map-view")

        with self.hold_trait_notifications():
            self.delta = delta
            self.direction = direction
            self.embedding = embedding
            self.n_labels = n_labels
            self.n_bars = n_bars
            self.target = target
            self.class_name = names[first]
        self._embedding_coordinates(self.embedding)
        if indices is not None:
            self._explained = self._check_explained(indices, "indices")
            self._source = ("explicit", None)
        else:
            self._explained = self._class_mistakes()
        if self._owns_grid:
            self._show_class_images()
        self._ready = True

        # the view's (validated) traits first: the controls take their values
        traitlets.link((self, "delta"), (self._delta_slider, "value"))
        traitlets.link((self, "direction"), (self._direction_toggle, "value"))
        traitlets.link((self, "embedding"), (self._embedding_toggle, "value"))
        traitlets.link((self, "class_name"), (self._class_dropdown, "value"))
        self._target_dropdown.observe(self._on_target_dropdown, "value")
        self._grid.observe(self._on_grid_selected, "selected")
        self._request()

    # ------------------------------------------------------------------ construction helpers
    @staticmethod
    def _make_explainer(explainer, bank, transform) -> ConceptExplainer:
        if isinstance(explainer, ConceptExplainer):
            if bank is not None and bank is not explainer.bank:
                raise ValueError("bank: the explainer already has a bank; pass one or the other")
            if transform is not None:
                raise ValueError("transform: give it to the ConceptExplainer instead")
            return explainer
        from ..features.split import SplitModel

        if isinstance(explainer, SplitModel):
            if bank is None:
                raise ValueError("bank: a SplitModel needs a ConceptBank (learn_concept_bank)")
            if not isinstance(bank, ConceptBank):
                raise TypeError(f"bank: expected a ConceptBank, got {type(bank).__name__}")
            return ConceptExplainer(explainer, bank, transform=transform)
        raise TypeError(
            "explainer: expected a ConceptExplainer or a SplitModel (with bank=), "
            f"got {type(explainer).__name__}"
        )

    @staticmethod
    def _check_split(evalset: EvalSet, split) -> str | None:
        if split is None or evalset.split is None:
            return None
        if not isinstance(split, str):
            raise TypeError(f"split: expected a split name or None, got {type(split).__name__}")
        present = sorted(set(evalset.split.tolist()))
        if split not in present:
            raise ValueError(f"split: no samples in split {split!r}; splits present: {present}")
        return split

    @staticmethod
    def _check_images(evalset: EvalSet, explainer: ConceptExplainer) -> None:
        """Run one image through the bottom: wrong sizes fail here, with the bank's reason."""
        if evalset.n == 0:
            raise ValueError("evalset: has no samples")
        try:
            explainer.evalset_activations(evalset, [0])
        except ValueError as error:
            raise ValueError(f"evalset: its images do not fit the explainer: {error}") from None

    def _class_arg(self, value, name: str) -> int:
        try:
            return self._evalset.class_index(value)
        except (TypeError, ValueError) as error:
            raise type(error)(str(error).replace("cls:", f"{name}:", 1)) from None

    def _initial_class(self, class_name) -> int:
        if class_name is not None:
            return self._class_arg(class_name, "class_name")
        rows = self._rows
        mistakes = np.bincount(
            self._evalset.labels[rows][~self._evalset.correct[rows]],
            minlength=self._evalset.n_classes,
        )
        return int(np.argmax(mistakes))

    def _class_option(self, c: int) -> str:
        rows = self._rows[self._evalset.labels[self._rows] == c]
        wrong = int(np.count_nonzero(~self._evalset.correct[rows]))
        return f"{self._evalset.class_names[c]} · {wrong} mistakes / {len(rows)}"

    def _positive_examples(self) -> dict[str, np.ndarray]:
        """Concept -> EvalSet indices of its positive examples, for concepts that have them."""
        out = {}
        n = self._evalset.n
        for name in self._bank.names:
            ids = self._bank.positive_ids.get(name)
            if not ids:
                continue
            if not all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in ids):
                continue  # image paths (concepts from folders)
            rows = np.asarray(ids, dtype=np.int64)
            if rows.min() >= 0 and rows.max() < n:
                out[name] = rows
        return out

    # ------------------------------------------------------------------ public API
    @property
    def evalset(self) -> EvalSet:
        return self._evalset

    @property
    def explainer(self) -> ConceptExplainer:
        return self._explainer

    @property
    def bank(self) -> ConceptBank:
        return self._bank

    @property
    def grid(self) -> ImageGrid:
        return self._grid

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

    def set_class(self, name: str | int) -> None:
        """Explain the mistakes of class ``name`` (a name or index) in the split."""
        self.class_name = self._evalset.class_names[self._class_arg(name, "name")]

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
        pending = self._pending
        if pending is not None:
            pending.result(timeout=timeout)
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
            self._show_in_grid(
                members, title=f"Positive examples of the concept “{name}” ({len(members)})"
            )
        self._selected_members = members.copy()
        accuracy = float(self._evalset.correct[members].mean()) if len(members) else float("nan")
        mode = FailureMode(
            method=METHOD,
            class_name=self.class_name,
            description=f"positive examples of the concept {name}",
            members=members.copy(),
            accuracy=accuracy,
        )
        self._render()
        self._notify_select(mode)
        return mode

    def show_explained(self) -> None:
        """Show the explained images in the grid."""
        self._show_in_grid(self._explained, title=self._explained_text())

    def failure_modes(self) -> list[FailureMode]:
        """The explained set as one failure mode, described by its top concepts.

        CES explains mistakes rather than finding subgroups, so this is the current explained
        set (by default the class's mistakes in the split) with the current ``target``,
        ``delta`` and ``direction``; its description names the top positive concepts (the
        concepts whose addition, or removal, raises the explained probability most) and the
        top negative one; when no concept raises (or lowers) it, it says why instead
        (:meth:`ConceptScores.empty_reason`). Empty when nothing is explained or the scores
        could not be computed: the empty list's ``reason`` (shown in its repr) says which.

        Its ``rule`` (a :class:`~failwidgets.rules.ConceptRule`, when some concept raises the
        probability of the class itself) re-applies the explanation: the class's images
        without the top concept (with it, for ``direction="remove"``); on other rows it
        measures whether the explanation holds there (:func:`failwidgets.rules.heldout`).
        """
        from ..rules import ConceptRule

        self.wait()
        scores = self._scores
        members = self._explained
        if scores is None or len(members) == 0:
            return answer_list([], self._no_scores_reason)
        labels = self._evalset.labels[members]
        if np.all(labels == labels[0]):
            class_name = self._evalset.class_names[int(labels[0])]
        else:
            class_name = self.class_name
        verb = "adding" if self.direction == "add" else "removing"
        positive = scores.top_positive(DESCRIPTION_CONCEPTS)
        negative = scores.top_negative(1)
        if positive:
            names = ", ".join(name for name, _ in positive)
            description = f"{verb} {names} raises {self._target_text()} most"
        else:
            description = str(positive.reason)  # "no concept raises p(...) ...: why"
        if negative:
            description += f"; {negative[0][0]} lowers it most"
        elif positive:  # (both empty: every score is 0, and one reason covers both)
            description += f"; {negative.reason}"
        description = f"{self._explained_text()}: {description}"
        rule = None
        if positive and self.target in (None, class_name):  # explains p(the class): re-apply
            # it as the class's images without (for "remove": with) the top concept
            rule = ConceptRule.from_explainer(
                self._explainer, positive[0][0], class_name, self.direction
            )
        return [
            FailureMode.from_members(
                METHOD,
                class_name,
                description,
                members.copy(),
                self._evalset,
                reference_indices=self._rows,
                grouping="label",
                rule=rule,
            )
        ]

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
        grid = getattr(self, "_grid", None)  # also called by __del__ after a failed __init__
        if grid is not None:
            try:
                grid.unobserve(self._on_grid_selected, "selected")
            except ValueError:
                pass
        lock = getattr(self, "_lock", None)
        if lock is not None:
            with lock:
                self._generation += 1  # whatever is still running is stale now
        executor = getattr(self, "_executor", None)
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
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

    @validator("class_name")
    def _valid_class_name(self, proposal):
        value = proposal["value"]
        if not isinstance(value, str):
            raise TypeError(f"class_name: expected a class name, got {type(value).__name__}")
        if value not in self._evalset.class_names:
            raise ValueError(
                f"class_name: unknown class {value!r}; known: {self._evalset.class_names[:10]}"
            )
        return value

    @validator("target")
    def _valid_target(self, proposal):
        value = proposal["value"]
        if value is None:
            return None
        return self._evalset.class_names[self._class_arg(value, "target")]

    @validator("delta")
    def _valid_delta(self, proposal):
        return threshold_spec("ces", "delta").check(proposal["value"])

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

    @validator("n_labels")
    def _valid_n_labels(self, proposal):
        return _check_int(proposal["value"], "n_labels", 0)

    @validator("n_bars")
    def _valid_n_bars(self, proposal):
        return _check_int(proposal["value"], "n_bars", 1)

    # ------------------------------------------------------------------ reactions
    @traitlets.observe("class_name")
    def _on_class_name(self, change):
        if not self._ready:
            return
        self._explained = self._class_mistakes()
        self._source = ("class", None)
        if self._owns_grid:
            self._show_class_images()
        self._request()

    @traitlets.observe("target")
    def _on_target(self, change):
        self._syncing = True
        try:
            value = change["new"]
            self._target_dropdown.value = (
                TRUE_LABEL if value is None else self._evalset.class_names.index(value)
            )
        finally:
            self._syncing = False
        if self._ready:
            self._request()

    @traitlets.observe("delta")
    def _on_delta(self, change):
        exponent = math.log10(change["new"])
        slider = self._delta_slider
        if exponent < slider.min:
            slider.min = math.floor(exponent)
        if exponent > slider.max:
            slider.max = math.ceil(exponent)
        if self._ready:
            self._request()

    @traitlets.observe("direction")
    def _on_direction(self, change):
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
                self._panel.busy = self._pending is not None and not self._pending.done()

    @traitlets.observe("n_labels", "n_bars")
    def _on_counts(self, change):
        if self._ready:
            self._render()

    def _on_target_dropdown(self, change):
        if self._syncing:
            return
        value = change["new"]
        self.target = None if value == TRUE_LABEL else self._evalset.class_names[value]

    def _on_grid_selected(self, change):
        if self._showing:
            return  # this view changed the grid; the selection only followed
        selected = np.asarray(change["new"], dtype=np.int64)
        if len(selected):
            self._explained = selected
            self._source = ("selection", None)
        else:
            self._explained = self._class_mistakes()
            self._source = ("class", None)
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
    def _class_mistakes(self) -> np.ndarray:
        c = self._evalset.class_names.index(self.class_name)
        rows = self._rows
        return rows[(self._evalset.labels[rows] == c) & ~self._evalset.correct[rows]]

    def _show_in_grid(self, indices, title: str) -> None:
        self._showing = True
        try:
            self._grid.show(indices, title=title)
        finally:
            self._showing = False

    def _show_class_images(self) -> None:
        c = self._evalset.class_names.index(self.class_name)
        rows = self._rows[self._evalset.labels[self._rows] == c]
        wrong = ~self._evalset.correct[rows]
        ordered = np.concatenate([rows[wrong], rows[~wrong]])
        where = f"{self._split} images" if self._split else "images"
        self._show_in_grid(
            ordered,
            title=(
                f"{self.class_name}: {len(rows)} {where}, the {int(wrong.sum())} mistakes first "
                "· select images to explain them"
            ),
        )

    # ------------------------------------------------------------------ computation
    def _request_key(self):
        idx = self._explained
        target = None if self.target is None else self._evalset.class_index(self.target)
        return (idx.tobytes(), target, float(self.delta), self.direction)

    def _request(self) -> None:
        """Recompute the scores for the current explained set and settings (the latest wins)."""
        with self._lock:
            self._generation += 1
            generation = self._generation
            if len(self._explained) == 0:
                self._apply(None, None)
                return
            key = self._request_key()
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                self._apply(cached, None)
                return
            explained = self._explained.copy()
            in_flight = self._pending is not None and not self._pending.done()
            cost = len(explained) * len(self._bank)
            background = self._background is True or (
                self._background == "auto" and (cost > self._sync_limit or in_flight)
            )
            self._panel.busy = True
            if background:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(
                        max_workers=1, thread_name_prefix="fw-concept-map"
                    )
                self._pending = self._executor.submit(
                    self._compute_latest, generation, key, explained
                )
                return
        try:
            scores = self._compute(key, explained)
        except Exception as error:
            self._finish(generation, key, None, f"{type(error).__name__}: {error}")
            raise
        self._finish(generation, key, scores, None)

    def _compute(self, key, explained: np.ndarray) -> ConceptScores:
        _, target, delta, direction = key
        return self._explainer.explain_evalset(
            self._evalset, explained, target=target, delta=delta, direction=direction
        )

    def _compute_latest(self, generation: int, key, explained: np.ndarray) -> None:
        """Worker thread: compute unless a newer request came in meanwhile."""
        if generation != self._generation:
            return  # stale before it started: the newer request has its own job queued
        try:
            scores, error = self._compute(key, explained), None
        except Exception as exc:  # shown in the map; the kernel keeps running
            scores, error = None, f"{type(exc).__name__}: {exc}"
        self._finish(generation, key, scores, error)

    def _finish(self, generation: int, key, scores, error) -> None:
        with self._lock:
            if scores is not None:
                self._cache[key] = scores
                while len(self._cache) > CACHE_SIZE:
                    self._cache.popitem(last=False)
            if generation != self._generation:
                return  # a newer request is running or done: never show a stale result
            self._apply(scores, error)

    def _apply(self, scores, error) -> None:
        self._scores = scores
        self._error = error
        with self._panel.hold_sync():
            self._render()
            self._panel.busy = False

    # ------------------------------------------------------------------ drawing
    def _embedding_coordinates(self, method: str) -> np.ndarray:
        if method not in self._coordinates:
            self._coordinates[method] = embed_concepts(self._bank, method)
        return self._coordinates[method]

    def _target_text(self) -> str:
        return "p(true label)" if self.target is None else f"p({self.target})"

    def _explained_text(self) -> str:
        n = len(self._explained)
        images = "image" if n == 1 else "images"
        kind, title = self._source
        if kind == "selection":
            return f"{n} {images} selected in the grid"
        if kind == "explicit":
            return title if title else f"{n} chosen {images}"
        where = f" {self._split}" if self._split else ""
        mistakes = "mistake" if n == 1 else "mistakes"
        return f"{n}{where} {mistakes} of {self.class_name}"

    def _legend(self) -> dict:
        verb = "Adding" if self.direction == "add" else "Removing"
        target = self._target_text()
        return {
            "positive": f"{verb} it raises {target}",
            "negative": f"{verb} it lowers {target}",
        }

    def _layout(self) -> np.ndarray:
        """Coordinates scaled into [0, 1] with one scale for both axes (distances kept)."""
        xy = self._embedding_coordinates(self.embedding).astype(np.float64)
        low, high = xy.min(axis=0), xy.max(axis=0)
        span = float(np.max(high - low))
        if not span > 0:
            return np.full_like(xy, 0.5)
        return (xy - (low + high) / 2) / span + 0.5

    def view_model(self) -> dict:
        """The JSON the panel draws (also handy to inspect the view's state).

        ``positive`` / ``negative`` are the bar lists; when one is empty although there are
        scores, ``empty_reasons[side]`` says why (:meth:`ConceptScores.empty_reason`), shown
        where its bars would be.
        """
        bank, scores = self._bank, self._scores
        layout = self._layout()
        accuracy = np.asarray(bank.val_accuracy, dtype=float)
        n_images = len(self._explained)
        labelled, positive, negative = set(), [], []
        rank = {}
        empty_reasons = {"positive": None, "negative": None}
        if scores is not None:
            empty_reasons = {side: scores.empty_reason(side) for side in empty_reasons}
            order = scores.order()
            rank = {int(i): r for r, i in enumerate(order)}
            top_pos = [i for i in order if scores.scores[i] > 0]
            top_neg = [i for i in order[::-1] if scores.scores[i] < 0]
            labelled = {int(i) for i in top_pos[: self.n_labels] + top_neg[: self.n_labels]}
            positive = [self._bar(int(i)) for i in top_pos[: self.n_bars]]
            negative = [self._bar(int(i)) for i in top_neg[: self.n_bars]]
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
            message = (
                f"{self.class_name} has no mistakes"
                + (f" in the {self._split} split" if self._split else "")
                + ": select images in the grid to explain them."
            )
        selected = None
        if self._selected_concept is not None:
            selected = bank.names.index(self._selected_concept)
        return {
            "generation": self._generation,
            "class_name": self.class_name,
            "explained_text": self._explained_text(),
            "n_explained": n_images,
            "target_text": self._target_text(),
            "direction": self.direction,
            "delta_text": format_score(float(self.delta)),
            "embedding": self.embedding,
            "embedding_text": EMBEDDINGS[self.embedding],
            "has_scores": scores is not None,
            "concepts": concepts,
            "positive": positive,
            "negative": negative,
            "empty_reasons": empty_reasons,
            "legend": self._legend(),
            "selected": selected,
            "message": message,
            "note": self._note,
        }

    def _bar(self, i: int) -> dict:
        scores = self._scores
        value = float(scores.scores[i])
        return {
            "index": i,
            "name": self._bank.names[i],
            "score": value if math.isfinite(value) else 0.0,
            "score_text": _signed(value),
            "val_accuracy_text": _percent(float(self._bank.val_accuracy[i])),
        }

    def _render(self) -> None:
        self._panel.view_model = self.view_model()
