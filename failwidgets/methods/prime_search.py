"""Compiled kernel of PRIME's exhaustive tag-set search (numba).

For one class, the search enumerates every tag set ``S`` (``1 <= |S| <= max_size``)
whose members ``I_S`` (images carrying all tags of ``S``) number at least
``min_support``, and counts its members and misclassified members. It is an
Eclat-style depth-first enumeration over bit-packed member sets, run in the
*projected* space of each single tag:

- the class's images are horizontal bitsets (one row of tag bits per image,
  :func:`pack_rows`), misclassified images first;
- for each tag ``i`` (in the given order; rare tags first is cheapest), the
  rows of the members of ``i`` are transposed, 64 x 64 bits at a time, into
  bitsets of the later tags restricted to those members (``|I_i| / 64`` words
  instead of ``n / 64``), whose popcounts count every pair ``{i, t}``;
- inside that space the sets ``{i} + P`` grow depth-first. A node keeps the
  member bitsets of its children (its frequent one-tag extensions), words down
  the rows and children along them, so the counts of all extensions of a child
  are one pass of 8-lane AND/popcounts (:func:`_and_counts8`); only extensions
  frequent together with the node are tried (anti-monotone support pruning);
- misclassified members are a prefix of every space, so their count is the same
  pass over the first words.

The result is a prefix tree in two int32 arrays (:func:`new_table`): per set its
last tag, size, counts and rank within its size; per node (a set with children)
its set and the contiguous rows of its children, sorted by tag.
:mod:`failwidgets.methods.prime_table` lays it out as the candidate table.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = [
    "pack_rows",
    "class_tag_counts",
    "new_table",
    "search_frequent_sets",
    "MAX_SIZE",
    "SET_COLUMNS",
    "NODE_COLUMNS",
]

MAX_SIZE = 6  # largest set size the table layout supports
# Columns of the sets array (one row per set) ...
LAST_TAG, N, N_CORRECT, NODE = 0, 1, 2, 3
SET_COLUMNS = 4
# ... and of the nodes array (one row per node: a set with children).
NODE_SET, NODE_SIZE, NODE_FIRST, NODE_COUNT, NODE_RANK = 0, 1, 2, 3, 4
NODE_COLUMNS = 5
_ONE = np.uint64(1)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)
# Multiplying 8 bytes of 0/1 (little-endian) by this puts byte i at bit 56 + i.
_BYTES_TO_BITS = np.uint64(0x0102040810204080)


@intrinsic
def _lowest_bit(typingctx, x):
    """Index of the lowest set bit of a non-zero uint64 (LLVM ``cttz``)."""
    if not isinstance(x, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        return builder.cttz(args[0], ir.Constant(ir.IntType(1), 1))

    return types.int64(types.uint64), codegen


_I64 = ir.IntType(64)
_VEC8 = ir.VectorType(_I64, 8)


@intrinsic
def _and_counts8(typingctx, counts, c, bits, start, stride, b, n_words, last_mask):
    """Eight AND-popcount sums at once (one SIMD lane per candidate).

    ``counts[c + u] = sum_w popcount(q_w & flat[start + w * stride + c + u])`` for
    ``u < 8`` and ``w < n_words``, where ``flat`` is ``bits`` in memory order and
    ``q_w = flat[start + w * stride + b]``, ANDed with ``last_mask`` for the last
    word. Written as LLVM vector code (``<8 x i64>`` ``ctpop``), which every
    target lowers to its widest popcount (AVX-512 ``vpopcntq``, AVX2 shuffles, NEON
    ``cnt``); numba's loop vectoriser does not find this form by itself.
    """
    if not (
        isinstance(counts, types.Array)
        and counts.dtype == types.int64
        and isinstance(bits, types.Array)
        and bits.dtype == types.uint64
        and all(isinstance(x, types.Integer) for x in (c, start, stride, b, n_words, last_mask))
    ):
        return None
    sig = types.void(counts, c, bits, start, stride, b, n_words, last_mask)

    def codegen(context, builder, signature, args):
        counts_data = context.make_array(signature.args[0])(context, builder, args[0]).data
        bits_data = context.make_array(signature.args[2])(context, builder, args[2]).data
        c_v, start_v, stride_v, b_v, n_v, mask_v = (
            context.cast(builder, args[i], signature.args[i], types.int64)
            for i in (1, 3, 4, 5, 6, 7)
        )
        popcount = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(_VEC8, [_VEC8]), "llvm.ctpop.v8i64"
        )
        broadcast = ir.Constant(ir.VectorType(ir.IntType(32), 8), [0] * 8)
        total = cgutils.alloca_once_value(builder, ir.Constant(_VEC8, [0] * 8))
        last = builder.sub(n_v, ir.Constant(_I64, 1))
        with cgutils.for_range(builder, n_v) as loop:
            row = builder.add(start_v, builder.mul(loop.index, stride_v))
            q = builder.load(builder.gep(bits_data, [builder.add(row, b_v)]))
            is_last = builder.icmp_signed("==", loop.index, last)
            q = builder.select(is_last, builder.and_(q, mask_v), q)
            q = builder.insert_element(ir.Constant(_VEC8, None), q, ir.Constant(ir.IntType(32), 0))
            q = builder.shuffle_vector(q, ir.Constant(_VEC8, None), broadcast)
            lanes = builder.gep(bits_data, [builder.add(row, c_v)])
            lanes = builder.load(builder.bitcast(lanes, _VEC8.as_pointer()), align=8)
            ones = builder.call(popcount, [builder.and_(lanes, q)])
            builder.store(builder.add(builder.load(total), ones), total)
        out = builder.bitcast(builder.gep(counts_data, [c_v]), _VEC8.as_pointer())
        builder.store(builder.load(total), out, align=8)
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, nogil=True)
def class_tag_counts(matrix, rows):
    """Number of the ``rows`` of a boolean ``(N, T)`` matrix carrying each column.

    Returns
    -------
    (T,) int64
    """
    counts = np.zeros(matrix.shape[1], dtype=np.int64)
    flags = matrix.view(np.uint8)
    for r in rows:
        row = flags[r]
        for t in range(row.shape[0]):
            counts[t] += row[t]
    return counts


@njit(cache=True, nogil=True)
def pack_rows(matrix, rows, columns):
    """Horizontal bitsets: bit ``p % 64`` of word ``p // 64`` of row ``k`` is
    ``matrix[rows[k], columns[p]]``.

    Returns
    -------
    (len(rows), max(1, ceil(len(columns) / 64))) uint64
    """
    n_columns = columns.shape[0]
    n_words = max(1, (n_columns + 63) // 64)
    out = np.empty((rows.shape[0], n_words), dtype=np.uint64)
    flags = matrix.view(np.uint8)
    gathered = np.zeros(n_words * 64, dtype=np.uint8)  # one row's 0/1 bytes, in order
    eights = gathered.view(np.uint64)
    for k in range(rows.shape[0]):
        row = flags[rows[k]]
        for p in range(n_columns):
            gathered[p] = row[columns[p]]
        for w in range(n_words):
            word = np.uint64(0)
            for e in range(8):  # 8 bytes of 0/1 -> 8 bits (the multiply gathers them)
                byte = (eights[w * 8 + e] * _BYTES_TO_BITS) >> np.uint64(56)
                word |= byte << np.uint64(8 * e)
            out[k, w] = word
    return out


def new_table(capacity: int) -> tuple[np.ndarray, np.ndarray]:
    """Empty ``(sets, nodes)`` arrays with room for ``capacity`` sets (grown when needed).

    Row ``r`` of ``sets`` is set ``r``: its ``LAST_TAG`` (its largest tag; its
    other tags are its parent's), ``N`` (members), ``N_CORRECT`` and ``NODE`` (its
    row in ``nodes``, or ``-1`` without children). A row of ``nodes`` is a set with
    children: ``NODE_SET``, its ``NODE_SIZE``, the rows of its children,
    ``NODE_FIRST .. NODE_FIRST + NODE_COUNT - 1``, and ``NODE_RANK``, the index of
    its first child among the sets of that size in lexicographic order (the others
    follow it). A set's fields are adjacent in memory (the writer reads them at
    random); numpy allocates the arrays, so large tables get transparent huge
    pages.
    """
    capacity = max(int(capacity), 16)
    sets = np.empty((capacity, SET_COLUMNS), dtype=np.int32)
    return sets, np.empty((capacity, NODE_COLUMNS), dtype=np.int32)


@njit(cache=True, nogil=True)
def _grown(array, capacity):
    out = np.empty((capacity, array.shape[1]), dtype=np.int32)
    out[: array.shape[0]] = array
    return out


@njit(cache=True, nogil=True)
def _add_set(sets, row, tag, n, n_correct):
    sets[row, LAST_TAG] = tag
    sets[row, N] = n
    sets[row, N_CORRECT] = n_correct
    sets[row, NODE] = -1


@njit(cache=True, nogil=True)
def _add_node(sets, nodes, node, row, size, first, count, rank):
    """Make set ``row`` (of ``size`` tags) node ``node``, with children ``first ..
    first + count - 1`` of ranks ``rank ..`` among the sets of size ``size + 1``."""
    sets[row, NODE] = node
    nodes[node, NODE_SET] = row
    nodes[node, NODE_SIZE] = size
    nodes[node, NODE_FIRST] = first
    nodes[node, NODE_COUNT] = count
    nodes[node, NODE_RANK] = rank
    return node + 1


@njit(cache=True, nogil=True)
def _member_lists(rows_bits, n_tags, n_errors):
    """Members of each tag (CSR: ``starts``, ``members``, ascending) and how many
    of them are among the first ``n_errors`` images."""
    n_images, n_words = rows_bits.shape
    starts = np.zeros(n_tags + 1, dtype=np.int64)
    for k in range(n_images):
        for w in range(n_words):
            x = rows_bits[k, w]
            while x != 0:
                starts[w * 64 + _lowest_bit(x) + 1] += 1
                x &= x - _ONE
    for t in range(n_tags):
        starts[t + 1] += starts[t]
    members = np.empty(starts[n_tags], dtype=np.int32)
    fill = starts[:n_tags].copy()
    errors = np.zeros(n_tags, dtype=np.int64)
    for k in range(n_images):
        for w in range(n_words):
            x = rows_bits[k, w]
            while x != 0:
                t = w * 64 + _lowest_bit(x)
                x &= x - _ONE
                members[fill[t]] = k
                fill[t] += 1
                errors[t] += k < n_errors
    return starts, members, errors


@njit(cache=True, nogil=True)
def _transpose64(block):
    """Transpose a 64 x 64 bit matrix in place: bit ``k`` of ``block[u]`` becomes
    bit ``u`` of the old ``block[k]`` (recursive block swaps, 6 rounds)."""
    j = 32
    mask = np.uint64(0x00000000FFFFFFFF)
    while j:
        for base in range(0, 64, 2 * j):
            for k in range(base, base + j):
                t = ((block[k] >> np.uint64(j)) ^ block[k + j]) & mask
                block[k] ^= t << np.uint64(j)
                block[k + j] ^= t
        j >>= 1
        mask ^= mask << np.uint64(j)


@njit(cache=True, nogil=True)
def _project(rows_bits, members, i, n_tags, projected, block):
    """Project the tags after ``i`` onto the members of ``i``: bit ``k % 64`` of
    ``projected[k // 64, t]`` is whether the ``k``-th member of ``i`` carries tag
    ``t > i``. Each 64 members' rows are one bit-matrix transpose per 64 tags."""
    n_i = members.shape[0]
    for w in range((n_i + 63) >> 6):
        low = w * 64
        count = min(64, n_i - low)
        for hw in range((i + 1) >> 6, rows_bits.shape[1]):
            for k in range(count):
                block[k] = rows_bits[members[low + k], hw]
            for k in range(count, 64):
                block[k] = 0
            _transpose64(block)
            for u in range(max(i + 1 - hw * 64, 0), min(64, n_tags - hw * 64)):
                projected[w, hw * 64 + u] = block[u]


@njit(cache=True, nogil=True)
def _descend(state, ranks, n_w, n_errors, bits, ext_tag, ext_len, ext_first, cursor,
             counts, error_counts, selected, min_support, max_size, sets, nodes,
             max_rows):  # fmt: skip
    """Depth-first search in the projected space of one tag, resumable.

    A node at ``depth`` is a set of ``depth`` tags; its children (the set plus
    one later tag, all frequent) are ``ext_tag[depth, :ext_len[depth]]``,
    recorded from row ``ext_first[depth]`` on, and ``bits[depth - 1, :, c]`` is the
    member bitset of child ``c``. Visiting child ``b`` records its frequent
    children ``b + {c}``, ``c > b`` (sets of size ``depth + 2``) and, when they
    may have children themselves, descends into ``b``. The first ``n_errors``
    bits of the space are the misclassified images.

    ``state`` is ``[depth, sets so far, nodes so far]`` and ``ranks[k]`` the number
    of sets of size ``k`` so far. The search stops when the arrays have no room for
    another batch of children (the caller grows them and calls again), when more
    than ``max_rows`` sets are found, or when it is done (depth 0).
    """
    depth = state[0]
    m = state[1]
    n_nodes = state[2]
    room = sets.shape[0] - ext_tag.shape[1] - 1
    stride = bits.shape[2]
    # The error prefix: error_end words, the last one partial unless n_errors % 64 == 0.
    error_end = (n_errors + 63) >> 6
    error_mask = _ALL if n_errors & 63 == 0 else (_ONE << np.uint64(n_errors & 63)) - _ONE
    while depth >= 1 and m <= room and m <= max_rows:
        b = cursor[depth]
        n_ext = ext_len[depth]
        if b + 1 >= n_ext:
            depth -= 1
            continue
        cursor[depth] = b + 1
        # Members (and misclassified members) of b + {c} for all c > b, 8 at a time.
        start = (depth - 1) * bits.shape[1] * stride
        for c in range((b + 1) & ~7, n_ext, 8):
            _and_counts8(counts, c, bits, start, stride, b, n_w, _ALL)
            _and_counts8(error_counts, c, bits, start, stride, b, error_end, error_mask)
        first = m
        size = depth + 2
        for c in range(b + 1, n_ext):  # write every candidate, keep the frequent
            _add_set(sets, m, ext_tag[depth, c], counts[c], counts[c] - error_counts[c])
            selected[m - first] = c
            m += counts[c] >= min_support
        if m == first:
            continue
        n_nodes = _add_node(sets, nodes, n_nodes, ext_first[depth] + b, depth + 1, first,
                            m - first, ranks[size])  # fmt: skip
        ranks[size] += m - first
        if size < max_size and m - first >= 2:
            child = depth + 1
            for w in range(n_w):
                q = bits[depth - 1, w, b]
                for k in range(m - first):
                    bits[depth, w, k] = q & bits[depth - 1, w, selected[k]]
                for k in range(m - first, (m - first + 7) & ~7):
                    bits[depth, w, k] = 0
            for k in range(m - first):
                ext_tag[child, k] = ext_tag[depth, selected[k]]
            ext_len[child] = m - first
            ext_first[child] = first
            cursor[child] = 0
            depth = child
    state[0] = depth
    state[1] = m
    state[2] = n_nodes


@njit(cache=True, nogil=True)
def search_frequent_sets(rows_bits, n_errors, n_tags, min_support, max_size, max_rows, sets,
                         nodes):  # fmt: skip
    """Enumerate all tag sets of size ``<= max_size`` with support ``>= min_support``.

    Parameters
    ----------
    rows_bits : (n, H) uint64
        Horizontal tag bitsets of the class's n images (see :func:`pack_rows`),
        misclassified images first. Tags ``0 .. n_tags - 1`` are enumerated in
        this order; each must have at least ``min_support`` images.
    n_errors : int
        Number of misclassified images (the first rows).
    n_tags : int
    min_support : int
        Minimum number of members of a reported set (``>= 1``).
    max_size : int
        Largest set size (``1 .. MAX_SIZE``).
    max_rows : int
        Stop once more than this many sets (the empty set included) are found.
    sets, nodes : int32 arrays
        Where to write (see :func:`new_table`); replaced by larger copies when full
        (``nodes`` needs as many rows as ``sets``).

    Returns
    -------
    sets, nodes : int32 arrays
        The filled arrays. Set 0 is the empty set, sets ``1 .. n_tags`` the single
        tags; a set comes before its supersets, and within a size sets are in
        lexicographic order. Node 0 is the empty set; a node comes before the
        nodes of its children.
    n_sets, n_nodes : int
        Number of sets and of nodes (rows used).
    size_counts : (MAX_SIZE + 2,) int64
        Number of sets of each size.
    complete : bool
        False when the search stopped at ``max_rows`` (the table is then partial).
    """
    n_images = rows_bits.shape[0]
    starts, members, tag_errors = _member_lists(rows_bits, n_tags, n_errors)
    max_members = 0
    for t in range(n_tags):
        if starts[t + 1] - starts[t] < min_support:
            raise ValueError("search_frequent_sets: a tag has fewer than min_support images")
        max_members = max(max_members, starts[t + 1] - starts[t])
    if sets.shape[0] < 2 * n_tags + 2:
        sets = _grown(sets, 2 * n_tags + 2)
    if nodes.shape[0] < sets.shape[0]:  # a node per set at most
        nodes = _grown(nodes, sets.shape[0])

    # Set 0: the empty set (all images), node 0; sets 1..n_tags: the single tags.
    ranks = np.zeros(MAX_SIZE + 2, dtype=np.int64)
    _add_set(sets, 0, -1, n_images, n_images - n_errors)
    for t in range(n_tags):
        count = starts[t + 1] - starts[t]
        _add_set(sets, 1 + t, t, count, count - tag_errors[t])
    ranks[0] = 1
    ranks[1] = n_tags
    m = 1 + n_tags
    n_nodes = _add_node(sets, nodes, 0, 0, 0, 1, n_tags, 0) if n_tags else 0
    complete = m <= max_rows

    max_words = max(1, (max_members + 63) >> 6)
    width = ((n_tags + 7) & ~7) + 8
    projected = np.zeros((max_words, width), dtype=np.uint64)
    projected[:, width - 1] = _ALL
    block = np.zeros(64, dtype=np.uint64)
    pair_n = np.zeros(width, dtype=np.int64)
    pair_errors = np.zeros(width, dtype=np.int64)
    depths = max(max_size - 1, 2)  # node depths 1 .. max_size - 2 (0 unused)
    # Bitsets of the children of the nodes on the path, depth d in bits[d - 1]; each
    # part is written before it is read.
    bits = np.empty((depths - 1, max_words if max_size >= 3 else 1, width), dtype=np.uint64)
    ext_tag = np.zeros((depths, width), dtype=np.int32)
    ext_len = np.zeros(depths, dtype=np.int64)
    ext_first = np.zeros(depths, dtype=np.int64)
    cursor = np.zeros(depths, dtype=np.int64)
    counts = np.zeros(width, dtype=np.int64)
    error_counts = np.zeros(width, dtype=np.int64)
    selected = np.zeros(width, dtype=np.int64)
    state = np.zeros(3, dtype=np.int64)

    for i in range(n_tags if max_size >= 2 and complete else 0):
        n_i = starts[i + 1] - starts[i]
        n_w = (n_i + 63) >> 6
        _project(rows_bits, members[starts[i] : starts[i + 1]], i, n_tags, projected, block)
        # Members (and misclassified members) of {i, t}: column ``width - 1`` is all ones.
        n_err = tag_errors[i]
        error_mask = _ALL if n_err & 63 == 0 else (_ONE << np.uint64(n_err & 63)) - _ONE
        for t in range((i + 1) & ~7, n_tags, 8):
            _and_counts8(pair_n, t, projected, 0, width, width - 1, n_w, _ALL)
            _and_counts8(pair_errors, t, projected, 0, width, width - 1, (n_err + 63) >> 6,
                         error_mask)  # fmt: skip

        # Pairs {i, t}: the children of set 1 + i.
        if m + n_tags + 1 > sets.shape[0]:
            sets = _grown(sets, 2 * sets.shape[0])
            nodes = _grown(nodes, sets.shape[0])
        first = m
        for t in range(i + 1, n_tags):  # write every candidate, keep the frequent
            _add_set(sets, m, t, pair_n[t], pair_n[t] - pair_errors[t])
            ext_tag[1, m - first] = t
            m += pair_n[t] >= min_support
        count = m - first
        if count:
            n_nodes = _add_node(sets, nodes, n_nodes, 1 + i, 1, first, count, ranks[2])
            ranks[2] += count
        if m > max_rows:
            complete = False
            break
        if max_size < 3 or count < 2:
            continue

        # Depth-first search in the space of tag i; {i} is the node at depth 1.
        for w in range(n_w):
            for c in range(count):
                bits[0, w, c] = projected[w, ext_tag[1, c]]
            for c in range(count, (count + 7) & ~7):
                bits[0, w, c] = 0
        ext_len[1] = count
        ext_first[1] = first
        cursor[1] = 0
        state[0] = 1
        state[1] = m
        state[2] = n_nodes
        while True:
            _descend(state, ranks, n_w, tag_errors[i], bits, ext_tag, ext_len, ext_first,
                     cursor, counts, error_counts, selected, min_support, max_size, sets,
                     nodes, max_rows)  # fmt: skip
            m = state[1]
            n_nodes = state[2]
            if state[0] == 0 or m > max_rows:
                break
            sets = _grown(sets, 2 * sets.shape[0])
            nodes = _grown(nodes, sets.shape[0])
        if m > max_rows:
            complete = False
            break
    return sets, nodes, m, n_nodes, ranks, complete
