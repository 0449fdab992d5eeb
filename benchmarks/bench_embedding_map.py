"""EmbeddingMap at 10^6 points: projection time, bytes sent to the browser, first paint.

1. PCA of 1,000,000 x 512 float16 embeddings (all rows, and with ``fit_rows=100_000``).
2. Bytes the map sends: the widget's opening state (points as binary buffers, script), and the
   messages of a colour change, a class filter and a 333k-point selection.
3. With ``--browser``: a JupyterLab in headless Chromium (WebGL through SwiftShader, on the CPU)
   renders a 1,000,000-point map; time from the widget appearing to the first painted points,
   the mean frame time while zooming, and screenshots (light, dark) in tests/artifacts.

    .venv/bin/python benchmarks/bench_embedding_map.py [--n 1000000] [--dim 512] [--browser]

Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

ARTIFACTS = Path(__file__).resolve().parent.parent / "tests" / "artifacts"


def synthetic(n: int, dim: int, n_classes: int = 10, seed: int = 0):
    """Labels, predictions (20% wrong) and float16 embeddings with one cluster per class."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n)
    predictions = np.where(rng.random(n) < 0.2, (labels + 1) % n_classes, labels)
    centres = rng.normal(size=(n_classes, dim)).astype(np.float32) * 3
    embeddings = np.empty((n, dim), dtype=np.float16)
    for start in range(0, n, 65536):
        stop = min(start + 65536, n)
        block = rng.standard_normal((stop - start, dim), dtype=np.float32)
        embeddings[start:stop] = block + centres[labels[start:stop]]
    return labels, predictions, embeddings


class MessageMeter:
    """Sizes of the comm messages widgets send (JSON text plus binary buffers)."""

    def __init__(self):
        self.sizes: list[int] = []

    def install(self) -> None:
        import comm
        from comm.base_comm import BaseComm

        meter = self

        class MeasuringComm(BaseComm):
            def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
                text = json.dumps(data, default=str, separators=(",", ":"))
                meter.sizes.append(len(text) + sum(memoryview(b).nbytes for b in buffers or ()))

        comm.create_comm = MeasuringComm

    def take(self) -> int:
        total = sum(self.sizes)
        self.sizes.clear()
        return total


def timed(action):
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def measure_python(n: int, dim: int) -> dict:
    from failwidgets.data import EvalSet
    from failwidgets.methods.projection import PCAProjection

    labels, predictions, embeddings = synthetic(n, dim)
    pca_all_s, _ = timed(lambda: PCAProjection(2).fit_transform(embeddings))
    pca_sub_s, _ = timed(lambda: PCAProjection(2, fit_rows=100_000).fit_transform(embeddings))
    print(f"PCA {n:,} x {dim} float16: all rows {pca_all_s:.2f} s, fit on 100k {pca_sub_s:.2f} s")

    meter = MessageMeter()
    meter.install()
    from failwidgets.widgets.embedding_map import EmbeddingMap

    images = np.broadcast_to(np.zeros((1, 8, 8, 3), np.uint8), (n, 8, 8, 3))
    evalset = EvalSet.from_arrays(images, labels, predictions, [f"c{i}" for i in range(10)])
    build_s, view = timed(lambda: EmbeddingMap(evalset, embeddings, fit_rows=100_000))
    widget = view.scatter.widget
    from ipywidgets.widgets.widget import _remove_buffers

    state, _, buffers = _remove_buffers(widget.get_state())
    points_bytes = sum(memoryview(b).nbytes for b in buffers)
    script_bytes = len(state["_esm"]) + len(state.get("_css", ""))
    opening_bytes = meter.take()
    recolor_s, _ = timed(lambda: setattr(view, "color_by", "label"))
    recolor_bytes = meter.take()
    class_s, _ = timed(lambda: view.set_class("c3"))
    class_bytes = meter.take()
    view.set_class(None)
    meter.take()
    chosen = np.arange(0, n, 3, dtype=np.uint32)
    select_s, _ = timed(lambda: setattr(widget, "selection", chosen))
    select_bytes = meter.take()
    print(
        f"map build (fit_rows=100k) {build_s:.2f} s; opening messages {opening_bytes / 1e6:.1f} MB "
        f"(points {points_bytes / 1e6:.1f} MB, script {script_bytes / 1e6:.1f} MB); colour change "
        f"{recolor_s:.2f} s / {recolor_bytes / 1e6:.1f} MB; class filter {class_s:.3f} s / "
        f"{class_bytes / 1e6:.2f} MB; selection of {len(chosen):,}: {select_s:.2f} s kernel side "
        f"(grid + callbacks), {select_bytes / 1e6:.2f} MB"
    )
    return {
        "n": n,
        "dim": dim,
        "pca_all_rows_s": round(pca_all_s, 2),
        "pca_fit_100k_s": round(pca_sub_s, 2),
        "map_build_s": round(build_s, 2),
        "opening_bytes": opening_bytes,
        "points_bytes": points_bytes,
        "script_bytes": script_bytes,
        "recolor_s": round(recolor_s, 3),
        "recolor_bytes": recolor_bytes,
        "class_filter_s": round(class_s, 4),
        "class_filter_bytes": class_bytes,
        "selection_s": round(select_s, 3),
        "selection_bytes": select_bytes,
    }


BROWSER_CELL = """
import numpy as np, time
from failwidgets import EvalSet
from failwidgets.widgets.embedding_map import EmbeddingMap
n = {n}
rng = np.random.default_rng(0)
labels = rng.integers(0, 10, n)
preds = np.where(rng.random(n) < 0.2, (labels + 1) % 10, labels)
centres = rng.normal(size=(10, 16)).astype(np.float32) * 3
emb = (rng.standard_normal((n, 16), dtype=np.float32) + centres[labels]).astype(np.float16)
images = np.broadcast_to(np.zeros((1, 8, 8, 3), np.uint8), (n, 8, 8, 3))
es = EvalSet.from_arrays(images, labels, preds, [f"class {{i}}" for i in range(10)])
view = EmbeddingMap(es, emb, color_by="label", height=520)
view
"""


def painted_fraction(page) -> float:
    from PIL import Image

    canvas = page.locator(".fw-embedding-map canvas").first
    pixels = np.asarray(Image.open(io.BytesIO(canvas.screenshot())).convert("RGB")).astype(int)
    background = pixels[2, 2]
    return float((np.abs(pixels - background).sum(axis=2) > 60).mean())


def measure_browser(n: int) -> dict:
    from failwidgets.labdriver import LabServer, lab_page, set_theme, write_notebook

    ARTIFACTS.mkdir(exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="fw-bench-emap-"))
    write_notebook(root / "map.ipynb", [BROWSER_CELL.format(n=n)])
    with LabServer(root) as server, lab_page(server, "map.ipynb") as page:
        start = time.perf_counter()
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        page.wait_for_selector(".fw-embedding-map canvas", timeout=300_000)
        shown = time.perf_counter()
        painted = 0.0
        while painted < 0.02 and time.perf_counter() - shown < 300:
            painted = painted_fraction(page)
        first_paint = time.perf_counter()
        page.wait_for_timeout(1000)
        page.screenshot(path=str(ARTIFACTS / "embedding-map-1m-light.png"))
        frame_ms = page.evaluate(
            """async () => {
                const canvas = document.querySelector('.fw-embedding-map canvas');
                const box = canvas.getBoundingClientRect();
                const frame = () => new Promise(r => requestAnimationFrame(() => r()));
                await frame();
                const times = [];
                for (let i = 0; i < 20; i++) {
                    const t = performance.now();
                    canvas.dispatchEvent(new WheelEvent('wheel', {
                        deltaY: i < 10 ? -60 : 60, clientX: box.x + box.width / 2,
                        clientY: box.y + box.height / 2, bubbles: true, cancelable: true}));
                    await frame(); await frame();
                    times.push(performance.now() - t);
                }
                times.sort((a, b) => a - b);
                return times[Math.floor(times.length / 2)];
            }"""
        )
        set_theme(page, "JupyterLab Dark")
        page.wait_for_timeout(3000)
        page.screenshot(path=str(ARTIFACTS / "embedding-map-1m-dark.png"))
    result = {
        "browser_widget_shown_s": round(shown - start, 2),
        "browser_first_paint_after_shown_s": round(first_paint - shown, 2),
        "browser_run_to_paint_s": round(first_paint - start, 2),
        "browser_painted_fraction": round(painted, 3),
        "browser_zoom_frame_ms_median": round(frame_ms, 1),
        "browser_renderer": "SwiftShader (CPU WebGL)",
    }
    print(
        f"headless Chromium, {n:,} points: widget shown {result['browser_widget_shown_s']} s "
        f"after run (kernel build + transfer), first paint {result['browser_first_paint_after_shown_s']}"
        f" s later; median zoom frame {result['browser_zoom_frame_ms_median']} ms (software WebGL)"
    )
    return result


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--browser", action="store_true", help="also measure in Chromium")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    from threadpoolctl import threadpool_limits

    with threadpool_limits(args.threads):
        result = measure_python(args.n, args.dim)
    if args.browser:
        result.update(measure_browser(args.n))
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
