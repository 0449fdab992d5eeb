"""The drawing of :class:`~failwidgets.widgets.scenarios.ScenarioView`: its scenario rows as an
anywidget (browser side: ``js/src/scenarios.js``), and the checks of the browser's messages.
"""

from __future__ import annotations

import pathlib

import anywidget
import traitlets

from .guard import (
    BrowserMessageError,
    GuardedState,
    StrictInt,
    answer_errors,
    is_int,
    message_int,
    message_request_id,
    short_repr,
)
from .transport import pack_images

__all__ = ["ScenarioCanvas"]

_STATIC = pathlib.Path(__file__).parent.parent / "static"


class ScenarioCanvas(GuardedState, anywidget.AnyWidget):
    """The scenario rows (browser side: ``js/src/scenarios.js``).

    ``view_model`` is built by :meth:`ScenarioView.view_model`; ``selected`` is the highlighted
    scenario id (-1: none); both are the kernel's (the browser may set no trait). The browser
    sends ``{"type": "select", "id"}``, ``{"type": "label", "id", "is_failure"?,
    "correct_label"?}`` and ``{"type": "strips", "ids", "request_id"}``; the last is answered
    with ``{"type": "strips", "request_id", "version", "mime", "strips": [{"id", "buffers"}]}``
    and one PNG buffer per decoded sample (each id once; at most one id per scenario). A label
    that cannot be stored is answered with ``{"type": "label_refused", "id", "error"}``; any
    other message that cannot be applied with ``{"type": "error", "request", "error"}``.
    """

    _esm = _STATIC / "scenarios.js"

    view_model = traitlets.Dict({}).tag(sync=True)
    selected = StrictInt(-1).tag(sync=True)

    def __init__(self, view=None, **kwargs):
        super().__init__(**kwargs)
        self._view = view
        self.on_msg(self._on_message)

    @answer_errors
    def _on_message(self, widget, content, buffers) -> None:
        view = self._view
        if view is None:
            raise BrowserMessageError("message: this canvas belongs to no ScenarioView")
        kind = content.get("type")
        if kind == "strips":
            ids = content.get("ids")
            if not isinstance(ids, list) or not all(is_int(i) for i in ids):
                raise BrowserMessageError("ids: expected a list of scenario ids (integers)")
            request_id = message_request_id(content)
            try:
                reply, data = view.strips_payload(ids, request_id=request_id)
            except ValueError as error:
                raise BrowserMessageError(str(error)) from None
            reply, data = pack_images(reply, data)  # buffers, or data URLs (Colab)
            self.send(reply, buffers=data)
        elif kind == "select":
            view.select(self._message_id(content))
        elif kind == "label":
            scenario_id = self._message_id(content)
            fields = {k: content[k] for k in ("is_failure", "correct_label") if k in content}
            if not fields:
                raise BrowserMessageError("label: give is_failure and/or correct_label")
            is_failure = fields.get("is_failure")
            if not (is_failure is None or isinstance(is_failure, bool)):
                raise BrowserMessageError(
                    f"is_failure: expected true, false or null, got {type(is_failure).__name__}"
                )
            correct_label = fields.get("correct_label")
            if not (
                correct_label is None or is_int(correct_label) or isinstance(correct_label, str)
            ):
                raise BrowserMessageError(
                    "correct_label: expected a class name, a class index or null, got "
                    f"{type(correct_label).__name__}"
                )
            self._label(scenario_id, fields)
        else:
            raise BrowserMessageError(
                f"type: expected 'strips', 'select' or 'label', got {short_repr(kind)}"
            )

    def _message_id(self, content: dict) -> int:
        """The scenario id of a browser message; BrowserMessageError when it names none."""
        scenario_id = message_int(content, "id")
        ids = self._view.review.scenarios.ids
        if scenario_id not in ids:
            raise BrowserMessageError(
                f"id: {scenario_id} is not one of the {len(ids)} scenario ids"
            )
        return scenario_id

    def _label(self, scenario_id: int, fields: dict) -> None:
        """Store a label from the browser; one that cannot be stored is answered with
        ``label_refused`` (the browser puts the stored label back and says why) and shown in
        the view's status line."""
        view = self._view
        try:
            view.set_label(scenario_id, **fields)
        except (TypeError, ValueError, OSError) as error:
            text = f"scenario {scenario_id}: label not saved ({error})"
            view._set_status(text, error=True)
            self.send({"type": "label_refused", "id": scenario_id, "error": text})
