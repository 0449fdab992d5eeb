"""Real browser: the TreeView draws the failure tree, a τ slider move dims the leaves, and a
node click fills the ImageGrid (errors first) and the feature panel (PNG buffers)."""

from __future__ import annotations

import pytest

from failwidgets.labdriver import cell_output_text, lab_page, run_all, set_theme, write_notebook

pytestmark = pytest.mark.browser

XSS = "<img src=x onerror=alert(1)>"

# Features are a tiny conv net's pooled channels on smooth random images; class "cat" fails
# (80 %) where channel 5 is in its top fifth, 4 % elsewhere; the XSS-named class never fails.
CELLS = [
    f"""
import numpy as np
import torch
from failwidgets import EvalSet
from failwidgets.widgets.tree import TreeView
XSS = {XSS!r}
torch.manual_seed(0)

class TinyMap(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 16, 5, padding=2)
    def forward_features_map(self, x):
        return torch.relu(self.conv(x))

rng = np.random.default_rng(0)
n = 900
coarse = rng.random((n, 3, 8, 8)).astype(np.float32)
x = torch.nn.functional.interpolate(torch.from_numpy(coarse), size=(48, 48), mode="bilinear")
images = (x.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
model = TinyMap().eval()
with torch.no_grad():
    features = model.forward_features_map(torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255).mean((2, 3)).numpy()
labels = np.arange(n) % 3
cat = labels == 0
hot = cat & (features[:, 5] > np.quantile(features[cat, 5], 0.8))
wrong = np.where(hot, rng.random(n) < 0.8, cat & (rng.random(n) < 0.04))
predictions = np.where(wrong, 1, labels)
es = EvalSet.from_arrays(images, labels, predictions, ["cat", "dog", XSS])
view = TreeView(es, features, model=model, class_name="cat", depth=2, k=16, attack_steps=20)
view
""",
    "print('STATE', view.selected_node, len(view.selected_members), view.grid.total, "
    "len(view.passing_leaves), view.tau, view.class_name == XSS)",
]


def set_slider(page, name: str, value: str) -> None:
    """Type a value into an ipywidgets slider's editable readout (as a user would)."""
    readout = page.locator(f".fw-tree-control-{name} .widget-readout")
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(value)
    page.keyboard.press("Enter")


def shoot(page, path) -> None:
    view = page.locator(".fw-tree-view")
    view.evaluate("el => el.scrollIntoView({block: 'start'})")
    view.screenshot(path=str(path))


def run_second_cell(page) -> str:
    page.evaluate(
        """() => {
            const nb = window.jupyterapp.shell.currentWidget.content;
            nb.activeCellIndex = 1;
            return window.jupyterapp.commands.execute('notebook:run-cell');
        }"""
    )
    page.wait_for_function(
        """() => document.querySelectorAll('.jp-Cell')[1]
                 .querySelector('.jp-OutputArea').innerText.includes('STATE')"""
    )
    return cell_output_text(page, 1)


def test_tree_renders_slider_dims_leaves_and_click_fills_the_grid(lab_server, artifacts_dir):
    write_notebook(lab_server.root / "tree.ipynb", CELLS)
    dialogs = []
    with lab_page(lab_server, "tree.ipynb", height=1600) as page:
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        run_all(page)
        tree = page.locator(".fw-tree")
        page.wait_for_selector(".fw-tree[data-state='ready'] .fw-tree-node.pass")
        n_nodes = int(tree.get_attribute("data-nodes"))
        assert 5 <= n_nodes <= 7  # depth 2
        n_leaves = page.locator(".fw-tree-node[data-leaf='true']").count()
        assert page.locator(".fw-tree-edge").count() == n_nodes - 1
        labels = page.eval_on_selector_all(
            ".fw-tree-edge-label", "els => els.map(e => e.textContent)"
        )
        assert "f5 > " in " ".join(labels) and any("≤" in t for t in labels)
        page.wait_for_selector(".fw-grid .fw-thumb img")  # the own grid shows the class
        shoot(page, artifacts_dir / "tree-light.png")

        # τ = 0.95: no leaf holds 95 % of the errors, every leaf dims; back to 0.2
        set_slider(page, "tau", "0.95")
        page.wait_for_selector(".fw-tree[data-passing='0']")
        assert page.locator(".fw-tree-node.dim").count() == n_leaves
        assert tree.get_attribute("data-nodes") == str(n_nodes)  # no refit, same tree
        shoot(page, artifacts_dir / "tree-light-dimmed.png")
        set_slider(page, "tau", "0.2")
        page.wait_for_function(
            "() => Number(document.querySelector('.fw-tree').dataset.passing) >= 1"
        )

        # click the passing leaf: its images fill the grid, errors first, and the panel fills
        leaf = page.locator(".fw-tree-node.pass").first
        size = int(leaf.locator(".fw-tree-line-0").text_content().split(" img")[0])
        leaf.locator(".fw-tree-node-dot").click()
        page.wait_for_selector(".fw-tree-node.pass.selected")
        page.wait_for_function(
            "() => (document.querySelector('.fw-grid .fw-title') || {}).textContent"
            "?.includes('node')"
        )
        page.wait_for_function(
            f"() => document.querySelector('.fw-grid').dataset.total === '{size}'"
        )
        page.wait_for_selector(".fw-grid .fw-thumb img")
        first = page.locator(".fw-grid .fw-thumb").first
        assert "incorrect" in first.get_attribute("class")
        page.wait_for_selector(".fw-tree-visual[data-attack='ready']", timeout=60_000)
        page.wait_for_function(
            """() => {
                const imgs = [...document.querySelectorAll('.fw-tree-visual img')];
                return imgs.length === 18 && imgs.every(
                    i => i.complete && i.naturalWidth > 0 && i.src.startsWith('blob:'));
            }"""
        )
        page.hover(".fw-tree-node.pass .fw-tree-node-dot")
        assert "failure leaf" in page.locator(".fw-tree-status").inner_text()
        shoot(page, artifacts_dir / "tree-light-selected.png")
        set_theme(page, "JupyterLab Dark")
        page.hover(".fw-tree-node.pass .fw-tree-node-dot")
        shoot(page, artifacts_dir / "tree-dark.png")

        text = run_second_cell(page)
        assert f"{size} {size}" in text and "0.2 False" in text

        # the class without errors: the explicit "nothing to explain" state, name escaped
        page.select_option(".fw-tree-control-class-name select", label=XSS)
        page.wait_for_selector(".fw-tree[data-state='nothing']")
        message = page.locator(".fw-tree-message").inner_text()
        assert "nothing to explain" in message and XSS in message
        assert page.locator(".fw-tree-view img[src='x']").count() == 0
        shoot(page, artifacts_dir / "tree-dark-nothing.png")
    assert dialogs == [], "no script from data ran"
