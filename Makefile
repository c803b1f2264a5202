# The two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Rebuilt only when the dependencies change, so a second `make run` is quick.
STAMP := $(VENV)/.installed-stamp

# The pen-drawn digits beside a development checkout (../shared, as in CI); on
# other machines training fetches them from UCI, or trains on MNIST alone.
PENDIGITS_DIR ?= $(wildcard $(abspath $(CURDIR)/../shared/datasets/pendigits))
export PENDIGITS_DIR

# A key for the test settings only: tests run with DJANGO_DEBUG off, like production.
TEST_ENV := DJANGO_DEBUG=0 DJANGO_SECRET_KEY=test-only-key-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz

.PHONY: install run test smoke lint format clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null \
	  || { echo "Python 3.11 is needed: install it or run 'make PYTHON=/path/to/python3.11 ...'" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Local development: debug on unless DJANGO_DEBUG says otherwise.
run: export DJANGO_DEBUG ?= 1
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py ensure_superuser
	$(BIN)/python manage.py ensure_bundled_model
	$(BIN)/python manage.py compile_models
	@echo "Starting web on http://$${HOST:-127.0.0.1}:$${PORT:-8000}/ with workers and beat; Ctrl-C stops them all."
	PATH="$(CURDIR)/$(BIN):$$PATH" exec $(BIN)/honcho start --procfile Procfile --env /dev/null --port $${PORT:-8000}

test: install
	$(TEST_ENV) $(BIN)/pytest $(ARGS)

# `make run` itself, end to end, on the embedded defaults (SQLite, filesystem broker).
smoke: install
	$(TEST_ENV) $(BIN)/pytest -m smoke tests/mnistsite/test_make_run_smoke.py $(ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache
