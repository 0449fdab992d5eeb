"""Failure-directions SVM sweep at CIFAR-10 scale, and its agreement with sklearn's SVC.

Synthetic CLIP-like embeddings (512-d): class means, 64 shared latent factors with
decaying variance, isotropic noise; a model that is ~80 % accurate, with errors driven by
one planted latent direction per class plus random errors. Split: a train split for the
whitening statistics and a validation split with ``--per-class`` embeddings per class
(default 2,000: 10 x 2,000 = 20,000 validation embeddings).

Measures:
- the full sweep: whitening, per class 7 Cs x 2 folds of balanced linear SVMs, then the
  refit at the best C (``FailureDirections.fit``, 2 threads), best and median wall time of
  ``--repeats`` runs, and the CPU time of all threads (wall time on a shared machine
  includes waiting for the CPU; the 1-minute load average is printed);
- the reference's way: ``cross_val_score(SVC(kernel="linear", class_weight="balanced"),
  cv=<the same folds>, scoring="balanced_accuracy")`` for every C and class, then the
  refit (single-threaded, as the reference); its time and the max |CV score difference|
  over all classes and Cs, the max |decision value difference| of the refitted SVMs, and
  whether the same C is chosen.

Run: ``.venv/bin/python benchmarks/bench_directions.py [--per-class 2000] [--skip-reference]``.
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir))

from failwidgets.methods.directions import FailureDirections, Whitener  # noqa: E402
from failwidgets.methods.linear_svm import DEFAULT_CS, cv_folds  # noqa: E402

N_CLASSES = 10
DIM = 512
N_FACTORS = 64


def clip_like(per_class: int, n_train_per_class: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    loadings = rng.normal(size=(N_FACTORS, DIM)) / np.sqrt(DIM)
    factor_scale = 3.0 / np.sqrt(1 + np.arange(N_FACTORS))
    means = rng.normal(scale=1.5, size=(N_CLASSES, DIM)) / np.sqrt(DIM) * 4
    offset = rng.normal(size=DIM) * 0.5  # CLIP embeddings have a sizeable common mean

    def sample(n, c):
        factors = rng.normal(size=(n, N_FACTORS)) * factor_scale
        x = offset + means[c] + factors @ loadings + 0.25 * rng.normal(size=(n, DIM))
        x /= np.linalg.norm(x, axis=1, keepdims=True)  # CLIP features are unit vectors
        hard = factors[:, c % N_FACTORS] / factor_scale[c % N_FACTORS]  # planted direction
        p_error = 1 / (1 + np.exp(-(1.6 * hard - 2.2))) * 0.9 + 0.04
        return x, rng.random(n) >= p_error

    train = np.concatenate([sample(n_train_per_class, c)[0] for c in range(N_CLASSES)])
    val_x, val_y, val_correct = [], [], []
    for c in range(N_CLASSES):
        x, correct = sample(per_class, c)
        val_x.append(x)
        val_y.append(np.full(per_class, c))
        val_correct.append(correct)
    return train, np.concatenate(val_x), np.concatenate(val_y), np.concatenate(val_correct)


def reference_sweep(train, val, labels, correct, random_state=0):
    """The reference: cross_val_score(SVC(kernel='linear')) per C and class, then refit."""
    from sklearn.model_selection import cross_val_score
    from sklearn.svm import SVC

    Z = Whitener().fit(train).transform(val)
    scores, best_Cs, decisions = [], [], []
    for c in range(N_CLASSES):
        rows = labels == c
        X, y = Z[rows], correct[rows].astype(int)
        folds = cv_folds(y, 2, random_state=random_state)
        per_C = [
            cross_val_score(
                SVC(kernel="linear", C=C, class_weight="balanced"),
                X,
                y,
                cv=folds,
                scoring="balanced_accuracy",
            ).mean()
            for C in DEFAULT_CS
        ]
        best = int(np.argmax(per_C))
        svc = SVC(kernel="linear", C=DEFAULT_CS[best], class_weight="balanced").fit(X, y)
        scores.append(per_C)
        best_Cs.append(DEFAULT_CS[best])
        decisions.append(svc.decision_function(X))
    return np.array(scores), np.array(best_Cs), decisions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args()

    train, val, labels, correct = clip_like(args.per_class, 1000)
    print(
        f"data: {N_CLASSES} classes x {args.per_class} validation embeddings, {DIM}-d; "
        f"validation accuracy {correct.mean():.3f}; CPUs available "
        f"{len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()}"
    )

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"1-minute load average before the sweep: {load:.1f}")
    times, cpu_times, model = [], [], None
    for _ in range(args.repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        model = FailureDirections(n_jobs=args.n_jobs).fit(
            train, val, labels, correct, n_classes=N_CLASSES
        )
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    print(
        f"full sweep (whiten + {len(DEFAULT_CS)} Cs x 2 folds + refit, {args.n_jobs} threads): "
        f"wall best {min(times):.2f} s, median {statistics.median(times):.2f} s; "
        f"CPU time (all threads) best {min(cpu_times):.2f} s"
    )
    print("failure strengths:", np.round(model.failure_strength_, 3).tolist())
    print("best C:", model.best_C_.tolist())

    figures = {
        "benchmark": "directions_svm_sweep",
        "n_classes": N_CLASSES,
        "val_per_class": args.per_class,
        "dim": DIM,
        "n_jobs": args.n_jobs,
        "sweep_s_best": round(min(times), 3),
        "sweep_s_median": round(statistics.median(times), 3),
        "sweep_cpu_s_best": round(min(cpu_times), 3),
        "load_average": round(load, 1),
    }
    if not args.skip_reference:
        start = time.perf_counter()
        ref_scores, ref_Cs, ref_decisions = reference_sweep(train, val, labels, correct)
        ref_time = time.perf_counter() - start
        Z = model.transform(val)
        decision_diff = max(
            float(np.max(np.abs(Z[labels == c] @ model.coef_[c] + model.intercept_[c] - d)))
            for c, d in enumerate(ref_decisions)
        )
        max_diff = float(np.max(np.abs(model.cv_scores_ - ref_scores)))
        same_C = bool(np.all(model.best_C_ == ref_Cs))
        print(f"reference SVC(kernel='linear') sweep, 1 thread: {ref_time:.1f} s")
        print(f"max |CV score - SVC CV score| over classes x Cs: {max_diff:.2e}")
        print(f"max |decision value - SVC decision value| (refit): {decision_diff:.2e}")
        print(f"same best C as SVC for every class: {same_C}")
        figures.update(
            reference_s=round(ref_time, 2),
            speedup=round(ref_time / min(times), 1),
            max_cv_score_diff=max_diff,
            max_decision_diff=decision_diff,
            same_best_C=same_C,
        )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
