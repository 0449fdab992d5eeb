"""Build the Explorer's engines and views on the demo world (``Explorer.from_demo``).

The Explorer works on the demo's validation and test images plus a sample of its training
images (``train_sample``, 2,000 by default): the methods fit and report on val/test, and the
train split only provides what they need from it (the whitening statistics of the failure
directions, the examples of the concept bank), so the costly per-image features are computed for
8,000 images instead of 20,000. ``explorer.source_indices`` maps the Explorer's rows back to
``demo.evalset``.

Each method gets a factory ``factory(grid) -> view`` that builds its engine from the demo's
models and data; the Explorer calls them and leaves out (with the reason) any that fails, e.g.
when a weight file or a view module is missing. Costly inputs are computed in bulk and cached
on disk, keyed by a hash of the images and of the model's weights:

- robust-CNN features of every image (Barlow);
- CLIP embeddings of every image (failure directions; :class:`ClipEncoder`'s own cache);
- the concept bank at the classifier's bottleneck (CES; saved as arrays plus JSON).
"""

from __future__ import annotations

import hashlib
import html
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = ["DEMO_TAG_COLUMNS", "build", "cache_directory", "explorer_rows", "robust_features"]

# The world's attribute columns that make tags (PRIME) and concepts (CES): categorical values
# and booleans; the continuous ones (size, position, blur...) are not tags.
DEMO_TAG_COLUMNS = ("colour", "texture", "background", "occluder", "distractor", "has_part")
PRIME_MIN_SUPPORT = 30  # the paper's s
PRIME_A = 0.3  # the paper's a (25..30 %)
DIRECTIONS_K = 50
TRAIN_SAMPLE = 2000
SEARCH_SPLIT, HELDOUT_SPLIT = "test", "val"
_CACHE_VERSION = b"failwidgets-explorer-demo-v1"


def cache_directory(cache_dir=None) -> Path:
    """Where the demo's features are cached: ``cache_dir``, else ``$FAILWIDGETS_CACHE_DIR``,
    else ``$XDG_CACHE_HOME/failwidgets`` (default ``~/.cache/failwidgets``)."""
    if cache_dir is not None:
        return Path(cache_dir)
    if os.environ.get("FAILWIDGETS_CACHE_DIR"):
        return Path(os.environ["FAILWIDGETS_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "failwidgets"


def _digest(*parts) -> str:
    hasher = hashlib.blake2b(_CACHE_VERSION, digest_size=16)
    for part in parts:
        if isinstance(part, np.ndarray):
            array = np.ascontiguousarray(part)
            hasher.update(f"{array.dtype.str}{array.shape}".encode())
            hasher.update(memoryview(array).cast("B"))
        elif isinstance(part, bytes):
            hasher.update(part)
        else:
            hasher.update(repr(part).encode())
    return hasher.hexdigest()


def _state_digest(module) -> str:
    """Hash of a torch module's weights (its state dict, in order)."""
    hasher = hashlib.blake2b(digest_size=16)
    for name, tensor in module.state_dict().items():
        hasher.update(name.encode())
        array = tensor.detach().cpu().contiguous().numpy()
        hasher.update(f"{array.dtype.str}{array.shape}".encode())
        hasher.update(memoryview(np.ascontiguousarray(array)).cast("B"))
    return hasher.hexdigest()


def explorer_rows(evalset, train_sample: int | None, seed: int = 0) -> np.ndarray:
    """Rows of ``evalset`` the demo Explorer works on: every non-train row plus a seeded
    sample of ``train_sample`` train rows (all of them when None)."""
    if evalset.split is None:
        return np.arange(evalset.n)
    train = np.flatnonzero(evalset.split == "train")
    if train_sample is not None and train_sample < len(train):
        train = np.random.default_rng(seed).choice(train, train_sample, replace=False)
    return np.sort(np.concatenate([train, np.flatnonzero(evalset.split != "train")]))


def _all_images(evalset) -> np.ndarray:
    return evalset.images_at(np.arange(evalset.n))


class _Progress:
    """A progress line for the build: a bar in a notebook (replaced by a summary at the end),
    nothing elsewhere."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.done = total, 0
        self._handle = None
        self._bar = self._label = None
        if not enabled or total == 0:
            return
        try:
            from IPython import get_ipython

            shell = get_ipython()
        except ImportError:  # pragma: no cover - IPython ships with ipywidgets
            shell = None
        if shell is None or not hasattr(shell, "kernel"):
            return
        import ipywidgets as widgets
        from IPython.display import display

        self._bar = widgets.IntProgress(value=0, min=0, max=total, bar_style="info")
        self._label = widgets.HTML("building the Explorer…")
        self._box = widgets.HBox([self._bar, self._label])
        self._handle = display(self._box, display_id=True)

    def step(self, text: str) -> None:
        if self._label is not None:
            self._label.value = html.escape(f"{text} ({self.done + 1}/{self.total})")

    def advance(self) -> None:
        self.done += 1
        if self._bar is not None:
            self._bar.value = self.done

    def finish(self, timings: dict[str, float], unavailable: dict[str, str]) -> None:
        if self._handle is None:
            return
        from IPython.display import HTML

        parts = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items())
        text = f"Explorer built ({html.escape(parts)})"
        if unavailable:
            text += "; not shown: " + "; ".join(
                f"{html.escape(k)} ({html.escape(v)})" for k, v in unavailable.items()
            )
        self._handle.update(HTML(f"<small>{text}</small>"))
        for widget in (self._box, self._bar, self._label):
            widget.close()


# ---------------------------------------------------------------------- engines per method
def robust_features(model, evalset, cache: Path, batch_size: int = 500) -> np.ndarray:
    """Penultimate-layer features of a robust CNN (``forward_features``) for every image of
    ``evalset`` (cached by images and weights)."""
    import torch

    model = model.eval()
    images = _all_images(evalset)
    path = cache / f"robust-features-{_digest(images, _state_digest(model))}.npy"
    if path.is_file():
        return np.load(path)
    parts = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            batch = torch.from_numpy(images[start : start + batch_size]).permute(0, 3, 1, 2)
            parts.append(model.forward_features(batch.float().div_(255.0)).numpy())
    features = np.concatenate(parts).astype(np.float32)
    _save_atomic(path, features)
    return features


def _save_atomic(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        np.save(handle, array)
    os.replace(tmp, path)


def concept_explainer(classifier, evalset, cache: Path):
    """CES explainer: the demo classifier cut at its bottleneck (the output of its
    ``features`` block) with a bank of the world's tags learned on the train split of
    ``evalset`` (cached as arrays plus JSON)."""
    from ..features.split import split_model
    from ..methods.ces import ConceptBank, ConceptExplainer, ConceptSet, learn_concept_bank

    size = evalset.image(0).shape[:2]
    split = split_model(classifier, "features", input_size=(3, *size))
    train = evalset.split_indices("train")
    stem = cache / f"ces-bank-{_digest(_all_images(evalset), _state_digest(classifier))}"
    if stem.with_name(stem.name + ".npz").is_file():
        bank = ConceptBank.load(stem)
    else:
        columns = []
        for column in DEMO_TAG_COLUMNS:  # a column without negatives on train gives no concept
            try:
                ConceptSet.from_evalset(evalset, [column], indices=train)
            except ValueError:
                continue
            columns.append(column)
        concepts = ConceptSet.from_evalset(evalset, columns, indices=train)
        bank = learn_concept_bank(split, concepts)
        bank.save(stem)
    return ConceptExplainer(split, bank)


def _factories(demo, evalset, methods, cache: Path, progress: _Progress, timings: dict) -> dict:

    def prime(grid):
        from ..features.tags import tags_from_metadata
        from .lattice import LatticeView

        tags = tags_from_metadata(evalset, columns=list(DEMO_TAG_COLUMNS))
        return LatticeView(
            evalset,
            tags,
            indices=evalset.split_indices(SEARCH_SPLIT),
            grid=grid,
            a=PRIME_A,
            min_support=PRIME_MIN_SUPPORT,
        )

    def directions(grid):
        from ..features.clip import ClipEncoder
        from ..methods.caption_words import NATURAL_BACKGROUNDS, CaptionWords
        from ..methods.directions import find_failure_directions
        from .directions import DirectionsView

        model, preprocess, tokenizer = demo.clip
        encoder = ClipEncoder(
            model, preprocess, tokenizer, cache_dir=cache / "clip", progress=False
        )
        result = find_failure_directions(
            evalset,
            encoder=encoder,
            caption_words=CaptionWords().with_extra(prepositions=NATURAL_BACKGROUNDS),
        )
        return DirectionsView(evalset, result, grid=grid, k=DIRECTIONS_K, split=SEARCH_SPLIT)

    def barlow(grid):
        from .tree import TreeView

        features = robust_features(demo.robust, evalset, cache)
        return TreeView(evalset, features, grid=grid, model=demo.robust)

    def ces(grid):
        from .concept_map import ConceptMapView

        explainer = concept_explainer(demo.classifier, evalset, cache)
        return ConceptMapView(evalset, explainer, grid=grid, split=SEARCH_SPLIT)

    def defuse(grid):
        from .scenarios import ScenarioView

        # labels are user data: kept beside the notebook (not in the cache), in a file named
        # after the inputs, so another classifier or VAE never meets labels of other scenarios
        key = _digest(_state_digest(demo.classifier), _state_digest(demo.vae), evalset.n)
        labels_path = Path(f"defuse_labels_demo_{key[:10]}.json")
        return ScenarioView(evalset, demo.classifier, demo.vae, grid=grid, labels_path=labels_path)

    makers: dict[str, Callable] = {
        "barlow": barlow,
        "prime": prime,
        "ces": ces,
        "directions": directions,
        "defuse": defuse,
    }

    def timed(name: str, make: Callable) -> Callable:
        def factory(grid):
            progress.step(f"building {name}")
            start = time.perf_counter()
            try:
                return make(grid)
            finally:
                timings[name] = time.perf_counter() - start
                progress.advance()

        return factory

    return {name: timed(name, makers[name]) for name in methods}


def build(cls, demo, methods, *, progress: bool, cache_dir, train_sample, **kwargs):
    """``Explorer.from_demo``: see its docstring."""
    from .explorer import METHODS
    from .grid import ImageGrid

    if isinstance(methods, str):
        methods = (methods,)
    methods = tuple(methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"methods: unknown {unknown}; choose from {list(METHODS)}")
    timings: dict[str, float] = {}
    bar = _Progress(len(methods) + (demo is None), progress)
    if demo is None:
        from ..demo import load

        bar.step("generating the demo world")
        start = time.perf_counter()
        demo = load()
        timings["load"] = time.perf_counter() - start
        bar.advance()
    if train_sample is not None and (
        isinstance(train_sample, bool) or not isinstance(train_sample, int) or train_sample < 1
    ):
        raise ValueError(f"train_sample: expected a positive integer or None, got {train_sample!r}")
    cache = cache_directory(cache_dir)
    rows = explorer_rows(demo.evalset, train_sample)
    evalset = demo.evalset.subset(rows) if len(rows) < demo.evalset.n else demo.evalset
    grid = ImageGrid(evalset, [], page_size=60, thumb_size=80)
    options = {"split": SEARCH_SPLIT, "heldout_split": HELDOUT_SPLIT, **kwargs}
    if "class_name" not in options:
        options["class_name"] = _default_class(demo)
    start = time.perf_counter()
    explorer = cls(
        evalset, _factories(demo, evalset, methods, cache, bar, timings), grid=grid, **options
    )
    explorer.source_indices = rows
    timings["total"] = time.perf_counter() - start + timings.get("load", 0.0)
    explorer.timings.update(timings)
    bar.finish({k: v for k, v in timings.items() if k != "total"}, explorer.unavailable)
    return explorer


def _default_class(demo) -> str | None:
    """The class of the planted conjunction (PRIME's lattice shows it), else of any failure."""
    failures = list(getattr(demo, "failures", []) or [])
    for kind in ("conjunction", "spurious_background"):
        for failure in failures:
            if failure.kind == kind:
                return failure.class_name
    return failures[0].class_name if failures else None
