"""What :class:`~failwidgets.widgets.scenarios.ScenarioView` shows, built without widgets.

- :class:`StripSamples`: the decoded samples of each scenario's strip, all drawn at one
  ``(tau, draw)``, their PNG thumbnails and the version the browser checks strips against,
  and the answer to the browser's request for strips (:meth:`StripSamples.strips_message`);
- :func:`scenario_row` and :func:`scenarios_view_model`: the JSON rows of the drawing (weight,
  source images, majority label, the classifier's predictions on the samples, the labels);
- :class:`StatusLine`: the view's two-part status line (a task's state, kept until the next
  task, and a note on the last action, which a refresh clears), as text and escaped HTML;
- :class:`ProgressThrottle` and :func:`progress_text`: the correction's progress, shown at
  most so often within one epoch.

The analysis (members, modes, samples) is :class:`~failwidgets.methods.scenario_review.ScenarioReview`'s;
nothing here touches a widget or a trait. Text from data is escaped where HTML is made.
"""

from __future__ import annotations

import html
import math

import numpy as np

from ..methods.scenario_review import ScenarioReview

__all__ = [
    "MAX_THUMB_PIXELS",
    "PROGRESS_INTERVAL_S",
    "ProgressThrottle",
    "StatusLine",
    "StripSamples",
    "correction_done_text",
    "progress_text",
    "scenario_row",
    "scenarios_view_model",
    "selection_title",
    "status_span",
]

MAX_THUMB_PIXELS = 128  # decoded samples larger than this are shrunk for the strip
#: The correction's progress replaces the status line at most this often (seconds) within one
#: epoch; a new stage, lambda or epoch shows at once.
PROGRESS_INTERVAL_S = 0.25


class StripSamples:
    """The decoded samples shown in each scenario's strip, drawn at one ``(tau, draw)``.

    A scenario's samples are drawn when first asked for (:meth:`get`); :meth:`replace` puts
    a whole new set in at once (drawn elsewhere, e.g. on a worker) and bumps
    :attr:`version`, which the browser uses to drop strips of older samples. Not locked:
    the owner serialises access.

    Parameters
    ----------
    review : ScenarioReview
    n : samples per strip.
    tau : the spread of the first samples.
    """

    def __init__(self, review: ScenarioReview, n: int, tau: float):
        self.review = review
        self.n = int(n)
        self.tau, self.draw = float(tau), 0  # of the samples held
        self.version = 0
        self._samples: dict[int, object] = {}
        self._thumbs: dict[int, list[bytes]] = {}

    def draw_all(self, ids, tau: float, draw: int) -> dict:
        """New samples of the scenarios ``ids`` at ``(tau, draw)``; nothing held changes."""
        return {i: self.review.samples(i, n=self.n, tau=tau, draw=draw) for i in ids}

    def replace(self, samples: dict, tau: float, draw: int) -> None:
        """Hold ``samples`` (from :meth:`draw_all` at ``(tau, draw)``) from now on."""
        self._samples, self.tau, self.draw = dict(samples), float(tau), int(draw)
        self._thumbs = {}
        self.version += 1

    def get(self, scenario_id: int):
        """The :class:`~failwidgets.methods.defuse.ScenarioSamples` held for a scenario (drawn
        at the held ``(tau, draw)`` when first asked for)."""
        if scenario_id not in self._samples:
            self._samples[scenario_id] = self.review.samples(
                scenario_id, n=self.n, tau=self.tau, draw=self.draw
            )
        return self._samples[scenario_id]

    def thumbnails(self, scenario_id: int) -> list[bytes]:
        """PNG bytes of a scenario's samples (at most :data:`MAX_THUMB_PIXELS` a side)."""
        from ..thumbnails import encode_thumbnails

        if scenario_id not in self._thumbs:
            self._thumbs[scenario_id] = encode_thumbnails(
                self.get(scenario_id).images, size=MAX_THUMB_PIXELS, format="png", n_jobs=1
            )
        return self._thumbs[scenario_id]

    def strips_message(self, ids, request_id=None) -> tuple[dict, list[bytes]]:
        """The message and PNG buffers answering the browser's request for ``ids``' strips.

        Each id is answered once (repeats are dropped) and unknown ids are skipped. A request
        may name at most one id per scenario: a longer one raises ValueError naming ``ids``
        (nothing is decoded). ``version`` is :attr:`version`.
        """
        if isinstance(ids, (str, bytes)) or not hasattr(ids, "__len__"):
            raise TypeError(f"ids: expected a list of scenario ids, got {type(ids).__name__}")
        known = set(self.review.scenarios.ids)
        if len(ids) > len(known):
            raise ValueError(
                f"ids: {len(ids)} ids in one request, but the view has {len(known)} scenarios; "
                "ask for each scenario at most once"
            )
        strips, buffers = [], []
        for scenario_id in dict.fromkeys(ids):  # each id once, in order
            if scenario_id not in known:
                continue
            thumbs = self.thumbnails(scenario_id)
            first = len(buffers)
            strips.append({"id": scenario_id, "buffers": list(range(first, first + len(thumbs)))})
            buffers.extend(thumbs)
        content = {
            "type": "strips",
            "request_id": request_id,
            "version": self.version,
            "mime": "image/png",
            "strips": strips,
        }
        return content, buffers


def scenario_row(review: ScenarioReview, scenario, samples, max_weight: float) -> dict:
    """One scenario's row (JSON-ready): see :func:`scenarios_view_model`. The strip's
    ``wrong`` flags compare each sample's prediction with the annotator's correct label when
    given, else with the scenario's majority label."""
    names = review.evalset.class_names
    label = review.label(scenario.id)
    reference = label.correct_label if label.correct_label is not None else scenario.majority_label
    top, top_count = samples.top_prediction()
    wrong = samples.wrong(reference)
    code_top = scenario.top_prediction
    return {
        "id": scenario.id,
        "weight": float(scenario.weight),
        "weight_text": f"{100 * scenario.weight:.1f}%",
        "weight_share": float(scenario.weight / max_weight) if max_weight > 0 else 0.0,
        "n_codes": int(scenario.n_members),
        "n_images": len(review.members(scenario.id)),
        "majority_label": scenario.majority_label,
        "majority_name": review.class_of(scenario.id),
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


def scenarios_view_model(review: ScenarioReview, strips: StripSamples, class_name=None) -> dict:
    """The drawing's view model (JSON-ready): the rows of ``class_name``'s scenarios (None:
    every scenario) and the view's settings.

    Keys: ``rows`` (one dict per shown scenario: ``id``, ``weight``, ``weight_text``,
    ``weight_share``, ``n_codes``, ``n_images``, ``majority_label``/``majority_name``,
    ``code_prediction``, ``reference_name`` (the correct label when given, else the
    majority label), ``samples`` (``prediction``, ``confidence``, ``wrong``),
    ``top_prediction``, ``top_count``, ``n_wrong``, ``predicted_text``, ``is_failure``,
    ``correct_label``), ``class_names``, ``class_name``, ``tau`` (of the samples shown),
    ``n_samples``, ``sample_version``, ``image_size`` (of the VAE; None before it was
    probed), ``n_scenarios``, ``n_labelled``,
    ``n_failures``, ``labels_path``, ``message``, ``quality`` (the VAE check:
    ``original_accuracy``, ``reconstruction_accuracy``, ``passed``,
    ``n_vae_failure_images``, ``n_vae_failing_draws``, ``vae_failures``, ``text``; None
    when not measured).
    """
    scenarios = review.scenarios
    max_weight = max((s.weight for s in scenarios), default=0.0)
    rows = [
        scenario_row(review, scenarios[i], strips.get(i), max_weight)
        for i in review.ids(class_name)
    ]
    labelled = review.labels.items() if review.labels is not None else []
    if scenarios.is_empty:
        message = scenarios.message
    elif not rows:
        message = (
            f"No scenario has majority label {class_name!r}; "
            f"{len(scenarios)} scenarios in other classes."
        )
    else:
        message = ""
    return {
        "rows": rows,
        "class_names": list(review.evalset.class_names),
        "class_name": class_name,
        "tau": strips.tau,
        "n_samples": strips.n,
        "sample_version": strips.version,
        "image_size": None if review.vae.image_size is None else int(review.vae.image_size),
        "quality": review.quality_summary(),
        "n_scenarios": len(scenarios),
        "n_labelled": len(labelled),
        "n_failures": sum(1 for _, label in labelled if label.is_failure),
        "labels_path": str(review.labels.path) if review.labels is not None else None,
        "message": message,
    }


def selection_title(mode, evalset) -> str:
    """The grid's title for a selected scenario's source images."""
    n_errors = int(np.count_nonzero(~evalset.correct[mode.members]))
    return (
        f"Defuse {mode.description} — {mode.size} source images of its failing codes, "
        f"{n_errors} misclassified"
    )


def status_span(text: str, error: bool) -> str:
    """``text`` escaped in a span of the status colour (the error colour when ``error``)."""
    colour = "var(--jp-error-color1, #d32f2f)" if error else "var(--jp-ui-font-color1, #444)"
    return f'<span style="color: {colour}">{html.escape(text)}</span>'


class StatusLine:
    """A status line of two parts, each with its own colour: the task's (a long job's state,
    kept until the next task) and a note on the last action (an error), which the next
    successful action clears. Shown joined by " · "."""

    def __init__(self):
        self._parts = {"task": ("", False), "note": ("", False)}

    def set(self, text: str, error: bool = False, *, task: bool = False) -> None:
        self._parts["task" if task else "note"] = (str(text), bool(error))

    def _shown(self) -> list[tuple[str, bool]]:
        return [part for part in self._parts.values() if part[0]]

    @property
    def text(self) -> str:
        return " · ".join(text for text, _ in self._shown())

    @property
    def error(self) -> bool:
        return any(error for _, error in self._shown())

    @property
    def html(self) -> str:
        shown = self._shown()
        if not shown:
            return status_span("", False)
        return " · ".join(status_span(text, error) for text, error in shown)


def progress_text(progress) -> str:
    """The correction's :class:`~failwidgets.methods.defuse.CorrectionProgress` as a status
    ("correcting: λ=0.1 (2/4), epoch 2/3, step 12/60 (35% of the finetuning)")."""
    return f"correcting: {progress.text} ({100 * progress.fraction:.0f}% of the finetuning)"


def correction_done_text(result) -> str:
    """The status once a correction is done (its lambda and number of scenarios)."""
    return (
        f"corrected with lambda = {result.best_lambda:g} on {result.n_scenarios} labelled "
        "failure scenarios (table below)"
    )


class ProgressThrottle:
    """Whether a progress report is worth showing: a new stage, lambda or epoch always is;
    within one, at most every :data:`PROGRESS_INTERVAL_S` seconds."""

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self._key, self._time = None, -math.inf

    def due(self, progress, now: float) -> bool:
        """Whether to show ``progress`` at time ``now`` (seconds); records it when so."""
        key = (progress.stage, progress.lam, progress.epoch)
        if key == self._key and now - self._time < PROGRESS_INTERVAL_S:
            return False
        self._key, self._time = key, now
        return True
