# hypergraph-grpc: one Makefile, one Python environment (.venv at the root).
#   make run         set up if needed, serve the demo graphs: gRPC on 127.0.0.1:50051, HTTP on :8080
#   make run-cluster redis-server, 2 replicas and nginx on local ports (Ctrl-C stops all)
#   make test        set up if needed, run every test (Python and each client language)
#   make install     install exactly the locked dependencies (uv.lock, lockfiles per language)
#   make lock        re-resolve uv.lock after editing pyproject.toml (UPGRADE=1: newest allowed)
#   make check-lock  fail when pyproject.toml and uv.lock disagree (part of make test)
#   make test-latest the Python suite against the newest versions pyproject.toml allows
#   make lint        buf lint + ruff
#   make gen         regenerate committed code from protos/
#   make check-gen   fail when committed generated code is stale
#   make bench       benchmarks -> bench/results/*.json and a table
#   make fuzz        long fuzzing run of every RPC (make test runs a short one)
# Per-language targets live in mk/*.mk and register themselves in TEST_TARGETS / GEN_TARGETS.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ROOT    := $(abspath .)
VENV    := $(ROOT)/.venv
PY      := $(VENV)/bin/python
STAMPS  := $(ROOT)/.stamps
BUF     := $(ROOT)/protos/node_modules/.bin/buf
# uv installs the Python environment from uv.lock; it is itself installed, by hash, from
# scripts/uv-requirements.txt into its own venv (uv sync would remove it from .venv).
UV_HOME := $(ROOT)/.tools/uv
UV      := $(UV_HOME)/bin/uv
LATEST  := $(ROOT)/.venv-latest
# The machine's python3, never a downloaded interpreter; .venv is the project environment.
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
UV_PYTHON ?= python3
PY_EXTRAS := --extra server --extra llm --extra cluster --extra http --extra uvloop --extra observability
HOST    ?= 127.0.0.1
PORT    ?= 50051
FUZZ_EXAMPLES ?= 1500
HTTP_PORT ?= 8080

# Debian packages the project needs; mk/*.mk fragments may add to it.
APT_PACKAGES :=
TEST_TARGETS := test-python
GEN_TARGETS  := gen-python
BENCH_TARGETS := bench-python
GEN_PATHS    := hypergraph_grpc/gen

-include mk/*.mk

.PHONY: help install deps-apt run test test-python test-slow fuzz test-latest lock check-lock lint gen gen-python check-gen bench bench-python clean

help:
	@sed -n '2,14p' Makefile

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

$(UV): scripts/uv-requirements.txt
	@mkdir -p $(ROOT)/.tools
	@printf '*\n' > $(ROOT)/.tools/.gitignore
	python3 -m venv $(UV_HOME)
	$(UV_HOME)/bin/pip install -q --no-deps --require-hashes -r scripts/uv-requirements.txt
	@touch $@

# Exactly the locked set (hashes checked), nothing else: `uv sync` also removes strays.
# --locked refuses a uv.lock that no longer matches pyproject.toml (run `make lock`).
$(STAMPS)/venv: pyproject.toml uv.lock $(UV) | $(STAMPS)
	$(UV) sync --locked --python $(UV_PYTHON) $(PY_EXTRAS)
	@touch $@

lock: $(UV)
	$(UV) lock --python $(UV_PYTHON) $(if $(UPGRADE),--upgrade,)

check-lock: $(UV)
	@$(UV) lock --check --python $(UV_PYTHON) \
	  || { echo "uv.lock does not match pyproject.toml; run 'make lock' and commit uv.lock"; exit 1; }

$(STAMPS)/buf: protos/package.json | $(STAMPS)
	cd protos && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(STAMPS):
	@mkdir -p $@

install: deps-apt $(STAMPS)/venv $(STAMPS)/buf

# --- run ---------------------------------------------------------------------

# gRPC on PORT; Connect (JSON and binary), gRPC-Web and the live-runs page on HTTP_PORT.
run: install
	@echo "serving gRPC on $(HOST):$(PORT) and http://$(HOST):$(HTTP_PORT)/ (Connect, the web page)"
	$(VENV)/bin/hypergraph-grpc serve --host $(HOST) --port $(PORT) --http-port $(HTTP_PORT)

# --- generated code ------------------------------------------------------------

gen: install $(GEN_TARGETS)

gen-python: $(STAMPS)/venv $(STAMPS)/buf
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

test: install check-lock check-gen lint
	@$(MAKE) --no-print-directory $(TEST_TARGETS)

test-python: $(STAMPS)/venv
	$(PY) -m pytest -q -p no:cacheprovider

# Upstream drift on purpose: the newest versions pyproject.toml allows, in a venv of their own
# (.venv-latest), then the Python suite. Not part of `make test`: a new release must not break CI.
test-latest: $(UV)
	$(UV) venv --quiet --allow-existing --python $(UV_PYTHON) $(LATEST)
	$(UV) pip install --quiet --python $(LATEST)/bin/python --upgrade \
	  -e '.[server,llm,cluster,http,uvloop,observability]' --group pyproject.toml:dev
	@$(UV) pip list --python $(LATEST)/bin/python 2>/dev/null \
	  | grep -i -E '^(grpcio|protobuf|anthropic|openai|httpx|pytest) ' || true
	$(LATEST)/bin/python -m pytest -q -p no:cacheprovider

# Soak tests marked @pytest.mark.slow (none today: load runs live in bench/); exit 5 = none found.
# Generated requests against every RPC with random seeds (tests/service/test_fuzz.py);
# FUZZ_EXAMPLES sets how many per property.
fuzz: $(STAMPS)/venv
	HYPERGRAPH_FUZZ=long HYPERGRAPH_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) \
	  $(PY) -m pytest -q -p no:cacheprovider --timeout 0 tests/service/test_fuzz.py

test-slow: $(STAMPS)/venv
	$(PY) -m pytest -q -p no:cacheprovider -m slow || [ $$? -eq 5 ]

# --- benchmarks ----------------------------------------------------------------

bench: install
	@$(MAKE) --no-print-directory $(BENCH_TARGETS)
	$(PY) bench/merge_clients.py

bench-python: $(STAMPS)/venv
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b; done

clean:
	rm -rf $(STAMPS) $(VENV) $(LATEST) $(ROOT)/.venv-client $(UV_HOME) protos/node_modules
