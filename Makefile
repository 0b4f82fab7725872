# medlake — two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO_PATIENTS ?= 2000
DEMO_DIR ?= demo-hospital
DATA_DIR ?= medlake-data
PORT ?= 8000

.PHONY: install demo test lint format bench clean help

help:
	@echo "make install  - project-local virtualenv (.venv) with pinned dependencies"
	@echo "make demo     - synthesise a $(DEMO_PATIENTS)-patient hospital, ingest it, run NLP and MPI, serve the UI"
	@echo "make test     - the test suite (SQLite always; PostgreSQL at 127.0.0.1:5432 when it answers)"
	@echo "make lint     - ruff + mypy"

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel
	$(BIN)/pip install -q -c requirements.lock -e '.[dev]'
	touch $@

demo: install
	$(BIN)/medlake demo --patients $(DEMO_PATIENTS) --out $(DEMO_DIR) --data-dir $(DATA_DIR) --port $(PORT)

test: install
	$(BIN)/pytest -p no:cacheprovider

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

format: install
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

clean:
	rm -rf $(VENV) $(DEMO_DIR) $(DATA_DIR) .mypy_cache .ruff_cache .pytest_cache
