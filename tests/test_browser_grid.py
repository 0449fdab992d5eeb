"""Real browser: an ImageGrid in JupyterLab renders thumbnails and its selection reaches Python."""

from __future__ import annotations

import pytest

from failwidgets.labdriver import cell_output_text, lab_page, run_all, set_theme, write_notebook

pytestmark = pytest.mark.browser

XSS = "<img src=x onerror=alert(1)>"

CELLS = [
    f"""
import numpy as np
from failwidgets import EvalSet, ImageGrid
rng = np.random.default_rng(0)
images = rng.integers(0, 256, size=(500, 32, 32, 3), dtype=np.uint8)
labels = np.arange(500) % 3
preds = np.where(rng.random(500) < 0.3, (labels + 1) % 3, labels)
es = EvalSet.from_arrays(images, labels, preds, [{XSS!r}, "dog", "fox"])
grid = ImageGrid(es, np.arange(500), scores=rng.normal(size=500), page_size=50)
grid
""",
    "print('SELECTED', sorted(grid.selected.tolist()))",
]


def test_grid_renders_pages_and_selection_reaches_python(lab_server, artifacts_dir):
    write_notebook(lab_server.root / "grid.ipynb", CELLS)
    dialogs = []
    with lab_page(lab_server, "grid.ipynb") as page:
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        run_all(page)
        thumbs = page.locator(".fw-grid .fw-thumb")
        page.wait_for_selector(".fw-grid .fw-thumb img")
        assert thumbs.count() == 50
        # every thumbnail image arrived as bytes (blob URL) and decoded
        page.wait_for_function(
            """() => [...document.querySelectorAll('.fw-grid .fw-thumb img')]
                     .every(i => i.complete && i.naturalWidth > 0 && i.src.startsWith('blob:'))"""
        )
        # escaped class name: shown literally, no injected element
        assert page.locator(".fw-grid img[src='x']").count() == 0
        assert XSS in page.locator(".fw-grid").inner_text()
        assert page.locator(".fw-grid .fw-thumb.incorrect").count() > 0
        # click one, shift-click another: a range of 4
        first = thumbs.nth(2)
        index_a = int(first.get_attribute("data-index"))
        first.click()
        thumbs.nth(5).click(modifiers=["Shift"])
        page.wait_for_selector(".fw-grid .fw-thumb.selected >> nth=3")
        page.screenshot(path=str(artifacts_dir / "grid-light.png"))
        # next page fetches new thumbnails
        page.click(".fw-grid .fw-next")
        page.wait_for_function(
            "() => document.querySelector('.fw-grid .fw-thumb').dataset.index === '50'"
        )
        set_theme(page, "JupyterLab Dark")
        page.screenshot(path=str(artifacts_dir / "grid-dark.png"))
        # the selection reached Python
        page.evaluate(
            """() => {
                const nb = window.jupyterapp.shell.currentWidget.content;
                nb.activeCellIndex = 1;
                return window.jupyterapp.commands.execute('notebook:run-cell');
            }"""
        )
        expected = f"SELECTED [{index_a}, {index_a + 1}, {index_a + 2}, {index_a + 3}]"
        page.wait_for_function(
            """(expected) => document.querySelectorAll('.jp-Cell')[1]
                     .querySelector('.jp-OutputArea').innerText.includes(expected)""",
            arg=expected,
        )
        assert expected in cell_output_text(page, 1)
    assert dialogs == [], "no script from data ran"
