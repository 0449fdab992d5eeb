"""Thumbnail encoding and the thumbnail cache."""

import io

import numpy as np
import pytest
from PIL import Image

from failwidgets.thumbnails import (
    THUMBNAIL_FORMATS,
    ThumbnailCache,
    encode_thumbnail,
    encode_thumbnails,
    thumbnail_shape,
)


def _decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def _solid(color, height=40, width=40) -> np.ndarray:
    return np.broadcast_to(np.array(color, dtype=np.uint8), (height, width, 3)).copy()


@pytest.mark.parametrize(
    ("shape", "size", "expected"),
    [
        ((224, 224), 96, (96, 96)),
        ((224, 100), 96, (96, 43)),
        ((100, 224), 96, (43, 96)),
        ((32, 32), 96, (32, 32)),  # never enlarged
        ((96, 50), 96, (96, 50)),
        ((1000, 1), 96, (96, 1)),  # at least one pixel
    ],
)
def test_thumbnail_shape_fits_the_box_and_keeps_aspect(shape, size, expected):
    assert thumbnail_shape(*shape, size) == expected


@pytest.mark.parametrize("fmt", sorted(THUMBNAIL_FORMATS))
def test_encode_thumbnail_decodes_to_the_fitted_size_and_colour(fmt):
    image = _solid((200, 30, 60), 224, 120)
    data = encode_thumbnail(image, size=64, format=fmt)
    decoded = _decode(data)
    assert decoded.shape == (64, 34, 3)
    assert np.abs(decoded.astype(int) - [200, 30, 60]).max() <= 6
    magic = {"jpeg": b"\xff\xd8", "png": b"\x89PNG", "webp": b"RIFF"}[fmt]
    assert data.startswith(magic)


def test_png_is_lossless_for_images_that_fit():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    np.testing.assert_array_equal(_decode(encode_thumbnail(image, size=96, format="png")), image)


def test_downscaling_averages_instead_of_sampling():
    # A fine checkerboard must become mid-grey (antialiased), not black or white.
    board = ((np.indices((200, 200)).sum(axis=0) % 2) * 255).astype(np.uint8)
    image = np.repeat(board[..., None], 3, axis=2)
    small = _decode(encode_thumbnail(image, size=50, format="png"))
    assert abs(small.mean() - 127.5) < 10
    assert small.std() < 20


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"image": np.zeros((8, 8, 3), np.float32)}, TypeError, "image"),
        ({"image": np.zeros((8, 8), np.uint8)}, ValueError, "image"),
        ({"image": np.zeros((8, 8, 4), np.uint8)}, ValueError, "image"),
        ({"image": np.zeros((0, 8, 3), np.uint8)}, ValueError, "image"),
        ({"image": [[0]]}, TypeError, "image"),
        ({"size": 0}, ValueError, "size"),
        ({"size": -5}, ValueError, "size"),
        ({"size": 9.5}, TypeError, "size"),
        ({"size": True}, TypeError, "size"),
        ({"format": "gif"}, ValueError, "format"),
        ({"quality": 0}, ValueError, "quality"),
        ({"quality": 101}, ValueError, "quality"),
        ({"quality": "high"}, TypeError, "quality"),
    ],
)
def test_encode_thumbnail_rejects_bad_input_naming_the_argument(kwargs, error, name):
    args = {"image": np.zeros((8, 8, 3), np.uint8), **kwargs}
    with pytest.raises(error, match=f"^{name}:"):
        encode_thumbnail(**args)


def test_encode_thumbnails_keeps_order_with_threads_and_matches_serial():
    colors = [(i * 10, 255 - i * 10, (i * 37) % 256) for i in range(24)]
    images = [_solid(c, 50 + i, 60) for i, c in enumerate(colors)]  # mixed sizes
    threaded = encode_thumbnails(images, size=32, n_jobs=2)
    serial = encode_thumbnails(images, size=32, n_jobs=1)
    assert threaded == serial
    for data, color in zip(threaded, colors):
        assert np.abs(_decode(data).astype(int).mean(axis=(0, 1)) - color).max() <= 6


def test_encode_thumbnails_accepts_a_stacked_array():
    batch = np.stack([_solid((i * 50, 0, 0), 16, 16) for i in range(4)])
    out = encode_thumbnails(batch, size=8, format="png", n_jobs=1)
    assert [_decode(d)[0, 0, 0] for d in out] == [0, 50, 100, 150]
    assert encode_thumbnails([], size=8) == []


def test_encode_thumbnails_names_the_bad_item_and_bad_n_jobs():
    images = [_solid((0, 0, 0))] * 3 + [np.zeros((4, 4, 3), np.int64)]
    with pytest.raises(TypeError, match=r"images\[3\]"):
        encode_thumbnails(images)
    with pytest.raises(ValueError, match="^images:"):
        encode_thumbnails(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="^n_jobs:"):
        encode_thumbnails([_solid((0, 0, 0))], n_jobs=0)


def test_cache_encodes_only_missing_items_and_evicts_least_recently_used():
    calls = []

    def load(i):
        calls.append(i)
        return _solid((i, i, i), 8, 8)

    cache = ThumbnailCache(load, size=8, format="png", max_items=3)
    thumbs, errors = cache.get_many([1, 2, 1])
    assert errors == {}
    assert calls == [1, 2]  # the repeat is loaded once
    assert thumbs[0] == thumbs[2] and thumbs[0] != thumbs[1]
    assert _decode(thumbs[1])[0, 0, 0] == 2
    cache.get_many([2, 1])  # use order now: 2, then 1
    assert calls == [1, 2]  # all cached
    cache.get_many([3, 4])  # room for 3: evicts 2, the least recently used
    assert len(cache) == 3
    cache.get_many([1, 3, 4])
    assert calls == [1, 2, 3, 4]
    cache.get_many([2])
    assert calls == [1, 2, 3, 4, 2]
    assert cache.mime_type == "image/png"


def test_cache_reports_unloadable_images_without_failing_the_batch():
    def load(i):
        if i == 5:
            raise ValueError("images: cannot read image file /x/5.png")
        return _solid((i, 0, 0), 8, 8)

    cache = ThumbnailCache(load, size=8)
    thumbs, errors = cache.get_many([4, 5, 6])
    assert thumbs[1] is None and thumbs[0] is not None and thumbs[2] is not None
    assert "cannot read image file /x/5.png" in errors[5]
    assert len(cache) == 2  # the failure is not cached: a fixed file loads next time


def test_cache_validates_arguments():
    with pytest.raises(TypeError, match="^load_image:"):
        ThumbnailCache(None)
    with pytest.raises(ValueError, match="^max_items:"):
        ThumbnailCache(lambda i: None, max_items=-1)
    with pytest.raises(ValueError, match="^format:"):
        ThumbnailCache(lambda i: None, format="bmp")
    cache = ThumbnailCache(lambda i: _solid((0, 0, 0), 4, 4), max_items=0)
    cache.get_many([1, 2])
    assert len(cache) == 0
