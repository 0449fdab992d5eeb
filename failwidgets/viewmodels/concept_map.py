"""What the concept map (:class:`~failwidgets.widgets.concept_map.ConceptMapView`) shows.

No widgets here:

- :class:`ConceptMapState`: what the map shows (the explained set, its latest
  :class:`~failwidgets.methods.ces.ConceptExplanation` or why there is none, the explanations
  computed so far, the clicked concept, the map coordinates) and its view model; the view
  holds one and changes it from its traits, its grid and the drawing's messages;
- :class:`ExplainedSet`: the explained images and where they came from (a class's mistakes,
  the grid's selection, or a set given by the caller), and its name in words;
- :func:`concept_map_view_model`: the JSON the map draws (one entry per concept, the two ranked
  bar lists, legend, header texts) from the bank, the map coordinates and the scores;
- the texts of the controls, the grid titles and the empty states;
- :func:`unit_square`: map coordinates scaled into the drawing's [0, 1]² square.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Container, Sequence
from dataclasses import dataclass

import numpy as np

from ..data import EvalSet
from ..methods.ces import (
    ConceptBank,
    ConceptExplainer,
    ConceptExplanation,
    ConceptScores,
    check_explained,
    class_images_mistakes_first,
    class_mistakes,
    concept_examples_mode,
    embed_concepts,
    mistakes_per_class,
    target_text,
)
from ..text import percent

__all__ = [
    "DIRECTIONS",
    "DIRECTION_OPTIONS",
    "DIRECTION_TOOLTIPS",
    "EMBEDDINGS",
    "SOURCES",
    "TRUE_LABEL",
    "ConceptMapState",
    "ExplainedSet",
    "check_setting",
    "class_images_title",
    "class_options",
    "embedding_options",
    "concept_map_view_model",
    "examples_title",
    "failed_text",
    "no_examples_note",
    "no_scores_reason",
    "signed_text",
    "target_options",
    "unit_square",
]

DIRECTIONS = ("add", "remove")
EMBEDDINGS = {"pca": "PCA", "tsne": "t-SNE"}
"""Map embeddings of the CAVs: key -> name shown."""
SOURCES = ("class", "selection", "explicit")
"""Where an explained set comes from: a class's mistakes, the grid's selection, a caller."""
TRUE_LABEL = -1
"""The target dropdown's value for "each image's true label"."""
DIRECTION_OPTIONS = [("add concept", "add"), ("remove concept", "remove")]
DIRECTION_TOOLTIPS = ["step toward the concept", "step away from the concept"]


@dataclass(frozen=True)
class ExplainedSet:
    """The explained images (EvalSet indices) and where they came from.

    ``source`` is one of :data:`SOURCES`; ``title`` names an ``"explicit"`` set (e.g. "a
    failure mode from PRIME"; None: "<n> chosen images").
    """

    indices: np.ndarray
    source: str = "class"
    title: str | None = None

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"source: expected one of {SOURCES}, got {self.source!r}")

    def __len__(self) -> int:
        return len(self.indices)

    def text(self, class_name: str, split: str | None) -> str:
        """The set in words: "12 test mistakes of cat", "3 images selected in the grid"…"""
        n = len(self.indices)
        images = "image" if n == 1 else "images"
        if self.source == "selection":
            return f"{n} {images} selected in the grid"
        if self.source == "explicit":
            return self.title if self.title else f"{n} chosen {images}"
        where = f" {split}" if split else ""
        return f"{n}{where} {'mistake' if n == 1 else 'mistakes'} of {class_name}"


def check_setting(name: str, value, n_concepts: int) -> str:
    """A map setting checked: ``direction`` ("add" / "remove") or ``embedding`` ("pca" /
    "tsne", which needs at least 4 concepts); ValueError naming it otherwise."""
    if name == "direction" and value not in DIRECTIONS:
        raise ValueError(f"direction: expected 'add' or 'remove', got {value!r}")
    if name == "embedding":
        if value not in EMBEDDINGS:
            raise ValueError(f"embedding: expected 'pca' or 'tsne', got {value!r}")
        if value == "tsne" and n_concepts < 4:
            raise ValueError(
                f"embedding: t-SNE needs at least 4 concepts, the bank has {n_concepts}"
            )
    return value


# ---------------------------------------------------------------------- texts
def signed_text(value: float) -> str:
    """A score with its sign, 3 significant digits ("+0.52", "-1", "0"); "—" for NaN and
    "∞"/"−∞" for infinities."""
    value = float(value)
    if math.isnan(value):
        return "—"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return f"{value:+.3g}" if value else "0"


def class_options(
    class_names: Sequence[str], mistakes: Sequence[int], images: Sequence[int]
) -> list[tuple[str, str]]:
    """``(label, name)`` options of the class dropdown: "cat · 12 mistakes / 200"."""
    return [
        (f"{name} · {int(mistakes[c])} mistakes / {int(images[c])}", name)
        for c, name in enumerate(class_names)
    ]


def embedding_options(n_concepts: int) -> list[tuple[str, str]]:
    """``(label, key)`` options of the embedding toggle (t-SNE needs at least 4 concepts)."""
    return [("PCA", "pca")] + ([("t-SNE", "tsne")] if n_concepts >= 4 else [])


def target_options(class_names: Sequence[str]) -> list[tuple[str, int]]:
    """``(label, value)`` options of the target dropdown: the true label
    (:data:`TRUE_LABEL`), then each class by index."""
    return [("true label of each image", TRUE_LABEL)] + [
        (name, c) for c, name in enumerate(class_names)
    ]


def class_images_title(class_name: str, n_images: int, n_mistakes: int, split: str | None) -> str:
    """The grid title over a class's images, mistakes first."""
    where = f"{split} images" if split else "images"
    return (
        f"{class_name}: {n_images} {where}, the {n_mistakes} mistakes first · "
        "select images to explain them"
    )


def examples_title(concept: str, n: int) -> str:
    """The grid title over a concept's positive examples."""
    return f"Positive examples of the concept “{concept}” ({n})"


def no_examples_note(concept: str) -> str:
    """The map's note when a concept's examples are image files, not EvalSet samples."""
    return (
        f"The positive examples of {concept!r} are not samples of this EvalSet "
        "(image files), so they cannot be shown in the grid."
    )


def failed_text(error: str) -> str:
    """The status line and map message of a failed computation."""
    return f"Could not compute the scores: {error}"


def no_scores_reason(
    error: str | None, n_explained: int, class_name: str, split: str | None
) -> str:
    """Why a view has no failure modes: the computation failed, nothing is explained (the
    class has no mistakes), or the scores are still being computed."""
    if error:
        return f"the scores could not be computed: {error}"
    if n_explained == 0:
        where = f" in the {split} split" if split else ""
        return (
            f"nothing is explained: {class_name} has no mistakes{where}; select images "
            "in the grid or call explain(indices)"
        )
    return "the scores are not computed yet (see wait())"


def _map_message(error: str | None, n_explained: int, class_name: str, split: str | None):
    if error:
        return failed_text(error)
    if n_explained == 0:
        where = f" in the {split} split" if split else ""
        return f"{class_name} has no mistakes{where}: select images in the grid to explain them."
    return None


# ---------------------------------------------------------------------- map
def unit_square(xy: np.ndarray) -> np.ndarray:
    """Map coordinates ``(C, 2)`` scaled into [0, 1]², one scale for both axes (distances
    kept), centred; every point at 0.5 when they all coincide."""
    xy = np.asarray(xy, dtype=np.float64)
    if len(xy) == 0:
        return xy.reshape(0, 2)
    low, high = xy.min(axis=0), xy.max(axis=0)
    span = float(np.max(high - low))
    if not span > 0:
        return np.full_like(xy, 0.5)
    return (xy - (low + high) / 2) / span + 0.5


def _finite_or(value: float, missing):
    value = float(value)
    return value if math.isfinite(value) else missing


def _bar(bank: ConceptBank, scores: ConceptScores, i: int) -> dict:
    value = float(scores.scores[i])
    return {
        "index": i,
        "name": bank.names[i],
        "score": _finite_or(value, 0.0),
        "score_text": signed_text(value),
        "val_accuracy_text": percent(float(bank.val_accuracy[i]), digits=0),
    }


def _concept_rows(
    bank: ConceptBank,
    layout: np.ndarray,
    scores: ConceptScores | None,
    n_explained: int,
    labelled: set[int],
    examples: Container[str],
) -> list[dict]:
    rank = {} if scores is None else {int(i): r for r, i in enumerate(scores.order())}
    rows = []
    for i, name in enumerate(bank.names):
        row = {
            "index": i,
            "name": name,
            "x": float(layout[i, 0]),
            "y": float(layout[i, 1]),
            "score": None,
            "score_text": "—",
            "mean_change_text": "—",
            "val_accuracy_text": percent(float(bank.val_accuracy[i]), digits=0),
            "rank": rank.get(i),
            "labelled": i in labelled,
            "has_examples": name in examples,
        }
        if scores is not None:
            value = float(scores.scores[i])
            row["score"] = _finite_or(value, None)
            row["score_text"] = signed_text(value)
            row["mean_change_text"] = signed_text(float(scores.raw[i]) / max(1, n_explained))
        rows.append(row)
    return rows


def concept_map_view_model(
    bank: ConceptBank,
    coordinates: np.ndarray,
    scores: ConceptScores | None,
    *,
    explained: ExplainedSet,
    class_name: str,
    split: str | None,
    target: str | None,
    direction: str,
    delta: float,
    embedding: str,
    n_labels: int,
    n_bars: int,
    examples: Container[str] = (),
    selected: str | None = None,
    error: str | None = None,
    note: str | None = None,
    generation: int = 0,
) -> dict:
    """The JSON the concept map draws (js/src/concept_map.js).

    Parameters
    ----------
    bank : ConceptBank
    coordinates : array (C, 2)
        Map coordinates of the concepts in ``bank.names`` order (scaled by :func:`unit_square`).
    scores : ConceptScores or None
        The explained set's CES (None while there are none).
    explained : ExplainedSet
    class_name, split : the view's class and split (they name the default explained set).
    target, direction, delta, embedding : the view's settings, shown in the header.
    n_labels, n_bars : labelled points and bars on each side (top positive and negative).
    examples : concepts whose positive examples are EvalSet samples (clickable).
    selected : the clicked concept, if any.
    error : why the scores could not be computed, if they could not.
    note : a line shown under the map (e.g. :func:`no_examples_note`).
    generation : a number that grows with each request (the drawing drops older models).

    Returns
    -------
    dict with ``concepts`` (one per concept: ``index``, ``name``, ``x``, ``y``, ``score``,
    ``score_text``, ``mean_change_text``, ``val_accuracy_text``, ``rank``, ``labelled``,
    ``has_examples``), ``positive`` / ``negative`` (the bar lists) and, when one is empty
    although there are scores, ``empty_reasons[side]`` (:meth:`ConceptScores.empty_reason`),
    the header texts, ``legend``, ``selected`` (a concept index or None), ``message`` and
    ``note``.
    """
    n_explained = len(explained)
    labelled: set[int] = set()
    positive, negative = [], []
    empty_reasons = {"positive": None, "negative": None}
    if scores is not None:
        empty_reasons = {side: scores.empty_reason(side) for side in empty_reasons}
        top_pos, top_neg = scores.sides()
        labelled = set(top_pos[:n_labels] + top_neg[:n_labels])
        positive = [_bar(bank, scores, i) for i in top_pos[:n_bars]]
        negative = [_bar(bank, scores, i) for i in top_neg[:n_bars]]
    verb = "Adding" if direction == "add" else "Removing"
    target_name = target_text(target)
    layout = unit_square(coordinates)
    return {
        "generation": generation,
        "class_name": class_name,
        "explained_text": explained.text(class_name, split),
        "n_explained": n_explained,
        "target_text": target_name,
        "direction": direction,
        "delta_text": f"{float(delta):.3g}",
        "embedding": embedding,
        "embedding_text": EMBEDDINGS[embedding],
        "has_scores": scores is not None,
        "concepts": _concept_rows(bank, layout, scores, n_explained, labelled, examples),
        "positive": positive,
        "negative": negative,
        "empty_reasons": empty_reasons,
        "legend": {
            "positive": f"{verb} it raises {target_name}",
            "negative": f"{verb} it lowers {target_name}",
        },
        "selected": None if selected is None else bank.names.index(selected),
        "message": _map_message(error, n_explained, class_name, split),
        "note": note,
    }


# ---------------------------------------------------------------------- state
class ConceptMapState:
    """What a concept map shows, kept without widgets.

    - ``explained``: the :class:`ExplainedSet` (by default a class's mistakes among ``rows``);
    - ``explanation``: its latest :class:`~failwidgets.methods.ces.ConceptExplanation`, or
      None with ``error`` saying why when the computation failed; the last ``cache_size``
      explanations are kept, so that going back to a setting is instant;
    - ``concept``, ``concept_members``, ``note``: the clicked concept, its positive examples
      (EvalSet indices) and a note when they are image files;
    - ``generation``: requests so far (the drawing drops older view models).

    :class:`~failwidgets.widgets.concept_map.ConceptMapView` holds one: it changes it from its
    traits, grid and messages, runs :meth:`compute` on its worker and draws :meth:`view_model`.

    Parameters
    ----------
    explainer : ConceptExplainer
    evalset : EvalSet
    split : str or None
        The analysed split: where a class's mistakes are taken from, and the rows a failure
        mode's drop is measured on (``rows``). None, or an EvalSet without splits: every
        sample (``split`` is then None).
    cache_size : int
        Explanations kept.
    """

    def __init__(
        self,
        explainer: ConceptExplainer,
        evalset: EvalSet,
        split: str | None = None,
        cache_size: int = 32,
    ) -> None:
        self.explainer, self.evalset = explainer, evalset
        self.split = None if split is None or evalset.split is None else split
        self.rows = np.arange(evalset.n) if self.split is None else evalset.split_indices(split)
        self.examples = explainer.evalset_examples(evalset)
        self.explained = ExplainedSet(np.zeros(0, dtype=np.int64))
        self.explanation: ConceptExplanation | None = None
        self.error: str | None = None
        self.concept: str | None = None
        self.concept_members = np.zeros(0, dtype=np.int64)
        self.note: str | None = None
        self.generation = 0
        self._coordinates: dict[str, np.ndarray] = {}
        self._cache: OrderedDict = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()  # the cache is filled on the view's worker thread

    @property
    def bank(self) -> ConceptBank:
        return self.explainer.bank

    # ------------------------------------------------------------------ classes
    def most_mistaken_class(self) -> int:
        """The class with most mistakes among the rows (the one explained first)."""
        return int(np.argmax(mistakes_per_class(self.evalset, self.rows)[0]))

    def class_options(self) -> list[tuple[str, str]]:
        """The class dropdown's options, with each class's mistakes among the rows."""
        names = list(self.evalset.class_names)
        return class_options(names, *mistakes_per_class(self.evalset, self.rows))

    def class_images(self, class_name: str) -> tuple[np.ndarray, str]:
        """``(indices, title)``: the class's images among the rows, mistakes first, and the
        grid's title over them."""
        rows, wrong = class_images_mistakes_first(self.evalset, class_name, self.rows)
        return rows, class_images_title(class_name, len(rows), wrong, self.split)

    # ------------------------------------------------------------------ explained set
    def explain_class(self, class_name: str) -> None:
        """Explain the mistakes of ``class_name`` among the rows."""
        mistakes = class_mistakes(self.evalset, class_name, self.rows)
        self.explained = ExplainedSet(mistakes, "class")

    def explain_selection(self, indices, class_name: str) -> None:
        """Explain the images selected in the grid (none selected: the class's mistakes)."""
        selected = np.asarray(indices, dtype=np.int64)
        if len(selected):
            self.explained = ExplainedSet(selected, "selection")
        else:
            self.explain_class(class_name)

    def explain_indices(self, indices, title: str | None = None) -> None:
        """Explain ``indices`` (checked: at least one valid EvalSet index), named ``title``."""
        if title is not None and not isinstance(title, str):
            raise TypeError(f"title: expected a string, got {type(title).__name__}")
        self.explained = ExplainedSet(check_explained(self.evalset, indices), "explicit", title)

    # ------------------------------------------------------------------ explanations
    def request(self, class_name: str, *, target, direction: str, delta: float) -> dict | None:
        """Count a new request; the arguments of
        :meth:`~failwidgets.methods.ces.ConceptExplainer.explain_images` for the explained
        set with these settings, or None when nothing is explained."""
        self.generation += 1
        if len(self.explained) == 0:
            return None
        return dict(
            indices=self.explained.indices.copy(),
            target=target,
            direction=direction,
            delta=float(delta),
            title=self.explained.text(class_name, self.split),
        )

    @staticmethod
    def _key(request: dict) -> tuple:
        return (request["indices"].tobytes(), *(v for k, v in request.items() if k != "indices"))

    def cached(self, request: dict) -> ConceptExplanation | None:
        """The kept explanation of ``request``, if any."""
        with self._lock:
            explanation = self._cache.get(self._key(request))
            if explanation is not None:
                self._cache.move_to_end(self._key(request))
            return explanation

    def cost(self, request: dict) -> int:
        """``n_images * n_concepts`` of a request (what decides whether it runs in the
        background)."""
        return len(request["indices"]) * len(self.bank)

    def compute(self, request: dict) -> ConceptExplanation:
        """The explanation of ``request`` (computed, then kept); safe on a worker thread."""
        explanation = self.explainer.explain_images(
            self.evalset, **request, reference_indices=self.rows
        )
        with self._lock:
            self._cache[self._key(request)] = explanation
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return explanation

    def finish(self, explanation: ConceptExplanation | None, error: str | None) -> None:
        """The latest request's answer: an explanation, or None with the ``error`` (or
        nothing explained)."""
        self.explanation, self.error = explanation, error

    def no_scores_reason(self, class_name: str) -> str:
        """Why there is no explanation (:func:`no_scores_reason`)."""
        return no_scores_reason(self.error, len(self.explained), class_name, self.split)

    # ------------------------------------------------------------------ concepts
    def select_concept(self, name: str, class_name: str):
        """Click concept ``name``: its positive examples become ``concept_members``.

        Returns ``(mode, shown)``: the selection as a FailureMode
        (:func:`~failwidgets.methods.ces.concept_examples_mode`) and the examples to show in
        the grid, None (with a ``note``) when they are image files, not EvalSet samples.
        """
        if not isinstance(name, str):
            raise TypeError(f"name: expected a concept name, got {type(name).__name__}")
        self.bank.index(name)  # unknown names raise
        self.concept = name
        members = self.examples.get(name)
        self.note = no_examples_note(name) if members is None else None
        self.concept_members = np.zeros(0, dtype=np.int64) if members is None else members.copy()
        mode = concept_examples_mode(self.evalset, name, self.concept_members, class_name)
        return mode, None if members is None else self.concept_members.copy()

    def coordinates(self, embedding: str) -> np.ndarray:
        """The concepts' map coordinates (C, 2) for ``embedding`` (computed once each)."""
        if embedding not in self._coordinates:
            self._coordinates[embedding] = embed_concepts(self.bank, embedding)
        return self._coordinates[embedding]

    def view_model(self, class_name: str, **settings) -> dict:
        """:func:`concept_map_view_model` of this state; ``settings``: ``target``,
        ``direction``, ``delta``, ``embedding``, ``n_labels``, ``n_bars``."""
        return concept_map_view_model(
            self.bank,
            self.coordinates(settings["embedding"]),
            None if self.explanation is None else self.explanation.scores,
            explained=self.explained,
            class_name=class_name,
            split=self.split,
            examples=self.examples,
            selected=self.concept,
            error=self.error,
            note=self.note,
            generation=self.generation,
            **settings,
        )
