"""Failure directions: per-class linear SVMs in CLIP space (Jain et al., ICLR 2023).

For each ground-truth class, a linear SVM learns to predict, from an image's CLIP
embedding, whether the model classified it correctly. Its normal vector is the class's
failure direction; its cross-validated balanced accuracy measures how consistent (how
strong) the failure mode is; the images and captions with the most negative decision
values describe it.

Definitions followed (paper appendix A, and the reference's behaviour):

- preprocessing, applied exactly once to every vector fed to an SVM: whiten each
  dimension with the TRAIN split's mean and standard deviation, then L2-normalise the row
  (:class:`Whitener`; the reference's current script applies it twice, which we do not);
- one ``SVC(kernel="linear", class_weight="balanced")`` per class, target 1 = correct,
  fitted on the VALIDATION split; C from ``logspace(-6, 0, 7)`` by 2-fold cross-validated
  balanced accuracy (stratified, shuffled with a fixed seed), then refitted at the best C;
  the best CV balanced accuracy is the class's failure strength
  (:mod:`failwidgets.methods.linear_svm` runs this sweep fast, with the same solver);
- decision values: most negative = predicted hardest;
- captions: candidates "a photo of a {adjective} {noun} {preposition}", reference
  "a photo of a {class}"; a caption's score is the decision value of
  ``preprocess(text(c) - text(r))``: the text difference is whitened with the IMAGE train
  mean and std, as the reference does;
- a caption's subpopulation: the K images of the class nearest to the caption in CLIP
  space (cosine), with the model's accuracy on them (the paper's Fig. 7b);
- interventions: the K most negative images per class from an extra pool; training images
  with negative decision values to upweight.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..class_names import class_index
from ..mode_source import FailureModeSource
from .answers import AnswerFrame, answer_frame, answer_list
from .caption_words import CaptionWords
from .linear_svm import DEFAULT_CS, check_Cs, fit_balanced_svms_cv

METHOD = "directions"
"""The method key of failure directions (FailureMode.method, thresholds, the Explorer)."""

_UNCHANGED = object()  # with_splits: keep the current split

__all__ = [
    "CaptionSubpopulation",
    "FailureDirections",
    "FailureDirectionsResult",
    "Whitener",
    "find_failure_directions",
]


def _as_embeddings(
    X, name: str, n_features: int | None = None, check_finite: bool = True
) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(
            f"{name}: expected a 2-D array (n_samples, n_features), got shape {X.shape}"
        )
    if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
        raise TypeError(f"{name}: expected real numbers, got dtype {X.dtype}")
    if X.dtype not in (np.float16, np.float32, np.float64):
        X = X.astype(np.float64)  # float16/32 stay as they are (memory); arithmetic is float64
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(
            f"{name}: embedding dimension {X.shape[1]} does not match the {n_features} "
            "dimensions the directions were fitted on"
        )
    if check_finite and not _all_finite(X):
        raise ValueError(f"{name}: contains NaN or infinite values")
    return X


def _all_finite(X: np.ndarray, rows: int = 65536) -> bool:
    """``np.isfinite(X).all()`` in row blocks (no full-size temporary)."""
    return all(np.isfinite(X[start : start + rows]).all() for start in range(0, len(X), rows))


def _row_chunks(X: np.ndarray, rows: int = 65536):
    """``X`` in float64 blocks of at most ``rows`` rows."""
    for start in range(0, len(X), rows):
        yield np.asarray(X[start : start + rows], dtype=np.float64)


def _l2_normalize(X: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return np.divide(X, norms, out=np.zeros_like(X), where=norms > 0)


class Whitener:
    """Whiten each dimension with a reference set's mean and std, then L2-normalise rows.

    Dimensions that are constant in the reference set are only centred. The standard
    deviation's ddof does not matter: it scales all dimensions alike, which the row
    normalisation removes.

    Attributes
    ----------
    mean_, scale_ : (D,) per-dimension mean and standard deviation of the reference set.
    n_features_in_ : D.
    """

    def fit(self, X, check_input: bool = True) -> Whitener:
        """Mean and standard deviation of ``X`` per dimension (``check_input=False``: ``X``
        is known to be a finite 2-D float array)."""
        X = _as_embeddings(X, "X", check_finite=check_input)
        if len(X) < 2:
            raise ValueError(f"X: at least 2 samples are needed to whiten, got {len(X)}")
        # One pass over float64 row blocks, each block's mean and sum of squared deviations
        # merged into the running ones (Chan et al.): no float64 copy of X, stable.
        count, mean, squares = 0, np.zeros(X.shape[1]), np.zeros(X.shape[1])
        for chunk in _row_chunks(X):
            k = len(chunk)
            chunk_mean = chunk.mean(axis=0)
            chunk_squares = ((chunk - chunk_mean) ** 2).sum(axis=0)
            delta = chunk_mean - mean
            total = count + k
            mean = mean + delta * (k / total)
            squares = squares + chunk_squares + delta**2 * (count * k / total)
            count = total
        self.mean_ = mean
        std = np.sqrt(squares / len(X))
        self.scale_ = np.where(std > 0, std, 1.0)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X) -> np.ndarray:
        """``normalize((X - mean_) / scale_)`` row-wise, float64 (n, D)."""
        if not hasattr(self, "mean_"):
            raise RuntimeError("Whitener: call fit() before transform()")
        X = _as_embeddings(X, "X", self.n_features_in_)
        return _l2_normalize((X - self.mean_) / self.scale_)

    def fit_transform(self, X) -> np.ndarray:
        return self.fit(X).transform(X)


class FailureDirections:
    """Per-class balanced linear SVMs predicting correct (1) vs wrong (0) from embeddings.

    Parameters
    ----------
    Cs : grid of SVM regularisation constants (default ``logspace(-6, 0, 7)``).
    cv : folds of the cross-validation choosing C.
    min_errors, min_correct : a class with fewer validation errors (or correct samples)
        is skipped, with the reason in ``skipped_``.
    random_state : seed of the stratified fold shuffle (None: no shuffle, data order).
    solver : "auto", "precomputed" or "linear"; see :mod:`failwidgets.methods.linear_svm`.
    n_jobs : threads fitting classes in parallel (default: available CPUs).

    Attributes
    ----------
    whitener_ : :class:`Whitener` fitted on the train embeddings.
    n_classes_ : number of classes.
    coef_ : (n_classes, D) failure directions in the preprocessed space (NaN: skipped).
    intercept_ : (n_classes,) SVM intercepts (NaN: skipped).
    best_C_ : (n_classes,) chosen C (NaN: skipped).
    cv_scores_ : (n_classes, len(Cs)) mean CV balanced accuracy per C (NaN: skipped).
    failure_strength_ : (n_classes,) best CV balanced accuracy (NaN: skipped).
    n_val_, n_errors_ : (n_classes,) validation samples and errors per class.
    skipped_ : dict class index -> reason, for classes without an SVM.
    pending_ : set of class indices with enough samples whose SVMs are not fitted yet
        (``fit(classes=...)``; :meth:`fit_classes` fits them). Their entries are NaN.
    """

    def __init__(
        self,
        Cs=DEFAULT_CS,
        cv: int = 2,
        min_errors: int = 4,
        min_correct: int = 4,
        random_state: int | None = 0,
        solver: str = "auto",
        n_jobs: int | None = None,
    ):
        self.Cs = Cs
        self.cv = cv
        self.min_errors = min_errors
        self.min_correct = min_correct
        self.random_state = random_state
        self.solver = solver
        self.n_jobs = n_jobs

    def _check_params(self) -> np.ndarray:
        Cs = check_Cs(self.Cs)
        for name in ("cv", "min_errors", "min_correct"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"{name}: expected an integer, got {value!r}")
        if self.cv < 2:
            raise ValueError(f"cv: expected at least 2 folds, got {self.cv}")
        for name in ("min_errors", "min_correct"):
            if getattr(self, name) < self.cv:
                raise ValueError(
                    f"{name}: must be at least cv={self.cv} (each fold needs both outcomes), "
                    f"got {getattr(self, name)}"
                )
        return Cs

    def fit(
        self,
        train_embeddings,
        val_embeddings,
        val_labels,
        val_correct,
        n_classes: int | None = None,
        classes=None,
        check_input: bool = True,
    ) -> FailureDirections:
        """Fit the whitening on ``train_embeddings`` and one SVM per class on the validation set.

        Parameters
        ----------
        train_embeddings : (n_train, D) embeddings of the training split (whitening statistics).
        val_embeddings : (n_val, D) embeddings of the validation split.
        val_labels : (n_val,) ground-truth class indices.
        val_correct : (n_val,) whether the model classified each validation sample correctly.
        n_classes : number of classes (default ``max(val_labels) + 1``).
        classes : class indices whose SVMs are fitted now (default: every class). The other
            classes that have enough samples are left in ``pending_``, to be fitted later
            with :meth:`fit_classes`; the result is the same as fitting them all at once.
        check_input : False skips the NaN/inf scan of the embeddings (known to be finite).
        """
        Cs = self._check_params()
        train = _as_embeddings(train_embeddings, "train_embeddings", check_finite=check_input)
        val, labels, correct = self._check_val(
            val_embeddings, val_labels, val_correct, train.shape[1], check_input
        )
        n_classes = int(labels.max()) + 1 if n_classes is None else int(n_classes)
        if len(labels) and labels.max() >= n_classes:
            raise ValueError(f"val_labels: class {int(labels.max())} >= n_classes={n_classes}")
        requested = range(n_classes) if classes is None else _check_classes(classes, n_classes)

        self.whitener_ = Whitener().fit(train, check_input=False)
        D = train.shape[1]
        self.n_classes_ = n_classes
        self.n_features_in_ = D
        self.coef_ = np.full((n_classes, D), np.nan)
        self.intercept_ = np.full(n_classes, np.nan)
        self.best_C_ = np.full(n_classes, np.nan)
        self.cv_scores_ = np.full((n_classes, len(Cs)), np.nan)
        self.failure_strength_ = np.full(n_classes, np.nan)
        self.n_val_ = np.bincount(labels, minlength=n_classes)
        self.n_errors_ = np.bincount(labels[~correct], minlength=n_classes)
        self.skipped_: dict[int, str] = {}
        self.Cs_ = Cs
        for c in range(n_classes):
            reason = self._skip_reason(self.n_val_[c], self.n_errors_[c])
            if reason:
                self.skipped_[c] = reason
        self.pending_: set[int] = {c for c in range(n_classes) if c not in self.skipped_}
        self._fit_svms(val, labels, correct, requested)
        return self

    def fit_classes(self, val_embeddings, val_labels, val_correct, classes) -> FailureDirections:
        """Fit the SVMs of pending classes (left out of ``fit(classes=...)``).

        Pass the same validation set as to :meth:`fit` (or at least every validation sample
        of ``classes``); classes already fitted or skipped are left as they are. Fitting
        classes one by one gives the same SVMs as fitting them all in :meth:`fit`.
        """
        self._check_fitted()
        val, labels, correct = self._check_val(
            val_embeddings, val_labels, val_correct, self.n_features_in_
        )
        if len(labels) and labels.max() >= self.n_classes_:
            raise ValueError(
                f"val_labels: class {int(labels.max())} >= n_classes={self.n_classes_}"
            )
        requested = _check_classes(classes, self.n_classes_)
        self._fit_svms(val, labels, correct, requested)
        return self

    @staticmethod
    def _check_val(val_embeddings, val_labels, val_correct, n_features: int, check_input=True):
        val = _as_embeddings(val_embeddings, "val_embeddings", n_features, check_input)
        labels = np.asarray(val_labels)
        correct = np.asarray(val_correct)
        if labels.shape != (len(val),):
            raise ValueError(f"val_labels: expected shape ({len(val)},), got {labels.shape}")
        if correct.shape != (len(val),):
            raise ValueError(f"val_correct: expected shape ({len(val)},), got {correct.shape}")
        if correct.dtype != bool:
            if not np.isin(correct, (0, 1)).all():
                raise ValueError("val_correct: expected booleans (or 0/1)")
            correct = correct.astype(bool)
        if len(labels) and not np.issubdtype(labels.dtype, np.integer):
            raise TypeError(f"val_labels: expected integer class indices, got {labels.dtype}")
        if len(labels) and labels.min() < 0:
            raise ValueError(f"val_labels: negative class index {int(labels.min())}")
        return val, labels, correct

    def _fit_svms(self, val, labels, correct, classes) -> None:
        """Fit the SVMs of the pending classes among ``classes`` on their validation rows."""
        fitted, problems = [], []
        for c in classes:
            if c not in self.pending_:
                continue
            rows = np.flatnonzero(labels == c)
            if len(rows) != self.n_val_[c]:
                raise ValueError(
                    f"val_labels: class {c} has {len(rows)} validation samples here, but "
                    f"{self.n_val_[c]} when the directions were fitted; pass the same "
                    "validation set"
                )
            fitted.append(c)
            problems.append((self.whitener_.transform(val[rows]), correct[rows].astype(np.int64)))
        if not problems:
            return
        results = fit_balanced_svms_cv(
            problems,
            Cs=self.Cs_,
            cv=self.cv,
            random_state=self.random_state,
            solver=self.solver,
            n_jobs=self.n_jobs,
        )
        for c, result in zip(fitted, results):
            self.coef_[c] = result.coef
            self.intercept_[c] = result.intercept
            self.best_C_[c] = result.best_C
            self.cv_scores_[c] = result.cv_scores
            self.failure_strength_[c] = result.best_score
            self.pending_.discard(c)

    def _skip_reason(self, n_val: int, n_errors: int) -> str | None:
        n_correct = n_val - n_errors
        if n_val == 0:
            return "no samples in the validation split"
        if n_errors < self.min_errors:
            return f"{n_errors} errors in the validation split (at least {self.min_errors} needed)"
        if n_correct < self.min_correct:
            return (
                f"{n_correct} correct samples in the validation split "
                f"(at least {self.min_correct} needed)"
            )
        return None

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise RuntimeError("FailureDirections: call fit() first")

    def _check_class(self, cls) -> int:
        self._check_fitted()
        if isinstance(cls, bool) or not isinstance(cls, (int, np.integer)):
            raise TypeError(f"cls: expected a class index, got {cls!r}")
        if not 0 <= int(cls) < self.n_classes_:
            raise ValueError(f"cls: class index {cls} outside 0..{self.n_classes_ - 1}")
        if int(cls) in self.skipped_:
            raise ValueError(f"cls: class {int(cls)} has no SVM: {self.skipped_[int(cls)]}")
        if int(cls) in self.pending_:
            raise ValueError(f"cls: class {int(cls)} is not fitted yet: call fit_classes()")
        return int(cls)

    def transform(self, X) -> np.ndarray:
        """The SVMs' input: whitened with the train statistics, then L2-normalised (once)."""
        self._check_fitted()
        return self.whitener_.transform(X)

    def class_decision_function(self, X, cls: int) -> np.ndarray:
        """Decision values of class ``cls``'s SVM for raw embeddings ``X`` (negative: hard)."""
        c = self._check_class(cls)
        return self.transform(X) @ self.coef_[c] + self.intercept_[c]

    def decision_function(self, X, labels, chunk_size: int = 8192) -> np.ndarray:
        """Each row's decision value under the SVM of its own class ``labels[i]``.

        Rows of skipped or pending classes get NaN.
        """
        self._check_fitted()
        X = _as_embeddings(X, "X", self.n_features_in_)
        labels = np.asarray(labels)
        if labels.shape != (len(X),):
            raise ValueError(f"labels: expected shape ({len(X)},), got {labels.shape}")
        if len(labels) and (labels.min() < 0 or labels.max() >= self.n_classes_):
            raise ValueError(f"labels: class indices must lie in 0..{self.n_classes_ - 1}")
        out = np.empty(len(X))
        for start in range(0, len(X), chunk_size):
            rows = slice(start, start + chunk_size)
            Z = self.whitener_.transform(X[rows])
            own = labels[rows]
            out[rows] = np.einsum("ij,ij->i", Z, self.coef_[own]) + self.intercept_[own]
        return out


@dataclass(frozen=True)
class CaptionSubpopulation:
    """The images nearest to a caption in CLIP space, and the model's accuracy on them.

    Attributes
    ----------
    caption : the caption.
    class_name : the class the images were drawn from (None: all classes).
    split : the split searched.
    indices : sample indices, nearest first.
    similarities : cosine similarities of the images to the caption.
    correct : whether the model classified each of them correctly.
    """

    caption: str
    class_name: str | None
    split: str
    indices: np.ndarray
    similarities: np.ndarray
    correct: np.ndarray

    @property
    def accuracy(self) -> float:
        """The model's accuracy on these images (NaN when there are none)."""
        return float(self.correct.mean()) if len(self.correct) else float("nan")


class FailureDirectionsResult(FailureModeSource):
    """Failure directions of a data set, with the queries to inspect and act on them.

    Build it with :func:`find_failure_directions` (from an EvalSet) or
    :meth:`from_arrays`. Sample indices are positions in the full data set.

    It is a :class:`~failwidgets.mode_source.FailureModeSource`:
    ``failure_modes(classes="all", k=...)`` gives each class's failure mode, its ``k``
    images of :attr:`mode_split` most aligned with the direction (:meth:`tail_mode`), with
    ``heldout_drop`` measured on :attr:`heldout_split` when one is set. Both splits are set
    when the result is built, or on a copy by :meth:`with_splits`.

    Parameters
    ----------
    model : a fitted :class:`FailureDirections`.
    embeddings : (N, D) CLIP image embeddings of all samples.
    labels : (N,) ground-truth class indices.
    correct : (N,) whether the model was right.
    split : (N,) split names.
    class_names : names of the classes.
    text_encoder : object with ``encode_texts(list[str]) -> (T, D)`` (e.g. a ClipEncoder) or
        such a callable; needed for captions.
    caption_words : :class:`CaptionWords` for the candidate captions.
    train_split, val_split : the splits the whitening and the SVMs were fitted on.
    mode_split : the split whose images the failure modes, strips and caption checks are
        drawn from (default "test"; checked when first used).
    heldout_split : a split on which each failure mode's rule is re-applied to measure
        ``heldout_drop`` (default None: not measured).
    """

    method = METHOD

    def __init__(
        self,
        model: FailureDirections,
        embeddings,
        labels,
        correct,
        split,
        class_names: Sequence[str],
        text_encoder=None,
        caption_words: CaptionWords | None = None,
        train_split: str = "train",
        val_split: str = "val",
        check_input: bool = True,
        mode_split: str | None = None,
        heldout_split: str | None = None,
    ):
        model._check_fitted()
        self.model = model
        self.embeddings = _as_embeddings(
            embeddings, "embeddings", model.n_features_in_, check_finite=check_input
        )
        n = len(self.embeddings)
        self.labels, self.correct, self.split = _check_sample_arrays(labels, correct, split, n)
        self._class_names = [str(name) for name in class_names]
        if len(self.class_names) != model.n_classes_:
            raise ValueError(
                f"class_names: {len(self.class_names)} names for {model.n_classes_} classes"
            )
        if caption_words is not None and not isinstance(caption_words, CaptionWords):
            raise TypeError(f"caption_words: expected CaptionWords, got {type(caption_words)}")
        self.caption_words = caption_words or CaptionWords()
        self.text_encoder = text_encoder
        self.train_split = train_split
        self.val_split = val_split
        self._splits = np.unique(self.split).tolist()
        self._mode_split, self._heldout_split = _check_splits(
            mode_split, heldout_split, self._splits
        )
        order = np.argsort(self.labels, kind="stable")
        bounds = np.cumsum(np.bincount(self.labels, minlength=model.n_classes_))
        self._class_rows = np.split(order, bounds[:-1])
        self._decision = np.full(n, np.nan)
        self._caption_scores: dict[int, pd.DataFrame] = {}
        self._class_locks = {c: threading.Lock() for c in model.pending_}
        self._filled: set[int] = set()  # classes whose decision values are in place
        self._rule_scores: dict = {}  # DirectionRule.from_result's score functions, shared
        for c in range(model.n_classes_):
            if c not in model.skipped_ and c not in model.pending_:
                self._fill_decision(c)
                self._filled.add(c)

    def _fill_decision(self, c: int) -> None:
        rows = self._class_rows[c]
        if len(rows):
            self._decision[rows] = self.model.class_decision_function(self.embeddings[rows], c)

    # ------------------------------------------------------------------ splits
    @property
    def class_names(self) -> list[str]:
        """The names of the classes."""
        return self._class_names

    @property
    def mode_split(self) -> str:
        """The split whose images the failure modes (and the other queries' default split)
        are drawn from (set when built, or on a copy by :meth:`with_splits`)."""
        return self._mode_split

    @property
    def heldout_split(self) -> str | None:
        """The split on which :meth:`failure_modes` measures ``heldout_drop`` (None: not
        measured)."""
        return self._heldout_split

    def check_split(self, value, name: str = "split") -> str:
        """``value`` if it names a split of the samples; else a TypeError/ValueError naming
        ``name`` and the splits present."""
        return _check_split_name(value, name, self._splits)

    def with_splits(self, mode_split=_UNCHANGED, heldout_split=_UNCHANGED):
        """This result with another :attr:`mode_split` and/or :attr:`heldout_split`
        (``heldout_split=None``: no held-out drop).

        The copy shares the fitted directions, decision values and captions (nothing is fitted
        again, a class fitted through either is fitted for both); this result is unchanged,
        and is returned itself when the splits are already these.
        """
        mode = self._mode_split if mode_split is _UNCHANGED else mode_split
        heldout = self._heldout_split if heldout_split is _UNCHANGED else heldout_split
        if mode == self._mode_split and heldout == self._heldout_split:
            return self
        mode, heldout = _check_splits(mode, heldout, self._splits)
        other = object.__new__(type(self))
        other.__dict__.update(self.__dict__)  # the fitted state itself is shared
        other._mode_split, other._heldout_split = mode, heldout
        return other

    def _split_or_default(self, split: str | None) -> tuple[str, str]:
        """(split, the argument an error names): ``split``, or :attr:`mode_split` when None."""
        return (self._mode_split, "mode_split") if split is None else (split, "split")

    def check_same_samples(self, evalset, name: str = "evalset") -> None:
        """Refuse an EvalSet other than the one the directions were found on (its size,
        class names, labels and correctness must match); errors name ``name``."""
        if len(self.labels) != evalset.n:
            raise ValueError(f"{name}: {len(self.labels)} samples, but the EvalSet has {evalset.n}")
        if list(self.class_names) != list(evalset.class_names):
            raise ValueError(f"{name}: its class names differ from the EvalSet's")
        if not np.array_equal(self.labels, evalset.labels) or not np.array_equal(
            self.correct, evalset.correct
        ):
            raise ValueError(
                f"{name}: its labels or correctness differ from the EvalSet's; "
                "fit the directions on this EvalSet"
            )

    # ------------------------------------------------------------------ on demand
    @property
    def pending(self) -> list[str]:
        """Classes whose failure direction is fitted when first asked for (see ``classes``)."""
        return [self.class_names[c] for c in sorted(self.model.pending_)]

    def fit_classes(self, classes=None) -> FailureDirectionsResult:
        """Fit the pending failure directions of ``classes`` (names or indices; None: all).

        Every query fits the classes it needs on its own; call this to fit them ahead of
        time. Safe to call from several threads: each class is fitted once.
        """
        if classes is None:
            wanted = [c for c in range(len(self.class_names)) if self.is_pending(c)]
        elif isinstance(classes, (str, int, np.integer)):
            wanted = [self.class_index(classes)]
        else:
            wanted = [self.class_index(c) for c in classes]
        for c in wanted:
            self._ensure_fitted(c)
        return self

    def is_pending(self, cls) -> bool:
        """Whether the class has a failure direction that is not fitted yet (or whose fit
        is still running in another thread)."""
        c = self.class_index(cls)
        return c not in self._filled and c not in self.model.skipped_

    def _ensure_fitted(self, c: int) -> None:
        if c in self._filled or c in self.model.skipped_:
            return
        with self._class_locks[c]:  # a class fitting in another thread: wait for it
            if c in self._filled:
                return
            if c in self.model.pending_:
                rows = self._class_rows[c]
                rows = rows[self.split[rows] == self.val_split]
                self.model.fit_classes(
                    self.embeddings[rows], self.labels[rows], self.correct[rows], [c]
                )
            self._fill_decision(c)
            self._filled.add(c)

    @classmethod
    def from_arrays(
        cls,
        embeddings,
        labels,
        correct,
        split,
        class_names: Sequence[str],
        *,
        text_encoder=None,
        caption_words: CaptionWords | None = None,
        train_split: str = "train",
        val_split: str = "val",
        mode_split: str | None = None,
        heldout_split: str | None = None,
        classes=None,
        **params,
    ) -> FailureDirectionsResult:
        """Fit :class:`FailureDirections` (``**params``) on the train/val splits and wrap it.

        ``classes``: the classes (names or indices) whose SVMs are fitted now; default all.
        The others are fitted when a query first needs them (``[]``: every class on demand,
        the fast start for many classes); the directions are the same either way.
        ``mode_split``, ``heldout_split``: see the class.
        """
        embeddings = _as_embeddings(embeddings, "embeddings")
        labels, correct, split = _check_sample_arrays(labels, correct, split, len(embeddings))
        train_rows = _split_rows(split, train_split, "train_split")
        val_rows = _split_rows(split, val_split, "val_split")
        _check_splits(mode_split, heldout_split, np.unique(split).tolist())
        if classes is not None:
            classes = [class_index(c, class_names, "classes") for c in _as_list(classes)]
        model = FailureDirections(**params).fit(
            embeddings[train_rows],
            embeddings[val_rows],
            labels[val_rows],
            correct[val_rows],
            n_classes=len(class_names),
            classes=classes,
            check_input=False,  # scanned once above
        )
        if len(model.skipped_) == model.n_classes_:
            warnings.warn(
                "failure directions: every class was skipped (too few errors or correct "
                "samples in the validation split); see summary['skipped_reason']",
                stacklevel=2,
            )
        return cls(
            model,
            embeddings,
            labels,
            correct,
            split,
            class_names,
            text_encoder=text_encoder,
            caption_words=caption_words,
            train_split=train_split,
            val_split=val_split,
            check_input=False,
            mode_split=mode_split,
            heldout_split=heldout_split,
        )

    def __repr__(self) -> str:
        skipped = self.skipped
        n_classes = len(self.class_names)
        pending = len(self.model.pending_)
        text = (
            f"FailureDirectionsResult(classes={n_classes}, "
            f"directions={n_classes - len(skipped)}, "
            + (f"fitted on demand={pending}, " if pending else "")
            + f"captions={'yes' if self.text_encoder is not None else 'no (no text encoder)'}"
        )
        if skipped:
            shown = "; ".join(f"{name!r}: {why}" for name, why in list(skipped.items())[:5])
            more = f"; ... ({len(skipped) - 5} more)" if len(skipped) > 5 else ""
            text += f", skipped: {shown}{more}"
        return text + ")"

    # ------------------------------------------------------------------ summary
    @property
    def summary(self) -> pd.DataFrame:
        """One row per class: failure_strength, best_C, n_val, n_errors, skipped_reason.

        Classes not fitted yet (:attr:`pending`) have NaN strength and C; call
        :meth:`fit_classes` first for every figure.
        """
        m = self.model
        return pd.DataFrame(
            {
                "class": self.class_names,
                "failure_strength": m.failure_strength_,
                "best_C": m.best_C_,
                "n_val": m.n_val_,
                "n_errors": m.n_errors_,
                "skipped_reason": [m.skipped_.get(c) for c in range(m.n_classes_)],
            }
        )

    @property
    def skipped(self) -> dict[str, str]:
        """Class name -> why it has no failure direction."""
        return {self.class_names[c]: reason for c, reason in self.model.skipped_.items()}

    @property
    def splits(self) -> list[str]:
        """The split names present, sorted."""
        return list(self._splits)

    def class_index(self, cls) -> int:
        """Index of a class given by name or index."""
        return class_index(cls, self.class_names)

    def _fitted_class(self, cls) -> int:
        c = self.class_index(cls)
        if c in self.model.skipped_:
            raise ValueError(
                f"cls: class {self.class_names[c]!r} has no failure direction: "
                f"{self.model.skipped_[c]}"
            )
        self._ensure_fitted(c)
        return c

    # ------------------------------------------------------------------ images
    def decision_values(self, cls, split: str | None = None) -> pd.Series:
        """Decision values of the class's images in ``split`` (index: sample index; default
        split: :attr:`mode_split`).

        Most negative = predicted hardest for the model.
        """
        c = self._fitted_class(cls)
        split, argument = self._split_or_default(split)
        rows = self._class_rows[c]  # ascending
        rows = rows[self.split[rows] == split]
        if not len(rows):
            _check_split_name(split, argument, self._splits)  # a clear error for an unknown split
        return pd.Series(
            self._decision[rows], index=pd.Index(rows, name="index"), name="decision_value"
        )

    def most_aligned(
        self, cls, k: int = 16, split: str | None = None, side: str = "hard"
    ) -> pd.Series:
        """The ``k`` images of a class most aligned with its failure direction (in ``split``;
        default :attr:`mode_split`).

        ``side="hard"``: most negative decision values first; ``"easy"``: most positive first.
        """
        k = _check_k(k)
        values = self.decision_values(cls, split)
        if side == "hard":
            return values.sort_values(kind="stable").iloc[:k]
        if side == "easy":
            return values.sort_values(ascending=False, kind="stable").iloc[:k]
        raise ValueError(f"side: expected 'hard' or 'easy', got {side!r}")

    def default_class(self) -> int:
        """The class a view opens first: the strongest failure direction fitted so far; when
        none is fitted yet, the pending class with the most validation errors; else 0."""
        model = self.model
        strength = model.failure_strength_
        if not np.isnan(strength).all():
            return int(np.nanargmax(strength))
        if model.pending_:
            pending = sorted(model.pending_)
            return pending[int(np.argmax(model.n_errors_[pending]))]
        return 0

    def prepare_class(self, cls) -> FailureDirectionsResult:
        """Fit the class's direction if it is pending and score its captions, so that the
        queries a view makes on the class afterwards are cheap (run it off the UI thread)."""
        c = self.class_index(cls)
        if c in self.model.skipped_:
            return self
        self._ensure_fitted(c)
        if self.caption_reason(c) is None:
            self.caption_scores(c)
        return self

    def class_sizes(self, split: str | None = None) -> np.ndarray:
        """(n_classes,) images of each class in ``split`` (default :attr:`mode_split`)."""
        split = self._split_or_default(split)[0]
        return np.bincount(self.labels[self.split == split], minlength=len(self.class_names))

    def class_accuracy(self, cls, split: str | None = None) -> float:
        """The model's accuracy on the class's images in ``split`` (default
        :attr:`mode_split`; NaN when it has none)."""
        c = self.class_index(cls)
        split = self._split_or_default(split)[0]
        rows = self._class_rows[c]
        rows = rows[self.split[rows] == split]
        return float(self.correct[rows].mean()) if len(rows) else float("nan")

    # ------------------------------------------------------------------ failure modes
    def tail_mode(self, cls, k: int):
        """The class's failure mode: its ``k`` images of :attr:`mode_split` with the most
        negative decision values, as a :class:`~failwidgets.modes.FailureMode`.

        ``accuracy`` is the model's accuracy on them, ``drop`` the class's accuracy in the
        split minus it; ``description`` the class's top hard caption (a generic name without
        captions). Its ``rule`` re-applies the tail to other rows: decision value at most the
        threshold midway between the ``k``-th and the next value. With a
        :attr:`heldout_split`, ``heldout_drop`` is the drop of the rule re-applied to that
        split (:func:`failwidgets.rules.with_heldout`, as for every method).
        """
        from ..modes import FailureMode
        from ..rules import DirectionRule, with_heldout

        k = _check_k(k)
        c = self._fitted_class(cls)
        name = self.class_names[c]
        values = self.decision_values(c)
        hard = values.sort_values(kind="stable").iloc[:k]  # = most_aligned(c, k)
        members = hard.index.to_numpy(dtype=np.int64)
        rule = None
        if len(members):
            rest = values.drop(hard.index).to_numpy()
            threshold = DirectionRule.boundary(hard.to_numpy(), rest)
            rule = DirectionRule.from_result(self, name, threshold)
        mode = FailureMode.from_members(
            METHOD,
            name,
            self._tail_description(c),
            members,
            self,  # labels and correctness aligned with the EvalSet's rows
            reference_indices=values.index.to_numpy(dtype=np.int64),  # the class in the split
            grouping="label",
            rule=rule,
        )
        if self._heldout_split is not None and rule is not None:
            rows = _split_rows(self.split, self._heldout_split, "heldout_split")
            (mode,) = with_heldout([mode], self, indices=rows)
        return mode

    def _tail_description(self, c: int) -> str:
        if self.caption_reason(c) is None:
            return str(self.captions(c, side="hard", k=1)["caption"].iloc[0])
        strength = self.model.failure_strength_[c]
        return f"failure direction of {self.class_names[c]} (strength {strength:.2f})"

    def _failure_modes(self, class_names: list[str], thresholds: dict):
        """One :meth:`tail_mode` per class with a failure direction (``k`` images of
        :attr:`mode_split` each), in the order asked; see :meth:`failure_modes`.

        Classes without a direction are left out (an empty answer's ``reason`` says why);
        pending ones are fitted first.
        """
        self.check_split(self._mode_split, "mode_split")  # the default "test" may be absent
        indices = [self.class_index(name) for name in class_names]
        modes = [
            self.tail_mode(c, thresholds["k"]) for c in indices if c not in self.model.skipped_
        ]
        return answer_list(modes, lambda: self._no_modes_reason(indices))

    def _no_modes_reason(self, indices: list[int]) -> str:
        if not indices:
            return "no class asked for"
        reasons = [
            f"class {self.class_names[c]!r} has no failure direction: {self.model.skipped_[c]}"
            for c in indices[:3]
        ]
        return "; ".join(reasons) + (f"; ... ({len(indices) - 3} more)" if len(indices) > 3 else "")

    def subpopulation_mode(self, sub: CaptionSubpopulation):
        """A caption's subpopulation (:meth:`caption_subpopulation` of one class) as a
        :class:`~failwidgets.modes.FailureMode`: ``drop`` is the class's accuracy in the
        subpopulation's split minus the accuracy on it."""
        from ..modes import FailureMode

        if not isinstance(sub, CaptionSubpopulation):
            raise TypeError(f"sub: expected a CaptionSubpopulation, got {type(sub).__name__}")
        if sub.class_name is None:
            raise ValueError("sub: a failure mode needs the subpopulation of one class (cls=...)")
        return FailureMode.from_members(
            METHOD,
            sub.class_name,
            sub.caption,
            np.asarray(sub.indices, dtype=np.int64),
            self,
            reference_indices=_split_rows(self.split, sub.split, "sub.split"),
            grouping="label",
        )

    # ------------------------------------------------------------------ captions
    def _encode_texts(self, texts: list[str]) -> np.ndarray:
        encoder = self.text_encoder
        if encoder is None:
            raise ValueError(
                "text_encoder: captions need a text encoder (e.g. a ClipEncoder); pass "
                "encoder=... to find_failure_directions"
            )
        encode: Callable = getattr(encoder, "encode_texts", encoder)
        if not callable(encode):
            raise TypeError("text_encoder: expected an object with encode_texts() or a callable")
        out = np.asarray(encode(texts))
        if out.ndim != 2 or len(out) != len(texts):
            raise ValueError(
                f"text_encoder: expected ({len(texts)}, D) embeddings, got shape {out.shape}"
            )
        if out.shape[1] != self.model.n_features_in_:
            raise ValueError(
                f"text_encoder: text embedding dimension {out.shape[1]} does not match the "
                f"image embedding dimension {self.model.n_features_in_}"
            )
        return _l2_normalize(_as_embeddings(out, "text_encoder output"))

    def caption_scores(self, cls) -> pd.DataFrame:
        """Every candidate caption of a class with its score, most negative (hardest) first."""
        c = self._fitted_class(cls)
        if c not in self._caption_scores:
            name = self.class_names[c]
            candidates = self.caption_words.candidates(name)
            texts = self._encode_texts([self.caption_words.reference(name), *candidates])
            differences = texts[1:] - texts[0]
            scores = self.model.class_decision_function(differences, c)
            table = pd.DataFrame({"caption": candidates, "score": scores})
            self._caption_scores[c] = table.sort_values("score", kind="stable", ignore_index=True)
        return self._caption_scores[c].copy()

    def caption_reason(self, cls) -> str | None:
        """Why the class has no captions (None when it has): no failure direction (the
        skip reason), no text encoder, or no candidate caption in the word lists."""
        c = self.class_index(cls)
        name = self.class_names[c]
        if c in self.model.skipped_:
            return f"class {name!r} has no failure direction: {self.model.skipped_[c]}"
        if self.text_encoder is None:
            return (
                "no text encoder: captions need one (e.g. a ClipEncoder); pass encoder=... "
                "to find_failure_directions"
            )
        if not self.caption_words.candidates(name):
            return f"the caption words give no candidate caption for class {name!r}"
        return None

    def captions(self, cls, side: str = "hard", k: int = 5) -> AnswerFrame:
        """The ``k`` captions most aligned with the failure direction (columns caption, score).

        ``side="hard"``: most negative scores first; ``"easy"``: most positive first.
        A class without a failure direction (or without candidate captions) gets an empty
        table whose ``reason`` (shown in its repr) says why; without a text encoder this
        raises.
        """
        k = _check_k(k)
        if side not in ("hard", "easy"):
            raise ValueError(f"side: expected 'hard' or 'easy', got {side!r}")
        c = self.class_index(cls)
        if c in self.model.skipped_:
            table = pd.DataFrame({"caption": pd.Series([], dtype=object), "score": []})
        else:
            table = self.caption_scores(c)
        if side == "easy":
            table = table.iloc[::-1]
        table = table.iloc[:k].reset_index(drop=True)
        return answer_frame(table, lambda: self.caption_reason(c))

    def caption_subpopulation(
        self, caption: str, cls=None, k: int = 50, split: str | None = None
    ) -> CaptionSubpopulation:
        """The ``k`` images of ``split`` (default :attr:`mode_split`) nearest to ``caption``
        in CLIP space (cosine).

        With ``cls``, only that class's images are searched (the paper's Fig. 7b); the
        model's accuracy on them tells whether the caption describes a hard subpopulation.
        """
        if not isinstance(caption, str) or not caption.strip():
            raise TypeError(f"caption: expected a non-empty string, got {caption!r}")
        k = _check_k(k)
        split, argument = self._split_or_default(split)
        _check_split_name(split, argument, self._splits)
        class_name = None
        if cls is None:
            rows = np.flatnonzero(self.split == split)
        else:
            c = self.class_index(cls)
            class_name = self.class_names[c]
            rows = self._class_rows[c]  # ascending
            rows = rows[self.split[rows] == split]
        text = self._encode_texts([caption])[0]
        similarities = _l2_normalize(np.asarray(self.embeddings[rows], dtype=np.float64)) @ text
        order = np.argsort(-similarities, kind="stable")[:k]
        chosen = rows[order]
        return CaptionSubpopulation(
            caption=caption,
            class_name=class_name,
            split=split,
            indices=chosen,
            similarities=similarities[order],
            correct=self.correct[chosen],
        )

    # ------------------------------------------------------------------ interventions
    def select_from_pool(self, k: int, split: str = "extra") -> dict[str, np.ndarray]:
        """Per class, the ``k`` images of the pool ``split`` with the most negative values.

        The paper's filtering intervention: add them to the training set. Classes without
        a failure direction get an empty selection.
        """
        k = _check_k(k)
        pool = _split_rows(self.split, split, "split")
        self.fit_classes()
        out = {}
        for c, name in enumerate(self.class_names):
            rows = pool[self.labels[pool] == c]
            if c in self.model.skipped_:
                out[name] = np.zeros(0, dtype=np.int64)
                continue
            order = np.argsort(self._decision[rows], kind="stable")[:k]
            out[name] = rows[order]
        return out

    def upweight_mask(self, split: str = "train", threshold: float = 0.0) -> np.ndarray:
        """Boolean (N,) mask of ``split`` images whose decision value is below ``threshold``.

        The paper's upweighting intervention doubles these images' loss weight (e.g.
        ``weights = 1 + mask``). Images of classes without a direction are never flagged.
        """
        rows = _split_rows(self.split, split, "split")
        self.fit_classes(np.unique(self.labels[rows]))
        mask = np.zeros(len(self.labels), dtype=bool)
        with np.errstate(invalid="ignore"):
            mask[rows] = self._decision[rows] < threshold  # NaN (skipped) compares False
        return mask


def _as_list(values) -> list:
    if isinstance(values, (str, int, np.integer)):
        return [values]
    return list(values)


def _check_classes(classes, n_classes: int) -> list[int]:
    values = np.asarray(list(classes) if not isinstance(classes, np.ndarray) else classes)
    if values.size and (values.dtype == bool or not np.issubdtype(values.dtype, np.integer)):
        raise TypeError(f"classes: expected class indices, got {values.dtype} values")
    values = values.astype(np.int64).ravel()
    if values.size and (values.min() < 0 or values.max() >= n_classes):
        raise ValueError(f"classes: class indices must lie in 0..{n_classes - 1}")
    return list(dict.fromkeys(int(c) for c in values))


def _check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k: expected an integer, got {k!r}")
    if k < 1:
        raise ValueError(f"k: expected at least 1, got {k}")
    return int(k)


def _check_sample_arrays(labels, correct, split, n: int):
    labels = np.asarray(labels)
    correct = np.asarray(correct)
    if split is None:
        raise ValueError(
            "split: failure directions need a split column (train split for the whitening, "
            "validation split for the SVMs)"
        )
    split = np.asarray(split).astype(str)
    for name, array in (("labels", labels), ("correct", correct), ("split", split)):
        if array.shape != (n,):
            raise ValueError(
                f"{name}: expected shape ({n},) to match the embeddings, got {array.shape}"
            )
    if n and not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels: expected integer class indices, got dtype {labels.dtype}")
    if correct.dtype != bool:
        if not np.isin(correct, (0, 1)).all():
            raise ValueError("correct: expected booleans (or 0/1)")
        correct = correct.astype(bool)
    return labels.astype(np.int64), correct, split


def _check_split_name(value, name: str, present: list[str]) -> str:
    """``value`` if it is one of the ``present`` split names; else an error naming ``name``."""
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected a split name, got {type(value).__name__}")
    if value not in present:
        raise ValueError(f"{name}: no samples in split {value!r}; splits present: {present}")
    return value


def _check_splits(mode_split, heldout_split, present: list[str]) -> tuple[str, str | None]:
    """The result's (mode_split, heldout_split), checked: ``mode_split`` None is "test",
    checked when first used; the held-out split must differ from it."""
    if mode_split is not None:
        _check_split_name(mode_split, "mode_split", present)
    mode_split = "test" if mode_split is None else mode_split
    if heldout_split is not None:
        _check_split_name(heldout_split, "heldout_split", present)
        if heldout_split == mode_split:
            raise ValueError(
                f"heldout_split: must differ from mode_split ({mode_split!r}): the held-out "
                "drop re-applies each mode to images it was not drawn from"
            )
    return mode_split, heldout_split


def _split_rows(split: np.ndarray, name: str, argument: str) -> np.ndarray:
    rows = np.flatnonzero(split == name)
    if not len(rows):
        raise ValueError(
            f"{argument}: no samples in split {name!r}; splits present: {sorted(set(split.tolist()))}"
        )
    return rows


def find_failure_directions(
    evalset,
    embeddings=None,
    encoder=None,
    *,
    caption_words: CaptionWords | None = None,
    train_split: str = "train",
    val_split: str = "val",
    mode_split: str | None = None,
    heldout_split: str | None = None,
    **params,
) -> FailureDirectionsResult:
    """Failure directions of an EvalSet's classes.

    Parameters
    ----------
    evalset : EvalSet with a split column holding ``train_split`` and ``val_split``.
    embeddings : (N, D) CLIP image embeddings of all samples; computed with ``encoder``
        when None.
    encoder : a :class:`~failwidgets.features.clip.ClipEncoder` (images when ``embeddings``
        is None, and caption texts).
    caption_words : word lists for the candidate captions (default: the reference's).
    train_split, val_split : split names for the whitening statistics and the SVMs.
    mode_split : the split the failure modes are drawn from (default "test").
    heldout_split : a split on which the failure modes' ``heldout_drop`` is measured
        (default None: not measured).
    **params : :class:`FailureDirections` parameters (Cs, cv, min_errors, min_correct,
        random_state, solver, n_jobs), and ``classes`` (see
        :meth:`FailureDirectionsResult.from_arrays`: ``classes=[]`` fits each class's
        direction when it is first needed).
    """
    if getattr(evalset, "split", None) is None:
        raise ValueError(
            "evalset: failure directions need a split column with "
            f"{train_split!r} and {val_split!r} splits; this EvalSet has none"
        )
    if embeddings is None:
        if encoder is None:
            raise ValueError("embeddings: pass CLIP embeddings or an encoder to compute them")
        embeddings = encoder.encode_images(evalset)
    embeddings = _as_embeddings(embeddings, "embeddings", check_finite=False)  # from_arrays does
    if len(embeddings) != evalset.n:
        raise ValueError(
            f"embeddings: {len(embeddings)} rows for an EvalSet of {evalset.n} samples"
        )
    return FailureDirectionsResult.from_arrays(
        embeddings,
        evalset.labels,
        evalset.correct,
        evalset.split,
        evalset.class_names,
        text_encoder=encoder,
        caption_words=caption_words,
        train_split=train_split,
        val_split=val_split,
        mode_split=mode_split,
        heldout_split=heldout_split,
        **params,
    )
