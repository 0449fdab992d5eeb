"""Threshold traits and their sliders, both made from one :class:`ThresholdSpec`.

A view declares ``delta = Threshold("barlow", "delta")``: a typed trait whose default, range
and help come from :data:`failwidgets.thresholds.THRESHOLDS`, and whose refusals are
``TraitError`` (so a bad value from the browser is rolled back). :func:`threshold_slider`
makes the matching slider, and :class:`ControlLink` keeps a trait and its control in step
with ``traitlets.link``: the slider's range widens to a value set from Python, and a value
the trait refuses puts the control back and reports the error instead of raising.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import ipywidgets as widgets
import traitlets

from ..thresholds import ThresholdSpec, spec
from .guard import TraitTypeError, TraitValueError

__all__ = ["ControlLink", "Threshold", "threshold_slider"]


class Threshold(traitlets.TraitType):
    """A threshold trait declared by its spec (``Threshold("prime", "a")``)."""

    def __init__(self, method: str, name: str, **kwargs):
        self.spec = spec(method, name)
        kwargs.setdefault("help", self.spec.doc)
        super().__init__(default_value=self.spec.default, **kwargs)

    @property
    def info_text(self) -> str:
        low, high = self.spec.bounds
        return f"a {self.spec.kind} threshold ({low}..{'' if high is None else high})"

    def validate(self, obj, value):
        try:
            return self.spec.check(value, self.name)
        except TypeError as error:
            raise TraitTypeError(str(error)) from None
        except ValueError as error:
            raise TraitValueError(str(error)) from None


def threshold_slider(
    threshold: ThresholdSpec,
    value,
    *,
    low: float | None = None,
    high: float | None = None,
    layout: widgets.Layout | None = None,
    style: widgets.SliderStyle | None = None,
) -> widgets.Widget:
    """The slider of ``threshold`` showing ``value``.

    ``low``/``high`` narrow or widen the range where the spec leaves it open (a count's upper
    end, e.g. the largest class; PRIME's ``s`` starts at the answer's minimum support).
    """
    common = dict(
        description=threshold.label,
        tooltip=threshold.doc,
        continuous_update=threshold.continuous,
        layout=layout or widgets.Layout(width="230px"),
        style=style or widgets.SliderStyle(description_width="28px"),
    )
    if threshold.kind == "fraction":
        return widgets.FloatSlider(
            value=float(value), min=0.0, max=1.0, step=0.005, readout_format=".3f", **common
        )
    if threshold.kind == "count":
        low = 1 if low is None else int(low)
        high = max(int(value), low, 1 if high is None else int(high))
        return widgets.IntSlider(value=int(value), min=low, max=high, **common)
    if threshold.kind == "log":
        exponent = math.log10(float(value))
        return widgets.FloatLogSlider(
            value=float(value),
            base=10,
            min=math.floor(exponent) - 3,
            max=math.ceil(exponent) + 3,
            step=0.25,
            readout_format=".3g",
            **common,
        )
    return widgets.FloatSlider(  # "spread": the paper's 0.01..0.5
        value=float(value),
        min=min(0.01, float(value)),
        max=max(0.5, float(value)),
        step=0.01,
        readout_format=".2f",
        **common,
    )


def _widen(control: widgets.Widget, value) -> None:
    """Stretch ``control``'s range so that it can show ``value`` (set from Python)."""
    if not hasattr(control, "min") or not isinstance(value, (int, float)):
        return
    if isinstance(control, widgets.FloatLogSlider):
        if value <= 0:
            return
        exponent = math.log(value, control.base)
        control.min = min(control.min, math.floor(exponent))
        control.max = max(control.max, math.ceil(exponent))
        return
    control.min = min(control.min, value)
    control.max = max(control.max, value)


class ControlLink(traitlets.link):
    """``traitlets.link`` between a view's trait and the control that shows it.

    A value set from Python widens a slider's range first (a slider would clamp it). A value
    from the control that the trait refuses is not kept: the control shows the trait's value
    again and ``on_error(message)`` is called (the view's status line), where a plain link
    would raise inside the comm handler.
    """

    def __init__(self, source, target, on_error: Callable[[str], None] | None = None):
        self._on_error = on_error
        view, name = source
        control, _ = target
        view.observe(lambda change: _widen(control, change["new"]), names=name)
        _widen(control, getattr(view, name))
        super().__init__(source, target)

    def _update_source(self, change) -> None:
        if self.updating:
            return
        refused = None
        with self._busy_updating():
            try:
                setattr(self.source[0], self.source[1], self._transform_inv(change.new))
            except traitlets.TraitError as error:
                refused = error
            shown = self._transform(getattr(self.source[0], self.source[1]))
            if getattr(self.target[0], self.target[1]) != shown:  # refused, or put back
                setattr(self.target[0], self.target[1], shown)
        if refused is not None:
            if self._on_error is None:
                raise refused
            self._on_error(str(refused))
