"""Time the demo's start-up: ``demo.load()`` cold, and the quickstart notebook executed headless.

Targets on 2 cores (issue 17, item 4): ``demo.load()`` cold in under 10 s; the quickstart in
under 30 s. Steps, all in fresh processes sharing one cache folder:

1. ``demo_load_first_run_s``: ``demo.load()`` with an empty cache (generates the world, runs
   the classifier and writes both to the cache);
2. ``demo_load_s``: ``demo.load()`` again in ``--repeats`` fresh processes (the cache warm);
   the median;
3. ``quickstart_first_run_s`` and ``quickstart_s``: ``notebooks/00_quickstart.ipynb`` executed
   twice with nbclient in a fresh kernel, as ``tests/test_notebooks.py`` does; the second run
   finds the Explorer's feature caches warm too. Each run prints its per-cell seconds,
   ``demo.timings`` and ``explorer.timings`` (read by one extra cell that is not timed).

Times start before ``import failwidgets`` (imports count); CPU seconds are the children's.

Usage: .venv/bin/python benchmarks/bench_demo.py [--cache-dir DIR] [--repeats 3]
       [--threads N] [--skip-quickstart]
``--cache-dir`` defaults to a new temporary folder (so the first run really is one);
``--threads`` sets OMP_NUM_THREADS / MKL_NUM_THREADS in the children (default: unset).
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "notebooks" / "00_quickstart.ipynb"
_LOAD_CHILD = """
import json, time
start = time.perf_counter()
from failwidgets.demo import load
demo = load()
print(json.dumps({"seconds": time.perf_counter() - start, "timings": demo.timings}))
"""
_REPORT_CELL = """
import json as _json
print("BENCH_TIMINGS" + _json.dumps({
    "demo": {k: float(v) for k, v in demo.timings.items()},
    "explorer": {k: float(v) for k, v in explorer.timings.items()},
}))
"""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _load_once(env: dict) -> dict:
    """``demo.load()`` in a fresh interpreter: its own figures plus wall and CPU seen here."""
    cpu, start = _children_cpu(), time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_CHILD], env=env, capture_output=True, text=True, check=False
    )
    wall, cpu = time.perf_counter() - start, _children_cpu() - cpu
    if done.returncode:
        raise RuntimeError(f"demo.load() failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result.update(process_wall_s=wall, cpu_s=cpu, load_average_1min=os.getloadavg()[0])
    return result


def _cell_seconds(cell) -> float | None:
    timing = cell.get("metadata", {}).get("execution", {})
    try:
        begin = datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None
    return (end - begin).total_seconds()


def _quickstart_once(workdir: Path) -> dict:
    """The quickstart in a fresh kernel: total seconds (kernel start included), per cell, and
    the demo's and the Explorer's own timings."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(QUICKSTART, as_version=4)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    )
    cpu, start = _children_cpu(), time.perf_counter()
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        seconds = time.perf_counter() - start
        report = nbformat.v4.new_code_cell(_REPORT_CELL)
        nb.cells.append(report)
        client.execute_cell(report, len(nb.cells) - 1)
    cpu = _children_cpu() - cpu
    errors = [
        out
        for cell in nb.cells
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    if errors:
        raise RuntimeError(
            f"the quickstart failed: {errors[0].get('ename')}: {errors[0].get('evalue')}"
        )
    text = "".join(out.get("text", "") for out in report.get("outputs", []))
    timings = json.loads(text.split("BENCH_TIMINGS", 1)[1])
    cells = [
        {"cell": i, "first_line": cell.source.splitlines()[0][:60], "seconds": _cell_seconds(cell)}
        for i, cell in enumerate(nb.cells[:-1])
        if cell.cell_type == "code"
    ]
    return {"seconds": seconds, "cpu_s": cpu, "cells": cells, **timings}


def _print_quickstart(name: str, run: dict) -> None:
    print(f"{name}: {run['seconds']:.1f} s wall, {run['cpu_s']:.1f} s CPU (kernel and children)")
    for cell in run["cells"]:
        seconds = "?" if cell["seconds"] is None else f"{cell['seconds']:.2f}"
        print(f"  cell {cell['cell']:>2}: {seconds:>6} s  {cell['first_line']}")
    print("  demo.timings:", {k: round(v, 2) for k, v in run["demo"].items()})
    print("  explorer.timings:", {k: round(v, 2) for k, v in run["explorer"].items()}, flush=True)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cache-dir", default=None, help="cache folder (default: a new temp one)")
    parser.add_argument("--repeats", type=int, default=3, help="cold loads with a warm cache")
    parser.add_argument("--threads", type=int, default=None, help="OMP/MKL threads of children")
    parser.add_argument("--skip-quickstart", action="store_true")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-demo-") as scratch:
        cache_dir = Path(args.cache_dir or Path(scratch) / "cache")
        os.environ["FAILWIDGETS_CACHE_DIR"] = str(cache_dir)  # the kernels inherit it
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never the network
        if args.threads is not None:
            os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(args.threads)
        env = dict(os.environ)
        load_before = os.getloadavg()[0]

        first = _load_once(env)
        print(
            f"demo.load() first run (no cache): {first['seconds']:.2f} s, "
            f"{first['cpu_s']:.1f} s CPU, steps {_rounded(first['timings'])}, "
            f"load {first['load_average_1min']:.2f}",
            flush=True,
        )
        warm = []
        for repeat in range(args.repeats):
            warm.append(_load_once(env))
            print(
                f"demo.load() cold, cache warm, #{repeat + 1}: {warm[-1]['seconds']:.2f} s, "
                f"{warm[-1]['cpu_s']:.2f} s CPU, steps {_rounded(warm[-1]['timings'])}, "
                f"load {warm[-1]['load_average_1min']:.2f}",
                flush=True,
            )
        quick = []
        if not args.skip_quickstart:
            for name in ("quickstart, first run", "quickstart, caches warm"):
                quick.append(_quickstart_once(Path(scratch)))
                _print_quickstart(name, quick[-1])

    result = {
        "benchmark": "demo_startup",
        "demo_load_s": round(statistics.median(r["seconds"] for r in warm), 3),
        "demo_load_all_s": [round(r["seconds"], 3) for r in warm],
        "demo_load_cpu_s": [round(r["cpu_s"], 3) for r in warm],
        "demo_load_first_run_s": round(first["seconds"], 3),
        "demo_load_first_run_cpu_s": round(first["cpu_s"], 3),
        "demo_load_first_run_steps": _rounded(first["timings"]),
        "quickstart_s": round(quick[-1]["seconds"], 3) if quick else None,
        "quickstart_cpu_s": round(quick[-1]["cpu_s"], 3) if quick else None,
        "quickstart_first_run_s": round(quick[0]["seconds"], 3) if quick else None,
        "quickstart_explorer_timings": _rounded(quick[-1]["explorer"]) if quick else None,
        "threads": args.threads,
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "cpu_count": os.cpu_count(),
        "target_demo_load_s": 10.0,
        "target_quickstart_s": 30.0,
    }
    print(json.dumps(result))
    return result


def _rounded(timings: dict) -> dict:
    return {k: round(float(v), 2) for k, v in timings.items()}


if __name__ == "__main__":
    main()
