"""Real browsers, other front ends than JupyterLab's defaults: the widgets render and a click
round-trips to Python

- in JupyterLab with the "dataurl" image transport (what Colab gets: no binary buffers);
- in Jupyter Notebook 7: ImageGrid, TreeView (with its feature panel), LatticeView,
  DirectionsView, ConceptMapView, ScenarioView and EmbeddingMap (a lasso), over buffers and
  over data URLs;
- in marimo, through ``mo.ui.anywidget``: the ImageGrid, and each of those views' drawing and
  grid (the ipywidgets containers, such as the views' sliders or the Explorer, do not run in
  marimo).

A click counts as round-tripped when its effect comes back from the kernel: a tile is drawn
selected only once Python has applied the click and synced the selection back, and a tree
node's images reach the grid only through Python.
"""

from __future__ import annotations

import re
import textwrap

import pytest
from playwright.sync_api import expect
from test_browser_concept_map import CELLS as CONCEPT_MAP_CELLS
from test_browser_directions import CELLS as DIRECTIONS_CELLS
from test_browser_embedding_map import CELLS as EMBEDDING_MAP_CELLS
from test_browser_lattice import CELLS as LATTICE_CELLS
from test_browser_scenarios import CELLS as SCENARIO_CELLS
from test_browser_tree import CELLS as TREE_CELLS

from failwidgets.frontends import (
    MarimoServer,
    NotebookServer,
    marimo_page,
    notebook_page,
    set_notebook_theme,
    write_marimo,
)
from failwidgets.labdriver import cell_output_text, lab_page, run_all, set_theme, write_notebook

pytestmark = pytest.mark.browser

GRID = """
import numpy as np
from failwidgets import EvalSet, ImageGrid
rng = np.random.default_rng(0)
images = rng.integers(0, 256, size=(300, 32, 32, 3), dtype=np.uint8)
labels = np.arange(300) % 3
preds = np.where(rng.random(300) < 0.3, (labels + 1) % 3, labels)
es = EvalSet.from_arrays(images, labels, preds, ["cat", "dog", "fox"])
grid = ImageGrid(es, np.arange(300), page_size=30, label_issues=[1, 4, 7], title="plain grid")
"""

# Counts the buffers of every message the grid sends (a Colab front end would drop them).
COUNT_BUFFERS = """
sent = []
_send = grid.send
def counting_send(content, buffers=None):
    sent.append(len(buffers or []))
    return _send(content, buffers=buffers)
grid.send = counting_send
"""

REPORT = (
    "print('SELECTED', sorted(grid.selected.tolist()), 'PAGES', len(sent), "
    "'BUFFERS', sum(sent), type(grid._selection).__name__)"
)

ALL_IMAGES_LOADED = """(prefix) => {
    const imgs = [...document.querySelectorAll('.fw-grid .fw-thumb img')];
    return imgs.length > 0 && imgs.every(
        i => i.complete && i.naturalWidth > 0 && i.src.startsWith(prefix));
}"""


def run_cell(page, index: int, marker: str) -> str:
    """Run code cell ``index`` of the current notebook (Lab or Notebook 7); its output text."""
    page.evaluate(
        """(index) => {
            const nb = window.jupyterapp.shell.currentWidget.content;
            nb.activeCellIndex = index;
            nb.widgets[index].model.outputs.clear();  // Run All printed it once already
            return window.jupyterapp.commands.execute('notebook:run-cell');
        }""",
        index,
    )
    page.wait_for_function(
        """([index, marker]) => document.querySelectorAll('.jp-Cell')[index]
                 .querySelector('.jp-OutputArea').innerText.includes(marker)""",
        arg=[index, marker],
    )
    return cell_output_text(page, index)


def click_and_check_selection(page, grid=".fw-grid") -> list[int]:
    """Click tile 2, ctrl-click tile 5; wait until both come back selected; their indices."""
    thumbs = page.locator(f"{grid} .fw-thumb")
    chosen = [int(thumbs.nth(i).get_attribute("data-index")) for i in (2, 5)]
    thumbs.nth(2).click()
    thumbs.nth(5).click(modifiers=["Control"])
    page.locator(f"{grid} .fw-thumb.selected").nth(1).wait_for()
    assert page.locator(f"{grid} .fw-thumb.selected").count() == 2
    return chosen


def check_label_badges(page) -> None:
    flags = page.locator(".fw-grid .fw-thumb.label-issue .fw-label-issue")
    assert flags.count() == 3
    indices = [
        flags.nth(i).locator("xpath=ancestor::div[contains(@class,'fw-thumb')]") for i in range(3)
    ]
    assert [int(tile.get_attribute("data-index")) for tile in indices] == [1, 4, 7]
    assert flags.first.get_attribute("title") == "label?: likely label error"


# ---------------------------------------------------------------------- JupyterLab, data URLs
def test_grid_over_data_urls_in_jupyterlab(lab_server, artifacts_dir):
    cells = [
        "import failwidgets\nfailwidgets.set_image_transport('dataurl')\n"
        + GRID
        + COUNT_BUFFERS
        + "grid",
        REPORT,
    ]
    write_notebook(lab_server.root / "grid_dataurl.ipynb", cells)
    with lab_page(lab_server, "grid_dataurl.ipynb") as page:
        run_all(page)
        page.wait_for_function(ALL_IMAGES_LOADED, arg="data:image/jpeg;base64,")
        assert page.locator(".fw-grid .fw-thumb").count() == 30
        check_label_badges(page)
        chosen = click_and_check_selection(page)  # the selection came back as base64 text
        page.screenshot(path=str(artifacts_dir / "frontends-lab-dataurl-light.png"))
        page.click(".fw-grid .fw-next")
        page.wait_for_function(
            "() => document.querySelector('.fw-grid .fw-thumb').dataset.index === '30'"
        )
        page.wait_for_function(ALL_IMAGES_LOADED, arg="data:image/jpeg;base64,")
        set_theme(page, "JupyterLab Dark")
        page.screenshot(path=str(artifacts_dir / "frontends-lab-dataurl-dark.png"))
        text = run_cell(page, 1, "SELECTED")
    assert f"SELECTED {sorted(chosen)} PAGES 2 BUFFERS 0 str" in text, text


# ---------------------------------------------------------------------- Notebook 7
@pytest.fixture(scope="module")
def notebook_server(tmp_path_factory):
    server = NotebookServer(tmp_path_factory.mktemp("nb7-root")).start()
    yield server
    server.stop()


def test_grid_and_tree_in_notebook7(notebook_server, artifacts_dir):
    tree = TREE_CELLS[0].replace("\nview = TreeView", "\ntree_view = TreeView")
    switch = (
        "import failwidgets\nfailwidgets.set_image_transport('dataurl')\n"
        "print('TRANSPORT', failwidgets.get_image_transport())"
    )
    tree = tree.replace("\nview\n", "\nprint('TREE READY')\ntree_view\n")
    cells = [GRID + COUNT_BUFFERS + "print('GRID READY')\ngrid", REPORT, tree, switch]
    write_notebook(notebook_server.root / "views.ipynb", cells)
    with notebook_page(notebook_server, "views.ipynb", height=2400) as page:
        assert page.url.split("?")[0].endswith("/notebooks/views.ipynb")
        assert page.locator("#jp-top-panel, .jp-NotebookPanel").count() >= 1
        assert page.locator(".jp-LabShell").count() == 0  # Notebook 7, not JupyterLab
        # cell by cell: the grid's first page must come before the switch to data URLs
        run_cell(page, 0, "GRID READY")
        grid = ".jp-Cell:nth-child(1) .fw-grid"
        page.wait_for_selector(f"{grid} .fw-thumb img")
        page.wait_for_function(ALL_IMAGES_LOADED, arg="blob:")  # binary buffers
        check_label_badges(page.locator(".jp-Cell").first)
        chosen = click_and_check_selection(page, grid)
        run_cell(page, 2, "TREE READY")
        # switch to data URLs while the widgets are shown: the next images come as data URLs
        assert "TRANSPORT dataurl" in run_cell(page, 3, "TRANSPORT")
        # the tree: click a passing leaf; its images come back through Python into its grid
        page.wait_for_selector(".fw-tree[data-state='ready'] .fw-tree-node.pass")
        leaf = page.locator(".fw-tree-node.pass").first
        size = int(leaf.locator(".fw-tree-line-0").text_content().split(" img")[0])
        leaf.locator(".fw-tree-node-dot").click()
        page.wait_for_selector(".fw-tree-node.pass.selected")
        page.wait_for_function(
            f"() => [...document.querySelectorAll('.fw-grid')].some(g => g.dataset.total === "
            f"'{size}' && (g.querySelector('.fw-title') || {{}}).textContent?.includes('node'))"
        )
        panel = page.locator(".fw-tree-visual[data-attack='ready']")
        panel.wait_for()
        panel.scroll_into_view_if_needed()  # its images load lazily, once on screen
        page.wait_for_function(
            """() => {
                const imgs = [...document.querySelectorAll('.fw-tree-visual img')];
                return imgs.length === 18 && imgs.every(i => i.complete && i.naturalWidth > 0
                    && i.src.startsWith('data:image/png;base64,'));
            }"""
        )
        page.screenshot(path=str(artifacts_dir / "frontends-nb7-light.png"), full_page=True)
        set_notebook_theme(page, "JupyterLab Dark")
        page.screenshot(path=str(artifacts_dir / "frontends-nb7-dark.png"), full_page=True)
        text = run_cell(page, 1, "SELECTED")
    assert f"SELECTED {sorted(chosen)} PAGES 1" in text and "BUFFERS 30 bytes" in text, text


# ---------------------------------------------------------------------- marimo
MARIMO_GRID = (
    "import marimo as mo\n" + GRID + "mo.ui.anywidget(grid)\n"  # the cell's output
)


# The TreeView itself is an ipywidgets VBox (sliders, the grid): marimo shows its anywidget
# parts, the drawing (``canvas``) and the grid, each through mo.ui.anywidget. The tree's code
# runs inside a function: marimo forbids a name defined in two cells, and the grid's cell
# defines the same names.
def marimo_view_cell(cell: str, parts: tuple[str, ...]) -> str:
    """A marimo cell running a JupyterLab test's cell (which ends with ``view``) in a function,
    and showing the view's anywidget ``parts`` (e.g. ``view.canvas``) through mo.ui.anywidget."""
    shown = ", ".join(f"mo.ui.anywidget({part})" for part in parts)
    return (
        "def _view_parts():\n"
        "    import marimo as mo\n"
        + textwrap.indent(cell.strip().removesuffix("view").strip(), "    ")
        + f"\n    return view, mo.vstack([{shown}])\n"
        "shown_view, view_output = _view_parts()\n"
        "view_output\n"
    )


MARIMO_TREE = marimo_view_cell(TREE_CELLS[0], ("view.canvas", "view.grid"))


def test_grid_and_tree_in_marimo(tmp_path, artifacts_dir):
    notebook = tmp_path / "views.py"
    write_marimo(notebook, [MARIMO_GRID, MARIMO_TREE])
    with MarimoServer(notebook) as server, marimo_page(server, height=2600) as page:
        title = page.locator(".fw-title", has_text="plain grid")
        first_grid = page.locator(".fw-grid").filter(has=title)
        thumbs = first_grid.locator(".fw-thumb")
        thumbs.locator("img").first.wait_for(timeout=120_000)
        expect(thumbs).to_have_count(30)
        expect(first_grid.locator(".fw-label-issue")).to_have_count(3)
        thumbs.nth(2).click()
        thumbs.nth(5).click(modifiers=["Control"])
        expect(first_grid.locator(".fw-thumb.selected")).to_have_count(2)  # back from Python
        # the tree's drawing: click a passing leaf; its members reach the tree's grid
        page.locator(".fw-tree[data-state='ready'] .fw-tree-node.pass").first.wait_for(
            timeout=120_000
        )
        leaf = page.locator(".fw-tree-node.pass").first
        size = int(leaf.locator(".fw-tree-line-0").text_content().split(" img")[0])
        leaf.locator(".fw-tree-node-dot").click()
        page.locator(".fw-tree-node.pass.selected").wait_for()
        tree_grid = page.locator(".fw-grid").filter(has=page.locator(".fw-title", has_text="node"))
        expect(tree_grid).to_have_attribute("data-total", str(size))
        tree_grid.locator(".fw-thumb img").first.wait_for()
        page.locator(".fw-tree-visual[data-state='ready'] img").first.wait_for(timeout=60_000)
        page.screenshot(path=str(artifacts_dir / "frontends-marimo.png"), full_page=True)


# ---------------------------------------------------------------------- more views, both
# Each: the JupyterLab test's notebook cell (ending with ``view``), what shows it is drawn, what
# to click, what the click selects, the title the view's grid then gets from Python, and the
# view's anywidget parts (for marimo).
VIEWS = {
    "lattice": dict(
        cell=LATTICE_CELLS[0],
        ready=".fw-lattice[data-state='ready'] .fw-node.mode",
        click=".fw-lattice .fw-node.mode",
        selected=".fw-lattice .fw-node.mode.selected",
        title="colour=red + texture=stripes",
        parts=("view.canvas", "view.grid"),
    ),
    "directions": dict(
        cell=DIRECTIONS_CELLS[0],
        ready='.fw-dir-list[data-side="hard"] .fw-dir-caption',
        click='.fw-dir-list[data-side="hard"] .fw-dir-caption',
        selected=".fw-dir-caption.selected",
        title="on the grass",
        parts=("view.panel", "view.grid"),
    ),
    "concept_map": dict(
        cell=CONCEPT_MAP_CELLS[0],  # ends with display(view, grid): a shared grid
        ready=".fw-cmap[data-state='ready'] circle.fw-cmap-point",
        click=".fw-cmap circle.fw-cmap-point",
        selected=".fw-cmap circle.fw-cmap-point.selected",
        title="Positive examples of the concept",
        parts=("view.panel", "grid"),
    ),
    "scenarios": dict(  # over data URLs: the strips come as data: URLs
        cell="import failwidgets\nfailwidgets.set_image_transport('dataurl')\n" + SCENARIO_CELLS[0],
        ready=".fw-scenarios[data-state='ready'] .fw-scn-row .fw-scn-img",
        click=".fw-scn-row[data-id='0'] .fw-scn-strip",
        selected=".fw-scn-row[data-id='0'].selected",
        title="source images of its failing codes",
        parts=("view.canvas", "view.grid"),
        data_urls=".fw-scn-img",
    ),
}


def click_view(page, spec: dict) -> None:
    """Wait for the view, click its first target, and wait for the answer from Python: the
    target selected and the view's grid titled after it, with its images."""
    page.locator(spec["ready"]).first.wait_for(timeout=120_000)
    page.locator(spec["click"]).first.click()
    page.locator(spec["selected"]).first.wait_for()
    title = page.locator(".fw-title", has_text=spec["title"])
    grid = page.locator(".fw-grid").filter(has=title)
    grid.first.wait_for()
    grid.first.locator(".fw-thumb img").first.wait_for()
    if "data_urls" in spec:
        images = page.locator(spec["data_urls"])
        expect(images.first).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
        expect(grid.first.locator(".fw-thumb img").first).to_have_attribute(
            "src", re.compile(r"^data:image/jpeg;base64,")
        )


@pytest.mark.parametrize("name", list(VIEWS))
def test_view_in_notebook7(notebook_server, artifacts_dir, name):
    spec = VIEWS[name]
    write_notebook(notebook_server.root / f"{name}.ipynb", [spec["cell"]])
    with notebook_page(notebook_server, f"{name}.ipynb", height=1600) as page:
        run_all(page)
        click_view(page, spec)
        page.screenshot(path=str(artifacts_dir / f"frontends-nb7-{name}.png"))


@pytest.mark.parametrize("name", list(VIEWS))
def test_view_in_marimo(tmp_path, artifacts_dir, name):
    spec = VIEWS[name]
    notebook = tmp_path / f"{name}.py"
    cell = spec["cell"].replace("display(view, grid)\n", "view\n")  # marimo has no display()
    write_marimo(notebook, [marimo_view_cell(cell, spec["parts"])])
    with MarimoServer(notebook) as server, marimo_page(server, height=1800) as page:
        click_view(page, spec)
        page.screenshot(path=str(artifacts_dir / f"frontends-marimo-{name}.png"), full_page=True)


def lasso_left_half(page, canvas) -> None:
    """Pick jupyter-scatter's lasso (the toolbar's second button) and draw around the map's
    left half (as tests/test_browser_embedding_map.py does)."""
    page.locator("[class*='jss:flex-col'] button").nth(1).click()
    box = canvas.bounding_box()
    x0, y0 = box["x"] + box["width"] * 0.05, box["y"] + box["height"] * 0.05
    x1, y1 = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.95
    page.mouse.move(x0, y0)
    page.mouse.down()
    for x, y in [(x1, y0), (x1, y1), (x0, y1), (x0, y0 + 5)]:
        page.mouse.move(x, y, steps=12)
    page.mouse.up()


def test_embedding_map_in_notebook7(notebook_server, artifacts_dir):
    cells = [EMBEDDING_MAP_CELLS[0], EMBEDDING_MAP_CELLS[1]]
    write_notebook(notebook_server.root / "embedding_map.ipynb", cells)
    with notebook_page(notebook_server, "embedding_map.ipynb", height=1400) as page:
        run_all(page)
        canvas = page.locator(".fw-embedding-map canvas").first
        canvas.wait_for(state="visible")
        page.locator(".fw-embedding-map .legend").first.wait_for()
        page.wait_for_timeout(1500)  # the points fade in
        lasso_left_half(page, canvas)
        page.locator(".fw-emap-status", has_text="selected:").first.wait_for(timeout=20_000)
        page.locator(".fw-grid .fw-thumb img").first.wait_for()
        page.screenshot(path=str(artifacts_dir / "frontends-nb7-embedding_map.png"))
        text = run_cell(page, 1, "SELECTED")
    count, total = int(text.split()[1]), int(text.split()[3])
    assert 0 < count == total, text  # the lasso's samples reached Python and its grid


def test_embedding_map_in_marimo(tmp_path, artifacts_dir):
    # the map's container is ipywidgets; its scatter (jupyter-scatter) and grid are anywidgets
    cell = marimo_view_cell(EMBEDDING_MAP_CELLS[0], ("view.scatter.widget", "view.grid"))
    notebook = tmp_path / "embedding_map.py"
    write_marimo(notebook, [cell])
    with MarimoServer(notebook) as server, marimo_page(server, height=1400) as page:
        canvas = page.locator("canvas").first
        canvas.wait_for(state="visible", timeout=120_000)
        page.locator(".legend").first.wait_for()
        page.wait_for_timeout(1500)  # the points fade in
        lasso_left_half(page, canvas)
        grid = page.locator(".fw-grid").filter(
            has=page.locator(".fw-title", has_text="Map selection")
        )
        grid.locator(".fw-thumb img").first.wait_for(timeout=20_000)
        page.screenshot(path=str(artifacts_dir / "frontends-marimo-embedding_map.png"))
