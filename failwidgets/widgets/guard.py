"""Guards on what a view's widgets accept: trait validation and browser messages.

Every view's anywidget receives state and custom messages from the browser, and its traits
are set from Python (the Explorer, the user). Two rules keep the kernel's state valid whatever
arrives:

- validators raise ``TraitError`` (:class:`TraitValueError` / :class:`TraitTypeError`, also a
  ValueError / TypeError), so traitlets rolls back a refused ``set_state`` (a plain ValueError
  would be kept); :class:`GuardedState` also refuses traits the browser may not set at all and
  shows the kept values in the browser again. :class:`Checked` and :class:`StrictInt` traits
  validate every value, None and values equal to the current one included;
- custom-message handlers (wrapped in :func:`answer_errors`) check every field
  (:func:`message_int` refuses bools) and answer a message they cannot apply with
  ``{"type": "error", ...}`` instead of raising inside the kernel.
"""

from __future__ import annotations

import functools

import anywidget
import numpy as np
import traitlets

__all__ = [
    "BrowserMessageError",
    "Checked",
    "GuardedState",
    "StrictInt",
    "TraitTypeError",
    "TraitValueError",
    "answer_errors",
    "is_int",
    "message_int",
    "message_request_id",
    "short_repr",
    "validator",
]


def is_int(value) -> bool:
    """True for a Python or numpy integer; False for a bool (``True`` is an int in Python)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


# ---------------------------------------------------------------------- trait validation
class TraitValueError(traitlets.TraitError, ValueError):
    """A value refused by a trait validator.

    A ``TraitError``, so traitlets rolls back a refused ``set_state`` from the browser, and a
    ``ValueError``, as the constructors' argument checks raise. The message names the trait.
    """


class TraitTypeError(traitlets.TraitError, TypeError):
    """A value of the wrong type refused by a trait validator (see :class:`TraitValueError`)."""


def validator(*names: str):
    """``traitlets.validate`` for checks that raise TypeError/ValueError naming the trait.

    The errors are re-raised as :class:`TraitTypeError` / :class:`TraitValueError` (same
    message), so a refused value from the browser is rolled back rather than kept.
    """

    def decorate(check):
        @functools.wraps(check)
        def validate(self, proposal):
            try:
                return check(self, proposal)
            except traitlets.TraitError:
                raise
            except TypeError as error:
                raise TraitTypeError(str(error)) from None
            except ValueError as error:
                raise TraitValueError(str(error)) from None

        return traitlets.validate(*names)(validate)

    return decorate


# traitlets skips the validators when a new value equals the old one (``True == 1``,
# ``10.0 == 10``), so type checks that must always hold live in the trait types below.


class Checked(traitlets.Any):
    """A trait of any type whose every value goes through its validator.

    ``traitlets.Any`` lets None through unchecked (even with ``allow_none=False``), and
    traitlets skips validators for a value equal to the current one (``True`` for ``1``);
    here both are checked and the stored value is always the one the validator returns.
    """

    allow_none = False

    def validate(self, obj, value):
        check = obj._trait_validators.get(self.name)
        if check is None:
            return value
        return check(obj, traitlets.Bunch(trait=self, value=value, owner=obj))


class StrictInt(traitlets.Int):
    """An Int trait that refuses bools (``True == 1`` in Python) and stores numpy ints as int."""

    def validate(self, obj, value):
        if not is_int(value):
            raise TraitTypeError(f"{self.name}: expected an integer, got {type(value).__name__}")
        return super().validate(obj, int(value))


# ---------------------------------------------------------------------- browser state
_ANYWIDGET_KEYS = frozenset(anywidget.AnyWidget.class_trait_names(sync=True))


class GuardedState:
    """Mixin for an anywidget: the browser may set only the traits in ``_browser_traits``.

    An update from the browser (``set_state``, as the comm delivers it) that names another of
    the widget's own synced traits, or that a validator refuses, raises ``TraitError`` with
    nothing changed (traitlets rolls the held changes back), and the kept values are sent to
    the browser again so its copy does not drift. Traits of the anywidget base class are left
    to ipywidgets.
    """

    _browser_traits: frozenset[str] = frozenset()

    def set_state(self, sync_data):
        if not isinstance(sync_data, dict):
            raise traitlets.TraitError(
                f"state: expected a dict of trait values, got {type(sync_data).__name__}"
            )
        names = [name for name in sync_data if name in self.keys]
        kernel_only = sorted(
            name
            for name in names
            if name not in _ANYWIDGET_KEYS and name not in self._browser_traits
        )
        try:
            if kernel_only:
                allowed = ", ".join(sorted(self._browser_traits)) or "no trait"
                raise traitlets.TraitError(
                    f"{kernel_only[0]}: set by the kernel only; the browser may set {allowed}"
                )
            super().set_state(sync_data)
        except traitlets.TraitError:
            self.send_state(names)  # the browser shows the kept values again
            raise


# ---------------------------------------------------------------------- browser messages
class BrowserMessageError(ValueError):
    """A custom message from the browser that cannot be applied (answered, never raised)."""


def short_repr(value, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters (for values from the browser in messages)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _message_kind(content) -> str | None:
    kind = content.get("type") if isinstance(content, dict) else None
    return kind[:100] if isinstance(kind, str) else None


def _is_request_id(value) -> bool:
    return value is None or is_int(value) or (isinstance(value, str) and len(value) <= 200)


def answer_errors(handler):
    """Wrap a custom-message handler ``handler(self, widget, content, buffers)``.

    A message that is not a JSON object, or whose handler raises :class:`BrowserMessageError`,
    is answered with ``{"type": "error", "request": <its type>, "request_id", "error"}`` on
    ``widget`` (the browser's adapters ignore it; it shows in the message log) and changes
    nothing.
    """

    @functools.wraps(handler)
    def handle(self, widget, content, buffers):
        try:
            if not isinstance(content, dict):
                raise BrowserMessageError(
                    f"message: expected a JSON object, got {type(content).__name__}"
                )
            handler(self, widget, content, buffers)
        except BrowserMessageError as error:
            request_id = content.get("request_id") if isinstance(content, dict) else None
            widget.send(
                {
                    "type": "error",
                    "request": _message_kind(content),
                    "request_id": request_id if _is_request_id(request_id) else None,
                    "error": str(error),
                }
            )

    return handle


def message_int(content: dict, key: str) -> int:
    """``content[key]`` as an int; BrowserMessageError naming ``key`` when it is not one."""
    value = content.get(key)
    if not is_int(value):
        raise BrowserMessageError(f"{key}: expected an integer, got {type(value).__name__}")
    return int(value)


def message_request_id(content: dict):
    """The message's ``request_id`` (str, int or None), echoed in the answer."""
    value = content.get("request_id")
    if not _is_request_id(value):
        raise BrowserMessageError(
            "request_id: expected a string (at most 200 characters), an integer or null, "
            f"got {type(value).__name__}"
        )
    return value
