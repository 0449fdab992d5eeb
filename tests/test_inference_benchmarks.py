"""Smoke checks: the GPU and cache benchmarks run on a CPU, small, and report their figures."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("torchvision")
pytest.importorskip("open_clip")

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_gpu_runs_on_cpu_and_reports_ratios(capsys):
    line = load("bench_gpu").main(
        [
            "--device",
            "cpu",
            "--n",
            "8",
            "--size",
            "32",
            "--batch-size",
            "4",
            "--repeats",
            "1",
            "--precisions",
            "fp32",
        ]
    )
    for key in (
        "from_model_fp32_ratio",
        "from_model_loader_fp32_ratio",
        "encode_images_fp32_ratio",
    ):
        assert math.isfinite(line[key]) and line[key] > 0
    assert line["from_model_raw_fp32_img_s"] > 0 and line["encode_images_fp32_img_s"] > 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("{") and '"encode_images_fp32_ratio"' in last


def test_bench_gpu_rejects_unknown_precisions():
    with pytest.raises(SystemExit):
        load("bench_gpu").main(["--device", "cpu", "--precisions", "int8"])


def test_bench_cache_finds_its_cache(tmp_path, capsys):
    line = load("bench_cache").main(["--n", "3000", "--dim", "16", "--tmp", str(tmp_path)])
    assert line["cache_hit_s"] < 1.0 and line["disk_cache_hit_s"] < 1.0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith('{"n": 3000')
