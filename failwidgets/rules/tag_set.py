"""PRIME's rule: a set of tags, all present."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .base import Rule, _aligned

__all__ = ["TagSetRule"]


@dataclass(frozen=True, eq=False)
class TagSetRule(Rule):
    """PRIME: the images of the class whose tags include every tag of the set.

    Parameters
    ----------
    class_name : the class (PRIME groups images by label).
    tags : the tag set (names; empty: the whole class).
    tag_source : a :class:`~failwidgets.features.tags.TagMatrix` (or ``(matrix, names)``
        pair, or boolean DataFrame) with one row per EvalSet row, or a callable
        ``(evalset, rows) -> boolean DataFrame`` whose columns include the tags.
    """

    tags: tuple
    tag_source: object = field(repr=False)
    method = "prime"

    def _check_fields(self) -> None:
        tags = (self.tags,) if isinstance(self.tags, str) else tuple(self.tags)
        if not all(isinstance(t, str) for t in tags):
            raise TypeError(f"tags: expected tag names, got {self.tags!r}")
        if len(set(tags)) != len(tags):
            raise ValueError(f"tags: repeated tag in {tags}")
        object.__setattr__(self, "tags", tags)
        if not callable(self.tag_source):
            from ..features.tags import TagMatrix, as_tag_matrix, unknown_names_message

            matrix = self.tag_source
            if not isinstance(matrix, TagMatrix):
                matrix = as_tag_matrix(matrix, name="tag_source")
            unknown = [t for t in tags if t not in matrix.names]
            if unknown:
                raise ValueError(unknown_names_message("tags", unknown, matrix.names))
            object.__setattr__(self, "tag_source", matrix)

    @property
    def description(self) -> str:
        if not self.tags:
            return f"all {self._where()}"
        return f"{self._where()} tagged {' + '.join(self.tags)}"

    def _select(self, evalset, rows):
        if not self.tags:  # the empty set: the whole class
            return np.ones(rows.size, dtype=bool)
        if callable(self.tag_source):
            frame = self.tag_source(evalset, rows)
            if not isinstance(frame, pd.DataFrame) or len(frame) != rows.size:
                raise ValueError(
                    f"tag_source: expected a DataFrame of {rows.size} rows, got "
                    f"{type(frame).__name__}"
                )
            missing = [t for t in self.tags if t not in frame.columns]
            if missing:
                raise ValueError(f"tag_source: no column for the tags {missing}")
            return frame[list(self.tags)].to_numpy(dtype=bool).all(axis=1)
        matrix = self.tag_source
        _aligned(matrix.matrix, evalset, "tag_source")
        columns = [matrix.names.index(t) for t in self.tags]
        return matrix.matrix[np.ix_(rows, columns)].astype(bool).all(axis=1)
