"""Barlow: failure trees on robust features (Singla et al., CVPR 2021).

For a group of evaluated images (the images with one label, the images predicted as one
class, or any index set) Barlow explains where the model fails with a shallow decision tree
over interpretable features (by default the penultimate layer of an L2-robust CNN):

1. error label ``E = 1`` for misclassified images of the group, ``0`` otherwise;
2. the ``k`` features with the highest mutual information with ``E``
   (``mutual_info_classif(X, E, random_state=rs)``, computed exactly and fast by
   :mod:`failwidgets.methods.mutual_info`);
3. a decision tree on those features (entropy criterion, depth 1 to 3, class weights
   ``{0: 1, 1: n_correct / n_errors}``, fixed ``random_state``);
4. for every node, on the fitting data: error rate ``ER = errors / size``, error coverage
   ``EC = errors / all errors of the group``, importance value ``IV = ER * EC``; for the tree,
   the base error rate ``BER`` (ER of the group) and ``ALER = sum over leaves of ER * EC``;
5. a leaf is a failure mode when ``ER > BER + delta`` and ``EC > tau`` (paper: 0.1, 0.2; the
   reference code uses delta = 0 and no tau). Changing delta/tau needs no refit
   (:meth:`BarlowResult.leaves`).

Rules are reported in ORIGINAL feature indices (the reference prints indices into the
selected subset). A split ``feature <= threshold`` compares the feature as float32, as
scikit-learn's trees do; :meth:`Rule.mask` re-applies a rule to new feature rows.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from numbers import Integral

import numpy as np
import pandas as pd

from ..checks import check_int
from ..class_names import class_index
from ..thresholds import spec as threshold_spec
from .barlow_inputs import check_feature_matrix
from .barlow_result import GROUPINGS, NODE_COLUMNS, BarlowResult, BarlowSurvey, _check_unit
from .mutual_info import _mutual_info_codes, _n_workers, _noise_for
from .tree_conditions import Condition, Rule

__all__ = [
    "NODE_COLUMNS",
    "Barlow",
    "BarlowResult",
    "BarlowSurvey",
    "Condition",
    "Outcomes",
    "Rule",
]


# --------------------------------------------------------------------------- outcomes
@dataclass(frozen=True)
class Outcomes:
    """Correctness of N evaluated samples, with labels and predictions when known.

    Barlow only needs ``correct`` for an index group; class groupings need labels
    (``"label"``) or predictions (``"prediction"``). Built from an EvalSet (duck-typed:
    ``correct``, ``label_group``, ``prediction_group``, ``class_names``), a
    ``(labels, predictions)`` pair, or a boolean ``correct`` vector by :meth:`from_any`.
    """

    correct: np.ndarray
    labels: np.ndarray | None = None
    predictions: np.ndarray | None = None
    class_names: tuple[str, ...] | None = None
    source: object = field(default=None, repr=False, compare=False)

    @property
    def n(self) -> int:
        return int(self.correct.shape[0])

    @property
    def n_classes(self) -> int:
        if self.class_names is not None:
            return len(self.class_names)
        known = [a for a in (self.labels, self.predictions) if a is not None and a.size]
        return int(max(a.max() for a in known)) + 1 if known else 0

    @classmethod
    def from_any(cls, evalset) -> Outcomes:
        if isinstance(evalset, Outcomes):
            return evalset
        if hasattr(evalset, "correct"):
            correct = np.asarray(evalset.correct)
            if correct.ndim != 1 or correct.dtype != bool:
                raise TypeError("evalset: its `correct` must be a 1-D boolean array")
            labels = getattr(evalset, "labels", None)
            predictions = getattr(evalset, "predictions", None)
            names = getattr(evalset, "class_names", None)
            return cls(
                correct=correct,
                labels=None if labels is None else np.asarray(labels),
                predictions=None if predictions is None else np.asarray(predictions),
                class_names=None if names is None else tuple(str(n) for n in names),
                source=evalset,
            )
        if isinstance(evalset, tuple) and len(evalset) == 2:
            labels, predictions = (np.asarray(a) for a in evalset)
            if labels.ndim != 1 or labels.shape != predictions.shape:
                raise ValueError(
                    "evalset: (labels, predictions) must be 1-D arrays of equal length, got "
                    f"shapes {labels.shape} and {predictions.shape}"
                )
            for name, values in (("labels", labels), ("predictions", predictions)):
                if values.size and values.dtype.kind not in "iu":
                    raise TypeError(f"evalset: {name} must be integer class indices")
                if values.size and values.min() < 0:
                    raise ValueError(f"evalset: {name} must be non-negative class indices")
            return cls(correct=labels == predictions, labels=labels, predictions=predictions)
        array = np.asarray(evalset)
        if array.dtype == bool and array.ndim == 1:
            return cls(correct=array)
        raise TypeError(
            "evalset: expected an EvalSet, a (labels, predictions) pair or a boolean "
            f"`correct` vector, got {type(evalset).__name__}"
        )

    def class_index(self, cls) -> int:
        if self.source is not None and hasattr(self.source, "class_index"):
            return int(self.source.class_index(cls))
        names = self.class_names if self.class_names is not None else range(max(self.n_classes, 1))
        return class_index(cls, names, "group")

    def class_name(self, index: int) -> str:
        if self.class_names is not None and 0 <= index < len(self.class_names):
            return self.class_names[index]
        return str(index)

    def all_groups(self, by: str) -> list[np.ndarray]:
        """Index arrays of every class's grouping (one pass over the labels/predictions)."""
        if by not in GROUPINGS:
            raise ValueError(f"groupings: expected 'label' or 'prediction', got {by!r}")
        values = self.labels if by == "label" else self.predictions
        if values is None:
            return [self.group(by, c) for c in range(self.n_classes)]
        order = np.argsort(values, kind="stable")
        bounds = np.searchsorted(values[order], np.arange(self.n_classes + 1))
        return [order[bounds[c] : bounds[c + 1]].astype(np.int64) for c in range(self.n_classes)]

    def group(self, by: str, cls) -> np.ndarray:
        """Barlow's grouping: samples labelled ``cls`` or predicted as ``cls``."""
        if by not in GROUPINGS:
            raise ValueError(f"group: grouping must be 'label' or 'prediction', got {by!r}")
        index = self.class_index(cls)
        method = "label_group" if by == "label" else "prediction_group"
        if self.source is not None and hasattr(self.source, method):
            return np.asarray(getattr(self.source, method)(index), dtype=np.int64)
        values = self.labels if by == "label" else self.predictions
        if values is None:
            raise ValueError(
                f"group: a {by} grouping needs {by}s; pass an EvalSet or (labels, predictions)"
            )
        return np.flatnonzero(values == index).astype(np.int64)


# --------------------------------------------------------------------------- estimator
class Barlow:
    """Barlow failure trees (estimator; :meth:`fit` returns a :class:`BarlowResult`).

    Parameters
    ----------
    k : number of features kept by mutual information (paper: 20; ImageNet notebook: 50).
    depth : maximum tree depth, 1 to 3.
    delta, tau : default error-rate margin and error-coverage threshold of a failure leaf.
    n_neighbors : neighbours of the k-NN mutual information estimator (scikit-learn's 3).
    random_state : int seed of the MI noise and of the tree (the reference uses 0).
    n_jobs : threads (None: 1, -1: all cores): over feature blocks in :meth:`fit`, over
        groups in :meth:`survey`.
    """

    def __init__(
        self,
        k: int = 20,
        depth: int = 1,
        delta: float = threshold_spec("barlow", "delta").default,
        tau: float = threshold_spec("barlow", "tau").default,
        n_neighbors: int = 3,
        random_state: int = 0,
        n_jobs: int | None = None,
    ):
        self.k = k
        self.depth = depth
        self.delta = delta
        self.tau = tau
        self.n_neighbors = n_neighbors
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _check_params(self, n_features: int) -> None:
        check_int(self.k, "k", 1)
        if self.k > n_features:
            raise ValueError(
                f"k: {self.k} features requested but the feature matrix has only "
                f"{n_features} columns"
            )
        check_int(self.depth, "depth", 1, 3)
        _check_unit(self.delta, "delta")
        _check_unit(self.tau, "tau")
        check_int(self.n_neighbors, "n_neighbors", 1)
        if not isinstance(self.random_state, Integral) or isinstance(self.random_state, bool):
            raise TypeError(
                f"random_state: expected an int seed (Barlow is deterministic), got "
                f"{type(self.random_state).__name__}"
            )
        _n_workers(self.n_jobs, 1)

    # ---------------------------------------------------------------- fit
    def fit_classes(
        self, features, evalset, *, grouping: str = "label", indices=None, split=None, results=None
    ):
        """Barlow for every class of ``evalset``, each class's tree fitted when first asked
        for (:class:`~failwidgets.methods.barlow_trees.BarlowTrees`).

        Parameters
        ----------
        features : array (N, D), one row per EvalSet sample (None with ``results``).
        evalset : EvalSet.
        grouping : "label" or "prediction" (images labelled / predicted as the class).
        indices, split : the analysed rows (indices, boolean mask or split name; a split).
        results : the user's own fitted trees, used as they are (see ``BarlowTrees``).
        """
        from .barlow_trees import BarlowTrees

        return BarlowTrees(
            evalset, features, results=results, indices=indices, split=split,
            grouping=grouping, estimator=self,
        )  # fmt: skip

    # ---------------------------------------------------------------- fit
    def fit(self, features, evalset, group=None) -> BarlowResult:
        """Fit the failure tree of one group.

        Parameters
        ----------
        features : array (N, D), one row per EvalSet sample (e.g. robust CNN features).
        evalset : EvalSet, ``(labels, predictions)`` pair, or boolean ``correct`` vector.
        group : None (all samples), ``("label", cls)`` / ``("prediction", cls)`` with a class
            index or name, or any index set (int indices or a boolean mask of length N).
        """
        outcomes = Outcomes.from_any(evalset)
        features = check_feature_matrix(features, outcomes.n)
        self._check_params(features.shape[1])
        rows = _resolve_group(outcomes, group)
        self.result_ = self._fit_rows(features, outcomes, rows, self.n_jobs)
        return self.result_

    def _fit_rows(self, features, outcomes: Outcomes, rows: np.ndarray, n_jobs) -> BarlowResult:
        from sklearn.tree import DecisionTreeClassifier

        errors = ~outcomes.correct[rows]
        n_errors = int(errors.sum())
        n = rows.shape[0]
        params = {
            "k": int(self.k),
            "depth": int(self.depth),
            "n_neighbors": int(self.n_neighbors),
            "random_state": int(self.random_state),
        }
        if n_errors == 0:
            return _nothing_to_explain(rows, errors, float(self.delta), float(self.tau), params)
        if n_errors == n:
            raise ValueError(
                f"group: all {n} samples are misclassified; a failure tree needs correctly "
                "classified samples to contrast with"
            )
        if n < 3:
            raise ValueError(f"group: {n} samples are too few (need at least 3)")

        codes = errors.astype(np.int64)
        noise = _noise_for(int(self.random_state), n, features.shape[1])
        mi = _mutual_info_codes(
            features, rows, codes, int(self.n_neighbors), noise, n_jobs, name="features"
        )
        selected = np.argsort(-mi, kind="stable")[: int(self.k)]

        n_correct = n - n_errors
        tree = DecisionTreeClassifier(
            criterion="entropy",
            max_depth=int(self.depth),
            class_weight={0: 1.0, 1: n_correct / n_errors},
            random_state=int(self.random_state),
        )
        # The tree reads float32 columns: hand it a Fortran-ordered float32 copy and skip
        # its input validation (the mutual information has rejected non-finite values; only
        # float64 features can still overflow float32).
        with np.errstate(over="ignore"):
            X = np.asfortranarray(features[np.ix_(rows, selected)], dtype=np.float32)
        if features.dtype != np.float32 and not np.isfinite(X).all():
            raise ValueError("features: values too large for float32 (the tree's dtype)")
        tree.fit(X, codes, check_input=False)
        return _tree_result(
            tree, X, rows, errors, selected, mi, float(self.delta), float(self.tau), params
        )

    # ---------------------------------------------------------------- survey
    def survey(
        self,
        features,
        evalset,
        groupings=GROUPINGS,
        classes=None,
        keep_results: bool = False,
    ) -> BarlowSurvey:
        """Fit one tree per class and grouping (the paper's automatic evaluation).

        Parameters
        ----------
        features, evalset : as in :meth:`fit`; ``evalset`` must provide the groupings.
        groupings : subset of ("label", "prediction").
        classes : class indices or names (default: every class).
        keep_results : keep every :class:`BarlowResult` in ``survey.results``.
        """
        start = time.perf_counter()
        outcomes = Outcomes.from_any(evalset)
        features = check_feature_matrix(features, outcomes.n)
        self._check_params(features.shape[1])
        if isinstance(groupings, str):
            groupings = (groupings,)
        groupings = tuple(groupings)
        bad = [g for g in groupings if g not in GROUPINGS]
        if bad or not groupings:
            raise ValueError(f"groupings: expected a subset of {GROUPINGS}, got {groupings!r}")
        if classes is None:
            if outcomes.n_classes == 0:
                raise ValueError("evalset: no classes known; pass an EvalSet or labels")
            class_ids = list(range(outcomes.n_classes))
        else:
            class_ids = [outcomes.class_index(c) for c in classes]
        tasks = []
        for grouping in groupings:
            groups = outcomes.all_groups(grouping)
            tasks += [(grouping, c, outcomes.class_name(c), groups[c]) for c in class_ids]
        return self._run(features, outcomes, tasks, groupings, keep_results, start)

    def fit_groups(self, features, evalset, groups, keep_results: bool = False) -> BarlowSurvey:
        """Fit one tree per index set of ``groups`` ({name: indices}); grouping "custom"."""
        start = time.perf_counter()
        outcomes = Outcomes.from_any(evalset)
        features = check_feature_matrix(features, outcomes.n)
        self._check_params(features.shape[1])
        if not hasattr(groups, "items") or not groups:
            raise ValueError("groups: expected a non-empty mapping {name: indices}")
        tasks = []
        for name, indices in groups.items():
            array = np.asarray(indices)
            rows = np.zeros(0, dtype=np.int64) if array.size == 0 else None
            if rows is None:
                rows = _resolve_group(outcomes, array)
            tasks.append(("custom", -1, str(name), rows))
        return self._run(features, outcomes, tasks, ("custom",), keep_results, start)

    def _run(self, features, outcomes, tasks, groupings, keep_results, start) -> BarlowSurvey:
        largest = max((len(t[3]) for t in tasks), default=0)
        if largest:
            _noise_for(int(self.random_state), largest, features.shape[1])  # warm the cache
        delta, tau = float(self.delta), float(self.tau)

        def run(task):
            grouping, cls, name, rows = task
            row = {
                "grouping": grouping,
                "class_index": cls,
                "class_name": name,
                "size": int(len(rows)),
                "errors": int((~outcomes.correct[rows]).sum()),
            }
            status, result = _survey_status(row), None
            if status == "ok":
                result = self._fit_rows(features, outcomes, rows, None)
            row.update(_survey_metrics(result, status, delta, tau))
            return row, result

        workers = _n_workers(self.n_jobs, max(len(tasks), 1))
        if workers == 1:
            outputs = [run(t) for t in tasks]
        else:
            with ThreadPoolExecutor(workers) as pool:
                outputs = list(pool.map(run, tasks))
        per_class = pd.DataFrame([o[0] for o in outputs], columns=_SURVEY_COLUMNS)
        results = None
        if keep_results:
            results = {(o[0]["grouping"], o[0]["class_name"]): o[1] for o in outputs}
        return BarlowSurvey(
            per_class=per_class,
            summary=_survey_summary(per_class, groupings),
            results=results,
            seconds=time.perf_counter() - start,
        )


_SURVEY_COLUMNS = [
    "grouping",
    "class_index",
    "class_name",
    "size",
    "errors",
    "status",
    "base_error_rate",
    "aler",
    "aler_minus_ber",
    "n_leaves",
    "n_valid_leaves",
    "has_valid_leaf",
    "top_leaf_valid",
    "top_leaf_error_rate",
    "top_leaf_error_coverage",
    "top_leaf_rule",
]


def _survey_status(row: dict) -> str:
    if row["size"] == 0:
        return "empty"
    if row["errors"] == 0:
        return "no_errors"
    if row["errors"] == row["size"]:
        return "no_correct"
    if row["size"] < 3:
        return "too_small"
    return "ok"


def _survey_metrics(result: BarlowResult | None, status: str, delta: float, tau: float) -> dict:
    if result is None:
        return {
            "status": status,
            "base_error_rate": np.nan,
            "aler": np.nan,
            "aler_minus_ber": np.nan,
            "n_leaves": 0,
            "n_valid_leaves": 0,
            "has_valid_leaf": False,
            "top_leaf_valid": False,
            "top_leaf_error_rate": np.nan,
            "top_leaf_error_coverage": np.nan,
            "top_leaf_rule": "",
        }
    ids = result._leaf_ids()
    passes = result._passes(ids, delta, tau)
    top = int(ids[0])
    return {
        "status": status,
        "base_error_rate": result.base_error_rate,
        "aler": result.aler,
        "aler_minus_ber": result.aler_minus_ber,
        "n_leaves": int(ids.size),
        "n_valid_leaves": int(passes.sum()),
        "has_valid_leaf": bool(passes.any()),
        "top_leaf_valid": bool(passes[0]),
        "top_leaf_error_rate": float(result.table["error_rate"][top]),
        "top_leaf_error_coverage": float(result.table["error_coverage"][top]),
        "top_leaf_rule": str(result.rules[top]),
    }


def _survey_summary(per_class: pd.DataFrame, groupings) -> pd.DataFrame:
    rows = []
    for grouping in groupings:
        part = per_class[per_class["grouping"] == grouping]
        fitted = part[part["status"] == "ok"]
        n_fitted = len(fitted)
        rows.append(
            {
                "grouping": grouping,
                "n_classes": len(part),
                "n_fitted": n_fitted,
                "frac_has_valid_leaf": fitted["has_valid_leaf"].mean() if n_fitted else np.nan,
                "frac_top_leaf_valid": fitted["top_leaf_valid"].mean() if n_fitted else np.nan,
                "mean_aler_minus_ber": fitted["aler_minus_ber"].mean() if n_fitted else np.nan,
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- helpers
def _resolve_group(outcomes: Outcomes, group) -> np.ndarray:
    n = outcomes.n
    if group is None:
        return np.arange(n, dtype=np.int64)
    if isinstance(group, tuple) and len(group) == 2 and isinstance(group[0], str):
        rows = outcomes.group(group[0], group[1])
    else:
        array = np.asarray(group)
        if array.dtype == bool:
            if array.shape != (n,):
                raise ValueError(f"group: boolean mask of shape {array.shape}, expected ({n},)")
            rows = np.flatnonzero(array)
        elif array.ndim != 1:
            raise ValueError(f"group: expected 1-D indices, got shape {array.shape}")
        elif array.size and array.dtype.kind not in "iu":
            raise TypeError(f"group: expected integer indices, got dtype {array.dtype}")
        else:
            rows = array.astype(np.int64)
            if rows.size and (rows.min() < 0 or rows.max() >= n):
                raise ValueError(f"group: indices must lie in 0..{n - 1}")
            if np.unique(rows).size != rows.size:
                raise ValueError("group: contains duplicate indices")
    if rows.size == 0:
        raise ValueError("group: is empty (no samples to explain)")
    return rows.astype(np.int64)


def _nothing_to_explain(rows, errors, delta, tau, params) -> BarlowResult:
    table = {
        "node_id": np.array([0]),
        "parent": np.array([-1]),
        "depth": np.array([0]),
        "is_leaf": np.array([True]),
        "feature": np.array([-1]),
        "threshold": np.array([np.nan]),
        "edge_feature": np.array([-1]),
        "edge_op": np.array([""], dtype=object),
        "edge_threshold": np.array([np.nan]),
        "rule": np.array(["all samples"], dtype=object),
        "size": np.array([rows.size]),
        "errors": np.array([0]),
        "error_rate": np.array([0.0]),
        "error_coverage": np.array([np.nan]),
        "importance": np.array([np.nan]),
    }
    return BarlowResult(
        status="no_errors",
        group=rows,
        errors=errors,
        table=table,
        selected_features=np.zeros(0, dtype=np.int64),
        mutual_info=None,
        base_error_rate=0.0,
        aler=0.0,
        delta=delta,
        tau=tau,
        params=params,
        tree=None,
        node_members=[np.arange(rows.size)],
        rules=[Rule()],
    )


def _tree_result(tree, X, rows, errors, selected, mi, delta, tau, params) -> BarlowResult:
    structure = tree.tree_
    left, right = structure.children_left, structure.children_right
    n_nodes = structure.node_count
    path = tree.decision_path(X, check_input=False).tocsc()
    members = [path.indices[path.indptr[i] : path.indptr[i + 1]] for i in range(n_nodes)]
    sizes = np.diff(path.indptr)
    node_errors = np.array([int(errors[m].sum()) for m in members])
    total_errors = int(errors.sum())
    ber = total_errors / rows.shape[0]

    parent = np.full(n_nodes, -1)
    depth = np.zeros(n_nodes, dtype=np.int64)
    rules = [Rule()] * n_nodes
    edge_feature = np.full(n_nodes, -1)
    edge_op = np.full(n_nodes, "", dtype=object)
    edge_threshold = np.full(n_nodes, np.nan)
    is_leaf = left < 0
    feature = np.where(is_leaf, -1, selected[np.maximum(structure.feature, 0)])
    threshold = np.where(is_leaf, np.nan, structure.threshold)
    for node in range(n_nodes):  # sklearn numbers nodes in depth-first pre-order
        if is_leaf[node]:
            continue
        for child, op in ((left[node], "<="), (right[node], ">")):
            condition = Condition(int(feature[node]), op, float(threshold[node]))
            parent[child] = node
            depth[child] = depth[node] + 1
            rules[child] = Rule(rules[node].conditions + (condition,))
            edge_feature[child] = condition.feature
            edge_op[child] = op
            edge_threshold[child] = condition.threshold

    error_rate = node_errors / sizes
    coverage = node_errors / total_errors
    importance = error_rate * coverage
    table = {
        "node_id": np.arange(n_nodes),
        "parent": parent,
        "depth": depth,
        "is_leaf": is_leaf,
        "feature": feature,
        "threshold": threshold,
        "edge_feature": edge_feature,
        "edge_op": edge_op,
        "edge_threshold": edge_threshold,
        "rule": np.array([str(r) for r in rules], dtype=object),
        "size": sizes,
        "errors": node_errors,
        "error_rate": error_rate,
        "error_coverage": coverage,
        "importance": importance,
    }
    return BarlowResult(
        status="ok",
        group=rows,
        errors=errors,
        table=table,
        selected_features=selected.astype(np.int64),
        mutual_info=mi,
        base_error_rate=float(ber),
        aler=float(importance[is_leaf].sum()),
        delta=delta,
        tau=tau,
        params=params,
        tree=tree,
        node_members=members,
        rules=rules,
    )
