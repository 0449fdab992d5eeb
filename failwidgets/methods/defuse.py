"""Defuse: failure scenarios from a beta-VAE's latent space, and their correction.

Three steps (Slack et al., "Defuse: Debugging Classifiers Through Distilling Unrestricted
Adversarial Examples"):

0. **Quality gate** (:class:`ReconstructionQuality`): the classifier's accuracy on the input
   images and on their VAE reconstructions ``decode(mu)``; a :class:`VAEQualityWarning` when
   the latter is under half the former (decoded draws would look like failures for the VAE's
   sake alone). Draws of images the classifier gets right but whose reconstruction it gets
   wrong are VAE failures: counted, and left out by default.
1. **Identification** (:func:`identify_failures`): encode each image to its posterior mean
   ``mu``; draw ``Q`` noise vectors ``e`` with independent ``Beta(a, b)`` entries (a = b = 50:
   mean 0.5, so always a positive shift, as in the reference); decode ``mu + e``; classify the
   decoded image *after the classifier's own preprocessing* (the reference skips it, a bug);
   keep the codes whose prediction differs from the image's label, at most ``k`` per image,
   those with the smallest noise norm.
2. **Distillation** (:func:`distill_scenarios`): down-sample to at most 50,000 codes, fit a
   Dirichlet-process Gaussian mixture (sklearn ``BayesianGaussianMixture``, up to 100 full-
   covariance components) and keep the components of weight > 0.01: the failure scenarios.
3. **Review and correction**: decode samples ``z ~ N(mean_j, tau * cov_j)`` of a scenario
   (:func:`sample_scenario`) for an annotator, who marks it a failure and gives its correct
   label (:class:`~failwidgets.methods.scenario_labels.ScenarioLabels`); then finetune a copy
   of the classifier on ``CE(train batch) + lambda * CE(scenario batch)`` over a sweep of
   ``lambda`` (:func:`correct_classifier`).

The VAE is a :class:`~failwidgets.methods.vae.BetaVAE` or any module of the user's with
``encode`` / ``decode`` of the documented shapes (:mod:`failwidgets.methods.vae`, "Bring your
own VAE"), checked when it is passed. The classifier is a torch module returning logits ``(N, C)``; ``preprocess`` maps float images
``(N, 3, H, W)`` in [0, 1] (what the VAE decodes, and what uint8 images are turned into) to the
classifier's input (normalisation, resizing). Nothing here imports a widget.
"""

from __future__ import annotations

import copy
import hashlib
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ..text import percent
from ..thresholds import spec as threshold_spec
from .scenario_labels import ScenarioLabels, check_class_label
from .vae import (
    CheckedVAE,
    _eval_mode,
    check_vae,
    images_to_tensor,
    module_device,
    tensor_to_uint8,
)

if TYPE_CHECKING:
    from .dp_mixture import FitStage

__all__ = [
    "VAEQualityWarning",
    "ReconstructionQuality",
    "reconstruction_quality",
    "CorrectionProgress",
    "VAE_FAILURE_MODES",
    "Identification",
    "Scenario",
    "ScenarioSet",
    "ScenarioSamples",
    "CorrectionResult",
    "Defuse",
    "identify_failures",
    "select_smallest_failing",
    "distill_scenarios",
    "sample_scenario_codes",
    "sample_scenario",
    "correct_classifier",
    "PAPER_LAMBDAS",
    "DEFAULT_LAMBDAS",
]

#: The lambda sweep of the paper's appendix B.
PAPER_LAMBDAS = (
    1e-10,
    1e-9,
    1e-8,
    1e-7,
    1e-6,
    1e-5,
    1e-4,
    1e-3,
    1e-2,
    1e-1,
    1.0,
    2.0,
    5.0,
    10.0,
    20.0,
    100.0,
    1000.0,
)
#: What :func:`identify_failures` does with the draws of VAE failures (see there).
VAE_FAILURE_MODES = ("exclude", "keep")
#: A shorter default sweep (each lambda finetunes a fresh copy of the classifier).
DEFAULT_LAMBDAS = (0.01, 0.1, 1.0, 10.0)


# -- validation helpers -----------------------------------------------------------------------------


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _positive_int(value, name: str) -> int:
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


def _positive_float(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name}: expected a number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name}: expected a finite number > 0, got {value!r}")
    return float(value)


def _labels_vector(labels, n: int, name: str = "labels") -> np.ndarray:
    array = np.asarray(labels)
    if array.ndim != 1 or len(array) != n:
        raise ValueError(
            f"{name}: expected {n} class indices (one per image), got shape {array.shape}"
        )
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{name}: expected integer class indices, got dtype {array.dtype}")
    if array.size and array.min() < 0:
        raise ValueError(f"{name}: class indices must be >= 0, got {int(array.min())}")
    return array.astype(np.int64)


def _check_classifier(classifier, preprocess) -> None:
    if not callable(classifier):
        raise TypeError(
            f"classifier: expected a callable torch module, got {type(classifier).__name__}"
        )
    if preprocess is not None and not callable(preprocess):
        raise TypeError(f"preprocess: expected a callable or None, got {type(preprocess).__name__}")


def _check_vae(vae) -> CheckedVAE:
    """The VAE wrapped in its contract checks (methods now; outputs when they come)."""
    return vae if isinstance(vae, CheckedVAE) else CheckedVAE(vae)


def _logits(classifier, preprocess, x: torch.Tensor, device) -> torch.Tensor:
    """Classifier logits for float images in [0, 1], after the classifier's preprocessing."""
    x = x.to(device)
    if preprocess is not None:
        x = preprocess(x)
    logits = classifier(x)
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"classifier: expected logits of shape (batch, classes), got {shape}")
    return logits.float()


def _check_label_range(labels: np.ndarray, n_classes: int, name: str) -> None:
    if labels.size and labels.max() >= n_classes:
        raise ValueError(
            f"{name}: class index {int(labels.max())} is outside the classifier's {n_classes} classes"
        )


# -- identification ---------------------------------------------------------------------------------


def select_smallest_failing(failed: torch.Tensor, noise_norm: torch.Tensor, k: int):
    """For each row, the columns of the ``k`` failing draws with the smallest noise norm.

    Parameters
    ----------
    failed : bool tensor ``(m, Q)``, True where draw ``q`` of image ``i`` is misclassified.
    noise_norm : float tensor ``(m, Q)``, the norm of each draw's noise.
    k : the most draws kept per row.

    Returns
    -------
    rows, cols : int64 tensors of the kept draws, ordered by row, then by increasing norm.
    """
    if failed.shape != noise_norm.shape or failed.ndim != 2:
        raise ValueError(
            f"failed and noise_norm: expected equal 2-D shapes, got {tuple(failed.shape)} and {tuple(noise_norm.shape)}"
        )
    m, q = failed.shape
    if m == 0 or q == 0:
        empty = torch.zeros(0, dtype=torch.int64, device=failed.device)
        return empty, empty
    masked = torch.where(failed, noise_norm, torch.full_like(noise_norm, math.inf))
    values, cols = torch.topk(masked, min(k, q), dim=1, largest=False, sorted=True)
    keep = torch.isfinite(values)
    rows = torch.arange(m, device=failed.device).unsqueeze(1).expand_as(cols)
    return rows[keep], cols[keep]


class VAEQualityWarning(UserWarning):
    """The classifier gets far fewer of the VAE's reconstructions right than of the originals.

    Decoded draws then look like failures because the VAE distorts the images, not because the
    classifier fails: the failure scenarios say more about the VAE than about the classifier.
    """


@dataclass
class ReconstructionQuality:
    """The quality gate: the classifier on the input images and on their VAE reconstructions.

    A reconstruction is ``decode(encode(x))`` of the posterior mean, with no noise added; the
    classifier sees it after its own ``preprocess``, as it sees the decoded draws.

    The gate fails (``passed`` is False) when ``reconstruction_accuracy < min_ratio *
    original_accuracy`` (default ``min_ratio = 0.5``: the classifier gets fewer than half as
    many reconstructions right as originals). Below that, most decoded draws of a correctly
    classified image are misclassified because the VAE does not reproduce what the classifier
    recognises, and Defuse's "failures" are mostly the VAE's.

    Attributes
    ----------
    original_correct, reconstruction_correct : bool ``(n_images,)``, the classifier is right on
        image ``i`` / on its reconstruction.
    min_ratio : the gate's ratio.
    """

    original_correct: np.ndarray
    reconstruction_correct: np.ndarray
    min_ratio: float = 0.5

    @property
    def n_images(self) -> int:
        return len(self.original_correct)

    @property
    def original_accuracy(self) -> float:
        return float(np.mean(self.original_correct)) if self.n_images else float("nan")

    @property
    def reconstruction_accuracy(self) -> float:
        return float(np.mean(self.reconstruction_correct)) if self.n_images else float("nan")

    @property
    def ratio(self) -> float:
        """Reconstruction accuracy over original accuracy (NaN when the latter is 0)."""
        original = self.original_accuracy
        return self.reconstruction_accuracy / original if original > 0 else float("nan")

    @property
    def passed(self) -> bool:
        return not self.reconstruction_accuracy < self.min_ratio * self.original_accuracy

    @property
    def vae_failure_images(self) -> np.ndarray:
        """Images the classifier gets right whose reconstruction it gets wrong (bool mask)."""
        return self.original_correct & ~self.reconstruction_correct

    @property
    def n_vae_failure_images(self) -> int:
        return int(np.count_nonzero(self.vae_failure_images))

    @property
    def summary(self) -> str:
        """One line: both accuracies, and whether the gate passed."""
        verdict = (
            "passed"
            if self.passed
            else f"FAILED: under {self.min_ratio:g} x the accuracy on the originals"
        )
        return (
            f"classifier accuracy {_percent(self.original_accuracy)} on the {self.n_images} "
            f"original images, {_percent(self.reconstruction_accuracy)} on their VAE "
            f"reconstructions ({verdict})"
        )

    def warning_text(self) -> str:
        """What the :class:`VAEQualityWarning` says: why the draws mislead, and how to fix it."""
        return (
            f"vae: the classifier gets {_percent(self.reconstruction_accuracy)} of the VAE's "
            f"reconstructions right against {_percent(self.original_accuracy)} of the original "
            f"images (under {self.min_ratio:g} x). Decoded draws will look like failures for "
            "that reason alone, so the failure scenarios describe the VAE more than the "
            f"classifier ({self.n_vae_failure_images} correctly classified images have a "
            "misclassified reconstruction). Fix the VAE: train it longer or on more images like "
            "these, give it a larger latent space (latent_dim) or a smaller beta, and check that "
            "decode returns images in [0, 1] of the inputs' colour layout (the classifier's "
            "preprocess is applied to them, as to the originals)."
        )

    def as_dict(self) -> dict:
        """JSON-ready figures (for views and reports)."""
        return {
            "n_images": self.n_images,
            "original_accuracy": self.original_accuracy,
            "reconstruction_accuracy": self.reconstruction_accuracy,
            "min_ratio": self.min_ratio,
            "passed": self.passed,
            "n_vae_failure_images": self.n_vae_failure_images,
        }

    def __repr__(self) -> str:
        return f"ReconstructionQuality({self.summary})"


def _percent(value: float) -> str:
    return percent(value, missing="n/a")


def _check_ratio(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"min_reconstruction_ratio: expected a number, got {value!r}")
    if not (math.isfinite(value) and 0 <= value <= 1):
        raise ValueError(f"min_reconstruction_ratio: expected a number in [0, 1], got {value!r}")
    return float(value)


def _check_vae_failures(value) -> str:
    if value not in VAE_FAILURE_MODES:
        raise ValueError(
            f"vae_failures: expected one of {list(VAE_FAILURE_MODES)}, got {short_repr(value)}"
        )
    return value


def short_repr(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@torch.inference_mode()
def _encode_and_check(vae: CheckedVAE, classifier, preprocess, images, labels, batch_size):
    """Posterior means of all images, and the classifier's hits on the originals and on the
    reconstructions (no noise); checks the label range on the first batch."""
    n = len(images)
    vae_device = vae.device
    cls_device = module_device(classifier, default=vae_device.type)
    mu_all = None
    original, reconstructed = np.zeros(n, bool), np.zeros(n, bool)
    n_classes = None
    with _eval_mode(vae.module, classifier):
        for i in range(0, n, batch_size):  # converted to float batch by batch: uint8 stays small
            x = vae.to_tensor(images[i : i + batch_size])
            mu = vae.encode_mean(x.to(vae_device))
            if mu_all is None:
                mu_all = torch.zeros(n, mu.shape[1], device=vae_device)
            mu_all[i : i + len(mu)] = mu
            logits = _logits(classifier, preprocess, x, cls_device)
            if n_classes is None:
                n_classes = logits.shape[1]
                _check_label_range(labels, n_classes, "labels")
            y = labels[i : i + len(mu)]
            original[i : i + len(mu)] = logits.argmax(1).cpu().numpy() == y
            decoded = _logits(classifier, preprocess, vae.decode(mu), cls_device)
            reconstructed[i : i + len(mu)] = decoded.argmax(1).cpu().numpy() == y
    return mu_all, original, reconstructed, n_classes


def reconstruction_quality(
    vae,
    classifier,
    images,
    labels,
    *,
    preprocess: Callable | None = None,
    min_ratio: float = 0.5,
    batch_size: int = 512,
) -> ReconstructionQuality:
    """Check a VAE before Defuse: the classifier's accuracy on ``images`` and on their
    reconstructions ``decode(encode(x))`` (posterior mean, no noise).

    :func:`identify_failures` (and so :meth:`Defuse.fit`) runs this check on its input images
    and warns (:class:`VAEQualityWarning`) when ``reconstruction_accuracy < min_ratio *
    original_accuracy``; call it alone to try a VAE on a few hundred images first.

    Parameters
    ----------
    vae : a :class:`~failwidgets.methods.vae.BetaVAE` or any VAE keeping the contract of
        :mod:`failwidgets.methods.vae` ("Bring your own VAE").
    classifier, preprocess : the classifier (logits) and its transform of [0, 1] float images.
    images : uint8 ``(N, H, W, 3)`` or float ``(N, 3, H, W)`` in [0, 1]; labels: int ``(N,)``.
    min_ratio : the gate (see :class:`ReconstructionQuality`).
    batch_size : images per forward pass.
    """
    vae = _check_vae(vae)
    _check_classifier(classifier, preprocess)
    batch_size = _positive_int(batch_size, "batch_size")
    min_ratio = _check_ratio(min_ratio)
    images = _check_image_input(images, "images")
    y = _labels_vector(labels, len(images))
    vae.probe(images)
    _, original, reconstructed, _ = _encode_and_check(
        vae, classifier, preprocess, images, y, batch_size
    )
    return ReconstructionQuality(original, reconstructed, min_ratio)


def _check_image_input(images, name: str):
    if not isinstance(images, (np.ndarray, torch.Tensor)):
        raise TypeError(
            f"{name}: expected a numpy array or torch tensor, got {type(images).__name__}"
        )
    if len(images) == 0:
        raise ValueError(f"{name}: no images to search for failures around (got 0)")
    return images


@dataclass
class Identification:
    """The misclassified decoded codes found by :func:`identify_failures`.

    Attributes
    ----------
    codes : float32 ``(M, latent_dim)``, the kept codes ``mu + e``.
    image_index : int64 ``(M,)``, position of the source image in the input.
    noise_norm : float32 ``(M,)``, ``||e||`` of each kept code.
    labels, predictions : int64 ``(M,)``, the source image's label and the prediction on the
        decoded code.
    confidence : float32 ``(M,)``, the classifier's probability of its prediction.
    n_images, n_samples, a, b, max_per_image : what was tried.
    n_failing_draws : misclassified draws (of all images) before keeping the
        ``max_per_image`` closest per image.
    quality : the :class:`ReconstructionQuality` measured on the input images (None when the
        identification was not made by :func:`identify_failures`).
    n_vae_failing_draws : of ``n_failing_draws``, those of images the classifier gets right but
        whose reconstruction (no noise) it gets wrong: VAE failures, not classifier failures.
    vae_failures : ``"exclude"`` (those draws were left out, the default of
        :func:`identify_failures`) or ``"keep"`` (kept, flagged in ``vae_failure``).
    vae_failure : bool ``(M,)``, the kept code comes from such an image (all False when they
        were excluded).
    """

    codes: np.ndarray
    image_index: np.ndarray
    noise_norm: np.ndarray
    labels: np.ndarray
    predictions: np.ndarray
    confidence: np.ndarray
    n_images: int
    n_samples: int
    a: float
    b: float
    max_per_image: int
    n_failing_draws: int
    n_classes: int | None = None
    quality: ReconstructionQuality | None = None
    n_vae_failing_draws: int = 0
    vae_failures: str = "keep"
    vae_failure: np.ndarray | None = None

    def __post_init__(self):
        if self.vae_failure is None:
            self.vae_failure = np.zeros(len(self.codes), dtype=bool)

    @property
    def n_found(self) -> int:
        return len(self.codes)

    @property
    def is_empty(self) -> bool:
        return self.n_found == 0

    @property
    def latent_dim(self) -> int:
        return self.codes.shape[1]

    @property
    def n_images_with_failures(self) -> int:
        return int(len(np.unique(self.image_index)))

    @property
    def n_vae_failure_images(self) -> int:
        """Images the classifier gets right whose reconstruction it gets wrong."""
        return 0 if self.quality is None else self.quality.n_vae_failure_images

    @property
    def n_vae_failure_codes(self) -> int:
        """Kept codes flagged as VAE failures (0 when they were excluded)."""
        return int(np.count_nonzero(self.vae_failure))

    @property
    def n_classifier_failing_draws(self) -> int:
        """Misclassified draws that are not VAE failures."""
        return self.n_failing_draws - self.n_vae_failing_draws

    def _vae_part(self) -> str:
        if not self.n_vae_failing_draws:
            return ""
        whose = (
            f"{self.n_vae_failure_images} images the classifier gets right but whose VAE "
            "reconstruction (no noise) it gets wrong"
        )
        if self.vae_failures == "exclude":
            return (
                f"; {self.n_vae_failing_draws} more misclassified draws came from {whose}: "
                "VAE failures, left out"
            )
        return (
            f"; {self.n_vae_failure_codes} of the kept codes ({self.n_vae_failing_draws} "
            f"misclassified draws) come from {whose}: VAE failures, kept and flagged "
            "(vae_failure)"
        )

    @property
    def message(self) -> str:
        tried = (
            f"{self.n_images} images x Q={self.n_samples} draws of Beta(a={self.a:g}, b={self.b:g}) "
            f"noise ({self.n_images * self.n_samples} decoded codes)"
        )
        check = "" if self.quality is None else f" Reconstruction check: {self.quality.summary}."
        if self.is_empty and self.n_failing_draws == 0:
            return (
                f"no failures found: {tried} were all classified as their image's label. Try more "
                "images, a larger n_samples, or wider noise (smaller a and b)." + check
            )
        if self.is_empty:
            return (
                f"no classifier failures kept: all {self.n_failing_draws} misclassified draws of "
                f"{tried} came from {self.n_vae_failure_images} images the classifier gets right "
                "but whose VAE reconstruction (no noise) it gets wrong: the VAE fails there, not "
                "the classifier. Improve the VAE (or pass vae_failures='keep')." + check
            )
        shown = (
            self.n_classifier_failing_draws
            if self.vae_failures == "exclude"
            else self.n_failing_draws
        )
        return (
            f"{self.n_found} failure codes kept (at most {self.max_per_image} per image) from "
            f"{shown} misclassified draws on {self.n_images_with_failures} images"
            f"{self._vae_part()}; tried {tried}." + check
        )

    def __repr__(self) -> str:
        return f"Identification({self.message})"

    def to_frame(self) -> pd.DataFrame:
        """One row per kept code: image, label, prediction, confidence, noise norm, and whether
        it is a VAE failure."""
        return pd.DataFrame(
            {
                "image_index": self.image_index,
                "label": self.labels,
                "prediction": self.predictions,
                "confidence": self.confidence,
                "noise_norm": self.noise_norm,
                "vae_failure": self.vae_failure,
            }
        )


def identify_failures(
    vae,
    classifier,
    images,
    labels,
    *,
    preprocess: Callable | None = None,
    n_samples: int = 100,
    a: float = 50.0,
    b: float = 50.0,
    max_per_image: int = 10,
    batch_size: int = 2048,
    min_reconstruction_ratio: float = 0.5,
    vae_failures: str = "exclude",
    seed: int = 0,
    progress: bool = True,
) -> Identification:
    """Find misclassified decoded codes near each image's latent code (Defuse step 1).

    Before the draws, the quality gate (:class:`ReconstructionQuality`): the classifier's
    accuracy on the images and on their reconstructions ``decode(mu)``; a
    :class:`VAEQualityWarning` says why and how to fix it when ``reconstruction accuracy <
    min_reconstruction_ratio x original accuracy``.

    VAE failures: an image the classifier gets right whose reconstruction (no noise) it gets
    wrong makes misclassified draws that say nothing about the classifier: the VAE already
    changed what the classifier recognises. Their misclassified draws are counted
    (``n_vae_failing_draws``) and, with ``vae_failures="exclude"`` (default), left out of the
    kept codes; ``"keep"`` keeps them, flagged in ``Identification.vae_failure`` (the paper's
    behaviour, which assumes a faithful VAE). Images the classifier already gets wrong are
    kept either way: the paper saves them as model failures.

    Parameters
    ----------
    vae : a :class:`~failwidgets.methods.vae.BetaVAE` or any VAE keeping the contract of
        :mod:`failwidgets.methods.vae` ("Bring your own VAE"), trained on images of this size.
    classifier : torch module mapping preprocessed images to logits ``(N, C)``.
    images : uint8 ``(N, H, W, 3)`` or float ``(N, 3, H, W)`` in [0, 1].
    labels : int ``(N,)`` ground-truth labels.
    preprocess : the classifier's own input transform applied to decoded [0, 1] images.
    n_samples : Q, noise draws per image.
    a, b : Beta distribution parameters of the per-dimension noise.
    max_per_image : k, the most failing codes kept per image (smallest noise norm first).
    batch_size : decoded codes per forward pass.
    min_reconstruction_ratio : the quality gate's ratio (0 never warns).
    vae_failures : ``"exclude"`` or ``"keep"`` (see above).
    seed : seeds the noise.
    progress : show a tqdm progress bar.

    Returns
    -------
    Identification
        Empty (``is_empty``) with a message stating what was tried when nothing failed, or
        that every failure was a VAE failure.

    Warns
    -----
    VAEQualityWarning
        When the quality gate fails.
    """
    from tqdm.auto import tqdm

    vae = _check_vae(vae)
    _check_classifier(classifier, preprocess)
    q = _positive_int(n_samples, "n_samples")
    k = _positive_int(max_per_image, "max_per_image")
    batch_size = _positive_int(batch_size, "batch_size")
    a = _positive_float(a, "a")
    b = _positive_float(b, "b")
    min_ratio = _check_ratio(min_reconstruction_ratio)
    exclude = _check_vae_failures(vae_failures) == "exclude"
    images = _check_image_input(images, "images")
    n = len(images)
    vae.probe(images)  # layout, dtype, size and VAE-contract errors before any work
    y_all = _labels_vector(labels, n)
    vae_device = vae.device
    cls_device = module_device(classifier, default=vae_device.type)
    rng = np.random.default_rng(seed)

    mu_all, original, reconstructed, n_classes = _encode_and_check(
        vae, classifier, preprocess, images, y_all, batch_size
    )
    quality = ReconstructionQuality(original, reconstructed, min_ratio)
    if not quality.passed:
        warnings.warn(quality.warning_text(), VAEQualityWarning, stacklevel=2)
    vae_failure_image = torch.from_numpy(quality.vae_failure_images).to(vae_device)
    d = mu_all.shape[1]

    codes, index, norms, preds, confs, flags = [], [], [], [], [], []
    n_failing = n_vae_failing = 0
    images_per_chunk = max(1, batch_size // q)
    with _eval_mode(vae.module, classifier), torch.inference_mode():
        bar = tqdm(total=n, desc="Defuse identification", unit="img", disable=not progress)
        try:
            for start in range(0, n, images_per_chunk):
                mu = mu_all[start : start + images_per_chunk]
                m = len(mu)
                noise = torch.from_numpy(rng.beta(a, b, size=(m, q, d)).astype(np.float32)).to(
                    vae_device
                )
                z = (mu.unsqueeze(1) + noise).reshape(m * q, d)
                chunk_pred, chunk_conf = [], []
                for s in range(0, m * q, batch_size):
                    logits = _logits(
                        classifier, preprocess, vae.decode(z[s : s + batch_size]), cls_device
                    )
                    probability, prediction = torch.softmax(logits, dim=1).max(dim=1)
                    chunk_pred.append(prediction.to(vae_device))
                    chunk_conf.append(probability.to(vae_device))
                prediction = torch.cat(chunk_pred).view(m, q)
                target = torch.from_numpy(y_all[start : start + m]).to(vae_device)
                failed = prediction != target.unsqueeze(1)
                from_vae_failure = vae_failure_image[start : start + m]
                n_failing += int(failed.sum())
                n_vae_failing += int(failed[from_vae_failure].sum())
                if exclude:
                    failed &= ~from_vae_failure.unsqueeze(1)
                noise_norm = noise.norm(dim=2)
                rows, cols = select_smallest_failing(failed, noise_norm, k)
                codes.append(z.view(m, q, d)[rows, cols].cpu())
                index.append((rows + start).cpu())
                norms.append(noise_norm[rows, cols].cpu())
                preds.append(prediction[rows, cols].cpu())
                confs.append(torch.cat(chunk_conf).view(m, q)[rows, cols].cpu())
                flags.append(from_vae_failure[rows].cpu())
                bar.update(m)
        finally:
            bar.close()

    def stack(parts, dtype, shape=(0,)):
        return torch.cat(parts).numpy().astype(dtype) if parts else np.zeros(shape, dtype)

    image_index = stack(index, np.int64)
    return Identification(
        codes=stack(codes, np.float32, (0, d)),
        image_index=image_index,
        noise_norm=stack(norms, np.float32),
        labels=y_all[image_index],
        predictions=stack(preds, np.int64),
        confidence=stack(confs, np.float32),
        n_images=n,
        n_samples=q,
        a=a,
        b=b,
        max_per_image=k,
        n_failing_draws=n_failing,
        n_classes=n_classes,
        quality=quality,
        n_vae_failing_draws=n_vae_failing,
        vae_failures="exclude" if exclude else "keep",
        vae_failure=stack(flags, bool),
    )


# -- distillation -----------------------------------------------------------------------------------


@dataclass
class Scenario:
    """One kept mixture component: a failure scenario.

    Attributes
    ----------
    id : position in the scenario set (0 = heaviest).
    component : index of the component in the fitted mixture.
    weight : mixing weight.
    mean, cov : the component's Gaussian in latent space.
    member_index : indices into the identification's codes assigned to this component.
    member_codes : those codes.
    majority_label : most common original label among members (None without members).
    label_counts, prediction_counts : ``{class: count}`` of members' labels and predictions.
    n_vae_failure_codes : members flagged as VAE failures (only with ``vae_failures="keep"``).
    """

    id: int
    component: int
    weight: float
    mean: np.ndarray
    cov: np.ndarray
    member_index: np.ndarray
    member_codes: np.ndarray
    majority_label: int | None
    label_counts: dict[int, int] = field(default_factory=dict)
    prediction_counts: dict[int, int] = field(default_factory=dict)
    n_vae_failure_codes: int = 0

    @property
    def n_members(self) -> int:
        return len(self.member_index)

    @property
    def top_prediction(self) -> int | None:
        if not self.prediction_counts:
            return None
        return max(self.prediction_counts, key=lambda c: (self.prediction_counts[c], -c))


@dataclass
class ScenarioSet:
    """The failure scenarios of a distillation, heaviest first.

    Attributes
    ----------
    scenarios : list of :class:`Scenario`.
    mixture : the fitted ``BayesianGaussianMixture`` (None when nothing was fitted).
    n_codes, n_fitted : identified codes, and codes the mixture was fitted on.
    weight_threshold : components with weight above it (and at least one code) were kept.
    message : a human summary (says why the set is empty when it is).
    converged : whether EM met its tolerance on all ``n_fitted`` codes (the last stage).
    stages : one :class:`FitStage` per EM run of :func:`distill_scenarios` (empty when nothing
        was fitted).
    """

    scenarios: list[Scenario]
    mixture: object | None
    n_codes: int
    n_fitted: int
    weight_threshold: float
    latent_dim: int
    message: str = ""
    stages: list[FitStage] = field(default_factory=list)

    @property
    def converged(self) -> bool:
        return bool(self.stages) and self.stages[-1].converged

    def __len__(self) -> int:
        return len(self.scenarios)

    def __iter__(self):
        return iter(self.scenarios)

    def __getitem__(self, scenario_id) -> Scenario:
        if not _is_int(scenario_id) or not 0 <= scenario_id < len(self.scenarios):
            raise KeyError(
                f"scenario_id: {scenario_id!r} is not one of the {len(self.scenarios)} scenario ids"
            )
        return self.scenarios[int(scenario_id)]

    @property
    def ids(self) -> list[int]:
        return [s.id for s in self.scenarios]

    @property
    def is_empty(self) -> bool:
        return not self.scenarios

    @property
    def fingerprint(self) -> str:
        """A short hash of the scenarios' weights and means, to tie label files to this set."""
        digest = hashlib.sha256()
        for s in self.scenarios:
            digest.update(np.round(np.r_[s.weight, s.mean], 4).astype("<f8").tobytes())
        return digest.hexdigest()[:16]

    def to_frame(self) -> pd.DataFrame:
        """One row per scenario: weight, members, majority label and top prediction."""
        rows = []
        for s in self.scenarios:
            top = s.top_prediction
            rows.append(
                {
                    "scenario": s.id,
                    "weight": s.weight,
                    "n_members": s.n_members,
                    "majority_label": s.majority_label,
                    "top_prediction": top,
                    "top_prediction_share": (s.prediction_counts.get(top, 0) / s.n_members)
                    if s.n_members
                    else np.nan,
                    "component": s.component,
                    "n_vae_failure_codes": s.n_vae_failure_codes,
                }
            )
        columns = [
            "scenario",
            "weight",
            "n_members",
            "majority_label",
            "top_prediction",
            "top_prediction_share",
            "component",
            "n_vae_failure_codes",
        ]
        frame = pd.DataFrame(rows, columns=columns)
        for column in ("majority_label", "top_prediction"):
            frame[column] = frame[column].astype("Int64")
        return frame.set_index("scenario")

    def __repr__(self) -> str:
        return f"ScenarioSet({len(self)} scenarios; {self.message})"


def _counts(values: np.ndarray) -> dict[int, int]:
    classes, counts = np.unique(values, return_counts=True)
    return {int(c): int(k) for c, k in zip(classes, counts)}


def distill_scenarios(
    identification: Identification,
    *,
    max_codes: int = 50_000,
    max_components: int = 100,
    weight_threshold: float = 0.01,
    init_codes: int | str | None = "auto",
    max_iter: int = 1_000,
    tol: float = 1e-3,
    batched: bool = True,
    seed: int = 0,
) -> ScenarioSet:
    """Cluster the identified codes into failure scenarios (Defuse step 2).

    The model is the paper's: sklearn's ``BayesianGaussianMixture`` with
    ``covariance_type='full'`` and ``weight_concentration_prior_type='dirichlet_process'``, a
    variational Dirichlet-process Gaussian mixture truncated at ``min(max_components, n)``
    components, with sklearn's default priors (from the codes it is fitted on). Components of
    weight > ``weight_threshold`` are the scenarios; each identified code belongs to its most
    probable component. A component of that weight to which no code belongs is left out (the
    paper throws away the components "not used by the model"): its weight is variational mass
    (the Dirichlet process's prior, or responsibilities that lose to an overlapping component
    on every code), and it has no source image and no class to review.

    Procedure (:func:`~failwidgets.methods.dp_mixture.fit_dp_mixture`):

    1. Down-sample (seeded) to at most ``max_codes`` codes: the fitted codes.
    2. Staged EM (``init_codes`` set): sklearn's EM from its k-means start on a random
       ``max(init_codes, K)`` of the fitted codes (``"auto"``: ``4 K d``, 4,000 codes for the
       paper's 100 components in 10 dimensions); then, warm-started (sklearn's
       ``warm_start``), on nested random subsets 4 times larger each while at most half of
       the codes; last on all fitted codes. The last stage maximises the same lower bound
       (same codes, same priors) as a plain fit: only its starting point differs. Each stage
       runs at least two iterations. With ``init_codes=None``: one fit on all codes from the
       k-means start (``init_codes=None, batched=False, max_iter=100`` is the plain sklearn
       fit with its defaults).
    3. Convergence, sklearn's criterion in every stage: the variational lower bound (a sum
       over the stage's codes) changes by less than ``tol`` between two iterations, else the
       stage stops after ``max_iter``. ``converged`` reports the last stage.

    ``batched`` computes each EM iteration's per-component Mahalanobis distances and scatter
    matrices with one matrix product for all components (equal to sklearn's loops to
    rounding; 4x faster at 100 components).

    Measured (``benchmarks/bench_defuse.py`` and seven planted mixtures of 50,000 codes in 10
    dimensions, 8 to 30 clusters): the plain fit needed 50 to 400 iterations over all codes to
    converge (66 to 430 s of CPU); the staged fit 2 to 12 on all codes after its warm-up
    stages, 1.9 to 5.1 s of CPU, with the same number of scenarios and assignments equal to
    the converged plain fit's (adjusted Rand index 1.0). Codes without planted clusters
    converge slowly from any start: on 25,943 failure codes of the demo (16 dimensions) the
    plain sklearn fit took 469 iterations (285 s of CPU), the staged fit 25 to 35 s, and two
    converged plain fits with different seeds agreed only at an adjusted Rand index of 0.55
    (a continuum has no unique partition; the staged fits' agreed with them as closely).

    Parameters
    ----------
    identification : the result of :func:`identify_failures`.
    max_codes : codes are randomly (seeded) down-sampled to at most this many before fitting.
    max_components : K, the truncation of the Dirichlet process (``min(K, n_codes)`` is used).
    weight_threshold : epsilon; components with weight > epsilon (and at least one code) are
        kept.
    init_codes : codes of the first stage, ``"auto"`` (``4 K d``) or a number; None fits on
        all codes from the start.
    max_iter : EM iterations per stage at most.
    tol : tolerance on the change of the lower bound between iterations (sklearn's ``tol``).
    batched : batched E- and M-step kernels (False: sklearn's own class).
    seed : seeds the down-sampling, the stages' subsets and the mixture's ``random_state``.

    Returns
    -------
    ScenarioSet
        Empty, with the identification's message, when no failures were identified;
        ``converged`` and ``stages`` say how EM ended.
    """
    from threadpoolctl import threadpool_limits

    from .dp_mixture import fit_dp_mixture

    if not isinstance(identification, Identification):
        raise TypeError(
            f"identification: expected an Identification, got {type(identification).__name__}"
        )
    max_codes = _positive_int(max_codes, "max_codes")
    max_components = _positive_int(max_components, "max_components")
    max_iter = _positive_int(max_iter, "max_iter")
    if init_codes is not None and init_codes != "auto":
        if isinstance(init_codes, str):
            raise ValueError(
                f"init_codes: expected 'auto', a positive integer or None, got {init_codes!r}"
            )
        init_codes = _positive_int(init_codes, "init_codes")
    tol = _positive_float(tol, "tol")
    if not isinstance(batched, (bool, np.bool_)):
        raise TypeError(f"batched: expected True or False, got {batched!r}")
    if isinstance(weight_threshold, bool) or not (0 <= weight_threshold < 1):
        raise ValueError(f"weight_threshold: expected a number in [0, 1), got {weight_threshold!r}")
    codes = identification.codes.astype(np.float64)
    n = len(codes)
    d = identification.latent_dim
    if n == 0:
        return ScenarioSet([], None, 0, 0, float(weight_threshold), d, identification.message)
    if n < 2:
        raise ValueError(
            f"identification: distillation needs at least 2 failure codes, got {n}; "
            "identify on more images or with more draws"
        )
    rng = np.random.default_rng(seed)
    fit_index = (
        np.sort(rng.choice(n, size=max_codes, replace=False)) if n > max_codes else np.arange(n)
    )
    mixture, fit_labels, stages = fit_dp_mixture(
        codes[fit_index],
        n_components=min(max_components, len(fit_index)),
        init_codes=init_codes,
        max_iter=max_iter,
        tol=tol,
        seed=seed,
        batched=batched,
    )
    if len(fit_index) == n:
        assignment = fit_labels
    else:  # in chunks: predicting holds (chunk, K) arrays
        with threadpool_limits(limits=1, user_api="blas"):
            assignment = np.concatenate(
                [mixture.predict(codes[i : i + max_codes]) for i in range(0, n, max_codes)]
            )
    heavy = [
        int(c)
        for c in np.argsort(-mixture.weights_, kind="stable")
        if mixture.weights_[c] > weight_threshold
    ]
    # a component no code is assigned to is "not used by the model" (the paper throws those
    # away): its weight is variational mass (the stick's prior, or responsibilities that lose
    # to an overlapping component everywhere); it has no source image and no class to review
    used = np.zeros(mixture.n_components, dtype=bool)
    used[np.unique(assignment)] = True
    kept = [c for c in heavy if used[c]]
    scenarios = []
    for scenario_id, component in enumerate(kept):
        members = np.flatnonzero(assignment == component)
        labels = identification.labels[members]
        scenarios.append(
            Scenario(
                id=scenario_id,
                component=component,
                weight=float(mixture.weights_[component]),
                mean=mixture.means_[component].copy(),
                cov=mixture.covariances_[component].copy(),
                member_index=members,
                member_codes=identification.codes[members],
                majority_label=int(np.bincount(labels).argmax()) if len(labels) else None,
                label_counts=_counts(labels),
                prediction_counts=_counts(identification.predictions[members]),
                n_vae_failure_codes=int(np.count_nonzero(identification.vae_failure[members])),
            )
        )
    last = stages[-1]
    unused = len(heavy) - len(kept)
    message = (
        f"{len(scenarios)} of {mixture.n_components} components have weight > {weight_threshold:g}"
        + (
            f" and codes assigned ({unused} more of that weight hold no code: left out)"
            if unused
            else ""
        )
        + f"; fitted on {len(fit_index)} of {n} codes"
        + (
            f" (EM converged in {last.n_iter} iterations on all of them"
            + (f", after {len(stages) - 1} warm-up stages)" if len(stages) > 1 else ")")
            if last.converged
            else f" (EM did not converge in {max_iter} iterations)"
        )
    )
    return ScenarioSet(
        scenarios, mixture, n, len(fit_index), float(weight_threshold), d, message, stages
    )


# -- sampling for review ----------------------------------------------------------------------------


def _check_tau(tau) -> float:
    """``tau`` in (0, 1] (the threshold spec's check)."""
    return threshold_spec("defuse", "tau").check(tau)


def sample_scenario_codes(
    scenario: Scenario,
    n: int,
    *,
    tau: float = threshold_spec("defuse", "tau").default,
    seed: int = 0,
) -> np.ndarray:
    """``n`` codes ``z ~ N(mean, tau * cov)`` of a scenario (float32 ``(n, latent_dim)``).

    ``tau`` sets the diversity of the samples; the paper uses 0.01 to 0.5. The random stream
    depends on ``(seed, scenario.id)`` only.
    """
    if not isinstance(scenario, Scenario):
        raise TypeError(f"scenario: expected a Scenario, got {type(scenario).__name__}")
    n = _positive_int(n, "n")
    tau = _check_tau(tau)
    rng = np.random.default_rng([int(seed), int(scenario.id)])
    codes = rng.multivariate_normal(scenario.mean, tau * scenario.cov, size=n, method="eigh")
    return codes.astype(np.float32)


@dataclass
class ScenarioSamples:
    """Decoded samples of one scenario with the classifier's view of them."""

    scenario_id: int
    tau: float
    codes: np.ndarray
    images: np.ndarray
    predictions: np.ndarray
    probabilities: np.ndarray

    def error_rate(self, label: int) -> float:
        """Share of samples not predicted as ``label``."""
        return float(np.mean(self.predictions != label))

    def wrong(self, label: int | None) -> np.ndarray:
        """Boolean mask of the samples not predicted as ``label`` (None: none are wrong)."""
        if label is None:
            return np.zeros(len(self.predictions), dtype=bool)
        return np.asarray(self.predictions) != label

    @property
    def confidence(self) -> np.ndarray:
        """The classifier's probability of its prediction, per sample."""
        predictions = np.asarray(self.predictions, dtype=np.int64)
        return self.probabilities[np.arange(len(predictions)), predictions]

    def top_prediction(self) -> tuple[int, int]:
        """The class predicted most often and on how many samples (ties: the lowest index)."""
        counts = np.bincount(
            np.asarray(self.predictions, dtype=np.int64), minlength=self.probabilities.shape[1]
        )
        top = int(np.argmax(counts))
        return top, int(counts[top])


@torch.inference_mode()
def _predict_codes(
    vae, classifier, preprocess, codes: np.ndarray, batch_size: int, *, keep_images: bool
):
    vae_device = vae.device
    cls_device = module_device(classifier, default=vae_device.type)
    z = torch.from_numpy(np.asarray(codes, dtype=np.float32))
    images, probabilities = [], []
    with _eval_mode(vae.module, classifier):
        for s in range(0, len(z), batch_size):
            x = vae.decode(z[s : s + batch_size].to(vae_device))
            probabilities.append(
                torch.softmax(_logits(classifier, preprocess, x, cls_device), dim=1).cpu()
            )
            if keep_images:
                images.append(tensor_to_uint8(x))
    probs = torch.cat(probabilities).numpy().astype(np.float32)
    return (np.concatenate(images) if keep_images else None), probs


def sample_scenario(
    scenario: Scenario,
    vae,
    classifier,
    *,
    n: int = 10,
    tau: float = threshold_spec("defuse", "tau").default,
    preprocess: Callable | None = None,
    seed: int = 0,
    batch_size: int = 512,
) -> ScenarioSamples:
    """Decode ``n`` samples ``z ~ N(mean, tau * cov)`` of a scenario and classify them.

    Returns images as uint8 ``(n, H, W, C)`` with the classifier's predictions and probabilities
    (computed on the decoded float images after ``preprocess``).
    """
    vae = _check_vae(vae)
    _check_classifier(classifier, preprocess)
    batch_size = _positive_int(batch_size, "batch_size")
    codes = sample_scenario_codes(scenario, n, tau=tau, seed=seed)
    if vae.latent_dim is not None and codes.shape[1] != vae.latent_dim:
        raise ValueError(
            f"scenario: codes have {codes.shape[1]} dimensions, the VAE's latent_dim is {vae.latent_dim}"
        )
    images, probabilities = _predict_codes(
        vae, classifier, preprocess, codes, batch_size, keep_images=True
    )
    return ScenarioSamples(
        scenario.id, float(tau), codes, images, probabilities.argmax(1), probabilities
    )


# -- correction -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CorrectionProgress:
    """Where :func:`correct_classifier` is, passed to its ``on_progress`` callback.

    Attributes
    ----------
    stage : ``"sampling"`` (decoding the scenario samples), ``"evaluating"`` (the original
        classifier, ``lam`` None; or the copy finetuned with ``lam``), ``"finetuning"`` (after
        each optimiser step) or ``"done"``.
    lam : the lambda being finetuned or evaluated (None outside the sweep).
    lambda_index, n_lambdas : 1-based position of ``lam`` in the sweep, and its length.
    epoch, epochs : 1-based epoch of the finetuning (0 outside it), and epochs per lambda.
    step, steps_per_epoch : optimiser steps done in this epoch, and per epoch.
    """

    stage: str
    lam: float | None = None
    lambda_index: int = 0
    n_lambdas: int = 0
    epoch: int = 0
    epochs: int = 0
    step: int = 0
    steps_per_epoch: int = 0

    @property
    def fraction(self) -> float:
        """Share of all finetuning steps done (0 to 1)."""
        total = self.n_lambdas * self.epochs * self.steps_per_epoch
        if self.stage == "done":
            return 1.0
        if total == 0 or self.lambda_index == 0:
            return 0.0
        if self.stage == "evaluating":  # this lambda's finetuning is over
            return self.lambda_index / self.n_lambdas
        done = ((self.lambda_index - 1) * self.epochs + max(self.epoch - 1, 0)) * (
            self.steps_per_epoch
        ) + self.step
        return min(1.0, done / total)

    @property
    def text(self) -> str:
        """A short human line, e.g. ``"λ=0.1 (2/4), epoch 2/3, step 12/60"``."""
        if self.stage == "sampling":
            return "decoding the scenario samples"
        if self.stage == "done":
            return "done"
        if self.lam is None:
            return "evaluating the original classifier"
        where = f"λ={self.lam:g} ({self.lambda_index}/{self.n_lambdas})"
        if self.stage == "evaluating":
            return f"{where}, evaluating the finetuned copy"
        return f"{where}, epoch {self.epoch}/{self.epochs}, step {self.step}/{self.steps_per_epoch}"


@dataclass
class CorrectionResult:
    """Outcome of :func:`correct_classifier`.

    Attributes
    ----------
    sweep : DataFrame, one row per lambda: ``test_accuracy``, ``scenario_accuracy`` (held-out
        scenario samples), ``finetune_scenario_accuracy`` (the samples trained on),
        ``reference_accuracy`` (validation, or a training subsample without validation data)
        and ``selected``.
    before : dict of the same accuracies for the original classifier.
    per_scenario : DataFrame, held-out accuracy per labelled scenario before and after (selected).
    best_lambda : the selected lambda; ``best_model`` its finetuned copy of the classifier.
    selection : how ``best_lambda`` was chosen (never from test or held-out scenario data).
    models : ``{lambda: model}`` when ``keep_models=True``.
    """

    sweep: pd.DataFrame
    before: dict
    per_scenario: pd.DataFrame
    best_lambda: float
    best_model: torch.nn.Module
    n_scenarios: int
    reference: str
    selection: str
    models: dict = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """Before / after accuracies (%) in the layout of the paper's Fig. 4."""
        after = self.sweep.loc[self.sweep["selected"]].iloc[0]
        columns = ["scenarios", self.reference, "test", "failure scenario"]
        rows = {
            "before finetuning": [
                np.nan,
                self.before["reference_accuracy"],
                self.before["test_accuracy"],
                self.before["scenario_accuracy"],
            ],
            f"Defuse (lambda={self.best_lambda:g})": [
                self.n_scenarios,
                after["reference_accuracy"],
                after["test_accuracy"],
                after["scenario_accuracy"],
            ],
        }
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=columns)
        frame[columns[1:]] = (frame[columns[1:]] * 100).round(1)
        frame["scenarios"] = frame["scenarios"].astype("Int64")
        return frame

    def scenario_table(self, class_names: Sequence[str] | None = None) -> pd.DataFrame:
        """Held-out accuracy (%) per labelled scenario before and after (the selected lambda):
        index ``"#id"``, columns ``correct label`` (a name with ``class_names``), ``before``,
        ``after``."""
        frame = self.per_scenario
        labels = frame["correct_label"].to_numpy(dtype=np.int64)
        return pd.DataFrame(
            {
                "correct label": [class_names[c] for c in labels] if class_names else labels,
                "before": 100 * frame["accuracy_before"].to_numpy(dtype=float),
                "after": 100 * frame["accuracy_after"].to_numpy(dtype=float),
            },
            index=pd.Index([f"#{int(i)}" for i in frame.index], name="scenario"),
        )

    def tradeoff(self) -> pd.DataFrame:
        """Points of the test vs failure-scenario accuracy trade-off, the original model first."""
        before = pd.DataFrame(
            [
                {
                    "lambda": 0.0,
                    "test_accuracy": self.before["test_accuracy"],
                    "scenario_accuracy": self.before["scenario_accuracy"],
                    "model": "before",
                }
            ]
        )
        after = self.sweep[["lambda", "test_accuracy", "scenario_accuracy"]].assign(
            model="finetuned"
        )
        return pd.concat([before, after], ignore_index=True)


def _as_failure_labels(labels, scenarios: ScenarioSet, n_classes: int) -> dict[int, int]:
    if isinstance(labels, ScenarioLabels):
        if labels.n_classes != n_classes:
            raise ValueError(
                f"labels: the label store has {labels.n_classes} classes, the classifier {n_classes}"
            )
        labels = labels.failure_labels()
    if not isinstance(labels, Mapping):
        raise TypeError(
            f"labels: expected a ScenarioLabels or a mapping of scenario id to class, got {type(labels).__name__}"
        )
    checked = {}
    for scenario_id, label in labels.items():
        if not _is_int(scenario_id) or not 0 <= scenario_id < len(scenarios):
            raise ValueError(
                f"labels: {scenario_id!r} is not one of the scenario ids 0..{len(scenarios) - 1}"
            )
        checked[int(scenario_id)] = check_class_label(
            label, n_classes, name=f"labels[{scenario_id}]"
        )
    if not checked:
        raise ValueError(
            "labels: no scenario is marked as a failure with a correct label; label some first"
        )
    return checked


def _accuracy(model, preprocess, images, labels, batch_size, device) -> float:
    """Accuracy on uint8 NHWC / float NCHW images (eval mode, no grad)."""
    if len(labels) == 0:
        return float("nan")
    correct = 0
    with _eval_mode(model), torch.inference_mode():
        for s in range(0, len(labels), batch_size):
            x = images_to_tensor(images[s : s + batch_size])
            prediction = _logits(model, preprocess, x, device).argmax(1).cpu().numpy()
            correct += int((prediction == labels[s : s + batch_size]).sum())
    return correct / len(labels)


def _image_batches(images, name: str) -> torch.Tensor:
    """Images kept in their compact layout (uint8 NHWC stays uint8), validated; convert per batch."""
    tensor = (
        torch.from_numpy(np.ascontiguousarray(images)) if isinstance(images, np.ndarray) else images
    )
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(
            f"{name}: expected a numpy array or torch tensor, got {type(images).__name__}"
        )
    try:
        images_to_tensor(tensor[:1])
    except (TypeError, ValueError) as error:
        raise type(error)(str(error).replace("images:", f"{name}:", 1)) from None
    return tensor


def _n_classes(classifier, preprocess, images, device) -> int:
    with _eval_mode(classifier), torch.inference_mode():
        return _logits(classifier, preprocess, images_to_tensor(images[:1]), device).shape[1]


def correct_classifier(
    classifier,
    vae,
    scenarios: ScenarioSet,
    labels,
    *,
    train_images,
    train_labels,
    test_images,
    test_labels,
    val_images=None,
    val_labels=None,
    preprocess: Callable | None = None,
    lambdas: Sequence[float] = DEFAULT_LAMBDAS,
    n_per_scenario: int = 256,
    tau: float = threshold_spec("defuse", "tau").default,
    epochs: int = 3,
    max_steps_per_epoch: int | None = None,
    batch_size: int = 256,
    lr: float = 1e-4,
    max_accuracy_drop: float = 0.02,
    seed: int = 0,
    freeze_batchnorm: bool = True,
    keep_models: bool = False,
    progress: bool = True,
    on_progress: Callable[[CorrectionProgress], None] | None = None,
) -> CorrectionResult:
    """Finetune copies of ``classifier`` on ``CE(train) + lambda * CE(scenario samples)`` (step 3).

    For each labelled failure scenario, ``2 * n_per_scenario`` codes are drawn from
    ``N(mean, tau * cov)`` and decoded: the first half, labelled with the scenario's correct
    label, is the finetuning set ``D_f``; the second half is held out to measure scenario
    accuracy. Each lambda finetunes a fresh copy with Adam for ``epochs`` passes over the
    training data, every step pairing a training batch with a ``D_f`` batch.

    The selected lambda maximises accuracy on ``D_f`` among the lambdas whose reference accuracy
    (validation data, or 2,048 training images without it) drops by at most
    ``max_accuracy_drop``; test and held-out scenario data are never used to select.

    Parameters
    ----------
    classifier : torch module returning logits; it is not modified.
    vae, scenarios : the VAE and the :class:`ScenarioSet` the scenarios came from.
    labels : a :class:`ScenarioLabels` (its failures with a correct label are used) or
        ``{scenario_id: correct_label}``.
    train_images, train_labels, test_images, test_labels, val_images, val_labels :
        uint8 ``(N, H, W, 3)`` or float ``(N, 3, H, W)`` images and int labels.
    preprocess : the classifier's input transform of [0, 1] float images.
    lambdas : the regularisation weights to sweep.
    n_per_scenario : decoded samples per scenario for finetuning (and as many held out).
    tau : sample diversity.
    epochs, max_steps_per_epoch, batch_size, lr : finetuning settings (Adam). The small default
        learning rate finetunes: on the demo (60 steps, lambda = 0.1) 1e-3 cost 5 points of
        test accuracy, 1e-4 under 1.
    max_accuracy_drop : tolerated drop of reference accuracy when selecting lambda.
    seed : seeds sampling, batching and the finetuning.
    freeze_batchnorm : keep batch-norm running statistics fixed while finetuning (default).
        Decoded scenario samples have other pixel statistics than real images; letting them
        update the running means and variances miscalibrates the model on real data.
    keep_models : keep every finetuned copy in ``models``.
    progress : show a tqdm progress bar.
    on_progress : called with a :class:`CorrectionProgress` when a stage starts, at the start of
        every epoch and after every optimiser step (e.g. a view's status line; its errors
        propagate and stop the correction).
    """
    from tqdm.auto import tqdm

    vae = _check_vae(vae)
    _check_classifier(classifier, preprocess)
    if on_progress is not None and not callable(on_progress):
        raise TypeError(
            f"on_progress: expected a callable or None, got {type(on_progress).__name__}"
        )
    if not isinstance(classifier, torch.nn.Module):
        raise TypeError(
            f"classifier: correction finetunes a torch.nn.Module, got {type(classifier).__name__}"
        )
    if not isinstance(scenarios, ScenarioSet):
        raise TypeError(f"scenarios: expected a ScenarioSet, got {type(scenarios).__name__}")
    if isinstance(lambdas, (int, float)) or len(lambdas) == 0:
        raise ValueError(f"lambdas: expected a non-empty list of weights, got {lambdas!r}")
    lambdas = [float(lam) for lam in lambdas]
    if any(not (math.isfinite(lam) and lam >= 0) for lam in lambdas):
        raise ValueError(f"lambdas: every weight must be finite and >= 0, got {lambdas}")
    n_per_scenario = _positive_int(n_per_scenario, "n_per_scenario")
    epochs = _positive_int(epochs, "epochs")
    batch_size = _positive_int(batch_size, "batch_size")
    if max_steps_per_epoch is not None:
        max_steps_per_epoch = _positive_int(max_steps_per_epoch, "max_steps_per_epoch")
    lr = _positive_float(lr, "lr")
    tau = _check_tau(tau)
    if (val_images is None) != (val_labels is None):
        raise ValueError("val_images and val_labels: pass both or neither")

    train_x = _image_batches(train_images, "train_images")
    test_x = _image_batches(test_images, "test_images")
    train_y = _labels_vector(train_labels, len(train_x), "train_labels")
    test_y = _labels_vector(test_labels, len(test_x), "test_labels")
    if len(train_y) == 0 or len(test_y) == 0:
        raise ValueError("train_images and test_images: need at least one image each")
    device = module_device(classifier, default=module_device(vae).type)
    n_classes = _n_classes(classifier, preprocess, train_x, device)
    _check_label_range(train_y, n_classes, "train_labels")
    _check_label_range(test_y, n_classes, "test_labels")
    failure_labels = _as_failure_labels(labels, scenarios, n_classes)
    rng = np.random.default_rng(seed)
    if val_images is not None:
        ref_x = _image_batches(val_images, "val_images")
        ref_y = _labels_vector(val_labels, len(ref_x), "val_labels")
        _check_label_range(ref_y, n_classes, "val_labels")
        reference = "validation"
    else:
        pick = np.sort(rng.choice(len(train_y), size=min(2048, len(train_y)), replace=False))
        ref_x, ref_y = train_x[pick], train_y[pick]
        reference = "train (2048 images)"

    def report(stage: str, **where) -> None:
        if on_progress is not None:
            on_progress(CorrectionProgress(stage, n_lambdas=len(lambdas), epochs=epochs, **where))

    # decoded scenario samples: D_f (finetuning) and a held-out set, both with the given labels
    report("sampling")
    tune_x, tune_y, held_x, held_y, held_sid = [], [], [], [], []
    for scenario_id, label in failure_labels.items():
        codes = sample_scenario_codes(
            scenarios[scenario_id], 2 * n_per_scenario, tau=tau, seed=seed
        )
        decoded = torch.from_numpy(vae.decode_codes(codes))
        tune_x.append(decoded[:n_per_scenario])
        held_x.append(decoded[n_per_scenario:])
        tune_y += [label] * n_per_scenario
        held_y += [label] * n_per_scenario
        held_sid += [scenario_id] * n_per_scenario
    tune_x, held_x = torch.cat(tune_x), torch.cat(held_x)
    tune_y, held_y, held_sid = np.array(tune_y), np.array(held_y), np.array(held_sid)

    def evaluate(model) -> tuple[dict, np.ndarray]:
        with _eval_mode(model), torch.inference_mode():
            held_pred = np.concatenate(
                [
                    _logits(model, preprocess, images_to_tensor(held_x[s : s + batch_size]), device)
                    .argmax(1)
                    .cpu()
                    .numpy()
                    for s in range(0, len(held_x), batch_size)
                ]
            )
        scores = {
            "test_accuracy": _accuracy(model, preprocess, test_x, test_y, batch_size, device),
            "scenario_accuracy": float(np.mean(held_pred == held_y)),
            "finetune_scenario_accuracy": _accuracy(
                model, preprocess, tune_x, tune_y, batch_size, device
            ),
            "reference_accuracy": _accuracy(model, preprocess, ref_x, ref_y, batch_size, device),
        }
        return scores, held_pred

    steps_per_epoch = math.ceil(len(train_y) / batch_size)
    if max_steps_per_epoch is not None:
        steps_per_epoch = min(steps_per_epoch, max_steps_per_epoch)
    report("evaluating", steps_per_epoch=steps_per_epoch)
    before, held_before = evaluate(classifier)
    train_y_t = torch.from_numpy(train_y)
    tune_y_t = torch.from_numpy(tune_y)
    rows, models, held_after = [], {}, {}
    bar = tqdm(
        total=len(lambdas) * epochs * steps_per_epoch,
        desc="Defuse correction",
        disable=not progress,
    )
    try:
        for i, lam in enumerate(lambdas):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed + i)
                order_generator = torch.Generator().manual_seed(seed + i)
                model = copy.deepcopy(classifier)
                model.train()
                if freeze_batchnorm:
                    for module in model.modules():
                        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                            module.eval()
                optimizer = torch.optim.Adam(model.parameters(), lr=lr)
                for epoch in range(1, epochs + 1):
                    where = dict(
                        lam=lam, lambda_index=i + 1, epoch=epoch, steps_per_epoch=steps_per_epoch
                    )
                    report("finetuning", step=0, **where)
                    order = torch.randperm(len(train_y), generator=order_generator)
                    tune_order = torch.randperm(len(tune_y), generator=order_generator)
                    for step in range(steps_per_epoch):
                        batch = order[step * batch_size : (step + 1) * batch_size]
                        t = tune_order[
                            (torch.arange(batch_size) + step * batch_size) % len(tune_order)
                        ]
                        loss = F.cross_entropy(
                            _logits(model, preprocess, images_to_tensor(train_x[batch]), device),
                            train_y_t[batch].to(device),
                        )
                        if lam > 0:
                            scenario_loss = F.cross_entropy(
                                _logits(model, preprocess, images_to_tensor(tune_x[t]), device),
                                tune_y_t[t].to(device),
                            )
                            loss = loss + lam * scenario_loss
                        optimizer.zero_grad(set_to_none=True)
                        loss.backward()
                        optimizer.step()
                        bar.update(1)
                        report("finetuning", step=step + 1, **where)
                model.eval()
            report("evaluating", lam=lam, lambda_index=i + 1, steps_per_epoch=steps_per_epoch)
            scores, held_after[lam] = evaluate(model)
            rows.append({"lambda": lam, **scores})
            models[lam] = model
    finally:
        bar.close()

    sweep = pd.DataFrame(rows)
    allowed = sweep["reference_accuracy"] >= before["reference_accuracy"] - max_accuracy_drop
    if allowed.any():
        candidates = sweep[allowed].sort_values(
            ["finetune_scenario_accuracy", "reference_accuracy"], ascending=False, kind="stable"
        )
        selection = (
            f"highest accuracy on the finetuning scenario samples among lambdas whose {reference} "
            f"accuracy dropped by at most {max_accuracy_drop:g}"
        )
    else:
        candidates = sweep.sort_values("reference_accuracy", ascending=False, kind="stable")
        selection = f"highest {reference} accuracy (every lambda dropped it by more than {max_accuracy_drop:g})"
    best_row = candidates.index[0]
    sweep["selected"] = sweep.index == best_row
    best_lambda = float(sweep.loc[best_row, "lambda"])

    per_scenario = []
    for scenario_id, label in failure_labels.items():
        mask = held_sid == scenario_id
        per_scenario.append(
            {
                "scenario": scenario_id,
                "correct_label": label,
                "accuracy_before": float(np.mean(held_before[mask] == label)),
                "accuracy_after": float(np.mean(held_after[best_lambda][mask] == label)),
            }
        )
    report("done", steps_per_epoch=steps_per_epoch)
    return CorrectionResult(
        sweep=sweep,
        before=before,
        per_scenario=pd.DataFrame(per_scenario).set_index("scenario"),
        best_lambda=best_lambda,
        best_model=models[best_lambda],
        n_scenarios=len(failure_labels),
        reference=reference,
        selection=selection,
        models=models if keep_models else {},
    )


# -- the three steps together -----------------------------------------------------------------------


class Defuse:
    """Identification, distillation, review sampling and correction with shared settings.

    Parameters
    ----------
    vae : a trained :class:`~failwidgets.methods.vae.BetaVAE`, or a VAE of your own: any module
        with ``encode(x) -> (mu, logvar)`` and ``decode(z) -> images`` in [0, 1] (the contract
        and an example: :mod:`failwidgets.methods.vae`, "Bring your own VAE"). Its methods are
        checked here (and ``decode`` on two zero codes when it declares ``latent_dim``), its
        outputs on the first images in :meth:`fit` and on every decode.
    classifier : torch module returning logits.
    preprocess : the classifier's own transform of [0, 1] float images.
    n_samples, a, b, max_per_image : identification settings (Q, Beta(a, b), k).
    max_codes, max_components, weight_threshold : distillation settings.
    min_reconstruction_ratio : the VAE quality gate: :meth:`fit` warns
        (:class:`VAEQualityWarning`) when the classifier's accuracy on the VAE's
        reconstructions is under this share of its accuracy on the original images.
    vae_failures : ``"exclude"`` (default) leaves out the draws of images the classifier gets
        right but whose reconstruction it gets wrong (VAE failures); ``"keep"`` keeps them,
        flagged (see :func:`identify_failures`).
    batch_size : decoded codes per forward pass.
    seed : seeds every step.
    progress : show progress bars.

    Attributes
    ----------
    identification_ : :class:`Identification` after :meth:`fit`.
    scenarios_ : :class:`ScenarioSet` after :meth:`fit` (empty when nothing failed).
    quality_ : :class:`ReconstructionQuality` of the images :meth:`fit` saw;
        ``original_accuracy_`` and ``reconstruction_accuracy_`` its two accuracies.
    """

    def __init__(
        self,
        vae,
        classifier,
        *,
        preprocess: Callable | None = None,
        n_samples: int = 100,
        a: float = 50.0,
        b: float = 50.0,
        max_per_image: int = 10,
        max_codes: int = 50_000,
        max_components: int = 100,
        weight_threshold: float = 0.01,
        min_reconstruction_ratio: float = 0.5,
        vae_failures: str = "exclude",
        batch_size: int = 2048,
        seed: int = 0,
        progress: bool = True,
    ):
        self._vae = check_vae(vae)
        _check_classifier(classifier, preprocess)
        self.vae = vae
        self.classifier = classifier
        self.preprocess = preprocess
        self.n_samples = n_samples
        self.a = a
        self.b = b
        self.max_per_image = max_per_image
        self.max_codes = max_codes
        self.max_components = max_components
        self.weight_threshold = weight_threshold
        self.min_reconstruction_ratio = _check_ratio(min_reconstruction_ratio)
        self.vae_failures = _check_vae_failures(vae_failures)
        self.batch_size = batch_size
        self.seed = seed
        self.progress = progress

    def fit(self, images, labels) -> Defuse:
        """Check the VAE on ``images``, identify failure codes around them and distill them
        into scenarios.

        Raises
        ------
        ValueError, TypeError
            Naming the argument: no images, labels of another length or class range, images
            of another size than the VAE's, a VAE breaking its contract.

        Warns
        -----
        VAEQualityWarning
            When the classifier gets under ``min_reconstruction_ratio`` times as many of the
            VAE's reconstructions right as of the originals.
        """
        self.identification_ = identify_failures(
            self._vae,
            self.classifier,
            images,
            labels,
            preprocess=self.preprocess,
            n_samples=self.n_samples,
            a=self.a,
            b=self.b,
            max_per_image=self.max_per_image,
            batch_size=self.batch_size,
            min_reconstruction_ratio=self.min_reconstruction_ratio,
            vae_failures=self.vae_failures,
            seed=self.seed,
            progress=self.progress,
        )
        self.quality_ = self.identification_.quality
        self.original_accuracy_ = self.quality_.original_accuracy
        self.reconstruction_accuracy_ = self.quality_.reconstruction_accuracy
        self.scenarios_ = distill_scenarios(
            self.identification_,
            max_codes=self.max_codes,
            max_components=self.max_components,
            weight_threshold=self.weight_threshold,
            seed=self.seed,
        )
        return self

    def __repr__(self) -> str:
        name = type(self.vae).__name__
        if not hasattr(self, "scenarios_"):
            return f"Defuse(vae={name}, not fitted)"
        return (
            f"Defuse(vae={name}; {len(self.scenarios_)} failure scenarios; "
            f"{self.identification_.message})"
        )

    def _fitted(self) -> ScenarioSet:
        if not hasattr(self, "scenarios_"):
            raise RuntimeError("Defuse: call fit(images, labels) first")
        return self.scenarios_

    def sample(
        self,
        scenario_id: int,
        *,
        n: int = 10,
        tau: float = threshold_spec("defuse", "tau").default,
        seed: int | None = None,
    ) -> ScenarioSamples:
        """Decoded, classified samples of one scenario (see :func:`sample_scenario`)."""
        scenario = self._fitted()[scenario_id]
        return sample_scenario(
            scenario,
            self._vae,
            self.classifier,
            n=n,
            tau=tau,
            preprocess=self.preprocess,
            seed=self.seed if seed is None else seed,
            batch_size=min(self.batch_size, 512),
        )

    def correct(self, labels, **kwargs) -> CorrectionResult:
        """Run :func:`correct_classifier` with this object's VAE, classifier and scenarios."""
        kwargs.setdefault("preprocess", self.preprocess)
        kwargs.setdefault("seed", self.seed)
        kwargs.setdefault("progress", self.progress)
        self.correction_ = correct_classifier(
            self.classifier, self._vae, self._fitted(), labels, **kwargs
        )
        return self.correction_
