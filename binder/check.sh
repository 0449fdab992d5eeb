#!/usr/bin/env bash
# Rehearse mybinder.org's build and launch in a fresh virtual environment on this machine:
# a clean copy of the repository, binder/postBuild (torch from the local wheels instead of the
# PyTorch index), then the quickstart notebook executed top to bottom as Binder's user would.
#   bash binder/check.sh [workdir]      (default workdir: a new folder under /tmp)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${1:-$(mktemp -d /tmp/failwidgets-binder-XXXX)}
PY=${PYTHON:-python3.11}
git -C "$ROOT" archive --format=tar HEAD | (mkdir -p "$WORK/repo" && tar -x -C "$WORK/repo")
"$PY" -m venv "$WORK/venv"
export PATH="$WORK/venv/bin:$PATH"
cd "$WORK/repo"
python -m pip install -q --upgrade pip
start=$(date +%s)
FAILWIDGETS_TORCH_SPEC=${FAILWIDGETS_TORCH_SPEC:-"torch==2.14.1 torchvision==0.29.1"} bash binder/postBuild
echo "[binder-check] postBuild took $(( $(date +%s) - start )) s"
start=$(date +%s)
HF_HUB_OFFLINE=1 jupyter nbconvert --to html --execute --ExecutePreprocessor.timeout=600 \
  --output-dir "$WORK/out" notebooks/00_quickstart.ipynb
echo "[binder-check] quickstart executed in $(( $(date +%s) - start )) s: $WORK/out/00_quickstart.html"
