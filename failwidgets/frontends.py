"""Drive other front ends than JupyterLab in headless Chromium: Jupyter Notebook 7 and marimo.

Used by the browser tests (tests/test_browser_frontends.py), alongside
:mod:`failwidgets.labdriver` (JupyterLab). Notebook 7 is served by the same kind of Jupyter
server as JupyterLab (``/notebooks/<file>`` instead of ``/lab/tree/<file>``), with its app
exposed as ``window.jupyterapp`` so that the cells can be run by command. marimo runs a
notebook file with ``marimo run --headless`` on 127.0.0.1 (no token); its cells run when a
page opens it.
Needs the ``test`` extra (notebook>=7, marimo, playwright) and ``/usr/bin/chromium``.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from contextlib import contextmanager
from pathlib import Path

from .labdriver import (
    LabServer,
    ServerProcess,
    browser_page,
    open_notebook,
    set_theme,
)

__all__ = [
    "MarimoServer",
    "NotebookServer",
    "marimo_page",
    "notebook_page",
    "set_notebook_theme",
    "write_marimo",
]


class NotebookServer(LabServer):
    """A Jupyter server on 127.0.0.1 (random token) for Jupyter Notebook 7 pages.

    The same server as :class:`~failwidgets.labdriver.LabServer`, with Notebook 7's
    ``JupyterNotebookApp.expose_app_in_browser`` set (in a private config folder), so that
    :func:`failwidgets.labdriver.run_all` can run a notebook's cells by command.
    """

    def start(self, timeout: float = 90.0) -> NotebookServer:
        config = self.state_dir / "config"
        config.mkdir(parents=True, exist_ok=True)
        (config / "jupyter_server_config.json").write_text(
            json.dumps({"JupyterNotebookApp": {"expose_app_in_browser": True}})
        )
        previous = os.environ.get("JUPYTER_CONFIG_DIR")
        os.environ["JUPYTER_CONFIG_DIR"] = str(config)  # read by the server process only
        try:
            super().start(timeout)
        finally:
            if previous is None:
                os.environ.pop("JUPYTER_CONFIG_DIR", None)
            else:
                os.environ["JUPYTER_CONFIG_DIR"] = previous
        return self


@contextmanager
def notebook_page(
    server: LabServer, notebook: str, *, width=1400, height=1000, theme: str | None = None
):
    """Open ``notebook`` (relative to the server root) in Jupyter Notebook 7; yield the page.

    The page is ready for :func:`failwidgets.labdriver.run_all` (its kernel idle).
    ``theme``: 'JupyterLab Light' or 'JupyterLab Dark' (None: leave it).
    """
    with browser_page(width, height) as page:
        open_notebook(page, server, f"notebooks/{notebook}", theme)
        yield page


#: Notebook 7 switches themes as JupyterLab does.
set_notebook_theme = set_theme


# ---------------------------------------------------------------------- marimo
def write_marimo(path: str | os.PathLike, cells: list[str]) -> None:
    """Write a marimo notebook of ``cells`` to ``path``.

    Each cell is Python source whose last line, when it is an expression, is the cell's
    output. marimo works out the cells' dependencies itself: a name defined in one cell can
    be used by later ones (define each name in one cell only).
    """
    blocks = []
    for source in cells:
        body = textwrap.indent(textwrap.dedent(source).strip("\n"), "    ")
        blocks.append(f"@app.cell\ndef _():\n{body}\n    return\n")
    text = "import marimo\n\napp = marimo.App()\n\n\n" + "\n\n".join(blocks)
    text += '\n\nif __name__ == "__main__":\n    app.run()\n'
    Path(path).write_text(text)


class MarimoServer(ServerProcess):
    """marimo serving one notebook file on 127.0.0.1 (no token), headless.

    ``mode="run"`` (default) serves it as an app: every cell runs when a page opens it.
    ``mode="edit"`` opens the editor, whose cells wait to be run.
    """

    name = "marimo"

    def __init__(
        self,
        notebook: str | os.PathLike,
        log_path: str | os.PathLike | None = None,
        mode: str = "run",
    ):
        if mode not in ("run", "edit"):
            raise ValueError(f"mode: expected 'run' or 'edit', got {mode!r}")
        self.mode = mode
        self.notebook = Path(notebook)
        super().__init__(log_path, state_prefix="failwidgets-marimo-", log_name="marimo.log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self, timeout: float = 90.0) -> MarimoServer:
        env = dict(
            os.environ,
            HF_HUB_OFFLINE="1",
            MARIMO_SKIP_UPDATE_CHECK="1",
            XDG_CONFIG_HOME=str(self.state_dir / "config"),
            XDG_STATE_HOME=str(self.state_dir / "state"),
            XDG_CACHE_HOME=str(self.state_dir / "cache"),
        )
        env.setdefault("TQDM_DISABLE", "1")
        cmd = [
            sys.executable, "-m", "marimo", "-q", self.mode, str(self.notebook), "--headless",
            "--host", "127.0.0.1", "--port", str(self.port), "--no-token",
        ]  # fmt: skip
        return self._launch(cmd, env, self.url + "health", timeout, cwd=self.notebook.parent)


@contextmanager
def marimo_page(server: MarimoServer, *, width=1400, height=1000):
    """Open the server's notebook in headless Chromium; yield the page (cells may still run)."""
    with browser_page(width, height) as page:
        page._failwidgets_log = server.log_path
        page.goto(server.url)
        yield page
