"""One shape for every method's answer: ``result.failure_modes(classes="all", **thresholds)``.

Each method's result (Barlow's per-class trees, PRIME's search, the failure directions, a CES
explanation, a Defuse scenario review) derives from :class:`FailureModeSource`. The call is
the same everywhere:

- ``classes``: ``"all"``, a class name or index, or a list of them;
- ``**thresholds``: the method's thresholds by name, as declared once in
  :data:`failwidgets.thresholds.THRESHOLDS` (unknown names and out-of-range values are
  refused with the threshold's name); thresholds not given keep the result's own values.

It returns an :class:`~failwidgets.methods.answers.AnswerList` of
:class:`~failwidgets.modes.FailureMode`, whose ``reason`` says why when it is empty. The
views (:class:`failwidgets.widgets.failure_view.FailureView`) and the Explorer call this and
nothing else.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence

from .class_names import class_index
from .thresholds import THRESHOLDS

__all__ = ["FailureModeSource", "resolve_classes", "resolve_thresholds"]


def resolve_classes(classes, class_names: Sequence[str], current: str | None = None) -> list[str]:
    """``classes`` as a list of class names.

    ``"all"`` is every class; ``"current"`` is ``[current]`` (``[]`` when ``current`` is
    None); a name or index is that class; a list is each of its items. A class actually named
    "all" or "current" is taken by name. Unknown names and bad indices raise, naming
    ``classes``.
    """
    names = list(class_names)
    if isinstance(classes, str) and classes not in names:
        if classes == "all":
            return names
        if classes == "current":
            return [] if current is None else [current]
    if isinstance(classes, (str, numbers.Integral)):
        classes = [classes]
    if not isinstance(classes, Iterable):
        raise TypeError(
            "classes: expected 'all', a class name or index, or a list of them, "
            f"got {type(classes).__name__}"
        )
    return [names[class_index(c, names, name="classes")] for c in classes]


def resolve_thresholds(method: str, given: dict, current: dict) -> dict:
    """The thresholds of ``method``: ``current`` with the ``given`` values checked and put in.

    ``current`` holds the value of each threshold that applies (the result's or the view's;
    a subset of the method's specs). A name not in ``current`` is a TypeError listing them; a
    value out of its range is the spec's TypeError/ValueError naming it.
    """
    specs = {s.name: s for s in THRESHOLDS.get(method, ()) if s.name in current}
    values = {name: current[name] for name in specs}
    for name, value in given.items():
        if name not in specs:
            raise TypeError(f"{name}: not a threshold of {method}; known: {sorted(specs)}")
        values[name] = specs[name].check(value, name)
    return values


class FailureModeSource:
    """Base of a method's result: :meth:`failure_modes` with one signature for every method.

    Subclasses set ``method`` (a key of ``THRESHOLDS``), provide ``class_names``, return their
    current threshold values from :meth:`threshold_values` and list the modes in
    :meth:`_failure_modes`.
    """

    method: str = ""

    @property
    def class_names(self) -> list[str]:
        raise NotImplementedError

    def threshold_values(self) -> dict:
        """The value of each threshold used when :meth:`failure_modes` is not given it
        (default: the specs' defaults)."""
        return {s.name: s.default for s in THRESHOLDS[self.method]}

    def failure_modes(self, classes="all", **thresholds):
        """The failure modes of ``classes`` at the given thresholds.

        Parameters
        ----------
        classes : "all", a class name or index, or a list of them.
        **thresholds : the method's thresholds (see ``failwidgets.thresholds.THRESHOLDS``);
            the ones not given keep :meth:`threshold_values`.

        Returns
        -------
        AnswerList of FailureMode, with a ``reason`` when empty.
        """
        names = resolve_classes(classes, self.class_names)
        values = resolve_thresholds(self.method, thresholds, self.threshold_values())
        return self._failure_modes(names, values)

    def _failure_modes(self, class_names: list[str], thresholds: dict):
        raise NotImplementedError
