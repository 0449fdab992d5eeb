"""The static HTML report in Chromium: every thumbnail decodes, light and dark, no network."""

from __future__ import annotations

import pytest
from test_session import assets, world  # noqa: F401  (the module-scoped world fixture)

from failwidgets.labdriver import CHROMIUM_ARGS, chromium_path
from failwidgets.widgets.explorer import Explorer

pytestmark = pytest.mark.browser


def test_the_report_renders_with_every_image_and_no_request(world, tmp_path, artifacts_dir):  # noqa: F811
    from playwright.sync_api import sync_playwright

    explorer = Explorer.from_evalset(world["evalset"], **assets(world, tmp_path))
    try:
        path = explorer.to_html(tmp_path / "report.html", thumbnails=6)
        n_modes = len(explorer.failure_modes())
    finally:
        explorer.close()
    executable = chromium_path()
    assert executable, "Debian's chromium is missing: run .ci/setup"
    requests = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            for scheme in ("light", "dark"):
                page = browser.new_page(
                    viewport={"width": 1280, "height": 1000}, color_scheme=scheme
                )
                page.on(
                    "request",
                    lambda r: (
                        requests.append(r.url) if not r.url.startswith(("file:", "data:")) else None
                    ),
                )
                page.goto(path.as_uri())
                images = page.eval_on_selector_all(
                    "img", "els => els.map(e => e.complete && e.naturalWidth > 0)"
                )
                assert images and all(images)
                assert page.locator("tbody tr, table tr").count() >= n_modes
                background = page.evaluate("getComputedStyle(document.body).backgroundColor")
                assert (background == "rgb(13, 17, 23)") == (scheme == "dark")
                page.screenshot(path=str(artifacts_dir / f"report-{scheme}.png"), full_page=False)
                page.close()
        finally:
            browser.close()
    assert requests == []
