"""The offline notebooks execute headless, top to bottom, without errors."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
ONLINE_ONLY = {"90_bring_your_own_model.ipynb"}
OFFLINE = sorted(p for p in NOTEBOOKS.glob("*.ipynb") if p.name not in ONLINE_ONLY)


def test_there_is_a_quickstart():
    assert (NOTEBOOKS / "00_quickstart.ipynb").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("path", OFFLINE, ids=[p.stem for p in OFFLINE])
def test_notebook_executes(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    errors = [
        out for cell in nb.cells if cell.cell_type == "code"
        for out in cell.get("outputs", []) if out.output_type == "error"
    ]  # fmt: skip
    assert not errors
    # notebooks stay small: no inlined image dumps in the outputs (widget state, which holds
    # each anywidget's JS module, is measured apart; thumbnails travel as comm bytes, never here)
    nb.metadata.pop("widgets", None)
    assert len(nbformat.writes(nb)) < 300_000
    assert "data:image" not in nbformat.writes(nb)
