# OpsConsole: `make run` serves the console, `make test` runs the tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DEPS_STAMP := $(VENV)/.deps-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: run setup test test-postgres e2e bench lint clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "OpsConsole needs Python 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Dependencies are pinned in pyproject.toml; reinstall whenever it changes.
$(DEPS_STAMP): pyproject.toml | $(BIN)/python
	@mkdir -p var
	$(BIN)/python -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("\n".join(p["dependencies"] + p["optional-dependencies"]["dev"]))' > var/requirements.txt
	$(BIN)/python -m pip install --quiet -r var/requirements.txt
	@rm -f $(VENV)/.deps-*
	@touch $@

setup: $(DEPS_STAMP)
	$(BIN)/python manage.py setup_console

# serve migrates, loads defaults and creates the admin (printing its password once).
run: $(DEPS_STAMP)
	$(BIN)/python manage.py serve

test: $(DEPS_STAMP)
	$(BIN)/python -m pytest -m "not e2e" -q

# The same suite against PostgreSQL and Redis (see .ci/run for the URLs CI uses).
test-postgres: $(DEPS_STAMP)
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test} \
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/0} \
	$(BIN)/python -m pytest -m "not e2e" -q

# Browser tests: Debian's chromium driven by playwright.
e2e: $(DEPS_STAMP)
	$(BIN)/python -m pytest -m e2e -q

bench: $(DEPS_STAMP)
	$(BIN)/python bench/run.py

lint: $(DEPS_STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) var
