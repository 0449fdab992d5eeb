"""Time the generation of the planted-failure world (target: 20,000 64x64 images < 20 s, 2 cores),
and its disk cache: writing it (``cache_write_s``) and reading it back memory-mapped with its
checks (``cache_read_s``, in a fresh process: what a cold ``demo.load()`` pays for the world).

Usage: .venv/bin/python benchmarks/bench_world.py [--n-images 20000] [--image-size 64]
       [--repeats 3] [--jobs N]
Prints wall and CPU time of each repeat and ends with one JSON line (with the machine's load
average, since wall time on a shared machine depends on it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

_READ_CHILD = """
import sys, time
from failwidgets.datasets import cached_world
start = time.perf_counter()
world = cached_world(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), cache_dir=sys.argv[4])
print(time.perf_counter() - start)
"""


def _cache_figures(world, n_images, image_size, seed) -> tuple[float, float]:
    """Seconds to write ``world`` to a new cache folder, and to read it in a fresh process."""
    from failwidgets.datasets import world_cache

    with tempfile.TemporaryDirectory(prefix="bench-world-") as folder:
        key = world_cache.world_key(n_images, image_size, seed)
        start = time.perf_counter()
        world_cache._write(world_cache.world_cache_paths(key, folder), key, world)
        write = time.perf_counter() - start
        args = [str(n_images), str(image_size), str(seed), folder]
        done = subprocess.run(
            [sys.executable, "-c", _READ_CHILD, *args], capture_output=True, text=True, check=True
        )
        return write, float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-images", type=int, default=20000)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=None, help="rendering threads (default: auto)")
    args = parser.parse_args()

    from failwidgets.datasets import make_world

    make_world(n_images=256, image_size=args.image_size, seed=args.seed)  # warm imports/caches
    times, cpu_times = [], []
    for repeat in range(args.repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        world = make_world(
            n_images=args.n_images, image_size=args.image_size, seed=args.seed, n_jobs=args.jobs
        )
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
        print(
            f"repeat {repeat + 1}: {times[-1]:.2f} s wall, {cpu_times[-1]:.2f} s CPU "
            f"for {len(world)} images",
            flush=True,
        )
    best = min(times)
    write_s, read_s = _cache_figures(world, args.n_images, args.image_size, args.seed)
    print(f"cache: written in {write_s:.2f} s, read back (fresh process) in {read_s:.3f} s")
    print(
        f"make_world({args.n_images}, image_size={args.image_size}): best {best:.2f} s, "
        f"{args.n_images / best:.0f} images/s on {os.cpu_count()} cores"
    )
    print(
        json.dumps(
            {
                "benchmark": "world_generation",
                "n_images": args.n_images,
                "image_size": args.image_size,
                "seconds_best": round(best, 3),
                "seconds_all": [round(t, 3) for t in times],
                "cpu_seconds_all": [round(t, 3) for t in cpu_times],
                "cache_write_s": round(write_s, 3),
                "cache_read_s": round(read_s, 3),
                "jobs": args.jobs,
                "load_average_1min": round(os.getloadavg()[0], 2),
                "cpu_count": os.cpu_count(),
                "target_seconds": 20.0,
            }
        )
    )


if __name__ == "__main__":
    main()
