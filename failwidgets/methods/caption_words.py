"""Candidate captions for failure directions: "a photo of a {adjective} {noun} {preposition}".

The defaults are the failure-directions reference's word lists; adjective and preposition
are optional, the noun defaults to the class name (underscores read as spaces). Extra
words are easy to add, e.g. the natural backgrounds of a data set::

    words = CaptionWords().with_extra(prepositions=NATURAL_BACKGROUNDS)
    words.candidates("bird")  # [..., "a photo of a white bird on water", ...]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType

__all__ = [
    "CIFAR10_PREPOSITIONS",
    "DEFAULT_ADJECTIVES",
    "DEFAULT_PREPOSITIONS",
    "NATURAL_BACKGROUNDS",
    "CaptionWords",
]

DEFAULT_ADJECTIVES = ("white", "blue", "red", "green", "black", "yellow", "orange", "brown")
"""The reference's colour adjectives."""

DEFAULT_PREPOSITIONS = (
    "outside",
    "inside",
    "on a black background",
    "on a white background",
    "on a green background",
    "on a blue background",
    "on a brown background",
)
"""The reference's prepositional phrases (backgrounds) shared by all classes."""

NATURAL_BACKGROUNDS = ("on grass", "on water", "on sand", "in the sky")
"""Outdoor backgrounds (the demo world's, in its CLIP's canonical phrasing) for ``with_extra``."""

CIFAR10_PREPOSITIONS = MappingProxyType(
    {
        "airplane": ("flying", "in the air", "on the tarmac", "on a road"),
        "automobile": ("on the road", "parked"),
        "bird": ("flying", "perched", "in the air", "on the ground"),
        "cat": ("on the grass", "in a house", "in the snow", "in the forest"),
        "deer": ("in a field", "in the grass", "in the snow", "in a forest"),
        "dog": ("on the grass", "in a house", "in the snow", "in the forest"),
        "frog": ("in the grass", "in a pond"),
        "horse": ("in a field", "in the grass"),
        "ship": ("in the ocean", "docked", "in the water", "on the horizon"),
        "truck": ("on the road", "parked"),
    }
)
"""The paper's class-specific prepositions for CIFAR-10 (appendix C.1.2)."""


def _words(values, name: str) -> tuple[str, ...]:
    if isinstance(values, str):
        raise TypeError(f"{name}: expected a sequence of strings, got a single string")
    out = []
    for value in values:
        if not isinstance(value, str) or not value.strip():
            raise TypeError(f"{name}: expected non-empty strings, got {value!r}")
        out.append(" ".join(value.split()))
    return tuple(dict.fromkeys(out))


def _word_map(values: Mapping, name: str) -> Mapping[str, tuple[str, ...]]:
    if not isinstance(values, Mapping):
        raise TypeError(f"{name}: expected a mapping class name -> words, got {type(values)}")
    return MappingProxyType({str(k): _words(v, f"{name}[{k!r}]") for k, v in values.items()})


def _readable(class_name: str) -> str:
    return " ".join(str(class_name).replace("_", " ").split())


@dataclass(frozen=True)
class CaptionWords:
    """Word lists for candidate captions.

    Parameters
    ----------
    adjectives : optional adjectives (each caption has none or one).
    prepositions : optional prepositional phrases shared by all classes.
    nouns : class name -> nouns to use instead of the class name.
    class_prepositions : class name -> extra prepositional phrases for that class only.
    """

    adjectives: Sequence[str] = DEFAULT_ADJECTIVES
    prepositions: Sequence[str] = DEFAULT_PREPOSITIONS
    nouns: Mapping[str, Sequence[str]] = field(default_factory=dict)
    class_prepositions: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "adjectives", _words(self.adjectives, "adjectives"))
        object.__setattr__(self, "prepositions", _words(self.prepositions, "prepositions"))
        object.__setattr__(self, "nouns", _word_map(self.nouns, "nouns"))
        object.__setattr__(
            self, "class_prepositions", _word_map(self.class_prepositions, "class_prepositions")
        )

    def with_extra(
        self,
        adjectives: Sequence[str] = (),
        prepositions: Sequence[str] = (),
        class_prepositions: Mapping[str, Sequence[str]] | None = None,
    ) -> CaptionWords:
        """A copy with more adjectives / prepositions (shared or per class) appended."""
        merged = {k: tuple(v) for k, v in self.class_prepositions.items()}
        for name, words in (class_prepositions or {}).items():
            merged[str(name)] = merged.get(str(name), ()) + tuple(
                _words(words, "class_prepositions")
            )
        return replace(
            self,
            adjectives=self.adjectives + _words(adjectives, "adjectives"),
            prepositions=self.prepositions + _words(prepositions, "prepositions"),
            class_prepositions=merged,
        )

    @staticmethod
    def reference(class_name: str) -> str:
        """The reference caption ``"a photo of a {class}"``."""
        return f"a photo of a {_readable(class_name)}"

    def nouns_for(self, class_name: str) -> tuple[str, ...]:
        """Nouns of a class: the configured ones, else the readable class name."""
        return self.nouns.get(str(class_name)) or (_readable(class_name),)

    def candidates(self, class_name: str) -> list[str]:
        """All captions "a photo of a [adjective] noun [preposition]" except the reference."""
        reference = self.reference(class_name)
        prepositions = self.prepositions + self.class_prepositions.get(str(class_name), ())
        out = []
        for noun in self.nouns_for(class_name):
            for adjective in (None, *self.adjectives):
                for preposition in (None, *prepositions):
                    words = [w for w in ("a photo of a", adjective, noun, preposition) if w]
                    caption = " ".join(words)
                    if caption != reference:
                        out.append(caption)
        return list(dict.fromkeys(out))
