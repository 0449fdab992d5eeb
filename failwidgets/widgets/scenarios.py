"""ScenarioView: review Defuse's failure scenarios, label them, and correct the classifier.

A thin layer (anywidget + ipywidgets) over
:class:`~failwidgets.methods.scenario_review.ScenarioReview`, which computes the review, and
:mod:`failwidgets.viewmodels.scenarios`, which builds what the browser shows:

- one row per scenario (a kept mixture component of misclassified latent codes): its weight,
  codes and source images, majority label, a strip of decoded samples ``z ~ N(mean, tau *
  cov)`` with the classifier's prediction on each, and the labeling controls;
- the ``tau`` slider and "New samples" resample every strip on the view's latest-wins worker;
  the browser drops strips of an older sample version, so no stale strip stays on screen;
- labels are written at once (atomically) to ``labels_path``
  (:class:`~failwidgets.methods.scenario_labels.ScenarioLabels`) and shown again by a later
  view of the same scenario set; a file of another scenario set is refused, not overwritten;
- the VAE check (Defuse's quality gate) above the rows, a warning when it fails;
- "Correct classifier" finetunes copies of the classifier on its own thread, with its progress
  in the status line, then shows the before/after table and the trade-off chart.

Decoded samples travel as PNG bytes in binary buffers of a custom message answering the
browser's request, so no image is stored in the notebook's widget state.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import traitlets

from ..checks import check_int
from ..data import EvalSet
from ..methods.scenario_review import (
    DEFAULT_FIT_SETTINGS,
    DEFAULT_MAX_IMAGES,
    DEFAULT_SPLIT,
    ScenarioReview,
)
from ..thresholds import spec as threshold_spec
from ..viewmodels.scenarios import (
    StatusLine,
    StripSamples,
    scenarios_view_model,
    selection_title,
)
from .failure_view import FailureView
from .grid import ImageGrid
from .guard import Checked, validator
from .scenario_canvas import ScenarioCanvas
from .scenario_panels import ALL_CLASSES, CorrectionPanel, QualityLine, ScenarioControls
from .threshold_controls import ControlLink, Threshold

__all__ = ["ScenarioView", "ScenarioCanvas", "DEFAULT_FIT_SETTINGS", "DEFAULT_MAX_IMAGES"]

MAX_SAMPLES_SHOWN = 64


class _AllClassesLink(ControlLink):
    """The class dropdown's link: its "all classes" entry (``ALL_CLASSES``) is ``class_name``
    None."""

    def _transform(self, value):
        return ALL_CLASSES if value is None else value

    def _transform_inv(self, value):
        return None if value == ALL_CLASSES else value


# ---------------------------------------------------------------------- the view
class ScenarioView(FailureView):
    """Defuse's failure scenarios of a classifier, one row each, with labeling and correction.

    Parameters
    ----------
    evalset : EvalSet
        The evaluated samples; Defuse identifies failures around the images of ``split``.
    classifier : torch module
        The classifier under inspection (logits ``(N, C)``; ``C`` = the EvalSet's classes).
    vae : BetaVAE or a VAE of your own
        A VAE trained on images like the EvalSet's (same image size): a
        :class:`~failwidgets.methods.vae.BetaVAE` or any module with ``encode`` / ``decode``
        of the shapes :mod:`failwidgets.methods.vae` documents ("Bring your own VAE"); it is
        checked on two of the images here.
    defuse : Defuse, optional
        An already fitted :class:`~failwidgets.methods.defuse.Defuse` (with this ``vae`` and
        ``classifier``) fitted on ``evalset.images_at(rows)``, ``rows`` being ``indices`` or
        the split's indices. Default: the view fits one (seconds to a minute; a progress bar
        shows), on at most ``max_images`` images of the split with ``fit_kwargs``.
    labels_path : str or path
        JSON file of the annotator's labels; reloaded when it exists (it must belong to this
        scenario set), rewritten atomically at every change.
    adopt_labels : bool
        Accept a ``labels_path`` whose labels carry no scenario-set fingerprint (e.g. written
        by hand or by an older version) as labels of this scenario set; the file is stamped
        with its fingerprint at the next change. Without it such a file is refused, since its
        labels may belong to another distillation. A file of another scenario set is always
        refused.
    preprocess : callable, optional
        The classifier's own transform of [0, 1] float images (default: the given Defuse's).
    grid : ImageGrid, optional
        Where a selected scenario's source images are shown; default: the view's own grid.
    n_samples_shown : int
        Decoded samples per strip (1..64).
    tau : float in (0, 1]
        Sample spread: ``z ~ N(mean, tau * cov)`` (the slider spans 0.01 to 0.5).
    split : str or None
        Split whose images Defuse identifies around. Default: ``"val"`` when the EvalSet has
        a val split, else all images; None: all images.
    class_name : str or int, optional
        Show only scenarios whose majority label is this class (None: all).
    fit_kwargs : dict, optional
        Settings of the :class:`Defuse` the view fits (``n_samples``, ``a``, ``b``,
        ``max_per_image``, ``max_components``, ``seed``, ...), over
        :data:`DEFAULT_FIT_SETTINGS` (``n_samples=20``; the paper uses 100).
    indices : array-like of int, optional
        EvalSet indices of the images to identify around (instead of ``split``).
    max_images : int or None
        When the view fits: identify around a seeded random subset of at most this many of
        the images (None: all). Not applied to a given ``defuse``.
    confirmed_only : bool
        :meth:`failure_modes` lists only the scenarios marked failures (default: every
        scenario not marked "not a failure").
    background : bool
        Resample on the view's worker thread (default); False resamples at once (scripts, tests).
    show_controls : bool
        Show the class selector and the τ slider (the Explorer shows them in its panel).

    Attributes
    ----------
    tau, class_name, confirmed_only : observable typed traits; setting ``tau`` resamples
        every strip, ``class_name`` filters the rows (None: all classes); ``confirmed_only``
        is the review's.
    review : the :class:`~failwidgets.methods.scenario_review.ScenarioReview` (what the
        review computes); ``defuse`` its fitted :class:`Defuse`, ``scenarios`` its
        :class:`ScenarioSet`.
    labels : the :class:`~failwidgets.methods.scenario_labels.ScenarioLabels` store (the
        review's).
    rows : EvalSet indices of the images Defuse identified around (``identification_``
        image ``i`` is EvalSet sample ``rows[i]``).
    status : the status line (the correction's state and a note on the last action).
    selected_scenario : id of the selected scenario, or None.
    selected_members : EvalSet indices of the selected scenario's source images.
    correction_ : the last :class:`CorrectionResult` (after :meth:`correct`).

    Notes
    -----
    :meth:`failure_modes` is the review's (:meth:`ScenarioReview.failure_modes`): every
    scenario the annotator has not marked "not a failure" (each scenario is made of
    misclassified codes, so it is a failure candidate until reviewed); ``confirmed_only``
    keeps only those marked failures. A mode's members are the scenario's source images; its
    accuracy is the classifier's accuracy on them and its drop the class accuracy (over
    ``rows``) minus it (:meth:`ScenarioReview.failure_mode`). With no class selected,
    ``"current"`` means every class, as the view then shows every class's scenarios.
    """

    method = "defuse"
    tau = Threshold("defuse", "tau")
    confirmed_only = Checked(False, help="failure_modes lists only the scenarios marked failures")

    def __init__(
        self,
        evalset: EvalSet,
        classifier,
        vae,
        *,
        defuse=None,
        labels_path="defuse_labels.json",
        adopt_labels: bool = False,
        preprocess: Callable | None = None,
        grid: ImageGrid | None = None,
        n_samples_shown: int = 8,
        tau: float = threshold_spec("defuse", "tau").default,
        split=DEFAULT_SPLIT,
        class_name: str | int | None = None,
        fit_kwargs: Mapping | None = None,
        indices=None,
        max_images: int | None = DEFAULT_MAX_IMAGES,
        confirmed_only: bool = False,
        background: bool = True,
        **kwargs,
    ):
        super().__init__(evalset, grid=grid, background=background, **kwargs)
        n_shown = check_int(n_samples_shown, "n_samples_shown", 1, MAX_SAMPLES_SHOWN)
        self.tau = tau
        self.confirmed_only = confirmed_only
        self.class_name = class_name
        self.review = ScenarioReview.build(
            evalset, classifier, vae, defuse=defuse, preprocess=preprocess, split=split,
            indices=indices, fit_kwargs=fit_kwargs, max_images=max_images,
        )  # fmt: skip
        self.review.open_labels(labels_path, adopt_labels=adopt_labels)
        self.review.confirmed_only = self.confirmed_only
        self._strips = StripSamples(self.review, n_shown, self.tau)  # the samples shown
        self._draw = 0  # bumped by resample(): a new random stream for the samples
        self._selected: int | None = None
        self._status_line = StatusLine()  # the correction's part and a note on the last action
        self._status_lock = threading.RLock()  # the correction's thread writes it too

        self.add_class("fw-scenario-view")
        self.canvas = ScenarioCanvas(self)
        self._build_controls()
        self._finish_init()
        self._refresh()
        if self._owns_grid:
            self.grid.show(
                [], title="Click a scenario to see the source images of its failing codes"
            )
        children = [self._controls, self._quality, self.canvas, self._correction_box]
        self.children = children + ([self.grid] if self._owns_grid else [])

    @validator("confirmed_only")
    def _valid_confirmed_only(self, proposal):
        if not isinstance(proposal["value"], (bool, np.bool_)):
            raise TypeError(
                f"confirmed_only: expected True or False, got {type(proposal['value']).__name__}"
            )
        return bool(proposal["value"])

    @traitlets.observe("confirmed_only")
    def _confirmed_only_changed(self, change) -> None:
        if self._ready:  # the constructor hands the first value to the review itself
            self.review.confirmed_only = change["new"]

    def _build_controls(self) -> None:
        (self._tau_slider,) = self.threshold_controls()
        self._tau_slider.add_class("fw-scenarios-tau")
        self._correction_box = CorrectionPanel(
            self.review,
            lambda text, error: self._set_status(text, error, task=True),
            tau=lambda: self.tau,
        )
        self._correct_button = self._correction_box.button
        self._controls = ScenarioControls(
            self._evalset.class_names,
            self._tau_slider,
            self._correct_button,
            self._status_html,
            on_resample=self.resample,
        )
        self._class_dropdown = self._controls.class_dropdown
        self._resample_button = self._controls.resample_button
        _AllClassesLink(
            (self, "class_name"), (self._class_dropdown, "value"), on_error=self._control_error
        )
        self._adopt([self._class_dropdown])  # hidden with show_controls=False, as the slider
        self._quality = QualityLine(self.review.quality_summary(), self.review.quality_text())

    # ------------------------------------------------------------------ reactions
    def _on_threshold(self, name: str) -> None:  # tau: new samples of every strip
        self._resample()

    def _on_class(self) -> None:
        if self._selected is not None and self._selected not in self._shown_ids():
            self._clear_selection()
        self._refresh()

    # ------------------------------------------------------------------ the correction
    def correct(self, **kwargs):
        """Finetune copies of the classifier on the labelled failure scenarios.

        Calls :meth:`ScenarioReview.correct` (:func:`~failwidgets.methods.defuse.correct_classifier`)
        with the label store and shows its progress in the status line, then its before/after
        table and trade-off chart under the rows. Training, test and validation images default
        to the EvalSet's ``train``, ``test`` and ``val`` splits; ``preprocess``, ``tau`` and
        ``seed`` to the view's. Any keyword of ``correct_classifier`` may be given, and
        ``on_progress`` hears the progress too. Returns the :class:`CorrectionResult`.
        """
        return self._correction_box.run(**kwargs)

    @property
    def correction_(self):
        """The last :class:`CorrectionResult` (None before a correction)."""
        return self._correction_box.result

    @property
    def correcting(self) -> bool:
        """True while a correction started by the button is running."""
        return self._correction_box.running

    def wait_correction(self, timeout: float | None = None):
        """Wait for a correction started by the button; return its result (None if none ran)."""
        self._correction_box.wait(timeout)
        return self.correction_

    # ------------------------------------------------------------------ public API
    @property
    def defuse(self):
        return self.review.defuse

    @property
    def scenarios(self):
        """The :class:`~failwidgets.methods.defuse.ScenarioSet` shown."""
        return self.review.scenarios

    @property
    def rows(self) -> np.ndarray:
        return self.review.rows

    @property
    def labels(self):
        """The annotator's :class:`~failwidgets.methods.scenario_labels.ScenarioLabels`."""
        return self.review.labels

    @property
    def labels_path(self) -> Path:
        return self.labels.path

    @property
    def n_samples_shown(self) -> int:
        return self._strips.n

    @property
    def sample_version(self) -> int:
        """Increases whenever new samples are shown (``tau`` or :meth:`resample`)."""
        return self._strips.version

    @property
    def quality(self):
        """The :class:`~failwidgets.methods.defuse.ReconstructionQuality` of the images Defuse
        identified around (None for an identification made without the check)."""
        return self.review.quality

    @property
    def selected_scenario(self) -> int | None:
        return self._selected

    def members(self, scenario_id: int) -> np.ndarray:
        """EvalSet indices (ascending) of the source images of a scenario's member codes."""
        return self.review.members(scenario_id)

    def resample(self) -> None:
        """Draw new samples of every scenario (a new random stream, the same ``tau``)."""
        self._draw += 1
        self._resample()

    def samples(self, scenario_id: int):
        """The :class:`ScenarioSamples` shown for a scenario (drawn at the ``tau`` shown: the
        current one once a resampling on the worker was delivered)."""
        scenario_id = self.review.check_id(scenario_id)
        with self._worker.lock:
            return self._strips.get(scenario_id)

    def set_label(self, scenario_id: int, **fields):
        """Label a scenario and write the label file at once (:meth:`ScenarioReview.set_label`).

        ``is_failure``: True, False or None (not reviewed); ``correct_label``: a class name,
        a class index or None. Fields left out keep their value. Returns the stored label.
        """
        label = self.review.set_label(scenario_id, **fields)
        self._refresh()
        return label

    def clear_label(self, scenario_id: int) -> None:
        """Forget a scenario's label (written at once)."""
        self.review.clear_label(scenario_id)
        self._refresh()

    def select(self, scenario_id: int) -> None:
        """Select a scenario: highlight its row, show its source images in the grid (errors
        first) and notify ``on_select`` with its :class:`~failwidgets.modes.FailureMode`."""
        mode = self.review.failure_mode(scenario_id)
        scenario_id = int(scenario_id)
        self._selected = scenario_id
        self.canvas.selected = scenario_id
        self.show_mode(mode, title=selection_title(mode, self._evalset))
        self._notify_select(mode)

    def _resolve_classes(self, classes) -> list[str]:
        if isinstance(classes, str) and classes == "current" and self.class_name is None:
            classes = "all"  # no class selected: the view shows every class's scenarios
        return super()._resolve_classes(classes)

    def _modes(self, class_names: list[str], thresholds: dict):
        """The review's failure modes of ``class_names`` (``tau`` changes no mode)."""
        return self.review.failure_modes(class_names, **thresholds)

    def scenario_table(self):
        """The scenarios as a DataFrame: the engine's columns, class names, source images and
        the labels (:meth:`ScenarioReview.table`)."""
        return self.review.table()

    # ------------------------------------------------------------------ samples and the model
    def _resample(self) -> None:
        """Draw the shown scenarios' samples at the current ``(tau, draw)`` on the worker; the
        strips change (and ``sample_version`` grows) when they are delivered."""
        tau, draw = self.tau, self._draw
        ids = self._shown_ids()
        if self._worker.background:
            self._set_status(f"drawing new samples at τ = {tau:g}…")

        def deliver(samples: dict) -> None:
            self._strips.replace(samples, tau, draw)
            self._refresh()
            self._set_status("")

        def fail(error: BaseException) -> None:
            self._set_status(f"samples not drawn: {type(error).__name__}: {error}", error=True)

        self._worker.submit(lambda: self._strips.draw_all(ids, tau, draw), deliver, fail)

    def _shown_ids(self) -> list[int]:
        return self.review.ids(self.class_name)

    def _clear_selection(self) -> None:
        self._selected = None
        self._selected_members = np.zeros(0, dtype=np.int64)
        self.canvas.selected = -1

    def _refresh(self) -> None:
        if not self._ready:
            return
        with self._worker.lock:  # a delivery of new samples refreshes too
            model = self.view_model()
            with self.canvas.hold_sync():
                self.canvas.view_model = model
                self.canvas.selected = -1 if self._selected is None else self._selected
        if not self._worker.pending:  # "drawing new samples…" stays until they are shown
            self._set_status("")  # the last action worked: its note goes; the correction's stays

    def view_model(self) -> dict:
        """The browser's view model (JSON-ready): the shown rows and the view's settings
        (:func:`~failwidgets.viewmodels.scenarios.scenarios_view_model` lists the keys)."""
        with self._worker.lock:
            return scenarios_view_model(self.review, self._strips, self.class_name)

    def strips_payload(self, ids, request_id=None) -> tuple[dict, list[bytes]]:
        """The message and PNG buffers answering the browser's request for ``ids``' strips
        (:meth:`StripSamples.strips_message <failwidgets.viewmodels.scenarios.StripSamples.strips_message>`);
        its ``version`` is :attr:`sample_version`, the browser drops answers of another."""
        with self._worker.lock:  # the samples, their thumbnails and version belong together
            return self._strips.strips_message(ids, request_id)

    # ------------------------------------------------------------------ status
    def _set_status(self, text: str, error: bool = False, *, task: bool = False) -> None:
        """Set the correction's part of the status line (``task``) or the note on the last
        action; the line shows both (each in its colour)."""
        with self._status_lock:  # the correction's thread writes here too
            self._status_line.set(text, error, task=task)
            super()._set_status(self._status_line.text, self._status_line.error)
            self._status_html.value = self._status_line.html
