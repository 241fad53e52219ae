"""Failed sign-ins lock a user id out for a while; a browser the user signed in with before (it
carries their device cookie) is counted apart, so guessing from elsewhere cannot lock a rep out of
their own browser."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from handoff.users import device_of
from handoff.web.session import DEVICE_COOKIE
from tests.fakes.graph import TestHarness
from tests.web.helpers import BASE, browser, hidden


async def attempt(client: httpx.AsyncClient, user: str, secret: str) -> int:
    form = await client.get("/login")
    response = await client.post(
        "/login", data={"username": user, "password": secret, "csrf": hidden(form.text, "csrf")}
    )
    return response.status_code


def carry(client: httpx.AsyncClient, mark: str) -> None:
    """The browser has `mark` as its device cookie (as the service set it)."""
    client.cookies.set(DEVICE_COOKIE, mark, domain=urlsplit(BASE).hostname or "", path="/login")


async def signed_in_once(h: TestHarness, user: str) -> str:
    """The device cookie a browser keeps after its user signed in and out there."""
    async with browser(h) as client:
        assert await attempt(client, user, f"demo-{user}") == 303
        mark = client.cookies[DEVICE_COOKIE]
        assert mark
    return mark


async def test_guessing_from_elsewhere_does_not_lock_a_rep_out_of_their_own_browser(h: TestHarness) -> None:
    mark = await signed_in_once(h, "tara")
    async with browser(h) as attacker:
        for _ in range(5):
            assert await attempt(attacker, "tara", "guess") == 401
        assert await attempt(attacker, "tara", "demo-tara") == 429  # even the right one, for now
    async with browser(h) as elsewhere:  # any other unknown browser is locked out too
        assert await attempt(elsewhere, "tara", "demo-tara") == 429
    async with browser(h) as own:
        carry(own, mark)
        assert await attempt(own, "tara", "demo-tara") == 303
        assert (await own.get("/api/me")).json()["id"] == "tara"
        assert own.cookies[DEVICE_COOKIE] == mark  # the browser keeps its mark


async def test_failures_on_a_known_browser_lock_that_browser_for_a_while(h: TestHarness) -> None:
    mark = await signed_in_once(h, "tara")
    async with browser(h) as own:
        carry(own, mark)
        for _ in range(5):
            assert await attempt(own, "tara", "wrong") == 401
        assert await attempt(own, "tara", "demo-tara") == 429
        h.clock.advance(seconds=301)
        assert await attempt(own, "tara", "demo-tara") == 303


async def test_a_made_up_or_another_reps_device_cookie_counts_as_an_unknown_browser(h: TestHarness) -> None:
    diegos = await signed_in_once(h, "diego")
    taras = await signed_in_once(h, "tara")
    device, _, signature = taras.partition(".")
    async with browser(h) as attacker:
        for _ in range(5):
            assert await attempt(attacker, "tara", "guess") == 401
    for mark in (diegos, f"{device}.{signature[:-2]}xx", f"other.{signature}", "nonsense"):
        async with browser(h) as client:
            carry(client, mark)
            assert await attempt(client, "tara", "demo-tara") == 429, mark
    async with browser(h) as own:
        carry(own, taras)
        assert await attempt(own, "tara", "demo-tara") == 303


async def test_a_device_cookie_that_is_not_text_of_ours_is_an_unknown_browser_not_a_server_error(
    h: TestHarness,
) -> None:
    assert device_of("abc.\xe9t\xe9", rep_id="tara", secret="x" * 32) is None
    async with browser(h) as client:
        form = await client.get("/login")
        response = await client.post(
            "/login",
            data={"username": "tara", "password": "demo-tara", "csrf": hidden(form.text, "csrf")},
            headers=[
                (
                    b"cookie",
                    b"handoff_device=abc.\xe9t\xe9; handoff_login_csrf="
                    + client.cookies["handoff_login_csrf"].encode(),
                )
            ],
        )
    assert response.status_code == 303
