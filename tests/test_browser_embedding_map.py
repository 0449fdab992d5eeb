"""Real browser: an EmbeddingMap in JupyterLab draws its points (WebGL, SwiftShader in headless
Chromium), a lasso drawn with the mouse reaches Python and the grid, and the map follows the
dark theme."""

from __future__ import annotations

import io

import numpy as np
import pytest

from failwidgets.labdriver import cell_output_text, lab_page, run_all, set_theme, write_notebook

pytestmark = pytest.mark.browser

CELLS = [
    """
import numpy as np
from failwidgets import EvalSet
from failwidgets.widgets.embedding_map import EmbeddingMap
n = 3000
rng = np.random.default_rng(0)
images = rng.integers(0, 256, size=(n, 16, 16, 3), dtype=np.uint8)
labels = np.arange(n) % 3
preds = np.where(rng.random(n) < 0.25, (labels + 1) % 3, labels)
es = EvalSet.from_arrays(images, labels, preds, ["cat", "dog", "fox"])
emb = rng.normal(size=(n, 32)).astype(np.float16)
emb[:, 0] += np.where(labels == 0, 6, 0)  # class "cat" is its own cluster along PC1
view = EmbeddingMap(es, emb, height=420)
view
""",
    "print('SELECTED', len(view.selected_members), 'GRID', view.grid.total, 'CLASSES', "
    "sorted(set(es.labels[view.selected_members].tolist())))",
]


def canvas_pixels(page):
    from PIL import Image

    canvas = page.locator(".fw-embedding-map canvas").first
    image = Image.open(io.BytesIO(canvas.screenshot())).convert("RGB")
    return np.asarray(image)


def test_map_draws_points_and_a_lasso_reaches_python(lab_server, artifacts_dir):
    write_notebook(lab_server.root / "embedding_map.ipynb", CELLS)
    with lab_page(lab_server, "embedding_map.ipynb") as page:
        run_all(page)
        canvas = page.locator(".fw-embedding-map canvas").first
        canvas.wait_for(state="visible")
        webgl = page.evaluate(
            """() => {
                const gl = document.createElement('canvas').getContext('webgl');
                return gl ? gl.getParameter(gl.VERSION) : null;
            }"""
        )
        assert webgl, "headless Chromium has no WebGL here"
        # points were painted: many non-background pixels, in more than one colour
        page.wait_for_function(
            """() => document.querySelector('.fw-embedding-map .legend') !== null"""
        )
        page.wait_for_timeout(1500)
        pixels = canvas_pixels(page)
        background = pixels[2, 2].astype(int)
        painted = np.abs(pixels.astype(int) - background).sum(axis=2) > 60
        assert painted.mean() > 0.01, "no points drawn on the canvas"
        assert background.mean() > 200, "light theme: light background"
        page.screenshot(path=str(artifacts_dir / "embedding-map-light.png"))

        # the toolbar's lasso button (the second), then a drag around the left half of the map
        toolbar = page.locator(".fw-embedding-map [class*='jss:flex-col'] button")
        toolbar.nth(1).click()
        box = canvas.bounding_box()
        x0, y0 = box["x"] + box["width"] * 0.05, box["y"] + box["height"] * 0.05
        x1, y1 = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.95
        page.mouse.move(x0, y0)
        page.mouse.down()
        for x, y in [(x1, y0), (x1, y1), (x0, y1), (x0, y0 + 5)]:
            page.mouse.move(x, y, steps=12)
        page.mouse.up()
        page.wait_for_function(
            """() => [...document.querySelectorAll('.fw-emap-status')]
                     .some(e => e.innerText.includes('selected:'))""",
            timeout=20_000,
        )
        page.wait_for_selector(".fw-grid .fw-thumb img")
        page.screenshot(path=str(artifacts_dir / "embedding-map-light-lasso.png"))
        page.evaluate(
            """() => {
                const nb = window.jupyterapp.shell.currentWidget.content;
                nb.activeCellIndex = 1;
                return window.jupyterapp.commands.execute('notebook:run-cell');
            }"""
        )
        page.wait_for_function(
            """() => document.querySelectorAll('.jp-Cell')[1]
                     .querySelector('.jp-OutputArea').innerText.includes('SELECTED')"""
        )
        text = cell_output_text(page, 1)
        count, total = int(text.split()[1]), int(text.split()[3])
        assert 0 < count < 3000 and total == count  # the lasso's points are in the grid

        set_theme(page, "JupyterLab Dark")
        # the theme probe reports the new background (it checks every second)
        page.wait_for_function(
            """() => {
                const c = document.querySelector('.fw-embedding-map canvas');
                return c && getComputedStyle(document.body).getPropertyValue('--jp-layout-color0');
            }"""
        )
        page.wait_for_timeout(2500)
        pixels = canvas_pixels(page)
        assert pixels[2, 2].mean() < 60, "dark theme: dark background"
        assert page.locator(".fw-embedding-map svg .tick").count() == 0, "axes are off"
        page.screenshot(path=str(artifacts_dir / "embedding-map-dark.png"))
