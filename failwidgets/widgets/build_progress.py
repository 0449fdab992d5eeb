"""One progress display across the steps of building an Explorer (notebooks only)."""

from __future__ import annotations

import html

__all__ = ["BuildProgress"]


class BuildProgress:
    """A bar and a line of text while building (replaced by a one-line summary at the end);
    nothing outside a notebook kernel."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.done = total, 0
        self._handle = None
        self._bar = self._label = None
        if not enabled or total == 0:
            return
        try:
            from IPython import get_ipython

            shell = get_ipython()
        except ImportError:  # pragma: no cover - IPython ships with ipywidgets
            shell = None
        if shell is None or not hasattr(shell, "kernel"):
            return
        import ipywidgets as widgets
        from IPython.display import display

        self._bar = widgets.IntProgress(value=0, min=0, max=total, bar_style="info")
        self._label = widgets.HTML("building the Explorer…")
        self._box = widgets.HBox([self._bar, self._label])
        self._handle = display(self._box, display_id=True)

    def step(self, text: str) -> None:
        """Say what runs now."""
        if self._label is not None:
            self._label.value = html.escape(
                f"{text} ({min(self.done + 1, self.total)}/{self.total})"
            )

    def advance(self) -> None:
        """One step done."""
        self.done += 1
        if self._bar is not None:
            self._bar.value = min(self.done, self.total)

    def finish(self, timings: dict[str, float], unavailable: dict[str, str]) -> None:
        """Replace the bar by a summary: seconds per step and what was left out."""
        if self._handle is None:
            return
        from IPython.display import HTML

        parts = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items())
        text = f"Explorer built ({html.escape(parts)})"
        if unavailable:
            text += "; not shown: " + "; ".join(
                f"{html.escape(k)} ({html.escape(v)})" for k, v in unavailable.items()
            )
        self._handle.update(HTML(f"<small>{text}</small>"))
        for widget in (self._box, self._bar, self._label):
            widget.close()
