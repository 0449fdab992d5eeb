"""A static, self-contained HTML report of an Explorer's failure modes, readable with no kernel.

One file: the data set's summary, then per method a chart of its modes' accuracy drops and a
table of every mode (class, description, size, accuracy, drop, held-out drop) with thumbnails
of its members, errors first. Images are inlined as data URLs; nothing is fetched. Every text
that comes from the data is escaped.
"""

from __future__ import annotations

import base64
import html
import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from .checks import check_output_path
from .text import percent as _percent
from .text import plural
from .thumbnails import encode_thumbnail

__all__ = ["report_html", "summary_html", "write_report"]

MAX_CHART_BARS = 20
THUMB_SIZE = 72

_STYLE = """
:root { color-scheme: light dark; --fg: #1f2328; --muted: #656d76; --line: #d0d7de;
  --bar: #4a90d9; --bad: #c62828; --bg: #ffffff; --head: #f6f8fa; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #9198a1;
  --line: #3d444d; --bar: #6cb6ff; --bad: #ff7b72; --bg: #0d1117; --head: #161b22; } }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg);
  background: var(--bg); margin: 24px auto; max-width: 1200px; padding: 0 16px; }
h1 { font-size: 1.5em; margin-bottom: 4px; } h2 { font-size: 1.2em; margin-top: 32px; }
.muted { color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin-top: 8px; }
th, td { border-bottom: 1px solid var(--line); padding: 6px 8px; text-align: left;
  vertical-align: top; }
th { background: var(--head); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.thumbs { white-space: nowrap; }
.thumbs img { width: 44px; height: 44px; object-fit: cover; margin: 0 2px 2px 0;
  border: 2px solid transparent; border-radius: 3px; }
.thumbs img.wrong { border-color: var(--bad); }
.chart text { fill: var(--fg); font-size: 11px; } .chart rect { fill: var(--bar); }
.summary span { margin-right: 18px; }
"""


def _points(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{100 * float(value):+.1f} pts"


def _thumb_tags(evalset, members, k: int) -> str:
    members = np.asarray(members, dtype=np.int64)
    if k <= 0 or not len(members):
        return ""
    ordered = evalset.errors_first(members)[:k]
    tags = []
    for index in ordered:
        data = encode_thumbnail(evalset.image(int(index)), size=THUMB_SIZE, quality=80)
        url = "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")
        wrong = not bool(evalset.correct[index])
        label = evalset.class_names[int(evalset.labels[index])]
        predicted = evalset.class_names[int(evalset.predictions[index])]
        title = f"#{int(index)}: label {label}, predicted {predicted}"
        tags.append(
            f'<img src="{url}" alt="{html.escape(title)}" title="{html.escape(title)}"'
            f"{' class=wrong' if wrong else ''}>"
        )
    return "".join(tags)


def _chart(frame: pd.DataFrame) -> str:
    """An inline SVG of the largest accuracy drops (one bar per mode)."""
    rows = frame.sort_values("drop", ascending=False, na_position="last", kind="stable")
    rows = rows[np.isfinite(rows["drop"].to_numpy(dtype=float))].head(MAX_CHART_BARS)
    if rows.empty:
        return ""
    width, label_width, bar_height = 640, 260, 18
    top = max(float(rows["drop"].max()), 1e-9)
    parts = [
        f'<svg class="chart" role="img" aria-label="accuracy drop per failure mode" '
        f'width="{width}" height="{bar_height * len(rows) + 8}">'
    ]
    for i, (_, row) in enumerate(rows.iterrows()):
        y = 4 + i * bar_height
        length = max(0.0, float(row["drop"])) / top * (width - label_width - 70)
        label = f"{row['class_name']}: {row['description']}"
        if len(label) > 40:
            label = label[:39] + "…"
        parts.append(
            f'<text x="{label_width - 6}" y="{y + 13}" text-anchor="end">'
            f"{html.escape(label)}</text>"
            f'<rect x="{label_width}" y="{y + 3}" width="{length:.1f}" height="{bar_height - 6}">'
            f"<title>{html.escape(label)}</title></rect>"
            f'<text x="{label_width + length + 4:.1f}" y="{y + 13}">'
            f"{html.escape(_points(row['drop']))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _mode_rows(evalset, frame: pd.DataFrame, thumbnails: int) -> str:
    rows = []
    for _, row in frame.iterrows():
        rows.append(
            "<tr>"
            f"<td>{html.escape(str(row['class_name']))}</td>"
            f"<td>{html.escape(str(row['description']))}</td>"
            f"<td class=num>{int(row['size'])}</td>"
            f"<td class=num>{_percent(row['accuracy'])}</td>"
            f"<td class=num>{_points(row['drop'])}</td>"
            f"<td class=num>{_points(row['heldout_drop'])}</td>"
            f"<td class=thumbs>{_thumb_tags(evalset, row['members'], thumbnails)}</td>"
            "</tr>"
        )
    return "".join(rows)


_HEADER = (
    "<tr><th>class</th><th>description</th><th>size</th><th>accuracy</th>"
    "<th>drop</th><th>held-out drop</th><th>members (errors first, red border)</th></tr>"
)


def _summary_line(evalset) -> str:
    accuracy = float(np.mean(evalset.correct)) if evalset.n else float("nan")
    parts = [
        f"<span><b>{evalset.n:,}</b> images</span>",
        f"<span><b>{len(evalset.class_names)}</b> classes</span>",
        f"<span>accuracy <b>{_percent(accuracy)}</b></span>",
    ]
    if evalset.split is not None:
        splits = pd.Series(evalset.split).value_counts().sort_index()
        text = ", ".join(f"{html.escape(str(k))} {v:,}" for k, v in splits.items())
        parts.append(f"<span>splits: {text}</span>")
    return '<p class="summary">' + "".join(parts) + "</p>"


def report_html(explorer, thumbnails: int = 8, title: str = "failwidgets report") -> str:
    """The report of every method's failure modes (all classes) as one HTML page."""
    import failwidgets

    if isinstance(thumbnails, bool) or not isinstance(thumbnails, (int, np.integer)):
        raise TypeError(f"thumbnails: expected an integer, got {thumbnails!r}")
    if thumbnails < 0:
        raise ValueError(f"thumbnails: expected 0 or more, got {thumbnails}")
    evalset = explorer.evalset
    frame = explorer.failure_modes()
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = [
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="muted">failwidgets {html.escape(failwidgets.__version__)} · {stamp} · '
        f"thresholds: {html.escape(_thresholds_text(explorer.thresholds()))}</p>",
        _summary_line(evalset),
    ]
    if frame.empty:
        body.append("<p>No failure mode at the current thresholds.</p>")
    for method, modes in frame.groupby("method", sort=False):
        modes = modes.sort_values("drop", ascending=False, na_position="last", kind="stable")
        body.append(
            f"<section><h2>{html.escape(str(method))} "
            f'<span class="muted">· {plural(len(modes), "failure mode")}'
            "</span></h2>"
            f"{_chart(modes)}<table>{_HEADER}{_mode_rows(evalset, modes, thumbnails)}</table>"
            "</section>"
        )
    unavailable = getattr(explorer, "unavailable", {}) or {}
    if unavailable:
        items = "".join(
            f"<li><b>{html.escape(name)}</b>: {html.escape(str(why))}</li>"
            for name, why in unavailable.items()
        )
        body.append(f'<h2>Not shown</h2><ul class="muted">{items}</ul>')
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{''.join(body)}</body></html>"
    )


def _thresholds_text(thresholds: dict) -> str:
    parts = [
        f"{view}.{attr}={value:g}" if isinstance(value, (int, float)) else f"{view}.{attr}={value}"
        for view, values in thresholds.items()
        for attr, value in values.items()
    ]
    return ", ".join(parts) or "none"


def write_report(explorer, path, thumbnails: int = 8, title: str = "failwidgets report") -> Path:
    """Write :func:`report_html` to ``path`` (an ``.html`` file); returns the path."""
    path = check_output_path(path, "report.html")
    path.write_text(report_html(explorer, thumbnails=thumbnails, title=title), encoding="utf-8")
    return path


def summary_html(explorer) -> str:
    """A small static summary of the Explorer (what a saved notebook shows with no kernel)."""
    modes = explorer.shown_modes[:10]
    rows = "".join(
        "<tr>"
        f"<td>{html.escape(m.method)}</td><td>{html.escape(m.class_name)}</td>"
        f"<td>{html.escape(m.description)}</td><td>{m.size}</td>"
        f"<td>{_percent(m.accuracy)}</td><td>{_points(m.drop)}</td>"
        "</tr>"
        for m in modes
    )
    table = (
        "<table><tr><th>method</th><th>class</th><th>description</th><th>size</th>"
        f"<th>accuracy</th><th>drop</th></tr>{rows}</table>"
        if rows
        else ""
    )
    views = ", ".join(html.escape(name) for name in explorer.views)
    return (
        '<div class="fw-static-summary"><b>failwidgets Explorer</b> (static copy: run the '
        f"notebook to interact) · class {html.escape(explorer.class_name)} · views: {views}"
        f"{table}</div>"
    )
