"""Jupyter widgets (anywidget): thin adapters from a method's result to a browser view.

Views are imported on first use, so importing one does not import every method's engine.
"""

from __future__ import annotations

import importlib

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


def __getattr__(name: str):
    if name in _VIEWS:
        return getattr(importlib.import_module(_VIEWS[name], __name__), name)
    raise AttributeError(f"module 'failwidgets.widgets' has no attribute {name!r}")
