# Two commands do all the setup on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8501

.PHONY: run test test-heavy test-fast chromium setup lint typecheck bench clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-tensorboard.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-tensorboard.txt
	touch $(STAMP)

# Debian's Chromium for the real-browser tests (Playwright drives /usr/bin/chromium).
chromium:
	@test -x /usr/bin/chromium || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

run: setup
	$(VENV)/bin/streamlit run streamlit_app.py --server.port $(PORT) --server.headless true

test: setup chromium lint typecheck
	$(PY) -m pytest

# The 1-epoch runs of the large and the wide/deep architectures too (~20 min more on 2 cores).
test-heavy: setup
	EUROSAT_HEAVY_TESTS=1 $(PY) -m pytest -m slow tests/test_architectures.py

test-fast: setup
	$(PY) -m pytest -m "not slow and not e2e"

lint: setup
	$(PY) -m ruff check eurosat pages tests benchmarks gpu streamlit_app.py

# Type check of the library (configuration in pyproject.toml [tool.mypy]).
typecheck: setup
	$(PY) -m mypy

BENCH_REPEATS ?= 7
bench: setup
	$(PY) benchmarks/bench_all.py --repeats $(BENCH_REPEATS)
	$(PY) benchmarks/bench_scene.py

clean:
	rm -rf $(VENV) .pytest_cache
