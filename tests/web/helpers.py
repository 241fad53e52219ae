"""Helpers of the workspace tests: a browser-like HTTP client signed in through the real sign-in form."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from orchestrator.runtime.app import create_app
from tests.fakes.graph import TestHarness

BASE = "http://handoff.local"


@asynccontextmanager
async def browser(h: TestHarness) -> AsyncIterator[httpx.AsyncClient]:
    """A client with its own cookie jar, like one browser."""
    app = create_app(service=h.service)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        yield client


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden field {name}"
    return found.group(1)


def csrf_of(html: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, user: str, secret: str) -> str:
    """Sign in through the form; returns the session's CSRF token (read from the inbox page)."""
    form = await client.get("/login")
    assert form.status_code == 200
    response = await client.post(
        "/login",
        data={"username": user, "password": secret, "csrf": hidden(form.text, "csrf"), "next": "/inbox"},
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/inbox"
    inbox = await client.get("/inbox")
    assert inbox.status_code == 200
    return csrf_of(inbox.text)
