"""Fixtures of the workspace tests: the app over real HTTP, and headless Chromium driven by
Playwright. The browser is Debian's `chromium` package (Playwright's own download is not used):
`HANDOFF_CHROMIUM`, else `/usr/bin/chromium`, else `chromium` on PATH. Without one the browser tests
are skipped with the reason, except in CI (`CI` set), where they fail."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from tests.api.helpers import live_server
from tests.fakes.graph import TestHarness

LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("HANDOFF_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture
async def site(h: TestHarness) -> AsyncIterator[str]:
    """Base URL of the app (pages, API, stream) on a local port, in this event loop."""
    async with live_server(h) as url:
        yield url


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    path = chromium_path()
    if path is None:
        reason = "no Chromium found (install Debian's `chromium` package or set HANDOFF_CHROMIUM)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: the browser tests must run in CI")
        pytest.skip(reason)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=path, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            await browser.close()
