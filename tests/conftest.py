"""Shared test set-up: offline hubs, a small seeded EvalSet, artifact folder."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Git-ignored folder for screenshots and other test outputs worth looking at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def make_small_evalset(n: int = 60, n_classes: int = 3, size: int = 16, seed: int = 0, **kwargs):
    from failwidgets.data import EvalSet

    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)
    labels = np.arange(n) % n_classes
    predictions = labels.copy()
    flip = rng.random(n) < 0.3
    predictions[flip] = (labels[flip] + 1) % n_classes
    names = kwargs.pop("class_names", [f"class_{i}" for i in range(n_classes)])
    return EvalSet.from_arrays(images, labels, predictions, names, **kwargs)


@pytest.fixture
def small_evalset():
    return make_small_evalset()


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory):
    """A real JupyterLab on 127.0.0.1 (token, temporary root) for the browser tests."""
    from failwidgets.labdriver import LabServer, chromium_path

    if chromium_path() is None:
        pytest.fail("Debian's chromium is missing: run .ci/setup (apt-get install chromium)")
    root = tmp_path_factory.mktemp("lab-root")
    server = LabServer(root).start()
    yield server
    server.stop()
