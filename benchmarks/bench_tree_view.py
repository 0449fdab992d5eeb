"""TreeView timings: δ/τ slider move -> updated view model (target < 20 ms, no refit), a refit,
a node click (grid + top images + CAM) and the lazy feature attack.

    .venv/bin/python benchmarks/bench_tree_view.py [--n 2600] [--d 2048] [--k 50] [--depth 3]

The slider timing is end to end on the Python side: setting ``view.tau`` validates it,
re-filters the fitted leaves (``BarlowResult.leaves``), rebuilds the JSON view model and
assigns it to the synced trait (no browser attached). The click and the attack use the demo
robust CNN on 64 x 64 images (trained weights when they exist, else the same net untrained;
the timing depends only on the architecture). Prints the figures, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch

from failwidgets.data import EvalSet
from failwidgets.widgets.tree import TreeView


def robust_model():
    """The demo robust CNN: trained weights when they exist, else the same net untrained."""
    from failwidgets.demo.robust import RobustCNN, load_robust

    try:
        return load_robust().eval(), "demo robust CNN (trained)"
    except (FileNotFoundError, OSError):
        torch.manual_seed(0)
        return RobustCNN(n_classes=2).eval(), "demo robust CNN architecture (untrained)"


def planted_evalset(rng, n: int, n_features: int):
    images = rng.integers(0, 256, size=(n, 64, 64, 3), dtype=np.uint8)
    features = rng.normal(size=(n, n_features)).astype(np.float32)
    labels = np.arange(n) % 2
    planted = (labels == 0) & (features[:, 7] > 0.8) & (features[:, 11] < 0.5)
    wrong = np.where(planted, rng.random(n) < 0.8, rng.random(n) < 0.05)
    predictions = np.where(wrong, 1 - labels, labels)
    return EvalSet.from_arrays(images, labels, predictions, ["a", "b"]), features


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2600, help="samples (two classes of n/2)")
    parser.add_argument("--d", type=int, default=2048, help="feature columns")
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--moves", type=int, default=200, help="slider moves timed")
    parser.add_argument("--attack-steps", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(1)

    rng = np.random.default_rng(0)
    evalset, features = planted_evalset(rng, args.n, args.d)
    k = min(args.k, args.d)
    start = time.perf_counter()
    view = TreeView(evalset, features, class_name="a", depth=args.depth, k=k)
    build = time.perf_counter() - start
    fit = view.timings["fit"]
    n_nodes = view.result.n_nodes

    # δ/τ slider moves: alternate values so every move changes something
    fits_before = len(view._cache)
    values = np.linspace(0.0, 0.6, 13)
    times = []
    for i in range(args.moves):
        start = time.perf_counter()
        if i % 2:
            view.tau = float(values[i % len(values)])
        else:
            view.delta = float(values[(i // 2) % len(values)])
        times.append(time.perf_counter() - start)
    assert len(view._cache) == fits_before, "a slider move refitted"
    refilter_ms = 1e3 * statistics.median(times)
    refilter_p95_ms = 1e3 * float(np.percentile(times, 95))
    size = len(json.dumps(view.canvas.tree))

    # refit: a new k (cached afterwards)
    start = time.perf_counter()
    view.k = max(1, k - 1)
    refit = time.perf_counter() - start
    start = time.perf_counter()
    view.k = k
    cached = time.perf_counter() - start

    # click on the top leaf with the robust model: grid, top images, CAM (attack separately)
    model, model_name = robust_model()
    evalset, features = planted_evalset(rng, args.n, model.n_features)
    view = TreeView(
        evalset, features, model=model, class_name="a", depth=args.depth,
        k=min(args.k, model.n_features), attack_steps=0, background=False,
    )  # fmt: skip
    start = time.perf_counter()
    view.select(view.result.top_leaf)
    click = time.perf_counter() - start
    view._attack_steps = args.attack_steps
    feature = view.visual["feature"]
    images_top = evalset.images_at([item["index"] for item in view.visual["items"]])
    content, buffers = view.canvas.visual
    start = time.perf_counter()
    view._attack(view._visual_token, content, buffers, images_top, feature)
    attack = time.perf_counter() - start
    info = view.visual["attack_info"]

    print(f"tree: {args.n} samples, {args.d} features, depth {args.depth}, k {k}")
    print(f"{n_nodes} nodes; view model {size} bytes of JSON")
    print(f"construction {build:.2f} s (first fit {fit:.2f} s)")
    print(
        f"delta/tau move -> view model: median {refilter_ms:.2f} ms, p95 {refilter_p95_ms:.2f} ms "
        f"over {args.moves} moves (target < 20 ms), no refit"
    )
    print(f"refit for a new k: {refit:.2f} s; back to a cached fit: {1e3 * cached:.1f} ms")
    print(f"{model_name}, 64 x 64 images:")
    print(f"node click (grid + top-6 images + CAM): {1e3 * click:.0f} ms")
    print(
        f"feature attack ({args.attack_steps} steps, 6 images, 1 thread): {attack:.2f} s; "
        f"feature {info['before']:.3g} -> {info['after']:.3g}"
    )
    print(
        json.dumps(
            {
                "bench": "tree_view",
                "model": model_name,
                "n": args.n,
                "d": args.d,
                "k": k,
                "depth": args.depth,
                "n_nodes": n_nodes,
                "refilter_median_ms": round(refilter_ms, 3),
                "refilter_p95_ms": round(refilter_p95_ms, 3),
                "refilter_target_ms": 20,
                "refilter_ok": refilter_p95_ms < 20,
                "fit_s": round(fit, 3),
                "refit_s": round(refit, 3),
                "cached_refit_ms": round(1e3 * cached, 2),
                "click_ms": round(1e3 * click, 1),
                "attack_steps": args.attack_steps,
                "attack_s": round(attack, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
