# The README's two commands: `make up` (start everything) and `make test` (run the tests).
# Both create .venv at the repo root on first use and reinstall when pyproject.toml changes. `make up` installs
# what running needs (the `worker` extra: torch); `make test`, `lint` and the rest add the developer tools (`dev`).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.installed-runtime
INSTALLED := $(VENV)/.installed
comma := ,

.PHONY: up test test-js lint format install clean mutants

define pip_install
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(1)]'
endef

$(RUNTIME): pyproject.toml
	$(call pip_install,worker)
	touch $@

# The developer install holds the runtime one: it refreshes both stamps.
$(INSTALLED): pyproject.toml
	$(call pip_install,worker$(comma)dev)
	touch $@ $(RUNTIME)

install: $(INSTALLED)

up: $(RUNTIME)
	$(BIN)/trainboard up

# Two processes (pytest-xdist), each test module on one of them (its module-scoped stack stays in one process),
# each with its own Postgres database and Redis database (tests/conftest.py): about 9 minutes on 2 cores, where
# one process takes about 17. TEST_WORKERS=0 runs everything in this process; more suit a machine with more cores.
TEST_WORKERS ?= 2
test: $(INSTALLED)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The frontend's pure helpers under Node's test runner (pytest runs them too, through tests/frontend/, when Node is
# installed; the dashboard itself needs no Node.js).
test-js:
	node --test tests/frontend/

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
