"""failwidgets: Jupyter widgets for the failure modes of image classifiers."""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "EvalSet": "failwidgets.data",
    "ImageGrid": "failwidgets.widgets.grid",
    "DirectionsView": "failwidgets.widgets.directions",
    "LatticeView": "failwidgets.widgets.lattice",
    "TreeView": "failwidgets.widgets.tree",
    "ConceptMapView": "failwidgets.widgets.concept_map",
    "ScenarioView": "failwidgets.widgets.scenarios",
    "Explorer": "failwidgets.widgets.explorer",
    "FailureMode": "failwidgets.modes",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    """Import public names on first use, so ``import failwidgets`` stays light (no torch)."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'failwidgets' has no attribute {name!r}")
