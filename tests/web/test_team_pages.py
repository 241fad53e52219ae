"""The team pages and the panel's earlier conversations, as served (no browser needed)."""

from __future__ import annotations

import re

from sqlalchemy import update
from sqlmodel import col

from orchestrator.core.enums import Owner
from orchestrator.core.tables import Conversation
from tests.api.helpers import Kind, bearer, reassigned_by_the_lead, seed_conversation
from tests.fakes.graph import TestHarness
from tests.web.helpers import browser, sign_in


async def test_the_panel_lists_earlier_conversations_hiding_those_the_rep_may_not_see(h: TestHarness) -> None:
    billing = await seed_conversation(h, Kind("closed_farah", Owner.CLOSED, "billing", "farah"), name="Ana")
    mine_before = await seed_conversation(h, "closed_tara", name="Ana")
    current = await seed_conversation(h, "tara_support", name="Ana")
    async with h.service.sessions() as session, session.begin():
        row = await session.get(Conversation, current)
        assert row is not None
        await session.execute(
            update(Conversation)
            .where(col(Conversation.id).in_([billing, mine_before]))
            .values(contact_id=row.contact_id)
        )
    async with browser(h) as client:
        await sign_in(client, "tara", "demo-tara")
        panel = (await client.get(f"/conversations/{current}/fragments/panel")).text
    assert f'href="/conversations/{mine_before}"' in panel
    assert f"/conversations/{billing}" not in panel
    assert panel.count("An earlier conversation, not visible to you") == 1
    assert "Finance" not in panel  # nothing about the hidden one, not even its team


async def test_the_audit_page_is_paged_and_keeps_its_filters(h: TestHarness) -> None:
    for _ in range(55):
        response = await h.http.post("/api/admin/reps/gus/api-token", headers=bearer("admin"))
        assert response.status_code == 201
    async with browser(h) as client:
        await sign_in(client, "admin", "demo-admin")
        first = (await client.get("/team/audit?action=api_token_issued")).text
        assert len(re.findall(r'<tr data-action="api_token_issued"', first)) == 50
        assert "page 1 of 2" in first
        assert 'href="/team/audit?action=api_token_issued&amp;page=2"' in first
        second = (await client.get("/team/audit?action=api_token_issued&page=2")).text
        assert len(re.findall(r'<tr data-action="api_token_issued"', second)) == 5
        none = (await client.get("/team/audit?action=api_token_issued&until=2000-01-01")).text
        assert "No entries match." in none


async def test_the_audit_page_finds_a_person_by_name_as_well_as_by_id(h: TestHarness) -> None:
    await reassigned_by_the_lead(h)
    async with browser(h) as client:
        await sign_in(client, "admin", "demo-admin")
        for typed in ("lena", "Lena", "lena fischer", "Lena Fischer", "Fischer"):
            page = (await client.get("/team/audit", params={"actor": typed, "action": "reassign"})).text
            assert len(re.findall(r'<tr data-action="reassign"', page)) == 1, typed
        nobody = (await client.get("/team/audit", params={"actor": "Nobody Here"})).text
        assert "No entries match." in nobody


async def _audit_rows(h: TestHarness, action: str) -> list[str]:
    async with browser(h) as client:
        await sign_in(client, "admin", "demo-admin")
        page = (await client.get(f"/team/audit?action={action}")).text
    assert f'<option value="{action}" selected>' in page
    return [row.split("</tr>")[0] for row in page.split(f'<tr data-action="{action}"')[1:]]


async def test_the_audit_page_says_what_changed_in_a_user_from_what_to_what(h: TestHarness) -> None:
    changed = await h.http.patch(
        "/api/admin/reps/gus",
        json={"queues": ["general", "billing"], "capacity": 7, "role": "rep", "name": "Gus Okafor"},
        headers=bearer("admin"),
    )
    assert changed.status_code == 200, changed.text
    [row] = await _audit_rows(h, "user_updated")
    assert "Changed a user" in row
    assert '<td title="admin">Admin</td>' in row  # the actor by name, the id on hover
    assert "Gus Okafor" in row
    assert "queues General (catch-all) → Finance, General (catch-all)" in row
    assert re.search(r"capacity \d+ → 7", row)
    assert "role" not in row
    assert "name " not in row
    api = await h.http.get("/api/audit", params={"action": "user_updated"}, headers=bearer("admin"))
    [entry] = api.json()
    assert entry["details"]["queues"] == {"from": ["general"], "to": ["billing", "general"]}
    assert set(entry["details"]) == {"rep_id", "queues", "capacity"}

    cleared = await h.http.patch("/api/admin/reps/gus", json={"queues": []}, headers=bearer("admin"))
    assert cleared.status_code == 200, cleared.text
    newest = (await _audit_rows(h, "user_updated"))[0]
    assert "queues Finance, General (catch-all) → none" in newest  # taking every queue away is shown

    same = await h.http.patch("/api/admin/reps/gus", json={"capacity": 7}, headers=bearer("admin"))
    assert same.status_code == 200
    assert len(await _audit_rows(h, "user_updated")) == 2, "saving the form unchanged writes no entry"


async def test_the_audit_page_names_the_reps_of_a_reassignment(h: TestHarness) -> None:
    conversation_id = await reassigned_by_the_lead(h)
    [row] = await _audit_rows(h, "reassign")
    assert f'href="/conversations/{conversation_id}"' in row
    assert "Lena Fischer" in row  # the actor
    assert "Tara Nguyen → Diego Ruiz, in Tier 1 Technical Support" in row
    assert "rep id" not in row
    assert "actor name" not in row


async def test_a_lead_sees_only_their_departments_on_the_metrics_page(h: TestHarness) -> None:
    async with browser(h) as client:
        await sign_in(client, "sam", "demo-sam")
        page = await client.get("/team/metrics?period=all")
        assert page.status_code == 200
        shown = re.findall(r'<tr data-rep="([^"]+)"', page.text)
        assert shown == ["alice", "bruno", "harry", "olivia", "sam"]
        assert (await client.get("/team/metrics?period=1y")).status_code == 422
        today = (await client.get("/team/metrics?period=today")).text
        assert "Assignments queued since 24 Nov 00:00 UTC" in today, "today: since midnight"


async def test_the_reps_page_warns_of_a_queue_left_with_nobody_and_its_waiting_customers(
    h: TestHarness,
) -> None:
    await seed_conversation(h, Kind("waiting_senior", Owner.QUEUED, "senior_engineering", None))
    async with browser(h) as client:
        await sign_in(client, "admin", "demo-admin")
        staffed = (await client.get("/team/reps")).text
        assert 'id="unstaffed"' not in staffed
        # Eve is disabled and Lena leaves the queue: a member who cannot sign in staffs nothing.
        assert (await h.http.post("/api/admin/reps/eve/disable", headers=bearer("admin"))).status_code == 200
        left = await h.http.patch(
            "/api/admin/reps/lena", json={"queues": ["support"]}, headers=bearer("admin")
        )
        assert left.status_code == 200, left.text
        page = (await client.get("/team/reps")).text
    warning = page[page.index('id="unstaffed"') :].split("</section>")[0]
    assert re.findall(r'<li data-queue="([^"]+)"', warning) == ["senior_engineering"]
    assert (
        "Senior Engineering</strong>: no rep who can sign in is a member, so customers sent there wait"
        " until someone is added" in warning
    ), "transfers only: no handoff goes there to send elsewhere"
    assert '<a href="/inbox?view=waiting&amp;queue=senior_engineering">1 waiting now</a>' in warning
    async with browser(h) as client:
        await sign_in(client, "sam", "demo-sam")  # a lead of other queues is not told of this one
        assert 'id="unstaffed"' not in (await client.get("/team/reps")).text


async def test_the_reps_page_says_new_handoffs_to_a_queue_left_with_nobody_go_to_the_catch_all(
    h: TestHarness,
) -> None:
    # The sales team leaves Enterprise Sales (their lead keeps UK Account Executives).
    for rep, queues in (("alice", ["general"]), ("bruno", ["general"]), ("sam", ["uk_sales"])):
        left = await h.http.patch(f"/api/admin/reps/{rep}", json={"queues": queues}, headers=bearer("admin"))
        assert left.status_code == 200, left.text
    async with browser(h) as client:
        await sign_in(client, "admin", "demo-admin")
        page = (await client.get("/team/reps")).text
    warning = page[page.index('id="unstaffed"') :].split("</section>")[0]
    assert (
        "Enterprise Sales</strong>: no rep who can sign in is a member, so new handoffs routed there go to"
        " General (catch-all) instead, and transfers to it wait until someone is added" in warning
    )


async def test_an_admin_in_no_queue_who_handled_nothing_is_not_listed_as_a_rep_on_the_metrics(
    h: TestHarness,
) -> None:
    async with browser(h) as client:
        await sign_in(client, "admin", "demo-admin")
        page = (await client.get("/team/metrics?period=all")).text
    shown = re.findall(r'<tr data-rep="([^"]+)"', page)
    assert "admin" not in shown
    assert {"tara", "gus", "lena"} <= set(shown)
