"""Thumbnail throughput and the cost of serving one ImageGrid page from a 1,000,000-index subset.

Run:  .venv/bin/python benchmarks/bench_thumbnails.py [--quick]

Prints the figures and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
from PIL import Image


def natural_images(n: int, size: int, seed: int = 0) -> np.ndarray:
    """Photo-like test images: smooth random colour fields plus mild noise (JPEG's usual case)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (n, 6, 6, 3), dtype=np.uint8)
    out = np.empty((n, size, size, 3), dtype=np.uint8)
    for i in range(n):
        smooth = np.asarray(
            Image.fromarray(coarse[i]).resize((size, size), Image.Resampling.BICUBIC)
        )
        noise = rng.normal(0, 6, smooth.shape)
        out[i] = np.clip(smooth + noise, 0, 255).astype(np.uint8)
    return out


def best_of(repeats: int, fn):
    times = []
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def bench_throughput(quick: bool) -> dict:
    from failwidgets.thumbnails import encode_thumbnails

    figures = {}
    for source, count in ((64, 1024), (224, 384)):
        count = count // 4 if quick else count
        images = natural_images(count, source, seed=source)
        for fmt in ("jpeg", "webp"):
            for jobs, label in ((1, "1 thread"), (None, f"{min(8, os.cpu_count() or 1)} threads")):
                seconds, out = best_of(
                    3,
                    lambda images=images, fmt=fmt, jobs=jobs: encode_thumbnails(
                        images, 96, fmt, n_jobs=jobs
                    ),
                )
                rate = count / seconds
                mean_bytes = float(np.mean([len(b) for b in out]))
                key = f"{source}px_{fmt}_{'serial' if jobs == 1 else 'threads'}"
                figures[key] = {"thumbs_per_s": round(rate), "mean_bytes": round(mean_bytes)}
                print(
                    f"  {source:>3}x{source:<3} -> 96px {fmt:<4} {label:<9}: "
                    f"{rate:8.0f} thumbnails/s, {mean_bytes:6.0f} B each"
                )
    return figures


def bench_page(quick: bool, source: int = 64, pool: int = 4096, page_size: int = 200) -> dict:
    from failwidgets.data import EvalSet
    from failwidgets.widgets import ImageGrid

    n_subset = 1_000_000
    pool = pool // 4 if quick else pool
    rng = np.random.default_rng(0)
    images = natural_images(pool, source, seed=1)
    labels = rng.integers(0, 10, pool)
    predictions = np.where(rng.random(pool) < 0.8, labels, rng.integers(0, 10, pool))
    evalset = EvalSet.from_arrays(
        images=images,
        labels=labels,
        predictions=predictions,
        class_names=[f"class {c}" for c in range(10)],
    )
    indices = rng.integers(0, pool, n_subset)
    scores = rng.normal(size=n_subset)

    start = time.perf_counter()
    grid = ImageGrid(evalset, indices, scores, page_size=page_size)
    t_build = time.perf_counter() - start

    start = time.perf_counter()
    grid.sort = "desc"
    grid.page_payload(0)  # computes the order; thumbnails of page 0 now cached
    t_sort_first = time.perf_counter() - start

    page = grid.n_pages // 2
    start = time.perf_counter()
    content, buffers = grid.page_payload(page, request_id="bench")
    t_cold = time.perf_counter() - start
    start = time.perf_counter()
    grid.page_payload(page, request_id="bench")
    t_warm = time.perf_counter() - start
    thumb_bytes = sum(len(b) for b in buffers)
    json_bytes = len(json.dumps(content))

    grid.apply_click("replace", 0, int(grid.display_indices()[0]))
    start = time.perf_counter()
    grid.apply_click("range", n_subset - 1, int(grid.display_indices()[n_subset - 1]))
    t_range = time.perf_counter() - start

    print(
        f"  ImageGrid over {n_subset:,} indices into {pool:,} {source}px images, "
        f"page of {page_size}:"
    )
    print(f"    build (validate 1M indices)      : {t_build * 1e3:8.1f} ms")
    print(f"    sort by score + first page        : {t_sort_first * 1e3:8.1f} ms")
    print(f"    serve a page, thumbnails uncached : {t_cold * 1e3:8.1f} ms")
    print(f"    serve the same page again (cached): {t_warm * 1e3:8.1f} ms")
    print(
        f"    page size on the wire             : {thumb_bytes + json_bytes:,} B "
        f"({thumb_bytes:,} B thumbnails + {json_bytes:,} B JSON)"
    )
    print(f"    shift-click range over all 1M     : {t_range * 1e3:8.1f} ms")
    return {
        "subset": n_subset,
        "pool": pool,
        "source_px": source,
        "page_size": page_size,
        "build_ms": round(t_build * 1e3, 1),
        "sort_and_first_page_ms": round(t_sort_first * 1e3, 1),
        "page_cold_ms": round(t_cold * 1e3, 1),
        "page_warm_ms": round(t_warm * 1e3, 1),
        "page_bytes": thumb_bytes + json_bytes,
        "page_thumb_bytes": thumb_bytes,
        "page_json_bytes": json_bytes,
        "range_select_1m_ms": round(t_range * 1e3, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer images (smoke test)")
    args = parser.parse_args()
    print(
        f"failwidgets thumbnail benchmark ({platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs)"
    )
    print("Thumbnail throughput (96-pixel box):")
    throughput = bench_throughput(args.quick)
    print("Page serving:")
    page = bench_page(args.quick)
    result = {
        "benchmark": "thumbnails",
        "cpus": os.cpu_count(),
        "loadavg_1min": round(os.getloadavg()[0], 2),
        "quick": args.quick,
        "throughput": throughput,
        "page": page,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
