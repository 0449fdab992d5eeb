"""The fast k-NN mutual information equals scikit-learn's mutual_info_classif."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_selection import mutual_info_classif as sk_mutual_info
from sklearn.feature_selection._mutual_info import _compute_mi_cd
from sklearn.preprocessing import scale

from failwidgets.methods import mutual_info as mi_module
from failwidgets.methods import mutual_info_kernels as kernels
from failwidgets.methods.mutual_info import mutual_info_classif

TOL = 1e-6


def _case(rng, n, d, kind):
    X = rng.gamma(0.6, size=(n, d)) * rng.choice([1e-3, 1.0, 40.0], size=d)
    if kind == "ties":
        X = np.round(X * 3) / 3
    elif kind == "relu":
        X = np.where(rng.random((n, d)) < 0.4, 0.0, X)
    elif kind == "constant":
        X[:, 0] = 2.5
        X[:, -1] = 0.0
    elif kind == "float32":
        X = X.astype(np.float32)
    elif kind == "integers":
        X = rng.integers(0, 4, size=(n, d))
    return X


@pytest.mark.parametrize("kind", ["plain", "ties", "relu", "constant", "float32", "integers"])
@pytest.mark.parametrize("n", [12, 400])
def test_equals_sklearn_on_binary_targets(kind, n):
    rng = np.random.default_rng(n)
    X = _case(rng, n, 5, kind)
    y = (rng.random(n) < 0.3).astype(int)
    y[:2] = [0, 1]
    seed = n % 7
    expected = sk_mutual_info(X, y, random_state=seed)
    np.testing.assert_allclose(mutual_info_classif(X, y, random_state=seed), expected, atol=TOL)


@pytest.mark.parametrize("minority", [1, 2, 4, 7, 8, 15])
def test_equals_sklearn_with_tiny_classes(minority):
    # Classes of up to 7 samples are searched by brute force in scikit-learn (distances via
    # x^2 - 2xy + y^2, which differ from |x - y| in the last bits): replicated exactly.
    rng = np.random.default_rng(minority)
    X = _case(rng, 120, 5, "relu")
    y = np.zeros(120, dtype=int)
    y[rng.choice(120, minority, replace=False)] = 1
    np.testing.assert_allclose(
        mutual_info_classif(X, y, random_state=3), sk_mutual_info(X, y, random_state=3), atol=TOL
    )


@pytest.mark.parametrize("n_neighbors", [1, 2, 5])
def test_equals_sklearn_multiclass_and_other_neighbours(n_neighbors):
    rng = np.random.default_rng(n_neighbors)
    X = _case(rng, 300, 5, "ties")
    y = rng.choice(np.array(["cat", "dog", "owl", "rare"]), 300, p=[0.5, 0.3, 0.18, 0.02])
    expected = sk_mutual_info(X, y, n_neighbors=n_neighbors, random_state=1)
    got = mutual_info_classif(X, y, n_neighbors=n_neighbors, random_state=1)
    np.testing.assert_allclose(got, expected, atol=TOL)


def test_random_state_instances_and_global_state_match_sklearn():
    rng = np.random.default_rng(0)
    X = _case(rng, 200, 4, "plain")
    y = rng.random(200) < 0.25
    np.testing.assert_allclose(
        mutual_info_classif(X, y, random_state=np.random.RandomState(5)),
        sk_mutual_info(X, y, random_state=np.random.RandomState(5)),
        atol=TOL,
    )
    np.random.seed(11)  # noqa: NPY002 - the global state is what random_state=None uses
    expected = sk_mutual_info(X, y)
    np.random.seed(11)  # noqa: NPY002 - the global state is what random_state=None uses
    np.testing.assert_allclose(mutual_info_classif(X, y), expected, atol=TOL)


def test_rows_select_without_copy_and_threads_do_not_change_results():
    rng = np.random.default_rng(2)
    X = _case(rng, 500, 150, "relu").astype(np.float32)
    rows = np.sort(rng.choice(500, 220, replace=False))
    y = rng.random(220) < 0.3
    serial = mutual_info_classif(X, y, rows=rows, random_state=0)
    threaded = mutual_info_classif(X, y, rows=rows, random_state=0, n_jobs=2)
    np.testing.assert_array_equal(serial, threaded)
    np.testing.assert_allclose(serial, sk_mutual_info(X[rows], y, random_state=0), atol=TOL)
    assert np.all(serial >= 0)


def test_cached_noise_prefix_serves_smaller_and_larger_groups():
    mi_module.clear_noise_cache()
    rng = np.random.default_rng(4)
    X = _case(rng, 400, 3, "plain")
    y = rng.random(400) < 0.4
    for n in (60, 400, 30):  # grow the cache, then reuse its prefix
        got = mutual_info_classif(X[:n], y[:n], random_state=9)
        np.testing.assert_allclose(got, sk_mutual_info(X[:n], y[:n], random_state=9), atol=TOL)
    # the stored draws are a prefix-stable stream, in chunks of columns
    big = mi_module._draws(np.random.RandomState(9), 50, 70)
    small = mi_module._draws(np.random.RandomState(9), 20, 70)
    np.testing.assert_array_equal(big[:, :20], small)
    chunk = mi_module.NOISE_CHUNK
    drawn = np.random.RandomState(9).standard_normal(size=(50, 70))
    for j in (0, chunk - 1, chunk, 69):
        np.testing.assert_array_equal(big[j // chunk, :, j % chunk], drawn[:, j])


@pytest.mark.parametrize("n", [1, 7, 8, 127, 128, 129, 1000, 1300, 8193, 20000])
def test_column_sums_are_numpys_pairwise_sums_to_the_last_bit(n):
    rng = np.random.default_rng(n)
    X = rng.normal(size=(n, 5)) * [1e-3, 1.0, 1e6, 3.0, 1e-9]
    ours = np.empty(5)
    kernels.column_sums(np.ascontiguousarray(X), ours)
    np.testing.assert_array_equal(ours, np.sum(np.asfortranarray(X), axis=0))
    for j in range(5):  # NumPy's pairwise sum of one contiguous column
        assert ours[j] == np.sum(np.ascontiguousarray(X[:, j]))


@pytest.mark.parametrize("n", [5, 128, 1300, 8193])
def test_column_sums_of_deviations_and_absolute_values_match_numpy_bit_for_bit(n):
    # the variance and mean |x| sums of scikit-learn's scaling and noise
    rng = np.random.default_rng(n)
    X = np.ascontiguousarray(rng.normal(size=(n, 6)) * [1e-3, 1.0, 1e6, 3.0, 1e-9, 7.0])
    centre = X.mean(axis=0)
    ours = np.empty(6)
    kernels.column_sums(X, ours, kernels.SQUARED_DEVIATION, centre)
    for j in range(6):
        assert ours[j] == np.sum((np.ascontiguousarray(X[:, j]) - centre[j]) ** 2)
    kernels.column_sums(X, ours, kernels.ABSOLUTE)
    for j in range(6):
        assert ours[j] == np.sum(np.abs(np.ascontiguousarray(X[:, j])))


@pytest.mark.parametrize("n", [5, 128, 1300, 8193])
def test_divided_absolute_sums_divide_in_place_and_match_numpy_bit_for_bit(n):
    # scikit-learn's X /= std followed by the sum of |X| (the noise scale), in one pass
    rng = np.random.default_rng(n)
    X = np.ascontiguousarray(rng.normal(size=(n, 6)) * [1e-3, 1.0, 1e6, 3.0, 1e-9, 7.0])
    std = X.std(axis=0) + [0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
    scaled = X / std
    ours = np.empty(6)
    kernels.column_sums(X, ours, kernels.DIVIDED_ABSOLUTE, std)
    np.testing.assert_array_equal(X, scaled)  # divided in place, bit for bit
    for j in range(6):
        assert ours[j] == np.sum(np.abs(np.ascontiguousarray(scaled[:, j])))


def test_copied_column_blocks_give_the_same_scores_as_reading_in_place(monkeypatch):
    rng = np.random.default_rng(12)
    X = _case(rng, 700, 300, "relu").astype(np.float32)
    rows = rng.permutation(700)[:333]
    y = rng.random(333) < 0.3
    copied = mutual_info_classif(X, y, rows=rows, random_state=1)
    monkeypatch.setattr(mi_module, "BLOCK_COPY_BYTES", 0)
    in_place = mutual_info_classif(X, y, rows=rows, random_state=1)
    np.testing.assert_array_equal(copied, in_place)
    np.testing.assert_allclose(copied, sk_mutual_info(X[rows], y, random_state=1), atol=TOL)


def test_kernels_handle_exact_duplicates_like_sklearn():
    # With zero noise, rounded data keep exact ties (k-th neighbour at distance 0, radius 0);
    # compare the kernels with scikit-learn's estimator on the same scaled column.
    rng = np.random.default_rng(5)
    n = 160
    X = np.round(rng.gamma(1.0, size=(n, 4)) * 2) / 2
    y = (rng.random(n) < 0.3).astype(np.int64)
    y[rng.choice(n, 2, replace=False)] = 2  # a tiny (brute-force) class
    zero_noise = mi_module._draws(np.random.RandomState(0), n, 4) * 0.0
    got = mi_module._mutual_info_codes(X, np.arange(n), y, 3, zero_noise, None)
    scaled = scale(X, with_mean=False)
    expected = [_compute_mi_cd(scaled[:, j], y, 3) for j in range(4)]
    np.testing.assert_allclose(got, expected, atol=TOL)


def test_bad_inputs_name_the_argument():
    X = np.random.default_rng(0).normal(size=(20, 3))
    y = np.arange(20) % 2
    with pytest.raises(ValueError, match="X: expected a 2-D"):
        mutual_info_classif(X[:, 0], y)
    with pytest.raises(ValueError, match="y: expected shape"):
        mutual_info_classif(X, y[:5])
    bad = X.copy()
    bad[4, 2] = np.nan
    with pytest.raises(ValueError, match="X: non-finite value at row 4, column 2"):
        mutual_info_classif(bad, y)
    with pytest.raises(ValueError, match="n_neighbors"):
        mutual_info_classif(X, y, n_neighbors=0)
    with pytest.raises(TypeError, match="random_state"):
        mutual_info_classif(X, y, random_state="zero")
    with pytest.raises(ValueError, match="rows"):
        mutual_info_classif(X, y[:3], rows=[0, 1, 99])
    with pytest.raises(ValueError, match="single sample"):
        mutual_info_classif(X[:3], [0, 1, 2])
    with pytest.raises(ValueError, match="n_jobs"):
        mutual_info_classif(X, y, n_jobs=0)


@pytest.mark.parametrize(
    "sizes",
    [[150, 100, 50], [200, 5, 95], [5, 200, 95], [150, 100, 40, 10], [120, 1, 1, 178]],
)
def test_equals_sklearn_for_class_layouts(sizes):
    # Three or more classes are merged one after another through two scratch buffers; tiny
    # classes are searched by brute force, single-member classes left out.
    rng = np.random.default_rng(len(sizes) + sizes[1])
    y = np.repeat(np.arange(len(sizes)), sizes)
    rng.shuffle(y)
    X = _case(rng, y.size, 4, "relu")
    expected = sk_mutual_info(X, y, random_state=2)
    np.testing.assert_allclose(mutual_info_classif(X, y, random_state=2), expected, atol=TOL)


def test_one_class_left_after_dropping_single_members():
    rng = np.random.default_rng(8)
    X = _case(rng, 90, 3, "plain")
    y = np.zeros(90, dtype=int)
    y[[3, 50]] = [1, 2]  # two single-member classes: only class 0 is searched
    np.testing.assert_allclose(
        mutual_info_classif(X, y, random_state=1), sk_mutual_info(X, y, random_state=1), atol=TOL
    )


def test_long_runs_of_equal_values_overflow_the_counting_window():
    # 70 % exact zeros: after the noise, thousands of values within a few 1e-10 of each
    # other, so each sample's radius holds tens of neighbours (counted past the window).
    rng = np.random.default_rng(9)
    n = 2000
    X = np.where(rng.random((n, 3)) < 0.7, 0.0, rng.gamma(1.0, size=(n, 3))).astype(np.float32)
    y = (rng.random(n) < 0.1).astype(int)
    np.testing.assert_allclose(
        mutual_info_classif(X, y, random_state=0), sk_mutual_info(X, y, random_state=0), atol=TOL
    )


@pytest.mark.parametrize("minority", [0.1, 0.02])
def test_counts_past_the_first_and_second_windows_equal_sklearn(minority):
    # A sparse minority class has wide radii: its samples count about 3 / minority
    # neighbours, half on each side: past WINDOW (8) but mostly within FAR_WINDOW (24) for
    # 0.1, past FAR_WINDOW for 0.02.
    rng = np.random.default_rng(13)
    n = 1500
    X = rng.gamma(1.5, size=(n, 4)).astype(np.float32)
    y = (rng.random(n) < minority).astype(int)
    np.testing.assert_allclose(
        mutual_info_classif(X, y, random_state=3), sk_mutual_info(X, y, random_state=3), atol=TOL
    )


def test_many_columns_across_chunks_and_blocks():
    # 300 columns: column blocks of 256 and chunks of 32, the last ones partial
    rng = np.random.default_rng(10)
    X = _case(rng, 260, 300, "relu").astype(np.float32)
    y = (rng.random(260) < 0.35).astype(int)
    got = mutual_info_classif(X, y, random_state=4, n_jobs=2)
    np.testing.assert_allclose(got, sk_mutual_info(X, y, random_state=4), atol=TOL)


@pytest.mark.parametrize("n_neighbors", [8, 12])
def test_more_neighbours_than_the_padding(n_neighbors):
    rng = np.random.default_rng(n_neighbors)
    X = _case(rng, 300, 3, "ties")
    y = (rng.random(300) < 0.4).astype(int)
    np.testing.assert_allclose(
        mutual_info_classif(X, y, n_neighbors=n_neighbors, random_state=0),
        sk_mutual_info(X, y, n_neighbors=n_neighbors, random_state=0),
        atol=TOL,
    )


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_non_finite_values_are_reported_with_their_position(bad):
    rng = np.random.default_rng(11)
    X = rng.normal(size=(40, 290))
    X[17, 283] = bad
    y = np.arange(40) % 2
    with pytest.raises(ValueError, match="X: non-finite value at row 17, column 283"):
        mutual_info_classif(X, y)
    rows = np.arange(10, 40)
    with pytest.raises(ValueError, match="X: non-finite value at row 17, column 283"):
        mutual_info_classif(X, y[rows], rows=rows)
