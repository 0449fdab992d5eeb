"""CES's rule: the side of the concept that explains the class's mistakes."""

from __future__ import annotations

from dataclasses import dataclass, field

from .base import Rule, _check_source, _values_at

__all__ = ["ConceptRule"]


@dataclass(frozen=True, eq=False)
class ConceptRule(Rule):
    """CES: the class's images on the side of a concept that explains its mistakes.

    CES explains a set of mistakes by the concept whose addition (``direction="add"``) or
    removal (``"remove"``) raises the explained probability most. The re-applicable form of
    that explanation is a subgroup: the images of the class that lack the concept (for
    ``"add"``) or carry it (for ``"remove"``), read from the concept's activation vector
    (CAV): a row carries the concept when ``w.h + b > 0`` on its bottleneck activation ``h``.
    If the explanation holds, the model is less accurate on that subgroup than on the
    class. (A CES failure mode's members are the explained images themselves, so on the
    rows it explained the rule gives the subgroup, not that set.)

    Parameters
    ----------
    class_name : the class whose images are explained (by label).
    concept : the concept's name.
    direction : ``"add"`` or ``"remove"``.
    decision : callable ``(evalset, rows) -> (len(rows),)`` CAV decision values ``w.h + b``,
        or an (N,) array of them.
    """

    concept: str
    direction: str
    decision: object = field(repr=False)
    method = "ces"

    def _check_fields(self) -> None:
        if not isinstance(self.concept, str) or not self.concept:
            raise TypeError(f"concept: expected a concept name, got {self.concept!r}")
        if self.direction not in ("add", "remove"):
            raise ValueError(f"direction: expected 'add' or 'remove', got {self.direction!r}")
        _check_source(self.decision, "decision")

    @property
    def description(self) -> str:
        side = "without" if self.direction == "add" else "with"
        return f"{self._where()} {side} the concept {self.concept} (its CAV)"

    def _select(self, evalset, rows):
        values = _values_at(self.decision, evalset, rows, "decision").astype(float)
        return values <= 0 if self.direction == "add" else values > 0

    @classmethod
    def from_explainer(cls, explainer, concept: str, class_name: str, direction: str = "add"):
        """The rule of ``concept`` for a
        :class:`~failwidgets.methods.ces.ConceptExplainer` (activations computed from the
        EvalSet's images, cached by the explainer)."""
        i = explainer.bank.index(concept)

        def decision(evalset, rows):
            activations = explainer.evalset_activations(evalset, rows)
            return explainer.bank.decision_function(activations)[:, i]

        return cls(class_name=class_name, concept=concept, direction=direction, decision=decision)
