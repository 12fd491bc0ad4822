# `make test` is the one command a fresh machine needs: it builds .venv, installs the package with
# its test extras, makes sure graphviz's `dot` is on the PATH, and runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo
SITE := build/site
SITE_STAMP := $(VENV)/.installed-site
# npm writes this file on every install: the stamp that node_modules matches the lock.
NODE_STAMP := node_modules/.package-lock.json

.PHONY: test test-fast test-notorch demo bench system-deps install-graphviz clean

# Lint first, so a lint failure fails the run (and CI) before the slower tests start. Then the
# tests without PyTorch in a venv of their own (the torch tests skip there), then everything.
test: $(STAMP) system-deps test-notorch $(NODE_STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

# Your own loop: no million-deep graphs, notebooks or browser pages.
test-fast: $(STAMP) system-deps
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -m "not slow"

# The suite in a venv with the test tools but no PyTorch: every test that does not compare with
# it must run there; the oracle's tests skip with the reason.
NOTORCH := .venv-notorch
test-notorch: system-deps $(NOTORCH)/.installed
	$(NOTORCH)/bin/python -m pytest -q -m "not slow" -p no:cacheprovider

$(NOTORCH)/.installed: setup.cfg pyproject.toml $(wildcard */__init__.py)
	$(PYTHON) -m venv $(NOTORCH)
	$(NOTORCH)/bin/python -m pip install --quiet --upgrade pip
	$(NOTORCH)/bin/python -m pip install --quiet -e '.[test-notorch]'
	touch $@

# The static site (docs/site.md): Pyodide and viz-js from npm (pinned by package-lock.json), the
# notebooks rendered by nbconvert, all in build/site; `make serve-site` serves it on 127.0.0.1.
.PHONY: site serve-site

site: $(SITE_STAMP) $(NODE_STAMP)
	$(BIN)/python -m apps.site.build $(SITE)

serve-site: site
	$(BIN)/python -m apps.site.serve $(SITE) $(ARGS)

$(SITE_STAMP): $(BIN)/python setup.cfg pyproject.toml $(wildcard */__init__.py)
	$(BIN)/python -m pip install --quiet -e '.[site]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm is missing: install Node.js 20 or newer" >&2; exit 1; }
	npm ci --ignore-scripts --no-audit --no-fund
	touch $@

# The demo needs only the package and its demo extra, not the test tools.
demo: $(DEMO_STAMP) system-deps
	$(BIN)/python -m nn.demo

# The live training page: installs its web library (tornado) and serves it on a free local port.
.PHONY: playground
playground: $(BIN)/python system-deps
	$(BIN)/python -m pip install --quiet -e '.[playground,draw]'
	$(BIN)/python -m nn.playground $(ARGS)

bench: $(STAMP) system-deps
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/bench.py

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Packages are listed too: an editable install maps the top-level packages it saw when made.
$(STAMP): $(BIN)/python setup.cfg pyproject.toml $(wildcard */__init__.py)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

$(DEMO_STAMP): $(BIN)/python setup.cfg pyproject.toml $(wildcard */__init__.py)
	$(BIN)/python -m pip install --quiet -e '.[demo]'
	touch $@

# System graphviz provides the `dot` program the Python package drives.
system-deps:
	@command -v dot >/dev/null 2>&1 || $(MAKE) --no-print-directory install-graphviz

install-graphviz:
	@if command -v apt-get >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; \
	  else echo "graphviz is missing: run 'apt-get install graphviz' as root" >&2; exit 1; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq graphviz; \
	elif command -v brew >/dev/null 2>&1; then brew install graphviz; \
	else echo "graphviz is missing: install it with your system's package manager (it provides 'dot')" >&2; exit 1; fi

clean:
	rm -rf $(VENV) $(NOTORCH) build *.egg-info node_modules
