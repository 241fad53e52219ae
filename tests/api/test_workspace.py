"""The rep's own state (presence, heartbeat, auto-assignment), the queue dashboard, rep metrics, and the
admin's configuration and user management."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.api.helpers import bearer, seed_conversation
from tests.fakes.graph import TestHarness


async def post(h: TestHarness, path: str, actor: str, body: dict[str, Any] | None = None) -> Any:
    response = await h.http.post(path, json=body, headers=bearer(actor))
    await h.service.dispatcher.drain()  # what the request queued is sent in the background
    return response


async def test_presence_change_is_applied_and_audited(h: TestHarness) -> None:
    response = await post(h, "/api/me/presence", "tara", {"presence": "away"})
    assert response.status_code == 200
    assert response.json()["presence"] == "away"
    assert (await h.http.get("/api/me", headers=bearer("tara"))).json()["presence"] == "away"
    audit = (await h.http.get("/api/audit", headers=bearer("tara"))).json()
    assert [(e["action"], e["details"]) for e in audit] == [("presence", {"from": "online", "to": "away"})]
    wrong = await post(h, "/api/me/presence", "tara", {"presence": "asleep"})
    assert wrong.status_code == 422


async def test_coming_online_takes_a_waiting_conversation(h: TestHarness) -> None:
    for rep in ("tara", "diego", "lena"):
        await post(h, "/api/me/presence", rep, {"presence": "offline"})
    conversation_id = await seed_conversation(h, "waiting_support")
    response = await post(h, "/api/me/presence", "diego", {"presence": "online"})
    assert response.status_code == 200
    assert response.json()["open_count"] == 1
    conversation = (await h.http.get(f"/api/conversations/{conversation_id}", headers=bearer("diego"))).json()
    assert (conversation["owner"], conversation["assignee_id"]) == ("human", "diego")


async def test_heartbeat_records_that_the_rep_is_alive(h: TestHarness) -> None:
    h.clock.advance(minutes=3)
    response = await post(h, "/api/me/heartbeat", "tara")
    assert response.status_code == 200
    assert response.json()["last_seen_at"] == h.clock.now().isoformat().replace("+00:00", "Z")


async def test_rep_can_opt_out_of_automatic_assignment(h: TestHarness) -> None:
    response = await post(h, "/api/me/auto-assign", "tara", {"enabled": False})
    assert response.status_code == 200
    assert response.json()["auto_assign"] is False


async def test_queue_dashboard_shows_depth_longest_wait_and_reps_online(h: TestHarness) -> None:
    for rep in ("tara", "diego", "lena"):
        await post(h, "/api/me/presence", rep, {"presence": "away"})
    await post(h, "/api/me/presence", "diego", {"presence": "online"})
    await post(h, "/api/me/auto-assign", "diego", {"enabled": False})
    first = await seed_conversation(h, "waiting_support")
    h.clock.advance(minutes=4)
    second = await seed_conversation(h, "waiting_support")
    h.clock.advance(minutes=1)
    response = await h.http.get("/api/queues/support", headers=bearer("tara"))
    assert response.status_code == 200
    queue = response.json()
    assert queue["depth"] == 2
    assert queue["longest_wait_seconds"] == 300
    assert (queue["reps_online"], queue["reps_available"]) == (1, 0)
    assert [c["id"] for c in queue["waiting"]] == [first, second]
    assert {r["id"] for r in queue["reps"]} == {"tara", "diego", "lena"}
    (summary,) = (await h.http.get("/api/queues", headers=bearer("tara"))).json()
    assert (summary["queue"], summary["depth"], summary["longest_wait_seconds"]) == ("support", 2, 300)


async def test_rep_metrics_count_assignments_and_first_response_time(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    h.clock.advance(seconds=90)
    await post(h, f"/api/conversations/{conversation_id}/messages", "tara", {"text": "Hi!"})
    response = await h.http.get("/api/reps/tara/metrics", headers=bearer("lena"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["rep_id"] == "tara"
    assert body["assignments"] == 1
    assert body["first_response"]["count"] == 1
    assert body["first_response"]["mean_seconds"] == 90
    later = (h.clock.now() + timedelta(minutes=1)).isoformat()
    since = await h.http.get("/api/reps/tara/metrics", params={"since": later}, headers=bearer("tara"))
    assert since.json()["assignments"] == 0


async def test_admin_reads_the_configuration_without_the_demo_tokens(h: TestHarness) -> None:
    response = await h.http.get("/api/admin/config", headers=bearer("admin"))
    assert response.status_code == 200
    config = response.json()
    assert [q["slug"] for q in config["queues"]][:2] == ["sales", "uk_sales"]
    assert config["routing"]["fallback"] == "general"
    assert {r["token"] for r in config["reps"]} == {"***"}
    assert "demo-" not in response.text
    assert {r["id"]: r["differs_in_force"] for r in config["reps"]}["tara"] == []


async def test_the_configuration_says_which_listed_reps_an_admin_has_changed_since_the_file_made_them(
    h: TestHarness,
) -> None:
    """The file creates its reps once; the team in force is edited in the workspace, and a later
    edit of the file does not reach them: the admin's view of the file says so, rep by rep."""
    updated = await h.http.patch(
        "/api/admin/reps/tara",
        json={"capacity": 9, "queues": ["support", "billing"]},
        headers=bearer("admin"),
    )
    assert updated.status_code == 200
    config = (await h.http.get("/api/admin/config", headers=bearer("admin"))).json()
    tara = next(r for r in config["reps"] if r["id"] == "tara")
    file_capacity = tara["capacity"]
    assert tara["differs_in_force"] == [
        f"capacity: the file says {file_capacity}, in force 9",
        "queues: the file says 'support', in force 'billing, support'",
    ]


async def test_admin_creates_and_updates_a_rep(h: TestHarness) -> None:
    created = await post(
        h,
        "/api/admin/reps",
        "admin",
        {"id": "zoe", "name": "Zoe Park", "role": "lead", "queues": ["billing"], "capacity": 3},
    )
    assert created.status_code == 201, created.text
    assert created.json() == {
        "id": "zoe",
        "name": "Zoe Park",
        "role": "lead",
        "presence": "offline",
        "capacity": 3,
        "open_count": 0,
        "auto_assign": True,
        "last_seen_at": None,
        "queues": ["billing"],
        "has_password": False,
        "has_api_token": False,
    }
    updated = await h.http.patch(
        "/api/admin/reps/zoe", json={"queues": ["billing", "general"], "capacity": 6}, headers=bearer("admin")
    )
    assert updated.status_code == 200
    assert (updated.json()["queues"], updated.json()["capacity"]) == (["billing", "general"], 6)
    audit = (await h.http.get("/api/audit", params={"actor_id": "admin"}, headers=bearer("admin"))).json()
    assert [e["action"] for e in audit] == ["user_updated", "user_created"]


async def test_admin_user_management_refuses_bad_input(h: TestHarness) -> None:
    duplicate = await post(h, "/api/admin/reps", "admin", {"id": "tara", "name": "Another Tara"})
    unknown_queue = await post(
        h, "/api/admin/reps", "admin", {"id": "zed", "name": "Zed", "queues": ["nowhere"]}
    )
    bad_id = await post(h, "/api/admin/reps", "admin", {"id": "Not An Id", "name": "X"})
    missing = await h.http.patch("/api/admin/reps/nobody", json={"capacity": 1}, headers=bearer("admin"))
    self_disable = await post(h, "/api/admin/reps/admin/disable", "admin")
    assert duplicate.status_code == 409
    assert unknown_queue.status_code == 422
    assert unknown_queue.json() == {"detail": ["body: unknown queue(s): nowhere"]}
    assert bad_id.status_code == 422
    assert missing.status_code == 404
    assert self_disable.status_code == 409


async def test_disabling_a_rep_sends_their_open_conversations_back_to_their_queues_at_once(
    h: TestHarness,
) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    online = await post(h, "/api/me/presence", "diego", {"presence": "online"})
    assert online.status_code == 200, online.text
    disabled = await post(h, "/api/admin/reps/tara/disable", "admin")
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["open_count"] == 0, "nothing left with a rep who cannot come back"
    detail = (await h.http.get(f"/api/conversations/{conversation_id}", headers=bearer("admin"))).json()
    assert detail["assignee_id"] == "diego", "the next rep free has it now, not after the offline timer"
    events = [e for e in detail["events"] if e["type"] == "assignment_revoked"]
    assert [e["details"]["reason"] for e in events] == ["offline"]


async def test_the_presence_change_of_a_disabled_rep_is_the_admins_action_in_the_audit(
    h: TestHarness,
) -> None:
    await post(h, "/api/me/presence", "tara", {"presence": "away"})
    assert (await post(h, "/api/admin/reps/tara/disable", "admin")).status_code == 200
    by_admin = (await h.http.get("/api/audit", params={"actor_id": "admin"}, headers=bearer("admin"))).json()
    changed = [e for e in by_admin if e["action"] == "presence"]
    assert [e["details"] for e in changed] == [{"from": "away", "to": "offline", "rep_id": "tara"}]
    by_tara = (await h.http.get("/api/audit", params={"actor_id": "tara"}, headers=bearer("admin"))).json()
    assert [e["details"]["to"] for e in by_tara if e["action"] == "presence"] == ["away"], "only her own"


async def test_choosing_the_presence_one_already_has_writes_no_audit_entry(h: TestHarness) -> None:
    for presence in ("away", "away", "online", "online"):
        await post(h, "/api/me/presence", "tara", {"presence": presence})
    by_tara = (await h.http.get("/api/audit", params={"actor_id": "tara"}, headers=bearer("admin"))).json()
    changes = [(e["details"]["from"], e["details"]["to"]) for e in by_tara if e["action"] == "presence"]
    assert changes == [("away", "online"), ("online", "away")], "newest first, no 'online → online'"
