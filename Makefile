# OpsConsole: `make run` serves the console, `make test` runs the tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DEPS_HASH := $(shell sha1sum pyproject.toml | cut -c1-12)
# Two sets: `run` needs the runtime dependencies only (about 300 MiB); the tests, the
# linter and the benchmarks need the dev extras too (playwright and all, about 500 MiB).
RUN_STAMP := $(VENV)/.deps-run-$(DEPS_HASH)
DEV_STAMP := $(VENV)/.deps-dev-$(DEPS_HASH)
DEPS_SET = $(BIN)/python -c 'import sys, tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("\n".join(p["dependencies"] + (p["optional-dependencies"]["dev"] if sys.argv[1] == "dev" else [])))'
PIP_INSTALL := $(BIN)/python -m pip install --disable-pip-version-check --progress-bar on

.PHONY: run setup test test-postgres e2e fuzz bench lint typecheck clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "OpsConsole needs Python 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Dependencies are pinned in pyproject.toml; reinstall whenever it changes. pip shows
# what it fetches: the first run takes about a minute and should not look stuck.
$(RUN_STAMP): pyproject.toml | $(BIN)/python
	@mkdir -p var
	@$(DEPS_SET) run > var/requirements-run.txt
	@echo "Installing the runtime dependencies into $(VENV) (about a minute the first time)..."
	$(PIP_INSTALL) -r var/requirements-run.txt
	@rm -f $(VENV)/.deps-*
	@touch $@

# The dev set includes the runtime set, so it stands for both.
$(DEV_STAMP): pyproject.toml | $(BIN)/python
	@mkdir -p var
	@$(DEPS_SET) dev > var/requirements-dev.txt
	@echo "Installing the runtime and development dependencies into $(VENV) (a few minutes the first time)..."
	$(PIP_INSTALL) -r var/requirements-dev.txt
	@rm -f $(VENV)/.deps-*
	@touch $@ $(RUN_STAMP)

setup: $(RUN_STAMP)
	$(BIN)/python manage.py setup_console

# serve migrates, loads defaults and creates the admin (printing its password once).
run: $(RUN_STAMP)
	$(BIN)/python manage.py serve

test: $(DEV_STAMP)
	$(BIN)/python -m pytest -m "not e2e" -q

# The same suite against PostgreSQL and Redis (see .ci/run for the URLs CI uses).
test-postgres: $(DEV_STAMP)
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test} \
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/0} \
	$(BIN)/python -m pytest -m "not e2e" -q

# Browser tests: Debian's chromium driven by playwright; axe-core from npm (.ci/node).
e2e: $(DEV_STAMP)
	@test -f .ci/node/node_modules/axe-core/axe.min.js || npm ci --prefix .ci/node --no-audit --no-fund
	$(BIN)/python -m pytest -m e2e -q

# schemathesis against a served console (embedded; production mode with DATABASE_URL
# and REDIS_URL, that database made afresh): fails on any 5xx or undocumented answer.
fuzz: $(DEV_STAMP)
	$(BIN)/python tools/fuzz.py

bench: $(DEV_STAMP)
	$(BIN)/python bench/run.py

# ruff, then the import contracts in pyproject.toml (the apps' one-way order).
lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# mypy with django-stubs over every app and the tests; what it checks is [tool.mypy] in
# pyproject.toml.
typecheck: $(DEV_STAMP)
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var
