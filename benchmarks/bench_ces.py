"""Benchmark of the CES engine (synthetic activations, CPU).

Measures
--------
1. Concept bank of 170 concepts x 200 examples (100 positives + 100 negatives
   drawn from the other concepts' positives, as the reference does; a shared
   pool of 17,000 examples) at a 512-d layer. Target: < 10 s on 2 cores.
2. The same bank at an 86,528-d layer (SqueezeNet ``features`` at 224x224,
   512x13x13, the reference's layer; about 2 h there). Target: < 60 s.
3. Scores for 1,000 samples x 170 concepts with a demo-sized CNN top. Target: < 1 s.
   Top A (primary): the CNN's head after global average pooling, a 128-d layer
   -> Linear(128, 8). Top B (secondary): cut at the last conv block (64x8x8 =
   4,096-d) -> ReLU, global average pool, Linear(64, 8).
4. A conceptual counterfactual (one sample, 170 concepts, 100 Adam steps) and
   the PCA map of the 86,528-d bank.

The activations are synthetic (ReLU of Gaussian noise plus a concept-specific
random direction for the positives), not computed from images: the timings
are of the CAV fitting and scoring, not of the image forward passes.

Run: ``.venv/bin/python benchmarks/bench_ces.py [--threads 2] [--dtype float32] [--skip-wide]``
Prints wall-clock and CPU (process) seconds -- on a shared, loaded machine the CPU
time is the better estimate of the cost on dedicated cores -- and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from torch import nn

N_CONCEPTS, N_POS = 170, 100


def synthetic_pool(dim: int, dtype, seed: int = 0, strength: float = 0.35) -> np.ndarray:
    """(N_CONCEPTS * N_POS, dim) activations; rows [c*N_POS, (c+1)*N_POS) show concept c."""
    gen = torch.Generator().manual_seed(seed)
    out = np.empty((N_CONCEPTS * N_POS, dim), dtype=dtype)
    for c in range(N_CONCEPTS):
        direction = torch.randn(dim, generator=gen)
        block = torch.randn(N_POS, dim, generator=gen) + strength * direction
        out[c * N_POS : (c + 1) * N_POS] = torch.relu(block).numpy().astype(dtype)
    return out


def concept_set(seed: int = 0):
    from failwidgets.methods.ces import ConceptSet

    rng = np.random.default_rng(seed)
    n_pool = N_CONCEPTS * N_POS
    positives = [np.arange(c * N_POS, (c + 1) * N_POS) for c in range(N_CONCEPTS)]
    negatives = []
    for c in range(N_CONCEPTS):
        others = rng.choice(n_pool - N_POS, size=N_POS, replace=False)
        negatives.append(np.sort(np.where(others >= c * N_POS, others + N_POS, others)))
    names = [f"concept{c:03d}" for c in range(N_CONCEPTS)]
    return ConceptSet.from_indices(names, positives, negatives, n_pool)


def time_bank(dim: int, dtype) -> tuple[float, object]:
    from failwidgets.methods.ces import fit_concept_bank

    t0 = time.perf_counter()
    pool = synthetic_pool(dim, dtype)
    t_data = time.perf_counter() - t0
    concepts = concept_set()
    t0, c0 = time.perf_counter(), time.process_time()
    bank = fit_concept_bank(pool, concepts)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"bank {N_CONCEPTS} concepts x {2 * N_POS} examples at {dim}-d ({np.dtype(dtype).name} "
        f"pool of {pool.shape[0]}, {pool.nbytes / 2**30:.2f} GiB, made in {t_data:.1f} s): "
        f"{seconds:.2f} s wall, {cpu:.2f} s CPU; kept {len(bank)}, "
        f"mean val acc {bank.val_accuracy.mean():.3f}"
    )
    del pool
    return seconds, cpu, bank


class DemoLikeCNN(nn.Module):
    """A demo-sized classifier for 64x64 images (8 classes)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3, padding=1),
        )  # fmt: skip
        self.pool = nn.Sequential(nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.embed = nn.Linear(64, 128)
        self.fc = nn.Linear(128, 8)

    def forward(self, x):
        return self.fc(torch.relu(self.embed(self.pool(self.features(x)))))


def time_scores(layer: str, n_samples: int = 1000, repeats: int = 3) -> tuple[float, float]:
    from failwidgets.features.split import split_model
    from failwidgets.methods.ces import ConceptBank, concept_scores

    torch.manual_seed(0)
    model = DemoLikeCNN()
    # Cut after the ReLU of `embed` is functional, so cut at `embed` (128-d) or `features`.
    split = split_model(model, layer)
    x = torch.rand(4, 3, 64, 64)
    split.check(x)
    shape = tuple(split.activations(x[:1]).shape[1:])
    dim = int(np.prod(shape))
    rng = np.random.default_rng(0)
    bank = ConceptBank(
        names=[f"c{i}" for i in range(N_CONCEPTS)],
        vectors=rng.standard_normal((N_CONCEPTS, dim)).astype(np.float32) * 0.01,
        intercepts=np.zeros(N_CONCEPTS),
        val_accuracy=np.ones(N_CONCEPTS),
        train_accuracy=np.ones(N_CONCEPTS),
        c_values=np.ones(N_CONCEPTS),
        margin_min=-np.ones(N_CONCEPTS),
        margin_max=np.ones(N_CONCEPTS),
        n_positives=np.full(N_CONCEPTS, N_POS),
        n_negatives=np.full(N_CONCEPTS, N_POS),
        activation_shape=shape,
        layer=layer,
    )
    h = np.abs(rng.standard_normal((n_samples, dim))).astype(np.float32)
    target = rng.integers(0, 8, n_samples)
    concept_scores(split, bank, h[:10], target[:10])  # warm-up
    best, best_cpu = np.inf, np.inf
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        result = concept_scores(split, bank, h, target)
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    assert np.isclose(np.abs(result.scores).max(), 1.0)
    print(
        f"scores {n_samples} samples x {N_CONCEPTS} concepts, cut at {layer!r} ({dim}-d): "
        f"{best:.3f} s wall, {best_cpu:.3f} s CPU (best of {repeats})"
    )
    return best, best_cpu


def time_counterfactual_and_map(bank) -> tuple[float, float]:
    from failwidgets.methods.ces import conceptual_counterfactual, embed_concepts

    t0 = time.perf_counter()
    coords = embed_concepts(bank)
    t_map = time.perf_counter() - t0
    assert coords.shape == (len(bank), 2)

    torch.manual_seed(0)
    top = nn.Sequential(nn.ReLU(), nn.Linear(bank.dim, 8))  # a small top on the wide layer
    h = np.abs(np.random.default_rng(1).standard_normal((1, bank.dim))).astype(np.float32)
    t0 = time.perf_counter()
    conceptual_counterfactual(top, bank, h, 3)
    t_cce = time.perf_counter() - t0
    print(f"PCA map of {len(bank)} CAVs at {bank.dim}-d: {t_map:.2f} s")
    print(f"counterfactual, 1 sample x {len(bank)} concepts, 100 Adam steps: {t_cce:.2f} s")
    return t_map, t_cce


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16"],
                        help="storage of the wide layer's pool (float16 halves its 5.9 GiB)")  # fmt: skip
    parser.add_argument("--skip-wide", action="store_true", help="skip the 86,528-d bank")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import sklearn.svm  # noqa: F401  (import time is not part of the figures)

    print(f"torch threads: {torch.get_num_threads()}; synthetic activations")
    figures: dict[str, float | int | str] = {"threads": args.threads, "activations": "synthetic"}
    figures["bank_512d_s"], figures["bank_512d_cpu_s"], _ = time_bank(512, np.float32)
    figures["scores_1000x170_128d_s"], figures["scores_1000x170_128d_cpu_s"] = time_scores("embed")
    figures["scores_1000x170_4096d_s"], figures["scores_1000x170_4096d_cpu_s"] = time_scores(
        "features"
    )
    if not args.skip_wide:
        dtype = np.float16 if args.dtype == "float16" else np.float32
        figures["bank_86528d_s"], figures["bank_86528d_cpu_s"], wide = time_bank(86528, dtype)
        figures["bank_86528d_dtype"] = args.dtype
        figures["map_pca_86528d_s"], figures["cce_1x170_86528d_s"] = time_counterfactual_and_map(
            wide
        )
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}))


if __name__ == "__main__":
    main()
