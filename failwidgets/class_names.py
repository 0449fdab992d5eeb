"""Class names and class indices: the checks every EvalSet, method result and view shares."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence, Set

import numpy as np
import pandas as pd

__all__ = ["check_class_names", "class_index"]


def check_class_names(class_names, argument: str = "class_names") -> list[str]:
    """Class names as a list of distinct strings.

    Accepts any ordered collection of names: a list, tuple, 1-D array, ``pd.Index`` or
    ``pd.Series``. Each name must be a non-empty string or an integer (kept as its decimal
    string); a single string, a set, a mapping, ``None``, float names and empty (or blank)
    names are refused.
    """
    if isinstance(class_names, (str, bytes, Mapping, Set)) or not isinstance(
        class_names, Sequence | np.ndarray | pd.Index | pd.Series
    ):
        raise TypeError(
            f"{argument}: expected an ordered list of class names, got {type(class_names).__name__}"
        )
    values = np.asarray(class_names, dtype=object)
    if values.ndim != 1:
        raise ValueError(f"{argument}: expected a 1-D list of names, got shape {values.shape}")
    names = []
    for position, name in enumerate(values.tolist()):
        if isinstance(name, (bool, np.bool_)) or not isinstance(name, (str, int, np.integer)):
            raise TypeError(
                f"{argument}: name {position} is a {type(name).__name__} ({name!r}); "
                "expected a string"
            )
        if isinstance(name, str) and not name.strip():
            raise ValueError(f"{argument}: name {position} is empty")
        names.append(str(name))
    if not names:
        raise ValueError(f"{argument}: at least one class name is needed")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{argument}: duplicate class name {name!r}")
        seen.add(name)
    return names


def class_index(value, class_names: Sequence, name: str = "cls") -> int:
    """Index of the class ``value`` in ``class_names``: a class name, or an index into it.

    Parameters
    ----------
    value : str or int
        A name in ``class_names`` or an integer in ``0..len(class_names) - 1`` (numpy integers
        too; bools are refused).
    class_names : sequence
        The class names in index order (``range(n)`` where classes have no names).
    name : str
        The argument named in the errors.

    Raises
    ------
    ValueError
        An unknown name or an index out of range (the message lists the first known names).
    TypeError
        Neither a name nor an integer.
    """
    if isinstance(value, str):
        names = class_names if isinstance(class_names, (list, tuple)) else list(class_names)
        try:
            return names.index(value)
        except ValueError:
            raise ValueError(
                f"{name}: unknown class {value!r}; known: {list(names[:10])}"
            ) from None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected a class name or index, got {type(value).__name__}")
    if not 0 <= int(value) < len(class_names):
        raise ValueError(f"{name}: class index {value} outside 0..{len(class_names) - 1}")
    return int(value)
