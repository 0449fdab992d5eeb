"""The batched Dirichlet-process mixture equals sklearn's; the staged fit's schedule."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture
from threadpoolctl import threadpool_limits

from failwidgets.methods.dp_mixture import (
    BatchedDPGaussianMixture,
    fit_dp_mixture,
    stage_sizes,
)


@pytest.fixture(autouse=True)
def one_blas_thread():
    """As in fit_dp_mixture: threaded BLAS on d x d matrices is 10-100x slower on a busy machine."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


SETTINGS = dict(
    n_components=12,
    covariance_type="full",
    weight_concentration_prior_type="dirichlet_process",
    random_state=0,
)


def codes_with_a_far_tight_cluster(seed=0):
    """Three broad clusters near the origin and a tight one far away (rounding stress)."""
    rng = np.random.default_rng(seed)
    broad = [rng.normal(c, 0.5, size=(300, 5)) for c in (-2.0, 0.0, 2.0)]
    tight = rng.normal(40.0, 0.01, size=(100, 5))
    return np.concatenate([*broad, tight])


def test_batched_steps_equal_sklearns():
    x = codes_with_a_far_tight_cluster()
    with pytest.warns(ConvergenceWarning):  # stopped early on purpose: any valid parameters
        fitted = BayesianGaussianMixture(max_iter=5, **SETTINGS).fit(x)
    batched = BatchedDPGaussianMixture(**SETTINGS)
    batched.__dict__.update(fitted.__dict__)
    np.testing.assert_allclose(
        batched._estimate_log_prob(x), fitted._estimate_log_prob(x), rtol=1e-9, atol=1e-6
    )
    norm, log_resp = batched._estimate_log_prob_resp(x)
    expected_norm, expected_log_resp = fitted._estimate_log_prob_resp(x)
    np.testing.assert_allclose(norm, expected_norm, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(np.exp(log_resp), np.exp(expected_log_resp), atol=1e-9)
    batched._m_step(x, expected_log_resp)
    fitted._m_step(x, expected_log_resp)
    for name in ("weight_concentration_", "means_", "covariances_", "precisions_cholesky_"):
        np.testing.assert_allclose(
            np.asarray(getattr(batched, name)), np.asarray(getattr(fitted, name)), rtol=1e-7
        )


def test_batched_fit_equals_sklearns_fit():
    x = codes_with_a_far_tight_cluster(seed=1)
    plain = BayesianGaussianMixture(max_iter=500, **SETTINGS).fit(x)
    batched = BatchedDPGaussianMixture(max_iter=500, **SETTINGS).fit(x)
    assert batched.converged_ and plain.converged_ and batched.n_iter_ == plain.n_iter_
    np.testing.assert_allclose(batched.weights_, plain.weights_, atol=1e-8)
    np.testing.assert_allclose(batched.means_, plain.means_, atol=1e-6)
    np.testing.assert_allclose(batched.lower_bound_, plain.lower_bound_, rtol=1e-9)
    np.testing.assert_array_equal(batched.predict(x), plain.predict(x))
    assert batched._fit_features is None  # the per-fit cache is released


def test_other_covariance_types_use_sklearns_code():
    x = codes_with_a_far_tight_cluster()
    settings = {**SETTINGS, "covariance_type": "diag", "max_iter": 50}
    np.testing.assert_allclose(
        BatchedDPGaussianMixture(**settings).fit(x).means_,
        BayesianGaussianMixture(**settings).fit(x).means_,
    )


@pytest.mark.parametrize(
    "n, first, expected",
    [
        (50_000, 2_000, [2_000, 8_000, 50_000]),
        (17_000, 1_000, [1_000, 4_000, 17_000]),
        (3_000, 2_000, [3_000]),
        (4_000, 2_000, [2_000, 4_000]),
    ],
)
def test_stage_sizes(n, first, expected):
    assert stage_sizes(n, first) == expected


def test_staged_fit_ends_on_all_codes_and_reports_each_stage():
    x = codes_with_a_far_tight_cluster()
    mixture, labels, stages = fit_dp_mixture(x, n_components=12, init_codes=100)
    assert [s.n_codes for s in stages] == [100, 400, 1000]
    assert all(s.n_iter >= 2 for s in stages[1:]) and stages[-1].converged
    assert stages[-1].lower_bound == mixture.lower_bound_
    np.testing.assert_array_equal(labels, mixture.predict(x))
    # the far tight cluster is one component of weight 0.1
    assert len(np.unique(labels[-100:])) == 1
    assert mixture.weights_[labels[-1]] == pytest.approx(0.1, abs=0.01)
    # "auto": 4 codes per component and dimension (12 x 5 x 4 = 240)
    _, _, stages = fit_dp_mixture(x, n_components=12)
    assert [s.n_codes for s in stages] == [240, 1000]
    # the first stage needs at least n_components codes
    _, _, stages = fit_dp_mixture(x, n_components=300, init_codes=10)
    assert stages[0].n_codes == 300
