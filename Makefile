# 志愿先行 · Volunteers First — two commands: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	  command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
FLASK := APP_CONFIG=development $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test lint i18n screenshots clean help bench bench-quick

help:
	@echo "make run    set up .venv, migrate and seed the SQLite database, serve on http://$(HOST):$(PORT)"
	@echo "make test   set up the dev dependencies, run ruff and the whole pytest suite"
	@echo "make bench  the benchmarks at district scale (SQLite and PostgreSQL); writes docs/performance.md"
	@echo "make bench-quick  the same pipeline on small data (CI): exits 0 on a missed target"

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is needed (none found on PATH)." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.runtime

run: $(VENV)/.runtime
	$(FLASK) db upgrade
	$(FLASK) seed demo --if-empty
	@echo "Serving on http://$(HOST):$(PORT) with the job scheduler beside it (Ctrl+C stops both)"
	@export PUBLIC_BASE_URL=$${PUBLIC_BASE_URL:-http://$(HOST):$(PORT)}; \
	  $(FLASK) scheduler run > instance/scheduler.log 2>&1 & scheduler=$$!; \
	  trap 'kill $$scheduler 2>/dev/null' EXIT INT TERM; \
	  $(FLASK) run --host $(HOST) --port $(PORT)

test: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n auto $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .

i18n: $(VENV)/.dev
	$(BIN)/python tools/i18n.py update
	$(BIN)/python tools/i18n.py check

# Benchmarks (bench/run.py): gunicorn + wrk against a scale database of the bench's own.
bench: $(VENV)/.runtime
	$(BIN)/python bench/run.py --mode full $(BENCH_ARGS)

bench-quick: $(VENV)/.runtime
	$(BIN)/python bench/run.py --mode quick $(BENCH_ARGS)

screenshots: $(VENV)/.dev
	$(BIN)/python -m pytest tests/browser -q -p no:randomly --screenshots

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
