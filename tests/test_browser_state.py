"""Real browser: ipywidgets.jslink ties a user's slider to an Explorer threshold, and the
change reaches Python as the Explorer's typed trait (``barlow_delta``)."""

from __future__ import annotations

import re

import pytest

from failwidgets.labdriver import cell_output_text, lab_page, run_all, write_notebook

pytestmark = pytest.mark.browser

CELLS = [
    """
import numpy as np, ipywidgets as widgets
from failwidgets import EvalSet, Explorer
rng = np.random.default_rng(0)
n = 300
labels = np.arange(n) % 3
odd = rng.random(n) < 0.25
predictions = np.where(odd, (labels + 1) % 3, labels)
images = rng.integers(0, 255, size=(n, 16, 16, 3)).astype(np.uint8)
features = rng.normal(size=(n, 5)).astype(np.float32)
features[:, 2] += 4.0 * odd
es = EvalSet.from_arrays(images, labels, predictions, ["a", "b", "c"])
explorer = Explorer.from_evalset(es, features=features, methods=["barlow"], progress=False,
                                 background=False, cache_dir=None,
                                 options={"barlow": {"depth": 1, "k": 3}})
mine = widgets.FloatSlider(value=explorer.barlow_delta, min=0, max=1, step=0.05,
                           description="mine")
mine.add_class("fw-test-mine")
link = widgets.jslink((mine, "value"), (explorer.controls[("barlow", "delta")], "value"))
display(mine)
explorer
""",
    "print('DELTA', explorer.barlow_delta, explorer.views['barlow'].delta)",
]


def test_jslink_moves_an_explorer_threshold_from_the_browser(lab_server, artifacts_dir):
    write_notebook(lab_server.root / "state.ipynb", CELLS)
    with lab_page(lab_server, "state.ipynb") as page:
        run_all(page)
        before = cell_output_text(page, 1)
        handle = page.locator(".fw-test-mine .noUi-handle, .fw-test-mine .slider-handle").first
        handle.focus()
        for _ in range(4):  # four steps of 0.05 to the right, in the browser only
            page.keyboard.press("ArrowRight")
        page.wait_for_timeout(800)
        page.locator(".jp-Notebook .jp-Cell").nth(1).click()
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-cell')")
        page.wait_for_function(
            "() => document.querySelectorAll('.jp-Notebook .jp-Cell')[1]"
            ".querySelector('.jp-OutputArea').innerText.includes('DELTA')"
        )
        page.wait_for_timeout(500)
        after = cell_output_text(page, 1)
        page.screenshot(path=str(artifacts_dir / "state-jslink.png"))
    old = [float(v) for v in re.findall(r"DELTA ([\d.]+) ([\d.]+)", before)[0]]
    new = [float(v) for v in re.findall(r"DELTA ([\d.]+) ([\d.]+)", after)[0]]
    assert old[0] == pytest.approx(old[1])
    assert new[0] == pytest.approx(new[1])  # the trait follows the view
    assert new[0] == pytest.approx(old[0] + 0.2, abs=0.011)  # moved by the linked slider
