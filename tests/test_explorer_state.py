"""The Explorer's state as typed traits: observe and traitlets.link work on it."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pytest
import traitlets
from test_explorer import make_world

from failwidgets.modes import FailureMode
from failwidgets.thresholds import spec
from failwidgets.widgets.explorer import Explorer


@pytest.fixture(scope="module")
def explorer(tmp_path_factory):
    evalset, odd, embeddings, features = make_world()
    explorer = Explorer.from_evalset(
        evalset,
        features=features,
        embeddings=embeddings,
        split="test",
        methods=["barlow", "prime", "directions"],
        progress=False,
        background=False,
        cache_dir=tmp_path_factory.mktemp("cache"),
        options={
            "barlow": {"depth": 1, "k": 3},
            "prime": {"a": 0.3, "min_support": 5},
            "directions": {"k": 20, "fit": {"n_jobs": 1}},
        },
    )
    yield explorer
    explorer.close()


def test_every_threshold_is_a_typed_bounded_trait(explorer):
    assert explorer.threshold_traits[("barlow", "delta")] == "barlow_delta"
    assert set(explorer.threshold_traits.values()) >= {
        "barlow_delta",
        "barlow_tau",
        "prime_a",
        "prime_s",
        "directions_k",
    }
    assert explorer.traits()["barlow_delta"].spec == spec("barlow", "delta")
    assert explorer.traits()["directions_k"].spec.kind == "count"
    assert explorer.barlow_delta == explorer.views["barlow"].delta
    with pytest.raises(traitlets.TraitError):
        explorer.barlow_delta = 7.0  # a fraction: above its bound
    assert explorer.views["barlow"].delta == explorer.barlow_delta


def test_setting_a_trait_sets_the_view_and_its_slider_and_back(explorer):
    seen = []
    explorer.observe(lambda change: seen.append(change["new"]), "barlow_delta")
    explorer.barlow_delta = 0.12
    assert explorer.views["barlow"].delta == pytest.approx(0.12)
    assert explorer.controls[("barlow", "delta")].value == pytest.approx(0.12)
    explorer.controls[("barlow", "delta")].value = 0.2  # the slider, as a user drags it
    assert explorer.barlow_delta == pytest.approx(0.2)
    explorer.set_threshold("barlow", "delta", 0.15)
    assert explorer.barlow_delta == pytest.approx(0.15)
    assert seen == pytest.approx([0.12, 0.2, 0.15])


def test_link_and_observe_work_on_thresholds_and_class(explorer):
    mine = widgets.FloatSlider(min=0, max=1, step=0.01)
    link = traitlets.link((mine, "value"), (explorer, "prime_a"))
    try:
        mine.value = 0.35
        assert explorer.views["prime"].a == pytest.approx(0.35)
        explorer.prime_a = 0.4
        assert mine.value == pytest.approx(0.4)
    finally:
        link.unlink()
    classes = []
    explorer.observe(lambda change: classes.append(change["new"]), "class_name")
    other = next(c for c in explorer.evalset.class_names if c != explorer.class_name)
    explorer.class_name = other
    assert classes == [other]
    assert all(getattr(v, "class_name", other) == other for v in explorer.views.values())


def test_selected_mode_and_indices_are_observable(explorer):
    modes, indices = [], []
    explorer.observe(lambda change: modes.append(change["new"]), "selected_mode")
    explorer.observe(lambda change: indices.append(change["new"]), "selected_indices")
    explorer.wait()
    mode = explorer.shown_modes[0]
    explorer.select_mode(mode)
    assert modes[-1] is mode and explorer.selected_mode is mode
    with pytest.raises(traitlets.TraitError):
        explorer.selected_mode = mode  # read-only: select_mode() or a click sets it
    explorer.grid.selected = mode.members[:2]
    np.testing.assert_array_equal(indices[-1], mode.members[:2])
    explorer.selected_indices = [int(mode.members[0])]
    np.testing.assert_array_equal(explorer.grid.selected, [mode.members[0]])
    with pytest.raises(traitlets.TraitError):
        explorer.selected_indices = [explorer.evalset.n + 5]
    np.testing.assert_array_equal(explorer.selected_indices, [mode.members[0]])
    explorer.class_name = next(c for c in explorer.evalset.class_names if c != mode.class_name)
    assert explorer.selected_mode is None and modes[-1] is None
    assert isinstance(modes[0], FailureMode)


def _observed(view):
    seen = {"mode": [], "indices": []}
    view.observe(lambda change: seen["mode"].append(change["new"]), "selected_mode")
    view.observe(lambda change: seen["indices"].append(change["new"]), "selected_indices")
    return seen


def _select_something(name, view, evalset):
    if name == "map":
        view.select(np.flatnonzero(~evalset.correct)[:4])
    elif name == "directions":
        view.show_tail()
    elif name == "barlow":
        view.select(0)
    elif name == "prime":
        view.select(view.failure_modes()[0].rule.tags)
    else:
        raise AssertionError(f"no selection gesture for {name}")


@pytest.mark.parametrize("name", ["barlow", "prime", "directions", "map"])
def test_views_publish_their_selection_as_traits(explorer, name):
    """A selection in a view sets its read-only selected_mode and selected_indices; a class
    change clears them; the on_select callbacks still run."""
    view = explorer.views[name]
    seen = _observed(view)
    called = []
    view.on_select(called.append)
    _select_something(name, view, explorer.evalset)
    mode = view.selected_mode
    assert isinstance(mode, FailureMode)
    assert seen["mode"][-1] is mode and called[-1] is mode
    np.testing.assert_array_equal(np.sort(view.selected_indices), np.sort(mode.members))
    with pytest.raises(traitlets.TraitError):
        view.selected_mode = None
    if name == "directions":
        other = next(c for c in explorer.evalset.class_names if c != view.class_name)
        view.set_class(other)
        assert view.selected_mode is None and view.selected_indices.size == 0
        assert seen["mode"][-1] is None
