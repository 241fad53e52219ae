"""Fault tests: the service driven through its real entry points under hostile input and crashes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.processes import STARTED


@pytest.fixture(autouse=True)
def stop_left_running() -> Iterator[None]:
    """Stop every `handoff` process a test started and did not stop (a test that failed half-way)."""
    yield
    while STARTED:
        STARTED.pop().stop()
