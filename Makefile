# Meld: `make run` starts it, `make test` tests it, `make bench` measures it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HASH   := $(shell cat pyproject.toml | sha1sum | cut -c1-12)
# what running needs (`make run`), and the test tools on top (`make test`, lint, bench)
STAMP      := $(VENV)/.installed-run-$(HASH)
TEST_STAMP := $(VENV)/.installed-test-$(HASH)
# Settings come from MELD_* variables and ./.env (see .env.example); without either the
# database is ./var/meld.db. Nothing is exported here: it would hide the .env.

.PHONY: run test lint bench install install-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@rm -f $(VENV)/.installed-test-*
	@touch $(TEST_STAMP)

install: $(STAMP)

install-test: $(TEST_STAMP)

run: install
	$(BIN)/meld migrate
	$(BIN)/meld serve --no-migrate

lint: install-test
	$(BIN)/ruff check .

# two workers, one test file at a time each (module fixtures such as Chromium stay shared)
TEST_WORKERS ?= 2

test: install-test lint
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile

bench: install-test
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .hypothesis
