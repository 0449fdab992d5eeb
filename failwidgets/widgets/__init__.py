"""Jupyter widgets (anywidget): thin adapters from a method's result to a browser view.

Views are imported on first use, so importing one does not import every method's engine.
"""

from __future__ import annotations

from .._lazy import lazy_getattr

_VIEWS = {
    "ImageGrid": ".grid",
    "DirectionsView": ".directions",
    "LatticeView": ".lattice",
    "TreeView": ".tree",
    "ConceptMapView": ".concept_map",
    "ScenarioView": ".scenarios",
    "EmbeddingMap": ".embedding_map",
    "Explorer": ".explorer",
}

__all__ = list(_VIEWS)


__getattr__ = lazy_getattr(__name__, _VIEWS)
