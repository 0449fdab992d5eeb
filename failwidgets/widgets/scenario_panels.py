"""The panels of :class:`~failwidgets.widgets.scenarios.ScenarioView` around its rows: the VAE
check line, and the correction's before/after table and trade-off chart.

They read what the engine computed (:meth:`ScenarioReview.quality_summary
<failwidgets.methods.scenario_review.ScenarioReview.quality_summary>`, a
:class:`~failwidgets.methods.defuse.CorrectionResult`'s ``table()``, ``scenario_table()`` and
``tradeoff()``); nothing is computed here. Every text from data is escaped.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
import pandas as pd

__all__ = ["correction_html", "quality_html", "tradeoff_chart"]

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
