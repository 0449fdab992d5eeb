"""Benchmark: Barlow over many groups (the issue's 1000 x 1300 x 2048, depth 3, k = 50 run).

Features are a pool of ReLU-like float32 rows (13,000 by default: 1000 groups x 1300 rows
of 2048 float32 would be 10.6 GB); each group is 1300 distinct random rows of the pool and
the model's errors (about 30 %) depend on two features, so trees have something to find.
Every group's tree is fitted from scratch (mutual information over all 2048 features, tree,
node table), as :meth:`Barlow.fit_groups` does for any index sets.

Also measured: agreement of the fast mutual information with scikit-learn's
``mutual_info_classif`` on one group and scikit-learn's time for it, the time of a
delta/tau re-filter (:meth:`BarlowResult.leaves`), and where one group's time goes: the
CPU time of one thread for the mutual information alone and for a whole tree (mutual
information + scikit-learn's tree + node table), each the median over ``--split-groups``
groups (CPU time of the calling thread, so other load on the machine inflates it less
than wall time).

    python benchmarks/bench_barlow.py                 # the full run
    python benchmarks/bench_barlow.py --groups 100    # fewer groups while iterating
    python benchmarks/bench_barlow.py --repeats 3     # median (run_wall_s) and min of 3 runs

Prints its figures, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def make_data(pool: int, n_features: int, seed: int):
    rng = np.random.default_rng(seed)
    features = rng.gamma(0.8, 1.0, size=(pool, n_features)).astype(np.float32)
    features *= rng.random((pool, n_features), dtype=np.float32) > 0.25  # exact zeros, like ReLU
    logit = -2.3 + 2.0 * (features[:, 3] < 0.3) + 1.2 * (features[:, 11] > 1.5)
    wrong = rng.random(pool) < 1.0 / (1.0 + np.exp(-logit))
    labels = np.zeros(pool, dtype=np.int64)
    predictions = np.where(wrong, 1, 0)
    return features, labels, predictions


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=1000)
    parser.add_argument("--group-size", type=int, default=1300)
    parser.add_argument("--features", type=int, default=2048)
    parser.add_argument("--pool", type=int, default=13000)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1, help="timed runs of the whole survey")
    parser.add_argument("--skip-sklearn", action="store_true", help="skip the sklearn timing")
    parser.add_argument(
        "--split-groups", type=int, default=20, help="groups timed one by one (0: skip)"
    )
    args = parser.parse_args(argv)

    from failwidgets.methods.barlow import Barlow
    from failwidgets.methods.mutual_info import mutual_info_classif

    features, labels, predictions = make_data(args.pool, args.features, seed=0)
    rng = np.random.default_rng(1)
    groups = {
        f"g{g}": np.sort(rng.choice(args.pool, size=args.group_size, replace=False))
        for g in range(args.groups)
    }
    evalset = (labels, predictions)
    barlow = Barlow(k=args.k, depth=args.depth, random_state=0, n_jobs=args.n_jobs)

    t0 = time.perf_counter()
    barlow.fit_groups(features, evalset, {"warm-up": groups["g0"][:50]})  # numba JIT / cache load
    warmup = time.perf_counter() - t0

    walls, cpus, loads = [], [], []
    for _ in range(max(1, args.repeats)):
        loads.append(os.getloadavg()[0])
        cpu0 = time.process_time()
        survey = barlow.fit_groups(features, evalset, groups, keep_results=False)
        walls.append(survey.seconds)
        cpus.append(time.process_time() - cpu0)
    loads.append(os.getloadavg()[0])
    wall = float(np.median(walls))
    cpu = float(np.median(cpus))
    per_class = survey.per_class
    print(
        f"{args.groups} groups x {args.group_size} samples x {args.features} features, "
        f"k={args.k}, depth={args.depth}, n_jobs={args.n_jobs} on {os.cpu_count()} cores"
    )
    print(f"  warm-up (JIT or cache load): {warmup:.2f} s")
    print(
        f"  whole run: {wall:.2f} s wall (median of {len(walls)}; min {min(walls):.2f} s), "
        f"{cpu:.2f} s CPU ({1e3 * wall / args.groups:.1f} ms/group wall, "
        f"{1e3 * cpu / args.groups:.1f} ms/group CPU)"
    )
    print(f"  1-min load average during the runs: {', '.join(f'{v:.2f}' for v in loads)}")
    if args.groups < 1000:
        print(f"  EXTRAPOLATED to 1000 groups: {wall * 1000 / args.groups:.1f} s wall")
    print(
        f"  groups with a valid leaf: {per_class['has_valid_leaf'].mean():.3f}; "
        f"mean ALER - BER: {per_class['aler_minus_ber'].mean():.3f}; "
        f"mean errors/group: {per_class['errors'].mean():.0f}"
    )

    # delta/tau re-filter on one fitted tree
    result = barlow.fit(features, evalset, groups["g0"])
    times = []
    for i in range(200):
        start = time.perf_counter()
        result.leaves(delta=0.05 + 0.001 * (i % 50), tau=0.1 + 0.002 * (i % 50))
        times.append(time.perf_counter() - start)
    refilter_ms = 1e3 * float(np.median(times))
    print(f"  delta/tau re-filter: {refilter_ms:.2f} ms median (max {1e3 * max(times):.2f} ms)")

    # where one group's time goes (one thread, CPU time of this thread)
    mi_ms = fit_ms = None
    split = [groups[f"g{g}"] for g in range(min(args.split_groups, args.groups))]
    if split:
        serial = Barlow(k=args.k, depth=args.depth, random_state=0)
        mi_times, fit_times = [], []
        for rows in split:
            error = (labels[rows] != predictions[rows]).astype(int)
            start = time.thread_time()
            mutual_info_classif(features, error, rows=rows, random_state=0)
            mi_times.append(time.thread_time() - start)
            start = time.thread_time()
            serial.fit(features, evalset, rows)
            fit_times.append(time.thread_time() - start)
        mi_ms, fit_ms = 1e3 * float(np.median(mi_times)), 1e3 * float(np.median(fit_times))
        print(
            f"  one group, one thread (CPU, median of {len(split)}): mutual information "
            f"{mi_ms:.1f} ms, whole tree {fit_ms:.1f} ms (so tree + node table "
            f"{fit_ms - mi_ms:.1f} ms)"
        )

    # MI agreement with sklearn on one group
    rows = groups["g0"]
    error = (labels[rows] != predictions[rows]).astype(int)
    start = time.perf_counter()
    ours = mutual_info_classif(features, error, rows=rows, random_state=0)
    ours_s = time.perf_counter() - start
    sk_s, max_diff = None, None
    if not args.skip_sklearn:
        from sklearn.feature_selection import mutual_info_classif as sk_mutual_info

        start = time.perf_counter()
        reference = sk_mutual_info(features[rows], error, random_state=0)
        sk_s = time.perf_counter() - start
        max_diff = float(np.abs(reference - ours).max())
        print(
            f"  MI on one {args.group_size}x{args.features} group: ours {ours_s:.3f} s, "
            f"sklearn {sk_s:.2f} s, max |diff| = {max_diff:.3g}"
        )
    figures = {
        "benchmark": "barlow",
        "groups": args.groups,
        "group_size": args.group_size,
        "features": args.features,
        "k": args.k,
        "depth": args.depth,
        "n_jobs": args.n_jobs,
        "run_wall_s": round(wall, 3),
        "run_wall_s_min": round(min(walls), 3),
        "run_wall_s_runs": [round(w, 3) for w in walls],
        "run_cpu_s": round(cpu, 3),
        "cpu_ms_per_group": round(1e3 * cpu / args.groups, 2),
        "extrapolated_1000_groups_s": round(wall * 1000 / args.groups, 1),
        "warmup_s": round(warmup, 3),
        "refilter_ms": round(refilter_ms, 3),
        "mi_cpu_ms_one_group": None if mi_ms is None else round(mi_ms, 2),
        "fit_cpu_ms_one_group": None if fit_ms is None else round(fit_ms, 2),
        "mi_one_group_s": round(ours_s, 4),
        "sklearn_mi_one_group_s": None if sk_s is None else round(sk_s, 3),
        "mi_max_abs_diff": max_diff,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "load_average_during_runs": [round(v, 2) for v in loads],
    }
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
