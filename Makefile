# hypergraph-grpc: one Makefile, one Python environment (.venv at the root).
#   make run        set up if needed, serve the demo graphs on 127.0.0.1:50051
#   make test       set up if needed, run every test (Python and each client language)
#   make lint       buf lint + ruff
#   make gen        regenerate committed code from protos/
#   make check-gen  fail when committed generated code is stale
#   make bench      benchmarks -> bench/results/*.json and a table
# Per-language targets live in mk/*.mk and register themselves in TEST_TARGETS / GEN_TARGETS.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ROOT    := $(abspath .)
VENV    := $(ROOT)/.venv
PY      := $(VENV)/bin/python
STAMPS  := $(ROOT)/.stamps
BUF     := $(ROOT)/protos/node_modules/.bin/buf
HOST    ?= 127.0.0.1
PORT    ?= 50051

# Debian packages the project needs; mk/*.mk fragments may add to it.
APT_PACKAGES :=
TEST_TARGETS := test-python
GEN_TARGETS  := gen-python
BENCH_TARGETS := bench-python
GEN_PATHS    := hypergraph_grpc/gen

-include mk/*.mk

.PHONY: help install deps-apt run test test-python test-slow lint gen gen-python check-gen bench bench-python clean

help:
	@sed -n '2,9p' Makefile

# --- setup -------------------------------------------------------------------

# Install the Debian packages that are missing (a new machine has no package lists).
deps-apt:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

$(STAMPS)/venv: pyproject.toml | $(STAMPS)
	@[ -x $(PY) ] || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

$(STAMPS)/buf: protos/package.json | $(STAMPS)
	cd protos && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(STAMPS):
	@mkdir -p $@

install: deps-apt $(STAMPS)/venv $(STAMPS)/buf

# --- run ---------------------------------------------------------------------

run: install
	$(VENV)/bin/hypergraph-grpc serve --host $(HOST) --port $(PORT)

# --- generated code ------------------------------------------------------------

gen: install $(GEN_TARGETS)

gen-python: $(STAMPS)/venv
	$(PY) scripts/gen_python.py

# Regenerate, then fail if anything under the generated folders differs from git.
check-gen: gen
	@changed=$$(git status --porcelain -- $(GEN_PATHS)); \
	if [ -n "$$changed" ]; then \
	  echo "generated code is stale; run 'make gen' and commit:"; echo "$$changed"; \
	  git --no-pager diff --stat -- $(GEN_PATHS); exit 1; \
	fi; echo "generated code is up to date"

# --- quality -------------------------------------------------------------------

lint: install
	cd protos && $(BUF) lint
	$(VENV)/bin/ruff check hypergraph hypergraph_grpc tests bench scripts
	$(VENV)/bin/ruff format --check hypergraph hypergraph_grpc tests bench scripts

# --- tests ---------------------------------------------------------------------

test: install check-gen lint
	@$(MAKE) --no-print-directory $(TEST_TARGETS)

test-python: $(STAMPS)/venv
	$(PY) -m pytest -q -p no:cacheprovider

# Soak tests marked @pytest.mark.slow (none today: load runs live in bench/); exit 5 = none found.
test-slow: $(STAMPS)/venv
	$(PY) -m pytest -q -p no:cacheprovider -m slow || [ $$? -eq 5 ]

# --- benchmarks ----------------------------------------------------------------

bench: install
	@$(MAKE) --no-print-directory $(BENCH_TARGETS)
	$(PY) bench/merge_clients.py

bench-python: $(STAMPS)/venv
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b; done

clean:
	rm -rf $(STAMPS) $(VENV) protos/node_modules
