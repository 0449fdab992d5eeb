"""The built wheel carries the JS bundle (built from js/ by the build hook) and the demo weights."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_contains_bundle_and_weights(tmp_path):
    bundle = ROOT / "failwidgets" / "static" / "grid.js"
    bundle.unlink(missing_ok=True)  # the build must regenerate it from js/
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert bundle.exists(), "the build hook rebuilt the bundle in the source tree"
    wheels = list(tmp_path.glob("failwidgets-*.whl"))
    assert len(wheels) == 1
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = set(wheel.namelist())
        assert "failwidgets/static/grid.js" in names
        js = wheel.read("failwidgets/static/grid.js").decode()
        assert "render" in js and len(js) > 1000, "a real bundle, not a placeholder"
        weights = [n for n in names if n.startswith("failwidgets/demo/weights/")]
        assert any(n.endswith(".pt") for n in weights), "demo weights ship in the wheel"
        assert not any("node_modules" in n for n in names)
