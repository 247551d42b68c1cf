# The two commands of the README: `make lab` and `make test`.
# Both create .venv on first use and install the package with its extras.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

NBVAL_FLAGS := --nbval --nbval-current-env --nbval-cell-timeout=120 \
               --nbval-sanitize-with tests/notebooks/sanitize.cfg

.PHONY: lab test lint typecheck unit nbval notebooks node-peers page-tests bench autobahn clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

install: $(STAMP)

# Node's official socket.io server and client, the interop peers of
# tests/interop/test_node_peers.py (skipped, saying so, without Node.js).
NODE_PEERS := tests/interop/node
NODE_STAMP := $(NODE_PEERS)/node_modules/.package-lock.json

$(NODE_STAMP): $(NODE_PEERS)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix $(NODE_PEERS) --no-audit --no-fund; \
	else \
		echo "npm not found: the Node.js interop tests will be skipped"; \
	fi

node-peers: $(NODE_STAMP)

# The chat page's own script (wslearn/chatapp/page/*.mjs) under Node's test runner,
# against a real `python -m wslearn chat` and Node's socket.io server.
page-tests: $(STAMP) node-peers
	@if command -v node >/dev/null 2>&1; then \
		WSLEARN_PYTHON=$(abspath $(BIN))/python node --experimental-websocket --test tests/chatapp/page/; \
	else \
		echo "node not found: the chat page's script tests are skipped"; \
	fi

# Extra JupyterLab options, e.g. LAB_ARGS="--no-browser --ServerApp.port=8890".
LAB_ARGS ?=

lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir=notebooks $(LAB_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy --strict wslearn

unit: $(STAMP)
	$(BIN)/python -m pytest tests

nbval: $(STAMP)
	$(BIN)/python -m pytest $(NBVAL_FLAGS) notebooks

test: lint typecheck node-peers page-tests
	$(BIN)/python -m pytest tests notebooks $(NBVAL_FLAGS)

# Every Autobahn TestSuite compression case (groups 12 and 13, 216 cases) against
# wslearn's threshold deflate, with and without server context takeover: several
# minutes. `make test` runs a spread of them (tests/test_autobahn.py).
autobahn: $(STAMP)
	$(BIN)/python tools/autobahn.py

# Re-execute every notebook in a fresh kernel and store its outputs.
notebooks: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python tools/store_notebooks.py notebooks/*.ipynb

# The full benchmark for the README (minutes; run it on a quiet machine): wslearn's
# server next to raw websockets, python-socketio and Node's socket.io. Results go to
# bench-results/. Extra options in BENCH_ARGS, e.g.
#   make bench BENCH_ARGS="--wslearn-src before=/work/baseline --wslearn-src after=."
BENCH_ARGS ?=

bench: $(STAMP) node-peers
	$(BIN)/python -m wslearn bench --full $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
