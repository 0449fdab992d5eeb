"""CES engine: concept sets, CAVs (linear SVMs), scores, counterfactuals, map embedding."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from torch import nn

from failwidgets.features.split import SplitModel, split_model
from failwidgets.methods.ces import (
    ConceptBank,
    ConceptExplainer,
    ConceptSet,
    class_mistakes,
    concept_failure_modes,
    concept_scores,
    conceptual_counterfactual,
    describe_scores,
    embed_concepts,
    fit_concept_bank,
    learn_concept_bank,
    mistakes_per_class,
)

torch.set_num_threads(1)
N_CLASSES, DIM = 4, 24


def _linear_top(weight: np.ndarray) -> nn.Linear:
    top = nn.Linear(weight.shape[1], weight.shape[0], bias=False)
    with torch.no_grad():
        top.weight.copy_(torch.from_numpy(weight))
    return top


def _bank(vectors: np.ndarray, names=None, **overrides) -> ConceptBank:
    vectors = np.asarray(vectors, dtype=np.float32)
    c = len(vectors)
    fields = dict(
        names=names or [f"c{i}" for i in range(c)],
        vectors=vectors,
        intercepts=np.zeros(c),
        val_accuracy=np.ones(c),
        train_accuracy=np.ones(c),
        c_values=np.ones(c),
        margin_min=-np.ones(c),
        margin_max=np.ones(c),
        n_positives=np.full(c, 50),
        n_negatives=np.full(c, 50),
        activation_shape=(vectors.shape[1],),
        layer="toy",
    )
    fields.update(overrides)
    return ConceptBank(**fields)


@pytest.fixture(scope="module")
def planted():
    """Synthetic activations with concepts along known directions and a linear top.

    Concept "aligned" moves activations along W[0] - W[1], the direction that
    turns class-1 logits into class-0 logits; the others move along random
    directions orthogonal to every row of W (no effect on the logits), plus a
    concept whose examples are indistinguishable (pure noise).
    """
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((N_CLASSES, DIM)).astype(np.float32)
    basis, _ = np.linalg.qr(np.concatenate([weight.T, rng.standard_normal((DIM, DIM))], axis=1))
    null_space = basis[:, N_CLASSES:].T  # orthogonal to the rows of W
    aligned = weight[0] - weight[1]
    aligned /= np.linalg.norm(aligned)
    directions = {"aligned": aligned}
    for i in range(4):
        directions[f"other{i}"] = null_space[i]
    per = 60
    names = list(directions) + ["noise"]
    rows, positives, negatives = [], [], []
    for k, name in enumerate(names):
        shift = directions.get(name, np.zeros(DIM))
        base = rng.standard_normal((2 * per, DIM))
        base[:per] += 3.0 * shift
        rows.append(base)
        positives.append(np.arange(2 * per * k, 2 * per * k + per))
        negatives.append(np.arange(2 * per * k + per, 2 * per * (k + 1)))
    activations = np.concatenate(rows).astype(np.float32)
    concepts = ConceptSet.from_indices(names, positives, negatives, len(activations))
    return {"weight": weight, "activations": activations, "concepts": concepts, "rng": rng}


@pytest.fixture(scope="module")
def planted_bank(planted):
    return fit_concept_bank(planted["activations"], planted["concepts"], layer="toy")


# ---------------------------------------------------------------- concept sets
def test_concepts_need_ten_examples():
    with pytest.raises(ValueError, match=r"at least 10 .*tiny \(9 positives, 12 negatives\)"):
        ConceptSet.from_indices(
            ["ok", "tiny"], [range(10), range(9)], [range(10, 20), range(20, 32)], 40
        )
    with pytest.raises(ValueError, match="outside the pool"):
        ConceptSet.from_indices(["a"], [range(10)], [range(10, 21)], 20)


def test_concepts_from_evalset_tags():
    from tests.conftest import make_small_evalset

    n = 90
    metadata = pd.DataFrame(
        {
            "striped": np.arange(n) % 3 == 0,  # 30 positives
            "scene": np.where(np.arange(n) % 2 == 0, "water", "grass"),
            "rare": np.arange(n) < 5,
            "brightness": np.linspace(0, 1, n),
        }
    )
    evalset = make_small_evalset(n=n, metadata=metadata)
    concepts = ConceptSet.from_evalset(evalset, max_examples=20)
    assert concepts.names == ["striped", "scene=grass", "scene=water"]
    assert set(concepts.skipped) == {"rare", "brightness"}
    pos, neg = concepts.positives[0], concepts.negatives[0]
    assert len(pos) == len(neg) == 20
    assert (
        metadata["striped"].to_numpy()[pos].all() and not metadata["striped"].to_numpy()[neg].any()
    )
    water = concepts.names.index("scene=water")
    assert (metadata["scene"].to_numpy()[concepts.positives[water]] == "water").all()
    assert (metadata["scene"].to_numpy()[concepts.negatives[water]] == "grass").all()
    assert concepts.positive_ids("striped") == [int(i) for i in pos]
    # Restricting the pool to some rows.
    train = np.arange(45)
    restricted = ConceptSet.from_evalset(evalset, ["striped"], indices=train)
    assert restricted.positives[0].max() < 45 and restricted.negatives[0].max() < 45
    # An explicitly requested column with too few examples is an error.
    with pytest.raises(ValueError, match="'rare' needs at least 10"):
        ConceptSet.from_evalset(evalset, ["rare"])
    with pytest.raises(ValueError, match="threshold it into booleans"):
        ConceptSet.from_evalset(evalset, ["brightness"])
    with pytest.raises(ValueError, match="not in the metadata"):
        ConceptSet.from_evalset(evalset, ["nope"])
    with pytest.raises(ValueError, match="no metadata"):
        ConceptSet.from_evalset(make_small_evalset())


def _write_images(folder, n, colour, size=16, seed=0):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        image = np.clip(rng.normal(colour, 30, size=(size, size, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(image).save(folder / f"{i:03d}.png")


def test_concepts_from_folders_draw_negatives_from_other_concepts(tmp_path):
    _write_images(tmp_path / "red", 12, (220, 30, 30))
    _write_images(tmp_path / "green", 14, (30, 220, 30), seed=1)
    _write_images(tmp_path / "blue", 11, (30, 30, 220), seed=2)
    concepts = ConceptSet.from_folders(tmp_path)
    assert concepts.names == ["blue", "green", "red"]
    assert concepts.n_pool == 37
    for pos, neg in zip(concepts.positives, concepts.negatives):
        assert len(neg) == len(pos) and not set(pos) & set(neg)
    assert all("red" in p for p in concepts.positive_ids("red"))

    _write_images(tmp_path / "neutral", 15, (128, 128, 128), seed=3)
    with_neg = ConceptSet.from_folders(
        {"red": tmp_path / "red", "green": tmp_path / "green"}, negative_folder=tmp_path / "neutral"
    )
    neutral = {i for i, p in enumerate(with_neg.example_ids) if "neutral" in p}
    assert all(set(neg) <= neutral for neg in with_neg.negatives)

    _write_images(tmp_path / "few", 4, (0, 0, 0))
    with pytest.raises(ValueError, match="few"):
        ConceptSet.from_folders(tmp_path)


# ----------------------------------------------------------------------- CAVs
def test_cav_is_the_linear_svm_solution():
    """The dual solution on the Gram matrix equals sklearn's primal linear SVC."""
    from sklearn.model_selection import train_test_split
    from sklearn.svm import SVC

    rng = np.random.default_rng(3)
    x = (rng.standard_normal((80, 30)) * 3 + 1).astype(np.float32)
    y = np.where(x[:, 0] + 0.7 * rng.standard_normal(80) > 1, 1.0, -1.0)
    pos, neg = np.flatnonzero(y > 0), np.flatnonzero(y < 0)
    concepts = ConceptSet.from_indices(["c"], [pos], [neg], 80)
    bank = fit_concept_bank(x, concepts, c_grid=[0.5], min_accuracy=0.0)

    rows = np.concatenate([pos, neg])
    labels = np.concatenate([np.ones(len(pos)), -np.ones(len(neg))])
    train, _ = train_test_split(np.arange(80), test_size=0.25, stratify=labels, random_state=0)
    xt = x[rows[train]].astype(np.float64)
    scale = np.mean(np.sum(xt**2, axis=1))  # C is relative to unit mean squared norm
    ref = SVC(kernel="linear", C=0.5 / scale, tol=1e-6).fit(xt, labels[train])
    np.testing.assert_allclose(
        bank.vectors[0], ref.coef_[0], rtol=0, atol=2e-3 * np.abs(ref.coef_).max()
    )
    np.testing.assert_allclose(bank.intercepts[0], ref.intercept_[0], atol=0.05)
    margins = (xt @ bank.vectors[0] + bank.intercepts[0]) / np.linalg.norm(bank.vectors[0])
    assert bank.margin_min[0] == pytest.approx(margins.min(), abs=1e-3)
    assert bank.margin_max[0] == pytest.approx(margins.max(), abs=1e-3)


def test_bank_keeps_learnable_concepts_and_drops_noise(planted, planted_bank):
    assert "noise" in planted_bank.dropped and planted_bank.dropped["noise"] < 0.7
    assert planted_bank.names == ["aligned", "other0", "other1", "other2", "other3"]
    assert (planted_bank.val_accuracy >= 0.7).all()
    assert set(planted_bank.c_values) <= {0.01, 0.1, 1.0, 10.0}
    # The positives lie on the positive side of the learned boundary.
    k = planted_bank.index("aligned")
    pos = planted["concepts"].positives[0]
    assert (planted_bank.decision_function(planted["activations"][pos])[:, k] > 0).mean() > 0.8
    keep_all = fit_concept_bank(planted["activations"], planted["concepts"], min_accuracy=0.0)
    assert "noise" in keep_all.names and not keep_all.dropped
    half = fit_concept_bank(planted["activations"].astype(np.float16), planted["concepts"])
    assert half.names == planted_bank.names  # float16 storage of a wide pool works too


def test_bank_save_load_round_trip(planted_bank, tmp_path):
    npz, js = planted_bank.save(tmp_path / "bank")
    assert npz.name == "bank.npz" and js.name == "bank.json"
    with np.load(npz, allow_pickle=False) as data:  # plain arrays only
        assert data["vectors"].dtype == np.float32
    assert json.loads(js.read_text())["names"] == planted_bank.names
    loaded = ConceptBank.load(tmp_path / "bank.npz")
    for name in ConceptBank._ARRAYS:
        np.testing.assert_array_equal(getattr(loaded, name), getattr(planted_bank, name))
    for name in ("names", "activation_shape", "layer", "input_shape", "dropped", "positive_ids"):
        assert getattr(loaded, name) == getattr(planted_bank, name)
    with pytest.raises(ValueError, match="not found"):
        ConceptBank.load(tmp_path / "missing")


# ---------------------------------------------------------------------- scores
def test_score_sign_flips_with_the_step_direction():
    """t(h) = W h with W[0] = v: adding v provably raises p_0, removing it lowers p_0."""
    rng = np.random.default_rng(1)
    weight = rng.standard_normal((N_CLASSES, DIM)).astype(np.float32)
    v = weight[0] - weight[1:].mean(axis=0)
    bank = _bank(np.stack([v, -v]), names=["helps", "hurts"])
    top = _linear_top(weight)
    h = rng.standard_normal((5, DIM)).astype(np.float32)
    add = concept_scores(top, bank, h, 0, delta=0.3)
    remove = concept_scores(top, bank, h, 0, delta=0.3, direction="remove")
    assert (add.per_sample[:, 0] > 0).all() and (add.per_sample[:, 1] < 0).all()
    np.testing.assert_allclose(np.sign(remove.per_sample), -np.sign(add.per_sample))
    assert add.top_positive(1) == [("helps", 1.0)]
    assert add.top_negative(1) == [("hurts", pytest.approx(add.scores[1]))]
    assert remove.top_positive(1)[0][0] == "hurts"
    assert (np.sign(add.log_odds) == np.sign(add.raw)).all()


def test_scores_are_normalised_sums(planted, planted_bank):
    top = _linear_top(planted["weight"])
    h = planted["rng"].standard_normal((7, DIM)).astype(np.float32)
    result = concept_scores(top, planted_bank, h, 0)
    assert np.all(np.abs(result.scores) <= 1.0)
    assert np.max(np.abs(result.scores)) == pytest.approx(1.0)
    np.testing.assert_allclose(result.raw, result.per_sample.sum(axis=0))
    np.testing.assert_allclose(result.scores, result.raw / np.abs(result.raw).max())
    # Unperturbed probabilities, computed by hand.
    p = torch.softmax(torch.from_numpy(h) @ torch.from_numpy(planted["weight"]).T, 1)[:, 0]
    np.testing.assert_allclose(result.base_probability, p.double().numpy(), rtol=1e-5)
    # A step that changes nothing gives all-zero scores, not NaN.
    null = _bank(np.zeros((2, DIM)))
    assert np.array_equal(concept_scores(top, null, h, 0).scores, np.zeros(2))


def test_planted_concept_ranks_first(planted, planted_bank):
    """Samples of class 0 predicted as class 1: the concept along W0 - W1 explains it."""
    weight = planted["weight"]
    rng = np.random.default_rng(5)
    h = rng.standard_normal((200, DIM)).astype(np.float32)
    logits = h @ weight.T
    mistakes = h[(logits.argmax(1) == 1)][:20]
    top = _linear_top(weight)
    result = concept_scores(top, planted_bank, mistakes, 0, delta=1.0)
    assert result.rank("aligned") == 0
    assert result.scores[planted_bank.index("aligned")] == 1.0
    others = [result.scores[planted_bank.index(f"other{i}")] for i in range(4)]
    assert np.max(np.abs(others)) < 0.05  # (nearly) orthogonal to W: (almost) no effect
    single = concept_scores(top, planted_bank, mistakes[:1], 0, delta=1.0)
    assert single.top_positive(1)[0][0] == "aligned"
    # The reference's saturating step (1e4): p_0 -> 1 for every mistake along "aligned";
    # a concept with a small residual component along W0 - W1 saturates too (a tie at 1),
    # and the non-saturating log-odds change ranks the planted concept first.
    saturated = concept_scores(top, planted_bank, mistakes, 0)
    k = planted_bank.index("aligned")
    assert saturated.scores[k] == 1.0
    np.testing.assert_allclose(saturated.per_sample[:, k], 1.0 - saturated.base_probability)
    assert saturated.rank("aligned") == 0
    assert saturated.to_frame().index[0] == "aligned"
    assert saturated.top_positive(1) == [("aligned", 1.0)]
    assert saturated.log_odds[k] == saturated.log_odds.max()


def test_batching_does_not_change_scores(planted, planted_bank):
    top = _linear_top(planted["weight"])
    h = planted["rng"].standard_normal((9, DIM)).astype(np.float32)
    target = np.arange(9) % N_CLASSES
    big = concept_scores(top, planted_bank, h, target, delta=0.5)
    tiny = concept_scores(top, planted_bank, h, target, delta=0.5, max_batch_elements=DIM * 2)
    np.testing.assert_allclose(big.per_sample, tiny.per_sample, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(big.target, target)


def test_score_bad_input(planted, planted_bank):
    top = _linear_top(planted["weight"])
    h = np.zeros((3, DIM), dtype=np.float32)
    with pytest.raises(ValueError, match=r"class 4 outside the model's classes 0..3"):
        concept_scores(top, planted_bank, h, 4)
    with pytest.raises(ValueError, match="expected one class or 3"):
        concept_scores(top, planted_bank, h, [0, 1])
    with pytest.raises(ValueError, match="does not match the bank's layer"):
        concept_scores(top, planted_bank, np.zeros((3, DIM + 1), np.float32), 0)
    with pytest.raises(ValueError, match="direction"):
        concept_scores(top, planted_bank, h, 0, direction="up")
    with pytest.raises(ValueError, match="delta"):
        concept_scores(top, planted_bank, h, 0, delta=-1.0)
    with pytest.raises(TypeError, match="SplitModel or a callable"):
        concept_scores(42, planted_bank, h, 0)


# -------------------------------------------------------------- counterfactual
def test_counterfactual_flips_a_prediction(planted, planted_bank):
    weight = planted["weight"]
    top = _linear_top(weight)
    rng = np.random.default_rng(7)
    h = rng.standard_normal((300, DIM)).astype(np.float32)
    logits = h @ weight.T
    # Mistakes: true class 0, predicted 1, and within reach (class 0 is the runner-up).
    runner_up = np.argsort(-logits, axis=1)[:, 1]
    pick = np.flatnonzero((logits.argmax(1) == 1) & (runner_up == 0))[:5]
    result = conceptual_counterfactual(top, planted_bank, h[pick], 0, n_steps=150)
    assert (result.prediction == 1).all()
    assert result.success.all() and (result.counterfactual_prediction == 0).all()
    k = planted_bank.index("aligned")
    assert (result.weights[:, k] > 0.5).all()  # add the concept that moves 1 -> 0
    assert (np.argmax(result.weights, axis=1) == k).all()
    assert result.ranked(0)[0][0] == "aligned"
    # Weights stay inside each concept's training-margin range.
    bank = planted_bank
    margins = bank.decision_function(h[pick]) / bank.norms
    moved = margins + result.weights * bank.margin_max
    assert (moved <= bank.margin_max + 1e-6).all() and (moved >= bank.margin_min - 1e-6).all()
    # Validity: a concept the sample shows can only be removed, one it lacks only added.
    assert (result.weights[margins > 0] <= 1e-12).all()
    assert (result.weights[margins < 0] >= -1e-12).all()


def test_counterfactual_bad_input(planted, planted_bank):
    top = _linear_top(planted["weight"])
    h = np.zeros((2, DIM), dtype=np.float32)
    with pytest.raises(ValueError, match="outside the model's classes"):
        conceptual_counterfactual(top, planted_bank, h, 9)
    with pytest.raises(ValueError, match="n_steps"):
        conceptual_counterfactual(top, planted_bank, h, 0, n_steps=0)


# ------------------------------------------------------------------------- map
def test_embedding_of_the_cavs():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal(DIM), rng.standard_normal(DIM)
    vectors = np.stack([a, 3 * a, b, -b, a + b, a - b, 2 * b])  # norms do not matter
    bank = _bank(vectors)
    coords = embed_concepts(bank)
    assert coords.shape == (7, 2)
    np.testing.assert_allclose(coords[0], coords[1], atol=1e-6)
    np.testing.assert_allclose(coords[2], coords[6], atol=1e-6)
    tsne = embed_concepts(bank, "tsne", perplexity=2.0)
    assert tsne.shape == (7, 2) and np.isfinite(tsne).all()
    with pytest.raises(ValueError, match="method"):
        embed_concepts(bank, "umap")


# ------------------------------------------------------------ with a real model
class TinyCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 8, 3, padding=1)
        )
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        x = torch.relu(self.features(x))
        return self.head(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def test_end_to_end_with_images(tmp_path):
    from tests.conftest import make_small_evalset

    _write_images(tmp_path / "concepts" / "red", 15, (230, 20, 20))
    _write_images(tmp_path / "concepts" / "blue", 15, (20, 20, 230), seed=1)
    _write_images(tmp_path / "concepts" / "big", 12, (120, 120, 120), size=24, seed=2)
    split = split_model(TinyCNN(), "features")
    concepts = ConceptSet.from_folders(tmp_path / "concepts")
    with pytest.raises(ValueError, match="different sizes"):
        learn_concept_bank(split, concepts)
    bank = learn_concept_bank(split, concepts, image_size=(16, 16), min_accuracy=0.0)
    assert bank.activation_shape == (8, 8, 8) and bank.input_shape == (3, 16, 16)
    assert bank.layer == "features" and set(bank.names) == {"big", "blue", "red"}
    assert bank.positive_ids["red"][0].endswith("000.png")
    assert bank.val_accuracy[bank.index("red")] == 1.0

    explainer = ConceptExplainer(split, bank)
    evalset = make_small_evalset(n=12, size=16)
    result = explainer.explain_evalset(evalset, [0, 1, 2])
    np.testing.assert_array_equal(result.target, evalset.labels[:3])
    assert np.abs(result.scores).max() == pytest.approx(1.0)
    np.testing.assert_allclose(  # cached activations are those of the images
        explainer.evalset_activations(evalset, [2, 0]),
        explainer.activations(evalset.images_at([2, 0])),
    )
    by_name = explainer.explain_evalset(evalset, [0, 1, 2], target="class_2")
    assert (by_name.target == 2).all()
    with pytest.raises(ValueError, match="unknown class"):
        explainer.explain_evalset(evalset, [0], target="zebra")
    with pytest.raises(ValueError, match=r"learned on \(3, 16, 16\)"):
        explainer.explain_evalset(make_small_evalset(n=12, size=20), [0])
    cce = explainer.counterfactual(explainer.evalset_activations(evalset, [0]), 1, n_steps=5)
    assert cce.weights.shape == (1, 3)
    assert explainer.embedding().shape == (3, 2)


def test_callables_split_works_with_scores():
    weight = np.random.default_rng(0).standard_normal((3, 6)).astype(np.float32)
    top = _linear_top(weight)
    split = SplitModel.from_callables(lambda x: x.flatten(1), top)
    bank = _bank(np.eye(6)[:2] * 5.0)
    result = concept_scores(split, bank, np.zeros((1, 6), np.float32), 2, delta=1.0)
    expected = torch.softmax(torch.from_numpy(weight[:, :2].T * 5.0), 1)[:, 2] - 1 / 3
    np.testing.assert_allclose(result.per_sample[0], expected.double().numpy(), rtol=1e-5)


# ------------------------------------------------ bad data where it enters (issue 14)
def _toy():
    rng = np.random.default_rng(3)
    weight = rng.standard_normal((N_CLASSES, DIM)).astype(np.float32)
    bank = _bank(rng.standard_normal((3, DIM)))
    return _linear_top(weight), bank, rng.standard_normal((4, DIM)).astype(np.float32)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 1e300])
def test_nan_or_infinite_activations_are_refused(bad):
    top, bank, h = _toy()
    h = h.astype(np.float64)
    h[2, 5] = bad  # 1e300 is finite in float64 but inf in the model's float32
    for call in (
        lambda: concept_scores(top, bank, h, 0),
        lambda: concept_scores(top, bank, torch.from_numpy(h), 0),
        lambda: conceptual_counterfactual(top, bank, h, 0, n_steps=1),
        lambda: bank.decision_function(h),
    ):
        with pytest.raises(ValueError, match=r"activations: 1 of 4 samples have NaN or infinite"):
            call()


@pytest.mark.parametrize("field", ["vectors", "intercepts", "margin_min", "margin_max"])
def test_nan_concept_vectors_are_refused(field):
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((3, DIM))
    overrides = {"intercepts": np.zeros(3), "margin_min": -np.ones(3), "margin_max": np.ones(3)}
    if field == "vectors":
        vectors[1, 3] = np.nan
    else:
        overrides[field] = overrides[field].copy()
        overrides[field][1] = np.nan
    with pytest.raises(ValueError, match=rf"{field}: concept 'c1' has NaN or infinite values"):
        _bank(vectors, **overrides)


@pytest.mark.parametrize(
    ("delta", "error", "match"),
    [
        ("big", TypeError, r"delta: expected a positive number, got str 'big'"),
        (None, TypeError, r"delta: expected a positive number, got NoneType"),
        (True, TypeError, r"delta: expected a positive number, got bool"),
        (np.array([1.0, 2.0]), TypeError, r"delta: expected a positive number"),
        (0, ValueError, r"delta: expected a finite positive step, got 0"),
        (float("nan"), ValueError, r"delta: expected a finite positive step, got nan"),
    ],
)
def test_bad_delta_names_delta(delta, error, match):
    top, bank, h = _toy()
    with pytest.raises(error, match=match):
        concept_scores(top, bank, h, 0, delta=delta)


def test_a_step_that_overflows_the_top_is_refused():
    top, bank, h = _toy()
    with pytest.raises(ValueError, match=r"delta: the step delta=1e\+38 .*try a smaller delta"):
        concept_scores(top, bank, h, 0, delta=1e38)


@pytest.mark.parametrize(
    "empty",
    [np.zeros((0, DIM), np.float32), np.zeros((0, 2, 12)), np.zeros(0), [], torch.zeros(0, DIM)],
)
def test_zero_samples_give_the_intended_message(empty):
    top, _, _ = _toy()
    bank = _bank(np.ones((2, DIM)), activation_shape=(2, 12))
    with pytest.raises(ValueError, match="activations: no samples to explain"):
        concept_scores(top, bank, empty, 0)
    with pytest.raises(ValueError, match="activations: no samples to explain"):
        conceptual_counterfactual(top, bank, empty, 0)
    assert bank.decision_function(empty).shape == (0, 2)
    with pytest.raises(TypeError, match="activations: expected a numeric array"):
        concept_scores(top, bank, np.array([["a"] * DIM]), 0)


def test_counterfactual_settings_are_checked():
    top, bank, h = _toy()
    with pytest.raises(TypeError, match="n_steps: expected an integer"):
        conceptual_counterfactual(top, bank, h, 0, n_steps="10")
    with pytest.raises(TypeError, match="alpha: expected a number"):
        conceptual_counterfactual(top, bank, h, 0, alpha="0.1")
    with pytest.raises(ValueError, match="lr: expected a finite number >= 0"):
        conceptual_counterfactual(top, bank, h, 0, lr=float("nan"))


def test_a_truncated_or_foreign_bank_file_names_the_path(planted_bank, tmp_path):
    npz, js = planted_bank.save(tmp_path / "bank")
    data = npz.read_bytes()
    npz.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"path: .*bank\.npz is truncated or not a concept bank"):
        ConceptBank.load(tmp_path / "bank")
    npz.write_bytes(b"")
    with pytest.raises(ValueError, match=r"path: .*bank\.npz is truncated"):
        ConceptBank.load(tmp_path / "bank")
    np.savez(npz, vectors=np.zeros((1, 2)))
    with pytest.raises(ValueError, match=r"path: .*bank\.npz lacks the arrays \['intercepts'"):
        ConceptBank.load(tmp_path / "bank")
    np.savez(npz, vectors=np.array([object()]))  # pickled data is refused, with the path
    with pytest.raises(ValueError, match=r"path: .*bank\.npz is truncated or not"):
        ConceptBank.load(tmp_path / "bank")
    planted_bank.save(tmp_path / "bank")
    js.write_text("{broken")
    with pytest.raises(ValueError, match=r"path: .*bank\.json is not valid JSON"):
        ConceptBank.load(tmp_path / "bank")
    meta = {"format": "failwidgets.ConceptBank", "names": planted_bank.names}
    js.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"path: .*bank\.json lacks the field 'activation_shape'"):
        ConceptBank.load(tmp_path / "bank")


# ------------------------------------------------- empty answers say why (issue 12)
def test_a_step_too_small_to_change_anything_says_so():
    """The issue-12 case: every score ties at 0 because the step is lost in the activations."""
    top, _, h = _toy()
    bank = _bank(np.full((3, DIM), 1e-12))  # delta * v is far below float32 resolution of h
    # |h| >= 1: h + delta * v == h, so p_y cannot change; batches of other shapes than the
    # unperturbed one's used to round differently and give +-1 scores out of that noise
    result = concept_scores(top, bank, np.abs(h) + 1.0, 0, delta=1e2)
    assert np.array_equal(result.scores, np.zeros(3))
    positive, negative = result.top(1)
    assert positive == [] and negative == []
    reason = "no concept changes p(class 0) at delta=100: every score is 0; try a larger delta"
    assert positive.reason.startswith(reason) and "(the paper uses 10000)" in positive.reason
    assert negative.reason == positive.reason
    assert repr(positive) == f"[]  # empty: {positive.reason}"
    assert reason in repr(result)


def test_no_concept_raising_p_y_says_so_and_non_empty_answers_have_no_reason():
    rng = np.random.default_rng(1)
    weight = rng.standard_normal((N_CLASSES, DIM)).astype(np.float32)
    v = weight[0] - weight[1:].mean(axis=0)
    bank = _bank(np.stack([-v, -2 * v]), names=["hurts", "hurts more"])
    h = rng.standard_normal((5, DIM)).astype(np.float32)
    result = concept_scores(_linear_top(weight), bank, h, 0, delta=0.3)
    positive, negative = result.top(2)
    assert positive == [] and [name for name, _ in negative] == ["hurts more", "hurts"]
    assert positive.reason == (
        "no concept raises p(class 0) at delta=0.3: adding any of the 2 concepts lowers it "
        "or leaves it unchanged"
    )
    assert negative.reason is None and repr(negative) == repr(list(negative))
    removed = concept_scores(_linear_top(weight), bank, h, 0, delta=0.3, direction="remove")
    assert removed.top_negative(1).reason == (
        "no concept lowers p(class 0) at delta=0.3: removing any of the 2 concepts raises it "
        "or leaves it unchanged"
    )
    with pytest.raises(ValueError, match="k: expected a positive integer, got 0"):
        result.top_positive(0)
    with pytest.raises(TypeError, match="k: expected a positive integer"):
        result.top_negative(1.5)


def test_a_saturated_probability_says_so():
    weight = np.zeros((2, DIM), np.float32)
    weight[0, 0] = 1.0  # logit 0 = h[0]
    h = np.zeros((3, DIM), np.float32)
    h[:, 0] = 1e4  # p(class 0) == 1.0 exactly in float64
    bank = _bank(np.eye(DIM)[1:3])  # steps along other axes: no change
    result = concept_scores(_linear_top(weight), bank, h, 0, delta=1.0)
    reason = result.top_positive(1).reason
    assert reason.startswith("p(class 0) is exactly 1 for every explained sample")


def test_tied_saturated_scores_say_so():
    """The reference step (1e4) along concepts that all point away from class 0."""
    weight = np.zeros((2, DIM), np.float32)
    weight[1, :3] = 1.0
    h = np.zeros((2, DIM), np.float32)
    bank = _bank(np.eye(DIM)[:3])  # each raises logit 1 by 1e4: p(class 0) -> 0 for all
    result = concept_scores(_linear_top(weight), bank, h, 0)
    assert np.array_equal(result.scores, -np.ones(3))
    reason = result.top_positive(1).reason
    assert reason.startswith("no concept raises p(class 0) at delta=10000")
    assert reason.endswith(
        "all scores tie at -1, as the step saturates the softmax: a smaller delta separates them"
    )


def test_a_step_that_changes_no_input_scores_exactly_zero():
    """No score out of rounding noise: batches of other shapes round differently in BLAS.

    Here the unperturbed batch (4 rows) and the perturbed one (12 rows) give logits that
    differ by ~2e-6 for identical inputs; the scores used to be +-1 out of that noise.
    """
    weight = np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32)
    h = (np.abs(np.random.default_rng(2).standard_normal((4, 8))) + 1).astype(np.float32)
    bank = _bank(np.full((3, 8), 1e-12))  # h + delta * v == h in float32
    result = concept_scores(_linear_top(weight), bank, h, 0, delta=1.0)
    assert np.array_equal(result.per_sample, np.zeros((4, 3)))
    assert result.top_positive(1) == [] and "every score is 0" in result.top_positive(1).reason


# ------------------------------------------------ explained sets and their failure modes
def test_a_subset_of_the_scores_equals_scoring_only_those_samples(planted, planted_bank):
    top = _linear_top(planted["weight"])
    h = planted["rng"].standard_normal((9, DIM)).astype(np.float32)
    target = np.arange(9) % N_CLASSES
    whole = concept_scores(top, planted_bank, h, target, delta=2.0)
    positions = [6, 1, 4]
    part, alone = (
        whole.subset(positions),
        concept_scores(top, planted_bank, h[positions], target[positions], delta=2.0),
    )
    for name in ("raw", "scores", "log_odds", "per_sample", "base_probability"):
        np.testing.assert_allclose(getattr(part, name), getattr(alone, name), atol=1e-12)
    np.testing.assert_array_equal(part.target, alone.target)
    assert part.delta == 2.0 and part.names == whole.names
    np.testing.assert_allclose(whole.subset(range(9)).raw, whole.raw)
    with pytest.raises(ValueError, match="^positions: no samples"):
        whole.subset([])
    with pytest.raises(ValueError, match=r"^positions: must lie in 0\.\.8"):
        whole.subset([9])
    with pytest.raises(TypeError, match="^positions: expected 1-D integer"):
        whole.subset([0.5])
    with pytest.raises(ValueError, match="^per_sample_log_odds"):
        dataclasses.replace(whole, per_sample_log_odds=None).subset([0])


@pytest.fixture(scope="module")
def colour_world():
    """Images tinted by one channel (tags red/green/blue); the class c logit reads channel c,
    so a mistake of class c lacks colour c (tests/test_concept_map_view.py)."""
    from test_concept_map_view import COLOURS, SIZE, Top, bottom, make_world

    evalset, _ = make_world()
    split = SplitModel.from_callables(bottom, Top(), layer="pool", input_size=(3, SIZE, SIZE))
    concepts = ConceptSet.from_evalset(
        evalset, COLOURS, indices=evalset.split_indices("train"), max_examples=40
    )
    bank = learn_concept_bank(split, concepts, min_accuracy=0.0)
    return evalset, ConceptExplainer(split, bank, delta=0.3), COLOURS


def test_mistakes_per_class_and_a_class_s_mistakes(colour_world):
    evalset, _, _ = colour_world
    test = evalset.split_indices("test")
    wrong, total = mistakes_per_class(evalset, test)
    for c in range(3):
        rows = test[evalset.labels[test] == c]
        assert total[c] == len(rows) and wrong[c] == (~evalset.correct[rows]).sum()
        np.testing.assert_array_equal(
            class_mistakes(evalset, f"class_{c}", test), rows[~evalset.correct[rows]]
        )
    assert mistakes_per_class(evalset)[1].sum() == evalset.n
    with pytest.raises(ValueError, match="unknown class"):
        class_mistakes(evalset, "zebra")


def test_failure_modes_of_an_explained_set_one_per_label(colour_world):
    evalset, explainer, colours = colour_world
    test = evalset.split_indices("test")
    explained = test[~evalset.correct[test]][:20]  # mistakes of every class
    scores = explainer.explain_evalset(evalset, explained)
    modes = concept_failure_modes(
        explainer, evalset, explained, scores, title="20 picked", reference_indices=test
    )
    labels = evalset.labels[explained]
    assert [m.class_name for m in modes] == [f"class_{c}" for c in np.unique(labels)]
    for mode in modes:
        c = evalset.class_index(mode.class_name)
        np.testing.assert_array_equal(mode.members, explained[labels == c])  # order kept
        alone = explainer.explain_evalset(evalset, mode.members)
        k = len(mode.members)
        assert mode.description == (
            f"20 picked, the {k} {mode.class_name}: {describe_scores(alone, None)}"
        )
        assert mode.description.startswith(f"20 picked, the {k} {mode.class_name}: adding ")
        assert alone.top_positive(1)[0][0] == colours[c]  # a mistake lacks its class's colour
        assert mode.rule.concept == colours[c] and mode.rule.direction == "add"
        rows = test[evalset.labels[test] == c]
        assert mode.accuracy == 0.0
        assert mode.drop == pytest.approx(evalset.correct[rows].mean())
    # the classes asked for, in that order; none of them among the labels: the reason
    (one,) = concept_failure_modes(explainer, evalset, explained, scores, ["class_1"])
    assert one.class_name == "class_1"
    only_0 = explained[labels == 0]
    empty = concept_failure_modes(
        explainer, evalset, only_0, explainer.explain_evalset(evalset, only_0), ["class_2", 1]
    )
    assert empty == [] and empty.reason == (
        f"none of the {len(only_0)} explained images is labelled class_2, class_1 "
        "(their labels: class_0)"
    )
    # explaining another class's probability re-applies nothing
    other = concept_failure_modes(
        explainer,
        evalset,
        only_0,
        explainer.explain_evalset(evalset, only_0, target=1),
        target="class_1",
    )
    assert other[0].rule is None and "raises p(class_1) most" in other[0].description
    assert other[0].description.startswith(f"{len(only_0)} explained images: ")
    with pytest.raises(ValueError, match="^indices: 3 images, but the scores are of 20"):
        concept_failure_modes(explainer, evalset, explained[:3], scores)


def test_an_explainer_checks_its_evalset_and_finds_the_concept_examples(colour_world):
    from test_concept_map_view import make_world

    evalset, explainer, colours = colour_world
    examples = explainer.evalset_examples(evalset)
    assert sorted(examples) == sorted(colours)
    for name, rows in examples.items():
        np.testing.assert_array_equal(rows, explainer.bank.positive_ids[name])
    files = dataclasses.replace(
        explainer.bank, positive_ids={n: [f"{n}/{k}.png" for k in range(10)] for n in colours}
    )
    assert ConceptExplainer(explainer.split, files).evalset_examples(evalset) == {}
    explainer.check_evalset(evalset)
    big, _ = make_world(size=20)
    with pytest.raises(ValueError, match=r"^evalset: its images do not fit the explainer"):
        explainer.check_evalset(big)
    assert ConceptExplainer.coerce(explainer) is explainer
    made = ConceptExplainer.coerce(explainer.split, explainer.bank)
    assert made.bank is explainer.bank
    with pytest.raises(ValueError, match="^bank: the explainer already has a bank"):
        ConceptExplainer.coerce(explainer, files)
    with pytest.raises(ValueError, match="^transform: give it to the ConceptExplainer"):
        ConceptExplainer.coerce(explainer, transform=lambda x: x)
    with pytest.raises(ValueError, match="^bank: a SplitModel needs a ConceptBank"):
        ConceptExplainer.coerce(explainer.split)
    with pytest.raises(TypeError, match="^bank: expected a ConceptBank"):
        ConceptExplainer.coerce(explainer.split, "bank")
    with pytest.raises(TypeError, match="^explainer: expected a ConceptExplainer or a Split"):
        ConceptExplainer.coerce(explainer.bank)
