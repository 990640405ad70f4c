# Two commands for a fresh machine with Python 3.11 and make:
#   make demo   creates .venv (with the `vpp` command) and runs one day-ahead cycle of the sample park
#   make test   creates .venv and runs the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OUT    ?= out/demo

.PHONY: demo test lint serve clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/vpp demo --out $(OUT)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy vpp/domain forecasting bidding

serve: $(STAMP)
	$(BIN)/vpp serve

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache parkvpp.sqlite
