# kfsync — `make help` lists the targets. Every target creates .venv and installs what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Two install profiles: RUNTIME is kfsync alone (demo, run); DEV adds the test and dev tools
# and the optional semantic ranking that tests exercise (test, lint, bench).
RUNTIME := $(VENV)/.installed-runtime
DEV := $(VENV)/.installed-dev

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-8s %s\n", $$1, $$2}'

$(RUNTIME): setup.cfg pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@touch $(RUNTIME)

$(DEV): $(RUNTIME)
	$(BIN)/python -m pip install --quiet -e '.[dev,semantic]'
	@touch $(DEV)

install: $(DEV) ## create .venv and install kfsync with its test and dev tools

demo: $(RUNTIME) ## sandbox + all services + ~20 signed sample webhooks, then a summary table
	$(BIN)/kfsync demo

# The suite runs in TEST_WORKERS processes (pytest-xdist); each backend's integration stack stays
# whole in one of them (tests/conftest.py groups it). TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2
test: $(DEV) ## unit and integration tests (real Redis, Celery worker, sandbox; SQLite and PostgreSQL)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

lint: $(DEV) ## ruff, mypy --strict and the package layers (import-linter, setup.cfg)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

RUN_ARGS ?= --sandbox
run: $(RUNTIME) ## every service against the sandbox, preconfigured (your shop's .env: RUN_ARGS=)
	$(BIN)/kfsync run $(RUN_ARGS)

bench: $(DEV) ## benchmarks; results go to docs/benchmarks.md
	$(BIN)/python -m bench

clean: ## remove the virtualenv, caches and local state in var/
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .import_linter_cache *.egg-info

.PHONY: help install demo test lint run bench clean
