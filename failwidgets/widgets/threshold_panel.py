"""The Explorer's threshold panel: one slider per threshold of each method view, shown once.

:class:`ThresholdPanel` is a mixin of :class:`~failwidgets.widgets.explorer.Explorer`. Each
slider is generated from the threshold's spec and linked to the view's own trait
(:class:`~failwidgets.widgets.threshold_controls.ControlLink`); each threshold is also a typed
trait of the Explorer, ``<view>_<attribute>`` (``barlow_delta``, ``prime_a`` ...), that
``observe`` and ``traitlets.link`` accept. A change from any side refreshes the table.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np

from ..thresholds import ThresholdSpec
from .failure_view import FailureView
from .threshold_controls import ControlLink, Threshold, threshold_slider

__all__ = ["ThresholdPanel"]


class ThresholdPanel:
    """Mixin: the threshold sliders (``controls``) and traits (``threshold_traits``).

    The host holds ``views``, ``controls``, ``threshold_traits``, ``_evalset``, ``_ready``
    and provides ``_title``, ``_message`` and ``_request_refresh``.
    """

    def thresholds(self) -> dict[str, dict[str, float]]:
        """The current threshold of every control, ``{view name: {attribute: value}}``."""
        out: dict[str, dict[str, float]] = {}
        for name, attr in self.controls:
            out.setdefault(name, {})[attr] = getattr(self.views[name], attr)
        return out

    def set_threshold(self, view: str, attr: str, value) -> None:
        """Set threshold ``attr`` of view ``view`` (as its slider does); errors are raised."""
        if (view, attr) not in self.controls:
            known = sorted(f"{v}.{a}" for v, a in self.controls)
            raise ValueError(f"view/attr: no threshold {view}.{attr}; known: {known}")
        setattr(self.views[view], attr, value)  # the view validates; the link moves the slider

    def _build_thresholds(self) -> widgets.VBox:
        """One slider per threshold of each method view, linked to the view's trait."""
        layout = widgets.Layout(width="230px")  # one layout and style model for all sliders
        style = widgets.SliderStyle(description_width="28px")
        rows = []
        for name, view in self.views.items():
            if not isinstance(view, FailureView):
                continue
            sliders = []
            for attr in view.threshold_names():
                spec = view.traits()[attr].spec
                low, high = self._slider_range(view, spec)
                slider = threshold_slider(
                    spec, getattr(view, attr), low=low, high=high, layout=layout, style=style
                )
                slider.add_class(f"fw-explorer-{name}-{attr}")
                ControlLink(
                    (view, attr),
                    (slider, "value"),
                    on_error=lambda text, where=f"{name}.{attr}": self._message(f"{where}: {text}"),
                )
                view.observe(self._view_threshold_changed(name, attr), attr)
                self.controls[(name, attr)] = slider
                self._add_threshold_trait(name, view, attr)
                sliders.append(slider)
            if sliders:
                label = widgets.HTML(
                    f"<span style='font-weight:600'>{html.escape(self._title(name))}</span>",
                    layout=widgets.Layout(width="140px", flex="0 0 140px"),
                )
                wrapped = widgets.HBox(sliders, layout=widgets.Layout(flex_flow="row wrap"))
                row = widgets.HBox([label, wrapped], layout=widgets.Layout(align_items="center"))
                row.add_class(f"fw-explorer-thresholds-{name}")
                rows.append(row)
        box = widgets.VBox(rows)
        box.add_class("fw-explorer-thresholds")
        return box

    def _slider_range(self, view, spec: ThresholdSpec) -> tuple[int | None, int | None]:
        """A count slider runs from 1 (PRIME's ``s``: the answer's minimum support) to the
        largest class."""
        if spec.kind != "count":
            return None, None
        result = getattr(view, "result", None)
        low = int(result.min_support) if hasattr(result, "min_support") else 1
        return low, self._class_size_max()

    def _add_threshold_trait(self, name: str, view: FailureView, attr: str) -> None:
        """``<view>_<attr>`` (e.g. ``barlow_delta``): the view's threshold as a typed trait of
        the Explorer (the same spec), that ``observe`` and ``traitlets.link`` accept."""
        trait_name = f"{name}_{attr}"
        if trait_name in self.trait_names() or hasattr(type(self), trait_name):
            return  # a name taken by the Explorer itself: the slider still works
        self.add_traits(**{trait_name: Threshold(view.method, attr)})
        self.set_trait(trait_name, getattr(view, attr))
        self.threshold_traits[(name, attr)] = trait_name

        def validate(obj, proposal):
            # the view has the last word (its own constraints); the trait takes its value
            if getattr(view, attr) != proposal["value"]:
                setattr(view, attr, proposal["value"])
            return getattr(view, attr)

        self._register_validator(validate, [trait_name])

    def _threshold_trait_follows(self, name: str, attr: str) -> None:
        """After the view's threshold changed elsewhere (its slider, the view itself)."""
        trait_name = self.threshold_traits.get((name, attr))
        value = getattr(self.views[name], attr)
        if trait_name is not None and getattr(self, trait_name) != value:
            self.set_trait(trait_name, value)

    def _class_size_max(self) -> int:
        return int(np.bincount(self._evalset.labels).max()) if self._evalset.n else 1

    def _view_threshold_changed(self, name: str, attr: str):
        def handler(change):
            self._threshold_trait_follows(name, attr)
            if self._ready:
                self._request_refresh()

        return handler
