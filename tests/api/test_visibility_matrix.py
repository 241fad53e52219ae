"""The visibility matrix: every endpoint × role × ownership. Invisible answers 404 (nothing tells an
outsider that it exists), visible but forbidden answers 403, a state that forbids it answers 409.

The expected tables are written out by hand from the rules (DESIGN.md and the issue), not computed
by the code under test. Each cell runs on a freshly seeded conversation, so a write allowed in one
cell cannot change the next.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import col

from handoff.models import Rep
from handoff.policy import can, viewer_of, visibility_clause
from orchestrator.core.enums import Action, Owner
from orchestrator.core.tables import Contact, Conversation
from tests.api.helpers import ACTORS, KINDS, VISIBLE, bearer, seed_conversation
from tests.api.media_helpers import JPEG, seed_media
from tests.fakes.graph import TestHarness


def table(text: str) -> dict[str, dict[str, int]]:
    """Rows `kind  tara diego farah lena sam admin` into {kind: {actor: status}}."""
    rows: dict[str, dict[str, int]] = {}
    for line in text.strip().splitlines():
        kind, *codes = line.split()
        assert len(codes) == len(ACTORS), line
        rows[kind] = dict(zip(ACTORS, map(int, codes), strict=True))
    return rows


#                      tara  diego farah lena  sam   admin
READ = table("""
waiting_support        200   200   404   200   404   200
tara_support           200   404   404   200   404   200
farah_billing          404   404   200   404   404   200
bot                    404   404   404   404   404   200
closed_tara            200   404   404   200   404   200
""")
REPLY = table("""
waiting_support        403   403   404   403   404   403
tara_support           202   404   404   403   404   403
farah_billing          404   404   202   404   404   403
bot                    404   404   404   404   404   403
closed_tara            403   404   404   403   404   403
""")
# Transfer, resolve and hand back: the owner, a lead (in their departments) or an admin.
SUPERVISED = table("""
waiting_support        403   403   404   200   404   200
tara_support           200   404   404   200   404   200
farah_billing          404   404   200   404   404   200
bot                    404   404   404   404   404   409
closed_tara            403   404   404   409   404   409
""")
REASSIGN = table("""
waiting_support        403   403   404   200   404   200
tara_support           403   404   404   200   404   200
farah_billing          404   404   403   404   404   200
bot                    404   404   404   404   404   409
closed_tara            403   404   404   409   404   409
""")

TEMPLATE_REPLY = {"type": "template", "name": "follow_up", "language": "en_US", "parameters": ["Ana", "#1"]}

# Another member of the conversation's queue, to reassign to.
REASSIGN_TO = {"support": "diego", "billing": "marc", None: "diego"}


def conversation_call(endpoint: str, conversation_id: int, queue: str | None) -> tuple[str, str, Any]:
    base = f"/api/conversations/{conversation_id}"
    return {
        "read": ("GET", base, None),
        "reply": ("POST", f"{base}/messages", {"text": "Hello from the team"}),
        "transfer": ("POST", f"{base}/transfer", {"queue": "general", "note": "for general"}),
        "resolve": ("POST", f"{base}/resolve", None),
        "hand_back": ("POST", f"{base}/hand-back", {"note": "all sorted"}),
        "reassign": ("POST", f"{base}/reassign", {"rep_id": REASSIGN_TO[queue]}),
        "reply_template": ("POST", f"{base}/messages", TEMPLATE_REPLY),
        "canned_for_conversation": ("GET", f"{base}/canned-replies", None),
        "media": ("GET", f"{base}/media/{{media_id}}", None),
        "send_media": ("POST", f"{base}/media", None),
    }[endpoint]


EXPECTED = {
    "read": READ,
    "reply": REPLY,
    "transfer": SUPERVISED,
    "resolve": SUPERVISED,
    "hand_back": SUPERVISED,
    "reassign": REASSIGN,
    # A template goes through the reply path: the same rule as any reply.
    "reply_template": REPLY,
    # The canned replies filled in for a conversation: whoever may read it.
    "canned_for_conversation": READ,
    # A message's media: exactly who may read the conversation; sending a file: exactly who may reply.
    "media": READ,
    # Same rule, and sent in the background like a text reply (202).
    "send_media": REPLY,
}


@pytest.mark.parametrize("endpoint", list(EXPECTED))
async def test_conversation_endpoint_answers_each_role_and_ownership_as_the_rules_say(
    h: TestHarness, endpoint: str
) -> None:
    observed: dict[str, dict[str, int]] = {}
    bodies: list[str] = []
    for kind in KINDS.values():
        observed[kind.name] = {}
        for actor in ACTORS:
            conversation_id = await seed_conversation(h, kind)
            method, path, body = conversation_call(endpoint, conversation_id, kind.queue)
            if "{media_id}" in path:
                path = path.replace("{media_id}", str(await seed_media(h, conversation_id)))
            if endpoint == "send_media":
                files = {"file": ("photo.jpg", JPEG, "image/jpeg")}
                response = await h.http.post(path, files=files, headers=bearer(actor))
            else:
                response = await h.http.request(method, path, json=body, headers=bearer(actor))
            observed[kind.name][actor] = response.status_code
            if response.status_code >= 500:
                bodies.append(f"{kind.name}/{actor}: {response.text[:300]}")
            if response.status_code in (403, 404, 409):
                assert set(response.json()) == {"detail"}, response.text
    assert observed == EXPECTED[endpoint], bodies


async def test_list_shows_each_role_exactly_what_it_may_see(h: TestHarness) -> None:
    ids = {name: await seed_conversation(h, name) for name in KINDS}
    kind_of = {v: k for k, v in ids.items()}
    for actor in ACTORS:
        response = await h.http.get("/api/conversations", headers=bearer(actor))
        assert response.status_code == 200
        assert {kind_of[c["id"]] for c in response.json()} == VISIBLE[actor], actor
        assert response.headers["x-total-count"] == str(len(VISIBLE[actor]))


async def test_list_filters_cannot_widen_what_a_role_sees(h: TestHarness) -> None:
    await seed_conversation(h, "farah_billing")
    for params in ({"queue": "billing"}, {"assignee_id": "farah"}, {"owner": "human"}):
        response = await h.http.get("/api/conversations", params=params, headers=bearer("tara"))
        assert response.status_code == 200
        assert response.json() == [], params


#                      tara  diego farah lena  sam   admin
OTHER = table("""
queue_support          200   200   404   200   404   200
queue_billing          404   404   200   404   404   200
metrics_tara           200   404   404   200   404   200
metrics_farah          404   404   200   404   404   200
admin_config           403   403   403   403   403   200
admin_create           403   403   403   403   403   201
admin_update           403   403   403   403   403   200
admin_token            403   403   403   403   403   201
admin_disable          403   403   403   403   403   200
admin_revoke_token     403   403   403   403   403   200
templates              200   200   200   200   200   200
canned_list            200   200   200   200   200   200
team_metrics           403   403   403   200   200   200
""")
OTHER_CALLS: dict[str, tuple[str, str, Any]] = {
    "queue_support": ("GET", "/api/queues/support", None),
    "queue_billing": ("GET", "/api/queues/billing", None),
    "metrics_tara": ("GET", "/api/reps/tara/metrics", None),
    "metrics_farah": ("GET", "/api/reps/farah/metrics", None),
    "admin_config": ("GET", "/api/admin/config", None),
    "admin_create": ("POST", "/api/admin/reps", {"id": "newbie", "name": "New Bie", "queues": ["general"]}),
    "admin_update": ("PATCH", "/api/admin/reps/diego", {"capacity": 4}),
    "admin_token": ("POST", "/api/admin/reps/eve/api-token", None),
    "admin_disable": ("POST", "/api/admin/reps/gus/disable", None),
    "admin_revoke_token": ("DELETE", "/api/admin/reps/harry/api-token", None),
    "templates": ("GET", "/api/templates", None),
    "canned_list": ("GET", "/api/canned-replies", None),
    "team_metrics": ("GET", "/api/metrics/reps", None),
}


async def test_queue_metrics_and_admin_endpoints_answer_each_role_as_the_rules_say(h: TestHarness) -> None:
    observed = {
        name: {
            actor: (await h.http.request(method, path, json=body, headers=bearer(actor))).status_code
            for actor in ACTORS  # admin last: its writes come after every refusal
        }
        for name, (method, path, body) in OTHER_CALLS.items()
    }
    assert observed == OTHER


async def test_dashboard_and_rep_list_are_limited_to_the_callers_departments(h: TestHarness) -> None:
    queues = {
        actor: [q["queue"] for q in (await h.http.get("/api/queues", headers=bearer(actor))).json()]
        for actor in ACTORS
    }
    reps = {
        actor: {r["id"] for r in (await h.http.get("/api/reps", headers=bearer(actor))).json()}
        for actor in ACTORS
    }
    assert queues == {
        "tara": ["support"],
        "diego": ["support"],
        "farah": ["billing"],
        "lena": ["support", "senior_engineering"],
        "sam": ["sales", "uk_sales"],
        "admin": ["sales", "uk_sales", "support", "billing", "senior_engineering", "general"],
    }
    assert reps["tara"] == {"tara"}
    assert reps["farah"] == {"farah"}
    assert reps["lena"] == {"tara", "diego", "lena", "eve"}
    assert reps["sam"] == {"alice", "bruno", "sam", "olivia", "harry"}
    assert len(reps["admin"]) == 13


async def test_every_rep_api_operation_refuses_an_anonymous_caller(h: TestHarness) -> None:
    paths = (await h.http.get("/openapi.json")).json()["paths"]
    operations = [
        (method.upper(), path)
        for path, item in paths.items()
        if path.startswith("/api/") and path != "/api/auth/token"
        for method in item
    ]
    assert len(operations) >= 20
    for method, path in operations:
        concrete = (
            path.replace("{conversation_id}", "1")
            .replace("{rep_id}", "tara")
            .replace("{slug}", "support")
            .replace("{media_id}", "1")
        )
        response = await h.http.request(method, concrete, json={})
        assert response.status_code == 401, (method, path, response.text)
        assert "401" in paths[path][method.lower()]["responses"], (method, path)
        assert paths[path][method.lower()]["security"] == [{"OAuth2PasswordBearer": []}], (method, path)


async def test_visibility_predicate_of_the_stream_agrees_with_the_query(h: TestHarness) -> None:
    """The stream filters loaded rows in Python, the API filters in SQL: same answer everywhere."""
    combos = [
        (owner, queue, assignee)
        for owner in Owner
        for queue in (None, "support", "billing")
        for assignee in (None, "tara", "farah")
    ]
    now = h.clock.now()
    async with h.service.sessions() as session, session.begin():
        for i, (owner, queue, assignee) in enumerate(combos):
            contact = Contact(wa_id=f"1303555{i:04d}", created_at=now)
            session.add(contact)
            await session.flush()
            assert contact.id is not None
            session.add(
                Conversation(
                    contact_id=contact.id,
                    owner=owner,
                    queue=queue,
                    assignee_id=assignee,
                    created_at=now,
                    updated_at=now,
                )
            )
    async with h.service.sessions() as session:
        rows = {c.id: c for c in (await session.execute(select(Conversation))).scalars()}
        reps = {
            r.id: r for r in (await session.execute(select(Rep).where(col(Rep.id).in_(ACTORS)))).scalars()
        }
        for actor in ACTORS:
            viewer = await viewer_of(session, rep=reps[actor])
            query = select(col(Conversation.id))
            clause = visibility_clause(viewer)
            if clause is not None:
                query = query.where(clause)
            in_sql = set((await session.execute(query)).scalars())
            in_python = {cid for cid, c in rows.items() if can(viewer, Action.VIEW, c)}
            assert in_sql == in_python, actor
            if actor == "admin":
                assert in_sql == set(rows)


async def test_cast_of_the_matrix_has_the_roles_it_assumes(h: TestHarness) -> None:
    # Guards the tables above: every actor exists with the role and queues they were written for.
    async with h.service.sessions() as session:
        roles = dict((await session.execute(select(col(Rep.id), col(Rep.role)))).all())
    assert {actor: roles[actor] for actor in ACTORS} == {
        "tara": "rep",
        "diego": "rep",
        "farah": "rep",
        "lena": "lead",
        "sam": "lead",
        "admin": "admin",
    }


# Canned replies: team-wide ones are every rep's to use and an admin's to manage; a queue's are its
# members' to use (others: 404) and its leads' and the admins' to manage.
#                      tara  diego farah lena  sam   admin
CANNED = table("""
create_team            403   403   403   403   403   201
create_support         403   403   403   201   403   201
create_billing         403   403   403   403   403   201
update_team            403   403   403   403   403   200
update_support         403   403   404   200   404   200
update_billing         404   404   403   404   404   200
delete_team            403   403   403   403   403   204
delete_support         403   403   404   204   404   204
delete_billing         404   404   403   404   404   204
""")
SCOPES = {"team": None, "support": "support", "billing": "billing"}


async def test_canned_reply_endpoints_answer_each_role_as_the_rules_say(h: TestHarness) -> None:
    observed: dict[str, dict[str, int]] = {}
    for n, row in enumerate(CANNED):
        verb, scope = row.split("_")
        observed[row] = {}
        for actor in ACTORS:
            shortcut = f"s{n}-{actor}"
            body = {
                "shortcut": shortcut,
                "title": "T",
                "text": "Hello {customer_name}",
                "queue": SCOPES[scope],
            }
            if verb == "create":
                response = await h.http.post("/api/canned-replies", json=body, headers=bearer(actor))
            else:
                seeded = await h.http.post("/api/canned-replies", json=body, headers=bearer("admin"))
                assert seeded.status_code == 201, seeded.text
                path = f"/api/canned-replies/{seeded.json()['id']}"
                response = await h.http.request(
                    "PATCH" if verb == "update" else "DELETE",
                    path,
                    json={"title": "Changed"} if verb == "update" else None,
                    headers=bearer(actor),
                )
            observed[row][actor] = response.status_code
            if response.status_code in (403, 404):
                assert set(response.json()) == {"detail"}, response.text
    assert observed == CANNED
