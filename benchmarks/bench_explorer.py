"""Time ``Explorer.from_demo`` on the demo world: cold (empty feature cache) and warm.

    .venv/bin/python benchmarks/bench_explorer.py [--threads 2] [--methods barlow prime ces directions]

Prints wall and CPU seconds per method for both runs (CPU seconds are the honest figure on a
shared machine: on two free cores the wall time is roughly CPU / 1.5) and ends with one JSON
line. ``load()`` itself is timed separately (it is not part of ``from_demo``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time


def build(demo, methods, cache_dir):
    from failwidgets.widgets import explorer_demo
    from failwidgets.widgets.explorer import Explorer

    cpu: dict[str, float] = {}
    original = explorer_demo._factories

    def timed_factories(*args, **kwargs):
        def wrap(name, factory):
            def run(grid):
                start = time.process_time()
                try:
                    return factory(grid)
                finally:
                    cpu[name] = time.process_time() - start

            return run

        return {name: wrap(name, f) for name, f in original(*args, **kwargs).items()}

    explorer_demo._factories = timed_factories
    try:
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        explorer = Explorer.from_demo(
            demo, methods=methods, cache_dir=cache_dir, progress=False, background=False
        )
        total = {"wall": time.perf_counter() - start_wall, "cpu": time.process_time() - start_cpu}
    finally:
        explorer_demo._factories = original
    return explorer, cpu, total


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
            explorer, cpu, total = build(demo, args.methods, cache)
            wall = {k: v for k, v in explorer.timings.items() if k not in ("total",)}
            print(
                f"from_demo ({run} cache): {total['wall']:.1f} s wall, {total['cpu']:.1f} s CPU; "
                + ", ".join(f"{k} {wall[k]:.1f} s / {cpu.get(k, 0):.1f} s CPU" for k in cpu)
                + f"; first table {wall.get('table', float('nan')):.2f} s"
            )
            if explorer.unavailable:
                print("  not shown:", explorer.unavailable)
            results[run] = {
                "wall_s": round(total["wall"], 2),
                "cpu_s": round(total["cpu"], 2),
                "per_method_cpu_s": {k: round(v, 2) for k, v in cpu.items()},
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
