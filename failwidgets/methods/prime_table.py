"""PRIME's candidate table: built from the per-class searches.

:func:`build_table` searches every class (threads; the kernels release the GIL)
and :func:`write_rows` (numba) lays out one class's search result
(:func:`failwidgets.methods.prime_search.search_frequent_sets`) as rows of the
candidate table: grouped by set size, tags relabelled to tag-matrix columns,
with the rows of the one-tag-removed subsets, accuracies, drops and minimality
gains. :func:`mode_mask` is the vectorised filter for failure modes.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from . import prime_search as search_kernel
from .prime_search import (
    LAST_TAG,
    MAX_SIZE,
    N_CORRECT,
    NODE,
    NODE_COUNT,
    NODE_FIRST,
    NODE_RANK,
    NODE_SET,
    NODE_SIZE,
    N,
)

__all__ = ["build_table", "write_rows", "mode_mask"]


@njit(cache=True, nogil=True)
def _nodes_by_size(nodes, n_nodes):
    """Nodes by the size of their set, in node (lexicographic) order within a size.

    A node's subsets are known once its parent is written, which this order
    ensures; it also writes each size's rows in order, one stream per size.
    """
    starts = np.zeros(MAX_SIZE + 2, dtype=np.int64)
    for node in range(n_nodes):
        starts[nodes[node, NODE_SIZE] + 1] += 1
    for k in range(1, MAX_SIZE + 2):
        starts[k] += starts[k - 1]
    order = np.empty(n_nodes, dtype=np.int64)
    for node in range(n_nodes):
        k = nodes[node, NODE_SIZE]
        order[starts[k]] = node
        starts[k] += 1
    return order


@njit(cache=True, nogil=True)
def write_rows(sets, nodes, n_nodes, size_counts, tag_ids, class_index, row_offset, out):
    """Lay one class's sets out in the candidate arrays, with their subsets' rows.

    Sets are grouped by size from ``row_offset`` on (lexicographic order within a
    size); tags become ``tag_ids[tag]``, in ascending order.

    The one-tag-removed subsets are found in the prefix tree: a child
    ``C = P + {x}`` of node ``P`` without ``x`` is ``P``, and without ``P``'s
    ``j``-th tag it is the child ``x`` of ``P`` without its ``j``-th tag, a node
    whose subsets are known (nodes are written by size).

    Parameters
    ----------
    sets, nodes, n_nodes, size_counts
        As returned by :func:`~failwidgets.methods.prime_search.search_frequent_sets`.
    tag_ids : (n_tags,) int32
        Column of each of the search's tags in the tag matrix.
    class_index, row_offset : int
    out : tuple
        ``(class_id, size, tag_ids, subset_rows, n, n_correct, accuracy, drop,
        min_gain)`` candidate arrays. ``subset_rows[:, j]`` is the row of the set
        without ``tag_ids[:, j]`` (the empty set's row for single tags, ``-1`` past
        the size); ``min_gain`` is ``min_j accuracy[subset j] - accuracy`` (NaN
        for the empty set) and ``drop`` the class accuracy minus the accuracy.
    """
    out_class, out_size, out_tags, out_sub, out_n, out_correct, out_acc, out_drop, out_gain = out
    width = out_tags.shape[1]
    starts = np.empty(MAX_SIZE + 2, dtype=np.int64)  # first final row of each size
    starts[0] = row_offset
    for k in range(MAX_SIZE + 1):
        starts[k + 1] = starts[k] + size_counts[k]
    class_accuracy = sets[0, N_CORRECT] / sets[0, N]
    g = starts[0]
    out_class[g] = class_index
    out_size[g] = 0
    out_n[g] = sets[0, N]
    out_correct[g] = sets[0, N_CORRECT]
    out_acc[g] = class_accuracy
    out_drop[g] = 0.0
    out_gain[g] = np.nan
    for p in range(width):
        out_tags[g, p] = -1
        out_sub[g, p] = -1

    n_tags = max(tag_ids.shape[0], 1)
    # Per column j and tag x: the set of child x of node filled[j] (siblings share
    # the node of their last column, so it is kept).
    filled = np.full(width, -1, dtype=np.int64)
    slot_set = np.zeros((width, n_tags), dtype=np.int64)
    # The same for one node's children: column j is the child without tag j.
    sub_set = np.empty((n_tags, width), dtype=np.int64)
    sub_row = np.empty((n_tags, width), dtype=np.int64)
    sub_accuracy = np.empty((n_tags, width), dtype=np.float64)
    # Final row, tags and subsets' sets of each node, filled when the node is written.
    node_row = np.empty(max(n_nodes, 1), dtype=np.int64)
    node_row[0] = starts[0]
    node_tags = np.empty((max(n_nodes, 1), width), dtype=np.int32)
    node_sub = np.empty((max(n_nodes, 1), width), dtype=np.int32)
    sorted_tags = np.empty(width, dtype=np.int64)
    order = np.empty(width, dtype=np.int64)

    for node in _nodes_by_size(nodes, n_nodes):
        parent = nodes[node, NODE_SET]
        k = nodes[node, NODE_SIZE]
        first = nodes[node, NODE_FIRST]
        count = nodes[node, NODE_COUNT]
        first_row = starts[k + 1] + nodes[node, NODE_RANK]
        parent_row = node_row[node]
        parent_accuracy = sets[parent, N_CORRECT] / sets[parent, N]
        for c in range(count):
            sub_set[c, k] = parent
            sub_row[c, k] = parent_row
            sub_accuracy[c, k] = parent_accuracy
        for j in range(k):
            other = sets[node_sub[node, j], NODE]
            if other < 0:
                raise RuntimeError("subset of a frequent set missing from the table")
            low = nodes[other, NODE_FIRST]
            high = low + nodes[other, NODE_COUNT]
            if filled[j] != other:
                filled[j] = other
                for r in range(low, high):
                    slot_set[j, sets[r, LAST_TAG]] = r
            for c in range(count):
                x = sets[first + c, LAST_TAG]
                r = slot_set[j, x]
                if r < low or r >= high or sets[r, LAST_TAG] != x:
                    raise RuntimeError("subset of a frequent set missing from the table")
                sub_set[c, j] = r
                sub_row[c, j] = starts[k] + nodes[other, NODE_RANK] + r - low
                sub_accuracy[c, j] = sets[r, N_CORRECT] / sets[r, N]
        # The node's tags in tag-matrix order and their places in the node: a
        # child's tags are these with its last tag inserted at its rank.
        for p in range(k):
            tag = tag_ids[node_tags[node, p]]
            rank = 0
            for q in range(k):
                rank += tag_ids[node_tags[node, q]] < tag
            sorted_tags[rank] = tag
            order[rank] = p
        for c in range(count):
            row = first + c
            g = first_row + c
            child_node = sets[row, NODE]
            if child_node >= 0:
                node_row[child_node] = g
                for p in range(k):
                    node_tags[child_node, p] = node_tags[node, p]
                node_tags[child_node, k] = sets[row, LAST_TAG]
                for p in range(k + 1):
                    node_sub[child_node, p] = sub_set[c, p]
            accuracy = sets[row, N_CORRECT] / sets[row, N]
            new_tag = tag_ids[sets[row, LAST_TAG]]
            at = 0
            for r in range(k):
                at += sorted_tags[r] < new_tag
            best = sub_accuracy[c, k]
            for r in range(k):
                p = order[r]
                shifted = r + (r >= at)
                out_tags[g, shifted] = sorted_tags[r]
                out_sub[g, shifted] = sub_row[c, p]
                best = min(best, sub_accuracy[c, p])
            out_tags[g, at] = new_tag
            out_sub[g, at] = sub_row[c, k]
            for p in range(k + 1, width):
                out_tags[g, p] = -1
                out_sub[g, p] = -1
            out_class[g] = class_index
            out_size[g] = k + 1
            out_n[g] = sets[row, N]
            out_correct[g] = sets[row, N_CORRECT]
            out_acc[g] = accuracy
            out_drop[g] = class_accuracy - accuracy
            out_gain[g] = best - accuracy


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


# ---------------------------------------------------------------------- driver


def _search_class(matrix, correct, rows, min_count, min_support, max_size, max_rows, capacity):
    """Kept tags (ascending column) and the search result of one class's ``rows``."""
    counts = search_kernel.class_tag_counts(matrix, rows)
    kept = np.flatnonzero(counts >= min_count)
    # Ascending frequency: rare tags first makes the depth-first search cheapest.
    kept = kept[np.argsort(counts[kept], kind="stable")]
    searched = kept[counts[kept] >= min_support].astype(np.int32)
    ok = correct[rows]
    errors_first = rows[np.argsort(ok, kind="stable")]
    sets, nodes, n_sets, n_nodes, size_counts, complete = search_kernel.search_frequent_sets(
        search_kernel.pack_rows(matrix, errors_first, searched),
        int(ok.size - np.count_nonzero(ok)),
        len(searched),
        min_support,
        max_size,
        max_rows,
        *search_kernel.new_table(capacity),
    )
    found = (sets, nodes, n_sets, n_nodes, size_counts, searched)
    return np.sort(kept), found if complete else None


def build_table(matrix, correct, class_images, class_names, *, min_count, min_support,
                max_size, max_candidates, n_jobs):  # fmt: skip
    """Search every class and lay the sets out as one candidate table.

    Parameters
    ----------
    matrix : (N, T) bool, C-contiguous
        The tag matrix.
    correct : (N,) bool
    class_images : list of int64 arrays
        The searched images of each class.
    class_names : names, for error messages.
    min_count, min_support, max_size, max_candidates, n_jobs
        As in :func:`failwidgets.methods.prime.search` (``n_jobs >= 1`` threads).

    Returns
    -------
    kept : list of arrays
        Per class, the tags with at least ``min_count`` of its images.
    offsets : (n_classes + 1,) int64
        The rows of class ``c`` are ``offsets[c] .. offsets[c + 1] - 1``.
    columns : dict
        ``class_id``, ``size``, ``tag_ids``, ``subset_rows``, ``n``, ``n_correct``,
        ``accuracy``, ``drop``, ``min_gain`` (see :func:`write_rows`).
    """
    n_classes = len(class_images)
    capacity = [1 << 16]  # grows to the largest table seen; threads share it

    def find(c: int):
        rows = class_images[c]
        if rows.size == 0:
            return np.zeros(0, dtype=np.int64), None
        kept, found = _search_class(
            matrix, correct, rows, min_count, min_support, max_size, max_candidates, capacity[0]
        )
        if found is None:
            raise ValueError(
                f"max_candidates: class {class_names[c]!r} has more than {max_candidates} "
                "tag sets with enough support; raise min_support (or min_count) or lower "
                "max_size"
            )
        capacity[0] = max(capacity[0], found[2] + found[2] // 4)
        return kept, found

    n_threads = min(n_jobs, n_classes)
    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        run = pool.map if n_threads > 1 else map
        order = sorted(range(n_classes), key=lambda c: -len(class_images[c]))
        results = dict(zip(order, run(find, order)))
        offsets = np.zeros(n_classes + 1, dtype=np.int64)
        for c in range(n_classes):
            found = results[c][1]
            offsets[c + 1] = offsets[c] + (0 if found is None else found[2])
        total = int(offsets[-1])
        if total >= np.iinfo(np.int32).max:
            raise ValueError("max_candidates: the candidate table exceeds 2**31 rows")
        columns = {
            "class_id": np.empty(total, dtype=np.int32),
            "size": np.empty(total, dtype=np.int8),
            "tag_ids": np.empty((total, max_size), dtype=np.int32),
            "subset_rows": np.empty((total, max_size), dtype=np.int32),
            "n": np.empty(total, dtype=np.int32),
            "n_correct": np.empty(total, dtype=np.int32),
            "accuracy": np.empty(total, dtype=np.float64),
            "drop": np.empty(total, dtype=np.float64),
            "min_gain": np.empty(total, dtype=np.float64),
        }
        out = tuple(columns.values())

        def write(c: int) -> None:
            sets, nodes, _, n_nodes, size_counts, searched = results.pop(c)[1]
            write_rows(sets, nodes, n_nodes, size_counts, searched, c, offsets[c], out)

        kept = [results[c][0] for c in range(n_classes)]
        list(run(write, [c for c in order if results[c][1] is not None]))
    return kept, offsets, columns
