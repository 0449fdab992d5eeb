"""The failure directions' rule: a threshold on the class's SVM decision value (or on
the similarity to a caption)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .base import Rule, _aligned, _check_source, _values_at

__all__ = ["DirectionRule"]


@dataclass(frozen=True, eq=False)
class DirectionRule(Rule):
    """Failure directions: a threshold on a per-image score of the class's images.

    ``side="below"`` (a failure direction's tail): members have ``score <= threshold``,
    the score being the decision value of the class's SVM on the image's CLIP embedding
    (negative: predicted hard). ``side="above"`` (a caption's subpopulation): members have
    ``score >= threshold``, the score being the cosine similarity to the caption.

    Parameters
    ----------
    class_name : the class (the SVM of a class is fitted on the images labelled with it).
    score : callable ``(evalset, rows) -> (len(rows),)`` values, or an (N,) array.
    threshold : a finite number.
    side : ``"below"`` or ``"above"``.
    what : the score's name in :attr:`description`.
    """

    score: object = field(repr=False)
    threshold: float
    side: str = "below"
    what: str = "decision value of the class's failure-direction SVM"
    method = "directions"

    def _check_fields(self) -> None:
        _check_source(self.score, "score")
        if self.side not in ("below", "above"):
            raise ValueError(f"side: expected 'below' or 'above', got {self.side!r}")
        threshold = self.threshold
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.number)):
            raise TypeError(f"threshold: expected a number, got {type(threshold).__name__}")
        if math.isnan(float(threshold)):
            raise ValueError("threshold: is NaN")
        object.__setattr__(self, "threshold", float(threshold))

    @staticmethod
    def boundary(selected: np.ndarray, rest: np.ndarray, side: str = "below") -> float:
        """The threshold that separates ``selected`` scores from the ``rest``: midway between
        the last selected and the first other value (robust to rounding when the scores are
        computed again); beyond the selected ones when nothing else is left."""
        selected = np.asarray(selected, dtype=float)
        rest = np.asarray(rest, dtype=float)
        if selected.size == 0:
            raise ValueError("selected: no scores to put a threshold after")
        if side == "below":
            last = float(np.max(selected))
            after = rest[rest > last]
            return (last + float(after.min())) / 2 if after.size else math.inf
        last = float(np.min(selected))
        after = rest[rest < last]
        return (last + float(after.max())) / 2 if after.size else -math.inf

    @property
    def description(self) -> str:
        op = "<=" if self.side == "below" else ">="
        return f"{self._where()} with {self.what} {op} {self.threshold:.4g}"

    def _select(self, evalset, rows):
        values = _values_at(self.score, evalset, rows, "score").astype(float)
        with np.errstate(invalid="ignore"):  # NaN (no SVM) selects nothing
            if self.side == "below":
                return values <= self.threshold
            return values >= self.threshold

    @classmethod
    def from_result(cls, result, class_name: str, threshold: float) -> DirectionRule:
        """The tail rule of a :class:`~failwidgets.methods.directions.FailureDirectionsResult`
        class (its embeddings are aligned with the EvalSet's rows)."""
        c = result.class_index(class_name)
        # one score function per result and class, so that equal rules share their source
        # (the Explorer remembers held-out drops by rule parameters and source identity)
        sources = result.__dict__.setdefault("_rule_scores", {})
        decision = sources.get(c)
        if decision is None:

            def decision(evalset, rows):
                _aligned(result.embeddings, evalset, "the failure directions' embeddings")
                return result.model.class_decision_function(result.embeddings[rows], c)

            sources[c] = decision
        return cls(class_name=class_name, score=decision, threshold=threshold)

    @classmethod
    def from_caption(cls, result, class_name: str, text_embedding, threshold: float):
        """The rule of a caption's subpopulation: cosine similarity of the CLIP image
        embedding to the caption's text embedding at least ``threshold``."""
        text = np.asarray(text_embedding, dtype=np.float64)

        def similarity(evalset, rows):
            _aligned(result.embeddings, evalset, "the failure directions' embeddings")
            images = np.asarray(result.embeddings[rows], dtype=np.float64)
            norms = np.linalg.norm(images, axis=1, keepdims=True)
            return (images / np.maximum(norms, 1e-12)) @ text

        return cls(
            class_name=class_name,
            score=similarity,
            threshold=threshold,
            side="above",
            what="CLIP similarity to the caption",
        )
