"""Time ``Explorer.from_demo`` on the demo world: cold (empty feature cache) and warm.

    .venv/bin/python benchmarks/bench_explorer.py [--threads 2] [--methods barlow prime ces directions]

Prints wall seconds per method and the total wall and CPU seconds for both runs (CPU seconds
are the honest figure on a shared machine: on two free cores the wall time is roughly CPU / 1.5) and ends with one JSON
line. ``load()`` itself is timed separately (it is not part of ``from_demo``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time


def build(demo, methods, cache_dir):
    from failwidgets.widgets.explorer import Explorer

    start_wall, start_cpu = time.perf_counter(), time.process_time()
    explorer = Explorer.from_demo(
        demo, methods=methods, cache_dir=cache_dir, progress=False, background=False
    )
    total = {"wall": time.perf_counter() - start_wall, "cpu": time.process_time() - start_cpu}
    return explorer, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--methods", nargs="+", default=["barlow", "prime", "ces", "directions"])
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from failwidgets.demo import load

    start_wall, start_cpu = time.perf_counter(), time.process_time()
    demo = load()
    load_time = {"wall": time.perf_counter() - start_wall, "cpu": time.process_time() - start_cpu}
    print(f"load(): {load_time['wall']:.1f} s wall, {load_time['cpu']:.1f} s CPU")

    results = {"load": load_time}
    with tempfile.TemporaryDirectory(prefix="fw-bench-explorer-") as cache:
        for run in ("cold", "warm"):
            explorer, total = build(demo, args.methods, cache)
            wall = {k: v for k, v in explorer.timings.items() if k not in ("total",)}
            methods = [k for k in args.methods if k in wall]
            print(
                f"from_demo ({run} cache): {total['wall']:.1f} s wall, {total['cpu']:.1f} s CPU; "
                + ", ".join(f"{k} {wall[k]:.1f} s" for k in methods)
                + f"; first table {wall.get('table', float('nan')):.2f} s"
            )
            if explorer.unavailable:
                print("  not shown:", explorer.unavailable)
            results[run] = {
                "wall_s": round(total["wall"], 2),
                "cpu_s": round(total["cpu"], 2),
                "per_method_wall_s": {k: round(wall[k], 2) for k in methods},
                "unavailable": sorted(explorer.unavailable),
            }
            explorer.close()
    print(
        json.dumps(
            {
                "benchmark": "explorer_from_demo",
                "threads": args.threads,
                "methods": args.methods,
                "load_wall_s": round(load_time["wall"], 2),
                "load_cpu_s": round(load_time["cpu"], 2),
                "cold": results["cold"],
                "warm": results["warm"],
            }
        )
    )


if __name__ == "__main__":
    main()
