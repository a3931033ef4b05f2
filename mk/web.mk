# The live-runs page served by `serve --http-port` at "/" (hypergraph_grpc/web).
# index.html and app.css are written by hand; app.js is bundled by esbuild (pinned in
# clients/typescript/package.json) from clients/typescript/web/app.ts, which uses the
# TypeScript client's generated code and event conversion with @connectrpc/connect-web.
# The bundle is committed (the Python package serves it), so check-gen rebuilds it.
# Debian's chromium and chromium-driver run the page in a real browser in tests/web.

APT_PACKAGES += chromium chromium-driver
GEN_TARGETS  += gen-web
GEN_PATHS    += hypergraph_grpc/web/app.js

.PHONY: gen-web

gen-web: $(TS_DEPS)
	cd $(TS_DIR) && npm run -s build:web
