"""Compiled kernel of PRIME's exhaustive tag-set search (numba).

The search enumerates every tag set ``S`` (``1 <= |S| <= max_size``) whose
member set ``I_S`` (images carrying all tags of ``S``) has at least
``min_support`` images, and counts its members and correctly classified
members. It is an Eclat-style depth-first enumeration over bit-packed member
sets:

- each tag's members are a bitset of 64-bit words; ``I_S`` is the AND of them;
- the depth-first stack keeps the intersected bitset of each prefix, so a set
  of size ``k`` costs one AND/popcount pass over the words, not ``k``;
- a prefix is only extended by tags that are frequent together with it
  (anti-monotone support pruning), which keeps the candidates checked close
  to the frequent sets themselves;
- popcount is the CPU instruction (LLVM ``ctpop``);
- tags are best given in ascending frequency (rare tags first: prefixes are then
  rare and their extension lists short);
- the rows of the one-tag-removed subsets of every set are found afterwards with
  an open-addressing hash table over the table's rows (:func:`find_subset_rows`).

The pure-Python side (:mod:`failwidgets.methods.prime`) turns the returned
arrays into the candidate table; nothing here knows about classes or names.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

__all__ = [
    "pack_columns",
    "search_frequent_sets",
    "find_subset_rows",
    "relabel_rows",
    "subset_gain",
    "mode_mask",
]

_INITIAL_CAPACITY = 1 << 14


@intrinsic
def _popcount(typingctx, x):
    """Population count of a uint64 as int64 (compiles to the ``popcnt`` instruction).

    Returning a signed integer keeps the counters int64 (numba turns int64 + uint64
    into float64).
    """
    if not isinstance(x, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return types.int64(types.uint64), codegen


def pack_columns(matrix: np.ndarray) -> np.ndarray:
    """Pack the columns of a boolean ``(n, T)`` matrix into ``(T, W)`` uint64 bitsets.

    Bit ``i % 64`` of word ``i // 64`` of row ``t`` is ``matrix[i, t]``;
    ``W = ceil(n / 64)`` and padding bits are zero.
    """
    matrix = np.asarray(matrix, dtype=bool)
    if matrix.ndim == 1:
        matrix = matrix[:, None]
    n, n_cols = matrix.shape
    n_words = max(1, -(-n // 64))
    padded = np.zeros((n_cols, n_words * 64), dtype=bool)
    padded[:, :n] = matrix.T
    packed = np.packbits(padded, axis=1, bitorder="little")
    return np.ascontiguousarray(packed).view("<u8").astype(np.uint64, copy=False)


@njit(cache=True, nogil=True)
def _grow_2d(arr, capacity):
    out = np.full((capacity, arr.shape[1]), -1, dtype=arr.dtype)
    out[: arr.shape[0]] = arr
    return out


@njit(cache=True, nogil=True)
def _grow_1d(arr, capacity):
    out = np.empty(capacity, dtype=arr.dtype)
    out[: arr.shape[0]] = arr
    return out


@njit(cache=True, nogil=True)
def search_frequent_sets(bits, correct, n_images, min_support, max_size, max_rows):
    """Enumerate all tag sets of size ``<= max_size`` with support ``>= min_support``.

    Parameters
    ----------
    bits : (T, W) uint64
        Packed member bitsets of the T tags (see :func:`pack_columns`). Tags
        are enumerated in this row order.
    correct : (W,) uint64
        Packed bitset of correctly classified images.
    n_images : int
        Number of images (bits beyond it must be zero).
    min_support : int
        Minimum number of members of a reported set (``>= 1``).
    max_size : int
        Largest set size (``>= 1``).
    max_rows : int
        Stop once this many rows (the empty set included) are recorded.

    Returns
    -------
    tags : (M, max_size) int32
        Row indices into ``bits`` of each set's tags, ascending, ``-1`` padded.
        Row 0 is the empty set; rows are grouped by size and within a size
        sorted lexicographically.
    size : (M,) int8
    n : (M,) int32
        Number of members.
    n_correct : (M,) int32
        Number of correctly classified members.
    complete : bool
        False when the search stopped at ``max_rows`` (the table is then partial).
    """
    n_tags, n_words = bits.shape
    capacity = _INITIAL_CAPACITY
    out_tags = np.full((capacity, max_size), -1, dtype=np.int32)
    out_size = np.zeros(capacity, dtype=np.int8)
    out_n = np.zeros(capacity, dtype=np.int32)
    out_correct = np.zeros(capacity, dtype=np.int32)

    # Row 0: the empty set, i.e. all images.
    n_all_correct = 0
    for w in range(n_words):
        n_all_correct += _popcount(correct[w])
    out_n[0] = n_images
    out_correct[0] = n_all_correct
    m = 1

    # Stack: intersected bitset of each prefix, its frequent extensions, cursor.
    stack_bits = np.zeros((max_size + 1, n_words), dtype=np.uint64)
    ext = np.empty((max_size + 1, max(n_tags, 1)), dtype=np.int32)
    ext_len = np.zeros(max_size + 1, dtype=np.int64)
    cursor = np.zeros(max_size + 1, dtype=np.int64)
    prefix = np.empty(max_size + 1, dtype=np.int32)

    # Level 1 (extensions of the empty set).
    for t in range(n_tags):
        cnt = 0
        cnt_ok = 0
        for w in range(n_words):
            x = bits[t, w]
            cnt += _popcount(x)
            cnt_ok += _popcount(x & correct[w])
        if cnt >= min_support:
            if m == max_rows:
                return _sort_by_size(
                    out_tags[:m], out_size[:m], out_n[:m], out_correct[:m], max_size, False
                )
            if m == capacity:
                capacity *= 2
                out_tags = _grow_2d(out_tags, capacity)
                out_size = _grow_1d(out_size, capacity)
                out_n = _grow_1d(out_n, capacity)
                out_correct = _grow_1d(out_correct, capacity)
            out_tags[m, 0] = t
            out_size[m] = 1
            out_n[m] = cnt
            out_correct[m] = cnt_ok
            m += 1
            ext[0, ext_len[0]] = t
            ext_len[0] += 1
    for w in range(n_words):
        stack_bits[0, w] = ~np.uint64(0)

    # Depth-first search. A node at ``depth`` is a prefix of ``depth`` tags
    # (prefix[:depth]) whose frequent one-tag extensions are ext[depth, :].
    # Visiting extension i makes the child prefix + ext[i] and records all its
    # frequent one-tag extensions (sets of size depth + 2).
    depth = 0
    if max_size < 2:
        depth = -1
    while depth >= 0:
        i = cursor[depth]
        if i + 1 >= ext_len[depth]:
            # No extension with a later partner left at this depth.
            depth -= 1
            continue
        cursor[depth] = i + 1
        t_i = ext[depth, i]
        prefix[depth] = t_i
        child = depth + 1
        for w in range(n_words):
            stack_bits[child, w] = stack_bits[depth, w] & bits[t_i, w]
        n_ext = 0
        set_size = depth + 2
        for j in range(i + 1, ext_len[depth]):
            t_j = ext[depth, j]
            cnt = 0
            cnt_ok = 0
            for w in range(n_words):
                x = stack_bits[child, w] & bits[t_j, w]
                cnt += _popcount(x)
                cnt_ok += _popcount(x & correct[w])
            if cnt >= min_support:
                if m == max_rows:
                    return _sort_by_size(
                        out_tags[:m], out_size[:m], out_n[:m], out_correct[:m], max_size, False
                    )
                if m == capacity:
                    capacity *= 2
                    out_tags = _grow_2d(out_tags, capacity)
                    out_size = _grow_1d(out_size, capacity)
                    out_n = _grow_1d(out_n, capacity)
                    out_correct = _grow_1d(out_correct, capacity)
                for k in range(child):
                    out_tags[m, k] = prefix[k]
                out_tags[m, child] = t_j
                out_size[m] = set_size
                out_n[m] = cnt
                out_correct[m] = cnt_ok
                m += 1
                ext[child, n_ext] = t_j
                n_ext += 1
        ext_len[child] = n_ext
        cursor[child] = 0
        if set_size < max_size and n_ext >= 2:
            depth = child

    return _sort_by_size(out_tags[:m], out_size[:m], out_n[:m], out_correct[:m], max_size, True)


@njit(cache=True, nogil=True)
def _sort_by_size(tags, size, n, n_correct, max_size, complete):
    """Stable counting sort of the rows by set size.

    Within one size the depth-first order above is already lexicographic.
    """
    m = size.shape[0]
    starts = np.zeros(max_size + 2, dtype=np.int64)
    for r in range(m):
        starts[size[r] + 1] += 1
    for k in range(1, max_size + 2):
        starts[k] += starts[k - 1]
    order = np.empty(m, dtype=np.int64)
    fill = starts.copy()
    for r in range(m):
        k = size[r]
        order[fill[k]] = r
        fill[k] += 1
    return tags[order], size[order], n[order], n_correct[order], complete


_HASH_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


@njit(cache=True, nogil=True)
def _hash_without(tags, row, skip, size, shift):
    """Hash of ``tags[row, :size]`` with position ``skip`` left out (``skip=-1``: none)."""
    h = np.uint64(0)
    for p in range(size):
        if p == skip:
            continue
        h = (h ^ np.uint64(tags[row, p] + 1)) * _HASH_MULTIPLIER
    return h >> np.uint64(shift)


@njit(cache=True, nogil=True)
def _equal_without(tags, row, skip, other, size):
    """Whether ``tags[row, :size]`` minus position ``skip`` equals the set of row ``other``."""
    k = 0
    for p in range(size):
        if p == skip:
            continue
        if tags[row, p] != tags[other, k]:
            return False
        k += 1
    return True


@njit(cache=True, nogil=True)
def find_subset_rows(tags, size, max_size):
    """Row of each one-tag-removed subset, via an open-addressing hash table.

    Parameters
    ----------
    tags, size
        As returned by :func:`search_frequent_sets` (row 0 the empty set).
    max_size : int

    Returns
    -------
    (M, max_size) int32
        Column ``j`` is the row of the set without its ``j``-th tag (row 0,
        the empty set, for sets of size 1); ``-1`` beyond the set's size.
        Every subset of a frequent set is frequent, so each lookup succeeds; a
        failed lookup raises.
    """
    m = size.shape[0]
    n_keys = 0
    for r in range(m):
        if 1 <= size[r] < max_size:
            n_keys += 1
    bits = 4
    while (1 << bits) < 2 * n_keys:
        bits += 1
    shift = 64 - bits
    mask = (1 << bits) - 1
    table = np.full(1 << bits, -1, dtype=np.int64)
    for r in range(m):
        k = size[r]
        if k < 1 or k >= max_size:
            continue
        slot = np.int64(_hash_without(tags, r, -1, k, shift))
        while table[slot] >= 0:
            slot = (slot + 1) & mask
        table[slot] = r

    sub = np.full((m, max_size), -1, dtype=np.int32)
    for r in range(m):
        k = size[r]
        if k == 1:
            sub[r, 0] = 0
            continue
        for j in range(k):
            slot = np.int64(_hash_without(tags, r, j, k, shift))
            found = -1
            while table[slot] >= 0:
                other = table[slot]
                if size[other] == k - 1 and _equal_without(tags, r, j, other, k):
                    found = other
                    break
                slot = (slot + 1) & mask
            if found < 0:
                raise RuntimeError("subset of a frequent set missing from the table")
            sub[r, j] = found
    return sub


@njit(cache=True, nogil=True)
def relabel_rows(tags, sub, tag_ids, row_offset):
    """Map each row's tags through ``tag_ids`` and sort them ascending.

    The subset-row columns are permuted with the tags (column ``j`` stays
    "the set without tag ``j``") and shifted by ``row_offset`` (``-1`` padding
    is kept).
    """
    m, width = tags.shape
    out_tags = np.full((m, width), -1, dtype=np.int32)
    out_sub = np.full((m, width), -1, dtype=np.int32)
    for r in range(m):
        k = 0
        for p in range(width):
            if tags[r, p] < 0:
                break
            g = tag_ids[tags[r, p]]
            s = sub[r, p] + row_offset
            q = k
            while q > 0 and out_tags[r, q - 1] > g:
                out_tags[r, q] = out_tags[r, q - 1]
                out_sub[r, q] = out_sub[r, q - 1]
                q -= 1
            out_tags[r, q] = g
            out_sub[r, q] = s
            k += 1
    return out_tags, out_sub


@njit(cache=True, nogil=True)
def subset_gain(sub, size, accuracy):
    """``min_j accuracy[sub[r, j]] - accuracy[r]`` per row (NaN for the empty set)."""
    m = size.shape[0]
    out = np.empty(m, dtype=np.float64)
    for r in range(m):
        k = size[r]
        if k == 0:
            out[r] = np.nan
            continue
        best = np.inf
        for j in range(k):
            value = accuracy[sub[r, j]]
            if value < best:
                best = value
        out[r] = best - accuracy[r]
    return out


@njit(cache=True, nogil=True)
def mode_mask(n, drop, gain, size, min_support, min_drop, min_gain_by_size, max_size):
    """One pass over the candidate table: ``n >= min_support``, ``drop >= min_drop``,
    ``gain >= min_gain_by_size[size]`` and ``1 <= size <= max_size`` (thresholds already
    include the tolerance)."""
    m = size.shape[0]
    out = np.zeros(m, dtype=np.bool_)
    for r in range(m):
        k = size[r]
        if k < 1 or k > max_size or n[r] < min_support:
            continue
        if drop[r] >= min_drop and gain[r] >= min_gain_by_size[k]:
            out[r] = True
    return out
