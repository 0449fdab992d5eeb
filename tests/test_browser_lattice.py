"""Real browser: the LatticeView draws the tag lattice, its sliders re-filter the highlighted
failure modes, and a node click fills the ImageGrid (errors first)."""

from __future__ import annotations

import pytest

from failwidgets.labdriver import cell_output_text, lab_page, run_all, set_theme, write_notebook

pytestmark = pytest.mark.browser

XSS = "<img src=x onerror=alert(1)>"

# Class "square": tags A, B and an evil-named third tag in a full factorial; the triple is
# 10 % correct, everything else 95 %, so the triple is the one failure mode at a = 0.3.
CELLS = [
    f"""
import itertools
import numpy as np
import pandas as pd
from failwidgets import EvalSet
from failwidgets.widgets.lattice import LatticeView
XSS = {XSS!r}
rng = np.random.default_rng(0)
rows, oks = [], []
for pattern in itertools.product([0, 1], repeat=3):
    count = int(round(1600 * np.prod([0.3 if p else 0.7 for p in pattern])))
    rows.append(np.tile(pattern, (count, 1)).astype(bool))
    oks.append(np.arange(count) % 10 == 0 if all(pattern) else np.arange(count) % 20 != 0)
tags = np.concatenate(rows)
correct = np.concatenate(oks)
n = len(tags)
meta = pd.DataFrame({{"colour=red": tags[:, 0], "texture=stripes": tags[:, 1], XSS: tags[:, 2],
                      "occluder": rng.random(n) < 0.4}})
labels = np.zeros(n, int)
labels[rng.random(n) < 0.2] = 1
predictions = np.where(correct, labels, 1 - labels)
images = rng.integers(0, 256, size=(n, 24, 24, 3), dtype=np.uint8)
es = EvalSet.from_arrays(images, labels, predictions, ["square", "circle"], metadata=meta)
view = LatticeView(es, meta, min_support=10, a=0.3, class_name="square")  # boolean columns as tags
view
""",
    "print('SELECTED', view.selected_tags, len(view.selected_members), view.grid.total, "
    "view.b3, view.canvas.query)",
    "# filled in by the test once the view was used: hide its own controls",
]


def run_cell(page, index: int, source: str | None = None) -> None:
    """Run cell ``index`` (after replacing its source), as a user would."""
    page.evaluate(
        """([index, source]) => {
            const nb = window.jupyterapp.shell.currentWidget.content;
            if (source !== null) nb.widgets[index].model.sharedModel.setSource(source);
            nb.activeCellIndex = index;
            return window.jupyterapp.commands.execute('notebook:run-cell');
        }""",
        [index, source],
    )


def set_slider(page, name: str, value: str) -> None:
    """Type a value into an ipywidgets slider's editable readout (as a user would)."""
    readout = page.locator(f".fw-prime-{name} .widget-readout")
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(value)
    page.keyboard.press("Enter")


def shoot(page, path) -> None:
    """Screenshot of the whole view (controls, lattice, grid), scrolled into the viewport."""
    view = page.locator(".fw-lattice-view")
    view.evaluate("el => el.scrollIntoView({block: 'start'})")
    view.screenshot(path=str(path))


def test_lattice_renders_sliders_refilter_and_click_fills_the_grid(lab_server, artifacts_dir):
    write_notebook(lab_server.root / "lattice.ipynb", CELLS)
    dialogs = []
    with lab_page(lab_server, "lattice.ipynb", height=1500) as page:
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        run_all(page)
        lattice = page.locator(".fw-lattice")
        page.wait_for_selector(".fw-lattice[data-state='ready'] .fw-node.mode")
        # the whole triple's closure plus context sets, one failure mode, its 3 necessity edges
        assert int(lattice.get_attribute("data-nodes")) >= 8
        assert lattice.get_attribute("data-modes") == "1"
        assert page.locator(".fw-lattice .fw-edge.necessity").count() == 3
        assert page.locator(".fw-lattice .fw-node[data-size='0']").count() == 1
        # the evil tag is text, not markup
        assert page.locator(".fw-lattice img").count() == 0
        titles = page.eval_on_selector_all(
            ".fw-lattice .fw-node.mode > title", "els => els.map(e => e.textContent)"
        )
        assert any(XSS in t for t in titles)
        # the own grid starts with the class's images, errors first
        page.wait_for_selector(".fw-grid .fw-thumb img")
        shoot(page, artifacts_dir / "lattice-light.png")

        # slider: a strict b3 leaves no failure mode; back to 0.05 restores it
        set_slider(page, "b3", "0.9")
        page.wait_for_selector(".fw-lattice[data-modes='0']")
        assert page.locator(".fw-lattice .fw-edge.necessity").count() == 0
        set_slider(page, "b3", "0.05")
        page.wait_for_selector(".fw-lattice[data-modes='1']")
        set_slider(page, "a", "0.05")  # weaker drops: the pairs become modes too
        page.wait_for_function(
            "() => Number(document.querySelector('.fw-lattice').dataset.modes) > 1"
        )
        set_slider(page, "a", "0.3")
        page.wait_for_selector(".fw-lattice[data-modes='1']")

        # click the failure mode: its images fill the grid, errors first
        mode = page.locator(".fw-lattice .fw-node.mode")
        mode.click()
        page.wait_for_selector(".fw-lattice .fw-node.mode.selected")
        page.wait_for_function(
            "() => (document.querySelector('.fw-grid .fw-title') || {}).textContent"
            "?.includes('colour=red + texture=stripes')"
        )
        page.wait_for_selector(".fw-grid .fw-thumb img")
        total = int(page.locator(".fw-grid").get_attribute("data-total"))
        assert 30 <= total <= 50  # the triple: about 43 images
        first = page.locator(".fw-grid .fw-thumb").first
        assert "incorrect" in first.get_attribute("class")

        # tag search highlights the matching sets
        page.fill(".fw-lattice-search", "STRIPES")
        page.wait_for_function(
            "() => Number(document.querySelector('.fw-lattice').dataset.matches) >= 4"
        )
        assert page.locator(".fw-lattice .fw-node.dim").count() > 0
        page.fill(".fw-lattice-search", "")
        page.hover(".fw-lattice .fw-node.mode .fw-node-dot")
        status = page.locator(".fw-lattice-status").inner_text()
        assert "|I_S| =" in status and "failure mode" in status
        shoot(page, artifacts_dir / "lattice-light-selected.png")
        set_theme(page, "JupyterLab Dark")
        page.hover(".fw-lattice .fw-node.mode .fw-node-dot")
        shoot(page, artifacts_dir / "lattice-dark.png")

        # the selection and the slider value reached Python
        run_cell(page, 1)
        page.wait_for_function(
            """() => document.querySelectorAll('.jp-Cell')[1]
                     .querySelector('.jp-OutputArea').innerText.includes('SELECTED')"""
        )
        text = cell_output_text(page, 1)
        assert "SELECTED ('colour=red', 'texture=stripes'" in text
        assert f"{total} {total} 0.05" in text

        # without its own class selector and thresholds: l, the status line and the drawing
        run_cell(page, 2, "view.show_controls = False  # as inside the Explorer")
        page.wait_for_selector(".fw-prime-b3", state="hidden")
        for name in ("class", "a", "s", "b2", "b4"):
            assert not page.locator(f".fw-prime-{name}").is_visible()
        assert page.locator(".fw-prime-max_size").is_visible()
        assert page.locator(".fw-lattice-summary").is_visible()
        assert page.locator(".fw-lattice .fw-node.mode").count() == 1
        shoot(page, artifacts_dir / "lattice-dark-no-controls.png")
    assert dialogs == [], "no script from data ran"
