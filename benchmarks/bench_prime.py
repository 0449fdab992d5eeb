"""PRIME search at Living17 scale: 88,400 images, 17 classes, ~100 tags per class.

Synthetic tags with realistic statistics: per class 100 active tags (out of a 400-tag
vocabulary) with skewed frequencies (Beta, mean 0.15) and correlations (each tag loads on
one or two of 8 latent "scene" factors), a few rare tags below ``min_count``, and a model
that is ~85 % accurate with two planted 3-tag failure conjunctions per class.

Measures: the full search (l = 4, s = 30) with 1 and 2 threads (after a warm-up that
loads the compiled kernels): wall and CPU time (all threads) of each run, min and median
over ``--repeats`` runs, interleaved so that a load change hits both; re-filtering (``table``) for
many (a, s, b2, b3, b4) settings, the ``failure_modes`` answer (FailureMode objects) once, and
the peak resident memory of the whole process. On a shared
machine the wall time depends on the other load (the load average is reported): the CPU
time is the steadier figure, and with 2 threads the wall time approaches half of it when
two cores are free. ``--baseline`` also times a level-wise numpy
search (bit-packed AND + ``np.bitwise_count``) on one class for comparison.

Run: ``.venv/bin/python benchmarks/bench_prime.py [--baseline]``. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time

import numpy as np
from scipy.special import ndtri

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir))

from failwidgets.methods.prime import search  # noqa: E402

N_CLASSES = 17
N_PER_CLASS = 5200
VOCABULARY = 400
ACTIVE_TAGS = 100
RARE_TAGS = 20
N_FACTORS = 8
MEAN_FREQUENCY = 0.15


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def make_living17_like(seed: int = 0):
    """(tags (N, V) bool, labels (N,), correct (N,) bool, planted conjunctions)."""
    rng = np.random.default_rng(seed)
    n = N_CLASSES * N_PER_CLASS
    tags = np.zeros((n, VOCABULARY), dtype=bool)
    labels = np.repeat(np.arange(N_CLASSES), N_PER_CLASS)
    correct = np.zeros(n, dtype=bool)
    planted = []
    for c in range(N_CLASSES):
        rows = slice(c * N_PER_CLASS, (c + 1) * N_PER_CLASS)
        active = rng.choice(VOCABULARY, size=ACTIVE_TAGS + RARE_TAGS, replace=False)
        freq = rng.beta(0.8, 0.8 * (1 - MEAN_FREQUENCY) / MEAN_FREQUENCY, size=ACTIVE_TAGS)
        freq = np.clip(freq, 0.008, 0.85)
        freq = np.r_[freq, rng.uniform(0.0005, 0.004, size=RARE_TAGS)]
        loadings = np.zeros((len(active), N_FACTORS))
        for t in range(len(active)):
            factors = rng.choice(N_FACTORS, size=rng.integers(1, 3), replace=False)
            loadings[t, factors] = rng.uniform(0.3, 0.7, len(factors)) * rng.choice(
                [-1, 1], len(factors)
            )
        noise_sd = np.sqrt(np.clip(1 - (loadings**2).sum(1), 0.05, None))
        latent = rng.standard_normal((N_PER_CLASS, N_FACTORS))
        z = latent @ loadings.T + rng.standard_normal((N_PER_CLASS, len(active))) * noise_sd
        threshold = ndtri(1 - freq) * np.sqrt((loadings**2).sum(1) + noise_sd**2)
        class_tags = z > threshold
        tags[rows, active] = class_tags
        logit = np.full(N_PER_CLASS, 1.9) + class_tags[:, :ACTIVE_TAGS] @ rng.normal(
            0, 0.1, ACTIVE_TAGS
        )
        common = np.flatnonzero(class_tags[:, :ACTIVE_TAGS].mean(0) > 0.1)
        for _ in range(2):
            triple = rng.choice(common, size=3, replace=False)
            logit[class_tags[:, triple].all(1)] -= 2.5
            planted.append((c, tuple(int(active[t]) for t in triple)))
        correct[rows] = rng.random(N_PER_CLASS) < 1 / (1 + np.exp(-logit))
    return tags, labels, correct, planted


def pack_columns(matrix: np.ndarray) -> np.ndarray:
    """The columns of a boolean (n, T) matrix as (T, ceil(n / 64)) uint64 bitsets."""
    matrix = np.asarray(matrix, dtype=bool).reshape(len(matrix), -1)
    n, n_cols = matrix.shape
    padded = np.zeros((n_cols, max(1, -(-n // 64)) * 64), dtype=bool)
    padded[:, :n] = matrix.T
    return np.packbits(padded, axis=1, bitorder="little").view("<u8").astype(np.uint64)


def levelwise_numpy(class_tags: np.ndarray, correct: np.ndarray, s: int, max_size: int):
    """A straightforward level-wise search (bit-packed AND + popcount, numpy only)."""
    bits = pack_columns(class_tags)
    ok = pack_columns(correct)[0]
    support = np.bitwise_count(bits).sum(1)
    level_sets = np.flatnonzero(support >= s)[:, None]
    level_bits = bits[level_sets[:, 0]]
    n_sets = len(level_sets)
    for _ in range(2, max_size + 1):
        new_sets, new_bits = [], []
        for t in range(bits.shape[0]):
            parents = np.flatnonzero(level_sets[:, -1] < t)
            if not parents.size:
                continue
            inter = level_bits[parents] & bits[t]
            n = np.bitwise_count(inter).sum(1)
            _ = np.bitwise_count(inter & ok).sum(1)
            keep = n >= s
            new_sets.append(np.c_[level_sets[parents[keep]], np.full(keep.sum(), t)])
            new_bits.append(inter[keep])
        if not new_sets:
            break
        level_sets = np.concatenate(new_sets)
        level_bits = np.concatenate(new_bits)
        n_sets += len(level_sets)
    return n_sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--baseline", action="store_true", help="also time a numpy level-wise search"
    )
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    load_start = os.getloadavg()[0]
    t0 = time.perf_counter()
    tags, labels, correct, planted = make_living17_like()
    names = [f"tag{i:03d}" for i in range(VOCABULARY)]
    class_names = [f"class{c:02d}" for c in range(N_CLASSES)]
    gen_s = time.perf_counter() - t0
    rss_data = peak_rss_mb()
    print(
        f"data: {tags.shape[0]} images, {N_CLASSES} classes, vocabulary {VOCABULARY}, "
        f"overall accuracy {correct.mean():.3f}, generated in {gen_s:.1f} s"
    )

    # Warm-up: loads (or compiles) the numba kernel; reported separately.
    t0 = time.perf_counter()
    search(tags[:2000], labels[:2000], correct[:2000], tag_names=names, min_support=30)
    warmup_s = time.perf_counter() - t0

    settings = dict(tag_names=names, class_names=class_names, max_size=4, min_support=30, a=0.30)
    times = {1: [], 2: []}
    cpu_times = {1: [], 2: []}
    result = None
    for _ in range(args.repeats):
        for n_jobs in (1, 2):
            result = None
            t0, c0 = time.perf_counter(), time.process_time()
            result = search(tags, labels, correct, n_jobs=n_jobs, **settings)
            times[n_jobs].append(time.perf_counter() - t0)
            cpu_times[n_jobs].append(time.process_time() - c0)
    for n_jobs in (1, 2):
        runs, cpu_runs = times[n_jobs], cpu_times[n_jobs]
        print(
            f"search n_jobs={n_jobs}: wall min {min(runs):.3f} s, median "
            f"{statistics.median(runs):.3f} s; CPU min {min(cpu_runs):.3f} s, median "
            f"{statistics.median(cpu_runs):.3f} s; over {args.repeats} runs"
        )
    summary = result.class_summary
    print(
        f"tags kept per class: mean {summary['n_tags'].mean():.1f} "
        f"(min {summary['n_tags'].min()}, max {summary['n_tags'].max()}); "
        f"candidates: {result.n_candidates} "
        f"({summary['n_candidates'].mean():.0f} per class)"
    )
    sizes = np.bincount(result.arrays()["size"], minlength=5)
    print(f"candidates by size: {dict(enumerate(sizes.tolist()))}")

    modes = result.table(a=0.30, s=30)
    mode_rows = set(modes["row"])
    planted_found = sum(result.find(c, [names[t] for t in tg]) in mode_rows for c, tg in planted)
    print(
        f"failure modes at a=0.30, s=30: {len(modes)} "
        f"(by size {modes['size'].value_counts().sort_index().to_dict()}); "
        f"planted conjunctions found exactly: {planted_found}/{len(planted)}"
    )

    filter_ms, mask_ms, n_modes = [], [], []
    rng = np.random.default_rng(1)
    for _ in range(40):
        a = float(rng.uniform(0.2, 0.5))
        s = int(rng.integers(30, 200))
        b = {
            "b2": float(rng.uniform(0.05, 0.2)),
            "b3": float(rng.uniform(0.025, 0.1)),
            "b4": float(rng.uniform(0.0125, 0.05)),
        }
        t0 = time.perf_counter()
        result.failure_mode_mask(a=a, s=s, **b)
        mask_ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        n_modes.append(len(result.table(a=a, s=s, **b)))
        filter_ms.append((time.perf_counter() - t0) * 1000)
    t0 = time.perf_counter()
    as_modes = result.failure_modes(a=0.30, s=30)  # FailureMode objects (members, rules)
    modes_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    lattice = result.lattice(class_names[0], a=0.3, s=30)
    lattice_ms = (time.perf_counter() - t0) * 1000
    print(
        f"re-filter over {result.n_candidates} candidates, 40 random a in [0.2, 0.5], "
        f"s in [30, 200], b_n in [b_n / 2, 2 b_n] ({min(n_modes)}..{max(n_modes)} modes): "
        f"mask median {statistics.median(mask_ms):.1f} ms (max {max(mask_ms):.1f}); "
        f"table (DataFrame) median {statistics.median(filter_ms):.1f} ms "
        f"(max {max(filter_ms):.1f}); lattice of one class: {lattice_ms:.1f} ms "
        f"({len(lattice.nodes)} nodes, {len(lattice.edges)} edges); failure_modes at "
        f"a=0.30, s=30 ({len(as_modes)} FailureMode objects): {modes_ms:.1f} ms"
    )

    peak = peak_rss_mb()
    baseline_s = None
    if args.baseline:
        rows = labels == 0
        kept = tags[rows].sum(0) >= 30
        t0, c0 = time.perf_counter(), time.process_time()
        n_sets = levelwise_numpy(tags[rows][:, kept], correct[rows], 30, 4)
        baseline_s = time.perf_counter() - t0
        baseline_cpu = time.process_time() - c0
        print(
            f"baseline level-wise numpy, one class: wall {baseline_s:.2f} s, CPU "
            f"{baseline_cpu:.2f} s ({n_sets} sets); peak RSS now {peak_rss_mb():.0f} MB"
        )

    print(
        f"peak RSS of the process before the baseline: {peak:.0f} MB (after data generation: "
        f"{rss_data:.0f} MB); kernel warm-up {warmup_s:.2f} s; cores: {os.cpu_count()}; "
        f"load average {load_start:.1f} at start, {os.getloadavg()[0]:.1f} at end"
    )
    record = {
        "benchmark": "prime_search_living17_scale",
        "images": int(tags.shape[0]),
        "classes": N_CLASSES,
        "mean_tags_per_class": float(summary["n_tags"].mean()),
        "max_size": 4,
        "min_support": 30,
        "a": 0.30,
        "candidates": int(result.n_candidates),
        "failure_modes": int(len(modes)),
        "planted_found": f"{planted_found}/{len(planted)}",
        "search_s_1_thread": round(min(times[1]), 3),
        "search_s_2_threads": round(min(times[2]), 3),
        "search_s_2_threads_median": round(statistics.median(times[2]), 3),
        "search_cpu_s_1_thread": round(min(cpu_times[1]), 3),
        "search_cpu_s_2_threads": round(min(cpu_times[2]), 3),
        "search_cpu_s_2_threads_median": round(statistics.median(cpu_times[2]), 3),
        "load_average_start": round(load_start, 1),
        "mask_ms_median": round(statistics.median(mask_ms), 2),
        "refilter_ms_median": round(statistics.median(filter_ms), 2),
        "refilter_ms_max": round(max(filter_ms), 2),
        "lattice_ms": round(lattice_ms, 2),
        "failure_modes_ms": round(modes_ms, 2),
        "peak_rss_mb": round(peak, 1),
        "warmup_s": round(warmup_s, 2),
        "baseline_levelwise_one_class_s": None if baseline_s is None else round(baseline_s, 2),
    }
    print(json.dumps(record))


if __name__ == "__main__":
    main()
