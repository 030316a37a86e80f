# Everything a fresh machine needs: `make run` and `make test`.
VENV    ?= .venv
PYTHON  ?= python3
BIN     := $(VENV)/bin
SOURCES := core store gateway adapters workflows
CHECKED := $(SOURCES) tests benchmarks

.PHONY: run test lint typecheck bench system-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Stamps make re-runs instant; they are redone whenever pyproject.toml changes.
$(VENV)/.run-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	@touch $@

$(VENV)/.test-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $@ $(VENV)/.run-deps

# Browser tests drive Debian's Chromium (Playwright cannot download its own here), with
# Noto CJK so Chinese renders in screenshots;
# PostgreSQL store tests start a throw-away cluster with Debian's server binaries.
system-deps:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing chromium (browser tests)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends chromium >/dev/null; \
	  else \
	    echo "note: chromium is missing and this is not root; browser tests will skip"; \
	  fi; \
	fi
	@if ! fc-list 2>/dev/null | grep -q "Noto Sans CJK" || ! fc-list 2>/dev/null | grep -qi emoji; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing fonts-noto-cjk and fonts-noto-color-emoji (browser screenshots)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends fonts-noto-cjk fonts-noto-color-emoji >/dev/null; \
	  else \
	    echo "note: fonts-noto-cjk is missing and this is not root; Chinese shows as boxes in screenshots"; \
	  fi; \
	fi
	@if [ ! -d /usr/lib/postgresql ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing postgresql (PostgreSQL store tests)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends postgresql >/dev/null; \
	  else \
	    echo "note: postgresql is missing and this is not root; PostgreSQL tests will skip"; \
	  fi; \
	fi

run: $(VENV)/.run-deps
	$(BIN)/carecheck run

lint: $(VENV)/.test-deps
	$(BIN)/ruff check $(CHECKED)
	$(BIN)/ruff format --check $(CHECKED)

typecheck: $(VENV)/.test-deps
	$(BIN)/mypy --strict $(SOURCES)

test: $(VENV)/.test-deps system-deps lint typecheck
	$(BIN)/python -m pytest

bench: $(VENV)/.test-deps
	$(BIN)/python benchmarks/engine.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
