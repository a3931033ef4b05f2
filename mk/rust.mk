# Rust client (clients/rust): tests and benchmark.
# The messages and the RunnerService stub are generated at build time by build.rs
# (tonic-prost-build with the protoc of the protoc-bin-vendored crate) into
# clients/rust/target, so there is no gen-rust target and nothing generated is committed.
# Cargo caches crates in ~/.cargo, so a second run downloads nothing.

CARGO    ?= cargo
RUST_DIR := $(ROOT)/clients/rust
RUST_ENV := HYPERGRAPH_GRPC_BIN=$(VENV)/bin/hypergraph-grpc CARGO_TERM_COLOR=never

# ring (TLS) compiles C and assembly with the system's C compiler.
APT_PACKAGES  += gcc
TEST_TARGETS  += test-rust
BENCH_TARGETS += bench-rust

.PHONY: test-rust bench-rust

# Unit tests plus every case of clients/scenarios.json against a real Python server that
# the scenario suite starts itself on a free port (tests/scenarios.rs).
test-rust: $(STAMPS)/venv
	cd $(RUST_DIR) && $(RUST_ENV) $(CARGO) test --locked

# 16 concurrent Iter streams of the `tokens` graph read by the Rust client, from the real
# server (merged and unmerged) and from bare grpc.aio (bench/baseline_server.py).
bench-rust: $(STAMPS)/venv
	@mkdir -p $(ROOT)/bench/results
	cd $(RUST_DIR) && $(RUST_ENV) $(CARGO) run --locked --release --quiet --example hgbench -- \
	  --out $(ROOT)/bench/results/clients-rust.json.tmp > /dev/null
	@mv $(ROOT)/bench/results/clients-rust.json.tmp $(ROOT)/bench/results/clients-rust.json
	@cat $(ROOT)/bench/results/clients-rust.json
