"""Jupyter widgets (anywidget): thin adapters from a method's result to a browser view."""

from .grid import ImageGrid

__all__ = ["ImageGrid"]
