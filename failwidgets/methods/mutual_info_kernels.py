"""Numba kernels of :mod:`failwidgets.methods.mutual_info` (one chunk of feature columns).

Two steps per chunk of columns, with NumPy's sort in between:

1. :func:`prepare_chunk` scales every column as scikit-learn does (NumPy's pairwise sums,
   reproduced operation by operation, for all columns of the chunk at once; the division
   by the standard deviation is done in the pass that sums ``|x|``), adds the tie-breaking
   noise on the way into each column's class segments of a scratch row (one row per
   feature). The caller then sorts every class segment (``ndarray.sort``).
2. :func:`digamma_sums` finds each sample's radius (just under the distance to its k-th
   nearest neighbour of the same class), merges the sorted classes into one sorted row per
   feature (values and radii together) and counts, for every sample, the samples of all
   classes within its radius (``m_i``: WINDOW neighbours a side for every sample, without
   branches; up to FAR_WINDOW for the few that need more, then one by one); it writes each
   feature's MI, ``max(constant - mean_i psi(m_i), 0)``.

A scratch row holds one segment per class, ``[pad x -inf | n_c sorted values | pad x +inf]``.
All kernels are compiled on first use and cached on disk (``cache=True``), with NumPy's
error model (no zero-division checks: no divisor can be 0, and the loops vectorise).
"""

from __future__ import annotations

import numpy as np
from numba import njit

_EPS10 = 10.0 * np.finfo(np.float64).eps
# dk * (1 - 2**-53) == nextafter(dk, 0) for every dk >= _SAFE (twice the smallest normal).
_SAFE = 2.0 * np.finfo(np.float64).tiny
_JUST_BELOW_ONE = 1.0 - 2.0**-53
# Neighbours tested on each side of a sample without branches when counting m_i; the count
# goes on past them only when all of them are within the radius: first to FAR_WINDOW
# neighbours (again without branches), then one by one. Merged rows carry FAR_WINDOW
# -inf / +inf sentinels on each side.
WINDOW = 8
FAR_WINDOW = 24
# m_i is at most 2 * WINDOW + 1 after the window; a flag above it marks the samples whose
# count goes on past the window.
FAR_FLAG = 16
FAR_MASK = (1 << FAR_FLAG) - 1
# Rows (features) merged in lockstep: independent chains of dependent loads overlap.
LANES = 4


# --------------------------------------------------------------------------- column scaling
# What a column sum adds up: the values, their squared deviations from a centre, their
# absolute values, or the absolute values of the values divided by a divisor (``centre``),
# which are stored in place of the values (the sums of scikit-learn's scaling and noise).
PLAIN, SQUARED_DEVIATION, ABSOLUTE, DIVIDED_ABSOLUTE = 0, 1, 2, 3


@njit(nogil=True, cache=True, error_model="numpy", inline="always")
def _term(a, i, j, what, centre):  # pragma: no cover - numba
    v = a[i, j]
    if what == SQUARED_DEVIATION:
        d = v - centre
        return d * d
    if what == ABSOLUTE:
        return abs(v)
    if what == DIVIDED_ABSOLUTE:
        v = v / centre
        a[i, j] = v
        return abs(v)
    return v


@njit(nogil=True, cache=True, error_model="numpy", inline="always")
def _leaf_sums(a, start, n, what, centre, acc, res):  # pragma: no cover - numba
    """Leaf of NumPy's pairwise summation for every column of ``a`` at once: ``res[j]`` is
    the sum of ``term(a[start:start + n, j])`` with 8 accumulators (``n <= 128``)."""
    width = a.shape[1]
    if n < 8:
        for j in range(width):
            res[j] = 0.0
        for i in range(start, start + n):
            for j in range(width):
                res[j] += _term(a, i, j, what, centre[j])
        return
    for t in range(8):
        for j in range(width):
            acc[t, j] = _term(a, start + t, j, what, centre[j])
    i = 8
    stop = n - (n % 8)
    while i < stop:
        for t in range(8):
            for j in range(width):
                acc[t, j] += _term(a, start + i + t, j, what, centre[j])
        i += 8
    for j in range(width):
        res[j] = ((acc[0, j] + acc[1, j]) + (acc[2, j] + acc[3, j])) + (
            (acc[4, j] + acc[5, j]) + (acc[6, j] + acc[7, j])
        )
    while i < n:
        for j in range(width):
            res[j] += _term(a, start + i, j, what, centre[j])
        i += 1


@njit(nogil=True, cache=True, error_model="numpy")
def _leaf_sums_of(a, start, n, what, centre, acc, res):  # pragma: no cover - numba
    # one specialised copy of the leaf per term (the branch stays out of the inner loops)
    if what == SQUARED_DEVIATION:
        _leaf_sums(a, start, n, SQUARED_DEVIATION, centre, acc, res)
    elif what == ABSOLUTE:
        _leaf_sums(a, start, n, ABSOLUTE, centre, acc, res)
    elif what == DIVIDED_ABSOLUTE:
        _leaf_sums(a, start, n, DIVIDED_ABSOLUTE, centre, acc, res)
    else:
        _leaf_sums(a, start, n, PLAIN, centre, acc, res)


@njit(nogil=True, cache=True, error_model="numpy")
def _half(n):  # pragma: no cover - numba
    h = n // 2
    return h - h % 8


@njit(nogil=True, cache=True, error_model="numpy")
def column_sums(a, res, what=PLAIN, centre=None):  # pragma: no cover - numba
    """``res[:] = np.sum(term(a), axis=0)`` for a C-ordered (n, width) float64 ``a``, bit
    for bit as NumPy sums a contiguous column: pairwise, ``sum(left) + sum(right)`` down to
    blocks of at most 128 values (the left half holding ``n // 2`` rounded down to a
    multiple of 8). ``term`` is the value (``PLAIN``), ``(value - centre[j]) ** 2``
    (``SQUARED_DEVIATION``), ``|value|`` (``ABSOLUTE``) or, with ``DIVIDED_ABSOLUTE``,
    ``|value / centre[j]|`` with ``a[i, j] = value / centre[j]`` stored in place (one pass
    for scikit-learn's ``X /= std`` and the sum of ``|X|`` that follows).

    The recursion runs on an explicit stack (numba cannot cache recursive functions).
    """
    n = a.shape[0]
    width = a.shape[1]
    centres = np.zeros(width) if centre is None else centre
    acc = np.empty((8, width))
    if n <= 128:
        _leaf_sums_of(a, 0, n, what, centres, acc, res)
        return
    left = np.empty((64, width))  # finished left halves, by stack level
    starts = np.empty(64, dtype=np.int64)
    sizes = np.empty(64, dtype=np.int64)
    stages = np.empty(64, dtype=np.int64)  # 0: not split yet, 1: in the left, 2: in the right
    sp = 0
    starts[0] = 0
    sizes[0] = n
    stages[0] = 0
    while True:
        m = sizes[sp]
        if m > 128:  # descend into the left half
            stages[sp] = 1
            starts[sp + 1] = starts[sp]
            sizes[sp + 1] = _half(m)
            stages[sp + 1] = 0
            sp += 1
            continue
        _leaf_sums_of(a, starts[sp], m, what, centres, acc, res)
        sp -= 1
        while sp >= 0:
            if stages[sp] == 1:  # left half done: keep it, descend into the right half
                for j in range(width):
                    left[sp, j] = res[j]
                stages[sp] = 2
                h = _half(sizes[sp])
                starts[sp + 1] = starts[sp] + h
                sizes[sp + 1] = sizes[sp] - h
                stages[sp + 1] = 0
                sp += 1
                break
            for j in range(width):  # both halves done
                res[j] = left[sp, j] + res[j]
            sp -= 1
        if sp < 0:
            return


@njit(nogil=True, cache=True, error_model="numpy")
def prepare_chunk(features, rows, c0, c1, noise, order, targets, out):  # pragma: no cover
    """Scale, add noise and write columns ``c0:c1`` of ``features[rows]`` into ``out``.

    Mirrors scikit-learn: ``scale(X, with_mean=False)`` (mean, then standard deviation of
    each column with NumPy's pairwise sums; a deviation under ``10 * eps`` counts as 1), then
    ``X += (1e-10 * max(1, mean|X|)) * z`` with ``z = noise[i, jj]`` (an (n, c1 - c0) array).
    Sample ``order[s]`` of column ``c0 + jj`` goes to ``out[jj, targets[s]]`` (samples missing
    from ``order`` count in the statistics only). Returns ``(-1, -1)``, or the (sample,
    column) of the first non-finite value, scanning column by column.
    """
    n = rows.shape[0]
    width = c1 - c0
    x = np.empty((n, width))
    finite = True
    for i in range(n):
        source = features[rows[i]]
        for jj in range(width):
            v = np.float64(source[c0 + jj])
            x[i, jj] = v
            finite &= abs(v) < np.inf  # False for NaN and +-inf
    if not finite:
        for jj in range(width):
            for i in range(n):
                if not np.isfinite(x[i, jj]):
                    return i, c0 + jj
    sums = np.empty(width)
    column_sums(x, sums)
    mean = np.empty(width)
    for jj in range(width):
        mean[jj] = (0.0 + sums[jj]) / n
    column_sums(x, sums, SQUARED_DEVIATION, mean)
    std = np.empty(width)
    for jj in range(width):
        s = np.sqrt((0.0 + sums[jj]) / n)
        std[jj] = 1.0 if s < _EPS10 else s
    column_sums(x, sums, DIVIDED_ABSOLUTE, std)  # x /= std on the way
    scale = np.empty(width)
    for jj in range(width):
        scale[jj] = 1e-10 * max(1.0, (0.0 + sums[jj]) / n)
    for s in range(order.shape[0]):  # noise added on the way into the class segments
        i = order[s]
        t = targets[s]
        for jj in range(width):
            out[jj, t] = x[i, jj] + scale[jj] * noise[i, jj]
    return -1, -1


# --------------------------------------------------------------------------- radii
@njit(nogil=True, cache=True, error_model="numpy", inline="always")
def _window_radii(row, start, stop, k, radius):  # pragma: no cover - numba
    # The k nearest neighbours of a point on a line are a window of k + 1 consecutive sorted
    # values: d_k is the smallest of the windows' widths. Unsigned indices (all >= 0 thanks
    # to the padding) spare numba's negative-index wrap-around, so the loop vectorises.
    # Returns True when some radius is tiny or 0 (to be redone with the exact nextafter).
    tiny = False
    for p in range(np.uint64(start), np.uint64(stop)):
        v = row[p]
        dk = np.inf
        for a in range(k + np.uint64(1)):
            below = v - row[p - a]
            above = row[p + k - a] - v
            wider = below if below > above else above
            dk = wider if wider < dk else dk
        r = dk * _JUST_BELOW_ONE  # == nextafter(dk, 0) for dk >= _SAFE
        tiny |= r < _SAFE
        radius[p] = r
    return tiny


@njit(nogil=True, cache=True, error_model="numpy")
def window_radii(row, start, stop, k, radius):  # pragma: no cover - numba
    """``radius[p] = nextafter(d_k, 0)`` for the samples ``start:stop`` of a sorted, padded
    class segment searched with a tree in scikit-learn (exact distances ``|x_i - x_j|``)."""
    if k == 3:  # a literal k: the window loops unroll
        tiny = _window_radii(row, start, stop, np.uint64(3), radius)
    elif k == 2:
        tiny = _window_radii(row, start, stop, np.uint64(2), radius)
    elif k == 1:
        tiny = _window_radii(row, start, stop, np.uint64(1), radius)
    else:
        tiny = _window_radii(row, start, stop, np.uint64(k), radius)
    if tiny:
        for p in range(start, stop):
            if radius[p] < _SAFE:
                v = row[p]
                dk = np.inf
                for a in range(k + 1):
                    dk = min(dk, max(v - row[p - a], row[p + k - a] - v))
                radius[p] = np.nextafter(dk, 0.0)


@njit(nogil=True, cache=True, error_model="numpy")
def brute_radii(row, start, stop, k, radius, buf):  # pragma: no cover - numba
    """The same for a small class, searched by brute force in scikit-learn: squared
    distances ``x^2 - 2xy + y^2`` (the GEMM decomposition, in this order), clipped at 0,
    square root of the k-th smallest."""
    for p in range(start, stop):
        v = row[p]
        vv = v * v
        m = 0
        for q in range(start, stop):
            if q != p:
                w = row[q]
                d2 = (vv + (-2.0 * (v * w))) + w * w
                buf[m] = 0.0 if d2 < 0.0 else d2
                m += 1
        buf[:m].sort()
        dk = np.sqrt(buf[k - 1])
        radius[p] = dk * _JUST_BELOW_ONE if dk >= _SAFE else np.nextafter(dk, 0.0)


# --------------------------------------------------------------------------- merging
@njit(nogil=True, cache=True, error_model="numpy")
def merge_lanes(va, ra, a0, na, vb, rb, b0, nb, vo, ro, o0):  # pragma: no cover - numba
    """Merge two sorted, +inf-terminated runs of every row: values ``va[r, a0:a0 + na]`` with
    their radii ``ra`` and ``vb[r, b0:b0 + nb]`` with ``rb`` into ``vo[r, o0:]`` / ``ro``.

    Branch-free; each merge is a chain of dependent loads, so up to LANES rows (runs of the
    same sizes) advance in lockstep to overlap the chains.
    """
    one = np.uint64(1)
    n = np.uint64(na + nb)
    out0 = np.uint64(o0)
    if va.shape[0] == LANES:
        i0 = i1 = i2 = i3 = np.uint64(a0)
        j0 = j1 = j2 = j3 = np.uint64(b0)
        for s in range(n):
            t0 = vb[0, j0] < va[0, i0]
            t1 = vb[1, j1] < va[1, i1]
            t2 = vb[2, j2] < va[2, i2]
            t3 = vb[3, j3] < va[3, i3]
            q = out0 + s
            vo[0, q] = vb[0, j0] if t0 else va[0, i0]
            vo[1, q] = vb[1, j1] if t1 else va[1, i1]
            vo[2, q] = vb[2, j2] if t2 else va[2, i2]
            vo[3, q] = vb[3, j3] if t3 else va[3, i3]
            ro[0, q] = rb[0, j0] if t0 else ra[0, i0]
            ro[1, q] = rb[1, j1] if t1 else ra[1, i1]
            ro[2, q] = rb[2, j2] if t2 else ra[2, i2]
            ro[3, q] = rb[3, j3] if t3 else ra[3, i3]
            j0 += np.uint64(t0)
            j1 += np.uint64(t1)
            j2 += np.uint64(t2)
            j3 += np.uint64(t3)
            i0 += one - np.uint64(t0)
            i1 += one - np.uint64(t1)
            i2 += one - np.uint64(t2)
            i3 += one - np.uint64(t3)
        return
    for r in range(va.shape[0]):
        i = np.uint64(a0)
        j = np.uint64(b0)
        for s in range(n):
            t = vb[r, j] < va[r, i]
            q = out0 + s
            vo[r, q] = vb[r, j] if t else va[r, i]
            ro[r, q] = rb[r, j] if t else ra[r, i]
            j += np.uint64(t)
            i += one - np.uint64(t)


# --------------------------------------------------------------------------- counting
@njit(nogil=True, cache=True, error_model="numpy")
def digamma_sum_merged(row, rad, n, psi, m, todo):  # pragma: no cover - numba
    """``sum psi(m_p)`` over the sorted values ``row[FAR_WINDOW:FAR_WINDOW + n]`` (FAR_WINDOW
    sentinels on each side), where ``m_p`` counts the values within ``rad[p]`` of ``row[p]``,
    itself included: WINDOW neighbours on each side for all samples without branches, then
    up to FAR_WINDOW for the few whose neighbours were all within, and one by one beyond."""
    w = np.uint64(WINDOW)
    far_w = np.uint64(FAR_WINDOW)
    start = np.uint64(FAR_WINDOW)
    stop = start + np.uint64(n)
    for p in range(start, stop):  # vectorises: no branches, no dependent stores
        v = row[p]
        r = rad[p]
        count = 1
        for t in range(np.uint64(1), w + np.uint64(1)):
            count += (row[p + t] - v <= r) + (v - row[p - t] <= r)
        # bit FAR_FLAG marks a sample whose outermost window neighbours are within
        far = (row[p + w] - v <= r) | (v - row[p - w] <= r)
        m[p] = count + (np.int64(far) << FAR_FLAG)
    n_todo = 0
    for p in range(start, stop):  # the samples to count further
        todo[n_todo] = p
        n_todo += m[p] >> FAR_FLAG
    for q in range(n_todo):
        p = todo[q]
        v = row[p]
        r = rad[p]
        extra = 0
        # a side whose WINDOW-th neighbour is out adds 0 here (the row is sorted)
        for t in range(w + np.uint64(1), far_w + np.uint64(1)):
            extra += (row[p + t] - v <= r) + (v - row[p - t] <= r)
        t = far_w + np.uint64(1)  # row[p + FAR_WINDOW] is a value when within: in bounds
        if row[p + far_w] - v <= r:
            while row[p + t] - v <= r:
                t += np.uint64(1)
                extra += 1
        t = far_w + np.uint64(1)
        if v - row[p - far_w] <= r:
            while v - row[p - t] <= r:
                t += np.uint64(1)
                extra += 1
        m[p] = (m[p] & FAR_MASK) + extra
    s0 = s1 = s2 = s3 = 0.0  # independent chains of additions
    p = start
    last = stop - np.uint64(n % 4)
    while p < last:
        s0 += psi[m[p]]
        s1 += psi[m[p + np.uint64(1)]]
        s2 += psi[m[p + np.uint64(2)]]
        s3 += psi[m[p + np.uint64(3)]]
        p += np.uint64(4)
    total = (s0 + s1) + (s2 + s3)
    while p < stop:
        total += psi[m[p]]
        p += np.uint64(1)
    return total


@njit(nogil=True, cache=True, error_model="numpy")
def digamma_sums(block, starts, counts, kvals, brute, psi, constant, out):  # pragma: no cover
    """``out[j] = max(constant - mean_i psi(m_i), 0)``, the MI of each row ``j`` of ``block``
    (one feature per row), ``mean_i psi(m_i)`` taken over the samples of all classes.

    Class ``c`` occupies ``starts[c]:starts[c] + counts[c]`` of every row, sorted ascending
    and padded with at least n_neighbors -inf before and +inf after. ``m_i``
    counts the samples of all classes within sample i's radius.
    """
    n_classes = counts.shape[0]
    n_rows = block.shape[0]
    n_kept = 0
    most = 1
    for c in range(n_classes):
        n_kept += counts[c]
        most = max(most, counts[c])
    span = n_kept + 2 * FAR_WINDOW
    radius = np.empty((LANES, block.shape[1]))
    # merged rows (values, radii): the final one, and two buffers for more than two classes
    merged = np.empty((3, LANES, span))
    radii = np.empty((3, LANES, span))
    merged[:, :, :FAR_WINDOW] = -np.inf
    radii[:, :, :FAR_WINDOW] = 0.0
    m = np.empty(span, dtype=np.int64)
    todo = np.empty(span, dtype=np.uint64)
    buf = np.empty(most)
    for j0 in range(0, n_rows, LANES):
        j1 = min(j0 + LANES, n_rows)
        rows = block[j0:j1]
        rads = radius[: j1 - j0]
        for r in range(j1 - j0):
            for c in range(n_classes):
                stop = starts[c] + counts[c]
                if brute[c]:
                    brute_radii(rows[r], starts[c], stop, kvals[c], rads[r], buf)
                else:
                    window_radii(rows[r], starts[c], stop, kvals[c], rads[r])
        values = merged[0, : j1 - j0]
        values_r = radii[0, : j1 - j0]
        if n_classes == 1:
            values[:, FAR_WINDOW : FAR_WINDOW + n_kept] = rows[:, starts[0] : starts[0] + n_kept]
            values_r[:, FAR_WINDOW : FAR_WINDOW + n_kept] = rads[:, starts[0] : starts[0] + n_kept]
            values[:, FAR_WINDOW + n_kept :] = np.inf
        else:
            va = rows
            ra = rads
            a0 = starts[0]
            na = counts[0]
            for c in range(1, n_classes):
                target = 0 if c == n_classes - 1 else 1 + (c % 2)
                vo = merged[target, : j1 - j0]
                ro = radii[target, : j1 - j0]
                merge_lanes(va, ra, a0, na, rows, rads, starts[c], counts[c], vo, ro, FAR_WINDOW)
                na += counts[c]
                vo[:, FAR_WINDOW + na : FAR_WINDOW + na + FAR_WINDOW] = np.inf  # sentinels
                va = vo
                ra = ro
                a0 = FAR_WINDOW
        for r in range(j1 - j0):
            total = digamma_sum_merged(values[r], values_r[r], n_kept, psi, m, todo)
            out[j0 + r] = max(constant - total / n_kept, 0.0)
