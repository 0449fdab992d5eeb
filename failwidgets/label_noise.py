"""Label-noise guard: flag likely label errors with cleanlab's confident learning.

A failure mode made of samples whose *labels* are wrong misleads its user: the model is right
and the data is not. :func:`find_label_issues` runs cleanlab's confident learning
(Northcutt et al., JAIR 2021; ``cleanlab.filter.find_label_issues``) on an EvalSet's labels
and class probabilities, and scores every sample's label with
``cleanlab.rank.get_label_quality_scores``. The result, :class:`LabelIssues`, gives a
boolean ``flagged`` mask, a per-sample ``label_quality`` in [0, 1] (low: likely wrong) and the
``suggested_label`` (the argmax class), and can

- drop flagged samples from the rows a failure-mode search sees (:meth:`LabelIssues.exclude`),
- add a ``label_issue`` column to the EvalSet's metadata (:func:`with_label_issues`).

The probabilities must be *out of sample*: predicted by a model that was not trained on
these samples (a held-out test split, or cross-validated predictions such as scikit-learn's
``cross_val_predict(..., method="predict_proba")``). A model's probabilities on its own
training samples have memorised their labels, wrong ones included, so the flags on them say
little. When the EvalSet mixes training and held-out rows, restrict the check to the
held-out rows (``indices="test"``).

Flags are candidates for review, not proof: a sample the model gets confidently wrong is
flagged whether its label or the model is at fault. Failure modes the model is unsure about
(probabilities spread over classes) are not flagged.

Needs the optional dependency cleanlab: ``pip install "failwidgets[cleanlab]"``.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import pandas as pd

from .checks import check_indices as _check_indices
from .checks import check_n_jobs
from .data import EvalSet, as_probability_matrix, check_rows_sum_to_one

__all__ = [
    "FILTERS",
    "QUALITY_METHODS",
    "CLEANLAB_INSTALL",
    "LabelIssues",
    "find_label_issues",
    "with_label_issues",
]

#: cleanlab's ``filter_by`` rules (see ``cleanlab.filter.find_label_issues``).
FILTERS = (
    "prune_by_noise_rate",
    "prune_by_class",
    "both",
    "confident_learning",
    "predicted_neq_given",
    "low_normalized_margin",
    "low_self_confidence",
)
#: cleanlab's label quality scores (see ``cleanlab.rank.get_label_quality_scores``).
QUALITY_METHODS = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")
CLEANLAB_INSTALL = 'pip install "failwidgets[cleanlab]"'


def _cleanlab():
    """cleanlab's ``filter`` and ``rank`` modules, or an ImportError naming the extra."""
    try:
        from cleanlab import filter as cl_filter
        from cleanlab import rank as cl_rank
    except ImportError:
        raise ImportError(
            "find_label_issues: the label-noise guard needs the optional dependency cleanlab; "
            f"install it with {CLEANLAB_INSTALL}"
        ) from None
    return cl_filter, cl_rank


class LabelIssues:
    """Likely label errors among an EvalSet's samples (see :func:`find_label_issues`).

    Arrays have one entry per EvalSet sample; samples outside the checked rows are never
    flagged and have ``label_quality`` NaN.

    Attributes
    ----------
    flagged : bool (N,), likely label errors.
    label_quality : float (N,), cleanlab's label quality score in [0, 1]: low means the label
        is likely wrong; NaN for unchecked samples.
    suggested_label : int (N,), the most probable class (argmax of the probabilities).
    labels : int (N,), the given labels.
    checked : bool (N,), the samples examined.
    class_names : tuple of str.
    filter_by, quality_method : the cleanlab settings used.
    """

    def __init__(
        self,
        *,
        flagged: np.ndarray,
        label_quality: np.ndarray,
        suggested_label: np.ndarray,
        labels: np.ndarray,
        checked: np.ndarray,
        class_names,
        filter_by: str,
        quality_method: str,
    ):
        self.flagged = _read_only(flagged.astype(bool))
        self.label_quality = _read_only(label_quality.astype(np.float64))
        self.suggested_label = _read_only(suggested_label.astype(np.int64))
        self.labels = _read_only(labels.astype(np.int64))
        self.checked = _read_only(checked.astype(bool))
        self.class_names = tuple(class_names)
        self.filter_by = filter_by
        self.quality_method = quality_method

    @property
    def n(self) -> int:
        """Number of samples (the EvalSet's)."""
        return len(self.flagged)

    @property
    def n_flagged(self) -> int:
        return int(self.flagged.sum())

    @property
    def flagged_indices(self) -> np.ndarray:
        """Indices of flagged samples, most likely label errors (lowest quality) first."""
        rows = np.flatnonzero(self.flagged)
        return rows[np.argsort(self.label_quality[rows], kind="stable")]

    def __repr__(self) -> str:
        checked = int(self.checked.sum())
        share = self.n_flagged / checked if checked else 0.0
        return (
            f"LabelIssues({self.n_flagged} of {checked} checked samples flagged ({share:.1%}), "
            f"filter_by={self.filter_by!r})"
        )

    def exclude(self, indices=None) -> np.ndarray:
        """``indices`` without the flagged samples, in their order.

        Pass the result as the rows of a failure-mode search (e.g. ``Prime().fit(evalset,
        indices=issues.exclude(rows))``) so that no mode is built from likely label errors.

        Parameters
        ----------
        indices : int indices or a boolean (N,) mask of the EvalSet's samples; None: all.

        Returns
        -------
        np.ndarray of int64 indices.
        """
        if indices is None:
            return np.flatnonzero(~self.flagged)
        rows = _check_indices(indices, self.n, "indices")
        return rows[~self.flagged[rows]]

    def to_frame(self, flagged_only: bool = True) -> pd.DataFrame:
        """One row per (flagged) checked sample, lowest label quality first.

        Columns: ``index`` (EvalSet index), ``label``, ``suggested_label`` (class names),
        ``label_quality``, ``flagged``.
        """
        if not isinstance(flagged_only, (bool, np.bool_)):
            raise TypeError(f"flagged_only: expected a bool, got {type(flagged_only).__name__}")
        rows = np.flatnonzero(self.flagged if flagged_only else self.checked)
        rows = rows[np.argsort(self.label_quality[rows], kind="stable")]
        names = np.asarray(self.class_names, dtype=object)
        return pd.DataFrame(
            {
                "index": rows,
                "label": names[self.labels[rows]],
                "suggested_label": names[self.suggested_label[rows]],
                "label_quality": self.label_quality[rows],
                "flagged": self.flagged[rows],
            }
        )

    def per_class(self) -> pd.DataFrame:
        """Checked and flagged samples per given label, and the flagged fraction."""
        k = len(self.class_names)
        checked = np.bincount(self.labels[self.checked], minlength=k)
        flagged = np.bincount(self.labels[self.flagged], minlength=k)
        with np.errstate(invalid="ignore", divide="ignore"):
            fraction = np.where(checked > 0, flagged / np.maximum(checked, 1), np.nan)
        return pd.DataFrame(
            {"checked": checked, "flagged": flagged, "fraction": fraction},
            index=pd.Index(self.class_names, name="class"),
        )

    def add_to(self, evalset: EvalSet, column: str = "label_issue", **kwargs) -> EvalSet:
        """The EvalSet with the flags as a metadata column: see :func:`with_label_issues`."""
        return with_label_issues(evalset, self, column=column, **kwargs)


def find_label_issues(
    evalset: EvalSet,
    probabilities=None,
    *,
    indices=None,
    filter_by: str = "prune_by_noise_rate",
    quality_method: str = "self_confidence",
    frac_noise: float = 1.0,
    n_jobs: int | None = 1,
) -> LabelIssues:
    """Flag likely label errors with cleanlab's confident learning.

    Parameters
    ----------
    evalset : EvalSet
        Its labels are checked.
    probabilities : (N, C) array, optional
        Out-of-sample class probabilities of every sample (rows sum to 1); default: the
        EvalSet's own. Probabilities from a model trained on these samples make the flags
        meaningless: use a held-out split or cross-validated predictions.
    indices : int indices, boolean (N,) mask or split name, optional
        The samples to check (e.g. ``"test"``, the rows the model never saw); default: all.
        Confident learning estimates its per-class thresholds from these rows only.
    filter_by : str
        cleanlab's rule for flagging (one of :data:`FILTERS`). The default,
        ``"prune_by_noise_rate"``, removes per pair of classes as many samples as the
        estimated number of label errors between them, those with the largest margin first.
    quality_method : str
        cleanlab's label quality score (one of :data:`QUALITY_METHODS`); the default is the
        probability of the given label.
    frac_noise : float in (0, 1]
        Flag only this fraction of the estimated label errors (cleanlab's ``frac_noise``).
    n_jobs : int or None
        Processes cleanlab may use; None: all cores.

    Returns
    -------
    LabelIssues

    Raises
    ------
    ImportError : when cleanlab is not installed (``pip install "failwidgets[cleanlab]"``).
    """
    if not isinstance(evalset, EvalSet):
        raise TypeError(f"evalset: expected an EvalSet, got {type(evalset).__name__}")
    filter_by = _check_choice(filter_by, "filter_by", FILTERS)
    quality_method = _check_choice(quality_method, "quality_method", QUALITY_METHODS)
    if isinstance(frac_noise, bool) or not isinstance(frac_noise, numbers.Real):
        raise TypeError(f"frac_noise: expected a number in (0, 1], got {type(frac_noise).__name__}")
    if not 0.0 < float(frac_noise) <= 1.0:
        raise ValueError(f"frac_noise: must lie in (0, 1], got {frac_noise}")
    n_jobs = check_n_jobs(n_jobs)
    if probabilities is None:
        if evalset.probabilities is None:
            raise ValueError(
                "probabilities: the EvalSet has no probabilities; pass out-of-sample "
                "probabilities=, an (N, C) array"
            )
        probabilities = evalset.probabilities
    probs = _check_probabilities(probabilities, evalset.n, evalset.n_classes)
    if isinstance(indices, str):
        rows = evalset.split_indices(indices, argument="indices")
    elif indices is None:
        rows = np.arange(evalset.n)
    else:
        rows = np.unique(_check_indices(indices, evalset.n, "indices"))
        if rows.size == 0:
            raise ValueError("indices: no samples to check")
    cl_filter, cl_rank = _cleanlab()
    labels = np.asarray(evalset.labels, dtype=np.int64)
    given, row_probs = labels[rows], probs[rows]
    found = cl_filter.find_label_issues(
        given,
        row_probs,
        filter_by=filter_by,
        frac_noise=float(frac_noise),
        n_jobs=None if n_jobs is None else int(n_jobs),
    )
    quality = cl_rank.get_label_quality_scores(given, row_probs, method=quality_method)
    flagged = np.zeros(evalset.n, dtype=bool)
    flagged[rows] = np.asarray(found, dtype=bool)
    label_quality = np.full(evalset.n, np.nan)
    label_quality[rows] = quality
    checked = np.zeros(evalset.n, dtype=bool)
    checked[rows] = True
    return LabelIssues(
        flagged=flagged,
        label_quality=label_quality,
        suggested_label=np.argmax(probs, axis=1),
        labels=labels,
        checked=checked,
        class_names=evalset.class_names,
        filter_by=filter_by,
        quality_method=quality_method,
    )


def with_label_issues(
    evalset: EvalSet,
    issues: LabelIssues,
    column: str = "label_issue",
    *,
    quality_column: str | None = None,
    overwrite: bool = False,
) -> EvalSet:
    """A new EvalSet whose metadata has the flags as a boolean column (the original is kept).

    Images, labels, predictions, probabilities and split are shared; the metadata is copied
    with ``column`` (``issues.flagged``) added, and ``quality_column`` (``label_quality``)
    when given.

    Note that a boolean metadata column is a tag to the tag-based methods (PRIME's default
    tags, CES's concepts from metadata); pass them explicit columns to leave it out.

    Raises
    ------
    ValueError : ``issues`` were found on another EvalSet (other size or labels), or a
        column exists already and ``overwrite`` is False.
    """
    if not isinstance(evalset, EvalSet):
        raise TypeError(f"evalset: expected an EvalSet, got {type(evalset).__name__}")
    if not isinstance(issues, LabelIssues):
        raise TypeError(f"issues: expected LabelIssues, got {type(issues).__name__}")
    if issues.n != evalset.n or not np.array_equal(issues.labels, evalset.labels):
        raise ValueError(
            f"issues: found on another EvalSet ({issues.n} samples) than this one "
            f"({evalset.n} samples), or its labels changed since"
        )
    names = {"column": column}
    if quality_column is not None:
        names["quality_column"] = quality_column
    for argument, name in names.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"{argument}: expected a non-empty column name, got {name!r}")
    if quality_column == column:
        raise ValueError(f"quality_column: must differ from column ({column!r})")
    metadata = pd.DataFrame(index=pd.RangeIndex(evalset.n))
    if evalset.metadata is not None:
        metadata = evalset.metadata.copy()
    for argument, name in names.items():
        if name in metadata.columns and not overwrite:
            raise ValueError(
                f"{argument}: the metadata has a column {name!r} already; pass overwrite=True "
                "or another name"
            )
    metadata[column] = np.asarray(issues.flagged)
    if quality_column is not None:
        metadata[quality_column] = np.asarray(issues.label_quality)
    with warnings.catch_warnings():  # the EvalSet already warned about argmax mismatches
        warnings.filterwarnings("ignore", message=r"predictions: .* not the argmax")
        return EvalSet(
            evalset.images,
            evalset.labels,
            evalset.predictions,
            evalset.class_names,
            probabilities=evalset.probabilities,
            metadata=metadata,
            split=evalset.split,
        )


# ---------------------------------------------------------------------- validation


def _read_only(array: np.ndarray) -> np.ndarray:
    array = np.array(array)
    array.setflags(write=False)
    return array


def _check_choice(value, name: str, choices) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected one of {list(choices)}, got {type(value).__name__}")
    if value not in choices:
        raise ValueError(f"{name}: unknown value {value!r}; expected one of {list(choices)}")
    return value


def _check_probabilities(probabilities, n: int, n_classes: int) -> np.ndarray:
    """(n, n_classes) float64 rows of finite non-negative values summing to 1 (renormalised)."""
    probs = as_probability_matrix(probabilities, n, n_classes)
    if not np.all(np.isfinite(probs)):
        first = int(np.flatnonzero(~np.isfinite(probs).all(axis=1))[0])
        raise ValueError(f"probabilities: row {first} has NaN or infinite values")
    if (probs < 0).any():
        first = int(np.flatnonzero((probs < 0).any(axis=1))[0])
        raise ValueError(f"probabilities: row {first} has negative values")
    return probs / check_rows_sum_to_one(probs)[:, None]
