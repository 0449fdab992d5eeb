"""Defuse engine: identification, distillation, sampling, correction (toy problems)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from failwidgets.methods.defuse import (
    Defuse,
    Identification,
    ScenarioSet,
    VAEQualityWarning,
    correct_classifier,
    distill_scenarios,
    identify_failures,
    reconstruction_quality,
    sample_scenario,
    sample_scenario_codes,
    select_smallest_failing,
)
from failwidgets.methods.scenario_labels import ScenarioLabels
from failwidgets.methods.vae import BetaVAE, VAEConfig, images_to_tensor

torch.set_num_threads(1)

# -- a VAE stub whose codes are readable pixels, for exact reference checks ----------------------


def to_pixel(code):
    """Codes in [-1, 2] as pixel values in [0, 1] (decoded images must lie in [0, 1])."""
    return (code + 1.0) / 3.0


def to_code(pixel):
    return pixel * 3.0 - 1.0


class PixelCodeVAE(torch.nn.Module):
    """encode: the code is row 0 of channel 0 (first d pixels, as ``to_code``); decode writes it
    back there (``to_pixel``): decode(encode(x)) keeps what the classifier reads."""

    def __init__(self, d=2, size=8):
        super().__init__()
        self.config = VAEConfig(image_size=size, latent_dim=d)
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # gives the module a device

    def check_images(self, images):
        return images_to_tensor(images, image_size=self.config.image_size)

    def encode(self, x):
        mu = to_code(x[:, 0, 0, : self.config.latent_dim])
        return mu, torch.zeros_like(mu)

    def decode(self, z):
        out = torch.zeros(len(z), 3, self.config.image_size, self.config.image_size)
        out[:, 0, 0, : z.shape[1]] = to_pixel(z)
        return out


class SumThreshold(torch.nn.Module):
    """Class 1 when the code's sum exceeds ``threshold``; expects inputs shifted by +100."""

    def __init__(self, d=2, threshold=1.5):
        super().__init__()
        self.d, self.threshold = d, threshold

    def forward(self, x):
        s = to_code(x[:, 0, 0, : self.d] - 100.0).sum(1)
        return torch.stack([self.threshold - s, s - self.threshold], dim=1)


def shift(x):
    return x + 100.0


def pixel_code_images(mu):
    images = np.zeros((len(mu), 3, 8, 8), np.float32)
    images[:, 0, 0, : mu.shape[1]] = to_pixel(mu)
    return images


def naive_identification(mu, labels, *, q, k, a, b, seed, threshold):
    """Per-image Python loop of the paper's algorithm (the reference to match)."""
    noise = (
        np.random.default_rng(seed).beta(a, b, size=(len(mu), q, mu.shape[1])).astype(np.float32)
    )
    kept = []
    for i in range(len(mu)):
        failing = []
        for j in range(q):
            code = mu[i] + noise[i, j]
            prediction = int(code.sum() > threshold)
            if prediction != labels[i]:
                failing.append((float(np.linalg.norm(noise[i, j])), j, code, prediction))
        failing.sort(key=lambda item: item[0])
        kept += [(i, *item) for item in failing[:k]]
    return kept


def test_selection_of_the_k_smallest_failing_draws_matches_a_loop():
    rng = np.random.default_rng(1)
    for m, q, k in [(7, 9, 3), (5, 4, 10), (1, 1, 1), (6, 12, 12)]:
        failed = rng.random((m, q)) < 0.4
        failed[0] = False  # an image without failures
        norms = rng.random((m, q))
        rows, cols = select_smallest_failing(torch.from_numpy(failed), torch.from_numpy(norms), k)
        expected = []
        for i in range(m):
            order = sorted((norms[i, j], j) for j in range(q) if failed[i, j])
            expected += [(i, j) for _, j in order[:k]]
        assert list(zip(rows.tolist(), cols.tolist())) == expected


@pytest.mark.parametrize("batch_size", [10_000, 8])  # one chunk, or many chunks and sub-batches
def test_identification_matches_the_naive_algorithm_with_preprocessing(batch_size):
    rng = np.random.default_rng(0)
    mu = rng.uniform(-0.5, 0.8, size=(12, 2)).astype(np.float32)
    labels = (mu.sum(1) > 0.5).astype(np.int64)
    result = identify_failures(
        PixelCodeVAE(),
        SumThreshold(),
        pixel_code_images(mu),
        labels,
        preprocess=shift,
        n_samples=15,
        a=2.0,
        b=5.0,
        max_per_image=3,
        batch_size=batch_size,
        seed=7,
        progress=False,
    )
    expected = naive_identification(mu, labels, q=15, k=3, a=2.0, b=5.0, seed=7, threshold=1.5)
    assert result.n_found == len(expected) > 0
    np.testing.assert_array_equal(result.image_index, [e[0] for e in expected])
    np.testing.assert_allclose(result.noise_norm, [e[1] for e in expected], rtol=1e-5)
    np.testing.assert_allclose(result.codes, np.stack([e[3] for e in expected]), rtol=1e-5)
    np.testing.assert_array_equal(result.predictions, [e[4] for e in expected])
    np.testing.assert_array_equal(result.labels, labels[result.image_index])
    assert (result.predictions != result.labels).all()
    noise = result.codes - mu[result.image_index]
    assert (noise > 0).all() and (noise < 1).all()  # Beta noise: always a positive shift
    assert result.n_samples == 15 and result.n_images == 12
    assert len(result.to_frame()) == result.n_found


def test_without_preprocessing_the_classifier_sees_other_inputs():
    mu = np.full((4, 2), 0.5, np.float32)
    labels = np.ones(4, np.int64)
    kwargs = dict(n_samples=5, max_per_image=5, progress=False)
    with_pre = identify_failures(
        PixelCodeVAE(), SumThreshold(), pixel_code_images(mu), labels, preprocess=shift, **kwargs
    )
    without = identify_failures(
        PixelCodeVAE(), SumThreshold(), pixel_code_images(mu), labels, **kwargs
    )
    assert with_pre.is_empty  # codes near (1, 1) sum past 1.5: class 1, right
    assert without.n_found == 20  # unshifted inputs all look like class 0


def test_no_failures_is_an_explicit_empty_result():
    mu = np.full((10, 2), 0.9, np.float32)
    result = identify_failures(
        PixelCodeVAE(),
        SumThreshold(),
        pixel_code_images(mu),
        np.ones(10, np.int64),
        preprocess=shift,
        n_samples=5,
        progress=False,
    )
    assert result.is_empty and result.codes.shape == (0, 2)
    assert "no failures found: 10 images x Q=5 draws of Beta(a=50, b=50)" in result.message
    scenarios = distill_scenarios(result)
    assert (
        isinstance(scenarios, ScenarioSet)
        and scenarios.is_empty
        and "no failures found" in scenarios.message
    )


def test_identification_bad_inputs():
    vae, clf, images = (
        PixelCodeVAE(),
        SumThreshold(),
        pixel_code_images(np.zeros((3, 2), np.float32)),
    )
    labels = np.zeros(3, np.int64)
    with pytest.raises(
        ValueError, match="labels: class index 5 is outside the classifier's 2 classes"
    ):
        identify_failures(vae, clf, images, np.array([0, 5, 1]), preprocess=shift, progress=False)
    with pytest.raises(ValueError, match="labels: expected 3 class indices"):
        identify_failures(vae, clf, images, labels[:2], progress=False)
    with pytest.raises(ValueError, match="VAE was built for 8x8 images, got 16x16"):
        identify_failures(vae, clf, np.zeros((3, 3, 16, 16), np.float32), labels, progress=False)
    with pytest.raises(ValueError, match="n_samples"):
        identify_failures(vae, clf, images, labels, n_samples=0, progress=False)
    with pytest.raises(ValueError, match="a: expected a finite number > 0"):
        identify_failures(vae, clf, images, labels, a=0.0, progress=False)
    with pytest.raises(TypeError, match="preprocess"):
        identify_failures(vae, clf, images, labels, preprocess="normalise", progress=False)
    with pytest.raises(TypeError, match="vae: expected a VAE with methods encode.* no encode"):
        identify_failures(torch.nn.Linear(2, 2), clf, images, labels, progress=False)
    with pytest.raises(ValueError, match="classifier: expected logits of shape"):
        identify_failures(vae, lambda x: x.sum(), images, labels, progress=False)
    for empty in (images[:0], torch.from_numpy(images[:0])):
        with pytest.raises(ValueError, match=r"images: no images to search .*\(got 0\)"):
            identify_failures(vae, clf, empty, labels[:0], progress=False)
        with pytest.raises(ValueError, match=r"images: no images to search .*\(got 0\)"):
            Defuse(vae, clf, progress=False).fit(empty, labels[:0])


# -- the quality gate and VAE failures ------------------------------------------------------------


class GreyVAE(PixelCodeVAE):
    """A useless VAE: every code decodes to the same grey image (codes of 0.5, sum 1: class 0)."""

    def decode(self, z):
        return torch.full((len(z), 3, self.config.image_size, self.config.image_size), 0.5)


def gate_world():
    """12 images the classifier gets right (9 of class 1, 3 of class 0) and one image of class 1
    it gets wrong (its code sums to 1.0 < 1.5)."""
    mu = np.array([[0.9, 0.9]] * 9 + [[0.1, 0.2]] * 3 + [[0.5, 0.5]], np.float32)
    labels = np.array([1] * 9 + [0] * 3 + [1])
    return pixel_code_images(mu), labels


def test_a_faithful_vae_passes_the_quality_gate_without_a_warning():
    images, labels = gate_world()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        defuse = Defuse(
            PixelCodeVAE(), SumThreshold(), preprocess=shift, n_samples=8, progress=False
        )
        defuse.fit(images, labels)
    quality = defuse.quality_
    assert quality.passed and quality.n_images == 13
    assert defuse.original_accuracy_ == defuse.reconstruction_accuracy_ == pytest.approx(12 / 13)
    np.testing.assert_array_equal(quality.reconstruction_correct, quality.original_correct)
    identification = defuse.identification_
    assert identification.n_vae_failing_draws == 0 and identification.n_vae_failure_images == 0
    assert not identification.vae_failure.any()
    assert "92.3% on the 13 original images, 92.3% on their VAE reconstructions (passed)" in repr(
        defuse
    )


def test_a_vae_that_decodes_grey_warns_and_its_failures_are_counted_apart():
    images, labels = gate_world()
    kwargs = dict(preprocess=shift, n_samples=8, max_per_image=3, progress=False)
    with pytest.warns(VAEQualityWarning) as caught:
        excluded = identify_failures(GreyVAE(), SumThreshold(), images, labels, **kwargs)
    text = str(caught[0].message)
    assert "23.1% of the VAE's reconstructions right against 92.3% of the original" in text
    assert "look like failures for that reason alone" in text and "train it longer" in text
    quality = excluded.quality
    assert not quality.passed and quality.reconstruction_accuracy == pytest.approx(3 / 13)
    # grey decodes are class 0: the nine right class-1 images are VAE failures, every draw fails
    np.testing.assert_array_equal(quality.vae_failure_images, [True] * 9 + [False] * 4)
    assert excluded.n_failing_draws == 10 * 8 and excluded.n_vae_failing_draws == 9 * 8
    assert excluded.n_classifier_failing_draws == 8
    # excluded: only the image the classifier already gets wrong (a model failure) remains
    np.testing.assert_array_equal(excluded.image_index, [12, 12, 12])
    assert not excluded.vae_failure.any() and excluded.vae_failures == "exclude"
    message = repr(excluded)
    assert "3 failure codes kept (at most 3 per image) from 8 misclassified draws on 1 images" in (
        message
    )
    assert "72 more misclassified draws came from 9 images the classifier gets right" in message
    assert "VAE failures, left out" in message and "(FAILED: under 0.5 x" in message

    with pytest.warns(VAEQualityWarning):
        kept = identify_failures(
            GreyVAE(), SumThreshold(), images, labels, vae_failures="keep", **kwargs
        )
    assert kept.n_found == 30 and kept.n_vae_failure_codes == 27
    np.testing.assert_array_equal(kept.vae_failure, np.repeat(np.arange(10) < 9, 3))
    assert kept.to_frame()["vae_failure"].sum() == 27
    assert "27 of the kept codes (72 misclassified draws) come from 9 images" in repr(kept)
    scenarios = distill_scenarios(kept, max_components=5)
    assert sum(s.n_vae_failure_codes for s in scenarios) <= 27
    assert "n_vae_failure_codes" in scenarios.to_frame().columns

    # with only VAE failures, nothing is kept, and the message says whose failure it is
    with pytest.warns(VAEQualityWarning):
        none = identify_failures(GreyVAE(), SumThreshold(), images[:9], labels[:9], **kwargs)
    assert none.is_empty and none.n_vae_failing_draws == 72
    assert none.message.startswith("no classifier failures kept: all 72 misclassified draws")
    assert "the VAE fails there, not the classifier" in none.message
    assert distill_scenarios(none).message == none.message

    # the gate's ratio: 0 never warns; the check alone
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        identify_failures(
            GreyVAE(), SumThreshold(), images, labels, min_reconstruction_ratio=0.0, **kwargs
        )
    alone = reconstruction_quality(GreyVAE(), SumThreshold(), images, labels, preprocess=shift)
    assert alone.as_dict() == {
        "n_images": 13,
        "original_accuracy": pytest.approx(12 / 13),
        "reconstruction_accuracy": pytest.approx(3 / 13),
        "min_ratio": 0.5,
        "passed": False,
        "n_vae_failure_images": 9,
    }
    with pytest.raises(ValueError, match="vae_failures: expected one of"):
        identify_failures(GreyVAE(), SumThreshold(), images, labels, vae_failures="drop")
    with pytest.raises(ValueError, match="min_reconstruction_ratio: expected a number in"):
        Defuse(GreyVAE(), SumThreshold(), min_reconstruction_ratio=2)
    with pytest.raises(TypeError, match="min_reconstruction_ratio: expected a number"):
        reconstruction_quality(GreyVAE(), SumThreshold(), images, labels, min_ratio="half")


# -- distillation and sampling on known clusters --------------------------------------------------


def clustered_identification(n_per=150, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[4.0, 0, 0], [-4.0, 0, 0], [0, 5.0, 0]])
    codes = np.concatenate([rng.normal(c, 0.3, size=(n_per, 3)) for c in centres]).astype(
        np.float32
    )
    labels = np.repeat([0, 1, 2], n_per)
    n = len(codes)
    return (
        Identification(
            codes=codes,
            image_index=np.arange(n),
            noise_norm=np.ones(n, np.float32),
            labels=labels,
            predictions=(labels + 1) % 3,
            confidence=np.ones(n, np.float32),
            n_images=n,
            n_samples=10,
            a=50.0,
            b=50.0,
            max_per_image=1,
            n_failing_draws=n,
        ),
        centres,
    )


def test_distillation_recovers_known_clusters():
    identification, centres = clustered_identification()
    scenarios = distill_scenarios(identification, max_components=10, seed=0)
    assert len(scenarios) == 3 and scenarios.n_fitted == 450
    found = {s.majority_label: s for s in scenarios}
    assert set(found) == {0, 1, 2}
    for label, scenario in found.items():
        np.testing.assert_allclose(scenario.mean, centres[label], atol=0.1)
        assert abs(scenario.weight - 1 / 3) < 0.05 and scenario.weight > scenarios.weight_threshold
        assert scenario.n_members == 150 and scenario.top_prediction == (label + 1) % 3
        # the posterior covariance: the cluster's 0.3**2 plus a little of sklearn's default prior
        assert np.all(np.linalg.eigvalsh(scenario.cov) > 0)
        assert np.all((np.diag(scenario.cov) > 0.07) & (np.diag(scenario.cov) < 0.4))
    assert [s.id for s in scenarios] == [0, 1, 2]
    assert list(scenarios.to_frame().columns[:3]) == ["weight", "n_members", "majority_label"]
    assert (
        distill_scenarios(identification, max_components=10, seed=0).fingerprint
        == scenarios.fingerprint
    )
    down = distill_scenarios(identification, max_codes=90, max_components=10)
    assert down.n_fitted == 90 and down.n_codes == 450
    assert sum(s.n_members for s in down) <= 450


def test_a_heavy_component_without_codes_is_no_scenario(monkeypatch):
    """The paper throws away the components "not used by the model": a component whose weight
    passes the cut but to which no code belongs (its mass is variational) has no source image
    and no class, so it is not offered for review."""
    from failwidgets.methods import dp_mixture

    identification, _ = clustered_identification()
    real_fit = dp_mixture.fit_dp_mixture
    emptied = {}

    def fit_without_one_component(codes, **kwargs):
        mixture, labels, stages = real_fit(codes, **kwargs)
        heavy = np.flatnonzero(mixture.weights_ > 0.01)
        lost, kept = heavy[-1], heavy[0]  # every code of one heavy component goes elsewhere
        emptied["component"] = int(lost)
        return mixture, np.where(labels == lost, kept, labels), stages

    monkeypatch.setattr(dp_mixture, "fit_dp_mixture", fit_without_one_component)
    scenarios = distill_scenarios(identification, max_components=10, seed=0)
    assert scenarios.mixture.weights_[emptied["component"]] > 0.3  # heavy, but no code
    assert len(scenarios) == 2 and all(s.n_members > 0 for s in scenarios)
    assert emptied["component"] not in {s.component for s in scenarios}
    assert all(s.majority_label is not None for s in scenarios)
    assert [s.id for s in scenarios] == [0, 1]
    assert "2 of 10 components have weight > 0.01 and codes assigned (1 more of that weight " in (
        scenarios.message
    )


def test_distillation_bad_inputs():
    identification, _ = clustered_identification(n_per=5)
    with pytest.raises(TypeError, match="identification: expected an Identification"):
        distill_scenarios(identification.codes)
    with pytest.raises(ValueError, match="weight_threshold"):
        distill_scenarios(identification, weight_threshold=1.5)
    with pytest.raises(ValueError, match="max_codes"):
        distill_scenarios(identification, max_codes=0)
    one = Identification(
        **{
            **identification.__dict__,
            "codes": identification.codes[:1],
            "labels": identification.labels[:1],
            "predictions": identification.predictions[:1],
        }
    )
    with pytest.raises(ValueError, match="at least 2 failure codes, got 1"):
        distill_scenarios(one)


def identification_of(codes, labels):
    n = len(codes)
    return Identification(
        codes=np.asarray(codes, np.float32),
        image_index=np.arange(n),
        noise_norm=np.ones(n, np.float32),
        labels=np.asarray(labels),
        predictions=(np.asarray(labels) + 1) % 4,
        confidence=np.ones(n, np.float32),
        n_images=n,
        n_samples=1,
        a=50.0,
        b=50.0,
        max_per_image=1,
        n_failing_draws=n,
    )


def planted_mixture(n, d, k, seed):
    """``k`` anisotropic Gaussian clusters of unequal weights."""
    rng = np.random.default_rng(seed)
    which = rng.choice(k, n, p=rng.dirichlet(np.full(k, 3.0)))
    centres = rng.normal(0, 3, size=(k, d))
    spread = rng.normal(size=(k, d, d)) * rng.uniform(0.15, 0.5, size=(k, 1, d))
    codes = centres[which] + np.einsum("nij,nj->ni", spread[which], rng.normal(size=(n, d)))
    return codes, which


def test_staged_distillation_matches_a_fully_converged_sklearn_fit():
    from sklearn.metrics import adjusted_rand_score
    from sklearn.mixture import BayesianGaussianMixture
    from threadpoolctl import threadpool_limits

    codes, which = planted_mixture(3000, 4, 5, seed=2)
    scenarios = distill_scenarios(
        identification_of(codes, which % 4), max_components=20, init_codes=500
    )
    assert [stage.n_codes for stage in scenarios.stages] == [500, 3000]
    assert scenarios.converged and "converged" in scenarios.message
    reference = BayesianGaussianMixture(
        n_components=20,
        covariance_type="full",
        weight_concentration_prior_type="dirichlet_process",
        max_iter=5000,
        tol=1e-4,
        random_state=0,
    )
    with threadpool_limits(limits=1, user_api="blas"):  # threaded BLAS is slower on d x d
        expected = reference.fit_predict(codes.astype(np.float32).astype(np.float64))
    assert reference.converged_
    assignment = scenarios.mixture.predict(codes.astype(np.float32).astype(np.float64))
    assert adjusted_rand_score(expected, assignment) >= 0.95
    assert len(scenarios) == np.sum(reference.weights_ > 0.01) == 5


def test_staged_and_plain_sklearn_fits_keep_the_same_scenarios():
    """Weights 0.6, 0.3, 0.095, 0.005: three scenarios; the smallest is under the 0.01 cut."""
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0], [6.0, 6.0]])
    sizes = [1200, 600, 190, 10]
    codes = np.concatenate([rng.normal(c, 0.4, size=(m, 2)) for c, m in zip(centres, sizes)])
    labels = np.repeat(np.arange(4), sizes)
    identification = identification_of(codes, labels)
    staged = distill_scenarios(identification, max_components=10, init_codes=200)
    plain = distill_scenarios(
        identification, max_components=10, init_codes=None, batched=False, max_iter=2000
    )
    assert [stage.n_codes for stage in staged.stages] == [200, 800, 2000]
    assert [stage.n_codes for stage in plain.stages] == [2000]
    assert staged.converged and plain.converged
    for fit in (staged, plain):
        assert [s.majority_label for s in fit] == [0, 1, 2]
        assert [s.n_members for s in fit] == [1200, 600, 190]
        np.testing.assert_allclose([s.weight for s in fit], [0.6, 0.3, 0.095], atol=0.01)
    for a, b in zip(staged, plain):
        np.testing.assert_array_equal(a.member_index, b.member_index)
        np.testing.assert_allclose(a.mean, b.mean, atol=1e-3)
        np.testing.assert_allclose(a.cov, b.cov, atol=1e-3)


def test_distillation_reports_when_em_did_not_converge():
    identification, _ = clustered_identification()
    with pytest.warns(ConvergenceWarning):
        scenarios = distill_scenarios(identification, max_components=10, max_iter=2)
    assert not scenarios.converged and scenarios.stages[-1].n_iter == 2
    assert "did not converge in 2 iterations" in scenarios.message
    plain = distill_scenarios(identification, max_components=10, init_codes=None, batched=False)
    assert plain.converged and len(plain.stages) == 1 and plain.stages[0].n_codes == 450
    assert not ScenarioSet([], None, 0, 0, 0.01, 3).converged


def test_distillation_fit_options_bad_inputs():
    identification, _ = clustered_identification(n_per=5)
    with pytest.raises(ValueError, match="init_codes: expected a positive integer"):
        distill_scenarios(identification, init_codes=0)
    with pytest.raises(ValueError, match="init_codes: expected 'auto', a positive integer or None"):
        distill_scenarios(identification, init_codes="fast")
    with pytest.raises(ValueError, match="tol: expected a finite number > 0"):
        distill_scenarios(identification, tol=0.0)
    with pytest.raises(TypeError, match="batched: expected True or False"):
        distill_scenarios(identification, batched="yes")
    with pytest.raises(ValueError, match="max_iter: expected a positive integer"):
        distill_scenarios(identification, max_iter=0)


def test_sampling_follows_mean_and_tau_scaled_covariance():
    identification, centres = clustered_identification()
    scenario = distill_scenarios(identification, max_components=10)[0]
    codes = sample_scenario_codes(scenario, 4000, tau=0.25, seed=3)
    np.testing.assert_allclose(codes.mean(0), scenario.mean, atol=0.03)
    np.testing.assert_allclose(np.cov(codes.T), 0.25 * scenario.cov, atol=0.01)
    np.testing.assert_array_equal(
        codes[:5], sample_scenario_codes(scenario, 5, tau=0.25, seed=3)[:5]
    )
    with pytest.raises(ValueError, match=r"tau: must lie in \(0, 1\]"):
        sample_scenario_codes(scenario, 5, tau=0.0)
    with pytest.raises(ValueError, match="n: expected a positive integer"):
        sample_scenario_codes(scenario, 0)
    with pytest.raises(KeyError, match="scenario_id"):
        distill_scenarios(identification, max_components=10)[7]


# -- end to end on a toy colour world ------------------------------------------------------------


def colour_world(n, seed):
    """8x8 images of one lit channel (the class) at brightness 0.2..1, plus pixel noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    images = np.zeros((n, 8, 8, 3), np.float32)
    images[np.arange(n), :, :, labels] = rng.uniform(0.2, 1.0, n)[:, None, None]
    images += rng.normal(0, 0.03, images.shape)
    return (np.clip(images, 0, 1) * 255).round().astype(np.uint8), labels


class MeanColour(torch.nn.Module):
    """Linear in the mean colour, biased towards red: dim green/blue images are called red."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(3, 3)
        with torch.no_grad():
            self.linear.weight.copy_(torch.eye(3) * 20)
            self.linear.bias.copy_(torch.tensor([12.0, 0.0, 0.0]))

    def forward(self, x):
        return self.linear(x.mean(dim=(2, 3)))


@pytest.fixture(scope="module")
def toy():
    images, labels = colour_world(900, seed=0)
    torch.manual_seed(0)
    vae = BetaVAE(VAEConfig(image_size=8, latent_dim=3, channels=16, hidden=32))
    vae.fit(images[:600], epochs=10, batch_size=25, lr=1e-2, kl_warmup_steps=200, progress=False)
    return images, labels, vae


def annotate(samples):
    """The toy oracle: a sample's class is its brightest channel (10 samples, rho = 0.5)."""
    truth = samples.images.reshape(len(samples.images), -1, 3).mean(1).argmax(1)
    label = int(np.bincount(truth, minlength=3).argmax())
    return bool(np.mean(samples.predictions != truth) > 0.5), label


def test_end_to_end_train_identify_distill_sample_label_correct(toy, tmp_path):
    images, labels, vae = toy
    classifier = MeanColour()
    original = {k: v.clone() for k, v in classifier.state_dict().items()}

    identification = identify_failures(
        vae, classifier, images[:300], labels[:300], n_samples=20, max_per_image=5, progress=False
    )
    assert (
        identification.n_found > 20 and (identification.predictions != identification.labels).all()
    )
    assert np.bincount(identification.image_index).max() <= 5

    scenarios = distill_scenarios(identification, max_components=20)
    assert len(scenarios) >= 1
    assert all(s.weight > 0.01 for s in scenarios)

    store = ScenarioLabels(
        tmp_path / "labels.json",
        n_classes=3,
        scenario_ids=scenarios.ids,
        scenario_set=scenarios.fingerprint,
    )
    for scenario in scenarios:
        samples = sample_scenario(scenario, vae, classifier, n=10, tau=0.1)
        assert samples.images.shape == (10, 8, 8, 3) and samples.probabilities.shape == (10, 3)
        is_failure, label = annotate(samples)
        store.set(scenario.id, is_failure=is_failure, correct_label=label)
    assert store.failure_labels(), "the toy classifier's dim-colour failures must be found"

    reopened = ScenarioLabels(
        tmp_path / "labels.json", n_classes=3, scenario_set=scenarios.fingerprint
    )
    events = []
    result = correct_classifier(
        classifier,
        vae,
        scenarios,
        reopened,
        on_progress=events.append,
        train_images=images[:600],
        train_labels=labels[:600],
        test_images=images[600:],
        test_labels=labels[600:],
        lambdas=[0.1, 3.0],
        n_per_scenario=64,
        epochs=2,
        batch_size=50,
        lr=0.05,
        progress=False,
    )
    # progress: sampling, the original's evaluation, then per lambda and epoch a start and
    # one event per step (12 steps of 50 of the 600 training images), the copy's evaluation
    stages = [(e.stage, e.lam, e.epoch, e.step) for e in events]
    expected = [("sampling", None, 0, 0), ("evaluating", None, 0, 0)]
    for lam in (0.1, 3.0):
        expected += [("finetuning", lam, epoch, step) for epoch in (1, 2) for step in range(13)]
        expected.append(("evaluating", lam, 0, 0))
    assert stages == expected + [("done", None, 0, 0)]
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[0] == 0 and fractions[-1] == 1
    middle = events[2 + 13 + 5]
    assert middle.text == "λ=0.1 (1/2), epoch 2/2, step 5/12" and middle.fraction == 17 / 48
    assert events[-2].text == "λ=3 (2/2), evaluating the finetuned copy"
    after = result.sweep.loc[result.sweep["selected"]].iloc[0]
    assert result.before["scenario_accuracy"] < 0.5
    assert after["scenario_accuracy"] >= result.before["scenario_accuracy"] + 0.3
    assert after["test_accuracy"] >= result.before["test_accuracy"] - 0.02
    assert result.n_scenarios == len(reopened.failure_labels())
    table = result.table()
    assert list(table.columns) == ["scenarios", "train (2048 images)", "test", "failure scenario"]
    assert (
        table.index[0] == "before finetuning" and table.iloc[1]["scenarios"] == result.n_scenarios
    )
    assert len(result.tradeoff()) == 3 and set(result.per_scenario.index) == set(
        reopened.failure_labels()
    )
    for key, value in classifier.state_dict().items():  # the original is left untouched
        torch.testing.assert_close(value, original[key])


def test_correction_bad_inputs(toy):
    images, labels, vae = toy
    identification, _ = clustered_identification()
    scenarios = distill_scenarios(identification, max_components=10)
    kwargs = dict(
        train_images=images[:50],
        train_labels=labels[:50],
        test_images=images[50:80],
        test_labels=labels[50:80],
        progress=False,
    )
    with pytest.raises(ValueError, match="labels\\[0\\]: 3 is outside the classes 0..2"):
        correct_classifier(MeanColour(), vae, scenarios, {0: 3}, **kwargs)
    with pytest.raises(ValueError, match="labels: 9 is not one of the scenario ids"):
        correct_classifier(MeanColour(), vae, scenarios, {9: 1}, **kwargs)
    with pytest.raises(ValueError, match="no scenario is marked as a failure"):
        correct_classifier(MeanColour(), vae, scenarios, {}, **kwargs)
    with pytest.raises(ValueError, match="lambdas"):
        correct_classifier(MeanColour(), vae, scenarios, {0: 1}, lambdas=[], **kwargs)
    with pytest.raises(TypeError, match="on_progress: expected a callable or None"):
        correct_classifier(MeanColour(), vae, scenarios, {0: 1}, on_progress="bar", **kwargs)
    with pytest.raises(ValueError, match="test_labels: class index 7 is outside"):
        correct_classifier(
            MeanColour(), vae, scenarios, {0: 1}, **{**kwargs, "test_labels": np.full(30, 7)}
        )
    with pytest.raises(ValueError, match="val_images and val_labels"):
        correct_classifier(MeanColour(), vae, scenarios, {0: 1}, val_images=images[:5], **kwargs)
    with pytest.raises(ValueError, match="train_images: uint8 images must be"):
        correct_classifier(
            MeanColour(),
            vae,
            scenarios,
            {0: 1},
            **{**kwargs, "train_images": images[:50, :, :, :2]},
        )


def test_defuse_object_runs_the_steps(toy):
    images, labels, vae = toy
    defuse = Defuse(
        vae, MeanColour(), n_samples=10, max_per_image=3, max_components=10, progress=False
    )
    with pytest.raises(RuntimeError, match="call fit"):
        defuse.sample(0)
    defuse.fit(images[:120], labels[:120])
    assert defuse.identification_.n_images == 120
    assert len(defuse.scenarios_) >= 1
    samples = defuse.sample(0, n=4, tau=0.5)
    assert samples.images.shape == (4, 8, 8, 3) and samples.tau == 0.5
