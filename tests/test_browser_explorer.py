"""Real browser: the Explorer in JupyterLab links its views.

Two notebooks:

- a small synthetic world (always runs): the Explorer renders its tabs; Barlow's delta in the
  threshold panel dims the tree's failure leaf; PRIME's a empties and refills the lattice; a
  lattice node click fills the shared grid; "Explain with CES" changes the concept map; the
  failure-mode table sorts and a row click fills the grid; light and dark screenshots;
- the quickstart notebook itself (needs the demo weights): run all, click a lattice node and see
  the grid change, send the selection to CES and see the map change, move Barlow's delta and
  see the tree change. Screenshots in light and dark themes.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest

from failwidgets.labdriver import cell_output_text, lab_page, run_all, set_theme, write_notebook

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "notebooks" / "00_quickstart.ipynb"
XSS = "<img src=x onerror=alert(1)>"

# Three classes tinted by one colour channel; a quarter wear another class's colour and are the
# classifier's mistakes (see tests/test_explorer.py). Class 1 has an evil name.
SYNTHETIC = [
    f"""
import numpy as np, pandas as pd, torch
from torch import nn
from failwidgets import EvalSet, Explorer
from failwidgets.features.split import SplitModel
from failwidgets.methods.ces import ConceptExplainer, ConceptSet, learn_concept_bank
from failwidgets.methods.directions import FailureDirectionsResult
from failwidgets.widgets.concept_map import ConceptMapView
from failwidgets.widgets.directions import DirectionsView
from failwidgets.widgets.lattice import LatticeView
from failwidgets.widgets.tree import TreeView

torch.set_num_threads(1)
NAMES, COLOURS = ["class_0", {XSS!r}, "class_2"], ["red", "green", "blue"]
rng = np.random.default_rng(0)
n = 720
labels = np.arange(n) % 3
split = np.repeat(["train", "val", "test"], n // 3)
tint = labels.copy()
odd = rng.random(n) < 0.25
tint[odd] = (labels[odd] + rng.integers(1, 3, size=odd.sum())) % 3
images = rng.integers(40, 90, size=(n, 24, 24, 3)).astype(np.uint8)
for c in range(3):
    images[tint == c, :, :, c] = rng.integers(170, 255, size=((tint == c).sum(), 24, 24))
meta = pd.DataFrame({{colour: tint == c for c, colour in enumerate(COLOURS)}})
es = EvalSet.from_arrays(images, labels, tint, NAMES, metadata=meta, split=split)

class Top(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 3)
        with torch.no_grad():
            self.linear.weight.copy_(6.0 * torch.eye(3)); self.linear.bias.zero_()
    def forward(self, h):
        return self.linear(h.mean(dim=(2, 3)))

cut = SplitModel.from_callables(lambda x: nn.functional.adaptive_avg_pool2d(x, 2), Top(),
                                layer="pool", input_size=(3, 24, 24))
bank = learn_concept_bank(cut, ConceptSet.from_evalset(es, COLOURS, indices=es.split_indices("train"),
                                                       max_examples=40), min_accuracy=0.0)
u = np.linalg.qr(rng.normal(size=(12, 12)))[0][:, :3].T
X = rng.normal(scale=0.5, size=(3, 12))[labels] + rng.normal(size=(n, 12)) + 3.0 * odd[:, None] * u[labels]
directions = FailureDirectionsResult.from_arrays(X, labels, es.correct, split, NAMES, n_jobs=1)
F = rng.normal(size=(n, 6)).astype(np.float32)
F[:, 2] += 4.0 * odd  # the odd images stand out on feature 2
explorer = Explorer(es, {{
    "barlow": lambda grid: TreeView(es, F, grid=grid, depth=1, k=3),
    "prime": lambda grid: LatticeView(es, indices=es.split_indices("test"), grid=grid, a=0.3, min_support=5),
    "ces": lambda grid: ConceptMapView(es, ConceptExplainer(cut, bank, delta=0.3), grid=grid),
    "directions": lambda grid: DirectionsView(es, directions, grid=grid, k=20),
    "defuse": None,
}}, class_name="class_0", heldout_split="val")
explorer
""",
]


def grid_state(page) -> dict:
    return page.evaluate(
        """() => { const g = document.querySelector('.fw-explorer-grid .fw-grid');
                   return {total: g.dataset.total, title: g.querySelector('.fw-title').textContent}; }"""
    )


def open_tab(page, title: str) -> None:
    page.locator(".fw-explorer-tabs .lm-TabBar-tab", has_text=title).first.click()


def set_readout(page, hook: str, value: str) -> None:
    """Type a value into an ipywidgets slider's editable readout (as a user would)."""
    readout = page.locator(f".{hook} .widget-readout")
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(value)
    page.keyboard.press("Enter")


def tree_changes_with_delta(page) -> None:
    """Raise Barlow's delta in the Explorer's panel: the tree's passing leaves go dim; lower
    it: they come back. The tree's own delta slider follows."""
    open_tab(page, "Tree · Barlow")
    tree = ".fw-explorer .fw-tree[data-state='ready']"
    page.wait_for_selector(tree)
    passing = int(page.locator(tree).get_attribute("data-passing"))
    dimmed = int(page.locator(tree).get_attribute("data-dimmed"))
    assert passing >= 1
    set_readout(page, "fw-explorer-barlow-delta", "0.99")
    page.wait_for_selector(".fw-explorer .fw-tree[data-passing='0']")
    assert int(page.locator(".fw-explorer .fw-tree").get_attribute("data-dimmed")) == (
        dimmed + passing
    )
    own = page.locator(".fw-explorer .fw-tree-control-delta .widget-readout")
    assert own.inner_text().startswith("0.99")
    set_readout(page, "fw-explorer-barlow-delta", "0.1")
    page.wait_for_selector(f".fw-explorer .fw-tree[data-passing='{passing}']")


def click_mode_node(page) -> dict:
    """Click the first failure-mode node of the lattice; wait until the grid shows it."""
    open_tab(page, "Lattice · PRIME")
    page.wait_for_selector(".fw-explorer .fw-lattice[data-state='ready'] .fw-node.mode")
    before = grid_state(page)
    node = page.locator(".fw-explorer .fw-lattice .fw-node.mode").first
    row = node.get_attribute("data-row")
    node.click()
    page.wait_for_selector(f".fw-explorer .fw-lattice .fw-node.selected[data-row='{row}']")
    page.wait_for_function(
        "(old) => { const g = document.querySelector('.fw-explorer-grid .fw-grid');"
        " return g.querySelector('.fw-title').textContent !== old && g.dataset.state === 'ready'; }",
        arg=before["title"],
    )
    after = grid_state(page)
    assert after["title"] != before["title"]
    return after


def explain_with_ces(page) -> None:
    """Press "Explain with CES": the map's explained set and its scores change."""
    generation = page.locator(".fw-explorer .fw-cmap").get_attribute("data-generation")
    page.locator(".fw-explorer-explain").click()
    page.wait_for_function(
        "(g) => { const m = document.querySelector('.fw-explorer .fw-cmap');"
        " return m && m.dataset.generation !== g && m.dataset.busy === 'false'; }",
        arg=generation,
    )
    current = page.locator(".fw-explorer-tabs .lm-TabBar-tab.lm-mod-current").inner_text()
    assert current.startswith("Concepts")


def shoot(page, path) -> None:
    explorer = page.locator(".fw-explorer")
    explorer.evaluate("el => el.scrollIntoView({block: 'start'})")
    explorer.screenshot(path=str(path))


def test_explorer_links_its_views_in_jupyterlab(lab_server, artifacts_dir):
    write_notebook(lab_server.root / "explorer.ipynb", SYNTHETIC)
    dialogs = []
    with lab_page(lab_server, "explorer.ipynb", height=2200) as page:
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        run_all(page)
        page.wait_for_selector(".fw-explorer .fw-mode-table[data-state]", state="attached")
        tabs = page.locator(".fw-explorer-tabs .lm-TabBar-tab").all_inner_texts()
        assert tabs == [
            "Tree · Barlow",
            "Lattice · PRIME",
            "Concepts · CES",
            "Directions",
            "All failure modes",
        ]
        assert "defuse (not given)" in page.locator(".fw-explorer-status").inner_text()

        # Barlow's delta in the threshold panel: the tree's failure leaf is dimmed, then back
        tree_changes_with_delta(page)
        shoot(page, artifacts_dir / "explorer-synthetic-tree-light.png")

        # PRIME's a in the threshold panel: 0.95 leaves no failure mode, 0.3 brings them back
        open_tab(page, "Lattice · PRIME")
        page.wait_for_selector(".fw-explorer .fw-lattice[data-state='ready'] .fw-node.mode")
        set_readout(page, "fw-explorer-prime-a", "0.95")
        page.wait_for_selector(".fw-explorer .fw-lattice[data-modes='0']")
        set_readout(page, "fw-explorer-prime-a", "0.3")
        page.wait_for_selector(".fw-explorer .fw-lattice .fw-node.mode")

        shown = click_mode_node(page)
        assert "class_0:" in shown["title"]
        assert "Selected:" in page.locator(".fw-explorer-selection").inner_text()
        shoot(page, artifacts_dir / "explorer-synthetic-lattice-light.png")

        explain_with_ces(page)
        assert "prime · class_0" in page.locator(".fw-explorer .fw-cmap-explained").inner_text()
        shoot(page, artifacts_dir / "explorer-synthetic-ces-light.png")

        # the table: every method's modes of the class; sort by size; a row click fills the grid
        open_tab(page, "All failure modes")
        page.wait_for_selector(".fw-explorer .fw-mode-table[data-busy='false'] tr.fw-mt-row")
        methods = set(page.eval_on_selector_all(
            ".fw-explorer tr.fw-mt-row", "rows => rows.map(r => r.dataset.method)"
        ))  # fmt: skip
        assert methods == {"barlow", "prime", "ces", "directions"}
        page.locator(".fw-explorer th[data-key='size'] button").click()
        page.wait_for_selector(".fw-explorer th[data-key='size'][aria-sort='descending']")
        sizes = page.eval_on_selector_all(
            ".fw-explorer tr.fw-mt-row td:nth-child(4)",
            "cells => cells.map(c => Number(c.textContent))",
        )
        assert sizes == sorted(sizes, reverse=True)
        row = page.locator(".fw-explorer tr.fw-mt-row[data-method='directions']").first
        row.click()
        page.wait_for_selector(".fw-explorer tr.fw-mt-row.selected[data-method='directions']")
        page.wait_for_function(
            "() => document.querySelector('.fw-explorer-grid .fw-title').textContent"
            ".startsWith('directions')"
        )
        assert page.locator(".fw-explorer .fw-mt-matrix td.fw-mt-cell").count() > 0
        shoot(page, artifacts_dir / "explorer-synthetic-table-light.png")

        # the evil class name: selected everywhere, as text
        page.locator(".fw-explorer-class select").select_option(label=XSS)
        page.wait_for_function(
            "(n) => document.querySelector('.fw-explorer .fw-lattice')?.dataset.class === n",
            arg=XSS,
        )
        set_theme(page, "JupyterLab Dark")
        shoot(page, artifacts_dir / "explorer-synthetic-table-dark.png")
        open_tab(page, "Tree · Barlow")
        page.wait_for_selector(".fw-explorer .fw-tree[data-state='ready']")
        shoot(page, artifacts_dir / "explorer-synthetic-tree-dark.png")
        assert page.locator("img[src='x']").count() == 0
    assert dialogs == [], "no script from data ran"


def _missing_demo_weights() -> list[str]:
    from failwidgets.demo._common import WEIGHTS_DIR

    needed = ("classifier.pt", "classifier.json", "robust.pt", "clip.pt")
    return [name for name in needed if not (WEIGHTS_DIR / name).is_file()]


def test_quickstart_runs_and_links_the_views(lab_server, artifacts_dir):
    missing = _missing_demo_weights()
    if missing:
        pytest.skip(f"demo weights missing in failwidgets/demo/weights: {missing}")
    nb = nbformat.read(QUICKSTART, as_version=4)
    # run-all stops at a failing cell: the marker prints only when every cell ran
    nb.cells.append(nbformat.v4.new_code_cell("print('QUICKSTART', 'RAN', 'TO', 'THE', 'END')"))
    nbformat.write(nb, lab_server.root / "00_quickstart.ipynb")
    dialogs = []
    with lab_page(lab_server, "00_quickstart.ipynb", height=2600) as page:
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        start = time.perf_counter()
        run_all(page, timeout_ms=480_000)
        seconds = time.perf_counter() - start
        last = page.locator(".jp-Notebook .jp-Cell").count() - 1
        assert "QUICKSTART RAN TO THE END" in cell_output_text(page, last)
        print(f"quickstart: run all took {seconds:.1f} s in JupyterLab")
        page.wait_for_selector(".fw-explorer .fw-mode-table[data-state='ready']", state="attached")
        shoot(page, artifacts_dir / "explorer-quickstart-light.png")

        shown = click_mode_node(page)
        assert int(shown["total"]) > 0
        shoot(page, artifacts_dir / "explorer-quickstart-lattice-light.png")
        explain_with_ces(page)
        shoot(page, artifacts_dir / "explorer-quickstart-ces-light.png")
        set_theme(page, "JupyterLab Dark")
        shoot(page, artifacts_dir / "explorer-quickstart-ces-dark.png")

        if page.locator(".fw-explorer-barlow-delta").count() == 0:
            pytest.skip(
                "the Barlow tab is missing (TreeView or the robust weights): the tree step was "
                "not run; lattice and CES steps passed"
            )
        tree_changes_with_delta(page)
        shoot(page, artifacts_dir / "explorer-quickstart-tree-dark.png")
    assert dialogs == []
