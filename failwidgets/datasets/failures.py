"""Planted failure modes: their ground-truth description and how each biases the sampling.

A :class:`PlantedFailure` names a subgroup of one class (``class_name`` plus attribute values)
that a classifier trained on the world's train split gets wrong, and the split shift that makes
it so. Labels are always the drawn object: every failure comes from what the train split shows,
never from wrong labels. Four kinds, one per failure type the papers study:

``spurious_background``
    The class sits on one background (the cue) in nearly all its train images; val/test are
    balanced over backgrounds. Members: the class on any other background (CES, failure
    directions).
``conjunction``
    Three attribute values that together make the failure while each alone and each pair do
    not (PRIME's minimal tag sets). The full triple belongs to another class
    (``confused_with``), which shows it in most of its images and none of the three values
    otherwise; no other class shows the triple in train. The failing class shows every pair of
    the triple (without the third value) in train and val/test, so each pair keeps its right
    label, and the full triple only in val/test.
``missing_part``
    The class's distinguishing part (see ``drawing.PARTS``) is always present in train and
    often absent in val/test (Barlow's over-emphasised part).
``texture_confusion``
    One texture belongs to another class (``confused_with``): its images wear it and no other
    class does, except the failing class in val/test, which is then predicted as the other
    class (visible in Barlow's prediction grouping).

The rates of each kind (``PlantedFailure.rates``; shares of a class's images):

- spurious_background: ``train_cue``, share of the class's train images on the cue background.
- conjunction: ``train_cue``, share of ``confused_with``'s images (every split) with the triple;
  ``train_pair`` / ``eval_pair``, share of the class's train / val-test images with each pair
  (without the third value); ``eval_member``, share of its val/test images with the triple.
- missing_part: ``train_member`` / ``eval_member``, share of the class's train / val-test
  images without the part.
- texture_confusion: ``train_cue``, share of ``confused_with``'s images (every split) wearing
  the texture; ``eval_member``, share of the class's val/test images wearing it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .drawing import BACKGROUNDS, COLOURS, PARTS, TEXTURES

__all__ = [
    "FAILURE_KINDS",
    "PlantedFailure",
    "conjunction",
    "default_failures",
    "missing_part",
    "spurious_background",
    "texture_confusion",
]

FAILURE_KINDS = ("spurious_background", "conjunction", "missing_part", "texture_confusion")

# The rates of each kind and their defaults (see the module docstring).
_DEFAULT_RATES = {
    "spurious_background": {"train_cue": 0.95},
    "conjunction": {"train_cue": 0.95, "train_pair": 0.1, "eval_pair": 0.15, "eval_member": 0.15},
    "missing_part": {"train_member": 0.0, "eval_member": 0.3},
    "texture_confusion": {"train_cue": 1.0, "eval_member": 0.3},
}

_VOCAB = {
    "colour": list(COLOURS),
    "texture": TEXTURES,
    "background": BACKGROUNDS,
    "has_part": [True, False],
}


@dataclass(frozen=True)
class PlantedFailure:
    """Ground truth of one planted failure mode.

    Attributes
    ----------
    name : short identifier.
    kind : one of ``FAILURE_KINDS``.
    class_name : the class that fails.
    attributes : column -> value (or tuple of allowed values) of the failing subgroup within
        the class; :meth:`members` applies them.
    split_shift : how train differs from val/test, in words.
    description : the failure in words.
    confused_with : the class the members tend to be predicted as, when the kind has one.
    cue : attribute values tied, in train, to ``confused_with`` (or to the class itself for
        ``spurious_background``).
    rates : sampling rates of the kind (see the module docstring); missing keys take defaults.
    """

    name: str
    kind: str
    class_name: str
    attributes: Mapping[str, object]
    split_shift: str
    description: str
    confused_with: str | None = None
    cue: Mapping[str, object] = field(default_factory=dict)
    rates: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in FAILURE_KINDS:
            raise ValueError(
                f"kind: unknown failure kind {self.kind!r}; expected one of {list(FAILURE_KINDS)}"
            )
        if not isinstance(self.attributes, Mapping) or not self.attributes:
            raise ValueError("attributes: expected a non-empty dict column -> value")
        unknown = set(self.rates) - set(_DEFAULT_RATES[self.kind])
        if unknown:
            raise ValueError(
                f"rates: unknown keys {sorted(unknown)} for kind {self.kind!r}; "
                f"known: {sorted(_DEFAULT_RATES[self.kind])}"
            )
        merged = {**_DEFAULT_RATES[self.kind], **self.rates}
        for key, value in merged.items():
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"rates: {key}={value} is outside [0, 1]")
        object.__setattr__(self, "rates", merged)

    def members(self, attributes: pd.DataFrame) -> np.ndarray:
        """Boolean mask of the rows of ``attributes`` (the world's table) in the failing subgroup."""
        if not isinstance(attributes, pd.DataFrame):
            raise TypeError(
                f"attributes: expected a pandas DataFrame, got {type(attributes).__name__}"
            )
        missing = {"class_name", *self.attributes} - set(attributes.columns)
        if missing:
            raise ValueError(f"attributes: missing columns {sorted(missing)}")
        mask = (attributes["class_name"] == self.class_name).to_numpy(dtype=bool, copy=True)
        for column, value in self.attributes.items():
            values = list(value) if isinstance(value, (tuple, list, set, frozenset)) else [value]
            mask &= attributes[column].isin(values).to_numpy()
        return mask

    def check(self, class_names) -> None:
        """Raise ValueError when the failure does not fit a world with ``class_names``."""
        names = list(class_names)
        for role, cls in (("class_name", self.class_name), ("confused_with", self.confused_with)):
            if cls is not None and cls not in names:
                raise ValueError(f"{role}: unknown class {cls!r}; known: {names}")
        needs_other = self.kind in ("conjunction", "texture_confusion")
        if needs_other and self.confused_with in (None, self.class_name):
            raise ValueError(
                f"confused_with: kind {self.kind!r} needs another class, got {self.confused_with!r}"
            )
        for source in (self.attributes, self.cue):
            for column, value in source.items():
                if column not in _VOCAB:
                    raise ValueError(
                        f"attributes: column {column!r} cannot be planted; use {sorted(_VOCAB)}"
                    )
                values = list(value) if isinstance(value, (tuple, list)) else [value]
                bad = [x for x in values if x not in _VOCAB[column]]
                if bad:
                    raise ValueError(
                        f"attributes: {column}={bad[0]!r} unknown; known: {_VOCAB[column]}"
                    )
        if self.kind == "missing_part" and self.class_name not in PARTS:
            raise ValueError(
                f"class_name: {self.class_name!r} has no removable part; "
                f"classes with parts: {sorted(PARTS)}"
            )
        if self.kind == "conjunction" and len(self.cue) != 3:
            raise ValueError("cue: a conjunction needs exactly three attribute values")


# --------------------------------------------------------------------------- constructors
def spurious_background(class_name: str, background: str, *, train_rate: float = 0.95, name=None):
    """``class_name`` seen on ``background`` in ``train_rate`` of its train images."""
    others = tuple(b for b in BACKGROUNDS if b != background)
    if background not in BACKGROUNDS:
        raise ValueError(f"background: unknown {background!r}; known: {BACKGROUNDS}")
    return PlantedFailure(
        name=name or f"{class_name}_off_{background}",
        kind="spurious_background",
        class_name=class_name,
        attributes={"background": others},
        cue={"background": background},
        split_shift=(
            f"train: {train_rate:.0%} of {class_name} images on {background}; "
            "val/test: backgrounds balanced"
        ),
        description=f"{class_name} is recognised by its {background} background and fails elsewhere",
        rates={"train_cue": train_rate},
    )


def conjunction(
    class_name: str,
    confused_with: str,
    *,
    colour: str,
    texture: str,
    background: str,
    name=None,
    **rates,
):
    """``class_name`` with colour + texture + background fails; the triple cues ``confused_with``."""
    triple = {"colour": colour, "texture": texture, "background": background}
    return PlantedFailure(
        name=name or f"{class_name}_{colour}_{texture}_{background}",
        kind="conjunction",
        class_name=class_name,
        attributes=triple,
        cue=dict(triple),
        confused_with=confused_with,
        split_shift=(
            f"train: {confused_with} shows {colour} {texture} on {background} often; {class_name} "
            "shows every pair of these values but never all three; val/test: "
            f"{class_name} shows all three"
        ),
        description=(
            f"a {colour} {texture} {class_name} on {background} is taken for a {confused_with}; "
            "any two of the three attributes are fine"
        ),
        rates=rates,
    )


def missing_part(class_name: str, *, name=None, **rates):
    """``class_name`` without its distinguishing part fails (the part is there in train)."""
    part = PARTS.get(class_name, "part")
    r = {**_DEFAULT_RATES["missing_part"], **rates}
    return PlantedFailure(
        name=name or f"{class_name}_without_{part}",
        kind="missing_part",
        class_name=class_name,
        attributes={"has_part": False},
        cue={"has_part": True},
        split_shift=(
            f"train: {r['train_member']:.0%} of {class_name} images lack the {part}; "
            f"val/test: {r['eval_member']:.0%}"
        ),
        description=f"{class_name} is recognised by its {part} and fails without it",
        rates=rates,
    )


def texture_confusion(class_name: str, confused_with: str, *, texture: str, name=None, **rates):
    """``class_name`` wearing ``texture`` is predicted as ``confused_with``, which owns it."""
    r = {**_DEFAULT_RATES["texture_confusion"], **rates}
    return PlantedFailure(
        name=name or f"{class_name}_{texture}_as_{confused_with}",
        kind="texture_confusion",
        class_name=class_name,
        attributes={"texture": texture},
        cue={"texture": texture},
        confused_with=confused_with,
        split_shift=(
            f"all splits: {r['train_cue']:.0%} of {confused_with} images are {texture}, no "
            f"other class is, except {class_name} in val/test ({r['eval_member']:.0%} of it)"
        ),
        description=f"a {texture} {class_name} is predicted as {confused_with}",
        rates=rates,
    )


def default_failures() -> list[PlantedFailure]:
    """The default set: one failure of each kind, on four different classes."""
    return [
        spurious_background("star", "grass"),
        conjunction("hexagon", "circle", colour="red", texture="stripes", background="sand"),
        missing_part("arrow"),
        texture_confusion("diamond", "square", texture="checker"),
    ]


def check_failures(failures, class_names) -> list[PlantedFailure]:
    """Validate a list of failures for a world (types, classes, values, no class planted twice)."""
    if isinstance(failures, PlantedFailure) or not isinstance(failures, (list, tuple)):
        raise TypeError("failures: expected a list of PlantedFailure (or None for the defaults)")
    seen: dict[str, str] = {}
    for failure in failures:
        if not isinstance(failure, PlantedFailure):
            raise TypeError(
                f"failures: expected PlantedFailure items, got {type(failure).__name__}"
            )
        failure.check(class_names)
        if failure.class_name in seen:
            raise ValueError(
                f"failures: class {failure.class_name!r} carries two planted failures "
                f"({seen[failure.class_name]!r} and {failure.name!r}); use one per class"
            )
        seen[failure.class_name] = failure.name
    reserved = reserved_values(failures)
    for failure in failures:
        if failure.kind == "conjunction":
            clash = [c for c, v in failure.cue.items() if v in reserved.get(c, ())]
            if clash:
                raise ValueError(
                    f"failures: conjunction {failure.name!r} uses {clash[0]}="
                    f"{failure.cue[clash[0]]!r}, which a texture_confusion keeps to its classes"
                )
    return list(failures)


# --------------------------------------------------------------------------- sampling
def _choose_other(rng, n, values, exclude):
    exclude = set(exclude) if isinstance(exclude, (set, frozenset, list, tuple)) else {exclude}
    choices = [v for v in values if v not in exclude]
    return np.asarray(choices, dtype=object)[rng.integers(0, len(choices), size=n)]


def reserved_values(failures) -> dict[str, set]:
    """Attribute values that some failure keeps to chosen classes (a texture_confusion's texture)."""
    reserved: dict[str, set] = {}
    for failure in failures:
        if failure.kind == "texture_confusion":
            reserved.setdefault("texture", set()).add(failure.cue["texture"])
    return reserved


def plant(
    failure: PlantedFailure, table: dict, class_names, rng: np.random.Generator, reserved=None
) -> None:
    """Re-sample the attribute columns of ``table`` (dict of arrays, edited in place) so that
    ``failure`` holds. ``table`` has ``label`` (int), ``split`` (str) and the attribute columns;
    ``reserved`` (from :func:`reserved_values`) lists values a re-sampled column must avoid."""
    reserved = reserved or {}
    rates = failure.rates
    label = table["label"]
    train = table["split"] == "train"
    own = label == class_names.index(failure.class_name)

    if failure.kind == "spurious_background":
        cue = failure.cue["background"]
        rows = np.flatnonzero(own & train)
        on_cue = rng.random(rows.size) < rates["train_cue"]
        table["background"][rows[on_cue]] = cue
        table["background"][rows[~on_cue]] = _choose_other(rng, (~on_cue).sum(), BACKGROUNDS, cue)
        return

    if failure.kind == "missing_part":
        for rows, rate in (
            (own & train, rates["train_member"]),
            (own & ~train, rates["eval_member"]),
        ):
            rows = np.flatnonzero(rows)
            table["has_part"][rows] = rng.random(rows.size) >= rate
        return

    other = label == class_names.index(failure.confused_with)
    if failure.kind == "texture_confusion":
        # the texture belongs to confused_with (train_cue of its images, every split); no other
        # class wears it, except the failing class in val/test (eval_member of its images)
        texture = failure.cue["texture"]
        for rows, rate in (
            (other, rates["train_cue"]),
            (own & ~train, rates["eval_member"]),
            (~other & ~(own & ~train), 0.0),
        ):
            rows = np.flatnonzero(rows)
            wear = rng.random(rows.size) < rate
            table["texture"][rows[wear]] = texture
            keep = rows[~wear & (table["texture"][rows] == texture)]
            table["texture"][keep] = _choose_other(rng, keep.size, TEXTURES, texture)
        return

    # conjunction
    columns = list(failure.cue)
    vocab = {c: _VOCAB[c] for c in columns}
    triple = [failure.cue[c] for c in columns]
    # no class but confused_with (and, in val/test, the failing class) ever shows the triple
    has_triple = np.ones(len(label), dtype=bool)
    for c, value in zip(columns, triple):
        has_triple &= table[c] == value
    rows = np.flatnonzero(has_triple & ~other)
    breaker = rng.integers(0, 3, size=rows.size)
    for k, c in enumerate(columns):
        sel = rows[breaker == k]
        table[c][sel] = _choose_other(
            rng, sel.size, vocab[c], {failure.cue[c], *reserved.get(c, ())}
        )
    # confused_with: the triple in train_cue of its images, none of its values otherwise
    rows = np.flatnonzero(other)
    show = rng.random(rows.size) < rates["train_cue"]
    for c, value in zip(columns, triple):
        table[c][rows[show]] = value
        table[c][rows[~show]] = _choose_other(
            rng, (~show).sum(), vocab[c], {value, *reserved.get(c, ())}
        )
    # the failing class: each pair (without the third) at `pair`, the triple in val/test only
    for split_rows, member_rate, pair_rate in (
        (own & train, 0.0, rates["train_pair"]),
        (own & ~train, rates["eval_member"], rates["eval_pair"]),
    ):
        rows = np.flatnonzero(split_rows)
        draw = rng.random(rows.size)
        cut = np.cumsum([member_rate, pair_rate, pair_rate, pair_rate])
        group = np.searchsorted(cut, draw, side="right")  # 0 triple, 1..3 pairs, 4 free
        for k, c in enumerate(columns):
            sel = rows[(group == 0) | ((group >= 1) & (group <= 3) & (group - 1 != k))]
            table[c][sel] = failure.cue[c]
            sel = rows[group - 1 == k]  # the pair that leaves column k out
            table[c][sel] = _choose_other(
                rng, sel.size, vocab[c], {failure.cue[c], *reserved.get(c, ())}
            )
