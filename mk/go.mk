# Go client (clients/go): code generation, tests, benchmark.
# protoc-gen-go and protoc-gen-go-grpc are installed at pinned versions into
# .tools/bin with `go install`; buf runs them as local plugins.

GO            ?= go
GO_DIR        := $(ROOT)/clients/go
GO_TOOLS      := $(ROOT)/.tools/bin
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2

GEN_TARGETS   += gen-go
GEN_PATHS     += clients/go/gen
TEST_TARGETS  += test-go
BENCH_TARGETS += bench-go bench-capacity bench-capacity-steady

.PHONY: gen-go test-go bench-go bench-capacity bench-capacity-steady

# Reinstall when the pinned versions (this file) change.
$(STAMPS)/go-plugins: mk/go.mk | $(STAMPS)
	@mkdir -p $(GO_TOOLS)
	@printf '*\n' > $(ROOT)/.tools/.gitignore
	GOBIN=$(GO_TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOBIN=$(GO_TOOLS) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	@touch $@

gen-go: $(STAMPS)/buf $(STAMPS)/go-plugins
	cd protos && $(BUF) generate --template buf.gen.go.yaml

# The tests start the Python server (.venv) themselves on a free port.
# `go mod verify` checks the module cache against go.sum first.
test-go: $(STAMPS)/venv
	cd $(GO_DIR) && $(GO) mod verify
	cd $(GO_DIR) && HYPERGRAPH_ROOT=$(ROOT) $(GO) test -v -count=1 -timeout 10m ./...

# 16 concurrent Iter streams of the `tokens` graph, read by a Go client.
bench-go: $(STAMPS)/venv
	@mkdir -p $(ROOT)/bench/results
	cd $(GO_DIR) && $(GO) run ./cmd/hgbench -root $(ROOT) > $(ROOT)/bench/results/clients-go.json.tmp
	@mv $(ROOT)/bench/results/clients-go.json.tmp $(ROOT)/bench/results/clients-go.json
	@cat $(ROOT)/bench/results/clients-go.json

# Capacity at LLM-like token rates (about 27 minutes): the most concurrent paced and bursty
# `tokens` streams at p99 <= 10 and <= 50 ms, this server against bare grpc.aio, plus a
# 2x overload probe. Every probe starts its N streams within 1 s (a start storm).
# HGBENCH_CAPACITY_ARGS passes more flags (e.g. -modes, -server-args).
HGBENCH_CAPACITY_ARGS ?=
bench-capacity: $(STAMPS)/venv
	@mkdir -p $(ROOT)/bench/results
	cd $(GO_DIR) && $(GO) run ./cmd/hgbench -capacity -root $(ROOT) $(HGBENCH_CAPACITY_ARGS) \
	  > $(ROOT)/bench/results/capacity.json.tmp
	@mv $(ROOT)/bench/results/capacity.json.tmp $(ROOT)/bench/results/capacity.json

# The same sweep with arrivals spread as in steady traffic (about 25 minutes): starts over
# 4 s, 5 s of tokens per stream, so the N streams overlap at the rate streams of that length
# arrive. The service (default loop, full view) against bare grpc.aio.
bench-capacity-steady: $(STAMPS)/venv
	@mkdir -p $(ROOT)/bench/results
	cd $(GO_DIR) && $(GO) run ./cmd/hgbench -capacity -root $(ROOT) -ramp 4 -probe-seconds 5 \
	  -asyncio=false -text-view=false $(HGBENCH_CAPACITY_ARGS) > $(ROOT)/bench/results/capacity-steady.json.tmp
	@mv $(ROOT)/bench/results/capacity-steady.json.tmp $(ROOT)/bench/results/capacity-steady.json
