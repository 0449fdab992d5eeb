"""The FailureView base: typed class and threshold traits, linked controls, the worker."""

from __future__ import annotations

import threading

import ipywidgets as widgets
import numpy as np
import pytest
import traitlets

from failwidgets.data import EvalSet
from failwidgets.modes import FailureMode
from failwidgets.thresholds import spec
from failwidgets.widgets.failure_view import FailureView
from failwidgets.widgets.latest import LatestWins
from failwidgets.widgets.threshold_controls import ControlLink, Threshold, threshold_slider


@pytest.fixture
def evalset():
    return EvalSet.from_arrays(
        images=np.zeros((6, 8, 8, 3), np.uint8),
        labels=[0, 0, 1, 1, 2, 2],
        predictions=[0, 1, 1, 1, 2, 0],
        class_names=["a", "b", "c"],
    )


class PrimeLike(FailureView):
    """A minimal view: one mode per class, its members the class's errors."""

    method = "prime"
    a = Threshold("prime", "a")
    s = Threshold("prime", "s")

    def __init__(self, evalset, **kwargs):
        super().__init__(evalset, **kwargs)
        self.reactions: list[str] = []
        self.class_name = 0
        self.dropdown = self.class_control()
        self.sliders = self.threshold_controls(s=(1, 6))
        self.children = [self.dropdown, *self.sliders, self._status_html]
        self._finish_init()

    def _on_class(self):
        self.reactions.append(f"class {self.class_name}")

    def _on_threshold(self, name):
        self.reactions.append(name)

    def _modes(self, class_names, thresholds):
        es = self.evalset
        return [
            FailureMode.from_members(
                "prime",
                name,
                f"a>={thresholds['a']}",
                np.flatnonzero((es.labels == es.class_index(name)) & ~es.correct),
                es,
            )
            for name in class_names
        ]


def test_threshold_traits_come_from_the_spec_and_refuse_with_trait_errors(evalset):
    view = PrimeLike(evalset)
    assert view.threshold_names() == ("a", "s")
    assert view.a == spec("prime", "a").default and view.s == spec("prime", "s").default
    assert view.traits()["a"].help == spec("prime", "a").doc
    with pytest.raises(traitlets.TraitError, match="a: must lie in"):
        view.a = 1.5
    with pytest.raises(TypeError, match="s: expected an integer"):
        view.s = 2.5
    assert view.a == spec("prime", "a").default  # refused values are not kept
    view.a = 0.4
    assert view.reactions == ["a"]


def test_class_name_is_validated_and_an_index_becomes_its_name(evalset):
    view = PrimeLike(evalset)
    assert view.class_name == "a"
    view.class_name = 2
    assert view.class_name == "c" and view.reactions == ["class c"]
    with pytest.raises(ValueError, match="class_name: unknown class 'z'; known: 'a', 'b', 'c'"):
        view.class_name = "z"
    with pytest.raises(ValueError, match=r"class_name: class index 3 outside 0\.\.2"):
        view.class_name = 3
    with pytest.raises(TypeError, match="class_name: expected a class name or index"):
        view.class_name = 1.0
    assert view.class_name == "c"


def test_controls_and_traits_are_linked_both_ways(evalset):
    view = PrimeLike(evalset)
    a_slider, s_slider = view.sliders
    view.a = 0.55
    assert a_slider.value == 0.55
    a_slider.value = 0.2  # as the browser sets it
    assert view.a == 0.2
    view.class_name = "b"
    assert view.dropdown.value == "b"
    view.dropdown.value = "c"
    assert view.class_name == "c"
    view.s = 50  # beyond the slider's range: the range widens instead of clamping
    assert s_slider.max >= 50 and s_slider.value == 50


def test_a_value_the_trait_refuses_puts_the_control_back(evalset):
    class Picky(PrimeLike):
        @traitlets.validate("s")
        def _at_least_three(self, proposal):
            if proposal["value"] < 3:
                raise traitlets.TraitError("s: below the minimum support 3")
            return proposal["value"]

    view = Picky(evalset)
    slider = view.sliders[1]
    view.s = 4
    slider.value = 2
    assert view.s == 4 and slider.value == 4
    assert view.status == "s: below the minimum support 3"
    assert "below the minimum support" in view._status_html.value


def test_show_controls_hides_the_class_selector_and_the_sliders(evalset):
    view = PrimeLike(evalset)
    view.show_controls = False
    assert all(c.layout.display == "none" for c in [view.dropdown, *view.sliders])
    assert view._status_html.layout.display != "none"
    view.show_controls = True
    assert all(c.layout.display is None for c in [view.dropdown, *view.sliders])


def test_failure_modes_protocol_resolves_classes_and_threshold_overrides(evalset):
    view = PrimeLike(evalset)
    assert [m.class_name for m in view.failure_modes()] == ["a"]
    assert [m.class_name for m in view.failure_modes("all")] == ["a", "b", "c"]
    assert [m.class_name for m in view.failure_modes(["c", 1])] == ["c", "b"]
    assert view.failure_modes(a=0.5)[0].description == "a>=0.5"
    assert view.a == spec("prime", "a").default  # overrides leave the view unchanged
    with pytest.raises(TypeError, match="delta: not a threshold of prime; known: \\['a', 's'\\]"):
        view.failure_modes(delta=0.1)
    with pytest.raises(ValueError, match="a: must lie in"):
        view.failure_modes(a=2)
    with pytest.raises(ValueError, match="classes: unknown class 'z'"):
        view.failure_modes("z")


def test_base_checks_evalset_and_grid(evalset):
    with pytest.raises(TypeError, match="evalset: expected an EvalSet"):
        PrimeLike("nope")
    from failwidgets.widgets.grid import ImageGrid

    other = EvalSet.from_arrays(
        images=np.zeros((2, 8, 8, 3), np.uint8),
        labels=[0, 1],
        predictions=[0, 1],
        class_names=["x", "y"],
    )
    with pytest.raises(ValueError, match="grid: the ImageGrid shows another EvalSet"):
        PrimeLike(evalset, grid=ImageGrid(other, []))
    with pytest.raises(TypeError, match="grid: expected an ImageGrid"):
        PrimeLike(evalset, grid=widgets.HTML())
    assert PrimeLike(evalset)._owns_grid


def test_threshold_slider_kinds_match_the_spec():
    assert isinstance(threshold_slider(spec("barlow", "delta"), 0.1), widgets.FloatSlider)
    count = threshold_slider(spec("prime", "s"), 30, low=5, high=100)
    assert isinstance(count, widgets.IntSlider) and (count.min, count.max) == (5, 100)
    log = threshold_slider(spec("ces", "delta"), 1e4)
    assert isinstance(log, widgets.FloatLogSlider) and log.min <= 4 <= log.max
    spread = threshold_slider(spec("defuse", "tau"), 0.1)
    assert (spread.min, spread.max) == (0.01, 0.5)


def test_control_link_without_error_callback_raises():
    class Holder(traitlets.HasTraits):
        a = Threshold("prime", "a")

    holder = Holder()
    slider = widgets.FloatSlider(min=-1, max=2)
    ControlLink((holder, "a"), (slider, "value"))
    with pytest.raises(traitlets.TraitError):
        slider.value = 1.5
    assert slider.value == holder.a


def test_latest_wins_delivers_only_the_newest_result():
    worker = LatestWins("test", background=True)
    gate = threading.Event()
    delivered: list[int] = []

    def slow():
        gate.wait(5)
        return 1

    worker.submit(slow, delivered.append)  # running: its result will be stale
    worker.submit(lambda: 2, delivered.append)  # queued, then replaced before it starts
    worker.submit(lambda: 3, delivered.append)
    gate.set()
    worker.wait()
    assert delivered == [3]
    errors: list[str] = []
    worker.submit(lambda: 1 / 0, delivered.append, lambda e: errors.append(type(e).__name__))
    worker.wait()
    assert errors == ["ZeroDivisionError"]
    worker.close()


def test_latest_wins_in_the_foreground_runs_at_once_and_raises():
    worker = LatestWins("test", background=False)
    seen = []
    worker.submit(lambda: 7, seen.append)
    assert seen == [7] and not worker.pending
    with pytest.raises(ZeroDivisionError):
        worker.submit(lambda: 1 / 0, seen.append)
    worker.cancel()
    worker.close()


def test_show_mode_fills_the_grid_and_highlight_leaves_it_alone(evalset):
    marked = []

    class Marking(PrimeLike):
        def highlight(self, mode):
            marked.append(mode.description)

    view = Marking(evalset)
    mode = view.failure_modes()[0]
    view.highlight(mode)
    assert list(view.grid.indices) == [] and marked == [mode.description]
    view.show_mode(mode)
    assert sorted(view.grid.indices) == sorted(mode.members.tolist())
    assert marked == [mode.description] * 2
    with pytest.raises(TypeError, match="mode: expected a FailureMode"):
        view.show_mode("x")
