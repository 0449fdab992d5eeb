"""Benchmark: ``ImageSource.fingerprint`` at a million images (target: under 1 s each).

Measured: a uint8 memmap of shape (N, 32, 32, 3) (a sparse file, so only what the fingerprint
reads is touched), an in-memory array of the same shape, a subset of half of it, and N image
paths (cycling over 1,000 real files, so every stat hits a file): the first call (which hashes
every path string) and a repeated one.

    python benchmarks/bench_fingerprint.py              # N = 1,000,000
    python benchmarks/bench_fingerprint.py --n 100000

Prints its figures, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np

from failwidgets.images import ArrayImages, PathImages, SubsetImages


def _timed(function, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    n = args.n
    results = {"n": n}
    with tempfile.TemporaryDirectory() as folder:
        mapped = np.lib.format.open_memmap(
            os.path.join(folder, "images.npy"), mode="w+", dtype=np.uint8, shape=(n, 32, 32, 3)
        )
        start = time.perf_counter()
        ArrayImages(mapped).fingerprint()
        results["memmap_first_s"] = time.perf_counter() - start
        results["memmap_s"] = _timed(ArrayImages(mapped).fingerprint)
        in_memory = np.zeros((n, 32, 32, 3), dtype=np.uint8)
        results["array_s"] = _timed(ArrayImages(in_memory).fingerprint)
        half = SubsetImages(ArrayImages(in_memory), np.arange(0, n, 2))
        results["subset_s"] = _timed(half.fingerprint)
        del mapped, in_memory, half

        files = os.path.join(folder, "files")
        os.mkdir(files)
        for i in range(1000):
            with open(os.path.join(files, f"{i}.png"), "wb") as handle:
                handle.write(b"x" * (i + 1))
        start = time.perf_counter()
        paths = PathImages([f"{i % 1000}.png" for i in range(n)], root=files)
        results["paths_construct_s"] = time.perf_counter() - start
        start = time.perf_counter()
        paths.fingerprint()
        results["paths_first_s"] = time.perf_counter() - start
        results["paths_repeat_s"] = _timed(paths.fingerprint)
    for key, value in results.items():
        print(f"{key:>20}: {value:.4f}" if isinstance(value, float) else f"{key:>20}: {value}")
    slowest = max(v for k, v in results.items() if k.endswith("_s") and "construct" not in k)
    results["under_1s"] = bool(slowest < 1.0)
    print(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
