# dcpipelines: `make demo` and `make test` do all the set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

# Nothing reaches for the network at run time, and no tool phones home.
export KEDRO_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1
export FLWR_TELEMETRY_ENABLED := 0
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help install demo test lint viz mlflow-ui clean clean-tracking dvc-yaml

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@echo ">> creating $(VENV) and installing pinned dependencies (first time: a few minutes)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/dvc config --local core.analytics false 2>/dev/null || true
	touch $(STAMP)

install: $(STAMP) ## create .venv and install the project with its pinned dependencies

# The tests also need the optional Flower extra (flwr[simulation], Ray): `make demo` does not.
$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,flower]"
	touch $(TEST_STAMP)

# Two pipelines at a time (DEMO_JOBS=N for more): each is its own `kedro run --pipelines NAME`
# with one torch thread, so the figures are those of a sequential run; logs in logs/demo/.
DEMO_JOBS ?= 2
demo: install ## install, then run every pipeline on the shipped data (DEMO_JOBS at a time)
	$(BIN)/python -m dcpipelines.demo --jobs $(DEMO_JOBS)
	@echo
	@echo "Done. Results:"
	@echo "  reports (metrics.json, report.md, plots): data/08_reporting/<pipeline>/"
	@echo "  primary tables:                           data/03_primary/"
	@echo "Open them:"
	@echo "  source $(VENV)/bin/activate"
	@echo "  mlflow ui --backend-store-uri sqlite:///mlflow.db --port 5000   # then http://127.0.0.1:5000"
	@echo "  kedro viz run                                                   # then http://127.0.0.1:4141"

test: $(TEST_STAMP) lint ## install (with the flower extra), lint, then run the whole test suite
	$(BIN)/python -m pytest

lint: $(STAMP) ## ruff over src, tests and benchmarks; mypy over src/dcpipelines/core
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy src/dcpipelines/core

viz: install ## open the pipeline graph in kedro-viz
	$(BIN)/kedro viz run

mlflow-ui: install ## open the MLflow UI on the local store
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db --port 5000

clean: ## remove generated data and reports (keeps raw data, the MLflow store and .venv)
	find data -mindepth 2 -type f -not -path 'data/01_raw/*' -not -name .gitkeep -not -name .gitignore -delete
	find data -mindepth 2 -type d -empty -not -path 'data/01_raw*' -delete
	rm -rf build

clean-tracking: ## also delete the local MLflow store (every recorded run!)
	rm -rf mlflow.db mlruns

dvc-yaml: install ## regenerate dvc.yaml from the registered pipelines (after adding one)
	$(BIN)/python -m dcpipelines.dvc_stages
