"""Held-out evaluation at scale: ``with_heldout`` over thousands of failure modes.

The Explorer re-applies every mode's rule to the held-out split on each table refresh, so
this must stay well under a second per thousand modes. A synthetic EvalSet of ``--n`` rows
and ``--classes`` classes (30 % of the rows held out); per class, ``--per-class`` PRIME tag
sets (``--tags`` tags) and as many Barlow tree paths (depth 3 over ``--features`` features)
and one failure-direction threshold on a precomputed score.

    .venv/bin/python benchmarks/bench_heldout.py --n 1000000 --classes 1000

Prints the figures, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--tags", type=int, default=200)
    parser.add_argument("--features", type=int, default=256)
    parser.add_argument("--per-class", type=int, default=3)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    from failwidgets.data import EvalSet
    from failwidgets.features.tags import TagMatrix
    from failwidgets.methods.barlow import Condition
    from failwidgets.modes import FailureMode
    from failwidgets.rules import DirectionRule, TagSetRule, TreePathRule, with_heldout

    rng = np.random.default_rng(0)
    n, n_classes = args.n, args.classes
    labels = rng.integers(0, n_classes, size=n)
    predictions = np.where(rng.random(n) < 0.8, labels, rng.integers(0, n_classes, size=n))
    split = np.where(rng.random(n) < 0.3, "val", "test")
    names = [f"class_{c}" for c in range(n_classes)]
    images = np.zeros((n, 1, 1, 3), dtype=np.uint8)
    evalset = EvalSet.from_arrays(images, labels, predictions, names, split=split)
    tags = TagMatrix(rng.random((n, args.tags)) < 0.1, tuple(f"t{i}" for i in range(args.tags)))
    features = rng.normal(size=(n, args.features)).astype(np.float32)
    score = rng.normal(size=n)

    start = time.perf_counter()
    modes = []
    for name in names:
        for _ in range(args.per_class):
            picked = tuple(f"t{i}" for i in rng.choice(args.tags, size=2, replace=False))
            modes.append(
                FailureMode(
                    "prime", name, "", np.zeros(0, np.int64), rule=TagSetRule(name, picked, tags)
                )
            )
            conditions = tuple(
                Condition(int(f), "<=" if k % 2 else ">", 0.0)
                for k, f in enumerate(rng.choice(args.features, size=3, replace=False))
            )
            modes.append(
                FailureMode(
                    "barlow",
                    name,
                    "",
                    np.zeros(0, np.int64),
                    rule=TreePathRule(name, conditions, features),
                )
            )
        modes.append(
            FailureMode(
                "directions", name, "", np.zeros(0, np.int64), rule=DirectionRule(name, score, -1.0)
            )
        )
    build = time.perf_counter() - start

    start = time.perf_counter()
    measured = with_heldout(modes, evalset, "val")
    seconds = time.perf_counter() - start
    filled = sum(m.heldout_drop is not None for m in measured)
    per_thousand = 1000 * seconds / len(modes)
    print(f"{len(modes)} modes over {n} rows ({n_classes} classes), held out: val")
    print(
        f"rules built in {build:.2f} s; with_heldout {seconds:.2f} s ({per_thousand:.3f} s per 1000 modes)"
    )
    print(f"{filled} of {len(modes)} modes measured")
    print(
        json.dumps(
            {
                "n": n,
                "classes": n_classes,
                "modes": len(modes),
                "heldout_s": round(seconds, 3),
                "s_per_1000_modes": round(per_thousand, 4),
                "measured": filled,
            }
        )
    )


if __name__ == "__main__":
    main()
