"""``Explorer.from_evalset``: every method that a user's assets allow, in one call.

Each method needs some assets; precomputed arrays stand in for the models that would compute
them, and a fitted result stands in for everything:

========== ================================================================================
method     what it needs (first match wins)
========== ================================================================================
barlow     a ``BarlowResult``/``BarlowSurvey`` in ``results`` (shown unchanged; other classes
           fitted from features when given); ``features`` (N, D); or ``robust_model``
prime      a :class:`~failwidgets.methods.prime.PrimeResult` in ``results``; ``tags``;
           ``tagger`` (``.tag(evalset)``); ``clip`` (zero-shot tags); or tag-like metadata
ces        a ``ConceptExplainer`` (``concepts`` or ``results``); or ``classifier`` with
           ``concepts`` (a ``ConceptBank`` or ``ConceptSet``) or tag-like metadata
directions a ``FailureDirectionsResult`` in ``results``; or ``embeddings`` (N, D) or ``clip``
           (a ``ClipEncoder`` or open_clip's ``(model, preprocess, tokenizer)``); a split column
defuse     a fitted ``Defuse`` in ``results`` with ``classifier`` and ``vae``; or ``classifier``
           and ``vae``
========== ================================================================================

A method whose assets are missing is not built: the Explorer shows one line saying what to
pass (:attr:`Explorer.unavailable`). Every method analyses only the rows of ``split`` (None:
all rows) and the Explorer re-applies failure modes on ``heldout_split`` where it can.

Label noise: ``label_issues=`` (a :class:`~failwidgets.label_noise.LabelIssues`, a boolean
mask or the flagged indices) badges the flagged samples "label?" in the shared grid, and
``exclude_label_issues=`` (True, or some of :data:`LABEL_ISSUE_METHODS`) leaves them out of
those methods' failure-mode search, so that no mode is built from likely label errors.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data import EvalSet
from .features.cache import cache_directory, digest, state_digest
from .widgets.build_progress import BuildProgress

__all__ = [
    "ALL_METHODS",
    "DEMO_METHODS",
    "FromAssets",
    "LABEL_ISSUE_METHODS",
    "ViewUnavailable",
    "build_from_evalset",
]

ALL_METHODS = ("barlow", "prime", "ces", "directions", "defuse")
DEMO_METHODS = ("barlow", "prime", "ces", "directions")  # Defuse is slow: opt in
#: Methods that can leave samples flagged as likely label errors out of their search.
LABEL_ISSUE_METHODS = ("barlow", "prime", "defuse")


class ViewUnavailable(Exception):
    """Raised by a view factory to leave its view out; the message says why (and what to
    pass), and the Explorer shows it."""


@dataclass(frozen=True)
class _Plan:
    """How one method is built: ``make(grid) -> view``, or why it cannot be."""

    make: Callable | None = None
    missing: str | None = None


class _Assets:
    """The user's assets, validated once, with the derived ones computed lazily (and cached)."""

    def __init__(self, evalset: EvalSet, *, split, heldout_split, cache, progress, **assets):
        self.evalset = evalset
        self.split = split
        self.heldout_split = heldout_split
        self.cache = cache
        self.progress = progress
        self.__dict__.update(assets)
        self.results = _results_by_method(assets.get("results"))
        self.label_flags: np.ndarray | None = None  # see _check_label_issues
        self.excluding: frozenset[str] = frozenset()
        self._encoder = None
        if self.clip is not None:
            self.encoder()  # a bad clip= raises now

    # ------------------------------------------------------------------ rows
    def rows(self) -> np.ndarray | None:
        """The rows every method analyses (None: all)."""
        return None if self.split is None else self.evalset.split_indices(self.split)

    def search_rows(self, method: str) -> np.ndarray | None:
        """The rows ``method`` searches for failure modes: :meth:`rows`, less the samples
        flagged as likely label errors when ``method`` excludes them."""
        rows = self.rows()
        if method not in self.excluding:
            return rows
        rows = np.arange(self.evalset.n) if rows is None else rows
        return rows[~self.label_flags[rows]]

    def example_rows(self) -> np.ndarray:
        """Rows that may serve as concept examples: ``train`` when there is such a split
        (other than ``split``), else every row outside ``heldout_split``."""
        split = self.evalset.split
        if split is None:
            return np.arange(self.evalset.n)
        if self.split != "train" and np.any(split == "train"):
            return np.flatnonzero(split == "train")
        if self.heldout_split is not None:
            return np.flatnonzero(split != self.heldout_split)
        return np.arange(self.evalset.n)

    # ------------------------------------------------------------------ encoders
    def encoder(self):
        """``clip`` as a ClipEncoder (built once from open_clip's triple)."""
        if self._encoder is None:
            from .features.clip import ClipEncoder

            clip = self.clip
            if isinstance(clip, ClipEncoder):
                self._encoder = clip
            elif isinstance(clip, (tuple, list)) and len(clip) == 3:
                model, preprocess, tokenizer = clip
                self._encoder = ClipEncoder(
                    model, preprocess, tokenizer, cache_dir=self.cache / "clip", progress=False
                )
            else:
                raise TypeError(
                    "clip: expected a ClipEncoder or open_clip's (model, preprocess, tokenizer), "
                    f"got {type(clip).__name__}"
                )
        return self._encoder


def _results_by_method(results) -> dict:
    """Fitted results keyed by the method they belong to (by type)."""
    if results is None:
        return {}
    if isinstance(results, Mapping):
        items = list(results.values())
    elif isinstance(results, (list, tuple)):
        items = list(results)
    else:
        items = [results]
    kinds = {
        "BarlowResult": "barlow",
        "BarlowSurvey": "barlow",
        "PrimeResult": "prime",
        "Prime": "prime",
        "ConceptExplainer": "ces",
        "FailureDirectionsResult": "directions",
        "Defuse": "defuse",
    }
    found: dict = {}
    for item in items:
        method = next((kinds[t.__name__] for t in type(item).__mro__ if t.__name__ in kinds), None)
        if method is None:
            raise TypeError(
                f"results: {type(item).__name__} is not a fitted result of a method; expected "
                "one of " + ", ".join(sorted(kinds))
            )
        if method in found:
            raise ValueError(f"results: two results for {method}")
        found[method] = item
    return found


def _check_rows_array(value, name: str, n: int) -> np.ndarray:
    array = np.asarray(value)
    if array.ndim != 2 or array.shape[0] != n:
        raise ValueError(f"{name}: expected an (N, D) array with N = {n} rows, got {array.shape}")
    if not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"{name}: expected numbers, got dtype {array.dtype}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: contains NaN or infinite values")
    return array


# ---------------------------------------------------------------------- one plan per method
def _plan_barlow(a: _Assets, options: dict) -> _Plan:
    given = a.results.get("barlow")  # a BarlowResult or BarlowSurvey: shown unchanged
    if given is None and a.features is None and a.robust_model is None:
        return _Plan(missing="pass features= (N, D robust-model features) or robust_model=")
    features = (
        None if a.features is None else _check_rows_array(a.features, "features", a.evalset.n)
    )
    fit = dict(options.pop("fit", {}))  # model_features settings, e.g. input_size=224

    def make(grid):
        from .widgets.tree import TreeView

        nonlocal features
        if features is None and a.robust_model is not None:
            from .features.model_features import model_features

            features = model_features(a.robust_model, a.evalset, cache_dir=a.cache, **fit)
        kwargs = {"model": _feature_map_model(a.robust_model), **options}
        if a.split is not None:
            kwargs.setdefault("split", a.split)
        if "barlow" in a.excluding:
            kwargs["indices"] = a.search_rows("barlow")
        return TreeView(a.evalset, features, grid=grid, results=given, **kwargs)

    return _Plan(make)


def _feature_map_model(model):
    """``model`` when Barlow's visualisations can use it (it has ``forward_features_map``),
    else None: the tree works, and top images, heatmaps and the attack are not drawn."""
    if model is None or not callable(getattr(model, "forward_features_map", None)):
        return None
    return model


def _tags(a: _Assets):
    """The tag matrix from ``tags``, ``tagger``, ``clip`` or the metadata (None: no source)."""
    from .features.tags import ClipZeroShotTagger, as_tag_matrix, tags_from_metadata

    if a.tags is not None:
        return as_tag_matrix(a.tags, n_rows=a.evalset.n, name="tags")
    if a.tagger is not None:
        return as_tag_matrix(a.tagger.tag(a.evalset), n_rows=a.evalset.n, name="tagger")
    if a.clip is not None:
        return ClipZeroShotTagger(a.encoder(), max_tags_per_image=8).tag(a.evalset)
    if a.evalset.metadata is not None:
        try:
            return tags_from_metadata(a.evalset)
        except ValueError:
            return None
    return None


def _plan_prime(a: _Assets, options: dict) -> _Plan:
    from .widgets.lattice import LatticeView

    if "prime" in a.results:
        return _Plan(
            lambda grid: LatticeView(a.evalset, result=a.results["prime"], grid=grid, **options)
        )
    has_metadata = a.evalset.metadata is not None and len(a.evalset.metadata.columns) > 0
    if a.tags is None and a.tagger is None and a.clip is None and not has_metadata:
        return _Plan(
            missing="pass tags= (a boolean DataFrame or TagMatrix), tagger=, clip= "
            "(zero-shot tags) or metadata columns in the EvalSet"
        )
    if a.tags is not None:  # bad tags raise now, not later inside the factory
        from .features.tags import as_tag_matrix

        as_tag_matrix(a.tags, n_rows=a.evalset.n, name="tags")
    if a.tagger is not None and not callable(getattr(a.tagger, "tag", None)):
        raise TypeError(f"tagger: needs a tag(evalset) method, got {type(a.tagger).__name__}")

    def make(grid):
        tags = _tags(a)
        if tags is None or tags.n_tags == 0:
            raise ValueError("the EvalSet's metadata has no boolean or categorical column")
        return LatticeView(a.evalset, tags, indices=a.search_rows("prime"), grid=grid, **options)

    return _Plan(make)


def _plan_ces(a: _Assets, options: dict) -> _Plan:
    from .methods.ces import ConceptBank, ConceptExplainer, ConceptSet

    explainer = a.results.get("ces")
    if explainer is None and isinstance(a.concepts, ConceptExplainer):
        explainer = a.concepts
    fit = dict(options.pop("fit", {}))
    if explainer is None:
        if a.classifier is None:
            return _Plan(
                missing="pass classifier= with concepts= (a ConceptSet or ConceptBank) or "
                "tag-like metadata, or a ConceptExplainer"
            )
        if a.concepts is not None and not isinstance(a.concepts, (ConceptBank, ConceptSet)):
            raise TypeError(
                "concepts: expected a ConceptSet, ConceptBank or ConceptExplainer, got "
                f"{type(a.concepts).__name__}"
            )
        if a.concepts is None and a.evalset.metadata is None:
            return _Plan(missing="pass concepts= (a ConceptSet or ConceptBank) or tag metadata")

    def make(grid):
        from .widgets.concept_map import ConceptMapView

        nonlocal explainer
        if explainer is None:
            explainer = _learn_explainer(a, fit)
        return ConceptMapView(a.evalset, explainer, grid=grid, split=a.split, **options)

    return _Plan(make)


def _learn_explainer(a: _Assets, fit: dict):
    """A ConceptExplainer of ``classifier`` at ``bottleneck`` (or the bank's layer)."""
    from .features.split import split_model
    from .methods.ces import ConceptBank, ConceptExplainer, ConceptSet, learn_concept_bank

    size = a.evalset.image(0).shape[:2]
    bank = a.concepts if isinstance(a.concepts, ConceptBank) else None
    layer = a.bottleneck or (bank.layer if bank is not None else None) or _guess_bottleneck(a)
    split = split_model(a.classifier, layer, input_size=(3, *size))
    if bank is None:
        concepts = a.concepts
        if concepts is None:
            concepts = ConceptSet.from_evalset(a.evalset, indices=a.example_rows())
        key = digest(
            a.evalset.images.fingerprint(),
            state_digest(a.classifier),
            layer,
            concepts.names,
            sorted(fit.items()),
        )
        stem = a.cache / f"ces-bank-{key}"
        if stem.with_name(stem.name + ".npz").is_file():
            bank = ConceptBank.load(stem)
        else:
            bank = learn_concept_bank(split, concepts, transform=a.preprocess, **fit)
            bank.save(stem)
    return ConceptExplainer(split, bank, transform=a.preprocess)


def _guess_bottleneck(a: _Assets) -> str:
    """The last cut point of the classifier whose output is not its logits (the penultimate
    representation: ``avgpool`` of a ResNet, the last hidden layer of an MLP head)."""
    import torch

    from .features.split import split_points
    from .image_tensors import images_to_tensor

    model = a.classifier
    points = split_points(model)
    modules = dict(model.named_modules())
    shapes: dict[str, tuple] = {}

    def recorder(name: str):
        def hook(module, inputs, output) -> None:  # returns None: the output is kept as is
            shapes.setdefault(name, tuple(getattr(output, "shape", ())))

        return hook

    hooks = [
        modules[name].register_forward_hook(recorder(name)) for name in points if name in modules
    ]
    transform = a.preprocess or images_to_tensor
    try:
        with torch.inference_mode():
            logits = model.eval()(transform(a.evalset.images_at([0])).float())
    finally:
        for hook in hooks:
            hook.remove()
    for name in reversed(points):
        if name in shapes and shapes[name] != tuple(logits.shape):
            return name
    raise ValueError("bottleneck: cannot guess the layer; pass bottleneck='<module name>'")


DIRECTIONS_ON_DEMAND_ABOVE = 20_000
"""Above this many samples in the split, failure directions are fitted per class on demand
(when a class is first opened) instead of for every class at construction."""


def _plan_directions(a: _Assets, options: dict) -> _Plan:
    from .widgets.directions import DirectionsView

    view_options = dict(options)  # the Explorer measures held-out drops for every method
    fit = dict(view_options.pop("fit", {}))
    if a.split is not None:
        view_options.setdefault("split", a.split)
    if "directions" in a.results:
        result = a.results["directions"]
        return _Plan(lambda grid: DirectionsView(a.evalset, result, grid=grid, **view_options))
    if a.embeddings is None and a.clip is None:
        return _Plan(missing="pass embeddings= (N, D CLIP image embeddings) or clip=")
    if a.evalset.split is None or a.split is None:
        return _Plan(
            missing="failure directions fit their SVMs on one split: give the EvalSet a split "
            "column and pass split="
        )
    embeddings = (
        None if a.embeddings is None else _check_rows_array(a.embeddings, "embeddings", a.evalset.n)
    )
    has_train = a.split != "train" and bool(np.any(a.evalset.split == "train"))
    if int(np.count_nonzero(a.evalset.split == a.split)) > DIRECTIONS_ON_DEMAND_ABOVE:
        fit.setdefault("classes", [])  # each class's SVMs when it is first opened

    def make(grid):
        from .methods.directions import find_failure_directions

        encoder = a.encoder() if a.clip is not None else None
        result = find_failure_directions(
            a.evalset,
            embeddings,
            encoder,
            train_split="train" if has_train else a.split,
            val_split=a.split,
            **fit,
        )
        return DirectionsView(a.evalset, result, grid=grid, **view_options)

    return _Plan(make)


def _plan_defuse(a: _Assets, options: dict) -> _Plan:
    defuse = a.results.get("defuse")
    if a.classifier is None or a.vae is None:
        return _Plan(missing="pass classifier= and vae=, a VAE with encode and decode")
    view_options = {"labels_path": a.labels_path, "preprocess": a.preprocess, **options}
    if view_options["labels_path"] is None:
        key = digest(
            state_digest(a.classifier), state_digest(a.vae), a.evalset.images.fingerprint()
        )
        view_options["labels_path"] = Path(f"defuse_labels_{key[:10]}.json")
    if defuse is not None:
        view_options["defuse"] = defuse
    elif "defuse" in a.excluding:
        view_options["indices"] = _defuse_rows_without_flags(a, view_options)
    elif a.split is not None:
        view_options.setdefault("split", a.split)

    def make(grid):
        from .widgets.scenarios import ScenarioView

        return ScenarioView(a.evalset, a.classifier, a.vae, grid=grid, **view_options)

    return _Plan(make)


def _defuse_rows_without_flags(a: _Assets, view_options: dict) -> np.ndarray:
    """The rows Defuse would identify around (``split``, else its default), less the flagged."""
    from .methods.scenario_review import DEFAULT_SPLIT, review_rows

    split = view_options.pop("split", a.split if a.split is not None else DEFAULT_SPLIT)
    rows = review_rows(a.evalset, split, view_options.pop("indices", None))
    return rows[~a.label_flags[rows]]


def _map_factory(a: _Assets) -> Callable:
    """The embedding map of ``embeddings`` (a tab beside the methods; PCA axes fitted on at
    most 100,000 rows)."""
    embeddings = _check_rows_array(a.embeddings, "embeddings", a.evalset.n)

    def make(grid):
        from .widgets.embedding_map import EmbeddingMap

        return EmbeddingMap(a.evalset, embeddings, grid=grid, fit_rows=MAP_FIT_ROWS)

    return make


MAP_FIT_ROWS = 100_000

_PLANNERS = {
    "barlow": _plan_barlow,
    "prime": _plan_prime,
    "ces": _plan_ces,
    "directions": _plan_directions,
    "defuse": _plan_defuse,
}


# ---------------------------------------------------------------------- the build
def _check_methods(methods, vae, results) -> tuple[str, ...]:
    """The methods to try (default: all)."""
    if methods is None:
        return ALL_METHODS
    if isinstance(methods, str):
        methods = (methods,)
    if not isinstance(methods, Sequence):
        raise TypeError(
            f"methods: expected a sequence of method names, got {type(methods).__name__}"
        )
    methods = tuple(methods)
    unknown = [m for m in methods if m not in ALL_METHODS]
    if unknown:
        raise ValueError(f"methods: unknown {unknown}; choose from {list(ALL_METHODS)}")
    return methods


def _check_options(options, methods) -> dict[str, dict]:
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise TypeError(
            f"options: expected a mapping method -> keyword arguments, got {type(options).__name__}"
        )
    checked = {}
    for method, values in options.items():
        if method not in ALL_METHODS:
            raise ValueError(f"options: unknown method {method!r}; choose from {list(ALL_METHODS)}")
        if not isinstance(values, Mapping):
            raise TypeError(f"options[{method!r}]: expected a mapping of keyword arguments")
        checked[method] = dict(values)
    return checked


def _check_label_issues(evalset: EvalSet, label_issues, exclude, methods, results):
    """The flags as a boolean (N,) mask (None without flags) and the methods that exclude them.

    ``exclude``: False/None (none), True (every method of :data:`LABEL_ISSUE_METHODS` that the
    Explorer fits itself) or method names (each must be able to, and must not be given a fitted
    result, which is shown unchanged).
    """
    from .label_noise import LabelIssues

    if isinstance(exclude, (bool, np.bool_)) or exclude is None:
        named = None
    elif isinstance(exclude, str):
        named = (exclude,)
    elif isinstance(exclude, Sequence):
        named = tuple(exclude)
    else:
        raise TypeError(
            "exclude_label_issues: expected True, False or method names, got "
            f"{type(exclude).__name__}"
        )
    if label_issues is None:
        if named or (named is None and bool(exclude)):
            raise ValueError(
                "exclude_label_issues: no flags to exclude; pass label_issues= (e.g. "
                "failwidgets.label_noise.find_label_issues(evalset))"
            )
        return None, frozenset()
    if isinstance(label_issues, LabelIssues):
        if label_issues.n != evalset.n or not np.array_equal(label_issues.labels, evalset.labels):
            raise ValueError(
                f"label_issues: found on another EvalSet ({label_issues.n} samples) than this "
                f"one ({evalset.n} samples), or its labels changed since"
            )
        flags = np.array(label_issues.flagged, dtype=bool)
    elif isinstance(label_issues, (str, bytes)) or np.isscalar(label_issues):
        raise TypeError(
            "label_issues: expected LabelIssues, a boolean mask or sample indices, got "
            f"{type(label_issues).__name__}"
        )
    else:
        flags = np.zeros(evalset.n, dtype=bool)
        flags[evalset.check_indices(label_issues, name="label_issues")] = True
    if named is None:
        fitted = [m for m in LABEL_ISSUE_METHODS if m in methods and m not in results]
        return flags, frozenset(fitted if bool(exclude) else ())
    for method in named:
        if not isinstance(method, str) or method not in ALL_METHODS:
            raise ValueError(
                f"exclude_label_issues: unknown method {method!r}; choose from "
                f"{list(LABEL_ISSUE_METHODS)} or pass True"
            )
        if method not in LABEL_ISSUE_METHODS:
            raise ValueError(
                f"exclude_label_issues: {method} cannot leave samples out of its search yet; "
                f"choose from {list(LABEL_ISSUE_METHODS)}"
            )
        if method in results:
            raise ValueError(
                f"exclude_label_issues: {method}'s result is given fitted and shown unchanged; "
                "fit it on label_issues.exclude(rows) yourself, or leave it out here"
            )
    return flags, frozenset(m for m in named if m in methods)


def _missing(reason: str) -> Callable:
    """A factory that leaves its view out with ``reason`` (shown by the Explorer)."""

    def factory(grid):
        raise ViewUnavailable(reason)

    return factory


def build_from_evalset(
    cls,
    evalset,
    *,
    methods,
    options,
    progress,
    cache_dir,
    explorer_kwargs,
    label_issues=None,
    exclude_label_issues=False,
    **assets,
):
    """``Explorer.from_evalset``: see its docstring.

    ``label_issues`` (LabelIssues, boolean mask or indices) badges flagged samples in the grid;
    ``exclude_label_issues`` (True or names from :data:`LABEL_ISSUE_METHODS`) leaves them out
    of those methods' search. Both may also arrive in ``explorer_kwargs``.
    """
    explorer_kwargs = dict(explorer_kwargs)
    label_issues = explorer_kwargs.pop("label_issues", label_issues)
    exclude_label_issues = explorer_kwargs.pop("exclude_label_issues", exclude_label_issues)
    if not isinstance(evalset, EvalSet):
        raise TypeError(f"evalset: expected an EvalSet, got {type(evalset).__name__}")
    split = explorer_kwargs.get("split")
    heldout_split = explorer_kwargs.get("heldout_split")
    for name, value in (("split", split), ("heldout_split", heldout_split)):
        if value is not None:
            if not isinstance(value, str):
                raise TypeError(
                    f"{name}: expected a split name or None, got {type(value).__name__}"
                )
            if evalset.split is None:
                raise ValueError(f"{name}: the EvalSet has no split column; pass {name}=None")
            if not np.any(evalset.split == value):
                present = sorted(set(evalset.split.tolist()))
                raise ValueError(
                    f"{name}: no samples in split {value!r}; splits present: {present}"
                )
    if split is not None and split == heldout_split:
        raise ValueError(f"heldout_split: must differ from split ({split!r})")
    a = _Assets(
        evalset,
        split=split,
        heldout_split=heldout_split,
        cache=cache_directory(cache_dir),
        progress=progress,
        **assets,
    )
    names = _check_methods(methods, assets.get("vae"), a.results)
    options = _check_options(options, names)
    a.label_flags, a.excluding = _check_label_issues(
        evalset, label_issues, exclude_label_issues, names, a.results
    )
    plans = {name: _PLANNERS[name](a, dict(options.get(name, {}))) for name in names}
    timings: dict[str, float] = {}
    n_steps = sum(p.make is not None for p in plans.values())
    bar = BuildProgress(n_steps + (a.embeddings is not None and "directions" in names), progress)

    def timed(name: str, make: Callable) -> Callable:
        def factory(grid):
            bar.step(f"building {name}")
            start = time.perf_counter()
            try:
                return make(grid)
            finally:
                timings[name] = time.perf_counter() - start
                bar.advance()

        return factory

    views = {
        name: timed(name, plan.make) if plan.make is not None else _missing(plan.missing)
        for name, plan in plans.items()
    }
    if a.embeddings is not None and "directions" in names:
        views["map"] = timed("map", _map_factory(a))
    start = time.perf_counter()
    explorer = cls(evalset, views, **explorer_kwargs)
    if a.label_flags is not None:
        explorer.grid.set_label_issues(label_issues)  # the "label?" badges
    timings["total"] = time.perf_counter() - start
    explorer.timings.update(timings)
    bar.finish({k: v for k, v in timings.items() if k != "total"}, explorer.unavailable)
    return explorer


class FromAssets:
    """Mixin of :class:`~failwidgets.widgets.explorer.Explorer`: its constructors from a
    user's assets (:meth:`from_evalset`) and from the demo world (:meth:`from_demo`)."""

    @classmethod
    def from_evalset(
        cls,
        evalset: EvalSet,
        *,
        classifier=None,
        robust_model=None,
        clip=None,
        tagger=None,
        concepts=None,
        vae=None,
        features=None,
        embeddings=None,
        tags=None,
        results=None,
        split: str | None = None,
        heldout_split: str | None = None,
        methods=None,
        preprocess=None,
        bottleneck: str | None = None,
        labels_path=None,
        label_issues=None,
        exclude_label_issues=False,
        options=None,
        cache_dir=None,
        progress: bool = True,
        **kwargs,
    ):
        """An Explorer with every method that the given assets allow.

        Precomputed arrays stand in for the models that compute them, and fitted results
        stand in for everything (see :mod:`failwidgets.assets` for which
        asset each method needs). A method whose assets are missing is not built: the
        Explorer shows one line saying what to pass (:attr:`unavailable`), and nothing raises.

        Parameters
        ----------
        evalset : EvalSet
        classifier : torch module, optional
            The model under inspection (CES's bottleneck, Defuse's identification).
        robust_model : torch module with ``forward_features``, optional
            Barlow's feature extractor (features computed once and cached).
        clip : ClipEncoder or open_clip's ``(model, preprocess, tokenizer)``, optional
            Failure directions (embeddings and captions); PRIME's zero-shot tags when no
            other tags are given.
        tagger : object with ``tag(evalset) -> TagMatrix``, optional
        concepts : ConceptSet, ConceptBank or ConceptExplainer, optional
            CES; default: concepts from the EvalSet's tag-like metadata columns.
        vae : module with ``encode``/``decode``, optional
            Defuse (built only when given: its identification is slow).
        features, embeddings : (N, D) arrays, optional
            Robust-model features (Barlow) and CLIP image embeddings (directions).
        tags : boolean DataFrame or TagMatrix, optional
            PRIME's tags; default: the EvalSet's tag-like metadata columns.
        results : fitted results, optional
            A ``PrimeResult``, ``FailureDirectionsResult``, ``ConceptExplainer`` or fitted
            ``Defuse`` (a sequence or mapping), shown as they are.
        split : str or None
            The rows every method analyses: no method searches, or reports members from, other
            rows. None: all rows. What the papers take from a training split comes from
            ``"train"`` when the EvalSet has one: CES's concept examples (else the rows outside
            ``heldout_split``) and the failure directions' whitening statistics (else
            ``split`` itself).
        heldout_split : str or None
            Rows on which failure modes are re-applied to measure ``heldout_drop``.
        methods : sequence of str, optional
            Methods to try among ``"barlow", "prime", "ces", "directions", "defuse"``.
            Default: all (Defuse only when ``vae`` is given).
        preprocess : callable, optional
            uint8 images (n, H, W, 3) -> the classifier's input tensor (CES, Defuse);
            default: scale to [0, 1].
        bottleneck : str, optional
            CES's layer (a module name of ``classifier``); default: the bank's layer, else
            the last layer whose output is not the logits (e.g. a ResNet's avgpool).
        labels_path : path, optional
            Defuse's labels file (default: named after the classifier, VAE and images).
        label_issues : LabelIssues, boolean mask or sample indices, optional
            Likely label errors (:func:`failwidgets.label_noise.find_label_issues`): a badge
            marks them in the grid.
        exclude_label_issues : bool or sequence of str
            True, or some of ``"barlow", "prime", "defuse"``: those methods leave the flagged
            samples out of their search (their errors are not the model's).
        options : mapping method -> keyword arguments, optional
            Passed to each method's view (e.g. ``{"prime": {"a": 0.3}}``); a ``"fit"`` entry
            goes to the method's fit (CES's bank, the failure directions).
        cache_dir : path, optional
            Where features, embeddings and concept banks are cached (default:
            :func:`failwidgets.features.cache.cache_directory`).
        progress : bool
            One progress display across the build (in a notebook).
        **kwargs : passed to :class:`Explorer` (``class_name``, ``background``...).
        """
        return build_from_evalset(
            cls,
            evalset,
            methods=methods,
            options=options,
            progress=progress,
            cache_dir=cache_dir,
            explorer_kwargs={"split": split, "heldout_split": heldout_split, **kwargs},
            classifier=classifier,
            robust_model=robust_model,
            clip=clip,
            tagger=tagger,
            concepts=concepts,
            vae=vae,
            features=features,
            embeddings=embeddings,
            tags=tags,
            results=results,
            preprocess=preprocess,
            bottleneck=bottleneck,
            labels_path=labels_path,
            label_issues=label_issues,
            exclude_label_issues=exclude_label_issues,
        )

    @classmethod
    def from_demo(
        cls,
        demo=None,
        methods=DEMO_METHODS,
        *,
        progress: bool = True,
        cache_dir=None,
        train_sample: int | None = 2000,
        **kwargs,
    ):
        """An Explorer over the demo world (:func:`failwidgets.demo.load`): a thin call of
        :meth:`from_evalset` with the demo's models (see :mod:`failwidgets.demo.explorer`).

        The Explorer's EvalSet is ``demo.evalset`` restricted to its val and test images plus
        ``train_sample`` training images (what the methods need from train: whitening
        statistics, concept examples); ``explorer.source_indices`` maps its rows back.
        Methods search the test split; held-out drops are measured on val. Defuse is not
        built by default (slow).

        Parameters
        ----------
        demo : Demo, optional
            From :func:`failwidgets.demo.load` (loaded when None).
        methods : sequence of str
            Which views to build, among ``METHODS``.
        progress : bool
            Show a progress bar while building (in a notebook).
        cache_dir : path, optional
            Where features are cached.
        train_sample : int or None
            Training images kept (None: all).
        **kwargs : passed to :meth:`from_evalset` and :class:`Explorer`.
        """
        from .demo.explorer import build_demo_explorer

        return build_demo_explorer(
            cls,
            demo,
            methods,
            progress=progress,
            cache_dir=cache_dir,
            train_sample=train_sample,
            **kwargs,
        )
