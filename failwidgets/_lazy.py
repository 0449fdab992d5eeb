"""Packages whose public names are imported on first use (so importing them stays light)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

__all__ = ["lazy_getattr"]


def lazy_getattr(package: str, sources: Mapping[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``package`` that imports ``name`` from ``sources[name]``
    (a module path, relative to ``package`` when it starts with a dot) on first use."""

    def __getattr__(name: str):
        if name in sources:
            return getattr(importlib.import_module(sources[name], package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
