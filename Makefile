# Rentian: `make run` starts the bot with the demo engagement; `make test` runs every test;
# `make bench` measures Rentian next to bare references and peers (docs/benchmarks.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test bench lint typecheck format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

# Creates data/rentian.db (or migrates it), applies the demo engagement (a no-op once
# applied and unchanged), then serves on 127.0.0.1:8080.
run: $(VENV)/.installed
	$(BIN)/rentian init --demo
	$(BIN)/rentian serve

# The tests run in parallel (pytest-xdist), one worker per core (`make test WORKERS=0`: in one
# process); each worker has its own SQLite template and PostgreSQL database (tests/conftest.py).
# Workers steal each other's queued tests, so one slow file does not leave a core idle at the end.
WORKERS ?= auto

test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n $(WORKERS) --dist worksteal

# `make bench SMOKE=1`: tiny sizes, no targets judged, a failing benchmark fails (CI's run);
# `make bench BENCH="echo cli"`: only those. Results: benchmarks/results/<UTC time>.json.
bench: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks.run $(if $(SMOKE),--smoke) $(BENCH)

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
