"""Thresholds are declared once (failwidgets.thresholds) and read by engines, views, Explorer."""

from __future__ import annotations

import inspect
import math

import pytest

from failwidgets.thresholds import THRESHOLDS, ThresholdSpec, spec


def test_every_method_declares_its_thresholds_with_a_kind_default_and_doc():
    assert set(THRESHOLDS) == {"barlow", "prime", "ces", "directions", "defuse"}
    for specs in THRESHOLDS.values():
        assert len({s.name for s in specs}) == len(specs)
        for s in specs:
            assert s.doc and s.label
            assert s.check(s.default) == s.default  # the default is a valid value
    with pytest.raises(ValueError, match="kind"):
        ThresholdSpec("x", "x", "percent", 0.1, "doc")
    with pytest.raises(KeyError, match="no threshold barlow.k; known: .*barlow.delta"):
        spec("barlow", "k")


@pytest.mark.parametrize(
    ("kind", "good", "bad_value", "bad_type"),
    [
        ("fraction", [0.0, 0.5, 1.0], [-0.1, 1.01, math.nan], ["0.5", True, None]),
        ("count", [1, 7], [0, -3], [1.5, True, "3"]),
        ("log", [1e-9, 1e4], [0.0, -1.0, math.inf, math.nan], ["big", False]),
        ("spread", [0.01, 1.0], [0.0, 1.5, math.nan], ["0.1", None]),
    ],
)
def test_each_kind_checks_its_range_and_names_the_threshold(kind, good, bad_value, bad_type):
    s = ThresholdSpec("t", "t", kind, good[0], "doc")
    for value in good:
        assert s.check(value) == value
    for value in bad_value:
        with pytest.raises(ValueError, match="^t: "):
            s.check(value)
    for value in bad_type:
        with pytest.raises(TypeError, match="^t: expected"):
            s.check(value)


def test_the_engines_defaults_are_the_specs_defaults():
    from failwidgets.methods import barlow, ces, defuse, prime
    from failwidgets.widgets import directions, scenarios

    def default(function, name):
        return inspect.signature(function).parameters[name].default

    assert prime.DEFAULT_NECESSITY[2] == spec("prime", "b2").default
    assert prime.DEFAULT_NECESSITY[4] == spec("prime", "b4").default
    assert default(prime.search, "a") == spec("prime", "a").default
    assert default(prime.Prime, "min_support") == spec("prime", "s").default
    assert default(barlow.Barlow, "delta") == spec("barlow", "delta").default
    assert default(barlow.Barlow, "tau") == spec("barlow", "tau").default
    assert default(ces.concept_scores, "delta") == spec("ces", "delta").default
    assert default(defuse.sample_scenario_codes, "tau") == spec("defuse", "tau").default
    assert default(directions.DirectionsView, "k") == spec("directions", "k").default
    assert default(scenarios.ScenarioView, "tau") == spec("defuse", "tau").default


def test_engines_and_views_refuse_values_outside_the_spec():
    from failwidgets.methods import ces, defuse

    with pytest.raises(ValueError, match="delta: expected a finite positive step"):
        ces._check_delta(0.0)
    with pytest.raises(ValueError, match=r"tau: must lie in \(0, 1\]"):
        defuse._check_tau(1.5)


def test_the_explorer_panel_is_built_from_the_specs():
    from failwidgets.widgets import explorer

    assert explorer.THRESHOLDS is THRESHOLDS
