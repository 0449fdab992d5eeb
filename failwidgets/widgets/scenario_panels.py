"""The panels of :class:`~failwidgets.widgets.scenarios.ScenarioView` around its rows: the row
of controls (:class:`ScenarioControls`), the VAE check line (:class:`QualityLine`), and the
correction (:class:`CorrectionPanel`: its button, its thread, its before/after table and
trade-off chart).

They read what the engine computed (:meth:`ScenarioReview.quality_summary
<failwidgets.methods.scenario_review.ScenarioReview.quality_summary>`, a
:class:`~failwidgets.methods.defuse.CorrectionResult`'s ``table()``, ``scenario_table()`` and
``tradeoff()``); nothing is computed here. Every text from data is escaped.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable

import ipywidgets as widgets
import numpy as np
import pandas as pd

from ..viewmodels.scenarios import ProgressThrottle, correction_done_text, progress_text

__all__ = [
    "ALL_CLASSES",
    "CorrectionPanel",
    "QualityLine",
    "ScenarioControls",
    "correction_html",
    "quality_html",
    "tradeoff_chart",
]

ALL_CLASSES = ""  # the class dropdown's value for "all classes" (the view's class_name None)

_TABLE_CSS = """
.fw-scn-correction { color: var(--jp-ui-font-color1); font-size: var(--jp-ui-font-size1); }
.fw-scn-correction-title { font-weight: 600; margin: 8px 0 4px; }
.fw-scn-correction-note { color: var(--jp-ui-font-color2); font-size: var(--jp-ui-font-size0); }
.fw-scn-correction table { border-collapse: collapse; margin-bottom: 4px; }
.fw-scn-correction th, .fw-scn-correction td {
  padding: 3px 10px; border-bottom: 1px solid var(--jp-border-color2); text-align: right;
}
.fw-scn-correction th { font-weight: 600; border-bottom-color: var(--jp-border-color1); }
.fw-scn-correction th:first-child, .fw-scn-correction td:first-child { text-align: left; }
"""


def quality_html(summary: dict | None, text: str) -> tuple[str, bool]:
    """The VAE check line (HTML) and whether it warns (the check failed)."""
    warn = summary is not None and not summary["passed"]
    colour = "var(--jp-warn-color0, #e65100)" if warn else "var(--jp-ui-font-color2, #666)"
    border = "var(--jp-warn-color0, #e65100)" if warn else "var(--jp-border-color1, #bbb)"
    return (
        f'<div style="color: {colour}; border-left: 3px solid {border}; padding: 1px 8px; '
        'font-size: var(--jp-ui-font-size1, 13px); line-height: 1.4">'
        + ("⚠ " if warn else "")
        + html.escape(text)
        + "</div>"
    ), warn


def _cell(value) -> str:
    if isinstance(value, str):
        return value
    if pd.isna(value):
        return "—"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return f"{float(value):.1f}"


def _html_table(frame: pd.DataFrame, header: list[str]) -> str:
    """``frame`` (its index first) as an HTML table; every cell is escaped."""
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape(_cell(cell))}</td>" for cell in (str(label), *row))
        + "</tr>"
        for label, row in zip(frame.index, frame.itertuples(index=False))
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def correction_html(result, class_names) -> str:
    """The accuracies (%) before and after finetuning, overall and per labelled scenario."""
    table = result.table()
    reference = str(table.columns[1])
    return (
        f"<style>{_TABLE_CSS}</style><div class='fw-scn-correction'>"
        "<div class='fw-scn-correction-title'>Correction: accuracy (%) before and after "
        "finetuning on the labelled failure scenarios</div>"
        + _html_table(table, ["", "scenarios", reference, "test", "failure scenario (held out)"])
        + "<div class='fw-scn-correction-note'>"
        + html.escape(f"λ selection: {result.selection}.")
        + "</div><div class='fw-scn-correction-title'>Per labelled scenario (held-out "
        "samples)</div>"
        + _html_table(
            result.scenario_table(list(class_names)),
            ["scenario", "correct label", "before", "after"],
        )
        + "</div>"
    )


def _padded(values) -> tuple[float, float]:
    """A readable axis domain (percent) even when every point coincides."""
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    pad = max(2.0, 0.1 * (high - low))
    return max(0.0, low - pad), min(100.0, high + pad)


def tradeoff_chart(result):
    """Test vs failure-scenario accuracy over the lambda sweep (bqplot), or None without
    bqplot (the table says it all)."""
    try:
        import bqplot
    except ImportError:
        return None
    points = result.tradeoff()
    before = points[points["model"] == "before"]
    after = points[points["model"] == "finetuned"].sort_values("lambda")
    x_min, x_max = _padded(100 * points["test_accuracy"].to_numpy(dtype=float))
    y_min, y_max = _padded(100 * points["scenario_accuracy"].to_numpy(dtype=float))
    x_scale = bqplot.LinearScale(min=x_min, max=x_max)
    y_scale = bqplot.LinearScale(min=y_min, max=y_max)
    scales = {"x": x_scale, "y": y_scale}

    def xy(frame):
        return (
            100 * frame["test_accuracy"].to_numpy(dtype=float),
            100 * frame["scenario_accuracy"].to_numpy(dtype=float),
        )

    x_after, y_after = xy(after)
    x_before, y_before = xy(before)
    label = {"scales": scales, "default_size": 11, "y_offset": -7}
    marks = [
        bqplot.Lines(x=x_after, y=y_after, scales=scales, colors=["#1976d2"], marker="circle"),
        bqplot.Label(
            x=x_after,
            y=y_after,
            text=[f"λ={value:g}" for value in after["lambda"]],
            x_offset=7,
            colors=["#1976d2"],
            **label,
        ),
        bqplot.Scatter(x=x_before, y=y_before, scales=scales, colors=["#d32f2f"], default_size=90),
        bqplot.Label(
            x=x_before,
            y=y_before,
            text=["before"],
            align="end",
            x_offset=-7,
            colors=["#d32f2f"],
            **label,
        ),
    ]
    return bqplot.Figure(
        marks=marks,
        axes=[
            bqplot.Axis(scale=x_scale, label="test accuracy (%)"),
            bqplot.Axis(
                scale=y_scale,
                side="left",
                label="failure-scenario accuracy (%)",
                label_offset="40px",
            ),
        ],
        title="Trade-off over the λ sweep",
        title_style={"font-size": "14px"},
        fig_margin={"top": 40, "bottom": 45, "left": 60, "right": 30},
        animation_duration=0,
        layout=widgets.Layout(width="min(100%, 480px)", height="320px"),
    )


class ScenarioControls(widgets.HBox):
    """The view's row of controls: the class dropdown (``class_dropdown``; its first entry,
    "all classes", has the value :data:`ALL_CLASSES`), the given τ slider, the "New samples"
    button (``resample_button``, calling ``on_resample()``), the given "Correct classifier"
    button and the given status line. The view links the dropdown and the slider to its
    traits."""

    def __init__(
        self,
        class_names,
        tau_slider: widgets.Widget,
        correct_button: widgets.Button,
        status: widgets.HTML,
        *,
        on_resample: Callable[[], None],
    ):
        self.class_dropdown = widgets.Dropdown(
            options=[("all classes", ALL_CLASSES)] + [(name, name) for name in class_names],
            description="class",
            layout=widgets.Layout(width="220px"),
            style={"description_width": "40px"},
        )
        self.class_dropdown.add_class("fw-scenarios-class")
        self.resample_button = widgets.Button(
            description="New samples",
            icon="refresh",
            tooltip="draw new samples of every scenario (same τ)",
            layout=widgets.Layout(width="auto"),
        )
        self.resample_button.add_class("fw-scenarios-resample")
        self.resample_button.on_click(lambda _: on_resample())
        status.add_class("fw-scenarios-status")
        super().__init__(
            [self.class_dropdown, tau_slider, self.resample_button, correct_button, status],
            layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
        )


class QualityLine(widgets.HTML):
    """The VAE check line above the rows (:meth:`show` of ``summary`` and ``text``); its class
    says whether it warns (``fw-scenarios-quality-warn``) or not (``fw-scenarios-quality-ok``)."""

    def __init__(self, summary: dict | None, text: str, **kwargs):
        super().__init__(layout=widgets.Layout(margin="2px 0 4px 0"), **kwargs)
        self.add_class("fw-scenarios-quality")
        self.show(summary, text)

    def show(self, summary: dict | None, text: str) -> None:
        """Show the check (:meth:`ScenarioReview.quality_summary` and ``quality_text``)."""
        self.value, warn = quality_html(summary, text)
        self.remove_class("fw-scenarios-quality-ok")
        self.remove_class("fw-scenarios-quality-warn")
        self.add_class("fw-scenarios-quality-warn" if warn else "fw-scenarios-quality-ok")


class CorrectionPanel(widgets.VBox):
    """The correction: its "Correct classifier" button (``button``, which the view places among
    its controls), the finetuning (:meth:`run`; on its own thread when the button is clicked)
    with its progress in the view's status line, then the before/after table (``table``) and,
    with bqplot, the trade-off chart under it.

    Parameters
    ----------
    review : ScenarioReview
        Whose :meth:`~failwidgets.methods.scenario_review.ScenarioReview.correct` runs.
    set_status : callable
        ``set_status(text, error)`` shows the correction's state in the view's status line.
    tau : callable
        Returns the spread of the samples drawn for the correction when :meth:`run` is not
        given ``tau`` (the view's current ``tau``).

    Attributes
    ----------
    result : the last :class:`~failwidgets.methods.defuse.CorrectionResult` (None before).
    """

    def __init__(
        self,
        review,
        set_status: Callable[[str, bool], None],
        tau: Callable[[], float],
        **kwargs,
    ):
        self.review = review
        self.result = None
        self._set_status = set_status
        self._tau = tau
        self._progress = ProgressThrottle()
        self._thread: threading.Thread | None = None
        self.button = widgets.Button(
            description="Correct classifier",
            icon="wrench",
            tooltip="finetune copies of the classifier on the labelled failure scenarios "
            "(lambda sweep); shows test and scenario accuracy before and after",
            layout=widgets.Layout(width="auto"),
        )
        self.button.add_class("fw-scenarios-correct")
        self.button.on_click(self._on_click)
        self.table = widgets.HTML()
        self.table.add_class("fw-scenarios-correction")
        super().__init__([self.table], **kwargs)

    def run(self, **kwargs):
        """Finetune (:meth:`ScenarioReview.correct` with ``kwargs``; ``tau`` defaults to the
        view's), showing its progress in the status line, then :meth:`show` the result and
        return it. ``on_progress``, when given, also hears every
        :class:`~failwidgets.methods.defuse.CorrectionProgress`."""
        user_callback = kwargs.pop("on_progress", None)
        if user_callback is not None and not callable(user_callback):
            raise TypeError(
                f"on_progress: expected a callable or None, got {type(user_callback).__name__}"
            )

        def on_progress(progress) -> None:
            if self._progress.due(progress, time.monotonic()):
                self._set_status(progress_text(progress), False)
            if user_callback is not None:
                user_callback(progress)

        kwargs.setdefault("progress", True)
        kwargs.setdefault("tau", self._tau())
        self._progress.reset()
        try:
            result = self.review.correct(on_progress=on_progress, **kwargs)
        except Exception as error:
            self._set_status(f"correction stopped: {error}", True)
            raise
        self.result = result
        self.show(result)
        self._set_status(correction_done_text(result), False)
        return result

    def _on_click(self, button) -> None:
        """Run the correction on its own thread: the kernel keeps answering the view meanwhile."""
        if self.running:
            return
        self.button.disabled = True
        self._set_status(
            "finetuning the classifier on the labelled failure scenarios (minutes on a CPU; "
            "the view stays usable)…",
            False,
        )

        def work() -> None:
            try:
                self.run(progress=False)
            except (TypeError, ValueError, RuntimeError) as error:
                self._set_status(f"correction: {error}", True)
            except Exception as error:  # noqa: BLE001 - a worker thread must report, not die
                self._set_status(f"correction failed: {type(error).__name__}: {error}", True)
            finally:
                self.button.disabled = False

        self._thread = threading.Thread(target=work, name="fw-defuse-correction", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        """True while a correction started by the button is running."""
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a correction started by the button."""
        if self._thread is not None:
            self._thread.join(timeout)

    def show(self, result) -> None:
        """Show a :class:`~failwidgets.methods.defuse.CorrectionResult`: table and chart."""
        self.table.value = correction_html(result, self.review.evalset.class_names)
        chart = tradeoff_chart(result)
        self.children = [self.table] + ([chart] if chart else [])
