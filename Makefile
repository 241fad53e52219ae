# Two commands for a newcomer: `make run` serves the API on the embedded defaults, `make test` runs
# the whole suite. Both create .venv from uv.lock on first use; only Python 3.11+ is needed.
PYTHON ?= python3
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.synced

.PHONY: run test lint fmt typecheck check replay bench clean

$(STAMP): pyproject.toml uv.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet --disable-pip-version-check "uv>=0.8"
	VIRTUAL_ENV=$(abspath $(VENV)) UV_COMPILE_BYTECODE=1 $(BIN)/uv sync --frozen --inexact --active --quiet
	touch $(STAMP)

run: $(STAMP)
	HANDOFF_DEV_MODE=true HANDOFF_DEMO_PRESENCE=true $(BIN)/handoff serve --port $(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

replay: $(STAMP)
	$(BIN)/python -m bench.eval_agents tests/eval/holdout.jsonl

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
