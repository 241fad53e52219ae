"""Fixtures of the rep API tests (the service itself is the shared `h` fixture)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from handoff.notify import NotificationHub
from tests.api.helpers import live_server
from tests.fakes.graph import TestHarness


@pytest.fixture
async def live(h: TestHarness) -> AsyncIterator[str]:
    """Base URL of the service over real HTTP (for the event stream)."""
    async with live_server(h) as url:
        yield url


@pytest.fixture
def hub(h: TestHarness) -> NotificationHub:
    assert h.service.notifier is not None
    return h.service.notifier
