"""The rep API stands on the human side alone: importing it (its auth dependency, or every router)
loads neither the agents, nor LangGraph, nor the composition root."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

FORBIDDEN = ("agents", "langgraph", "orchestrator.runtime")


def loaded_after_import(module: str) -> list[str]:
    code = f"import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    modules: list[str] = json.loads(done.stdout)
    return modules


@pytest.mark.parametrize("module", ["handoff.api.deps", "handoff.api.routers", "handoff.metrics"])
def test_the_rep_api_does_not_load_the_agents_langgraph_or_the_runtime(module: str) -> None:
    modules = loaded_after_import(module)
    assert module in modules
    offending = [m for m in modules if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert offending == []
