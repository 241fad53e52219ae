"""Browser sign-in: the cookie session, its CSRF protection, sign-out, and the bearer API unchanged."""

from __future__ import annotations

import httpx

from handoff.web.session import COOKIE, LOGIN_CSRF_COOKIE
from orchestrator.core.clock import FrozenClock
from orchestrator.core.settings import Settings
from orchestrator.runtime.app import create_app
from orchestrator.runtime.container import Service
from tests.api.helpers import bearer, seed_conversation
from tests.conftest import OPEN_HOURS
from tests.fakes.graph import TestHarness
from tests.web.helpers import browser, hidden, sign_in


async def test_pages_send_a_visitor_without_a_session_to_sign_in(h: TestHarness) -> None:
    async with browser(h) as client:
        page = await client.get("/inbox?view=mine")
        assert page.status_code == 303
        assert page.headers["location"] == "/login?next=/inbox%3Fview%3Dmine"
        fragment = await client.get("/inbox/list", headers={"HX-Request": "true"})
        assert fragment.status_code == 401
        assert fragment.headers["HX-Redirect"].startswith("/login?next=")
        assert (await client.get("/api/me")).status_code == 401


async def test_rep_signs_in_with_their_api_token_and_the_api_accepts_the_session(h: TestHarness) -> None:
    async with browser(h) as client:
        csrf = await sign_in(client, "tara", "demo-tara")
        me = await client.get("/api/me")
        assert me.status_code == 200
        assert me.json()["id"] == "tara"
        away = await client.post(
            "/api/me/presence", json={"presence": "away"}, headers={"X-CSRF-Token": csrf}
        )
        assert away.status_code == 200
        assert away.json()["presence"] == "away"


async def test_the_user_id_is_read_as_typed_on_a_phone_with_a_capital_and_a_space(h: TestHarness) -> None:
    async with browser(h) as client:
        form = (await client.get("/login")).text
        assert 'autocapitalize="none"' in form
        await sign_in(client, " Tara", "demo-tara")
        assert (await client.get("/api/me")).json()["id"] == "tara"


async def test_once_a_password_is_set_the_api_token_no_longer_signs_in_at_the_form(h: TestHarness) -> None:
    # An admin who gives a rep a password (a reset) shuts out whoever else held the token there too.
    set_password = await h.http.patch(
        "/api/admin/reps/tara", json={"password": "a long new password"}, headers=bearer("admin")
    )
    assert set_password.status_code == 200, set_password.text
    async with browser(h) as client:
        form = await client.get("/login")
        refused = await client.post(
            "/login", data={"username": "tara", "password": "demo-tara", "csrf": hidden(form.text, "csrf")}
        )
        assert refused.status_code == 401
        assert "handoff_session" not in client.cookies
        await sign_in(client, "tara", "a long new password")
        assert (await client.get("/api/me")).json()["id"] == "tara"
    assert (await h.http.get("/api/me", headers=bearer("tara"))).status_code == 200  # the API still takes it


async def test_wrong_password_or_other_reps_token_is_refused(h: TestHarness) -> None:
    async with browser(h) as client:
        page = (await client.get("/login")).text
        for user, secret in (("tara", "wrong"), ("tara", "demo-diego"), ("nobody", "demo-tara")):
            response = await client.post(
                "/login", data={"username": user, "password": secret, "csrf": hidden(page, "csrf")}
            )
            assert response.status_code == 401
            assert "Wrong user or password" in response.text
            assert f'required value="{user}"' in response.text  # kept
            assert "handoff_session" not in client.cookies
            page = response.text  # the form again, with a fresh token


async def test_sign_in_form_without_its_csrf_token_is_refused(h: TestHarness) -> None:
    async with browser(h) as client:
        await client.get("/login")
        response = await client.post(
            "/login", data={"username": "tara", "password": "demo-tara", "csrf": "x"}
        )
        assert response.status_code == 403
        assert "handoff_session" not in client.cookies


async def test_unsafe_api_call_with_the_cookie_needs_the_csrf_token(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    async with browser(h) as client:
        csrf = await sign_in(client, "tara", "demo-tara")
        path = f"/api/conversations/{conversation_id}/messages"
        missing = await client.post(path, json={"text": "hello"})
        assert missing.status_code == 403
        assert "CSRF" in missing.json()["detail"]
        wrong = await client.post(path, json={"text": "hello"}, headers={"X-CSRF-Token": csrf + "x"})
        assert wrong.status_code == 403
        elsewhere = await client.post(
            path, json={"text": "hello"}, headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"}
        )
        assert elsewhere.status_code == 403
        sent = await client.post(path, json={"text": "hello"}, headers={"X-CSRF-Token": csrf})
        assert sent.status_code == 202, sent.text
        assert sent.json()["sender_id"] == "tara"


async def test_sign_out_ends_the_session_for_the_stolen_cookie_too(h: TestHarness) -> None:
    async with browser(h) as client:
        csrf = await sign_in(client, "tara", "demo-tara")
        cookie = client.cookies["handoff_session"]
        refused = await client.post("/logout", data={"csrf": "nope"})
        assert refused.status_code == 403
        out = await client.post("/logout", data={"csrf": csrf})
        assert out.status_code == 303
        assert out.headers["location"] == "/login"
    async with browser(h) as other:
        other.cookies.set("handoff_session", cookie)
        assert (await other.get("/api/me")).status_code == 401
        ended = await other.get("/inbox")
        assert ended.status_code == 303
        assert ended.headers["location"] == "/login?expired=1&next=/inbox"  # the page says why
        assert "Your session has ended" in (await other.get(ended.headers["location"])).text


async def test_rotating_the_api_token_ends_sessions_signed_in_with_it(h: TestHarness) -> None:
    async with browser(h) as client:
        await sign_in(client, "tara", "demo-tara")
        assert (await client.get("/api/me")).status_code == 200
        rotated = await h.http.post("/api/admin/reps/tara/api-token", headers=bearer("admin"))
        assert rotated.status_code == 201
        assert (await client.get("/api/me")).status_code == 401


async def test_bearer_api_ignores_the_cookie(h: TestHarness) -> None:
    async with browser(h) as client:
        await sign_in(client, "tara", "demo-tara")
        me = await client.get("/api/me", headers=bearer("diego"))
        assert me.json()["id"] == "diego"
        # A bearer request needs no CSRF token: it cannot be forged by another site.
        away = await client.post("/api/me/presence", json={"presence": "away"}, headers=bearer("diego"))
        assert away.status_code == 200


async def test_sign_in_only_redirects_to_a_local_path(h: TestHarness) -> None:
    async with browser(h) as client:
        form = await client.get("/login?next=//evil.example/x")
        assert 'name="next" value="/inbox"' in form.text
        response = await client.post(
            "/login",
            data={
                "username": "tara",
                "password": "demo-tara",
                "csrf": hidden(form.text, "csrf"),
                "next": "https://evil.example/",
            },
        )
        assert response.headers["location"] == "/inbox"


async def test_team_actions_with_the_cookie_need_the_csrf_token(h: TestHarness) -> None:
    async with browser(h) as client:
        csrf = await sign_in(client, "admin", "demo-admin")
        body = {"shortcut": "hi", "title": "Hi", "text": "Hello"}
        assert (await client.post("/api/canned-replies", json=body)).status_code == 403
        assert (await client.post("/api/admin/reps/gus/api-token")).status_code == 403
        assert (await client.delete("/api/admin/reps/gus/api-token")).status_code == 403
        created = await client.post("/api/canned-replies", json=body, headers={"X-CSRF-Token": csrf})
        assert created.status_code == 201, created.text
        path = f"/api/canned-replies/{created.json()['id']}"
        assert (await client.delete(path)).status_code == 403
        assert (await client.delete(path, headers={"X-CSRF-Token": csrf})).status_code == 204


async def test_a_deployment_sets_its_cookies_for_https_only_behind_a_plain_http_hop(sqlite_url: str) -> None:
    # Behind a TLS proxy, this process sees plain HTTP: the cookies must still never travel without TLS.
    settings = Settings(
        database_url=sqlite_url, dev_mode=False, run_background=False, whatsapp_api_url="http://graph.invalid"
    )
    async with Service.running(settings, clock=FrozenClock(OPEN_HOURS), migrate=False) as service:
        transport = httpx.ASGITransport(app=create_app(service=service))
        async with httpx.AsyncClient(transport=transport, base_url="http://handoff.internal") as client:
            form = await client.get("/login")
            csrf = hidden(form.text, "csrf")
            signed = await client.post(
                "/login",
                data={"username": "tara", "password": "demo-tara", "csrf": csrf, "next": "/inbox"},
                headers={"Cookie": f"{LOGIN_CSRF_COOKIE}={csrf}"},
            )
    assert "; secure" in form.headers["set-cookie"].lower()
    assert signed.status_code == 303, signed.text
    session_cookie = next(c for c in signed.headers.get_list("set-cookie") if c.startswith(f"{COOKIE}="))
    assert "; secure" in session_cookie.lower()
    assert "; httponly" in session_cookie.lower()
