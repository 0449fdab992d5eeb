"""2-D layouts of per-sample embeddings (PCA, t-SNE, UMAP) for the embedding map.

Pure and UI-free. The default, PCA, is fast at scale: the embeddings are read in row chunks
(float16 input stays float16 in memory; each chunk is centred in float32), and the top
principal axes come from a randomized subspace iteration on the centred Gram operator
(Halko, Martinsson & Tropp 2011, algorithm 4.4): ``n_iter + 1`` passes over the data, each a
pair of thin matrix products per chunk, so 1,000,000 x 512 never needs a float32 copy. When the
dimension is small the exact covariance is cheaper and is used instead.

t-SNE (scikit-learn) and UMAP (the optional ``umap-learn``) run on the top 50 principal
components, as is usual for both; they cost far more than PCA (t-SNE is minutes for 10^5
points and impractical for 10^6).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "LAYOUTS",
    "UMAP_INSTALL",
    "PCAProjection",
    "check_embeddings",
    "project",
]

LAYOUTS = ("pca", "tsne", "umap")
UMAP_INSTALL = 'pip install "failwidgets[umap]"  (or: pip install umap-learn)'
DEFAULT_CHUNK_ROWS = 8192
NEIGHBOUR_DIMS = 50  # principal components kept before t-SNE / UMAP
EXACT_MAX_DIM = 128  # at or below this dimension the exact covariance is cheaper


def _chunks(n: int, size: int):
    for start in range(0, n, size):
        yield start, min(start + size, n)


def check_embeddings(embeddings, n_rows: int | None = None, *, name: str = "embeddings"):
    """Validate an (n, d) array of real numbers; return it as a numpy array (not copied).

    Shape and dtype are checked here; finiteness is checked chunk by chunk as the data is read
    (see :meth:`PCAProjection.fit`), so a 1 GB array is not scanned twice.

    Raises
    ------
    TypeError : not numeric (bool, complex, object, text).
    ValueError : not 2-D, wrong row count, fewer than 2 dimensions or 3 rows.
    """
    if isinstance(embeddings, (str, bytes)) or embeddings is None:
        raise TypeError(
            f"{name}: expected an (n, d) array of numbers, got {type(embeddings).__name__}"
        )
    array = embeddings if isinstance(embeddings, np.ndarray) else np.asarray(embeddings)
    if array.dtype == bool or array.dtype.kind not in "iuf":
        raise TypeError(f"{name}: expected real numbers (float or int), got dtype {array.dtype}")
    if array.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D (n, d) array, got shape {array.shape}")
    if n_rows is not None and array.shape[0] != n_rows:
        raise ValueError(
            f"{name}: {array.shape[0]} rows for {n_rows} samples; need one row per sample"
        )
    if array.shape[0] < 3:
        raise ValueError(f"{name}: need at least 3 rows, got {array.shape[0]}")
    if array.shape[1] < 2:
        raise ValueError(f"{name}: need at least 2 dimensions, got {array.shape[1]}")
    return array


def _non_finite_message(array: np.ndarray, start: int, stop: int, name: str) -> str:
    bad = ~np.isfinite(np.asarray(array[start:stop], dtype=np.float64))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        value = array[start + row, col]
        return f"{name}: non-finite value {value} at row {start + row}, column {col}"
    return f"{name}: values too large to sum (overflow) in rows {start}..{stop - 1}"


class PCAProjection:
    """Principal component projection of centred data, computed in float32 row chunks.

    Parameters
    ----------
    n_components : int
        Number of principal axes kept (2 for a map).
    solver : {"auto", "randomized", "exact"}
        "randomized": subspace iteration with ``n_components + n_oversamples`` vectors;
        "exact": eigen-decomposition of the full d x d covariance (one pass, O(n d^2));
        "auto": exact when d <= 128 or d <= the subspace size, randomized otherwise.
    n_oversamples : int
        Extra subspace vectors for the randomized solver.
    n_iter : int
        Power iterations of the randomized solver (each one pass over the data).
    chunk_rows : int
        Rows converted to float32 at a time.
    fit_rows : int, optional
        Learn the mean and axes from this many randomly chosen rows (all rows when None, the
        default); ``transform`` still maps every row. A subsample of 10^5 rows pins the top
        axes of 10^6 embeddings to sampling error ~ 1/sqrt(10^5), at a fraction of the cost.
    random_state : int or numpy Generator
        Seed of the randomized solver's start vectors and of the ``fit_rows`` sample.

    Attributes
    ----------
    mean_ : np.ndarray, shape (d,)
    components_ : np.ndarray, shape (n_components, d)
        Unit principal axes, largest variance first; each axis' sign is fixed so its
        largest-magnitude loading is positive (as scikit-learn does).
    explained_variance_ : np.ndarray, shape (n_components,)
        Variance along each axis (divided by n - 1).
    explained_variance_ratio_ : np.ndarray, shape (n_components,)
        ``explained_variance_`` over the total variance.
    n_samples_, n_features_ : int
    solver_ : str
        The solver that ran.
    """

    def __init__(
        self,
        n_components: int = 2,
        *,
        solver: str = "auto",
        n_oversamples: int = 30,
        n_iter: int = 4,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        fit_rows: int | None = None,
        random_state=0,
    ):
        checks = [
            (n_components, "n_components", 1),
            (n_oversamples, "n_oversamples", 0),
            (n_iter, "n_iter", 0),
            (chunk_rows, "chunk_rows", 1),
        ]
        if fit_rows is not None:
            checks.append((fit_rows, "fit_rows", 3))
        for value, arg, low in checks:
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"{arg}: expected an integer, got {type(value).__name__}")
            if value < low:
                raise ValueError(f"{arg}: expected at least {low}, got {value}")
        if solver not in ("auto", "randomized", "exact"):
            raise ValueError(f"solver: expected 'auto', 'randomized' or 'exact', got {solver!r}")
        self.n_components = int(n_components)
        self.solver = solver
        self.n_oversamples = int(n_oversamples)
        self.n_iter = int(n_iter)
        self.chunk_rows = int(chunk_rows)
        self.fit_rows = None if fit_rows is None else int(fit_rows)
        self.random_state = random_state

    # ------------------------------------------------------------------ passes over the data
    def _centred_chunks(self, X: np.ndarray):
        """Yield (start, stop, centred float32 chunk) with one reused buffer."""
        n, d = X.shape
        buffer = np.empty((min(self.chunk_rows, n), d), dtype=np.float32)
        mean = self.mean_.astype(np.float32)
        for start, stop in _chunks(n, self.chunk_rows):
            chunk = buffer[: stop - start]
            chunk[...] = X[start:stop]
            chunk -= mean
            yield start, stop, chunk

    def _mean(self, X: np.ndarray, name: str) -> np.ndarray:
        total = np.zeros(X.shape[1], dtype=np.float64)
        for start, stop in _chunks(X.shape[0], self.chunk_rows):
            part = np.asarray(X[start:stop]).sum(axis=0, dtype=np.float64)
            if not np.isfinite(part).all():
                raise ValueError(_non_finite_message(X, start, stop, name))
            total += part
        return total / X.shape[0]

    def _gram_times(self, X: np.ndarray, Q: np.ndarray, *, squares: bool = False):
        """(A^T A Q, ||A||_F^2 or None) for the centred data A, in one pass.

        Products run in float32 per chunk and accumulate in float64 across chunks.
        """
        Q32 = Q.astype(np.float32)
        out = np.zeros_like(Q, dtype=np.float64)
        total = 0.0 if squares else None
        for _, _, chunk in self._centred_chunks(X):
            out += chunk.T @ (chunk @ Q32)
            if squares:
                total += float(np.einsum("ij,ij->", chunk, chunk, dtype=np.float64))
        return out, total

    def _covariance(self, X: np.ndarray) -> np.ndarray:
        out = np.zeros((X.shape[1], X.shape[1]), dtype=np.float64)
        for _, _, chunk in self._centred_chunks(X):
            out += chunk.T @ chunk
        return out

    # ------------------------------------------------------------------ estimator API
    def fit(self, X, *, name: str = "embeddings") -> PCAProjection:
        """Learn the mean and the principal axes of ``X`` (n, d); non-finite values raise."""
        X = check_embeddings(X, name=name)
        rng = np.random.default_rng(self.random_state)
        if self.fit_rows is not None and X.shape[0] > self.fit_rows:
            X = X[np.sort(rng.choice(X.shape[0], self.fit_rows, replace=False))]
        n, d = X.shape
        k = min(self.n_components, d)
        size = min(k + self.n_oversamples, d)
        solver = self.solver
        if solver == "auto":
            solver = "exact" if d <= max(EXACT_MAX_DIM, size) else "randomized"
        self.mean_ = self._mean(X, name)
        if solver == "exact":
            covariance = self._covariance(X)
            values, vectors = np.linalg.eigh(covariance)
            total = float(np.trace(covariance))
            order = np.argsort(values)[::-1][:k]
            values, vectors = values[order], vectors[:, order]
        else:
            Q, _ = np.linalg.qr(rng.standard_normal((d, size)))
            total = None
            for _ in range(self.n_iter):
                Z, squares = self._gram_times(X, Q, squares=total is None)
                total = squares if total is None else total
                Q, _ = np.linalg.qr(Z)
            # Rayleigh-Ritz on the final subspace: eigenpairs of Q^T (A^T A) Q
            Z, squares = self._gram_times(X, Q, squares=total is None)
            total = squares if total is None else total
            small = Q.T @ Z
            values, small_vectors = np.linalg.eigh((small + small.T) / 2)
            order = np.argsort(values)[::-1][:k]
            values, vectors = values[order], Q @ small_vectors[:, order]
        vectors = vectors / np.linalg.norm(vectors, axis=0, keepdims=True)
        signs = np.sign(vectors[np.argmax(np.abs(vectors), axis=0), np.arange(k)])
        signs[signs == 0] = 1.0
        self.components_ = (vectors * signs).T
        denominator = max(n - 1, 1)
        self.explained_variance_ = np.maximum(values, 0.0) / denominator
        total_variance = total / denominator
        self.explained_variance_ratio_ = (
            self.explained_variance_ / total_variance
            if total_variance > 0
            else np.zeros(k, dtype=np.float64)
        )
        self.n_samples_, self.n_features_ = n, d
        self.solver_ = solver
        return self

    def transform(self, X, *, name: str = "embeddings") -> np.ndarray:
        """Coordinates (n, n_components) of ``X`` on the principal axes, float32."""
        if not hasattr(self, "components_"):
            raise RuntimeError("PCAProjection: call fit() before transform()")
        X = check_embeddings(X, name=name)
        if X.shape[1] != self.n_features_:
            raise ValueError(
                f"{name}: {X.shape[1]} dimensions; this projection was fit on {self.n_features_}"
            )
        axes = self.components_.T.astype(np.float32)
        out = np.empty((X.shape[0], axes.shape[1]), dtype=np.float32)
        for start, stop, chunk in self._centred_chunks(X):
            np.matmul(chunk, axes, out=out[start:stop])
        if not np.isfinite(out).all():
            row = int(np.flatnonzero(~np.isfinite(out).all(axis=1))[0])
            raise ValueError(_non_finite_message(X, row, row + 1, name))
        return out

    def fit_transform(self, X, *, name: str = "embeddings") -> np.ndarray:
        return self.fit(X, name=name).transform(X, name=name)


# ---------------------------------------------------------------------- layouts
def _check_layout(layout) -> str:
    if not isinstance(layout, str) or layout not in LAYOUTS:
        raise ValueError(f"layout: expected one of {LAYOUTS}, got {layout!r}")
    return layout


def _import_umap():
    try:
        import umap  # noqa: PLC0415
    except ImportError as error:
        raise ImportError(
            f'layout="umap" needs the optional package umap-learn, which is not installed: '
            f"{UMAP_INSTALL}"
        ) from error
    return umap


def project(
    embeddings,
    layout: str = "pca",
    *,
    random_state: int = 0,
    fit_rows: int | None = None,
    perplexity: float = 30.0,
    n_neighbors: int = 15,
    name: str = "embeddings",
) -> np.ndarray:
    """2-D coordinates of each row of ``embeddings`` (n, d): float32 array (n, 2).

    Parameters
    ----------
    embeddings : array-like, shape (n, d)
        Real numbers (float16 allowed); no NaN or infinity.
    layout : {"pca", "tsne", "umap"}
        "pca": the top two principal components (fast, linear, deterministic up to the fixed
        signs); "tsne": scikit-learn's Barnes-Hut t-SNE (PCA initialisation) on the top 50
        principal components; "umap": umap-learn's UMAP on the same (optional dependency:
        ``pip install "failwidgets[umap]"``).
    random_state : int
        Seed of the randomized PCA, t-SNE and UMAP.
    fit_rows : int, optional
        Fit the PCA on this many random rows (all by default); see :class:`PCAProjection`.
    perplexity : float
        t-SNE perplexity (lowered to (n - 1) / 3 for small n, as t-SNE requires).
    n_neighbors : int
        UMAP neighbourhood size.
    name : str
        Argument name used in error messages.

    Raises
    ------
    ValueError : unknown layout, wrong shape, non-finite values.
    ImportError : layout="umap" without umap-learn (the message names the extra).
    """
    layout = _check_layout(layout)
    if layout == "umap":
        umap = _import_umap()  # before any work
    X = check_embeddings(embeddings, name=name)
    if layout == "pca":
        pca = PCAProjection(2, fit_rows=fit_rows, random_state=random_state)
        return pca.fit_transform(X, name=name)
    dims = min(NEIGHBOUR_DIMS, X.shape[1])
    pca = PCAProjection(dims, fit_rows=fit_rows, random_state=random_state)
    reduced = pca.fit_transform(X, name=name)
    if layout == "tsne":
        from sklearn.manifold import TSNE

        if isinstance(perplexity, bool) or not isinstance(perplexity, (int, float)):
            raise TypeError(f"perplexity: expected a number, got {type(perplexity).__name__}")
        if not (math.isfinite(perplexity) and perplexity > 0):
            raise ValueError(f"perplexity: expected a positive number, got {perplexity}")
        perplexity = min(float(perplexity), (X.shape[0] - 1) / 3)
        model = TSNE(2, perplexity=perplexity, init="pca", random_state=random_state)
        return model.fit_transform(reduced).astype(np.float32)
    model = umap.UMAP(n_components=2, n_neighbors=n_neighbors, random_state=random_state)
    return np.asarray(model.fit_transform(reduced), dtype=np.float32)
