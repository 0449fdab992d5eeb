"""Barlow's answers: the failure tree of one group (:class:`BarlowResult`) and the survey over
every class (:class:`BarlowSurvey`), read without refitting at any delta and tau."""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Integral

import numpy as np
import pandas as pd

from ..thresholds import spec as threshold_spec
from .answers import AnswerFrame, AnswerList, answer_frame, answer_list
from .tree_conditions import Rule

__all__ = ["GROUPINGS", "NODE_COLUMNS", "BarlowResult", "BarlowSurvey"]

GROUPINGS = ("label", "prediction")

NODE_COLUMNS = [
    "node_id",
    "parent",
    "depth",
    "is_leaf",
    "feature",
    "threshold",
    "edge_feature",
    "edge_op",
    "edge_threshold",
    "rule",
    "size",
    "errors",
    "error_rate",
    "error_coverage",
    "importance",
    "passes",
]


# --------------------------------------------------------------------------- result
@dataclass(eq=False)
class BarlowResult:
    """A fitted Barlow tree for one group.

    Attributes
    ----------
    status : ``"ok"``, or ``"no_errors"`` when the group has no misclassified sample
        (nothing to explain: one root node, no tree).
    group : global (EvalSet) indices of the group's samples, in the order given.
    errors : boolean vector, True where ``group[i]`` is misclassified.
    nodes : DataFrame, one row per tree node (see ``NODE_COLUMNS``): sklearn's node id,
        parent (-1 for the root), depth, whether it is a leaf, the split feature (original
        index, -1 for leaves) and threshold (samples with ``feature <= threshold`` go to the
        left child), the condition on the edge from the parent (``edge_feature``,
        ``edge_op`` in {"<=", ">"}, ``edge_threshold``), the path ``rule`` as text, size,
        errors, error_rate, error_coverage, importance (= ER * EC) and ``passes`` (leaves
        only: ER > BER + delta and EC > tau at the fit's delta/tau).
    selected_features : original indices of the k selected features, by decreasing MI.
    mutual_info : MI of every feature with the error label (nats), or None.
    base_error_rate, aler : BER and ALER of the tree.
    delta, tau : default thresholds of :meth:`leaves`.
    params : k, depth, n_neighbors, random_state used.
    tree : the fitted ``DecisionTreeClassifier`` (inputs: the selected features, in
        ``selected_features`` order), or None.
    """

    status: str
    group: np.ndarray
    errors: np.ndarray
    table: dict = field(repr=False)
    selected_features: np.ndarray
    mutual_info: np.ndarray | None
    base_error_rate: float
    aler: float
    delta: float
    tau: float
    params: dict
    tree: object = None
    node_members: list = field(default_factory=list, repr=False)
    rules: list = field(default_factory=list, repr=False)

    # ---------------------------------------------------------------- summaries
    @property
    def nothing_to_explain(self) -> bool:
        """True when the group has no errors."""
        return self.status == "no_errors"

    @property
    def n(self) -> int:
        return int(self.group.shape[0])

    @property
    def n_errors(self) -> int:
        return int(self.errors.sum())

    @property
    def n_nodes(self) -> int:
        return int(self.table["node_id"].shape[0])

    @property
    def aler_minus_ber(self) -> float:
        """The paper's automatic score of a tree: ALER - BER."""
        return float(self.aler - self.base_error_rate)

    def __repr__(self) -> str:
        if self.nothing_to_explain:
            return f"BarlowResult(n={self.n}, no errors: nothing to explain)"
        n_passing = int(self._passes(self._leaf_ids(), self.delta, self.tau).sum())
        why = f"; none because {self.empty_reason()}" if n_passing == 0 else ""
        return (
            f"BarlowResult(n={self.n}, errors={self.n_errors}, BER={self.base_error_rate:.3f}, "
            f"ALER={self.aler:.3f}, leaves={int(self.table['is_leaf'].sum())}, "
            f"k={self.params['k']}, depth={self.params['depth']}, "
            f"failure_leaves={n_passing}{why})"
        )

    @property
    def nodes(self) -> pd.DataFrame:
        """The node table (a new DataFrame on each access; see the class docstring)."""
        frame = pd.DataFrame({name: self.table[name] for name in NODE_COLUMNS[:-1]})
        frame["passes"] = self._passes(np.arange(self.n_nodes), self.delta, self.tau)
        return frame

    def to_frame(self) -> pd.DataFrame:
        """The node table, as :attr:`nodes`."""
        return self.nodes

    # ---------------------------------------------------------------- filtering
    def _passes(self, ids: np.ndarray, delta: float, tau: float) -> np.ndarray:
        er = self.table["error_rate"][ids]
        ec = self.table["error_coverage"][ids]
        with np.errstate(invalid="ignore"):
            ok = (er > self.base_error_rate + delta) & (ec > tau)
        return ok & self.table["is_leaf"][ids]

    def _leaf_ids(self) -> np.ndarray:
        """Leaf node ids by decreasing importance (ties: lower id first)."""
        ids = np.flatnonzero(self.table["is_leaf"])
        importance = np.nan_to_num(self.table["importance"][ids], nan=-1.0)
        return ids[np.lexsort((ids, -importance))]

    def leaves(self, delta: float | None = None, tau: float | None = None) -> pd.DataFrame:
        """Leaves with ``passes`` recomputed for ``delta``/``tau`` (no refit), by decreasing IV.

        ``passes`` is ER > BER + delta and EC > tau; None keeps the fit's value.
        """
        delta = self.delta if delta is None else _check_unit(delta, "delta")
        tau = self.tau if tau is None else _check_unit(tau, "tau")
        ids = self._leaf_ids()
        frame = pd.DataFrame({name: self.table[name][ids] for name in NODE_COLUMNS[:-1]})
        frame["passes"] = self._passes(ids, delta, tau)
        return frame

    def failure_leaves(self, delta: float | None = None, tau: float | None = None) -> AnswerFrame:
        """The leaves that pass ``delta``/``tau`` (the paper's Algorithm 1 output).

        When none passes, the frame's ``reason`` (shown in its repr) says why
        (:meth:`empty_reason`).
        """
        leaves = self.leaves(delta, tau)
        frame = leaves[leaves["passes"].to_numpy()].reset_index(drop=True)
        return answer_frame(frame, lambda: self.empty_reason(delta, tau))

    def empty_reason(self, delta: float | None = None, tau: float | None = None) -> str | None:
        """Why no leaf is a failure leaf at ``delta``/``tau`` (None when one is).

        E.g. ``"no leaf has ER > BER + δ = 0.22 and EC > τ = 0.20 (BER 0.12, δ 0.10);
        best leaf (highest IV): ER 0.19, EC 0.64; highest ER: ..."``.
        """
        delta = self.delta if delta is None else _check_unit(delta, "delta")
        tau = self.tau if tau is None else _check_unit(tau, "tau")
        if self.nothing_to_explain:
            return f"no errors among the {self.n} samples of the group: nothing to explain"
        ids = self._leaf_ids()
        if self._passes(ids, delta, tau).any():
            return None
        er, ec = self.table["error_rate"], self.table["error_coverage"]
        ber = self.base_error_rate

        def leaf(node: int) -> str:
            return f"ER {er[node]:.3f}, EC {ec[node]:.3f}, {self.table['size'][node]} samples"

        text = (
            f"no leaf has ER > BER + δ = {ber + delta:.3f} and EC > τ = {tau:.3f} "
            f"(BER {ber:.3f}, δ {delta:g}); best leaf (highest IV = ER × EC): {leaf(ids[0])}"
        )
        worst = int(ids[np.argmax(er[ids])])
        if worst != ids[0]:
            text += f"; highest ER: {leaf(worst)}"
        return text

    @property
    def top_leaf(self) -> int:
        """Node id of the leaf with the highest importance value (ties: lowest id)."""
        return int(self._leaf_ids()[0])

    def top_leaf_valid(self, delta: float | None = None, tau: float | None = None) -> bool:
        """Whether the highest-IV leaf passes (the criterion of the paper's Table 1)."""
        delta = self.delta if delta is None else _check_unit(delta, "delta")
        tau = self.tau if tau is None else _check_unit(tau, "tau")
        return bool(self._passes(self._leaf_ids()[:1], delta, tau)[0])

    # ---------------------------------------------------------------- nodes
    def _check_node(self, node_id) -> int:
        if not isinstance(node_id, Integral) or isinstance(node_id, bool):
            raise TypeError(f"node_id: expected an integer, got {type(node_id).__name__}")
        if not 0 <= int(node_id) < self.n_nodes:
            raise ValueError(f"node_id: {node_id} outside 0..{self.n_nodes - 1}")
        return int(node_id)

    def members(self, node_id: int = 0, errors_first: bool = False) -> np.ndarray:
        """Global (EvalSet) indices of the samples in node ``node_id``.

        With ``errors_first`` the misclassified members come first (each part keeps the
        group's order).
        """
        positions = self.node_members[self._check_node(node_id)]
        if errors_first:
            wrong = self.errors[positions]
            positions = np.concatenate([positions[wrong], positions[~wrong]])
        return self.group[positions]

    def errors_in(self, node_id: int = 0) -> np.ndarray:
        """Global indices of the misclassified samples in node ``node_id``."""
        positions = self.node_members[self._check_node(node_id)]
        return self.group[positions[self.errors[positions]]]

    def rule(self, node_id: int) -> Rule:
        """The conditions from the root to ``node_id`` (original feature indices)."""
        return self.rules[self._check_node(node_id)]

    def describe(self, node_id: int, group_name: str = "the group") -> str:
        """A sentence like the paper's figure captions for node ``node_id``."""
        node = self._check_node(node_id)
        if self.nothing_to_explain:
            return f"No errors in {group_name}: nothing to explain."
        er = float(self.table["error_rate"][node])
        ec = float(self.table["error_coverage"][node])
        return (
            f"For {group_name} (BER = {self.base_error_rate:.4f}), when {self.rules[node]}, "
            f"the error rate is {er:.4f} ({er - self.base_error_rate:+.2%}) and a fraction "
            f"{ec:.4f} of all failures are in this node."
        )

    def to_failure_modes(
        self,
        delta: float | None = None,
        tau: float | None = None,
        class_name: str = "",
        *,
        features=None,
        grouping: str | None = None,
    ) -> AnswerList:
        """Passing leaves as :class:`failwidgets.modes.FailureMode` objects; when none passes,
        the list's ``reason`` says why.

        ``accuracy`` is ``1 - ER`` of the leaf and ``drop`` is ``ER - BER`` (the group's
        accuracy minus the leaf's). With ``features`` (the (N, D) array the tree was fitted
        on, or a callable ``(evalset, rows) -> features``) each mode gets a
        :class:`~failwidgets.rules.TreePathRule` (the leaf's path) that re-applies it to any
        rows of the group's class; ``grouping`` is the tree's group (``"label"``,
        ``"prediction"``, or None for a custom group).
        """
        from types import SimpleNamespace

        from ..modes import FailureMode
        from ..rules import TreePathRule

        leaves = self.failure_leaves(delta, tau)
        correct = np.ones(int(self.group.max()) + 1 if self.n else 0, dtype=bool)
        correct[self.group] = ~self.errors
        outcomes = SimpleNamespace(correct=correct)  # the group's rows are the reference
        modes = []
        for row in leaves.itertuples(index=False):
            node = int(row.node_id)
            rule = None
            if features is not None:
                conditions = self.rules[node].conditions
                rule = TreePathRule(class_name, conditions, features, grouping=grouping)
            modes.append(
                FailureMode.from_members(
                    "barlow",
                    class_name,
                    str(row.rule),
                    self.members(node),
                    outcomes,
                    reference_indices=self.group,
                    grouping=None,
                    rule=rule,
                )
            )
        return answer_list(modes, lambda: leaves.reason)


# --------------------------------------------------------------------------- survey
@dataclass(eq=False)
class BarlowSurvey:
    """Barlow over every class, for label and/or prediction groupings.

    Attributes
    ----------
    per_class : DataFrame, one row per (grouping, class): size, errors, BER, ALER,
        ALER - BER, number of leaves and of passing leaves, ``has_valid_leaf`` (at least one
        leaf passes), ``top_leaf_valid`` (the highest-IV leaf passes: the paper's Table 1
        criterion) and ``status`` ("ok", "no_errors", "no_correct", "empty", "too_small").
    summary : DataFrame, one row per grouping: classes, classes with a fitted tree, the
        fraction of fitted classes with at least one valid leaf and with a valid top leaf,
        and the mean ALER - BER.
    results : {(grouping, class_name): BarlowResult or None} when ``keep_results`` was set.
    seconds : wall-clock time of the run.
    """

    per_class: pd.DataFrame
    summary: pd.DataFrame
    results: dict | None
    seconds: float


def _check_unit(value, name: str) -> float:
    """``delta`` or ``tau`` in [0, 1] (the threshold spec's check)."""
    return threshold_spec("barlow", name).check(value)
