"""Benchmark: the Explorer over 1,000,000 images (issue 17 item 1).

A synthetic world of ``--n`` samples and ``--classes`` classes: images in a memory-mapped uint8
array on disk, precomputed 512-d float16 CLIP-like embeddings, robust-model features and a
boolean tag table, with a failure planted in every class (a tag and an embedding direction whose
images the model gets wrong). The arrays are generated once into ``--data`` and reused.

Timed, on the Explorer built by ``Explorer.from_evalset`` with Barlow, PRIME and the failure
directions (CES and Defuse need models, which a synthetic world does not have):

- ``first_paint_s``: from the arrays to an Explorer whose first class is fitted in every view
  and whose grid has answered its first page request (EvalSet construction included);
- ``class_switch_s``: selecting another class, until the setter returns: every view drawn for
  it and the kernel free; a class the failure directions have not fitted shows "fitting…"
  while its fit runs on the view's worker. ``class_switch_complete_s``: until that fit and the
  failure-mode table have landed too (``Explorer.wait()``);
- ``threshold_ms``: a threshold change (Barlow's delta) until every view is redrawn;
  ``threshold_table_ms``: until the table is too (it waits ``DEBOUNCE_S`` for more moves);
- ``select_all_ms``: shift-click from the first to the last of 1M images in the grid;
- ``click_ms``: a ctrl-click with all 1M selected;
- ``max_message_bytes``: the largest message (JSON plus binary buffers) any widget sent to the
  browser during the interactions above;
- ``peak_rss_mb``: the process's peak resident memory.

    .venv/bin/python benchmarks/bench_scale.py               # 1M samples, 100 classes
    .venv/bin/python benchmarks/bench_scale.py --n 100000    # while iterating

Prints its figures, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np

IMAGE_SIDE = 32
EMBEDDING_DIM = 512
FEATURE_DIM = 128
N_TAGS = 24


def make_world(n: int, n_classes: int, folder: Path) -> dict:
    """Arrays of the synthetic world, generated once into ``folder`` (memory-mapped on read)."""
    folder.mkdir(parents=True, exist_ok=True)
    done = folder / f"done-{n}-{n_classes}"
    paths = {
        name: folder / f"{name}-{n}-{n_classes}.npy"
        for name in ("images", "labels", "predictions", "embeddings", "features", "tags", "split")
    }
    if not done.exists():
        rng = np.random.default_rng(0)
        labels = np.repeat(np.arange(n_classes), -(-n // n_classes))[:n]
        rng.shuffle(labels)
        tags = rng.random((n, N_TAGS), dtype=np.float32) < 0.15
        planted = tags[:, 0] & tags[:, 1]  # in every class, tag0 & tag1 images are hard
        error_p = np.where(planted, 0.7, 0.08)
        wrong = rng.random(n) < error_p
        predictions = np.where(
            wrong, (labels + 1 + rng.integers(0, n_classes - 1, n)) % n_classes, labels
        )
        split = np.where(rng.random(n) < 0.5, "train", "val").astype("<U5")
        np.save(paths["labels"], labels)
        np.save(paths["predictions"], predictions)
        np.save(paths["tags"], tags)
        np.save(paths["split"], split)
        images = np.lib.format.open_memmap(
            paths["images"], mode="w+", dtype=np.uint8, shape=(n, IMAGE_SIDE, IMAGE_SIDE, 3)
        )
        palette = rng.integers(0, 256, size=(n_classes, 3), dtype=np.uint8)
        texture = rng.integers(0, 48, size=(1024, IMAGE_SIDE, IMAGE_SIDE, 1), dtype=np.uint8)
        embeddings = np.lib.format.open_memmap(
            paths["embeddings"], mode="w+", dtype=np.float16, shape=(n, EMBEDDING_DIM)
        )
        features = np.lib.format.open_memmap(
            paths["features"], mode="w+", dtype=np.float32, shape=(n, FEATURE_DIM)
        )
        class_means = rng.normal(size=(n_classes, EMBEDDING_DIM)).astype(np.float32)
        direction = rng.normal(size=EMBEDDING_DIM).astype(np.float32)
        for start in range(0, n, 50_000):
            stop = min(n, start + 50_000)
            rows = slice(start, stop)
            block = (
                palette[labels[rows]][:, None, None, :] // 2
                + texture[rng.integers(0, 1024, stop - start)]
            )
            block[planted[rows], : IMAGE_SIDE // 2] = 255  # the planted failure is visible
            images[rows] = block
            noise = rng.normal(size=(stop - start, EMBEDDING_DIM)).astype(np.float32)
            embeddings[rows] = (
                class_means[labels[rows]] + noise + 3.0 * planted[rows, None] * direction
            ).astype(np.float16)
            feats = rng.gamma(0.8, 1.0, size=(stop - start, FEATURE_DIM)).astype(np.float32)
            feats[:, 0] += 2.5 * planted[rows]
            features[rows] = feats
        images.flush()
        embeddings.flush()
        features.flush()
        done.touch()
    return {name: np.load(path, mmap_mode="r") for name, path in paths.items()}


class MessageMeter:
    """Records the size of every message the widgets send (JSON text plus binary buffers)."""

    def __init__(self):
        self.sizes: list[int] = []

    def install(self) -> None:
        """Make every widget created from now on send through a comm that measures."""
        import comm
        from comm.base_comm import BaseComm

        meter = self

        class MeasuringComm(BaseComm):
            def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
                text = json.dumps(data, default=str, separators=(",", ":"))
                sizes = sum(memoryview(b).nbytes for b in buffers or ())
                meter.sizes.append(len(text) + sizes)

        comm.create_comm = MeasuringComm

    def take(self) -> int:
        """The largest message since the last call (0 when none)."""
        largest = max(self.sizes, default=0)
        self.sizes.clear()
        return largest


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--data", type=Path, default=Path("/tmp/failwidgets-bench-scale"))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    world = make_world(args.n, args.classes, args.data)
    print(f"world ready in {time.perf_counter() - start:.1f} s ({args.n:,} samples)")

    meter = MessageMeter()
    meter.install()
    import pandas as pd

    from failwidgets.data import EvalSet
    from failwidgets.widgets.explorer import Explorer

    class_names = [f"class{c:03d}" for c in range(args.classes)]
    tag_names = [f"tag{t:02d}" for t in range(N_TAGS)]

    def build():
        evalset = EvalSet.from_arrays(
            images=world["images"],
            labels=world["labels"],
            predictions=world["predictions"],
            class_names=class_names,
            split=world["split"],
        )
        tags = pd.DataFrame(np.asarray(world["tags"]), columns=tag_names)
        explorer = Explorer.from_evalset(
            evalset,
            features=world["features"],
            embeddings=world["embeddings"],
            tags=tags,
            split="val",
            methods=["barlow", "prime", "directions"],
            progress=False,
            cache_dir=args.data / "cache",
        )
        explorer.wait()
        grid = explorer.grid
        grid.page_payload(0)
        return explorer

    start = time.perf_counter()
    explorer = build()
    first_paint = time.perf_counter() - start
    print(f"first paint: {first_paint:.1f} s  {explorer.timings}")
    if explorer.unavailable:
        print("  not shown:", explorer.unavailable)
    meter.take()

    other = class_names[1] if explorer.class_name != class_names[1] else class_names[2]

    first_class = explorer.class_name
    start = time.perf_counter()
    explorer.class_name = other  # returns once the views are drawn (a new fit runs behind)
    class_switch = time.perf_counter() - start
    explorer.wait()  # the background work: the directions fit of the class, the table
    class_switch_complete = time.perf_counter() - start
    switch_bytes = meter.take()
    print(
        f"class switch: {class_switch:.2f} s (views drawn, kernel free; the directions fit and "
        f"the table landed at {class_switch_complete:.2f} s), largest message "
        f"{switch_bytes:,} bytes"
    )

    def select_class(name: str) -> None:
        explorer.class_name = name
        explorer.wait()

    # back to a class seen before: every per-class fit (failure directions) is done already
    class_switch_seen = timed(lambda: select_class(first_class))
    switch_bytes = max(switch_bytes, meter.take())
    print(f"class switch to a class seen before: {class_switch_seen:.2f} s")
    select_class(other)
    meter.take()

    delta = explorer.thresholds()["barlow"]["delta"] if "barlow" in explorer.thresholds() else None

    start = time.perf_counter()
    explorer.set_threshold("barlow", "delta", round((delta or 0.0) + 0.05, 2))
    threshold_s = time.perf_counter() - start  # the views re-filtered and redrawn
    explorer.wait()  # the table, after its DEBOUNCE_S pause for a burst of slider moves
    threshold_table_s = time.perf_counter() - start
    threshold_bytes = meter.take()
    print(
        f"threshold change: {threshold_s * 1e3:.1f} ms (the table after "
        f"{threshold_table_s * 1e3:.0f} ms, debounce included), largest message "
        f"{threshold_bytes:,} bytes"
    )

    modes = explorer.shown_modes
    mode = max(modes, key=lambda m: m.size) if modes else None

    def select_mode():
        explorer.select_mode(mode)

    select_mode_s = timed(select_mode) if mode is not None else float("nan")
    select_mode_bytes = meter.take()
    print(
        f"select a failure mode ({0 if mode is None else mode.size:,} members, the map "
        f"highlights them): {select_mode_s * 1e3:.1f} ms, largest message "
        f"{select_mode_bytes:,} bytes"
    )

    grid = explorer.grid
    grid.show(np.arange(args.n))
    meter.take()
    grid.apply_click("replace", 0, int(grid.page_indices()[0]))
    last = grid.total - 1
    select_all = timed(lambda: grid.apply_click("range", last, int(grid.display_indices()[last])))
    select_bytes = meter.take()
    assert grid.n_selected == args.n, grid.n_selected
    clicks = []
    for position in (5, 5, 17):
        index = int(grid.display_indices()[position])
        clicks.append(timed(lambda p=position, i=index: grid.apply_click("toggle", p, i)))
    click_bytes = meter.take()
    click = float(np.median(clicks))
    print(
        f"select all: {select_all * 1e3:.1f} ms ({select_bytes:,} bytes); ctrl-click with "
        f"{args.n:,} selected: {click * 1e3:.1f} ms ({click_bytes:,} bytes)"
    )
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "n": args.n,
        "classes": args.classes,
        "first_paint_s": round(first_paint, 2),
        "class_switch_s": round(class_switch, 3),
        "class_switch_complete_s": round(class_switch_complete, 3),
        "class_switch_seen_s": round(class_switch_seen, 3),
        "threshold_ms": round(threshold_s * 1e3, 1),
        "threshold_table_ms": round(threshold_table_s * 1e3, 1),
        "click_ms": round(click * 1e3, 2),
        "select_all_ms": round(select_all * 1e3, 2),
        "select_mode_ms": round(select_mode_s * 1e3, 1),
        "max_message_bytes": max(
            switch_bytes, threshold_bytes, select_mode_bytes, select_bytes, click_bytes
        ),
        "peak_rss_mb": round(peak_rss_mb),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
