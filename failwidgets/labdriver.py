"""Drive a real JupyterLab in headless Chromium (used by the browser tests and the headless demo).

Starts ``jupyter lab`` on 127.0.0.1 with a token and a root folder, opens notebooks in Debian's
Chromium through Playwright (never a downloaded browser), runs cells and takes screenshots.
Needs the ``lab`` and ``test`` extras (jupyterlab, playwright) and ``/usr/bin/chromium``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

__all__ = ["LabServer", "chromium_path", "lab_page", "write_notebook", "run_all", "set_theme"]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str | None:
    """Path of the system Chromium, or None."""
    for candidate in (os.environ.get("FAILWIDGETS_CHROMIUM"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """A local server in a subprocess: started, waited for until it answers, stopped."""

    name = "server"

    def __init__(self, log_path: str | os.PathLike | None, *, state_prefix: str, log_name: str):
        """A free port, a private state folder (``state_prefix``: its name's start) and the
        log file: ``log_path``, or ``log_name`` in the state folder."""
        self.port = _free_port()
        self.state_dir = Path(tempfile.mkdtemp(prefix=state_prefix))
        self.log_path = Path(log_path) if log_path else self.state_dir / log_name
        self.process: subprocess.Popen | None = None

    def _launch(self, cmd: list[str], env: dict, ready_url: str, timeout: float, **popen):
        """Run ``cmd`` (output to ``log_path``) and wait until ``ready_url`` answers 200."""
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env, **popen
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early; see {self.log_path}")
            try:
                with urllib.request.urlopen(ready_url, timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(
            f"{self.name} did not answer within {timeout:.0f} s; see {self.log_path}"
        )

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if getattr(self, "_log", None):
            self._log.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class LabServer(ServerProcess):
    """A JupyterLab server on 127.0.0.1 serving ``root`` with a random token."""

    name = "jupyter lab"

    def __init__(self, root: str | os.PathLike, log_path: str | os.PathLike | None = None):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.token = secrets.token_hex(16)
        super().__init__(log_path, state_prefix="failwidgets-lab-", log_name="jupyter-server.log")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}?token={self.token}"

    def start(self, timeout: float = 90.0) -> LabServer:
        settings = self.state_dir / "user-settings"
        notification = settings / "@jupyterlab" / "apputils-extension"
        notification.mkdir(parents=True, exist_ok=True)
        (notification / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False})
        )
        env = dict(
            os.environ,
            HF_HUB_OFFLINE="1",
            JUPYTER_PLATFORM_DIRS="1",
            JUPYTERLAB_SETTINGS_DIR=str(settings),
            JUPYTERLAB_WORKSPACES_DIR=str(self.state_dir / "workspaces"),
        )
        env.setdefault("TQDM_DISABLE", "1")
        cmd = [
            sys.executable, "-m", "jupyter", "lab", "--no-browser",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}", "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--ServerApp.allow_root=True", "--LabApp.extension_manager=readonly",
        ]  # fmt: skip
        return self._launch(cmd, env, self.url("api/status"), timeout)


def write_notebook(
    path: str | os.PathLike, cells: list[str], markdown: dict[int, str] | None = None
):
    """Write a notebook of code ``cells`` (python3 kernel) to ``path``."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    for i, source in enumerate(cells):
        if markdown and i in markdown:
            nb.cells.append(nbformat.v4.new_markdown_cell(markdown[i]))
        nb.cells.append(nbformat.v4.new_code_cell(source))
    Path(path).write_text(json.dumps(nb, indent=1))


@contextmanager
def browser_page(width: int = 1400, height: int = 1000):
    """A page of Debian's Chromium, headless (60 s default timeout); yield it."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        raise RuntimeError(
            "Chromium not found: install Debian's chromium (apt-get install chromium)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()


@contextmanager
def lab_page(
    server: LabServer,
    notebook: str,
    *,
    width=1400,
    height=1000,
    theme: str | None = "JupyterLab Light",
):
    """Open ``notebook`` (relative to the server root) in headless Chromium; yield the page.

    The theme is set on every page (light by default): it is a user setting, so a theme that
    an earlier page chose on the same server would otherwise carry over.
    """
    with browser_page(width, height) as page:
        # a fresh workspace per page: JupyterLab would otherwise restore the notebooks that
        # earlier pages opened on this server, and their cells would share the DOM
        workspace = f"fw-{secrets.token_hex(6)}"
        open_notebook(page, server, f"lab/workspaces/{workspace}/tree/{notebook}", theme)
        yield page


def open_notebook(page, server: LabServer, path: str, theme: str | None = None) -> None:
    """Open the notebook at the server's URL ``path`` (JupyterLab or Notebook 7) in ``page``
    and wait until its cells can run: the app started, the cells attached, the kernel
    dialog accepted, ``theme`` set (None: leave it) and the kernel idle."""
    page._failwidgets_log = server.log_path  # read by run_all's diagnostics
    page.goto(server.url(path))
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.started")
    page.evaluate("() => window.jupyterapp.started")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", state="attached")
    accept_kernel_dialog(page)
    if theme:
        set_theme(page, theme)
    wait_kernel_idle(page)


def accept_kernel_dialog(page, timeout_ms: int = 3000) -> None:
    """Accept the 'select kernel' dialog when JupyterLab shows one."""
    try:
        page.wait_for_selector(".jp-Dialog", timeout=timeout_ms)
    except Exception:
        return
    page.click(".jp-Dialog .jp-mod-accept")


def wait_kernel_idle(page, timeout_ms: int = 120_000) -> None:
    """Wait until the current notebook's kernel exists and is idle."""
    page.wait_for_function(
        """() => {
          const w = window.jupyterapp.shell.currentWidget;
          const k = w && w.sessionContext && w.sessionContext.session &&
                    w.sessionContext.session.kernel;
          return k && k.status === 'idle';
        }""",
        timeout=timeout_ms,
    )


def set_theme(page, theme: str) -> None:
    """Switch the theme of JupyterLab or Notebook 7 ('JupyterLab Light' or 'JupyterLab
    Dark'); returns once the page shows it and no splash screen covers it."""
    page.evaluate(
        "(t) => window.jupyterapp.commands.execute('apputils:change-theme', {theme: t})", theme
    )
    page.wait_for_function(
        "(t) => document.body.dataset.jpThemeName === t && !document.querySelector('#jupyterlab-splash')",
        arg=theme,
        timeout=20_000,
    )


_CELL_STATE_JS = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const root = (w && w.node) || document;
  const prompts = [...root.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
    .map(p => p.textContent.trim());
  const errors = [...root.querySelectorAll(
      '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
    .map(e => e.textContent).filter(t => t.includes('Traceback') || /\\w+Error\\b/.test(t));
  const dialogs = [...document.querySelectorAll('.jp-Dialog')].map(d => d.textContent);
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return {prompts, errors, dialogs, kernel: k ? k.status : null,
          done: prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p))};
}"""


class NotebookRunError(RuntimeError):
    """A notebook run in JupyterLab failed or did not finish; the message says what was seen."""


def notebook_state(page) -> dict:
    """Prompts, error outputs, open dialogs and kernel status of the current notebook."""
    return page.evaluate(_CELL_STATE_JS)


def _describe(state: dict, log_path: Path | None) -> str:
    lines = [f"kernel status: {state.get('kernel')}", f"prompts: {state.get('prompts')}"]
    for text in state.get("dialogs") or []:
        lines.append(f"dialog: {text[:500]}")
    for text in state.get("errors") or []:
        lines.append(f"error output:\n{text[-2500:]}")
    if log_path and Path(log_path).exists():
        lines.append(f"server log tail ({log_path}):\n{Path(log_path).read_text()[-2500:]}")
    return "\n".join(lines)


def run_all(page, timeout_ms: int = 180_000) -> None:
    """Run all cells of the current notebook and wait until every cell has finished.

    Raises NotebookRunError at once when a cell fails (with its traceback), and on timeout
    with the prompts, dialogs, kernel status and the server log's tail.
    """
    log_path = getattr(page, "_failwidgets_log", None)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        state = notebook_state(page)
        if state["errors"]:
            raise NotebookRunError("a cell failed:\n" + _describe(state, log_path))
        if state["done"] and state["kernel"] == "idle":
            return
        if time.monotonic() > deadline:
            raise NotebookRunError(
                f"cells did not finish within {timeout_ms / 1000:.0f} s:\n"
                + _describe(state, log_path)
            )
        page.wait_for_timeout(250)


def cell_output_text(page, cell_index: int) -> str:
    """Text of the outputs of code cell ``cell_index`` (0-based among all cells)."""
    return (
        page.locator(".jp-Notebook .jp-Cell").nth(cell_index).locator(".jp-OutputArea").inner_text()
    )
