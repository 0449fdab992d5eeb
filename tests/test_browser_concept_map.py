"""Real browser: a ConceptMapView in JupyterLab draws the concept map and the ranked bars;
selecting images in the grid changes the scores; a concept click fills the grid; light and
dark screenshots."""

from __future__ import annotations

import pytest

from failwidgets.labdriver import cell_output_text, lab_page, run_all, set_theme, write_notebook

pytestmark = pytest.mark.browser

XSS = "<img src=x onerror=alert(1)>"

# Images tinted by one colour channel (tags red/green/blue), a model whose class c logit reads
# channel c: adding "green" helps class_1, adding "red" helps class_0 (see
# tests/test_concept_map_view.py).
CELLS = [
    f"""
import numpy as np, pandas as pd, torch
from torch import nn
from failwidgets import EvalSet
from failwidgets.features.split import SplitModel
from failwidgets.methods.ces import ConceptExplainer, ConceptSet, learn_concept_bank
from failwidgets.widgets.concept_map import ConceptMapView
from failwidgets.widgets.grid import ImageGrid
torch.set_num_threads(1)

N, S = 240, 32
rng = np.random.default_rng(0)
labels = np.arange(N) % 3
tint = labels.copy()
odd = rng.random(N) < 0.25
tint[odd] = (labels[odd] + rng.integers(1, 3, size=odd.sum())) % 3
images = rng.integers(40, 90, size=(N, S, S, 3)).astype(np.uint8)
for ch in range(3):
    images[tint == ch, :, :, ch] = rng.integers(170, 255, size=((tint == ch).sum(), S, S))
images[:, 12:20, 12:20] = 255 * (labels[:, None, None, None] == np.arange(3))  # a class mark
meta = pd.DataFrame({{"red": tint == 0, "green": tint == 1, "blue": tint == 2,
                     {XSS!r}: rng.random(N) < 0.5,
                     "bright": images.mean(axis=(1, 2, 3)) > np.median(images.mean(axis=(1, 2, 3)))}})
split = np.where(np.arange(N) < N // 2, "train", "test")
es = EvalSet.from_arrays(images, labels, tint, ["class_0", "class_1", "class_2"],
                         metadata=meta, split=split)

class Top(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 3)
        with torch.no_grad():
            self.linear.weight.copy_(6.0 * torch.eye(3)); self.linear.bias.zero_()
    def forward(self, h):
        return self.linear(h.mean(dim=(2, 3)))

model = SplitModel.from_callables(lambda x: nn.functional.adaptive_avg_pool2d(x, 2), Top(),
                                  layer="pool")
concepts = ConceptSet.from_evalset(es, ["red", "green", "blue", "bright", {XSS!r}],
                                   indices=es.split_indices("train"), max_examples=40)
bank = learn_concept_bank(model, concepts, min_accuracy=0.0)
grid = ImageGrid(es, es.split_indices("test"), page_size=24, thumb_size=48,
                 title="test images: select some to explain them")
view = ConceptMapView(es, ConceptExplainer(model, bank, delta=0.3), grid=grid,
                      class_name="class_1", n_labels=3)
display(view, grid)
""",
    "print('STATE', view.selected_concept, len(view.explained), view.scores.top_positive(1)[0][0])",
]


def top_bar(page) -> str:
    return page.locator(
        '.fw-cmap section[data-side="positive"] .fw-cmap-bar .fw-cmap-bar-name'
    ).first.inner_text()


def wait_generation_after(page, generation: str) -> str:
    page.wait_for_function(
        """(g) => { const r = document.querySelector('.fw-cmap');
                    return r && r.dataset.generation !== g && r.dataset.busy === 'false'; }""",
        arg=generation,
    )
    return page.locator(".fw-cmap").get_attribute("data-generation")


def test_concept_map_renders_and_follows_the_grid_selection(lab_server, artifacts_dir):
    write_notebook(lab_server.root / "concept_map.ipynb", CELLS)
    dialogs = []
    with lab_page(lab_server, "concept_map.ipynb", height=1800) as page:
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        run_all(page)
        page.wait_for_selector(".fw-cmap[data-state='ready'] circle.fw-cmap-point")
        assert page.locator(".fw-cmap circle.fw-cmap-point").count() == 5
        assert page.locator(".fw-cmap text.fw-cmap-label").count() >= 2
        explained = page.locator(".fw-cmap-explained").inner_text()
        assert "mistakes of class_1" in explained
        assert top_bar(page) == "green"
        scores_before = page.locator(".fw-cmap .fw-cmap-bar-score").all_inner_texts()
        generation = page.locator(".fw-cmap").get_attribute("data-generation")

        # hover a point: name, score and CAV validation accuracy (escaped)
        page.locator(".fw-cmap circle.fw-cmap-point[data-sign='positive']").last.hover()
        page.wait_for_selector(".fw-cmap-tooltip:not([hidden])")
        tip = page.locator(".fw-cmap-tooltip").inner_text()
        assert "score" in tip and "CAV validation accuracy" in tip
        page.wait_for_selector(".fw-grid .fw-thumb img")
        page.locator(".fw-cmap").scroll_into_view_if_needed()
        view_area = page.locator(".jp-Cell").first.locator(".jp-OutputArea")
        view_area.screenshot(path=str(artifacts_dir / "concept-map-light.png"))

        # select class_0 images in the grid (test image 120 is the first, a class_0): the
        # explained set and the scores follow
        thumbs = page.locator(".fw-grid .fw-thumb")
        assert thumbs.first.get_attribute("data-index") == "120"
        thumbs.nth(0).click()
        thumbs.nth(3).click(modifiers=["Control"])  # 123, also class_0
        page.wait_for_function(
            "() => document.querySelector('.fw-cmap-explained').textContent"
            ".includes('2 images selected in the grid')"
        )
        generation = wait_generation_after(page, generation)
        assert top_bar(page) == "red"
        assert page.locator(".fw-cmap .fw-cmap-bar-score").all_inner_texts() != scores_before

        # click the top concept's point: its positive examples fill the grid
        red = page.locator(".fw-cmap .fw-cmap-bar").first.get_attribute("data-index")
        page.locator(f".fw-cmap circle.fw-cmap-point[data-index='{red}']").click()
        page.wait_for_function(
            "() => document.querySelector('.fw-grid .fw-title').textContent.includes('red')"
        )
        page.wait_for_selector(f".fw-cmap circle.fw-cmap-point.selected[data-index='{red}']")
        assert "2 images selected in the grid" in page.locator(".fw-cmap-explained").inner_text()

        set_theme(page, "JupyterLab Dark")
        page.locator(".fw-cmap circle.fw-cmap-point[data-sign='negative']").first.hover()
        page.wait_for_selector(".fw-cmap-tooltip:not([hidden])")
        view_area.screenshot(path=str(artifacts_dir / "concept-map-dark.png"))

        # escaped everywhere, and the state reached Python
        assert page.locator(".fw-cmap img").count() == 0
        assert page.locator("img[src='x']").count() == 0
        page.evaluate(
            """() => {
                const nb = window.jupyterapp.shell.currentWidget.content;
                nb.activeCellIndex = 1;
                return window.jupyterapp.commands.execute('notebook:run-cell');
            }"""
        )
        page.wait_for_function(
            """() => document.querySelectorAll('.jp-Cell')[1]
                     .querySelector('.jp-OutputArea')?.innerText.includes('STATE')"""
        )
        assert "STATE red 2 red" in cell_output_text(page, 1)

        # too small a step to change any prediction: both sides say why, where the bars were
        page.evaluate(
            """() => {
                const nb = window.jupyterapp.shell.currentWidget.content;
                nb.widgets[1].model.sharedModel.setSource('view.delta = 1e-12');
                nb.activeCellIndex = 1;
                return window.jupyterapp.commands.execute('notebook:run-cell');
            }"""
        )
        page.wait_for_function(
            "() => document.querySelectorAll('.fw-cmap .fw-cmap-empty').length === 2"
        )
        reasons = page.locator(".fw-cmap .fw-cmap-empty").all_inner_texts()
        assert all("delta" in reason for reason in reasons), reasons
        view_area.screenshot(path=str(artifacts_dir / "concept-map-empty-dark.png"))

        # inside the Explorer the class selector and the slider are shown once, in its panel
        assert page.locator(".fw-ces-class").is_visible()
        page.evaluate(
            """() => {
                const nb = window.jupyterapp.shell.currentWidget.content;
                nb.widgets[1].model.sharedModel.setSource(
                    'view.show_controls = False; view.delta = 0.3');
                nb.activeCellIndex = 1;
                return window.jupyterapp.commands.execute('notebook:run-cell');
            }"""
        )
        page.wait_for_selector(".fw-ces-class", state="hidden")
        page.wait_for_selector(".fw-ces-delta", state="hidden")
        page.wait_for_function(
            "() => document.querySelectorAll('.fw-cmap .fw-cmap-empty').length === 0"
        )
        assert page.locator(".fw-cmap-target").is_visible()
        view_area.screenshot(path=str(artifacts_dir / "concept-map-no-controls-dark.png"))
    assert dialogs == [], "no script from data ran"
