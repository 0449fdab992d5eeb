"""``Explorer.from_demo``: the demo world's models and data handed to ``Explorer.from_evalset``.

The Explorer works on the demo's validation and test images plus a sample of its training
images (``train_sample``, 2,000 by default): the methods search the test split and check on
val, and the train split only provides what they need from it (the whitening statistics of the
failure directions, the examples of the concept bank), so the costly per-image features are
computed for 8,000 images instead of 20,000. ``explorer.source_indices`` maps the Explorer's
rows back to ``demo.evalset``.
"""

from __future__ import annotations

import time

import numpy as np

from ..features.cache import digest, state_digest

__all__ = ["DEMO_TAG_COLUMNS", "build_demo_explorer", "explorer_rows"]

# The world's attribute columns that make tags (PRIME) and concepts (CES): categorical values
# and booleans; the continuous ones (size, position, blur...) are not tags.
DEMO_TAG_COLUMNS = ("colour", "texture", "background", "occluder", "distractor", "has_part")
PRIME_MIN_SUPPORT = 30  # the paper's s
PRIME_A = 0.3  # the paper's a (25..30 %)
DIRECTIONS_K = 50
SEARCH_SPLIT, HELDOUT_SPLIT = "test", "val"
# the labels file's name is user data: it must not change between versions
_LABELS_SALT = b"failwidgets-explorer-demo-v1"


def explorer_rows(evalset, train_sample: int | None, seed: int = 0) -> np.ndarray:
    """Rows of ``evalset`` the demo Explorer works on: every non-train row plus a seeded
    sample of ``train_sample`` train rows (all of them when None)."""
    if evalset.split is None:
        return np.arange(evalset.n)
    train = np.flatnonzero(evalset.split == "train")
    if train_sample is not None and train_sample < len(train):
        train = np.random.default_rng(seed).choice(train, train_sample, replace=False)
    return np.sort(np.concatenate([train, np.flatnonzero(evalset.split != "train")]))


def _concepts(evalset):
    """The world's tag columns as CES concepts, from train images (a column without
    negatives on train gives no concept)."""
    from ..methods.ces import ConceptSet

    train = evalset.split_indices("train")
    columns = []
    for column in DEMO_TAG_COLUMNS:
        try:
            ConceptSet.from_evalset(evalset, [column], indices=train)
        except ValueError:
            continue
        columns.append(column)
    return ConceptSet.from_evalset(evalset, columns, indices=train)


def _default_class(demo) -> str | None:
    """The class of the planted conjunction (PRIME's lattice shows it), else of any failure."""
    failures = list(getattr(demo, "failures", []) or [])
    for kind in ("conjunction", "spurious_background"):
        for failure in failures:
            if failure.kind == kind:
                return failure.class_name
    return failures[0].class_name if failures else None


def build_demo_explorer(cls, demo, methods, *, progress, cache_dir, train_sample, **kwargs):
    """``Explorer.from_demo``: see its docstring."""
    from ..features.tags import tags_from_metadata
    from ..methods.caption_words import NATURAL_BACKGROUNDS, CaptionWords

    if isinstance(methods, str):
        methods = (methods,)
    methods = tuple(methods)
    if train_sample is not None and (
        isinstance(train_sample, bool) or not isinstance(train_sample, int) or train_sample < 1
    ):
        raise ValueError(f"train_sample: expected a positive integer or None, got {train_sample!r}")
    load_seconds = 0.0
    if demo is None:
        from . import load

        start = time.perf_counter()
        demo = load()
        load_seconds = time.perf_counter() - start
    rows = explorer_rows(demo.evalset, train_sample)
    evalset = demo.evalset.subset(rows) if len(rows) < demo.evalset.n else demo.evalset
    wants = set(methods)
    assets = {
        "classifier": demo.classifier if wants & {"ces", "defuse"} else None,
        "robust_model": demo.robust if "barlow" in wants else None,
        "clip": demo.clip if "directions" in wants else None,
        "vae": demo.vae if "defuse" in wants else None,
        "tags": tags_from_metadata(evalset, columns=list(DEMO_TAG_COLUMNS))
        if "prime" in wants
        else None,
        "concepts": _concepts(evalset) if "ces" in wants else None,
    }
    if "defuse" in wants:  # labels are user data: kept beside the notebook, named after inputs
        key = digest(
            state_digest(demo.classifier), state_digest(demo.vae), evalset.n, salt=_LABELS_SALT
        )
        assets["labels_path"] = f"defuse_labels_demo_{key[:10]}.json"
    options = {
        "prime": {"a": PRIME_A, "min_support": PRIME_MIN_SUPPORT},
        "directions": {
            "k": DIRECTIONS_K,
            "fit": {"caption_words": CaptionWords().with_extra(prepositions=NATURAL_BACKGROUNDS)},
        },
    }
    settings = {"split": SEARCH_SPLIT, "heldout_split": HELDOUT_SPLIT, **kwargs}
    settings.setdefault("class_name", _default_class(demo))
    explorer = cls.from_evalset(
        evalset,
        **assets,
        bottleneck="features" if "ces" in wants else None,
        methods=methods,
        options={k: v for k, v in options.items() if k in wants},
        progress=progress,
        cache_dir=cache_dir,
        **settings,
    )
    explorer.source_indices = rows
    if load_seconds:
        explorer.timings["load"] = load_seconds
        explorer.timings["total"] += load_seconds
    return explorer
