# 志愿先行 · Volunteers First — two commands: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	  command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
FLASK := APP_CONFIG=development $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test test-dates lint i18n screenshots clean help bench bench-quick

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

# The moved clocks the calendar-sensitive tests (tests/dated.py) run on again: a Friday 23:30
# in Qingdao; a Friday 23:30 UTC (Saturday 07:30 in Qingdao: the local and UTC dates differ);
# a Saturday; a Sunday evening; the last evening of a month and of a year.
DATES ?= 2026-12-04T23:30:00+08:00 2026-12-04T23:30:00+00:00 2026-12-12T10:00:00+08:00 \
	2026-12-13T21:00:00+08:00 2026-11-30T23:30:00+08:00 2026-12-31T23:30:00+08:00

# On SQLite alone by default (the calendar rules are computed in Python over naive UTC on
# both databases, and the main run covers PostgreSQL); DATED_DATABASE_URL=… adds PostgreSQL.
DATED_DATABASE_URL ?=

test: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n auto $(PYTEST_ARGS)
	@$(MAKE) --no-print-directory test-dates

test-dates: $(VENV)/.dev
	@for clock in $(DATES); do \
	  echo "make test: the calendar-sensitive tests again, on the clock VOLUNTEER_CLOCK=$$clock"; \
	  VOLUNTEER_CLOCK=$$clock TEST_DATABASE_URL=$(DATED_DATABASE_URL) \
	    $(BIN)/python -m pytest -n auto -q -m dated -p no:cacheprovider \
	    $(DATED_ARGS) || exit 1; \
	done

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
