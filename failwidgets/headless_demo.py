"""Run the quickstart headless: executed notebook as HTML plus screenshots of the live widgets.

``python -m failwidgets.headless_demo --out build/demo`` (what ``make demo HEADLESS=1`` runs)
for machines without a screen. The notebook runs twice: once with nbclient (for the HTML page)
and once in a real JupyterLab in headless Chromium, where the widgets are live.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
READY = ".fw-grid .fw-thumb img"


def execute_to_html(notebook: Path, out_html: Path, timeout: int = 600) -> None:
    """Execute ``notebook`` with nbclient and write it as a standalone HTML page."""
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={
        "metadata": {"path": str(out_html.parent)}
    }).execute()  # fmt: skip
    body, _ = HTMLExporter().from_notebook_node(nb)
    out_html.write_text(body)


def screenshot_live(notebook: Path, out_dir: Path, ready_selector: str = READY) -> list[Path]:
    """Open ``notebook`` in headless JupyterLab, run all cells, screenshot light and dark."""
    from .labdriver import LabServer, lab_page, run_all, set_theme

    root = out_dir / "lab"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    shutil.copy(notebook, root / notebook.name)
    shots = []
    # a tall window, so the whole Explorer fits in one screenshot
    with LabServer(root) as server, lab_page(server, notebook.name, height=2000) as page:
        run_all(page)
        page.wait_for_selector(ready_selector, state="attached", timeout=120_000)
        target = page.locator(".fw-explorer").first
        for theme, suffix in (("JupyterLab Light", "light"), ("JupyterLab Dark", "dark")):
            set_theme(page, theme)
            page.wait_for_timeout(500)
            path = out_dir / f"{notebook.stem}-{suffix}.png"
            if target.count():  # the Explorer at the top of the window
                target.evaluate("e => e.scrollIntoView({block: 'start'})")
                page.wait_for_timeout(300)
            page.screenshot(path=str(path), full_page=False)
            shots.append(path)
    return shots


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="build/demo", help="output folder")
    parser.add_argument("--notebook", default=str(NOTEBOOKS / "00_quickstart.ipynb"))
    parser.add_argument("--no-screenshots", action="store_true", help="only the HTML page")
    args = parser.parse_args(argv)
    notebook = Path(args.notebook)
    if not notebook.is_file():
        parser.error(f"--notebook: no such notebook {notebook}")
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    html = out_dir / f"{notebook.stem}.html"
    execute_to_html(notebook, html)
    print(f"executed {notebook.name} in {time.perf_counter() - start:.1f} s -> {html}")
    if not args.no_screenshots:
        for path in screenshot_live(notebook, out_dir):
            print(f"live widgets screenshot -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
