# Two commands on a fresh machine: `make lab` and `make test`. Both bootstrap .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_LAB := $(VENV)/.lab-installed
STAMP_TEST := $(VENV)/.test-installed
PORT ?= 8888
ALLOW_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

.PHONY: lab test lint format bench chaos clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP_LAB): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[lab]'
	touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[lab,test]'
	touch $@

lab: $(STAMP_LAB)
	cd notebooks && ../$(BIN)/jupyter lab --ServerApp.root_dir=. --port=$(PORT) $(ALLOW_ROOT) $(LAB_ARGS) 01_quickstart.ipynb

test: $(STAMP_TEST)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP_TEST)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP_TEST)
	$(BIN)/python -m bench tracking --n $(or $(N),1000) $(BENCH_ARGS)

chaos: $(STAMP_TEST)
	$(BIN)/python -m bench chaos --n $(or $(N),1000)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
