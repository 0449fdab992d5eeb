"""ScenarioView: review Defuse's failure scenarios, label them, and correct the classifier.

A thin layer (anywidget + ipywidgets) over
:class:`~failwidgets.methods.scenario_review.ScenarioReview`, which computes the review:

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

import html
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import ipywidgets as widgets
import numpy as np

from ..checks import check_int
from ..data import EvalSet
from ..methods.scenario_review import (
    DEFAULT_FIT_SETTINGS,
    DEFAULT_MAX_IMAGES,
    DEFAULT_SPLIT,
    ScenarioReview,
    review_rows,
)
from ..thresholds import spec as threshold_spec
from .failure_view import FailureView
from .grid import ImageGrid
from .guard import (
    BrowserMessageError,
    Checked,
    message_int,
    validator,
)
from .scenario_canvas import ScenarioCanvas
from .threshold_controls import ControlLink, Threshold

__all__ = ["ScenarioView", "ScenarioCanvas", "DEFAULT_FIT_SETTINGS", "DEFAULT_MAX_IMAGES"]

MAX_SAMPLES_SHOWN = 64
MAX_THUMB_PIXELS = 128  # decoded samples larger than this are shrunk for the strip
#: The correction's progress replaces the status line at most this often (seconds) within one
#: epoch; a new stage, lambda or epoch shows at once.
PROGRESS_INTERVAL_S = 0.25
_ALL = ""  # the class dropdown's value for "all classes" (class_name None)
_UNSET = object()
_DEFAULT_SPLIT = DEFAULT_SPLIT  # the Explorer's assets read it under this name


def _span(text: str, error: bool) -> str:
    colour = "var(--jp-error-color1, #d32f2f)" if error else "var(--jp-ui-font-color1, #444)"
    return f'<span style="color: {colour}">{html.escape(text)}</span>'


class _AllClassesLink(ControlLink):
    """The class dropdown's link: its "all classes" entry is ``class_name`` None."""

    def _transform(self, value):
        return _ALL if value is None else value

    def _transform_inv(self, value):
        return None if value == _ALL else value


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
        every strip, ``class_name`` filters the rows (None: all classes).
    review : the :class:`~failwidgets.methods.scenario_review.ScenarioReview` (what the
        review computes); ``defuse`` its fitted :class:`Defuse`, ``scenarios`` its
        :class:`ScenarioSet`.
    labels : the :class:`~failwidgets.methods.scenario_labels.ScenarioLabels` store.
    rows : EvalSet indices of the images Defuse identified around (``identification_``
        image ``i`` is EvalSet sample ``rows[i]``).
    status : the status line (the correction's state and a note on the last action).
    selected_scenario : id of the selected scenario, or None.
    selected_members : EvalSet indices of the selected scenario's source images.
    correction_ : the last :class:`CorrectionResult` (after :meth:`correct`).

    Notes
    -----
    :meth:`failure_modes` lists every scenario the annotator has not marked "not a failure"
    (each scenario is made of misclassified codes, so it is a failure candidate until
    reviewed); ``confirmed_only`` keeps only those marked failures. A mode's members are the
    scenario's source images; its accuracy is the classifier's accuracy on them and its drop
    the class accuracy (over ``rows``) minus it (:meth:`ScenarioReview.failure_mode`).
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
        self._n_shown = check_int(n_samples_shown, "n_samples_shown", 1, MAX_SAMPLES_SHOWN)
        self.tau = tau
        self.confirmed_only = confirmed_only
        self.class_name = class_name
        self.review = ScenarioReview.build(
            evalset, classifier, vae, defuse=defuse, preprocess=preprocess, split=split,
            indices=indices, fit_kwargs=fit_kwargs, max_images=max_images,
        )  # fmt: skip
        self.labels = self.review.open_labels(labels_path, adopt_labels=adopt_labels)
        self._draw = 0  # bumped by resample(): a new random stream for the samples
        self._version = 0  # bumped whenever new samples are shown (tau, resample)
        self._samples_key = (self.tau, self._draw)  # the (tau, draw) of the samples shown
        self._samples: dict[int, object] = {}
        self._thumbs: dict[int, list[bytes]] = {}
        self._selected: int | None = None
        # the status line has two parts: the correction's ("finetuning…", "corrected with…"),
        # kept until the next correction, and a note on the last action (an error), which a
        # refresh clears
        self._status_parts = {"task": ("", False), "note": ("", False)}
        self._status_lock = threading.RLock()  # the correction's thread writes it too
        self._progress_key, self._progress_time = None, 0.0
        self.correction_ = None
        self._correction_thread: threading.Thread | None = None

        self.add_class("fw-scenario-view")
        self.canvas = ScenarioCanvas(self)
        self._build_controls()
        self._finish_init()
        self._refresh()
        if self._owns_grid:
            self.grid.show(
                [], title="Click a scenario to see the source images of its failing codes"
            )
        self._show_quality()
        children = [self._controls, self._quality, self.canvas, self._correction_box]
        self.children = children + ([self.grid] if self._owns_grid else [])

    @validator("confirmed_only")
    def _valid_confirmed_only(self, proposal):
        if not isinstance(proposal["value"], (bool, np.bool_)):
            raise TypeError(
                f"confirmed_only: expected True or False, got {type(proposal['value']).__name__}"
            )
        return bool(proposal["value"])

    _fit_rows = staticmethod(review_rows)  # the Explorer's assets call it

    def _build_controls(self) -> None:
        names = list(self._evalset.class_names)
        self._class_dropdown = widgets.Dropdown(
            options=[("all classes", _ALL)] + [(name, name) for name in names],
            description="class",
            layout=widgets.Layout(width="220px"),
            style={"description_width": "40px"},
        )
        self._class_dropdown.add_class("fw-scenarios-class")
        _AllClassesLink(
            (self, "class_name"), (self._class_dropdown, "value"), on_error=self._control_error
        )
        self._own_controls.append(self._class_dropdown)  # hidden with show_controls=False
        (self._tau_slider,) = self.threshold_controls()
        self._tau_slider.add_class("fw-scenarios-tau")
        self._resample_button = widgets.Button(
            description="New samples",
            icon="refresh",
            tooltip="draw new samples of every scenario (same τ)",
            layout=widgets.Layout(width="auto"),
        )
        self._resample_button.add_class("fw-scenarios-resample")
        self._resample_button.on_click(lambda _: self.resample())
        self._correct_button = widgets.Button(
            description="Correct classifier",
            icon="wrench",
            tooltip="finetune copies of the classifier on the labelled failure scenarios "
            "(lambda sweep); shows test and scenario accuracy before and after",
            layout=widgets.Layout(width="auto"),
        )
        self._correct_button.add_class("fw-scenarios-correct")
        self._correct_button.on_click(self._on_correct_click)
        self._status_html.add_class("fw-scenarios-status")
        self._controls = widgets.HBox(
            [
                self._class_dropdown,
                self._tau_slider,
                self._resample_button,
                self._correct_button,
                self._status_html,
            ],
            layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
        )
        # show_controls=False given to the constructor came before the controls: apply it
        self._show_own_controls({"new": self.show_controls})
        self._correction_table = widgets.HTML()
        self._correction_table.add_class("fw-scenarios-correction")
        self._correction_box = widgets.VBox([self._correction_table])
        self._quality = widgets.HTML(layout=widgets.Layout(margin="2px 0 4px 0"))
        self._quality.add_class("fw-scenarios-quality")

    # ------------------------------------------------------------------ reactions
    def _on_threshold(self, name: str) -> None:  # tau: new samples of every strip
        self._resample()

    def _on_class(self) -> None:
        if self._selected is not None and self._selected not in self._shown_ids():
            self._clear_selection()
        self._refresh()

    def _message_id(self, content: dict) -> int:
        """The scenario id of a browser message; BrowserMessageError when it names none."""
        scenario_id = message_int(content, "id")
        if scenario_id not in self.review.scenarios.ids:
            raise BrowserMessageError(
                f"id: {scenario_id} is not one of the {len(self.review.scenarios)} scenario ids"
            )
        return scenario_id

    def _label_from_browser(self, scenario_id: int, fields: dict) -> None:
        try:
            self.set_label(scenario_id, **fields)
        except (TypeError, ValueError, OSError) as error:
            text = f"scenario {scenario_id}: label not saved ({error})"
            self._set_status(text, error=True)
            # the browser puts the stored label back on its controls and says why
            self.canvas.send({"type": "label_refused", "id": scenario_id, "error": text})

    # ------------------------------------------------------------------ the correction thread
    def _on_correct_click(self, button) -> None:
        """Run the correction on its own thread: the kernel keeps answering the view meanwhile."""
        if self.correcting:
            return
        self._correct_button.disabled = True
        self._set_status(
            "finetuning the classifier on the labelled failure scenarios (minutes on a CPU; "
            "the view stays usable)…",
            task=True,
        )

        def work() -> None:
            try:
                self.correct(progress=False)
            except (TypeError, ValueError, RuntimeError) as error:
                self._set_status(f"correction: {error}", error=True, task=True)
            except Exception as error:  # noqa: BLE001 - a worker thread must report, not die
                self._set_status(
                    f"correction failed: {type(error).__name__}: {error}", error=True, task=True
                )
            finally:
                self._correct_button.disabled = False

        self._correction_thread = threading.Thread(
            target=work, name="fw-defuse-correction", daemon=True
        )
        self._correction_thread.start()

    @property
    def correcting(self) -> bool:
        """True while a correction started by the button is running."""
        return self._correction_thread is not None and self._correction_thread.is_alive()

    def wait_correction(self, timeout: float | None = None):
        """Wait for a correction started by the button; return its result (None if none ran)."""
        if self._correction_thread is not None:
            self._correction_thread.join(timeout)
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
    def labels_path(self) -> Path:
        return self.labels.path

    @property
    def n_samples_shown(self) -> int:
        return self._n_shown

    @property
    def sample_version(self) -> int:
        """Increases whenever new samples are shown (``tau`` or :meth:`resample`)."""
        return self._version

    @property
    def quality(self):
        """The :class:`~failwidgets.methods.defuse.ReconstructionQuality` of the images Defuse
        identified around (None for an identification made without the check)."""
        return self.review.quality

    @property
    def selected_scenario(self) -> int | None:
        return self._selected

    @property
    def selected_members(self) -> np.ndarray:
        view = self._selected_members.view()
        view.flags.writeable = False
        return view

    def members(self, scenario_id: int) -> np.ndarray:
        """EvalSet indices (ascending) of the source images of a scenario's member codes."""
        return self.review.members(scenario_id)

    def set_class(self, name: str | int | None) -> None:
        """Show only scenarios whose majority label is ``name`` (None: all scenarios)."""
        self.class_name = name

    def resample(self) -> None:
        """Draw new samples of every scenario (a new random stream, the same ``tau``)."""
        self._draw += 1
        self._resample()

    def samples(self, scenario_id: int):
        """The :class:`ScenarioSamples` shown for a scenario (drawn at the ``tau`` shown: the
        current one once a resampling on the worker was delivered)."""
        scenario_id = self.review.check_id(scenario_id)
        with self._worker.lock:
            if scenario_id not in self._samples:
                tau, draw = self._samples_key
                self._samples[scenario_id] = self.review.samples(
                    scenario_id, n=self._n_shown, tau=tau, draw=draw
                )
            return self._samples[scenario_id]

    def set_label(self, scenario_id: int, *, is_failure=_UNSET, correct_label=_UNSET):
        """Label a scenario and write the label file at once.

        ``is_failure``: True, False or None (not reviewed); ``correct_label``: a class name,
        a class index or None. Fields left out keep their value. Returns the stored label.
        """
        scenario_id = self.review.check_id(scenario_id)
        fields = {}
        if is_failure is not _UNSET:
            fields["is_failure"] = is_failure
        if correct_label is not _UNSET:
            if isinstance(correct_label, str):
                if correct_label not in self._evalset.class_names:
                    raise ValueError(
                        f"class_name: unknown class {correct_label!r}; "
                        f"known: {list(self._evalset.class_names)[:10]}"
                    )
                correct_label = self._evalset.class_index(correct_label)
            fields["correct_label"] = correct_label
        label = self.labels.set(scenario_id, **fields)
        self._refresh()
        return label

    def clear_label(self, scenario_id: int) -> None:
        """Forget a scenario's label (written at once)."""
        self.labels.clear(self.review.check_id(scenario_id))
        self._refresh()

    def select(self, scenario_id: int) -> None:
        """Select a scenario: highlight its row, show its source images in the grid (errors
        first) and notify ``on_select`` with its :class:`~failwidgets.modes.FailureMode`."""
        mode = self.review.failure_mode(scenario_id)
        scenario_id = int(scenario_id)
        self._selected = scenario_id
        self._selected_members = mode.members.copy()
        self.canvas.selected = scenario_id
        n_errors = int(np.count_nonzero(~self._evalset.correct[mode.members]))
        self.show_mode(
            mode,
            title=f"Defuse {mode.description} — {mode.size} source images of its failing codes, "
            f"{n_errors} misclassified",
        )
        self._notify_select(mode)

    def _resolve_classes(self, classes) -> list[str]:
        if isinstance(classes, str) and classes == "current" and self.class_name is None:
            classes = "all"  # no class selected: the view shows every class's scenarios
        return super()._resolve_classes(classes)

    def _modes(self, class_names: list[str], thresholds: dict):
        """One failure mode per scenario of ``class_names`` (see the class notes); ``tau``
        changes the samples only, not the modes."""
        return self.review.failure_modes(
            self.labels, class_names, confirmed_only=self.confirmed_only
        )

    def scenario_table(self):
        """The scenarios as a DataFrame: the engine's columns, class names, source images and
        the labels (:meth:`ScenarioReview.table`)."""
        return self.review.table(self.labels)

    def correct(self, **kwargs):
        """Finetune copies of the classifier on the labelled failure scenarios.

        Calls :meth:`ScenarioReview.correct` (:func:`~failwidgets.methods.defuse.correct_classifier`)
        with the label store and shows its before/after table and trade-off chart under the
        rows. Training, test and validation images default to the EvalSet's ``train``,
        ``test`` and ``val`` splits; ``preprocess``, ``tau`` and ``seed`` to the view's. Any
        keyword of ``correct_classifier`` may be given. Returns the :class:`CorrectionResult`.
        """
        user_callback = kwargs.pop("on_progress", None)
        if user_callback is not None and not callable(user_callback):
            raise TypeError(
                f"on_progress: expected a callable or None, got {type(user_callback).__name__}"
            )

        def on_progress(progress) -> None:
            self._show_progress(progress)
            if user_callback is not None:
                user_callback(progress)

        kwargs.setdefault("progress", True)
        kwargs.setdefault("tau", self.tau)
        self._progress_key, self._progress_time = None, 0.0
        try:
            result = self.review.correct(self.labels, on_progress=on_progress, **kwargs)
        except Exception as error:
            self._set_status(f"correction stopped: {error}", error=True, task=True)
            raise
        self.correction_ = result
        self._show_correction(result)
        self._set_status(
            f"corrected with lambda = {result.best_lambda:g} on {result.n_scenarios} labelled "
            "failure scenarios (table below)",
            task=True,
        )
        return result

    def _show_correction(self, result) -> None:
        from .scenario_panels import correction_html, tradeoff_chart

        self._correction_table.value = correction_html(result, self._evalset.class_names)
        chart = tradeoff_chart(result)
        self._correction_box.children = [self._correction_table] + ([chart] if chart else [])

    # ------------------------------------------------------------------ samples and the model
    def _resample(self) -> None:
        """Draw the shown scenarios' samples at the current ``(tau, draw)`` on the worker; the
        strips change (and ``sample_version`` grows) when they are delivered."""
        key = (self.tau, self._draw)
        ids = self._shown_ids()
        if self._worker.background:
            self._set_status(f"drawing new samples at τ = {key[0]:g}…")

        def compute() -> dict:
            return {
                i: self.review.samples(i, n=self._n_shown, tau=key[0], draw=key[1]) for i in ids
            }

        def deliver(samples: dict) -> None:
            self._samples, self._samples_key = samples, key
            self._thumbs = {}
            self._version += 1
            self._refresh()
            self._set_status("")

        def fail(error: BaseException) -> None:
            self._set_status(f"samples not drawn: {type(error).__name__}: {error}", error=True)

        self._worker.submit(compute, deliver, fail)

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

    def _row(self, scenario, max_weight: float) -> dict:
        names = self._evalset.class_names
        label = self.labels.get(scenario.id)
        samples = self.samples(scenario.id)
        reference = (
            label.correct_label if label.correct_label is not None else scenario.majority_label
        )
        top, top_count = samples.top_prediction()
        wrong = samples.wrong(reference)
        code_top = scenario.top_prediction
        return {
            "id": scenario.id,
            "weight": float(scenario.weight),
            "weight_text": f"{100 * scenario.weight:.1f}%",
            "weight_share": float(scenario.weight / max_weight) if max_weight > 0 else 0.0,
            "n_codes": int(scenario.n_members),
            "n_images": len(self.review.members(scenario.id)),
            "majority_label": scenario.majority_label,
            "majority_name": self.review.class_of(scenario.id),
            "code_prediction": names[code_top] if code_top is not None else None,
            "reference_name": names[reference] if reference is not None else None,
            "samples": [
                {"prediction": names[p], "confidence": round(float(q), 4), "wrong": bool(w)}
                for p, q, w in zip(
                    samples.predictions.tolist(), samples.confidence.tolist(), wrong.tolist()
                )
            ],
            "top_prediction": names[top],
            "top_count": top_count,
            "n_wrong": int(wrong.sum()),
            "predicted_text": f"predicted: {names[top]} {top_count}/{len(wrong)}",
            "is_failure": label.is_failure,
            "correct_label": label.correct_label,
        }

    def view_model(self) -> dict:
        """The browser's view model (JSON-ready): the shown rows and the view's settings.

        Keys: ``rows`` (one dict per shown scenario: ``id``, ``weight``, ``weight_text``,
        ``weight_share``, ``n_codes``, ``n_images``, ``majority_label``/``majority_name``,
        ``code_prediction``, ``reference_name`` (the correct label when given, else the
        majority label), ``samples`` (``prediction``, ``confidence``, ``wrong``),
        ``top_prediction``, ``top_count``, ``n_wrong``, ``predicted_text``, ``is_failure``,
        ``correct_label``), ``class_names``, ``class_name``, ``tau`` (of the samples shown),
        ``n_samples``, ``sample_version``, ``image_size``, ``n_scenarios``, ``n_labelled``,
        ``n_failures``, ``labels_path``, ``message``, ``quality`` (the VAE check:
        ``original_accuracy``, ``reconstruction_accuracy``, ``passed``,
        ``n_vae_failure_images``, ``n_vae_failing_draws``, ``vae_failures``, ``text``; None
        when not measured).
        """
        scenarios = self.review.scenarios
        max_weight = max((s.weight for s in scenarios), default=0.0)
        rows = [self._row(scenarios[i], max_weight) for i in self._shown_ids()]
        labelled = self.labels.items()
        if scenarios.is_empty:
            message = scenarios.message
        elif not rows:
            message = (
                f"No scenario has majority label {self.class_name!r}; "
                f"{len(scenarios)} scenarios in other classes."
            )
        else:
            message = ""
        return {
            "rows": rows,
            "class_names": list(self._evalset.class_names),
            "class_name": self.class_name,
            "tau": self._samples_key[0],
            "n_samples": self._n_shown,
            "sample_version": self._version,
            "image_size": int(self.review.vae.image_size),
            "quality": self.review.quality_summary(),
            "n_scenarios": len(scenarios),
            "n_labelled": len(labelled),
            "n_failures": sum(1 for _, label in labelled if label.is_failure),
            "labels_path": str(self.labels.path),
            "message": message,
        }

    def strips_payload(self, ids, request_id=None) -> tuple[dict, list[bytes]]:
        """The message and PNG buffers answering the browser's request for ``ids``' strips.

        Each id is answered once (repeats are dropped) and unknown ids are skipped. A request
        may name at most one id per scenario: a longer one raises ValueError naming ``ids``
        (nothing is decoded). ``version`` is the current :attr:`sample_version`; the browser
        drops answers of another version than the one it shows.
        """
        from ..thumbnails import encode_thumbnails

        if isinstance(ids, (str, bytes)) or not hasattr(ids, "__len__"):
            raise TypeError(f"ids: expected a list of scenario ids, got {type(ids).__name__}")
        known = set(self.review.scenarios.ids)
        if len(ids) > len(known):
            raise ValueError(
                f"ids: {len(ids)} ids in one request, but the view has {len(known)} scenarios; "
                "ask for each scenario at most once"
            )
        strips, buffers = [], []
        with self._worker.lock:  # the samples, their thumbnails and version belong together
            for scenario_id in dict.fromkeys(ids):  # each id once, in order
                if scenario_id not in known:
                    continue
                if scenario_id not in self._thumbs:
                    self._thumbs[scenario_id] = encode_thumbnails(
                        self.samples(scenario_id).images,
                        size=MAX_THUMB_PIXELS,
                        format="png",
                        n_jobs=1,
                    )
                thumbs = self._thumbs[scenario_id]
                first = len(buffers)
                strips.append(
                    {"id": scenario_id, "buffers": list(range(first, first + len(thumbs)))}
                )
                buffers.extend(thumbs)
            version = self._version
        content = {
            "type": "strips",
            "request_id": request_id,
            "version": version,
            "mime": "image/png",
            "strips": strips,
        }
        return content, buffers

    # ------------------------------------------------------------------ status and VAE check
    def _set_status(self, text: str, error: bool = False, *, task: bool = False) -> None:
        """Set the correction's part of the status line (``task``) or the note on the last
        action; the line shows both (each in its colour)."""
        with self._status_lock:  # the correction's thread writes here too
            self._status_parts["task" if task else "note"] = (text, error)
            parts = [part for part in self._status_parts.values() if part[0]]
            super()._set_status(
                " · ".join(part for part, _ in parts), any(is_error for _, is_error in parts)
            )
            if len(parts) > 1:
                self._status_html.value = " · ".join(_span(*part) for part in parts)

    def _show_progress(self, progress) -> None:
        """The correction's :class:`~failwidgets.methods.defuse.CorrectionProgress` in the status
        line ("correcting: λ=0.1 (2/4), epoch 2/3, step 12/60"), at most every
        :data:`PROGRESS_INTERVAL_S` within an epoch."""
        now = time.monotonic()
        key = (progress.stage, progress.lam, progress.epoch)
        if key == self._progress_key and now - self._progress_time < PROGRESS_INTERVAL_S:
            return
        self._progress_key, self._progress_time = key, now
        self._set_status(
            f"correcting: {progress.text} ({100 * progress.fraction:.0f}% of the finetuning)",
            task=True,
        )

    def _show_quality(self) -> None:
        from .scenario_panels import quality_html

        self._quality.value, warn = quality_html(
            self.review.quality_summary(), self.review.quality_text()
        )
        self._quality.remove_class("fw-scenarios-quality-ok")
        self._quality.remove_class("fw-scenarios-quality-warn")
        self._quality.add_class("fw-scenarios-quality-warn" if warn else "fw-scenarios-quality-ok")
