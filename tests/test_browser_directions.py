"""Real browser: a DirectionsView in JupyterLab renders strips, chart and captions; a caption
click shows its nearest images with their accuracy; a class change updates everything, and a
class whose direction is not fitted yet shows as pending while the view's worker fits it (the
drawing then arrives from the worker thread)."""

from __future__ import annotations

import pytest

from failwidgets.labdriver import cell_output_text, lab_page, run_all, set_theme, write_notebook

pytestmark = pytest.mark.browser

XSS = "<img src=x onerror=alert(1)>"

# Synthetic CLIP-like embeddings: each class fails on a planted minority (drawn on grass) that
# carries +2.5 u[c]; the third class makes no validation errors and is skipped. Only "bird" is
# fitted up front; the second class is fitted when opened, its captions slowly (3 s).
CELLS = [
    f"""
import time
import numpy as np
from failwidgets import EvalSet
from failwidgets.methods.caption_words import CaptionWords
from failwidgets.methods.directions import FailureDirectionsResult
from failwidgets.widgets.directions import DirectionsView

NAMES, DIM = ["bird", {XSS!r}, "ship"], 16
rng = np.random.default_rng(0)
u = np.linalg.qr(rng.normal(size=(DIM, DIM)))[0][:, :3].T
means = rng.normal(scale=0.5, size=(3, DIM))
parts = []
for split, n in dict(train=120, val=160, test=120).items():
    for c in range(3):
        minority = rng.random(n) < 0.3
        x = means[c] + rng.normal(size=(n, DIM)) + 2.5 * minority[:, None] * u[c]
        wrong = (rng.random(n) < np.where(minority, 0.7, 0.05)) & (c < 2)
        parts.append((x, np.full(n, c), ~wrong, np.full(n, split), minority))
X, labels, correct, split, minority = (np.concatenate(p) for p in zip(*parts))
images = np.zeros((len(labels), 32, 32, 3), np.uint8)
images[minority] = (70, 150, 60)     # grass
images[~minority] = (60, 110, 190)   # water
for c, colour in enumerate([(230, 200, 40), (220, 60, 60), (240, 240, 240)]):
    images[labels == c, 10:22, 10:22] = colour
es = EvalSet.from_arrays(images, labels, np.where(correct, labels, (labels + 1) % 3), NAMES,
                         split=split)

class Text:
    base = {{name: 3 * np.random.default_rng(i).normal(size=DIM) / 4 for i, name in enumerate(NAMES)}}
    phrases = {{"on the grass": 3.0 * (u[0] + u[1]), "in the water": -3.0 * (u[0] + u[1])}}
    def encode_texts(self, texts):
        if any(NAMES[1] in t for t in texts):
            time.sleep(3)  # a slow fit: the pending state stays on screen meanwhile
        return np.array([sum(v for k, v in {{**self.base, **self.phrases}}.items() if k in t)
                         + 0.01 for t in texts])

words = CaptionWords(adjectives=("red", "small"), prepositions=("on the grass", "in the water", "inside"))
result = FailureDirectionsResult.from_arrays(X, labels, correct, split, NAMES, text_encoder=Text(),
                                             caption_words=words, n_jobs=1, classes=[0])
view = DirectionsView(es, result, k=20, n_captions=4, class_name="bird")
view
""",
    "print('STATE', view.class_name, len(view.selected_members), "
    "sorted(view.panel.view_model['checked']))",
]


def wait_class(page, name: str) -> None:
    page.wait_for_function(
        "(n) => document.querySelector('.fw-directions .fw-dir-class')?.textContent === n",
        arg=name,
    )


def strip_indices(page, hook: str) -> list[str]:
    return page.eval_on_selector_all(
        f".{hook} .fw-thumb", "tiles => tiles.map(t => t.dataset.index)"
    )


def test_directions_view_renders_and_follows_class_changes(lab_server, artifacts_dir):
    write_notebook(lab_server.root / "directions.ipynb", CELLS)
    dialogs = []
    with lab_page(lab_server, "directions.ipynb", height=2400) as page:
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        run_all(page)
        wait_class(page, "bird")
        # strips: one row of 8 decoded thumbnails each, with decision values as scores
        for hook in ("fw-directions-hard", "fw-directions-easy"):
            page.wait_for_function(
                """(h) => { const imgs = [...document.querySelectorAll(`.${h} .fw-thumb img`)];
                           return imgs.length === 8 && imgs.every(i => i.complete && i.naturalWidth > 0); }""",
                arg=hook,
            )
            assert page.locator(f".{hook} .fw-score").first.inner_text() not in ("", "—")
        assert "Most negative" in page.locator(".fw-directions-hard .fw-title").inner_text()
        hard_bird = strip_indices(page, "fw-directions-hard")
        # bar chart of every class
        page.wait_for_selector(".fw-directions-chart svg .bar")
        assert page.locator(".fw-directions-chart svg .bar").count() == 3
        # captions: 4 hard, 4 easy; the top hard one names the planted background
        hard = page.locator('.fw-dir-list[data-side="hard"] .fw-dir-caption')
        assert hard.count() == 4
        assert page.locator('.fw-dir-list[data-side="easy"] .fw-dir-caption').count() == 4
        top = hard.first.locator(".fw-dir-text").inner_text()
        assert "on the grass" in top
        # a caption click shows its nearest images in the grid, and the accuracy beside it
        hard.first.click()
        page.wait_for_selector(".fw-dir-caption.selected .fw-dir-acc:not([hidden])")
        accuracy = hard.first.locator(".fw-dir-acc").inner_text()
        assert "correct on its 20 nearest test images" in accuracy
        grid = page.locator(".fw-directions-view .fw-grid").last
        page.wait_for_function(
            """(t) => { const g = [...document.querySelectorAll('.fw-directions-view .fw-grid')].at(-1);
                       return g.dataset.total === '20' && g.querySelector('.fw-title').textContent.includes(t)
                              && g.querySelectorAll('.fw-thumb').length === 20; }""",
            arg=top,
        )
        assert grid.locator(".fw-thumb").count() == 20
        view_area = page.locator(".jp-Cell").first.locator(".jp-OutputArea")
        view_area.screenshot(path=str(artifacts_dir / "directions-light.png"))

        # class change through the selector to a class fitted on demand: pending at once
        # (status line, panel, bar), then strips, captions and chart follow from the worker
        page.locator(".fw-directions-class select").select_option(index=1)
        wait_class(page, XSS)
        page.wait_for_selector(".fw-directions[data-state='pending'] .fw-dir-pending")
        assert page.locator(".fw-dir-pending").inner_text() == (
            f"Fitting the failure direction of {XSS}…"
        )
        assert f"fitting {XSS}…" in page.locator(".fw-directions-view").first.inner_text()
        view_area.screenshot(path=str(artifacts_dir / "directions-light-pending.png"))
        page.wait_for_selector(".fw-directions[data-state='ready']")
        page.wait_for_function(
            "(old) => { const t = document.querySelector('.fw-directions-hard .fw-thumb');"
            " return t && !old.includes(t.dataset.index); }",
            arg=hard_bird,
        )
        assert page.locator(".fw-dir-acc:not([hidden])").count() == 0  # checks are per class
        assert XSS in page.locator(".fw-directions-hard .fw-title").inner_text()
        assert "on the grass" in page.locator(".fw-dir-caption .fw-dir-text").first.inner_text()

        # click the skipped class's bar: its reason instead of strips
        page.locator(".fw-directions-chart svg .bar").nth(2).click()
        wait_class(page, "ship")
        page.wait_for_selector(".fw-dir-skipped")
        assert "0 errors in the validation split" in page.locator(".fw-dir-skipped").inner_text()
        page.wait_for_selector(".fw-directions-hard", state="hidden")
        set_theme(page, "JupyterLab Dark")
        view_area.screenshot(path=str(artifacts_dir / "directions-dark-skipped.png"))

        # back to bird by its bar, then dark screenshot of a normal class
        page.locator(".fw-directions-chart svg .bar").nth(0).click()
        wait_class(page, "bird")
        page.wait_for_selector(".fw-directions-hard .fw-thumb img")
        easy = page.locator('.fw-dir-list[data-side="easy"] .fw-dir-caption').first
        easy_caption = easy.locator(".fw-dir-text").inner_text()
        assert "in the water" in easy_caption
        easy.click()
        page.wait_for_selector(".fw-dir-caption.selected .fw-dir-acc:not([hidden])")
        view_area.screenshot(path=str(artifacts_dir / "directions-dark.png"))

        # escaped everywhere, and the state reached Python
        assert page.locator(".fw-directions-view img[src='x']").count() == 0
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
        out = cell_output_text(page, 1)
        assert f"STATE bird 20 [{easy_caption!r}]" in out
    assert dialogs == [], "no script from data ran"
