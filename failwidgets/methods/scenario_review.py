"""Defuse's scenarios placed on an EvalSet: what reviewing them computes.

:class:`ScenarioReview` ties a fitted :class:`~failwidgets.methods.defuse.Defuse` to the
EvalSet rows it identified failures around (image ``i`` of the fit is EvalSet row
``rows[i]``) and answers what a review of its scenarios asks, with no widget involved:

- each scenario's source images (EvalSet rows) and its :class:`~failwidgets.modes.FailureMode`,
  whose rule re-applies it (:class:`~failwidgets.rules.MixtureRule`: encode, then the
  component of highest responsibility);
- the package's protocol (:class:`~failwidgets.mode_source.FailureModeSource`):
  ``failure_modes(classes="all", tau=...)``, the failure modes left once the annotator's
  labels (the review's :attr:`~ScenarioReview.labels` store) are read (a scenario marked "not
  a failure" is left out; with :attr:`~ScenarioReview.confirmed_only` only those marked
  failures are kept), and ``table(classes="all", tau=...)``, the scenarios with those labels.
  ``tau`` changes the samples, not the modes: it is checked and has no other effect there;
- labelling a scenario (:meth:`~ScenarioReview.set_label`, written to the store at once);
- the VAE check (Defuse's quality gate) as a sentence;
- decoded samples of a scenario, drawn at a given spread ``tau``;
- the correction, its training, test and validation images taken from the EvalSet's splits.

:func:`review_rows` chooses the rows (indices, a split, or by default the val split when there
is one) and :meth:`ScenarioReview.fit` fits a Defuse on at most ``max_images`` of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..checks import check_int
from ..class_names import class_index
from ..data import EvalSet
from ..mode_source import FailureModeSource, resolve_classes, resolve_thresholds
from ..modes import FailureMode
from ..text import percent as _percent
from .answers import AnswerFrame, AnswerList, answer_frame, answer_list
from .defuse import Defuse, ScenarioSamples, sample_scenario
from .scenario_labels import ScenarioLabel, ScenarioLabels
from .vae import CheckedVAE, check_vae

__all__ = [
    "DEFAULT_FIT_SETTINGS",
    "DEFAULT_MAX_IMAGES",
    "DEFAULT_SPLIT",
    "ScenarioReview",
    "check_images_fit_vae",
    "review_rows",
]

#: Defuse settings used by :meth:`ScenarioReview.fit` (favouring speed; the paper's Q is 100).
DEFAULT_FIT_SETTINGS = {"n_samples": 20}
#: :meth:`ScenarioReview.fit` identifies failures around at most this many images.
DEFAULT_MAX_IMAGES = 500


class _DefaultSplit:
    def __repr__(self) -> str:
        return "DEFAULT_SPLIT"


#: ``split`` of :func:`review_rows` left to its default: "val" when present, else every row.
DEFAULT_SPLIT = _DefaultSplit()


def review_rows(evalset: EvalSet, split=DEFAULT_SPLIT, indices=None) -> np.ndarray:
    """The EvalSet rows Defuse identifies failures around (a new int64 array).

    ``indices`` (a sequence of indices or a boolean mask) wins; otherwise the rows of
    ``split``; :data:`DEFAULT_SPLIT` means "val" when the EvalSet has a val split, else every
    row; None means every row. Errors name ``indices`` or ``split``.
    """
    if indices is not None:
        if split is not DEFAULT_SPLIT:
            raise ValueError("indices: pass either indices or split, not both")
        if isinstance(indices, (str, bytes)) or np.isscalar(indices):
            raise TypeError(
                f"indices: expected a sequence of sample indices, got {type(indices).__name__}"
            )
        rows = evalset.check_indices(indices, name="indices")
    elif split is DEFAULT_SPLIT:
        has_val = evalset.split is not None and bool(np.any(evalset.split == "val"))
        rows = evalset.split_indices("val") if has_val else np.arange(evalset.n)
    elif split is None:
        rows = np.arange(evalset.n)
    else:
        if not isinstance(split, str):
            raise TypeError(f"split: expected a split name or None, got {type(split).__name__}")
        if evalset.split is None:
            raise ValueError("split: the EvalSet has no split column; pass split=None")
        if not np.any(evalset.split == split):
            present = sorted(set(evalset.split.tolist()))
            raise ValueError(f"split: no samples in split {split!r}; splits present: {present}")
        rows = evalset.split_indices(split)
    if len(rows) == 0:
        raise ValueError("indices: no images to identify failures around")
    return np.asarray(rows, dtype=np.int64).copy()


def check_images_fit_vae(evalset: EvalSet, rows: np.ndarray, vae: CheckedVAE) -> None:
    """The images at ``rows`` have the VAE's size, and the VAE keeps its contract on two."""
    height, width = evalset.image(int(rows[0])).shape[:2]
    if vae.image_shape is not None and (height, width) != vae.image_shape[1:]:
        size_h, size_w = vae.image_shape[1:]
        raise ValueError(
            f"evalset: its images are {height}x{width} pixels but the VAE was built for "
            f"{size_h}x{size_w} images (vae.config.image_size={size_h}); resize the images or "
            f"train a VAE with image_size={height}"
        )
    vae.probe(evalset.images_at(rows[:2]))


_UNSET = object()  # a label field left out of set_label


class ScenarioReview(FailureModeSource):
    """A fitted Defuse's scenarios over the EvalSet rows it identified failures around.

    Parameters
    ----------
    evalset : EvalSet
    defuse : Defuse
        Fitted on ``evalset.images_at(rows)`` with ``evalset.labels[rows]``, in that order.
    rows : array of int
        The EvalSet rows of the fit's images.
    vae, classifier : optional
        When given, the Defuse must have been fitted with these very objects.
    preprocess : callable, optional
        The classifier's transform (default: the Defuse's; when given, it must be the Defuse's).
    checked_vae : CheckedVAE, optional
        The VAE already checked (default: checked here).
    labels : ScenarioLabels, optional
        The annotator's label store of these scenarios (also :meth:`open_labels`).
    confirmed_only : bool
        :meth:`failure_modes` keeps only the scenarios ``labels`` marks failures (default:
        every scenario not marked "not a failure").

    Attributes
    ----------
    evalset, defuse, rows (read-only), identification, scenarios, quality, preprocess,
    classifier, vae (the checked VAE), seed.
    labels, confirmed_only : settable, checked (see the parameters).

    Notes
    -----
    The protocol (:class:`~failwidgets.mode_source.FailureModeSource`, method ``"defuse"``):
    ``failure_modes(classes="all", tau=...)`` lists one mode per scenario whose majority label
    is one of ``classes`` (:meth:`failure_mode`), in scenario order. Each scenario is made of
    misclassified codes, so it is a failure candidate until reviewed: those :attr:`labels`
    marks "not a failure" are left out, and with :attr:`confirmed_only` only those it marks
    failures are kept. ``tau`` (the spread of the decoded samples) is checked but changes no
    mode. An empty answer's ``reason`` says why, per class.
    """

    method = "defuse"

    def __init__(
        self,
        evalset: EvalSet,
        defuse: Defuse,
        rows,
        *,
        vae=None,
        classifier=None,
        preprocess: Callable | None = None,
        checked_vae: CheckedVAE | None = None,
        labels: ScenarioLabels | None = None,
        confirmed_only: bool = False,
    ):
        if not isinstance(evalset, EvalSet):
            raise TypeError(f"evalset: expected an EvalSet, got {type(evalset).__name__}")
        if not isinstance(defuse, Defuse):
            raise TypeError(
                f"defuse: expected a fitted Defuse or None, got {type(defuse).__name__}"
            )
        if not hasattr(defuse, "scenarios_"):
            raise ValueError("defuse: the Defuse is not fitted; call fit(images, labels) first")
        if vae is not None and defuse.vae is not vae:
            raise ValueError("defuse: it was fitted with another VAE; pass the same `vae`")
        if classifier is not None and defuse.classifier is not classifier:
            raise ValueError("defuse: it was fitted with another classifier; pass the same one")
        if preprocess is not None and defuse.preprocess is not preprocess:
            raise ValueError("preprocess: differs from the given defuse's preprocess")
        rows = np.asarray(evalset.check_indices(rows, name="rows"), dtype=np.int64).copy()
        identification = defuse.identification_
        if identification.n_images != len(rows):
            raise ValueError(
                f"defuse: it was fitted on {identification.n_images} images but {len(rows)} are "
                "selected; fit it on evalset.images_at(rows) of the same split (or pass indices=)"
            )
        if not np.array_equal(
            identification.labels, evalset.labels[rows][identification.image_index]
        ):
            raise ValueError(
                "defuse: the labels it was fitted with differ from the EvalSet's at the selected "
                "images; fit it on the same images, in the same order"
            )
        if identification.n_classes is not None and identification.n_classes != evalset.n_classes:
            raise ValueError(
                f"classifier: it predicts {identification.n_classes} classes, the EvalSet has "
                f"{evalset.n_classes}"
            )
        rows.flags.writeable = False
        self.evalset = evalset
        self.defuse = defuse
        self.rows = rows
        self.identification = identification
        self.scenarios = defuse.scenarios_
        self.classifier = defuse.classifier
        self.preprocess = defuse.preprocess
        self.vae = checked_vae if checked_vae is not None else check_vae(defuse.vae)
        self.seed = int(defuse.seed)
        self._members = {
            s.id: np.unique(rows[identification.image_index[s.member_index]])
            for s in self.scenarios
        }
        self._encoder = None  # shared by the modes' rules: each image is encoded once
        self.labels = labels
        self.confirmed_only = confirmed_only

    @classmethod
    def build(
        cls,
        evalset: EvalSet,
        classifier,
        vae,
        *,
        defuse: Defuse | None = None,
        preprocess: Callable | None = None,
        split=DEFAULT_SPLIT,
        indices=None,
        fit_kwargs: Mapping | None = None,
        max_images: int | None = DEFAULT_MAX_IMAGES,
    ) -> ScenarioReview:
        """The review of ``defuse``, or of a Defuse fitted here (:meth:`fit`), over the rows
        of ``split`` or ``indices`` (:func:`review_rows`), with every input checked first
        (errors name the argument)."""
        if not isinstance(evalset, EvalSet):
            raise TypeError(f"evalset: expected an EvalSet, got {type(evalset).__name__}")
        if not callable(classifier):
            raise TypeError(
                f"classifier: expected a callable torch module, got {type(classifier).__name__}"
            )
        checked_vae = CheckedVAE(vae)  # TypeError naming vae without encode / decode
        if preprocess is not None and not callable(preprocess):
            raise TypeError(
                f"preprocess: expected a callable or None, got {type(preprocess).__name__}"
            )
        if defuse is not None and not isinstance(defuse, Defuse):
            raise TypeError(
                f"defuse: expected a fitted Defuse or None, got {type(defuse).__name__}"
            )
        if fit_kwargs is not None:
            if defuse is not None:
                raise ValueError(
                    "fit_kwargs: only used when the view fits Defuse; the given defuse is fitted"
                )
            if not isinstance(fit_kwargs, Mapping):
                raise TypeError(
                    f"fit_kwargs: expected a dict of Defuse settings, got {type(fit_kwargs).__name__}"
                )
        if max_images is not None:
            max_images = check_int(max_images, "max_images", 1)
        rows = review_rows(evalset, split, indices)
        check_images_fit_vae(evalset, rows, checked_vae)
        if defuse is None:
            return cls.fit(
                evalset, classifier, vae, rows, preprocess=preprocess, settings=fit_kwargs,
                max_images=max_images, checked_vae=checked_vae,
            )  # fmt: skip
        return cls(
            evalset, defuse, rows, vae=vae, classifier=classifier, preprocess=preprocess,
            checked_vae=checked_vae,
        )  # fmt: skip

    @classmethod
    def fit(
        cls,
        evalset: EvalSet,
        classifier,
        vae,
        rows,
        *,
        preprocess: Callable | None = None,
        settings: Mapping | None = None,
        max_images: int | None = DEFAULT_MAX_IMAGES,
        checked_vae: CheckedVAE | None = None,
    ) -> ScenarioReview:
        """Fit a :class:`Defuse` around (a seeded random subset of at most ``max_images`` of)
        ``rows`` with ``settings`` over :data:`DEFAULT_FIT_SETTINGS`; errors in the settings
        name ``fit_kwargs``."""
        settings = {**DEFAULT_FIT_SETTINGS, **(dict(settings) if settings else {})}
        try:
            defuse = Defuse(vae, classifier, preprocess=preprocess, **settings)
        except TypeError as error:
            raise TypeError(f"fit_kwargs: {error}") from None
        rows = np.asarray(rows, dtype=np.int64)
        if max_images is not None and len(rows) > max_images:
            rng = np.random.default_rng(int(settings.get("seed", 0)))
            rows = np.sort(rng.choice(rows, size=max_images, replace=False))
        defuse.fit(evalset.images_at(rows), evalset.labels[rows])
        return cls(evalset, defuse, rows, checked_vae=checked_vae)

    # ------------------------------------------------------------------ labels
    @property
    def labels(self) -> ScenarioLabels | None:
        """The annotator's label store of these scenarios (None: no labels read)."""
        return self._labels

    @labels.setter
    def labels(self, labels: ScenarioLabels | None) -> None:
        if labels is not None and not isinstance(labels, ScenarioLabels):
            raise TypeError(
                f"labels: expected a ScenarioLabels or None, got {type(labels).__name__}"
            )
        if labels is not None and labels.n_classes != self.evalset.n_classes:
            raise ValueError(
                f"labels: the store is for {labels.n_classes} classes, the EvalSet has "
                f"{self.evalset.n_classes}"
            )
        fingerprint = self.scenarios.fingerprint
        if labels is not None and labels.scenario_set not in (None, fingerprint):
            raise ValueError(
                f"labels: the store holds labels of another scenario set ({labels.scenario_set}, "
                f"expected {fingerprint}); open this set's store with open_labels(path)"
            )
        self._labels = labels

    @property
    def confirmed_only(self) -> bool:
        """:meth:`failure_modes` keeps only the scenarios :attr:`labels` marks failures."""
        return self._confirmed_only

    @confirmed_only.setter
    def confirmed_only(self, value: bool) -> None:
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"confirmed_only: expected True or False, got {type(value).__name__}")
        self._confirmed_only = bool(value)

    def open_labels(self, labels_path, *, adopt_labels: bool = False) -> ScenarioLabels:
        """Open the annotator's label store of this scenario set at ``labels_path`` and make
        it :attr:`labels` (read when the file exists; a file of another scenario set, or
        without a scenario-set fingerprint unless ``adopt_labels``, is refused). Errors name
        ``labels_path``. Returns the store."""
        if isinstance(labels_path, (bytes, bytearray)) or not isinstance(
            labels_path, (str, os.PathLike)
        ):
            raise TypeError(f"labels_path: expected a file path, got {type(labels_path).__name__}")
        path = Path(labels_path)
        if path.is_dir():
            raise ValueError(
                f"labels_path: {str(path)!r} is a folder; pass a file name such as "
                f"{str(path / 'defuse_labels.json')!r}"
            )
        if not isinstance(adopt_labels, (bool, np.bool_)):
            raise TypeError(
                f"adopt_labels: expected True or False, got {type(adopt_labels).__name__}"
            )
        try:
            labels = ScenarioLabels(
                path,
                n_classes=self.evalset.n_classes,
                scenario_ids=self.scenarios.ids,
                class_names=self.evalset.class_names,
                scenario_set=self.scenarios.fingerprint,
                adopt=bool(adopt_labels),
            )
        except (TypeError, ValueError) as error:
            message = str(error).removeprefix("path: ").replace("adopt=True", "adopt_labels=True")
            raise ValueError(f"labels_path: {message}") from None
        self.labels = labels
        return labels

    def label(self, scenario_id: int) -> ScenarioLabel:
        """The stored label of a scenario (an empty one without :attr:`labels`)."""
        scenario_id = self.check_id(scenario_id)
        return ScenarioLabel() if self._labels is None else self._labels.get(scenario_id)

    def set_label(self, scenario_id: int, *, is_failure=_UNSET, correct_label=_UNSET):
        """Label a scenario in :attr:`labels` (the file is written at once).

        ``is_failure``: True, False or None (not reviewed); ``correct_label``: a class name,
        a class index or None. Fields left out keep their value. Returns the stored label.
        """
        scenario_id = self.check_id(scenario_id)
        store = self._store()
        fields = {}
        if is_failure is not _UNSET:
            fields["is_failure"] = is_failure
        if correct_label is not _UNSET:
            if isinstance(correct_label, str):
                correct_label = class_index(correct_label, self.class_names, name="correct_label")
            fields["correct_label"] = correct_label
        return store.set(scenario_id, **fields)

    def clear_label(self, scenario_id: int) -> None:
        """Forget a scenario's label in :attr:`labels` (written at once)."""
        self._store().clear(self.check_id(scenario_id))

    def _store(self) -> ScenarioLabels:
        if self._labels is None:
            raise ValueError(
                "labels: the review has no label store; open one with open_labels(path)"
            )
        return self._labels

    # ------------------------------------------------------------------ scenarios
    @property
    def quality(self):
        """The :class:`~failwidgets.methods.defuse.ReconstructionQuality` of the fit's images
        (None for an identification made without the check)."""
        return self.identification.quality

    def check_id(self, scenario_id) -> int:
        """``scenario_id`` as an int; TypeError/ValueError naming it when it is no scenario's."""
        if isinstance(scenario_id, (bool, np.bool_)) or not isinstance(
            scenario_id, (int, np.integer)
        ):
            raise TypeError(f"scenario_id: expected an integer, got {type(scenario_id).__name__}")
        scenario_id = int(scenario_id)
        if scenario_id not in self._members:
            raise ValueError(
                f"scenario_id: {scenario_id} is not one of the {len(self._members)} scenario ids"
            )
        return scenario_id

    def ids(self, class_name: str | None = None) -> list[int]:
        """Scenario ids, all or those whose majority label is ``class_name``."""
        if class_name is None:
            return list(self.scenarios.ids)
        c = self.evalset.class_index(class_name)
        return [s.id for s in self.scenarios if s.majority_label == c]

    def members(self, scenario_id: int) -> np.ndarray:
        """EvalSet rows (ascending) of the source images of a scenario's member codes."""
        return self._members[self.check_id(scenario_id)].copy()

    def class_of(self, scenario_id: int) -> str:
        """The scenario's class: the majority label of its images ("?" when it has none)."""
        c = self.scenarios[self.check_id(scenario_id)].majority_label
        return self.evalset.class_names[c] if c is not None else "?"

    def failure_mode(self, scenario_id: int) -> FailureMode:
        """The scenario's source images as a failure mode of its class.

        ``drop`` is the accuracy on the class's images among :attr:`rows` minus the accuracy
        on the scenario's; the ``rule`` re-applies it: the class's images whose VAE code
        falls in the scenario's mixture component (None without a majority label).
        """
        from ..rules import MixtureRule, vae_encoder

        scenario = self.scenarios[self.check_id(scenario_id)]
        names = self.evalset.class_names
        top = scenario.top_prediction
        predicted = names[top] if top is not None else "?"
        name = self.class_of(scenario.id)
        rule = None
        mixture = self.scenarios.mixture
        if scenario.majority_label is not None and mixture is not None:
            if self._encoder is None:
                self._encoder = vae_encoder(self.vae)
            rule = MixtureRule.from_vae(self._encoder, mixture, scenario.component, name)
        return FailureMode.from_members(
            "defuse",
            name,
            f"scenario {scenario.id}: {name} → predicted {predicted}",
            self._members[scenario.id].copy(),
            self.evalset,
            reference_indices=self.rows,
            grouping="label" if scenario.majority_label is not None else None,
            rule=rule,
        )

    # ------------------------------------------------------------------ protocol
    @property
    def class_names(self) -> list[str]:
        return list(self.evalset.class_names)

    def _failure_modes(self, class_names: list[str], thresholds: dict) -> AnswerList:
        """One mode per scenario of ``class_names`` left by the labels (see the class notes);
        ``tau`` changes no mode."""
        modes = [self.failure_mode(s.id) for s in self._listed(class_names) if self._is_mode(s.id)]
        return answer_list(modes, lambda: self._empty_reason(class_names))

    def table(self, classes="all", **thresholds) -> AnswerFrame:
        """The scenarios of ``classes`` (majority label) as a DataFrame: the engine's columns,
        their class names, number of source images and, with :attr:`labels`, the annotator's
        verdict and correct label. Every scenario is listed, whatever its verdict; ``tau``
        is checked and changes no row. When empty, its ``reason`` says why."""
        names = resolve_classes(classes, self.class_names)
        resolve_thresholds(self.method, thresholds, self.threshold_values())
        listed = [s.id for s in self._listed(names)]
        frame = self.scenarios.to_frame().loc[listed]
        class_names = self.evalset.class_names

        def name(c):
            return None if c is None or pd.isna(c) else class_names[int(c)]

        frame["majority_class"] = [name(c) for c in frame["majority_label"]]
        frame["top_prediction_class"] = [name(c) for c in frame["top_prediction"]]
        frame["n_images"] = [len(self._members[int(i)]) for i in frame.index]
        if self._labels is not None:
            stored = [self._labels.get(int(i)) for i in frame.index]
            frame["is_failure"] = [label.is_failure for label in stored]
            frame["correct_label"] = [name(label.correct_label) for label in stored]
        return answer_frame(frame, lambda: self._no_scenario_reason(names))

    def _listed(self, class_names: list[str]) -> list:
        """The scenarios whose majority label is one of ``class_names``, in scenario order."""
        wanted = {self.evalset.class_index(c) for c in class_names}
        return [s for s in self.scenarios if s.majority_label in wanted]

    def _is_mode(self, scenario_id: int) -> bool:
        """Whether the labels leave the scenario a failure mode (see the class notes)."""
        verdict = self.label(scenario_id).is_failure
        return verdict is True or (verdict is None and not self._confirmed_only)

    def _no_scenario_reason(self, class_names: list[str]) -> str:
        if self.scenarios.is_empty:
            return self.scenarios.message
        if not class_names:
            return "no class was given"
        shown = ", ".join(repr(c) for c in class_names[:5]) + (
            f" and {len(class_names) - 5} more" if len(class_names) > 5 else ""
        )
        return (
            f"no scenario has majority label {shown}; {len(self.scenarios)} scenarios in "
            "other classes"
        )

    def _empty_reason(self, class_names: list[str]) -> str:
        """Why no failure mode is left: no scenario in the classes, else, per class with
        scenarios, what the labels did to them."""
        by_class = {name: [s.id for s in self._listed([name])] for name in class_names}
        reviewed = {name: ids for name, ids in by_class.items() if ids}
        if not reviewed:
            return self._no_scenario_reason(class_names)
        reasons = []
        for name, ids in reviewed.items():
            marked_not = sum(self.label(i).is_failure is False for i in ids)
            text = f"its {len(ids)} scenarios are marked 'not a failure'"
            if marked_not < len(ids):  # the others are unreviewed, and confirmed_only is set
                text = (
                    f"none of its {len(ids)} scenarios is marked a failure ({marked_not} "
                    "marked 'not a failure'; confirmed_only lists only scenarios marked "
                    "failures)"
                )
            reasons.append((name, text))
        if len(class_names) == 1:
            return reasons[0][1]
        return "; ".join(f"{name}: {why}" for name, why in reasons) + (
            f"; no scenario in the {len(class_names) - len(reviewed)} other classes"
            if len(reviewed) < len(class_names)
            else ""
        )

    def samples(self, scenario_id: int, *, n: int, tau: float, draw: int = 0) -> ScenarioSamples:
        """``n`` decoded, classified samples ``z ~ N(mean, tau * cov)`` of a scenario; each
        ``draw`` is its own random stream (the same for every ``tau``)."""
        return sample_scenario(
            self.scenarios[self.check_id(scenario_id)],
            self.vae,
            self.classifier,
            n=n,
            tau=tau,
            preprocess=self.preprocess,
            seed=self.seed + int(draw),
        )

    def quality_text(self) -> str:
        """The VAE check in one paragraph: the classifier's accuracy on the images and on
        their reconstructions, what to do when it fails, and the VAE failures found."""
        quality = self.quality
        if quality is None:
            return "VAE check: not measured (the Defuse was fitted without it)"
        found = self.identification
        text = (
            f"VAE check: the classifier gets {_percent(quality.original_accuracy)} of the "
            f"{quality.n_images} images right and {_percent(quality.reconstruction_accuracy)} "
            "of their VAE reconstructions"
        )
        if quality.passed:
            text += "."
        else:
            text += (
                f", under {quality.min_ratio:g} x: decoded samples look like failures for that "
                "reason alone. Fix the VAE (train it longer, a larger latent_dim or a smaller "
                "beta, decode to [0, 1] images)."
            )
        if found.n_vae_failing_draws:
            what = "left out" if found.vae_failures == "exclude" else "kept, flagged"
            text += (
                f" {found.n_vae_failing_draws} misclassified draws of "
                f"{found.n_vae_failure_images} images whose reconstruction alone is "
                f"misclassified are VAE failures ({what})."
            )
        return text

    def quality_summary(self) -> dict | None:
        """The VAE check as a JSON-ready dict (the :class:`ReconstructionQuality` fields,
        ``n_vae_failing_draws``, ``vae_failures`` and ``text``: :meth:`quality_text`), or None
        when it was not measured."""
        if self.quality is None:
            return None
        return {
            **self.quality.as_dict(),
            "n_vae_failing_draws": int(self.identification.n_vae_failing_draws),
            "vae_failures": self.identification.vae_failures,
            "text": self.quality_text(),
        }

    # ------------------------------------------------------------------ correction
    def correction_data(self, **given) -> dict:
        """``train_images``/``train_labels``, ``test_…`` and ``val_…`` for
        :func:`~failwidgets.methods.defuse.correct_classifier` from the EvalSet's splits,
        except those in ``given``; ValueError when a train or test split is missing."""
        evalset = self.evalset
        data = {}
        for role in ("train", "test", "val"):
            images_key, labels_key = f"{role}_images", f"{role}_labels"
            if images_key in given or labels_key in given:
                continue
            if evalset.split is not None and bool(np.any(evalset.split == role)):
                rows = evalset.split_indices(role)
                data[images_key] = evalset.images_at(rows)
                data[labels_key] = evalset.labels[rows]
            elif role != "val":
                raise ValueError(
                    f"correct: the EvalSet has no {role!r} split; pass {images_key}= and "
                    f"{labels_key}="
                )
        return data

    def correct(self, *, tau: float, **kwargs):
        """Finetune copies of the classifier on the failure scenarios labelled in
        :attr:`labels`.

        :func:`~failwidgets.methods.defuse.correct_classifier` with the EvalSet's splits
        (:meth:`correction_data`), ``preprocess`` and ``seed`` of the Defuse and samples
        drawn at ``tau``; any of its keywords may be given. Returns its ``CorrectionResult``.
        """
        from . import defuse as engine  # looked up at call time (tests replace it)

        labels = self._store()
        settings = {"preprocess": self.preprocess, "tau": tau, "seed": self.seed}
        settings.update(self.correction_data(**kwargs))
        settings.update(kwargs)
        return engine.correct_classifier(
            self.classifier, self.vae, self.scenarios, labels, **settings
        )

    def __repr__(self) -> str:
        return f"ScenarioReview({len(self.scenarios)} scenarios over {len(self.rows)} EvalSet rows)"
