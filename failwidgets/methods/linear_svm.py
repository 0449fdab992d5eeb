"""Balanced linear SVMs with C chosen by cross-validated balanced accuracy, made fast.

The estimator is exactly scikit-learn's ``SVC(kernel="linear", class_weight="balanced")``
(libsvm, intercept not regularised), as in the failure-directions paper. What makes the
C sweep fast, without changing the optimisation problem or its solver:

- the Gram matrix ``K = X X^T`` of a problem is computed once (one BLAS call) and libsvm is
  run with ``kernel="precomputed"``: kernel evaluations become table look-ups instead of
  D-dimensional dot products, and every fold and every C reuses the same blocks of ``K``;
- held-out decision values are ``K[test, support] @ dual_coef + intercept`` (one matrix
  product) instead of libsvm's per-sample prediction loop;
- independent problems (one per class) run in parallel threads; libsvm releases the GIL.

``solver="linear"`` runs ``SVC(kernel="linear")`` itself (the reference's way, slower);
``"auto"`` uses the Gram matrix up to ``GRAM_MAX_SAMPLES`` samples per problem.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DEFAULT_CS",
    "GRAM_MAX_SAMPLES",
    "LinearSVMFit",
    "check_Cs",
    "cv_folds",
    "fit_balanced_svm_cv",
    "fit_balanced_svms_cv",
]

DEFAULT_CS = np.logspace(-6, 0, 7)
"""The paper's grid of SVM regularisation constants: 1e-6 ... 1."""

GRAM_MAX_SAMPLES = 6000
"""Largest problem fitted through a precomputed Gram matrix by ``solver="auto"`` (288 MB)."""

_SOLVERS = ("auto", "precomputed", "linear")


@dataclass(frozen=True)
class LinearSVMFit:
    """A balanced linear SVM refitted at the C with the best cross-validated score.

    Attributes
    ----------
    coef : (D,) weight vector; ``X @ coef + intercept > 0`` predicts class 1.
    intercept : bias.
    best_C : the chosen regularisation constant (the first best on the grid).
    Cs : the grid searched.
    cv_scores : (len(Cs),) mean cross-validated balanced accuracy per C.
    """

    coef: np.ndarray
    intercept: float
    best_C: float
    Cs: np.ndarray
    cv_scores: np.ndarray

    @property
    def best_score(self) -> float:
        """The best mean cross-validated balanced accuracy (the score at ``best_C``)."""
        return float(np.max(self.cv_scores))

    def decision_function(self, X) -> np.ndarray:
        """Signed distance-like scores ``X @ coef + intercept`` (positive: class 1)."""
        return np.asarray(X, dtype=np.float64) @ self.coef + self.intercept


def check_Cs(Cs) -> np.ndarray:
    """Validate a grid of regularisation constants (finite, positive, 1-D, non-empty)."""
    array = np.asarray(Cs, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(
            f"Cs: expected a 1-D sequence of positive numbers, got shape {array.shape}"
        )
    if array.size == 0:
        raise ValueError("Cs: at least one value is needed")
    if not np.all(np.isfinite(array)) or np.any(array <= 0):
        raise ValueError(f"Cs: values must be finite and positive, got {array.tolist()}")
    return array


def cv_folds(y: np.ndarray, n_splits: int = 2, random_state: int | None = 0) -> list:
    """Deterministic stratified folds: ``StratifiedKFold(n_splits, shuffle=True, random_state)``.

    ``random_state=None`` keeps the data order (no shuffling), as ``cross_val_score(cv=k)`` does.
    """
    from sklearn.model_selection import StratifiedKFold

    shuffle = random_state is not None
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=shuffle, random_state=random_state)
    return list(splitter.split(np.zeros((len(y), 1)), y))


def _balanced_accuracy(y_true: np.ndarray, positive: np.ndarray) -> float:
    """Mean recall of the two classes 0/1 (sklearn's balanced_accuracy_score for 2 classes)."""
    recall_1 = positive[y_true == 1].mean()
    recall_0 = (~positive[y_true == 0]).mean()
    return float(0.5 * (recall_0 + recall_1))


def _svc(C: float, kernel: str):
    from sklearn.svm import SVC

    return SVC(kernel=kernel, C=float(C), class_weight="balanced")


class _GramProblem:
    """One problem's Gram matrix, sliced per fold, fitted with libsvm on precomputed kernels."""

    def __init__(self, X: np.ndarray, y: np.ndarray):
        self.X = X
        self.y = y
        self.K = X @ X.T

    def fold_scores(self, folds: list, Cs: np.ndarray, n_jobs: int = 1) -> np.ndarray:
        blocks = [
            (self.K[np.ix_(train, train)], self.K[np.ix_(test, train)]) for train, test in folds
        ]

        def score(i: int, j: int) -> float:
            train, test = folds[j]
            K_train, K_test = blocks[j]
            model = _svc(Cs[i], "precomputed").fit(K_train, self.y[train])
            decision = K_test[:, model.support_] @ model.dual_coef_[0] + model.intercept_[0]
            positive = _positive(decision, model.classes_)
            return _balanced_accuracy(self.y[test], positive)

        return _score_grid(score, len(Cs), len(folds), n_jobs)

    def refit(self, C: float) -> tuple[np.ndarray, float]:
        model = _svc(C, "precomputed").fit(self.K, self.y)  # every row: no copy of K
        coef = model.dual_coef_[0] @ self.X[model.support_]
        return coef, float(model.intercept_[0])


class _LinearProblem:
    """The same problems solved by ``SVC(kernel="linear")`` (no Gram matrix; slower)."""

    def __init__(self, X: np.ndarray, y: np.ndarray):
        self.X = X
        self.y = y

    def fold_scores(self, folds: list, Cs: np.ndarray, n_jobs: int = 1) -> np.ndarray:
        def score(i: int, j: int) -> float:
            train, test = folds[j]
            model = _svc(Cs[i], "linear").fit(self.X[train], self.y[train])
            positive = _positive(model.decision_function(self.X[test]), model.classes_)
            return _balanced_accuracy(self.y[test], positive)

        return _score_grid(score, len(Cs), len(folds), n_jobs)

    def refit(self, C: float) -> tuple[np.ndarray, float]:
        model = _svc(C, "linear").fit(self.X, self.y)
        return model.coef_[0].copy(), float(model.intercept_[0])


def _score_grid(score, n_Cs: int, n_folds: int, n_jobs: int) -> np.ndarray:
    """``score(i, j)`` for every C ``i`` and fold ``j``, in ``n_jobs`` threads (libsvm
    releases the GIL, so one problem's C sweep runs in parallel when it is alone)."""
    cells = [(i, j) for j in range(n_folds) for i in range(n_Cs)]
    if n_jobs <= 1:
        values = [score(i, j) for i, j in cells]
    else:
        with ThreadPoolExecutor(min(n_jobs, len(cells))) as pool:
            values = list(pool.map(lambda cell: score(*cell), cells))
    scores = np.zeros((n_Cs, n_folds))
    for (i, j), value in zip(cells, values):
        scores[i, j] = value
    return scores


def _positive(decision: np.ndarray, classes: np.ndarray) -> np.ndarray:
    # sklearn's binary SVC predicts classes_[1] where the decision value is > 0.
    predicted = np.where(decision > 0, classes[1], classes[0])
    return predicted == 1


def _check_n_jobs(n_jobs) -> int:
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs < 1:
        raise ValueError(f"n_jobs: expected a positive integer or None, got {n_jobs!r}")
    return int(n_jobs)


def _check_problem(X, y, n_splits: int) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2:
        raise ValueError(f"X: expected a 2-D array (n_samples, n_features), got shape {X.shape}")
    if y.shape != (X.shape[0],):
        raise ValueError(f"y: expected shape ({X.shape[0]},) to match X, got {y.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X: contains NaN or infinite values")
    if y.dtype == bool:
        y = y.astype(np.int64)
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y: expected binary labels 0/1")
    counts = np.bincount(y.astype(np.int64), minlength=2)
    if counts.min() < n_splits:
        raise ValueError(
            f"y: each label needs at least {n_splits} samples for {n_splits}-fold "
            f"cross-validation, got {counts[0]} zeros and {counts[1]} ones"
        )
    return X, y.astype(np.int64)


def fit_balanced_svm_cv(
    X,
    y,
    Cs=DEFAULT_CS,
    cv: int = 2,
    random_state: int | None = 0,
    solver: str = "auto",
    n_jobs: int = 1,
) -> LinearSVMFit:
    """Pick C by ``cv``-fold cross-validated balanced accuracy, then refit on all of ``X``.

    Parameters
    ----------
    X : (n, D) features.
    y : (n,) binary labels 0/1 (each with at least ``cv`` samples).
    Cs : grid of regularisation constants; ties go to the first (smallest) best C.
    cv : number of stratified folds (see :func:`cv_folds`).
    random_state : seed of the fold shuffle; None keeps the data order.
    solver : "auto", "precomputed" (Gram matrix) or "linear" (``SVC(kernel="linear")``).
    n_jobs : threads sweeping the (C, fold) fits; the result does not depend on it.
    """
    n_jobs = _check_n_jobs(n_jobs)
    if isinstance(cv, bool) or not isinstance(cv, (int, np.integer)) or cv < 2:
        raise ValueError(f"cv: expected an integer >= 2, got {cv!r}")
    if solver not in _SOLVERS:
        raise ValueError(f"solver: expected one of {_SOLVERS}, got {solver!r}")
    Cs = check_Cs(Cs)
    X, y = _check_problem(X, y, cv)
    use_gram = solver == "precomputed" or (solver == "auto" and len(y) <= GRAM_MAX_SAMPLES)
    problem = _GramProblem(X, y) if use_gram else _LinearProblem(X, y)
    folds = cv_folds(y, cv, random_state)
    cv_scores = problem.fold_scores(folds, Cs, n_jobs).mean(axis=1)
    best = int(np.argmax(cv_scores))
    coef, intercept = problem.refit(Cs[best])
    return LinearSVMFit(coef, intercept, float(Cs[best]), Cs.copy(), cv_scores)


def fit_balanced_svms_cv(
    problems,
    Cs=DEFAULT_CS,
    cv: int = 2,
    random_state: int | None = 0,
    solver: str = "auto",
    n_jobs: int | None = None,
) -> list[LinearSVMFit]:
    """:func:`fit_balanced_svm_cv` for several ``(X, y)`` problems, in parallel threads.

    ``n_jobs`` threads (default: the CPUs available to this process); BLAS is limited to
    one thread meanwhile, so the CPUs are not oversubscribed.
    """
    problems = list(problems)
    if n_jobs is None:
        n_jobs = (
            len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        )
    n_jobs = _check_n_jobs(n_jobs)
    # Threads go to the problems first; a problem left alone sweeps its Cs in parallel.
    inner = max(1, n_jobs // max(1, len(problems)))
    n_jobs = max(1, min(n_jobs, len(problems)))

    def fit(problem):
        X, y = problem
        return fit_balanced_svm_cv(
            X, y, Cs=Cs, cv=cv, random_state=random_state, solver=solver, n_jobs=inner
        )

    from threadpoolctl import threadpool_limits

    # Parallelism comes from the problems; multi-threaded BLAS inside each worker would
    # only oversubscribe the CPUs (and spin-wait, which costs a lot on a shared machine).
    if len(problems) == 1:  # alone: BLAS may use every thread for its Gram matrix
        return [fit(problems[0])]
    with threadpool_limits(limits=1, user_api="blas"):
        if n_jobs == 1:
            return [fit(p) for p in problems]
        with ThreadPoolExecutor(n_jobs) as pool:
            return list(pool.map(fit, problems))
