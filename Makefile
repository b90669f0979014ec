# kfsync — `make help` lists the targets. Every target creates .venv and installs what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): setup.cfg pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,semantic]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install kfsync with its test and dev tools

demo: $(STAMP) ## sandbox + all services + ~20 signed sample webhooks, then a summary table
	$(BIN)/kfsync demo

test: $(STAMP) ## unit and integration tests (real Redis, Celery worker, sandbox; SQLite and PostgreSQL)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP) ## ruff and mypy --strict
	$(BIN)/ruff check .
	$(BIN)/mypy

run: $(STAMP) ## web, worker, beat and flower in the foreground (embedded Redis if none answers)
	$(BIN)/kfsync run

bench: $(STAMP) ## benchmarks; results go to docs/benchmarks.md
	$(BIN)/python -m bench

clean: ## remove the virtualenv, caches and local state in var/
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache *.egg-info

.PHONY: help install demo test lint run bench clean
