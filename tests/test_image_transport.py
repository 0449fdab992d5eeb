"""The image transport switch: binary buffers by default, data URLs in JSON for front ends that
drop buffers (Colab). Every widget that sends images honours it: the ImageGrid's pages (and its
selection trait), the ScenarioView's strips and the TreeView's feature panel."""

from __future__ import annotations

import base64
import io
import sys
import types

import numpy as np
import pytest
from ipywidgets.widgets.widget import _remove_buffers
from PIL import Image

import failwidgets
from failwidgets.data import EvalSet
from failwidgets.widgets.grid import ImageGrid
from failwidgets.widgets.scenarios import ScenarioCanvas
from failwidgets.widgets.selection import decode_selection
from failwidgets.widgets.transport import (
    ENV_VAR,
    data_url,
    get_image_transport,
    pack_bytes,
    pack_images,
    set_image_transport,
)
from failwidgets.widgets.tree import TreeCanvas


@pytest.fixture(autouse=True)
def _auto_transport(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    set_image_transport(None)
    yield
    set_image_transport(None)


@pytest.fixture
def evalset():
    images = np.zeros((12, 8, 8, 3), dtype=np.uint8)
    images[:, :, :, 0] = (np.arange(12) * 20)[:, None, None]
    labels = np.arange(12) % 2
    return EvalSet.from_arrays(images, labels, labels, ["cat", "dog"])


def _decode(url: str, mime: str) -> bytes:
    prefix = f"data:{mime};base64,"
    assert url.startswith(prefix), url[:40]
    return base64.b64decode(url[len(prefix) :])


def _capture(widget, monkeypatch) -> list:
    sent = []
    monkeypatch.setattr(
        widget, "send", lambda content, buffers=None: sent.append((content, buffers))
    )
    return sent


# ---------------------------------------------------------------------- the switch
def test_default_is_buffers_and_colab_switches_to_data_urls(monkeypatch):
    assert get_image_transport() == "buffers"
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert get_image_transport() == "dataurl"


def test_explicit_setting_beats_the_environment_which_beats_colab(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setenv(ENV_VAR, " Buffers ")
    assert get_image_transport() == "buffers"
    monkeypatch.setenv(ENV_VAR, "auto")
    assert get_image_transport() == "dataurl"
    failwidgets.set_image_transport("buffers")  # the top-level name
    assert failwidgets.get_image_transport() == "buffers"
    set_image_transport("auto")
    assert get_image_transport() == "dataurl"


@pytest.mark.parametrize(
    ("value", "error", "text"),
    [("binary", ValueError, "transport"), (1, TypeError, "transport"), ("", ValueError, "")],
)
def test_bad_settings_name_the_argument(value, error, text):
    with pytest.raises(error, match=f"{text}: expected one of"):
        set_image_transport(value)
    assert get_image_transport() == "buffers"  # unchanged


def test_a_bad_environment_value_names_the_variable(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "base64")
    with pytest.raises(ValueError, match=f"{ENV_VAR}: expected one of .*'base64'"):
        get_image_transport()


def test_pack_images_keeps_indices_and_carries_no_buffers():
    content = {"type": "page", "mime": "image/png", "items": [{"buffer": 1}, {"buffer": 0}]}
    images = [b"\x89PNG-a", b"\x89PNG-b"]
    assert pack_images(content, images) == (content, images)
    set_image_transport("dataurl")
    packed, buffers = pack_images(content, images)
    assert buffers == [] and "data_urls" not in content  # the original is not changed
    assert [_decode(u, "image/png") for u in packed["data_urls"]] == images
    assert packed["items"] == content["items"]
    assert pack_images({"type": "visual"}, []) == ({"type": "visual"}, [])
    with pytest.raises(ValueError, match="mime: expected an image MIME type"):
        pack_images({"mime": "text/html"}, images)
    assert data_url(b"ab", "image/webp") == "data:image/webp;base64,YWI="
    assert pack_bytes(b"\x01\x02") == "AQI="


# ---------------------------------------------------------------------- ImageGrid
def test_grid_pages_carry_data_urls_and_no_buffers(evalset, monkeypatch):
    grid = ImageGrid(evalset, page_size=5)
    sent = _capture(grid, monkeypatch)
    grid._on_message(grid, {"type": "page", "page": 1, "request_id": "a"}, [])
    binary_content, binary = sent[-1]
    assert len(binary) == 5 and "data_urls" not in binary_content

    set_image_transport("dataurl")
    grid._on_message(grid, {"type": "page", "page": 1, "request_id": "b"}, [])
    content, buffers = sent[-1]
    assert buffers == []
    assert len(content["data_urls"]) == 5
    decoded = [_decode(u, content["mime"]) for u in content["data_urls"]]
    assert decoded == binary  # the same thumbnails
    for item in content["items"]:  # each item's index points at its own image
        with Image.open(io.BytesIO(decoded[item["buffer"]])) as image:
            red = np.asarray(image.convert("RGB"))[..., 0].mean()
        assert abs(red - 20 * item["index"]) <= 3


def test_grid_selection_and_state_hold_no_binary_under_data_urls(evalset):
    set_image_transport("dataurl")
    grid = ImageGrid(evalset, selected=[2, 3, 4])
    state, buffer_paths, buffers = _remove_buffers(grid.get_state())
    assert buffers == [] and buffer_paths == []
    assert isinstance(state["_selection"], str)
    data = base64.b64decode(state["_selection"])
    np.testing.assert_array_equal(decode_selection(data, evalset.n), [2, 3, 4])
    set_image_transport("buffers")
    grid.selected = [7]
    assert isinstance(grid._selection, bytes)
    np.testing.assert_array_equal(decode_selection(grid._selection, evalset.n), [7])
    assert len(_remove_buffers(grid.get_state())[2]) == 1


# ---------------------------------------------------------------------- tree and scenarios
def test_tree_feature_panel_sends_data_urls(monkeypatch):
    canvas = TreeCanvas()
    sent = _capture(canvas, monkeypatch)
    content = {"type": "visual", "state": "ready", "mime": "image/png", "items": [{"image": 0}]}
    canvas.send_visual(content, [b"png-0"])
    assert sent[-1] == (content, [b"png-0"])
    set_image_transport("dataurl")
    canvas.send_visual(content, [b"png-0"])
    message, buffers = sent[-1]
    assert buffers == [] and message["data_urls"] == [data_url(b"png-0", "image/png")]
    canvas._on_message(canvas, {"type": "visual-request"}, [])  # re-sent on each render
    assert sent[-1] == (message, [])
    assert canvas.visual == (content, [b"png-0"])  # the kept state is the raw one


def test_scenario_strips_send_data_urls(monkeypatch):
    class View:
        def strips_payload(self, ids, request_id=None):
            strips = [{"id": i, "buffers": [k]} for k, i in enumerate(ids)]
            content = {"type": "strips", "request_id": request_id, "mime": "image/png"}
            return {**content, "version": 0, "strips": strips}, [bytes([i]) for i in ids]

    canvas = ScenarioCanvas(view=View())
    sent = _capture(canvas, monkeypatch)
    canvas._on_message(canvas, {"type": "strips", "ids": [3, 4], "request_id": "r"}, [])
    assert sent[-1][1] == [b"\x03", b"\x04"]
    set_image_transport("dataurl")
    canvas._on_message(canvas, {"type": "strips", "ids": [3, 4], "request_id": "r"}, [])
    message, buffers = sent[-1]
    assert buffers == []
    assert [_decode(u, "image/png") for u in message["data_urls"]] == [b"\x03", b"\x04"]
    assert message["strips"] == [{"id": 3, "buffers": [0]}, {"id": 4, "buffers": [1]}]
