# flexreg: `make run` serves the API with a demo city; `make test` runs the whole suite.
# Both set up what they need (virtualenv, dependencies, database) on a machine with only Python 3.11+.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1## address make run listens on
PORT ?= 8000## port make run listens on (a port already in use is refused)
WORKERS ?= 1## granian worker processes for make run
LOAD_ARGS ?= --duration 60 --clients 200 --workers 2 --think 2## options of make load (python -m bench.load --help)

.DEFAULT_GOAL := help

.PHONY: help run test bench load crash fuzz lint check migrate demo backup-check clean

help: ## Show the targets and the variables they take
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'
	@echo "Variables (e.g. make run PORT=8001):"
	@grep -E '^[A-Z_]+ \?= [^#]*## ' $(MAKEFILE_LIST) \
		| awk -F' \\?= |## ' '{printf "  %-8s %s (default %s)\n", $$1, $$3, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("flexreg needs Python 3.11+") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP) ## Serve the API with the demo city (embedded PostgreSQL under ./var unless DATABASE_URL is set)
	@$(BIN)/flexreg serve --demo --host $(HOST) --port $(PORT) --workers $(WORKERS)

demo: $(STAMP) ## Build the demo city (idempotent) and list its accounts, without serving
	@$(BIN)/flexreg demo

test: $(STAMP) ## Run the whole test suite (embedded PostgreSQL under ./var unless DATABASE_URL is set)
	$(BIN)/pytest

bench: $(STAMP) ## Measure throughput and latency against same-run baselines
	$(BIN)/python -m bench

load: $(STAMP) ## Mixed load on flexreg serve --workers 2: 200 clients pausing like people for 60 s, then with no pause, beside the bare baseline (LOAD_ARGS)
	$(BIN)/python -m bench.load $(LOAD_ARGS)

crash: $(STAMP) ## SIGKILL two servers at random under write load, then check nothing was lost or done twice (KILLS, DURATION)
	$(BIN)/python -m bench.crash --kills $(or $(KILLS),10) --duration $(or $(DURATION),90)

fuzz: $(STAMP) ## Fuzz a running service from its OpenAPI as each demo role (FUZZ_URL, default http://127.0.0.1:8000)
	FUZZ_URL=$(or $(FUZZ_URL),http://$(HOST):$(PORT)) .ci/fuzz

lint: $(STAMP) ## ruff (lint + format check) and mypy --strict on src/
	$(BIN)/ruff check src tests bench alembic
	$(BIN)/ruff format --check src tests bench alembic
	$(BIN)/mypy

check: lint test ## Everything CI checks

migrate: $(STAMP) ## Apply migrations
	$(BIN)/flexreg migrate

backup-check: $(STAMP) ## Dump a demo city, restore it elsewhere, verify it (docs/deploy.md; DATABASE_URL or embedded)
	$(BIN)/pytest -q tests/test_backup_restore.py

clean: ## Remove the virtualenv and local data (./var)
	rm -rf $(VENV) var
