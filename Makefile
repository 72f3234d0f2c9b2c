# ketaclinic: two commands. `make run` serves the demo clinic; `make test` runs every check.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8000
export KETACLINIC_VAR_DIR ?= $(CURDIR)/var

.PHONY: install run test test-fast lint bench bench-analytics clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: export KETACLINIC_MODE = demo
run: install
	$(PY) -m ketaclinic.manage migrate --noinput
	$(PY) -m ketaclinic.manage createcachetable
	$(PY) -m ketaclinic.manage collectstatic --noinput --verbosity 0
	$(PY) -m ketaclinic.manage demo
	$(PY) -m ketaclinic.manage serve --port $(PORT)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	KETACLINIC_MODE=test $(VENV)/bin/mypy

test: lint
	$(VENV)/bin/pytest -n 2 --dist loadgroup --cov --cov-report=term-missing:skip-covered

test-fast: install
	$(VENV)/bin/pytest -x -q -m "not browser and not smoke"

bench: install
	$(PY) bench/pk_bench.py

# Needs PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/kc_analytics_bench).
PATIENTS ?= 2000
bench-analytics: install
	$(PY) bench/analytics_bench.py --patients $(PATIENTS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .coverage
