"""How the widgets send images to the browser: binary buffers, or data URLs inside JSON.

By default every image (grid thumbnails, scenario strips, the tree's feature panel) travels
as a binary buffer of a custom message: no base64 overhead, nothing in the notebook file.
Some front ends drop binary buffers: Colab's widget manager does
(googlecolab/colab-cdn-widget-manager#33, googlecolab/colabtools#3462). For those, the
``"dataurl"`` transport puts each image into the message's JSON as a ``data:`` URL
(``content["data_urls"]``, indexed like the buffers would have been) and sends no buffers;
the ImageGrid's selection, a binary trait otherwise, then travels as base64 text.

One switch decides, read at every send (first match wins):

1. :func:`set_image_transport` (``"buffers"``, ``"dataurl"``; ``"auto"`` or None forgets it);
2. the environment variable ``FAILWIDGETS_IMAGE_TRANSPORT`` (same values);
3. ``"dataurl"`` when running in Colab (``google.colab`` is imported), else ``"buffers"``.

The browser side (``js/src/images.js``) reads both forms.
"""

from __future__ import annotations

import base64
import os
import sys
from collections.abc import Sequence

__all__ = [
    "ENV_VAR",
    "TRANSPORTS",
    "data_url",
    "get_image_transport",
    "pack_bytes",
    "pack_images",
    "set_image_transport",
]

TRANSPORTS = ("buffers", "dataurl")
ENV_VAR = "FAILWIDGETS_IMAGE_TRANSPORT"
_AUTO = "auto"
_chosen: str | None = None


def _check_transport(value, name: str) -> str | None:
    """The transport named by ``value`` (None for "auto"), or an error naming ``name``."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(
            f"{name}: expected one of {[*TRANSPORTS, _AUTO]}, got {type(value).__name__}"
        )
    transport = value.strip().lower()
    if transport == _AUTO:
        return None
    if transport not in TRANSPORTS:
        raise ValueError(f"{name}: expected one of {[*TRANSPORTS, _AUTO]}, got {value!r}")
    return transport


def set_image_transport(transport: str | None) -> None:
    """Choose how every widget sends images from now on.

    Parameters
    ----------
    transport : {"buffers", "dataurl", "auto"} or None
        ``"buffers"``: binary buffers (the default outside Colab); ``"dataurl"``: base64
        ``data:`` URLs inside the JSON of the message, for front ends that drop buffers
        (Colab); ``"auto"`` or None: back to the environment variable
        ``FAILWIDGETS_IMAGE_TRANSPORT``, else ``"dataurl"`` in Colab and ``"buffers"`` elsewhere.

    Pages, strips and panels sent afterwards use it; displayed widgets need no re-creation
    (a grid's next page request, e.g. a page change, comes back in the new form).
    """
    global _chosen
    _chosen = _check_transport(transport, "transport")


def get_image_transport() -> str:
    """The transport in force: ``"buffers"`` or ``"dataurl"`` (see the module docstring)."""
    if _chosen is not None:
        return _chosen
    from_env = _check_transport(os.environ.get(ENV_VAR) or None, ENV_VAR)
    if from_env is not None:
        return from_env
    return "dataurl" if "google.colab" in sys.modules else "buffers"


def data_url(data: bytes, mime: str) -> str:
    """``data``, an encoded image of type ``mime``, as a base64 ``data:`` URL."""
    return f"data:{mime};base64,{base64.b64encode(bytes(data)).decode('ascii')}"


def pack_images(
    content: dict, images: Sequence[bytes], mime: str | None = None
) -> tuple[dict, list[bytes]]:
    """The message and buffers to send for ``content`` with its ``images``.

    With the ``"buffers"`` transport: ``content`` unchanged and the images as buffers. With
    ``"dataurl"``: a copy of ``content`` with ``"data_urls"`` (one ``data:`` URL per image, at
    the position its buffer would have had, so the message's buffer indices stay valid) and
    no buffers. ``mime`` defaults to ``content["mime"]``.
    """
    images = list(images)
    if get_image_transport() == "buffers" or not images:
        return content, images
    mime = mime or content.get("mime")
    if not isinstance(mime, str) or not mime.startswith("image/"):
        raise ValueError(f"mime: expected an image MIME type such as 'image/png', got {mime!r}")
    return {**content, "data_urls": [data_url(image, mime) for image in images]}, []


def pack_bytes(data: bytes) -> bytes | str:
    """``data`` for a synced binary trait: bytes (a buffer), or base64 text with ``"dataurl"``."""
    if get_image_transport() == "buffers":
        return bytes(data)
    return base64.b64encode(bytes(data)).decode("ascii")
