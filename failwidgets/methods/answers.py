"""Answers that can be empty, and then say why.

A method's answer (failure modes, failure leaves, captions) is a DataFrame or a list. When
it is empty, :class:`AnswerFrame` and :class:`AnswerList` carry the ``reason`` (e.g. "no
leaf has ER > BER + δ and EC > τ; best leaf ER 0.21, EC 0.15") and show it in their repr, so
a notebook user sees why nothing came back and a view can show the same sentence.

Both behave exactly like their base type otherwise. Frames derived from an
:class:`AnswerFrame` (slices, ``drop``, ``copy``...) are plain DataFrames: the reason belongs
to the answer as returned.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable

import pandas as pd

__all__ = ["AnswerFrame", "AnswerList", "answer_frame", "answer_list"]


class AnswerFrame(pd.DataFrame):
    """A DataFrame whose ``reason`` says why it is empty (None when it is not)."""

    _metadata = ["reason"]
    reason: str | None = None

    @property
    def _constructor(self):
        return pd.DataFrame

    def __repr__(self) -> str:
        text = super().__repr__()
        return f"{text}\nWhy empty: {self.reason}" if self.empty and self.reason else text

    def _repr_html_(self) -> str | None:
        text = super()._repr_html_()
        if text is not None and self.empty and self.reason:
            text += f"<p><b>Why empty:</b> {html.escape(self.reason)}</p>"
        return text


class AnswerList(list):
    """A list whose ``reason`` says why it is empty (None when it is not)."""

    reason: str | None = None

    def __repr__(self) -> str:
        text = super().__repr__()
        return f"{text}  # empty: {self.reason}" if not self and self.reason else text


def answer_frame(frame: pd.DataFrame, why: Callable[[], str]) -> AnswerFrame:
    """``frame`` as an :class:`AnswerFrame`; ``why()`` is called only when it is empty."""
    out = AnswerFrame(frame)
    if out.empty:
        out.reason = why()
    return out


def answer_list(items: Iterable, why: Callable[[], str]) -> AnswerList:
    """``items`` as an :class:`AnswerList`; ``why()`` is called only when it is empty."""
    out = AnswerList(items)
    if not out:
        out.reason = why()
    return out
