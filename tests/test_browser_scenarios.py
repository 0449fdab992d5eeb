"""Real browser: the ScenarioView renders Defuse's scenarios with their decoded samples, labels
set in the browser reach the JSON file at once, tau resamples the strips, and a row click fills
the ImageGrid."""

from __future__ import annotations

import json

import pytest

from failwidgets.labdriver import cell_output_text, lab_page, run_all, set_theme, write_notebook

pytestmark = pytest.mark.browser

XSS = "<img src=x onerror=alert(1)>"
LABELS_FILE = "scenario_labels.json"

# A colour world (the class is the bright channel), a classifier biased towards red, and a
# random-weight beta-VAE whose near-grey decodes the classifier calls red: Defuse finds
# scenarios of green and evil-named images in a few seconds.
CELLS = [
    f"""
import json, warnings
warnings.filterwarnings("ignore")
import numpy as np
import torch
torch.set_num_threads(1)
from failwidgets import EvalSet
from failwidgets.methods.defuse import Defuse
from failwidgets.methods.vae import BetaVAE, VAEConfig
from failwidgets.widgets.scenarios import ScenarioView

class MeanColour(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(3, 3)
        with torch.no_grad():
            self.linear.weight.copy_(torch.eye(3) * 20)
            self.linear.bias.copy_(torch.tensor([12.0, 0.0, 0.0]))
    def forward(self, x):
        return self.linear(x.mean(dim=(2, 3)))

rng = np.random.default_rng(0)
n = 90
labels = np.arange(n) % 3
x = np.zeros((n, 8, 8, 3), np.float32)
x[np.arange(n), :, :, labels] = rng.uniform(0.2, 1.0, n)[:, None, None]
images = (np.clip(x + rng.normal(0, 0.03, x.shape), 0, 1) * 255).round().astype(np.uint8)
classifier = MeanColour().eval()
with torch.no_grad():
    predictions = classifier(torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255).argmax(1).numpy()
es = EvalSet.from_arrays(images, labels, predictions, ["red", "green", {XSS!r}])
torch.manual_seed(0)
vae = BetaVAE(VAEConfig(image_size=8, latent_dim=3, channels=8, hidden=16))
defuse = Defuse(vae, classifier, n_samples=10, max_per_image=3, max_components=10, progress=False)
defuse.fit(images, labels)
view = ScenarioView(es, classifier, vae, defuse=defuse, labels_path={LABELS_FILE!r}, split=None)
view
""",
    "print('STATE', json.dumps({i: view.labels.get(i).to_dict() for i in view.scenarios.ids}), "
    "view.tau, view.selected_scenario, len(view.selected_members), view.grid.total)",
    # run by run_all before anything is labelled (no-op), and again by the test
    "if view.labels.failure_labels():\n"
    "    result = view.correct(train_images=images, train_labels=labels, test_images=images,\n"
    "        test_labels=labels, lambdas=[0.1, 1.0], epochs=1, n_per_scenario=16,\n"
    "        batch_size=16, progress=False)\n"
    "    print('CORRECTED', result.n_scenarios)",
]


def set_tau(page, value: str) -> None:
    """Type a value into the tau slider's editable readout (as a user would)."""
    readout = page.locator(".fw-scenarios-tau .widget-readout")
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(value)
    page.keyboard.press("Enter")


def wait_strips(page, version: int) -> None:
    """Every row shows decoded samples of ``version``, all images decoded."""
    page.wait_for_function(
        """(v) => {
            const root = document.querySelector('.fw-scenarios');
            if (!root || root.dataset.version !== String(v)) return false;
            if (root.dataset.loaded !== root.dataset.rows) return false;
            const imgs = [...root.querySelectorAll('.fw-scn-img')];
            return imgs.length > 0 && imgs.every(
                i => !i.hidden && i.complete && i.naturalWidth > 0 && i.src.startsWith('blob:'));
        }""",
        arg=version,
    )


def run_cell(page, index: int, marker: str) -> str:
    """Run one cell and return its output once ``marker`` shows in it."""
    page.evaluate(
        """(i) => {
            const nb = window.jupyterapp.shell.currentWidget.content;
            nb.activeCellIndex = i;
            return window.jupyterapp.commands.execute('notebook:run-cell');
        }""",
        index,
    )
    page.wait_for_function(
        """([i, m]) => document.querySelectorAll('.jp-Notebook .jp-Cell')[i]
                       .querySelector('.jp-OutputArea').innerText.includes(m)""",
        arg=[index, marker],
    )
    return cell_output_text(page, index)


def shoot(page, path) -> None:
    view = page.locator(".fw-scenario-view")
    view.evaluate("el => el.scrollIntoView({block: 'start'})")
    view.screenshot(path=str(path))


def stored_labels(lab_server) -> dict:
    return json.loads((lab_server.root / LABELS_FILE).read_text())["labels"]


def test_scenarios_render_and_labels_reach_the_json_file(lab_server, artifacts_dir):
    labels_file = lab_server.root / LABELS_FILE
    labels_file.unlink(missing_ok=True)
    write_notebook(lab_server.root / "scenarios.ipynb", CELLS)
    dialogs = []
    with lab_page(lab_server, "scenarios.ipynb", height=1400) as page:
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        run_all(page)
        page.wait_for_selector(".fw-scenarios[data-state='ready']")
        root = page.locator(".fw-scenarios")
        n_rows = int(root.get_attribute("data-rows"))
        assert n_rows >= 2
        assert page.locator(".fw-scn-row").count() == n_rows
        wait_strips(page, 0)
        assert page.locator(".fw-scn-row").first.locator(".fw-scn-img").count() == 8
        text = root.inner_text()
        assert "predicted: red 8/8" in text
        # the evil class name is text, not markup
        assert page.locator(".fw-scenarios img[src='x']").count() == 0
        assert XSS in text
        shoot(page, artifacts_dir / "scenarios-light.png")

        # label scenario 0 in the browser: the file holds it at once
        row = page.locator(".fw-scn-row[data-id='0']")
        row.locator(".fw-scn-fail").click()
        page.wait_for_selector(".fw-scn-row[data-id='0'][data-failure='true']")
        assert stored_labels(lab_server)["0"] == {"is_failure": True, "correct_label": None}
        assert row.get_attribute("data-needs-label") == "true"
        row.locator(".fw-scn-label").select_option(label="green")
        page.wait_for_selector(".fw-scn-row[data-id='0'][data-label='1']")
        assert stored_labels(lab_server)["0"] == {"is_failure": True, "correct_label": 1}
        row1 = page.locator(".fw-scn-row[data-id='1']")
        row1.locator(".fw-scn-ok").click()
        page.wait_for_selector(".fw-scn-row[data-id='1'][data-failure='false']")
        assert stored_labels(lab_server)["1"] == {"is_failure": False, "correct_label": None}
        # the strip's red outlines now compare with the correct label (green)
        assert row.locator(".fw-scn-sample.wrong").count() == 8

        # tau resamples every strip
        set_tau(page, "0.3")
        wait_strips(page, 1)
        assert "τ = 0.30" in page.locator(".fw-scn-summary").inner_text()

        # a row click shows the scenario's source images in the grid
        row1.locator(".fw-scn-info").click()
        page.wait_for_selector(".fw-scn-row[data-id='1'].selected")
        page.wait_for_function(
            "() => (document.querySelector('.fw-grid .fw-title') || {}).textContent"
            "?.startsWith('Defuse scenario 1:')"
        )
        page.wait_for_selector(".fw-grid .fw-thumb img")
        row.hover()
        shoot(page, artifacts_dir / "scenarios-light-selected.png")
        set_theme(page, "JupyterLab Dark")
        wait_strips(page, 1)
        shoot(page, artifacts_dir / "scenarios-dark.png")

        # what Python holds: the labels, tau and the selection
        output = run_cell(page, 1, "STATE")
        assert '"0": {"is_failure": true, "correct_label": 1}' in output
        assert '"1": {"is_failure": false, "correct_label": null}' in output
        assert " 0.3 1 " in output

        # correction with the labelled scenario: the before/after table and the trade-off
        assert run_cell(page, 2, "CORRECTED").strip().endswith("CORRECTED 1")
        page.wait_for_selector(".fw-scenarios-correction table")
        table = page.locator(".fw-scenarios-correction").inner_text()
        assert "before finetuning" in table and "lambda=" in table
        page.wait_for_selector(".fw-scenario-view .bqplot")
        shoot(page, artifacts_dir / "scenarios-dark-corrected.png")
        set_theme(page, "JupyterLab Light")
        shoot(page, artifacts_dir / "scenarios-light-corrected.png")
    assert dialogs == [], "no script from data ran"
