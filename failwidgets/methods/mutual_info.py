"""Exact, fast k-NN mutual information between continuous features and a discrete target.

:func:`mutual_info_classif` returns the same numbers as
``sklearn.feature_selection.mutual_info_classif(X, y, random_state=rs)`` (dense, continuous
features) but is about two orders of magnitude faster. It is the same estimator (Ross 2014,
the discrete-target variant of Kraskov et al.) carried out step by step as scikit-learn does:

1. ``X`` in float64, each column divided by its standard deviation (columns with a standard
   deviation below ``10 * eps`` are left unscaled), as ``sklearn.preprocessing.scale``.
2. Tie-breaking noise ``1e-10 * max(1, mean|x|) * z`` added with ``z`` the first ``N * D``
   draws of ``check_random_state(rs).standard_normal`` in row-major order. For an integer seed
   the draws are generated once and cached (they do not depend on the data).
3. For every sample, the distance to its ``k = min(n_neighbors, n_c - 1)``-th nearest neighbour
   among the ``n_c`` samples of its own class; scikit-learn's brute-force neighbour search
   (used for classes with ``k >= n_c // 2``) computes it as ``sqrt(x_i^2 - 2 x_i x_j + x_j^2)``
   and so does this module for those classes, elsewhere it is ``|x_i - x_j|``.
4. ``m_i`` = number of samples (own class included, samples of single-member classes
   excluded) within ``nextafter(d_k, 0)``, and
   ``MI = psi(N) + <psi(k)> - <psi(n_c)> - <psi(m)>``, clipped at 0.

Each feature is one-dimensional, so neighbours come from sorting: the class-wise sorted
columns are scanned in one pass with numba kernels instead of building a KD-tree per column.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from numbers import Integral

import numpy as np
from numba import njit

__all__ = ["mutual_info_classif", "clear_noise_cache"]

# Float64 noise draws kept per (seed, n_features); 2**26 values = 512 MiB at most.
NOISE_CACHE_MAX_VALUES = 2**26
# Columns processed per kernel call (bounds the scratch memory to BLOCK x N float64).
COLUMN_BLOCK = 64

_EPS10 = 10.0 * np.finfo(np.float64).eps
# dk * (1 - 2**-53) == nextafter(dk, 0) for every dk >= _SAFE (twice the smallest normal).
_SAFE = 2.0 * np.finfo(np.float64).tiny
_JUST_BELOW_ONE = 1.0 - 2.0**-53
# -inf / +inf sentinels around each class segment of the sorted scratch rows.
PAD = 8


# --------------------------------------------------------------------------- noise draws
class _NoiseCache:
    """Standard-normal draws of ``RandomState(seed)``, stored transposed as (D, n_rows)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._store: dict[tuple[int, int], np.ndarray] = {}

    def get(self, seed: int, n: int, n_features: int) -> np.ndarray:
        key = (int(seed), int(n_features))
        with self._lock:
            cached = self._store.get(key)
            if cached is not None and cached.shape[1] >= n:
                return cached
            if n * n_features > NOISE_CACHE_MAX_VALUES:
                return _transposed_draws(np.random.RandomState(seed), n, n_features)
            rows = n if cached is None else max(n, min(2 * cached.shape[1], _cap(n_features)))
            draws = _transposed_draws(np.random.RandomState(seed), rows, n_features)
            self._store[key] = draws
            return draws

    def clear(self) -> None:
        with self._lock:
            self._store.clear()


def _cap(n_features: int) -> int:
    return max(1, NOISE_CACHE_MAX_VALUES // max(1, n_features))


def _transposed_draws(rng: np.random.RandomState, n: int, n_features: int) -> np.ndarray:
    # The draws are consumed in C order of an (n, D) array; keep them as (D, n) so that a
    # column's noise is contiguous. A prefix of the stream does not depend on its length, so
    # the first n rows of a larger draw are the draws of a smaller call.
    return np.ascontiguousarray(rng.standard_normal(size=(n, n_features)).T)


_NOISE = _NoiseCache()


def clear_noise_cache() -> None:
    """Free the cached noise draws (they are re-created on demand)."""
    _NOISE.clear()


def _noise_for(random_state, n: int, n_features: int) -> np.ndarray:
    if random_state is None or isinstance(random_state, np.random.RandomState):
        rng = np.random.mtrand._rand if random_state is None else random_state
        return _transposed_draws(rng, n, n_features)
    if isinstance(random_state, Integral) and not isinstance(random_state, bool):
        if not 0 <= int(random_state) < 2**32:
            raise ValueError(f"random_state: seed must be in [0, 2**32), got {random_state}")
        return _NOISE.get(int(random_state), n, n_features)
    raise TypeError(
        "random_state: expected None, an int seed or a numpy RandomState, got "
        f"{type(random_state).__name__}"
    )


# --------------------------------------------------------------------------- kernels
@njit(nogil=True, cache=True)
def _block_sum(a, start, n):  # pragma: no cover - numba
    # Leaf of NumPy's pairwise summation: 8 accumulators for blocks of up to 128 values.
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[start + i]
        return res
    r0 = a[start]
    r1 = a[start + 1]
    r2 = a[start + 2]
    r3 = a[start + 3]
    r4 = a[start + 4]
    r5 = a[start + 5]
    r6 = a[start + 6]
    r7 = a[start + 7]
    i = 8
    stop = n - (n % 8)
    while i < stop:
        b = start + i
        r0 += a[b]
        r1 += a[b + 1]
        r2 += a[b + 2]
        r3 += a[b + 3]
        r4 += a[b + 4]
        r5 += a[b + 5]
        r6 += a[b + 6]
        r7 += a[b + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[start + i]
        i += 1
    return res


@njit(nogil=True, cache=True)
def _half(n):  # pragma: no cover - numba
    h = n // 2
    return h - h % 8


@njit(nogil=True, cache=True)
def _pairwise_sum(a, n, frames):  # pragma: no cover - numba
    """NumPy's pairwise summation of ``a[:n]`` (what ``np.sum`` does along a contiguous axis),
    reproduced operation by operation so that sums agree to the last bit.

    NumPy recurses (``sum(left half) + sum(right half)`` down to blocks of 128); this walks the
    same tree with an explicit stack (numba cannot cache recursive functions).
    ``frames`` is int64 scratch of shape (3, 64): start, length and stage of each frame.
    """
    if n <= 128:
        return _block_sum(a, 0, n)
    left = np.empty(64)
    sp = 0
    frames[0, 0] = 0
    frames[1, 0] = n
    frames[2, 0] = 0
    while True:
        start = frames[0, sp]
        m = frames[1, sp]
        if m > 128:  # descend into the left half
            frames[2, sp] = 1
            sp += 1
            frames[0, sp] = start
            frames[1, sp] = _half(m)
            frames[2, sp] = 0
            continue
        value = _block_sum(a, start, m)
        sp -= 1
        while sp >= 0:
            if frames[2, sp] == 1:  # left half done: keep it, descend into the right half
                left[sp] = value
                frames[2, sp] = 2
                h = _half(frames[1, sp])
                sp += 1
                frames[0, sp] = frames[0, sp - 1] + h
                frames[1, sp] = frames[1, sp - 1] - h
                frames[2, sp] = 0
                break
            value = left[sp] + value  # both halves done
            sp -= 1
        if sp < 0:
            return value


@njit(nogil=True, cache=True)
def _prepare_block(features, rows, j0, j1, noise_t, dest, out):  # pragma: no cover - numba
    """Scale, add noise and scatter columns ``j0:j1`` of ``features[rows]`` into ``out``.

    Mirrors scikit-learn: ``scale(X, with_mean=False)`` (``np.nanstd`` per column), then
    ``X += 1e-10 * max(1, mean|X|) * z``; scikit-learn works on a Fortran-ordered copy, so its
    column sums are NumPy's pairwise sums. ``out[jj, dest[i]]`` receives sample ``i`` of column
    ``j0 + jj`` (samples with ``dest[i] < 0`` count in the statistics only). Returns
    ``(-1, -1)``, or the (row position, column) of the first non-finite value.
    """
    n = rows.shape[0]
    width = j1 - j0
    columns = np.empty((width, n), dtype=np.float64)
    for i in range(n):  # row-wise reads: the gather is a transpose of contiguous rows
        source = features[rows[i]]
        for jj in range(width):
            columns[jj, i] = source[j0 + jj]
    tmp = np.empty(n, dtype=np.float64)
    frames = np.empty((3, 64), dtype=np.int64)
    for jj in range(width):
        x = columns[jj]
        for i in range(n):
            if not np.isfinite(x[i]):
                return i, j0 + jj
        mean = (0.0 + _pairwise_sum(x, n, frames)) / n
        for i in range(n):
            d = x[i] - mean
            tmp[i] = d * d
        std = np.sqrt((0.0 + _pairwise_sum(tmp, n, frames)) / n)
        if std < _EPS10:
            std = 1.0
        for i in range(n):
            v = x[i] / std
            x[i] = v
            tmp[i] = abs(v)
        scale = 1e-10 * max(1.0, (0.0 + _pairwise_sum(tmp, n, frames)) / n)
        z = noise_t[j0 + jj]
        for i in range(n):
            t = dest[i]
            if t >= 0:
                out[jj, t] = x[i] + scale * z[i]
    return -1, -1


@njit(nogil=True, cache=True)
def _radius(dk):  # pragma: no cover - numba
    # np.nextafter(dk, 0) for dk >= 0 (a multiplication is exact for normal numbers and much
    # cheaper than the libm call).
    if dk >= _SAFE:
        return dk * _JUST_BELOW_ONE
    return np.nextafter(dk, 0.0)


# Counting the sorted, padded values within a radius of v, above or below position q. The
# loops test a few values at a time without branches; 2 suits a search into a smaller class
# (few hits), 8 a search into a larger one, 4 the own class.
@njit(nogil=True, cache=True, inline="always")
def _count_up(row, q, v, radius):  # pragma: no cover - numba
    m = 0
    while True:
        c = (
            (row[q] - v <= radius)
            + (row[q + 1] - v <= radius)
            + (row[q + 2] - v <= radius)
            + (row[q + 3] - v <= radius)
        )
        m += c
        if c < 4:
            return m
        q += 4


@njit(nogil=True, cache=True, inline="always")
def _count_down(row, q, v, radius):  # pragma: no cover - numba
    m = 0
    while True:
        c = (
            (v - row[q] <= radius)
            + (v - row[q - 1] <= radius)
            + (v - row[q - 2] <= radius)
            + (v - row[q - 3] <= radius)
        )
        m += c
        if c < 4:
            return m
        q -= 4


@njit(nogil=True, cache=True, inline="always")
def _count_around_narrow(row, q, v, radius):  # pragma: no cover - numba
    m = 0
    up = q
    while True:
        c = (row[up] - v <= radius) + (row[up + 1] - v <= radius)
        m += c
        if c < 2:
            break
        up += 2
    down = q - 1
    while True:
        c = (v - row[down] <= radius) + (v - row[down - 1] <= radius)
        m += c
        if c < 2:
            return m
        down -= 2


@njit(nogil=True, cache=True, inline="always")
def _count_around_wide(row, q, v, radius):  # pragma: no cover - numba
    m = 0
    up = q
    while True:
        c = 0
        for t in range(8):
            c += row[up + t] - v <= radius
        m += c
        if c < 8:
            break
        up += 8
    down = q - 1
    while True:
        c = 0
        for t in range(8):
            c += v - row[down - t] <= radius
        m += c
        if c < 8:
            return m
        down -= 8


@njit(nogil=True, cache=True)
def _brute_kth_distance(row, start, count, p, k, buf):  # pragma: no cover - numba
    # scikit-learn's brute-force search: squared distance x^2 - 2xy + y^2 (the GEMM
    # decomposition, evaluated in this order), clipped at 0, square root of the k-th smallest.
    v = row[p]
    vv = v * v
    m = 0
    for q in range(start, start + count):
        if q != p:
            w = row[q]
            d2 = (vv + (-2.0 * (v * w))) + w * w
            if d2 < 0.0:
                d2 = 0.0
            buf[m] = d2
            m += 1
    buf[:m].sort()
    return np.sqrt(buf[k - 1])


@njit(nogil=True, cache=True)
def _merge_splits(rows, a_start, a_count, b_start, b_count, split_a, split_b):  # pragma: no cover
    """Branch-free merges of two sorted, +inf-padded segments, in up to 4 rows at once.

    For each row ``r``, ``split_a[r, i]`` is an index ``q`` of segment b with every value
    before ``q`` <= a_i and every value from ``q`` on >= a_i (``split_b`` likewise for the
    values of segment b). Each merge is a chain of dependent loads; running the rows in
    lockstep (they have the same segment sizes) overlaps the chains.
    """
    n_rows = rows.shape[0]
    if n_rows == 4:
        r0 = rows[0]
        r1 = rows[1]
        r2 = rows[2]
        r3 = rows[3]
        i0 = i1 = i2 = i3 = 0
        j0 = j1 = j2 = j3 = 0
        for _ in range(a_count + b_count):
            t0 = r0[b_start + j0] < r0[a_start + i0]
            t1 = r1[b_start + j1] < r1[a_start + i1]
            t2 = r2[b_start + j2] < r2[a_start + i2]
            t3 = r3[b_start + j3] < r3[a_start + i3]
            split_a[0, i0] = b_start + j0
            split_a[1, i1] = b_start + j1
            split_a[2, i2] = b_start + j2
            split_a[3, i3] = b_start + j3
            split_b[0, j0] = a_start + i0
            split_b[1, j1] = a_start + i1
            split_b[2, j2] = a_start + i2
            split_b[3, j3] = a_start + i3
            j0 += t0
            j1 += t1
            j2 += t2
            j3 += t3
            i0 += 1 - t0
            i1 += 1 - t1
            i2 += 1 - t2
            i3 += 1 - t3
        return
    for r in range(n_rows):
        row = rows[r]
        i = 0
        j = 0
        for _ in range(a_count + b_count):
            take_b = row[b_start + j] < row[a_start + i]
            split_a[r, i] = b_start + j
            split_b[r, j] = a_start + i
            j += take_b
            i += 1 - take_b


@njit(nogil=True, cache=True, inline="always")
def _window_counts(row, start, stop, k, radius, m):  # pragma: no cover - numba
    # Unsigned indices (all >= 0 thanks to the padding) keep numba from emitting negative-
    # index wrap-around, so the loop over samples vectorises.
    tie = False
    for p in range(np.uint64(start), np.uint64(stop)):
        v = row[p]
        # k-th smallest of the merged left/right distance lists: the k nearest neighbours of
        # a point on a line are a window of k + 1 consecutive sorted values.
        dk = np.inf
        for a in range(k + 1):
            left = v - row[p - a]
            right = row[p + k - a] - v
            wider = left if left > right else right
            dk = wider if wider < dk else dk
        r = dk * _JUST_BELOW_ONE  # == nextafter(dk, 0) for dk >= _SAFE
        tie |= r < _SAFE
        # Own-class samples within r (closer than dk) are among the k - 1 nearest.
        count = 1
        for offset in range(1, k):
            count += (v - row[p - offset] <= r) + (row[p + offset] - v <= r)
        radius[p] = r
        m[p] = count
    return tie


@njit(nogil=True, cache=True)
def _own_class_counts(row, start, stop, k, radius, m):  # pragma: no cover - numba
    """Radius (nextafter of the k-th neighbour distance) and own-class count of each sample
    of a class searched with a tree in scikit-learn (exact distances ``|x_i - x_j|``)."""
    if k == 3:  # literal k: the window loops unroll
        tie = _window_counts(row, start, stop, np.uint64(3), radius, m)
    elif k == 2:
        tie = _window_counts(row, start, stop, np.uint64(2), radius, m)
    elif k == 1:
        tie = _window_counts(row, start, stop, np.uint64(1), radius, m)
    else:
        tie = _window_counts(row, start, stop, np.uint64(k), radius, m)
    if tie:  # d_k tiny or 0 (duplicates): exact radius, count without the window shortcut
        for p in range(start, stop):
            if radius[p] < _SAFE:
                v = row[p]
                dk = np.inf
                for a in range(k + 1):
                    dk = min(dk, max(v - row[p - a], row[p + k - a] - v))
                r = np.nextafter(dk, 0.0)
                radius[p] = r
                m[p] = 1 + _count_up(row, p + 1, v, r) + _count_down(row, p - 1, v, r)


@njit(nogil=True, cache=True)
def _own_class_counts_brute(row, start, stop, k, radius, m, buf):  # pragma: no cover - numba
    """The same for a small class, searched by brute force in scikit-learn."""
    for p in range(start, stop):
        r = _radius(_brute_kth_distance(row, start, stop - start, p, k, buf))
        radius[p] = r
        v = row[p]
        count = 0
        for q in range(start, stop):
            count += abs(row[q] - v) <= r
        m[p] = count


@njit(nogil=True, cache=True)
def _digamma_sums(block, starts, counts, kvals, brute, psi, out):  # pragma: no cover - numba
    """``out[j] = sum_i psi(m_i)`` for each row ``j`` of ``block``.

    Row ``j`` holds one feature; class ``c`` occupies ``starts[c]:starts[c] + counts[c]``,
    sorted ascending, with ``PAD`` values of -inf before and +inf after it. ``m_i`` counts
    the samples of all classes within sample i's radius.
    """
    n_classes = counts.shape[0]
    width = block.shape[1]
    most = counts.max()
    radius = np.empty((4, width), dtype=np.float64)
    m = np.zeros((4, width), dtype=np.int64)
    split_a = np.empty((4, most + 1), dtype=np.int64)
    split_b = np.empty((4, most + 1), dtype=np.int64)
    buf = np.empty(most, dtype=np.float64)
    for j0 in range(0, block.shape[0], 4):
        j1 = min(j0 + 4, block.shape[0])
        rows = block[j0:j1]
        for r in range(j1 - j0):
            for c in range(n_classes):
                start = starts[c]
                stop = start + counts[c]
                if brute[c]:
                    _own_class_counts_brute(rows[r], start, stop, kvals[c], radius[r], m[r], buf)
                else:
                    _own_class_counts(rows[r], start, stop, kvals[c], radius[r], m[r])
        for c in range(n_classes):
            for c2 in range(c + 1, n_classes):
                a0 = starts[c]
                b0 = starts[c2]
                _merge_splits(rows, a0, counts[c], b0, counts[c2], split_a, split_b)
                for r in range(j1 - j0):
                    row = rows[r]
                    rad = radius[r]
                    mr = m[r]
                    # points of c counting in c2, then points of c2 counting in c
                    if counts[c2] > counts[c]:
                        for i in range(counts[c]):
                            p = a0 + i
                            mr[p] += _count_around_wide(row, split_a[r, i], row[p], rad[p])
                        for i in range(counts[c2]):
                            p = b0 + i
                            mr[p] += _count_around_narrow(row, split_b[r, i], row[p], rad[p])
                    else:
                        for i in range(counts[c]):
                            p = a0 + i
                            mr[p] += _count_around_narrow(row, split_a[r, i], row[p], rad[p])
                        for i in range(counts[c2]):
                            p = b0 + i
                            mr[p] += _count_around_wide(row, split_b[r, i], row[p], rad[p])
        for r in range(j1 - j0):
            total = 0.0
            mr = m[r]
            for c in range(n_classes):
                for p in range(starts[c], starts[c] + counts[c]):
                    total += psi[mr[p]]
            out[j0 + r] = total


# --------------------------------------------------------------------------- public API
def mutual_info_classif(
    X,
    y,
    *,
    rows=None,
    n_neighbors: int = 3,
    random_state=None,
    n_jobs: int | None = None,
) -> np.ndarray:
    """Mutual information between each continuous feature and a discrete target (nats).

    Equal to ``sklearn.feature_selection.mutual_info_classif(X[rows], y, n_neighbors=...,
    random_state=...)`` with dense, continuous features, computed exactly but with sorting
    instead of KD-trees.

    Parameters
    ----------
    X : array (N, D) of real numbers (float32 is read as is, without a copy).
    y : array (n,) of class labels, one per selected row.
    rows : optional int indices into ``X``: use ``X[rows]`` without copying it.
    n_neighbors : neighbours of the k-NN estimator (scikit-learn's default 3).
    random_state : None, int seed or ``numpy.random.RandomState`` (as in scikit-learn);
        integer seeds give reproducible scores and reuse cached noise draws.
    n_jobs : threads over blocks of columns (None: 1, -1: all cores).

    Returns
    -------
    mi : float64 array (D,), non-negative.
    """
    X = _check_matrix(X)
    rows = _check_rows(rows, X.shape[0])
    n = rows.shape[0]
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"y: expected shape ({n},) to match the rows of X, got {y.shape}")
    if n == 0:
        raise ValueError("X: no rows to estimate mutual information from")
    if not isinstance(n_neighbors, Integral) or isinstance(n_neighbors, bool) or n_neighbors < 1:
        raise ValueError(f"n_neighbors: expected an integer >= 1, got {n_neighbors!r}")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ValueError("y: contains NaN or infinite labels")
    _, codes = np.unique(y, return_inverse=True)
    noise_t = _noise_for(random_state, n, X.shape[1])
    return _mutual_info_codes(X, rows, codes.ravel(), int(n_neighbors), noise_t, n_jobs)


def _mutual_info_codes(X, rows, codes, n_neighbors, noise_t, n_jobs, name="X") -> np.ndarray:
    from scipy.special import digamma

    n = rows.shape[0]
    n_features = X.shape[1]
    label_counts = np.bincount(codes)
    per_sample_count = label_counts[codes]
    kept = per_sample_count > 1
    classes = np.flatnonzero(label_counts > 1)
    if classes.size == 0:
        raise ValueError("y: every class has a single sample; the k-NN estimator needs two")
    counts = label_counts[classes].astype(np.int64)
    kvals = np.minimum(n_neighbors, counts - 1).astype(np.int64)
    brute = kvals >= counts // 2  # scikit-learn's NearestNeighbors(algorithm="auto") choice
    pad = max(PAD, n_neighbors)
    widths = counts + 2 * pad
    starts = (np.cumsum(widths) - widths + pad).astype(np.int64)
    width = int(widths.sum())
    n_kept = int(counts.sum())

    # Destination of each sample: its class segment, in order of appearance.
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    first = np.searchsorted(sorted_codes, np.arange(label_counts.shape[0]))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - first[sorted_codes]
    segment = np.full(label_counts.shape[0], -1, dtype=np.int64)
    segment[classes] = starts
    dest = np.where(kept, segment[codes] + rank, -1).astype(np.int64)

    k_all = np.minimum(n_neighbors, per_sample_count[kept] - 1)
    constant = (
        digamma(n_kept)
        + np.mean(digamma(k_all))
        - np.mean(digamma(per_sample_count[kept].astype(np.float64)))
    )
    psi = np.empty(n_kept + 1)
    psi[0] = np.nan
    psi[1:] = digamma(np.arange(1, n_kept + 1, dtype=np.float64))

    mi = np.empty(n_features)
    blocks = [(j0, min(j0 + COLUMN_BLOCK, n_features)) for j0 in range(0, n_features, COLUMN_BLOCK)]

    def run(block):
        j0, j1 = block
        scratch = np.empty((j1 - j0, width))
        for s in range(classes.size):
            scratch[:, starts[s] - pad : starts[s]] = -np.inf
            scratch[:, starts[s] + counts[s] : starts[s] + counts[s] + pad] = np.inf
        bad_i, bad_j = _prepare_block(X, rows, j0, j1, noise_t, dest, scratch)
        if bad_i >= 0:
            raise ValueError(
                f"{name}: non-finite value at row {int(rows[bad_i])}, column {bad_j}; "
                "features must be finite"
            )
        for s in range(classes.size):
            scratch[:, starts[s] : starts[s] + counts[s]].sort(axis=1)
        sums = np.empty(j1 - j0)
        _digamma_sums(scratch, starts, counts, kvals, brute, psi, sums)
        mi[j0:j1] = np.maximum(constant - sums / n_kept, 0.0)

    workers = _n_workers(n_jobs, len(blocks))
    if workers == 1:
        for block in blocks:
            run(block)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(run, blocks))
    return mi


def _n_workers(n_jobs, n_tasks: int) -> int:
    import os

    if n_jobs is None:
        return 1
    if not isinstance(n_jobs, Integral) or isinstance(n_jobs, bool) or n_jobs == 0:
        raise ValueError(f"n_jobs: expected None, a positive int or -1, got {n_jobs!r}")
    cores = os.cpu_count() or 1
    wanted = cores + 1 + n_jobs if n_jobs < 0 else n_jobs
    return max(1, min(wanted, n_tasks))


def _check_matrix(X) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X: expected a 2-D array (samples x features), got shape {X.shape}")
    if X.shape[1] == 0:
        raise ValueError("X: has no feature columns")
    if X.dtype.kind not in "biuf":
        raise TypeError(f"X: expected real numbers, got dtype {X.dtype}")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    return X


def _check_rows(rows, n_rows: int) -> np.ndarray:
    if rows is None:
        return np.arange(n_rows, dtype=np.int64)
    rows = np.asarray(rows)
    if rows.dtype == bool:
        if rows.shape != (n_rows,):
            raise ValueError(f"rows: boolean mask of shape {rows.shape}, expected ({n_rows},)")
        return np.flatnonzero(rows).astype(np.int64)
    if rows.ndim != 1 or (rows.size and rows.dtype.kind not in "iu"):
        raise ValueError(f"rows: expected 1-D integer indices, got {rows.dtype} {rows.shape}")
    rows = rows.astype(np.int64)
    if rows.size and (rows.min() < 0 or rows.max() >= n_rows):
        raise ValueError(f"rows: indices must lie in 0..{n_rows - 1}")
    return rows
