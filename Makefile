# ketaclinic: two commands. `make run` serves the demo clinic; `make test` runs every check.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8000
export KETACLINIC_VAR_DIR ?= $(CURDIR)/var

# Installs come from the hash-locked requirements/dev.txt (requirements/main.txt for a production
# server): every package at the locked version, every file checked against its hash, nothing
# resolved at install time (--no-deps). `make lock` changes the lock on purpose.
LOCK := requirements/dev.txt
PIP_INSTALL := $(PY) -m pip install --quiet --disable-pip-version-check

.PHONY: install run test test-db test-fast lint checks browser lock bench bench-analytics clean

$(STAMP): pyproject.toml requirements/main.txt $(LOCK)
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) --require-hashes --no-deps -r $(LOCK)
	$(PIP_INSTALL) --no-deps --no-build-isolation -e .
	$(PY) -m pip check --disable-pip-version-check
	touch $(STAMP)

install: $(STAMP)

# Links in emails point at SITE_URL: the port served here, unless SITE_URL is set.
run: export KETACLINIC_MODE = demo
run: install
	$(PY) -m ketaclinic.manage migrate --noinput
	$(PY) -m ketaclinic.manage createcachetable
	$(PY) -m ketaclinic.manage collectstatic --noinput --verbosity 0
	$(PY) -m ketaclinic.manage demo
	SITE_URL="$${SITE_URL:-http://127.0.0.1:$(PORT)}" $(PY) -m ketaclinic.manage serve --port $(PORT)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	KETACLINIC_MODE=test $(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

# Gates beside the linters: a model change without its migration fails here.
checks: install
	KETACLINIC_MODE=test $(PY) -m ketaclinic.manage makemigrations --check --dry-run

# The JavaScript the browser tests load into pages (axe-core, the accessibility checker): exactly
# the versions and hashes of package-lock.json (npm ci), no install scripts run.
NODE_STAMP := node_modules/.installed
$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm is required for the browser tests (Debian: apt-get install npm)"; exit 1; }
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

browser: install $(NODE_STAMP)
	@scripts/ensure-chromium $(PY)

# The clinical core's own tests must cover every line and branch of it (100%, pyproject.toml):
# measured on those tests alone, so nothing else in the suite counts towards it, and the rest of
# the suite runs without the tracer's cost (about a third of its time).
test: lint checks browser
	$(VENV)/bin/pytest -n 2 -q tests/clinical --cov --cov-report=term-missing:skip-covered
	$(VENV)/bin/pytest -n 2 --dist loadgroup --ignore=tests/clinical

# The suite alone, on the database DATABASE_URL names: CI's second engine. Lint, the migrations
# check and the clinical core's tests (pure functions: no database) do not depend on the engine;
# `make test` ran them.
test-db: browser
	$(VENV)/bin/pytest -n 2 --dist loadgroup --ignore=tests/clinical

test-fast: install
	$(VENV)/bin/pytest -x -q -m "not browser and not smoke"

# Refresh the lock on purpose: after changing a range in pyproject.toml (keeps every other pin),
# or with UPGRADE=1 to take the newest releases the ranges admit. Review the diff, run make test.
UV_COMPILE := $(VENV)/bin/uv pip compile pyproject.toml requirements/build.in --universal \
	--python-version 3.11 --generate-hashes --custom-compile-command "make lock" --quiet \
	$(if $(UPGRADE),--upgrade)
lock: install
	$(UV_COMPILE) -o requirements/main.txt
	$(UV_COMPILE) --extra dev -c requirements/main.txt -o requirements/dev.txt

bench: install
	$(PY) bench/pk_bench.py

# Needs PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/kc_analytics_bench).
PATIENTS ?= 2000
bench-analytics: install
	$(PY) bench/analytics_bench.py --patients $(PATIENTS)

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .mypy_cache .ruff_cache .coverage
