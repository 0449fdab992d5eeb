"""failwidgets: Jupyter widgets for the failure modes of image classifiers."""

from __future__ import annotations

from ._lazy import lazy_getattr

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
    "set_image_transport": "failwidgets.widgets.transport",
    "get_image_transport": "failwidgets.widgets.transport",
}

__all__ = ["__version__", *_LAZY]


# public names are imported on first use, so ``import failwidgets`` stays light (no torch)
__getattr__ = lazy_getattr(__name__, _LAZY)
