# The two commands of the README. Each does its own set-up (idempotent, fast when done).
.PHONY: demo test setup lint retrain

PY := .venv/bin/python
HEADLESS ?= $(if $(DISPLAY)$(WAYLAND_DISPLAY),0,1)

setup:
	@bash .ci/setup

## make demo: JupyterLab on the quickstart notebook over the demo world.
## make demo HEADLESS=1: run the quickstart in headless JupyterLab + Chromium and write
##   build/demo/quickstart.html (executed notebook) and build/demo/quickstart-*.png (live widgets).
demo: setup
ifeq ($(HEADLESS),1)
	$(PY) -m failwidgets.headless_demo --out build/demo
else
	$(PY) -m jupyter lab notebooks/00_quickstart.ipynb --ServerApp.ip=127.0.0.1
endif

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

## make test: lint, JS unit tests, all Python tests (including real-browser tests).
test: setup lint
	cd js && npx vitest run
	HF_HUB_OFFLINE=1 $(PY) -m pytest -p no:cacheprovider $(PYTEST_ARGS)

## make retrain: re-train every demo model from scratch (writes failwidgets/demo/weights/).
retrain: setup
	$(PY) -m failwidgets.demo.train
