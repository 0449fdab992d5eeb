"""Real browser: the bring-your-own notebook, offline, reaches the full Explorer.

The test writes a Hugging Face dataset (``Dataset.save_to_disk``) of images of the planted-failure
world with its attribute columns, sets the notebook's parameters to that folder and the
package's demo models (``MODELS = "demo"``), runs every cell in JupyterLab and checks that the
Explorer shows every method the assets allow, with the failure-mode table filled. Screenshots
in light and dark themes.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest

from failwidgets.labdriver import cell_output_text, lab_page, run_all, set_theme

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "90_bring_your_own_model.ipynb"
N_IMAGES = 1200


def write_dataset(folder: Path) -> None:
    """Images, labels and attributes of a fresh world (not the demo's own images)."""
    datasets = pytest.importorskip("datasets")
    from failwidgets.datasets import make_world
    from failwidgets.demo.explorer import DEMO_TAG_COLUMNS

    world = make_world(n_images=N_IMAGES, image_size=64, seed=7)
    attributes = world.attributes.reset_index(drop=True)
    kinds = {
        c: datasets.Value("bool") if attributes[c].dtype == bool else datasets.Value("string")
        for c in DEMO_TAG_COLUMNS
    }
    features = datasets.Features(
        {"image": datasets.Image(), "label": datasets.ClassLabel(names=world.class_names), **kinds}
    )
    data = {
        "image": list(np.asarray(world.images)),
        "label": np.asarray(world.labels).tolist(),
        **{
            c: attributes[c].astype(bool if attributes[c].dtype == bool else str).tolist()
            for c in DEMO_TAG_COLUMNS
        },
    }
    datasets.Dataset.from_dict(data, features=features).save_to_disk(str(folder))


def offline_notebook(dataset: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    parameters = [c for c in nb.cells if c.source.startswith("# Parameters")]
    assert len(parameters) == 1, "the notebook has one parameter cell"
    parameters[0].source = f'DATASET = {str(dataset)!r}\nMODELS = "demo"'
    nb.cells.append(
        nbformat.v4.new_code_cell(
            "print('BYO', sorted(explorer.views), sorted(explorer.unavailable), "
            "len(explorer.failure_modes()), 'RAN')"
        )
    )
    return nb


def test_user_code_is_ten_lines_or_fewer():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if c.source.startswith("## 2."))
    code = nb.cells[index + 1].source
    lines = [line for line in code.splitlines() if line.strip() and not line.startswith("#")]
    assert "Explorer.from_evalset" in code and len(lines) <= 10


def test_byo_notebook_reaches_the_explorer_offline(lab_server, artifacts_dir):
    dataset = lab_server.root / "byo_dataset"
    write_dataset(dataset)
    nbformat.write(offline_notebook(dataset), lab_server.root / "90_byo.ipynb")
    dialogs = []
    with lab_page(lab_server, "90_byo.ipynb", height=2600) as page:
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        run_all(page, timeout_ms=480_000)
        last = page.locator(".jp-Notebook .jp-Cell").count() - 1
        text = cell_output_text(page, last)
        assert "BYO ['barlow', 'ces', 'directions', 'prime'] ['defuse']" in text
        assert "RAN" in text
        page.wait_for_selector(".fw-explorer .fw-mode-table[data-state]", state="attached")
        tabs = page.locator(".fw-explorer-tabs .lm-TabBar-tab").all_inner_texts()
        assert tabs[:4] == ["Tree · Barlow", "Lattice · PRIME", "Concepts · CES", "Directions"]
        status = page.locator(".fw-explorer-status").inner_text()
        assert "defuse" in status and "vae=" in status  # one line saying what to pass
        explorer = page.locator(".fw-explorer")
        explorer.evaluate("el => el.scrollIntoView({block: 'start'})")
        explorer.screenshot(path=str(artifacts_dir / "byo-explorer-light.png"))
        set_theme(page, "JupyterLab Dark")
        explorer.evaluate("el => el.scrollIntoView({block: 'start'})")
        explorer.screenshot(path=str(artifacts_dir / "byo-explorer-dark.png"))
    assert dialogs == []
