# TypeScript client (clients/typescript): code generation, tests, benchmark.
#   make gen-ts    regenerate clients/typescript/src/gen with buf + protoc-gen-es (local plugin)
#   make test-ts   npm ci (once per lockfile change), build with tsc, run node's test runner
#                  against a real server started by the tests (clients/scenarios.json)
#   make bench-ts  16 concurrent `tokens` streams -> bench/results/clients-ts.json

TS_DIR   := $(ROOT)/clients/typescript
TS_DEPS  := $(TS_DIR)/node_modules/.package-lock.json

GEN_TARGETS   += gen-ts
GEN_PATHS     += clients/typescript/src/gen
TEST_TARGETS  += test-ts
BENCH_TARGETS += bench-ts

.PHONY: gen-ts test-ts bench-ts

# protoc-gen-es comes from protos/node_modules (same version as @bufbuild/protobuf
# in clients/typescript/package.json: 2.17.0); buf finds it on PATH.
gen-ts: $(STAMPS)/buf
	cd protos && PATH="$(ROOT)/protos/node_modules/.bin:$$PATH" $(BUF) generate --template buf.gen.ts.yaml

# npm ci rewrites node_modules/.package-lock.json, so this file doubles as the stamp.
$(TS_DEPS): $(TS_DIR)/package.json $(TS_DIR)/package-lock.json
	cd $(TS_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

test-ts: $(STAMPS)/venv $(TS_DEPS)
	cd $(TS_DIR) && npm run -s build && \
	  HYPERGRAPH_GRPC_BIN=$(VENV)/bin/hypergraph-grpc node --test --test-concurrency=1 dist/test/*.test.js

bench-ts: $(STAMPS)/venv $(TS_DEPS)
	@mkdir -p $(ROOT)/bench/results
	cd $(TS_DIR) && npm run -s build && \
	  HYPERGRAPH_GRPC_BIN=$(VENV)/bin/hypergraph-grpc node dist/bench/bench.js --out $(ROOT)/bench/results/clients-ts.json
