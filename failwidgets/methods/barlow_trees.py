"""Barlow's answer for every class of an EvalSet: one failure tree per class, fitted on demand.

:class:`BarlowTrees` is what :meth:`Barlow.fit_classes <failwidgets.methods.barlow.Barlow.fit_classes>`
returns and what :class:`~failwidgets.widgets.tree.TreeView` shows. A class's tree is fitted
the first time it is asked for (:meth:`BarlowTrees.tree`) and kept, so a million-image
EvalSet costs only the classes one looks at. It is a
:class:`~failwidgets.mode_source.FailureModeSource`: ``failure_modes(classes, delta=, tau=)``
lists the passing leaves of the classes' trees as failure modes, each with the
:class:`~failwidgets.rules.TreePathRule` that re-applies it to held-out rows.
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import replace

import numpy as np

from ..data import EvalSet
from ..mode_source import FailureModeSource
from ..modes import FailureMode
from ..rows import analysed_rows
from .answers import answer_list
from .barlow_inputs import check_features, common_value, given_results
from .barlow_result import GROUPINGS, BarlowResult

__all__ = ["GROUPINGS", "BarlowTrees"]


class BarlowTrees(FailureModeSource):
    """One Barlow tree per class of ``evalset`` (fitted when first asked for, then kept).

    Parameters
    ----------
    evalset : EvalSet
    features : array (N, D), optional
        One feature row per EvalSet row (e.g. a robust model's penultimate layer). None when
        only ``results`` are given (then a class without a given tree has none).
    results : BarlowSurvey (``keep_results=True``), mapping class -> BarlowResult, or one
        BarlowResult, optional
        The user's own fitted trees, used as they are (checked against ``evalset``).
    indices, split : the analysed rows (indices, a boolean mask or a split name; a split
        name). Each tree is fitted on, and reports members from, the class's rows among them.
    grouping : "label" (images labelled as the class) or "prediction" (predicted as it).
    estimator : Barlow
        Fits the trees (its ``k``, ``depth``, ``random_state``...); its ``delta``/``tau`` are
        the thresholds :meth:`failure_modes` uses when not given. Build this object with
        :meth:`Barlow.fit_classes <failwidgets.methods.barlow.Barlow.fit_classes>`.
    """

    method = "barlow"

    def __init__(
        self,
        evalset: EvalSet,
        features=None,
        *,
        results=None,
        indices=None,
        split: str | None = None,
        grouping: str | None = None,
        estimator,
    ):
        if not isinstance(evalset, EvalSet):
            raise TypeError(f"evalset: expected an EvalSet, got {type(evalset).__name__}")
        if features is None and results is None:
            raise TypeError(
                "features: expected an array (samples x features), got None; pass features= "
                "or your fitted trees in results="
            )
        self.evalset = evalset
        self.features = None if features is None else check_features(features, evalset.n)
        self.rows, self.where = analysed_rows(evalset, indices, split)
        self.given: dict[tuple[str, str], BarlowResult] = {}
        if results is not None:
            preferred = grouping if grouping in GROUPINGS else "label"
            self.given = given_results(evalset, results, self.rows, self.where, preferred)
        if grouping is None:
            groupings = {by for _, by in self.given}
            grouping = groupings.pop() if len(groupings) == 1 else "label"
        n_features = None if self.features is None else self.features.shape[1]
        used = max((int(r.table["feature"].max()) for r in self.given.values()), default=-1)
        if n_features is not None and used >= n_features:
            raise ValueError(
                f"features: the given results split on feature {used} but features has only "
                f"{n_features} columns; pass the features the results were fitted on"
            )
        self.grouping = _check_grouping(grouping)
        self.estimator = _checked(estimator, n_features)
        self._cache: dict[tuple, BarlowResult | str] = {}

    @property
    def depth(self) -> int:
        return int(self.estimator.depth)

    @property
    def k(self) -> int:
        return int(self.estimator.k)

    @property
    def delta(self) -> float:
        return float(self.estimator.delta)

    @property
    def tau(self) -> float:
        return float(self.estimator.tau)

    # ---------------------------------------------------------------- settings
    def with_settings(self, **settings) -> BarlowTrees:
        """A copy with another ``grouping`` or other :class:`Barlow` parameters (``depth``,
        ``k``, ``delta``, ``tau``, ``random_state``...) that shares this one's fitted trees (a
        tree fitted before is not fitted again)."""
        params = _params(self.estimator)
        unknown = set(settings) - {"grouping", *params}
        if unknown:
            raise TypeError(f"{sorted(unknown)[0]}: not a setting of BarlowTrees")
        other = object.__new__(BarlowTrees)
        other.__dict__.update(self.__dict__)  # the cache dict itself is shared
        other.grouping = _check_grouping(settings.pop("grouping", self.grouping))
        params.update(settings)
        n_features = None if self.features is None else self.features.shape[1]
        other.estimator = _checked(type(self.estimator)(**params), n_features)
        if set(settings) - {"depth", "k", "delta", "tau"}:  # the cached trees do not apply
            other._cache = {}
        return other

    def given_thresholds(self) -> dict:
        """``delta`` and ``tau`` as the given trees were fitted with, where they all share
        one value (empty without given trees)."""
        given = list(self.given.values())
        shared = {
            name: common_value([getattr(r, name) for r in given], float("nan"))
            for name in ("delta", "tau")
        }
        return {name: v for name, v in shared.items() if given and v == v}

    # ---------------------------------------------------------------- protocol
    @property
    def class_names(self) -> list[str]:
        return list(self.evalset.class_names)

    def threshold_values(self) -> dict:
        return {"delta": self.delta, "tau": self.tau}

    def _failure_modes(self, class_names: list[str], thresholds: dict):
        """Passing leaves of each class's tree; when empty, the ``reason`` says why for each
        class: no tree (why), no errors to explain, or :meth:`BarlowResult.empty_reason`."""
        modes, reasons = [], []
        for name in class_names:
            result = self.tree(name)
            if not isinstance(result, BarlowResult):
                reasons.append((name, result))
                continue
            if result.nothing_to_explain:
                reasons.append((name, f"no errors among its {result.n} images: nothing to explain"))
                continue
            found = result.to_failure_modes(
                thresholds["delta"], thresholds["tau"], class_name=name,
                features=self.features, grouping=self.grouping,
            )  # fmt: skip
            if not found:
                reasons.append((name, str(found.reason)))
            modes += [
                replace(m, description=self.describe(m.description, name), members=np.sort(m.members))
                for m in found
            ]  # fmt: skip
        if len(class_names) == 1:
            return answer_list(modes, lambda: reasons[0][1] if reasons else "")
        return answer_list(
            modes,
            lambda: "; ".join(f"{name}: {why}" for name, why in reasons) or "no class was given",
        )

    # ---------------------------------------------------------------- trees
    def tree(self, class_name) -> BarlowResult | str:
        """The tree of ``class_name`` (name or index) at this grouping/depth/k, fitted once;
        a message saying why when there is none (no images, nothing to fit, no tree given).
        A given tree is returned as it is, whatever ``depth`` and ``k``."""
        name = self.evalset.class_names[self.evalset.class_index(class_name)]
        given = self.given.get((name, self.grouping))
        if given is not None:
            return given
        if self.features is None:
            return (
                f"No Barlow result was given for {name} ({self.grouping} grouping): pass its "
                "tree in results=, or features= to fit one."
            )
        key = (name, self.grouping, self.depth, self.k)
        if key not in self._cache:
            self._cache[key] = self._fit(name)
        return self._cache[key]

    def _fit(self, name: str) -> BarlowResult | str:
        group = self.group(name)
        if group.size == 0:
            who = "labelled" if self.grouping == "label" else "predicted as"
            return f"No images {who} {name}{self.where}: nothing to fit."
        try:  # a fresh estimator: fit() keeps its result_, and the user's stays as it was
            fresh = type(self.estimator)(**_params(self.estimator))
            return fresh.fit(self.features, self.evalset, group)
        except ValueError as error:  # all misclassified, too few samples
            return f"No tree for {name} ({self.grouping} grouping): {error}"

    def is_given(self, result) -> bool:
        """Whether ``result`` is one of the user's given trees (shown unchanged)."""
        return result is not None and any(result is g for g in self.given.values())

    def group(self, class_name) -> np.ndarray:
        """The class's images in this grouping among the analysed rows (ascending)."""
        es = self.evalset
        group = es.group(es.class_index(class_name), by=self.grouping)
        return group if self.rows is None else np.intersect1d(group, self.rows)

    def default_class(self) -> str:
        """The given tree with the most errors, else the class with the most errors."""
        es = self.evalset
        given = [(r.n_errors, name) for (name, by), r in self.given.items() if by == self.grouping]
        if given:
            return max(given, key=lambda item: (item[0], -es.class_index(item[1])))[1]
        rows = np.arange(es.n) if self.rows is None else self.rows
        values = es.labels if self.grouping == "label" else es.predictions
        wrong = rows[~es.correct[rows]]
        return es.class_names[int(np.argmax(np.bincount(values[wrong], minlength=es.n_classes)))]

    def describe(self, rule: str, class_name: str) -> str:
        """A mode's description: the rule, prefixed for the prediction grouping."""
        return f"predicted as {class_name}: {rule}" if self.grouping == "prediction" else rule

    def node_mode(self, class_name, node: int) -> FailureMode:
        """Node ``node`` of the class's tree as a failure mode (with its path rule when the
        features are known)."""
        from ..rules import TreePathRule

        result = self.tree(class_name)
        if not isinstance(result, BarlowResult):
            raise ValueError(f"node: no tree to select from ({result})")
        name = self.evalset.class_names[self.evalset.class_index(class_name)]
        rule = None
        if self.features is not None:
            conditions = result.rule(node).conditions
            rule = TreePathRule(name, conditions, self.features, grouping=self.grouping)
        return FailureMode.from_members(
            "barlow",
            name,
            self.describe(str(result.table["rule"][node]), name),
            np.sort(result.members(node)),
            self.evalset,
            reference_indices=result.group,
            grouping=None,  # the tree's group is the class's rows
            rule=rule,
        )


def _params(estimator) -> dict:
    """The estimator's constructor parameters (as scikit-learn's ``get_params``)."""
    names = inspect.signature(type(estimator).__init__).parameters
    return {name: getattr(estimator, name) for name in names if name != "self"}


def _checked(estimator, n_features: int | None):
    if not (hasattr(estimator, "fit") and hasattr(estimator, "_check_params")):
        raise TypeError(f"estimator: expected a Barlow, got {type(estimator).__name__}")
    estimator._check_params(sys.maxsize if n_features is None else n_features)  # no k limit
    return estimator


def _check_grouping(value) -> str:
    if value not in GROUPINGS:
        raise ValueError(f"grouping: expected 'label' or 'prediction', got {value!r}")
    return value
