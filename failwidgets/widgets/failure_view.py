"""The base of the five method views: what each of them would otherwise write again.

A :class:`FailureView` is an ipywidgets ``VBox`` over one :class:`EvalSet` that holds

- ``class_name``: the selected class, a validated typed trait (an index becomes its name),
  with a dropdown linked to it;
- the method's thresholds: :class:`Threshold` traits the subclass declares by spec
  (``delta = Threshold("barlow", "delta")``), each with a slider generated from the same spec
  and kept in step by :class:`ControlLink` (``traitlets.link``);
- ``show_controls``: whether the view shows its own class selector and threshold sliders.
  The Explorer turns it off and shows each control once, in its own panel, linked to these
  same traits;
- the selection (``selected_mode``, ``selected_indices``, ``on_select``: :class:`Selectable`),
  the shared or own :class:`ImageGrid`, and a status line (``status``);
- one :class:`LatestWins` worker for slow recomputations;
- the protocol the Explorer talks to: ``failure_modes(classes=..., **thresholds)``,
  ``set_class``, ``show_mode`` and ``thresholds()``.

A subclass sets :attr:`method` (its key in :data:`failwidgets.thresholds.THRESHOLDS`),
implements :meth:`_modes` and :meth:`_on_class` / :meth:`_on_threshold`, and calls
:meth:`_finish_init` once its traits hold their first values.
"""

from __future__ import annotations

import html
import numbers
from collections.abc import Iterable
from typing import ClassVar

import ipywidgets as widgets
import numpy as np
import traitlets

from ..data import EvalSet
from ..mode_source import resolve_classes, resolve_thresholds
from ..modes import FailureMode
from ..thresholds import THRESHOLDS
from .grid import ImageGrid
from .guard import TraitTypeError, TraitValueError
from .latest import LatestWins
from .selectable import Selectable
from .threshold_controls import ControlLink, Threshold, threshold_slider

__all__ = ["ClassName", "FailureView"]


class ClassName(traitlets.Unicode):
    """A class of the owner's ``evalset``: a name, or an index that is stored as its name."""

    def validate(self, obj, value):
        if value is None and self.allow_none:
            return None
        names = list(obj.evalset.class_names)
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (str, numbers.Integral)):
            raise TraitTypeError(
                f"{self.name}: expected a class name or index, got {type(value).__name__}"
            )
        if isinstance(value, str):
            if value not in names:
                shown = ", ".join(repr(n) for n in names[:10]) + (" …" if len(names) > 10 else "")
                raise TraitValueError(f"{self.name}: unknown class {value!r}; known: {shown}")
            return value
        if not 0 <= int(value) < len(names):
            raise TraitValueError(
                f"{self.name}: class index {int(value)} outside 0..{len(names) - 1}"
            )
        return names[int(value)]


class FailureView(Selectable, widgets.VBox):
    """Base of the method views (see the module docstring)."""

    method: ClassVar[str | None] = None
    """The view's key in ``THRESHOLDS`` and in the Explorer (``"barlow"``, ``"prime"`` …)."""

    class_name = ClassName(allow_none=True, help="the selected class")
    show_controls = traitlets.Bool(
        True,
        help="show the view's own class selector and threshold sliders (the Explorer shows "
        "them once, in its panel)",
    )
    status = traitlets.Unicode("", read_only=True, help="the view's status line, as text")

    def __init__(
        self,
        evalset: EvalSet,
        *,
        grid: ImageGrid | None = None,
        background: bool = True,
        grid_page_size: int = 50,
        **kwargs,
    ):
        if not isinstance(evalset, EvalSet):
            raise TypeError(f"evalset: expected an EvalSet, got {type(evalset).__name__}")
        if grid is not None and not isinstance(grid, ImageGrid):
            raise TypeError(f"grid: expected an ImageGrid or None, got {type(grid).__name__}")
        if grid is not None and grid.evalset is not evalset:
            raise ValueError("grid: the ImageGrid shows another EvalSet; pass one over `evalset`")
        if not isinstance(background, bool):
            raise TypeError(f"background: expected True or False, got {type(background).__name__}")
        self._evalset = evalset
        self._ready = False
        self._background = background
        self._worker = LatestWins(f"fw-{self.method or 'view'}", background=background)
        self._own_controls: list[widgets.Widget] = []
        super().__init__(**kwargs)
        self._owns_grid = grid is None
        self.grid = (
            ImageGrid(evalset, [], page_size=grid_page_size, thumb_size=80)
            if grid is None
            else grid
        )
        self._status_html = widgets.HTML(layout=widgets.Layout(margin="0 0 0 12px"))
        if self.threshold_names():  # every declared threshold reaches _on_threshold
            self.observe(self._threshold_changed, names=list(self.threshold_names()))
        if self.method:
            self.add_class(f"fw-view-{self.method}")

    # ------------------------------------------------------------------ building
    def _finish_init(self) -> None:
        """Call at the end of the subclass's ``__init__``: from now on changes react."""
        self._ready = True

    @classmethod
    def threshold_names(cls) -> tuple[str, ...]:
        """The names of the view's threshold traits, in declaration order of the spec."""
        names = [n for n, t in cls.class_traits().items() if isinstance(t, Threshold)]
        order = [spec.name for spec in THRESHOLDS.get(cls.method, ())]
        return tuple(sorted(names, key=lambda n: order.index(n) if n in order else len(order)))

    def threshold_controls(self, **ranges) -> list[widgets.Widget]:
        """One slider per threshold trait, generated from its spec and linked to the trait.

        ``ranges`` maps a threshold name to ``(low, high)`` for open-ended ranges (counts).
        """
        controls = []
        for name in self.threshold_names():
            low, high = ranges.get(name, (None, None))
            trait = self.traits()[name]
            slider = threshold_slider(trait.spec, getattr(self, name), low=low, high=high)
            slider.add_class(f"fw-{self.method}-{name}")
            ControlLink((self, name), (slider, "value"), on_error=self._control_error)
            controls.append(slider)
        self._adopt(controls)
        return controls

    def class_control(self, options: Iterable | None = None, **kwargs) -> widgets.Dropdown:
        """A class dropdown linked to ``class_name`` (options: the EvalSet's classes)."""
        dropdown = widgets.Dropdown(
            options=list(self._evalset.class_names if options is None else options),
            value=self.class_name,
            description="class",
            layout=widgets.Layout(width="min(100%, 260px)"),
            style={"description_width": "40px"},
            **kwargs,
        )
        dropdown.add_class(f"fw-{self.method}-class")
        ControlLink((self, "class_name"), (dropdown, "value"), on_error=self._control_error)
        self._adopt([dropdown])
        return dropdown

    def _adopt(self, controls: list[widgets.Widget]) -> None:
        """Controls ``show_controls`` shows or hides (hidden at once when it is off)."""
        self._own_controls.extend(controls)
        if not self.show_controls:
            for control in controls:
                control.layout.display = "none"

    @traitlets.observe("show_controls")
    def _show_own_controls(self, change) -> None:
        for control in self._own_controls:
            control.layout.display = None if change["new"] else "none"

    def _control_error(self, message: str) -> None:
        self._set_status(message, error=True)

    def _set_status(self, text: str, error: bool = False) -> None:
        colour = "var(--jp-error-color1, #d32f2f)" if error else "var(--jp-ui-font-color1, #444)"
        self.set_trait("status", text)
        self._status_html.value = f'<span style="color: {colour}">{html.escape(text)}</span>'

    # ------------------------------------------------------------------ reactions
    @traitlets.observe("class_name")
    def _class_changed(self, change) -> None:
        if self._ready:
            self._on_class()

    def _on_class(self) -> None:
        """React to a new ``class_name`` (subclasses redraw)."""

    def _threshold_changed(self, change) -> None:
        if self._ready:
            self._on_threshold(change["name"])

    def _on_threshold(self, name: str) -> None:
        """React to a new threshold value (subclasses re-filter)."""

    # ------------------------------------------------------------------ protocol
    @property
    def evalset(self) -> EvalSet:
        return self._evalset

    def set_class(self, name: str | int) -> None:
        """Select class ``name`` (a name or index)."""
        self.class_name = name

    def thresholds(self) -> dict:
        """The current value of each threshold, ``{name: value}``."""
        return {name: getattr(self, name) for name in self.threshold_names()}

    def failure_modes(self, classes="current", **thresholds) -> list[FailureMode]:
        """The view's failure modes.

        Parameters
        ----------
        classes : "current", "all", a class name or index, or a list of them
            Whose modes: the selected class (default), every class, or the ones named.
        **thresholds
            Threshold values to use instead of the current ones (the view is not changed).
        """
        names = self._resolve_classes(classes)
        values = resolve_thresholds(self.method, thresholds, self.thresholds())
        return self._modes(names, values)

    def _modes(self, class_names: list[str], thresholds: dict) -> list[FailureMode]:
        raise NotImplementedError

    def _resolve_classes(self, classes) -> list[str]:
        return resolve_classes(classes, self._evalset.class_names, current=self.class_name)

    def wait(self, timeout: float | None = 60.0) -> None:
        """Block until the view's latest background request has been drawn."""
        self._worker.wait(timeout)

    def show_mode(self, mode: FailureMode, title: str | None = None) -> None:
        """Show ``mode``'s members in the grid, errors first, and :meth:`highlight` it."""
        if not isinstance(mode, FailureMode):
            raise TypeError(f"mode: expected a FailureMode, got {type(mode).__name__}")
        members = self._evalset.errors_first(mode.members)
        self.grid.show(members, title=title or f"{mode.method} · {mode.description}")
        self.highlight(mode)

    def highlight(self, mode: FailureMode) -> None:
        """Mark ``mode`` in the view's own drawing, if it can (the grid is left alone: the
        Explorer calls this when a mode is selected elsewhere). Default: nothing to mark."""

    def close(self) -> None:
        """Stop the worker and close the widgets the base made (controls, status line)."""
        worker = self.__dict__.get("_worker")  # absent when the constructor refused its input
        if worker is not None:
            worker.close()
        made = [*self.__dict__.get("_own_controls", ()), self.__dict__.get("_status_html")]
        if self.__dict__.get("_owns_grid"):
            made.append(self.grid)
        for widget in made:
            if widget is not None:
                widget.close()
        super().close()
