# The README's two commands: `make up` (start everything) and `make test` (run the tests).
# Both create .venv at the repo root on first use and reinstall when pyproject.toml changes.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: up test lint format install clean mutants

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[worker,dev]'
	touch $@

install: $(INSTALLED)

up: $(INSTALLED)
	$(BIN)/trainboard up

test: $(INSTALLED)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Break each guarantee in a scratch copy (tools/mutants.py) and check its tests fail; MUTANTS_ARGS="-k spool".
mutants: $(INSTALLED)
	$(BIN)/python tools/mutants.py $(MUTANTS_ARGS)

lint: $(INSTALLED)
	$(BIN)/ruff check backend worker trainboard tests bench tools
	$(BIN)/ruff format --check backend worker trainboard tests bench tools
	$(BIN)/mypy backend worker trainboard

format: $(INSTALLED)
	$(BIN)/ruff check --fix backend worker trainboard tests bench tools
	$(BIN)/ruff format backend worker trainboard tests bench tools

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
