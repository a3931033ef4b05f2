# The Python client with nothing but its own dependencies: a venv of its own (.venv-client)
# holding exactly the base dependencies uv.lock pins (grpcio, grpcio-status, protobuf and what
# they need; no extras, no dev group) and the package itself. The test program runs there
# against a real server that the project's .venv starts; pytest itself stays in .venv.

CLIENT_VENV := $(ROOT)/.venv-client

TEST_TARGETS += test-client-only

.PHONY: test-client-only

$(STAMPS)/venv-client: pyproject.toml uv.lock $(UV) | $(STAMPS)
	UV_PROJECT_ENVIRONMENT=$(CLIENT_VENV) $(UV) sync --locked --no-dev --python $(UV_PYTHON)
	@touch $@

test-client-only: $(STAMPS)/venv $(STAMPS)/venv-client
	HYPERGRAPH_CLIENT_PYTHON=$(CLIENT_VENV)/bin/python \
	  $(PY) -m pytest -q -p no:cacheprovider tests/client/test_client_dependencies.py
