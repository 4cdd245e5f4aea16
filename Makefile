# proseflow — `make help` lists the targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SOURCE ?= seeds/
OUTPUT ?= outputs/
PORT   ?= 4200

# Prefect's quiet, offline settings come from flows/environment.py, which every entry point applies.

.PHONY: help install run test lint server bench clean

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed 's/\$$(PORT)/$(PORT)/g' | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

# pip -qq prints errors only: setuptools notes every editable install, which is no fault.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --upgrade pip
	$(BIN)/python -m pip install -qq -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv with proseflow and its dev tools

run: $(STAMP)  ## run the pipeline on seeds/ into outputs/ (embedded Prefect API)
	$(BIN)/proseflow run $(SOURCE) --output $(OUTPUT)

test: $(STAMP)  ## run the test suite
	$(BIN)/python -m pytest

lint: $(STAMP)  ## ruff lint and format check
	$(BIN)/ruff check flows tasks tests bench
	$(BIN)/ruff format --check flows tasks tests bench

server: $(STAMP)  ## start a local Prefect server and UI on 127.0.0.1:$(PORT)
	$(BIN)/proseflow server --port $(PORT)

bench: $(STAMP)  ## benchmark against ../shared/bench/naive_textstat.py (BENCH_ARGS=--quick checks the bench itself); writes bench/results/
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:  ## remove outputs and caches (keeps .venv)
	rm -rf outputs/* .pytest_cache .ruff_cache .hypothesis
