"""The composer's helpers over the API: canned replies (who may list and manage them, placeholders
filled per conversation, audited), the template catalogue and template replies checked against it,
the customer's earlier conversations in the detail, per-rep metrics, revoking an API token and the
audit log's date filter."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlmodel import col

from handoff.models import Assignment, AuditEntry
from orchestrator.core.enums import AssignmentStatus, Owner
from orchestrator.core.tables import Conversation
from tests.api.helpers import Kind, bearer, seed_conversation
from tests.fakes.graph import TestHarness


async def call(h: TestHarness, method: str, path: str, actor: str, body: Any = None) -> Any:
    response = await h.http.request(method, path, json=body, headers=bearer(actor))
    await h.service.dispatcher.drain()  # a reply is sent in the background
    return response


async def new_canned(h: TestHarness, actor: str, **body: Any) -> dict[str, Any]:
    response = await call(h, "POST", "/api/canned-replies", actor, body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def audit_of(h: TestHarness, action: str) -> list[AuditEntry]:
    async with h.service.sessions() as session:
        rows = await session.execute(select(AuditEntry).where(col(AuditEntry.action) == action))
        return list(rows.scalars())


# -- canned replies -------------------------------------------------------------------------------
async def test_each_rep_lists_team_wide_replies_and_their_own_queues(h: TestHarness) -> None:
    await new_canned(h, "admin", shortcut="hello", title="Greeting", text="Hi {customer_first_name}!")
    await new_canned(h, "lena", shortcut="reset", title="Reset", text="Reset it here", queue="support")
    await new_canned(h, "admin", shortcut="invoice", title="Invoice", text="Invoice", queue="billing")

    async def shortcuts(actor: str) -> list[str]:
        response = await call(h, "GET", "/api/canned-replies", actor)
        assert response.status_code == 200, response.text
        return [r["shortcut"] for r in response.json()]

    assert await shortcuts("tara") == ["hello", "reset"]
    assert await shortcuts("farah") == ["hello", "invoice"]
    assert await shortcuts("sam") == ["hello"]
    assert await shortcuts("admin") == ["hello", "invoice", "reset"]


async def test_leads_manage_their_queues_replies_and_only_admins_team_wide_ones(h: TestHarness) -> None:
    body = {"shortcut": "refund", "title": "Refund", "text": "Refunds take 5 days"}
    assert (
        await call(h, "POST", "/api/canned-replies", "tara", {**body, "queue": "support"})
    ).status_code == 403
    assert (await call(h, "POST", "/api/canned-replies", "lena", body)).status_code == 403
    assert (
        await call(h, "POST", "/api/canned-replies", "lena", {**body, "queue": "billing"})
    ).status_code == 403
    created = await new_canned(h, "lena", **body, queue="support")
    path = f"/api/canned-replies/{created['id']}"
    # Another lead does not see it at all; a rep of the queue sees it but may not change it.
    assert (await call(h, "PATCH", path, "sam", {"title": "x"})).status_code == 404
    assert (await call(h, "PATCH", path, "tara", {"title": "x"})).status_code == 403
    assert (await call(h, "DELETE", path, "tara")).status_code == 403
    # The lead may not move it out of their departments.
    assert (await call(h, "PATCH", path, "lena", {"queue": "billing"})).status_code == 403
    # The workspace's form sends every field: only the text changed, and the audit says so.
    changed = await call(
        h, "PATCH", path, "lena", {**body, "queue": "support", "text": "Refunds take 3 to 5 days"}
    )
    assert changed.status_code == 200
    assert changed.json()["text"] == "Refunds take 3 to 5 days"
    assert changed.json()["updated_by"] == "lena"
    assert (await call(h, "DELETE", path, "lena")).status_code == 204
    assert (await call(h, "GET", "/api/canned-replies", "tara")).json() == []
    assert [
        (a.actor_id, (a.details or {}).get("canned_id")) for a in await audit_of(h, "canned_created")
    ] == [("lena", created["id"])]
    [updated] = await audit_of(h, "canned_updated")
    assert updated.details == {"canned_id": created["id"], "shortcut": body["shortcut"], "changed": ["text"]}
    assert len(await audit_of(h, "canned_deleted")) == 1


async def test_a_canned_reply_with_an_unknown_placeholder_or_a_taken_shortcut_is_refused(
    h: TestHarness,
) -> None:
    bad = await call(
        h, "POST", "/api/canned-replies", "admin", {"shortcut": "x", "title": "X", "text": "Hi {first}"}
    )
    assert bad.status_code == 422
    assert "{first}" in bad.json()["detail"][0]
    assert "{customer_name}" in bad.json()["detail"][0]
    await new_canned(h, "admin", shortcut="dup", title="One", text="one", queue="support")
    again = await call(
        h,
        "POST",
        "/api/canned-replies",
        "admin",
        {"shortcut": "dup", "title": "Two", "text": "two", "queue": "support"},
    )
    assert again.status_code == 409
    assert "/dup" in again.json()["detail"]
    # The same shortcut in another scope is another reply.
    await new_canned(h, "admin", shortcut="dup", title="Team", text="team-wide")
    unknown_queue = await call(
        h,
        "POST",
        "/api/canned-replies",
        "admin",
        {"shortcut": "q", "title": "Q", "text": "q", "queue": "nope"},
    )
    assert unknown_queue.status_code == 422


async def test_replies_for_a_conversation_are_filled_in_and_limited_to_its_queue(h: TestHarness) -> None:
    await new_canned(
        h,
        "admin",
        shortcut="hello",
        title="Greeting",
        text="Hi {customer_first_name}, I'm {rep_first_name} from {queue_name}. "
        "({customer_name}, {rep_name})",
    )
    await new_canned(h, "admin", shortcut="help", title="Support", text="Support only", queue="support")
    await new_canned(h, "admin", shortcut="bill", title="Billing", text="Billing only", queue="billing")
    conversation_id = await seed_conversation(h, "tara_support", name="Ana Clarke")
    response = await call(h, "GET", f"/api/conversations/{conversation_id}/canned-replies", "tara")
    assert response.status_code == 200, response.text
    filled = {r["shortcut"]: r["filled"] for r in response.json()}
    assert filled == {
        "hello": "Hi Ana, I'm Tara from Tier 1 Technical Support. (Ana Clarke, Tara Nguyen)",
        "help": "Support only",
    }
    narrowed = await call(h, "GET", f"/api/conversations/{conversation_id}/canned-replies?q=hel", "admin")
    assert [r["shortcut"] for r in narrowed.json()] == ["hello", "help"]
    assert (
        await call(h, "GET", f"/api/conversations/{conversation_id}/canned-replies", "farah")
    ).status_code == 404


# -- templates ------------------------------------------------------------------------------------
async def test_the_catalogue_lists_each_template_with_its_languages_and_parameters(h: TestHarness) -> None:
    response = await call(h, "GET", "/api/templates", "tara")
    assert response.status_code == 200
    by_name = {t["name"]: t for t in response.json()}
    assert by_name["follow_up"]["languages"] == ["en_US", "es", "pt_BR"]
    assert by_name["follow_up"]["parameters"] == ["1", "2"]
    assert by_name["follow_up"]["positional"]
    assert by_name["order_confirmation"]["parameters"] == ["first_name", "order_number"]
    assert not by_name["order_confirmation"]["positional"]
    assert by_name["callback_missed"]["parameters"] == []


async def closed_window(h: TestHarness) -> int:
    return await seed_conversation(h, "tara_support", last_inbound_at=h.clock.now() - timedelta(days=2))


async def test_a_named_template_goes_out_in_metas_named_shape_with_its_preview_in_the_transcript(
    h: TestHarness,
) -> None:
    conversation_id = await closed_window(h)
    body = {
        "type": "template",
        "name": "order_confirmation",
        "language": "en_US",
        "parameters": {"first_name": "Jessica", "order_number": "SKBUP2-4CPIG9"},
    }
    response = await call(h, "POST", f"/api/conversations/{conversation_id}/messages", "tara", body)
    assert response.status_code == 202, response.text
    assert response.json()["text"] == (
        "Hi Jessica, your order SKBUP2-4CPIG9 is confirmed. Reply here if you have any questions."
    )
    sent = h.fake_graph.sent[-1]["json"]
    assert sent["type"] == "template"
    assert sent["template"] == {
        "name": "order_confirmation",
        "language": {"code": "en_US"},
        "components": [
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "parameter_name": "first_name", "text": "Jessica"},
                    {"type": "text", "parameter_name": "order_number", "text": "SKBUP2-4CPIG9"},
                ],
            }
        ],
    }


async def test_a_template_without_parameters_is_sent_without_components(h: TestHarness) -> None:
    conversation_id = await closed_window(h)
    body = {"type": "template", "name": "callback_missed", "language": "en"}
    response = await call(h, "POST", f"/api/conversations/{conversation_id}/messages", "tara", body)
    assert response.status_code == 202, response.text
    assert h.fake_graph.sent[-1]["json"]["template"] == {
        "name": "callback_missed",
        "language": {"code": "en"},
    }


async def test_template_replies_that_do_not_match_the_catalogue_are_refused_with_the_reason(
    h: TestHarness,
) -> None:
    conversation_id = await closed_window(h)
    path = f"/api/conversations/{conversation_id}/messages"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"name": "nope", "language": "en_US"}, "not in the catalogue"),
        ({"name": "follow_up", "language": "fr"}, "no 'fr' version"),
        (
            {"name": "follow_up", "language": "en_US", "parameters": ["Ana"]},
            "takes 2 parameter(s) ({{1}}, {{2}}); 1 given",
        ),
        ({"name": "follow_up", "language": "es", "parameters": ["Ana", "#1", "x"]}, "3 given"),
        ({"name": "follow_up", "language": "en_US", "parameters": {"1": "Ana", "2": "#1"}}, "as a list"),
        ({"name": "order_confirmation", "language": "en_US", "parameters": ["Ana", "#1"]}, "as an object"),
        (
            {
                "name": "order_confirmation",
                "language": "en_US",
                "parameters": {"first_name": "Ana", "order": "1"},
            },
            "missing order_number; unknown order",
        ),
        ({"name": "follow_up", "language": "en_US", "parameters": ["Ana", "  "]}, "{{2}} are empty"),
    ]
    for body, reason in cases:
        response = await call(h, "POST", path, "tara", {"type": "template", **body})
        assert response.status_code == 422, (body, response.text)
        assert reason in response.json()["detail"][0], (body, response.json())
    assert h.fake_graph.sent == []
    # The refusal for a conversation the rep may not write to comes first (nothing about templates).
    other = await call(h, "POST", path, "diego", {"type": "template", "name": "nope", "language": "en"})
    assert other.status_code == 404


# -- earlier conversations ------------------------------------------------------------------------
async def same_contact(h: TestHarness, conversation_ids: list[int]) -> None:
    async with h.service.sessions() as session, session.begin():
        first = await session.get(Conversation, conversation_ids[0])
        assert first is not None
        await session.execute(
            update(Conversation)
            .where(col(Conversation.id).in_(conversation_ids[1:]))
            .values(contact_id=first.contact_id)
        )


async def test_earlier_conversations_are_shown_in_full_only_where_the_viewer_may_see_them(
    h: TestHarness,
) -> None:
    # One open conversation per contact at a time: the earlier ones are closed.
    closed = await seed_conversation(h, "closed_tara")
    h.clock.advance(seconds=1)
    billing = await seed_conversation(h, Kind("closed_farah", Owner.CLOSED, "billing", "farah"))
    h.clock.advance(seconds=1)
    with_bot = await seed_conversation(h, Kind("closed_bot", Owner.CLOSED, None, None))
    h.clock.advance(seconds=1)
    current = await seed_conversation(h, "tara_support")
    await same_contact(h, [current, closed, billing, with_bot])

    async def earlier(actor: str) -> list[dict[str, Any]]:
        response = await call(h, "GET", f"/api/conversations/{current}", actor)
        assert response.status_code == 200, response.text
        rows: list[dict[str, Any]] = response.json()["earlier_conversations"]
        return rows

    hidden = {
        "visible": False,
        "id": None,
        "started_at": None,
        "owner": None,
        "handoff_reason": None,
        "queue": None,
        "assignee_id": None,
        "first_line": None,
    }
    tara = await earlier("tara")
    assert [r["id"] for r in tara] == [None, None, closed]  # newest first
    assert tara[0] == hidden
    assert tara[1] == hidden
    assert tara[2]["owner"] == "closed"
    assert tara[2]["assignee_id"] == "tara"
    assert tara[2]["queue"] == "support"
    assert tara[2]["handoff_reason"] == "menu_selection"
    assert tara[2]["first_line"] == "I need help with my account"
    assert [r["id"] for r in await earlier("lena")] == [None, None, closed]
    assert [r["id"] for r in await earlier("admin")] == [with_bot, billing, closed]
    # From the billing one, Farah sees that there are three others and nothing about them.
    response = await call(h, "GET", f"/api/conversations/{billing}", "farah")
    assert response.json()["earlier_conversations"] == [hidden, hidden, hidden]


# -- rep management and metrics -------------------------------------------------------------------
async def test_revoking_an_api_token_stops_it_at_once_and_is_audited(h: TestHarness) -> None:
    assert (await call(h, "GET", "/api/me", "demo-gus")).status_code == 200
    assert (await call(h, "DELETE", "/api/admin/reps/gus/api-token", "lena")).status_code == 403
    response = await call(h, "DELETE", "/api/admin/reps/gus/api-token", "admin")
    assert response.status_code == 200
    assert response.json()["has_api_token"] is False
    assert (await call(h, "GET", "/api/me", "demo-gus")).status_code == 401
    assert [(a.actor_id, a.details) for a in await audit_of(h, "api_token_revoked")] == [
        ("admin", {"rep_id": "gus"})
    ]


async def test_a_rep_left_with_no_way_to_sign_in_goes_offline_when_their_token_is_revoked(
    h: TestHarness,
) -> None:
    assert (
        await call(h, "POST", "/api/me/presence", "demo-diego", {"presence": "online"})
    ).status_code == 200
    revoked = await call(h, "DELETE", "/api/admin/reps/diego/api-token", "admin")
    assert revoked.status_code == 200
    assert revoked.json()["presence"] == "offline", "no more conversations for someone locked out"
    waiting = await seed_conversation(h, "waiting_support")
    claim = await call(h, "POST", f"/api/conversations/{waiting}/reassign", "lena", {"rep_id": "diego"})
    assert claim.status_code == 409


async def test_team_metrics_give_medians_per_rep_to_leads_of_their_teams_and_admins(h: TestHarness) -> None:
    now = h.clock.now()
    ids = [await seed_conversation(h, "tara_support") for _ in range(3)]
    closed = await seed_conversation(h, "closed_tara")
    async with h.service.sessions() as session, session.begin():
        rows = (
            await session.execute(
                select(Assignment).where(col(Assignment.conversation_id).in_([*ids, closed]))
            )
        ).scalars()
        for a in rows:
            a.assigned_at = now
            if a.conversation_id == closed:
                a.first_response_at = now + timedelta(seconds=10)
                a.ended_at = now + timedelta(minutes=20)
                a.status = AssignmentStatus.RESOLVED
            elif a.conversation_id == ids[0]:
                a.first_response_at = now + timedelta(seconds=30)
                a.sla_breached_at = now + timedelta(minutes=5)
            elif a.conversation_id == ids[1]:
                a.first_response_at = now + timedelta(seconds=90)
            session.add(a)
    lena = await call(h, "GET", "/api/metrics/reps", "lena")
    assert lena.status_code == 200, lena.text
    assert [r["rep_id"] for r in lena.json()] == ["diego", "eve", "lena", "tara"]
    tara = next(r for r in lena.json() if r["rep_id"] == "tara")
    assert tara["handled"] == 4
    assert tara["open_now"] == 3
    assert tara["resolved"] == 1
    assert tara["median_first_response_seconds"] == 30.0
    assert tara["median_handling_seconds"] == 1200.0
    assert tara["sla_breaches"] == 1
    assert (await call(h, "GET", "/api/metrics/reps", "tara")).status_code == 403
    assert len((await call(h, "GET", "/api/metrics/reps", "admin")).json()) == 13
    later = await h.http.get(
        "/api/metrics/reps",
        params={"since": (now + timedelta(hours=1)).isoformat()},
        headers=bearer("admin"),
    )
    assert all(r["handled"] == 0 for r in later.json())


async def test_the_audit_log_filters_by_date(h: TestHarness) -> None:
    await call(h, "POST", "/api/admin/reps/diego/api-token", "admin")
    h.clock.advance(hours=2)
    await call(h, "POST", "/api/admin/reps/gus/api-token", "admin")
    cut = (h.clock.now() - timedelta(hours=1)).isoformat()

    async def issued(**params: str) -> list[str]:
        response = await h.http.get(
            "/api/audit", params={"action": "api_token_issued", **params}, headers=bearer("admin")
        )
        assert response.status_code == 200, response.text
        return [e["details"]["rep_id"] for e in response.json()]

    assert await issued() == ["gus", "diego"]
    assert await issued(since=cut) == ["gus"]
    assert await issued(until=cut) == ["diego"]
