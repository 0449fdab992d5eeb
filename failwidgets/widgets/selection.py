"""A selection of sample indices as one small binary buffer for the browser.

A million selected samples would be 7.9 MB as a JSON list. The grid sends the selection as
bytes instead, in whichever of two layouts is smaller:

- ``RANGES``: sorted, disjoint ``[start, stop)`` runs as little-endian uint32 pairs (a
  contiguous selection of any size is 8 bytes);
- ``BITMAP``: one bit per sample, ``bit i % 8`` of byte ``i // 8`` (``n / 8`` bytes: 125 KB
  for a million samples, whatever is selected).

Both follow an 8-byte header: the layout (uint8), three zero bytes and the number of selected
samples (uint32, little-endian). ``js/src/selection.js`` decodes it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["BITMAP", "EMPTY", "RANGES", "decode_selection", "encode_selection"]

EMPTY, RANGES, BITMAP = 0, 1, 2
_HEADER = 8
MAX_SAMPLES = 2**32 - 1  # uint32 indices


def _header(layout: int, count: int) -> bytes:
    return bytes([layout, 0, 0, 0]) + int(count).to_bytes(4, "little")


def encode_selection(mask: np.ndarray) -> bytes:
    """The selection given as a boolean mask over all samples, in its smaller layout."""
    mask = np.asarray(mask, dtype=bool)
    if len(mask) > MAX_SAMPLES:
        raise ValueError(f"mask: at most {MAX_SAMPLES} samples, got {len(mask)}")
    count = int(np.count_nonzero(mask))
    if count == 0:
        return _header(EMPTY, 0)
    edges = np.flatnonzero(np.diff(mask.view(np.int8), prepend=0, append=0))
    bitmap_bytes = (len(mask) + 7) // 8
    if 4 * len(edges) <= bitmap_bytes:  # each run is two uint32 edges
        return _header(RANGES, count) + edges.astype("<u4").tobytes()
    return _header(BITMAP, count) + np.packbits(mask, bitorder="little").tobytes()


def decode_selection(data: bytes, n: int) -> np.ndarray:
    """The sorted sample indices in ``data`` (the inverse of :func:`encode_selection`)."""
    data = bytes(data)
    if len(data) < _HEADER:
        raise ValueError(f"data: expected at least {_HEADER} bytes, got {len(data)}")
    layout, count = data[0], int.from_bytes(data[4:8], "little")
    payload = data[_HEADER:]
    if layout == EMPTY:
        indices = np.zeros(0, dtype=np.int64)
    elif layout == RANGES:
        edges = np.frombuffer(payload, dtype="<u4").astype(np.int64)
        starts, stops = edges[0::2], edges[1::2]
        indices = np.concatenate([np.arange(a, b) for a, b in zip(starts, stops)] or [[]])
        indices = indices.astype(np.int64)
    elif layout == BITMAP:
        bits = np.unpackbits(np.frombuffer(payload, dtype=np.uint8), bitorder="little")
        indices = np.flatnonzero(bits[:n])
    else:
        raise ValueError(f"data: unknown layout {layout}")
    if len(indices) != count:
        raise ValueError(f"data: the header says {count} selected, the payload {len(indices)}")
    return indices
