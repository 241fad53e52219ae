"""Live notifications: committed context-log events reach the streams of the people who may see them,
over real HTTP (Server-Sent Events), and nothing else does."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import select

from handoff.models import Rep
from handoff.notify import NotificationHub, StreamEvent, Subscription
from handoff.policy import viewer_of
from handoff.users import set_queues
from orchestrator.core.contextlog import log_event
from orchestrator.core.enums import EventType, Owner, Role
from orchestrator.core.tables import Conversation
from tests.api.helpers import (
    ACTORS,
    KINDS,
    VISIBLE,
    Kind,
    SSEEvent,
    add_event,
    bearer,
    open_stream,
    seed_conversation,
)
from tests.factories import button, say, text
from tests.fakes.graph import TestHarness, graph_error_body


def drained(subscription: Subscription) -> list[StreamEvent]:
    out = []
    while not subscription.queue.empty():
        out.append(subscription.queue.get_nowait())
    return out


async def subscribe(h: TestHarness, hub: NotificationHub, actor: str) -> Subscription:
    async with h.service.sessions() as session:
        rep = await session.get(Rep, actor)
        assert rep is not None
        viewer = await viewer_of(session, rep=rep)
    return hub.subscribe(viewer)


async def test_assigned_rep_is_notified_on_their_stream_when_a_handoff_commits(
    h: TestHarness, live: str
) -> None:
    wa = "12025550301"
    async with (
        open_stream(live, "tara") as tara,
        open_stream(live, "diego") as diego,
        open_stream(live, "lena") as lena,
    ):
        await say(h, text(wa, "Hello", h.clock.now()))
        await say(h, button(wa, "menu_support", "Support", h.clock.now()))
        async with h.service.sessions() as session:
            conversation = (await session.execute(select(Conversation))).scalars().one()
        streams = {"tara": tara, "diego": diego, "lena": lena}
        assert conversation.assignee_id in streams
        event = await streams[conversation.assignee_id].until("assigned", conversation_id=conversation.id)
    assert event.data["details"]["rep_id"] == conversation.assignee_id
    assert event.data["queue"] == "support"
    assert event.data["owner"] == "human"
    assert event.id == event.data["id"]


async def test_rep_of_another_department_is_not_told_of_the_handoff(h: TestHarness, live: str) -> None:
    wa = "12025550302"
    billing = await seed_conversation(h, "farah_billing")
    async with open_stream(live, "farah") as farah:
        await say(h, text(wa, "Hello", h.clock.now()))
        await say(h, button(wa, "menu_support", "Support", h.clock.now()))
        marker = await add_event(h, billing, EventType.SLA_WARNING)
        first = await farah.next()
    # The stream is ordered: had the support handoff leaked, it would have come before the marker.
    assert (first.type, first.id) == ("sla_warning", marker)


async def test_customer_writing_to_a_human_conversation_notifies_its_owner(h: TestHarness, live: str) -> None:
    wa = "12025550303"
    await say(h, text(wa, "Hello", h.clock.now()))
    await say(h, button(wa, "menu_billing", "Billing", h.clock.now()))
    async with h.service.sessions() as session:
        conversation = (await session.execute(select(Conversation))).scalars().one()
    assert conversation.assignee_id in {"farah", "marc"}
    async with open_stream(live, conversation.assignee_id) as owner:
        await say(h, text(wa, "are you there? my invoice is wrong", h.clock.now()))
        event = await owner.until("message_received", conversation_id=conversation.id)
    assert "my invoice is wrong" in event.data["description"]
    assert event.data["source"] == "customer"
    assert event.data["customer"] == "Test Customer", "the alert can say who wrote"


async def test_owner_is_warned_on_their_stream_before_the_sla_expires(h: TestHarness, live: str) -> None:
    wa = "12025550304"
    await say(h, button(wa, "menu_support", "Support", h.clock.now()))
    async with h.service.sessions() as session:
        conversation = (await session.execute(select(Conversation))).scalars().one()
    assert conversation.assignee_id is not None
    async with open_stream(live, conversation.assignee_id) as owner:
        h.clock.advance(minutes=10, seconds=1)  # SLA 15 min, warned 5 min before (default config)
        await h.service.tick()
        warning = await owner.until("sla_warning", conversation_id=conversation.id)
    assert warning.data["assignee_id"] == conversation.assignee_id


async def test_failed_send_is_pushed_to_the_owners_stream(h: TestHarness, live: str) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    h.fake_graph.fail_next(400, graph_error_body(131026, "Receiver is incapable of receiving this message"))
    async with open_stream(live, "tara") as tara, httpx.AsyncClient(base_url=live) as client:
        response = await client.post(
            f"/api/conversations/{conversation_id}/messages", json={"text": "hello"}, headers=bearer("tara")
        )
        assert response.json()["status"] == "pending"
        failed = await tara.until("send_failed", conversation_id=conversation_id)
    assert failed.data["details"]["code"] == 131026
    assert failed.data["details"]["message_id"] == response.json()["id"]


async def test_each_subscriber_receives_exactly_the_events_it_may_see(
    h: TestHarness, hub: NotificationHub
) -> None:
    subscriptions = {actor: await subscribe(h, hub, actor) for actor in ACTORS}
    conversations = {name: await seed_conversation(h, name) for name in KINDS}
    await hub.settled()
    for subscription in subscriptions.values():
        drained(subscription)
    for conversation_id in conversations.values():
        await add_event(h, conversation_id, EventType.SLA_WARNING)
    await hub.settled()
    kind_of = {conversation_id: name for name, conversation_id in conversations.items()}
    received = {
        actor: {kind_of[e.conversation_id] for e in drained(subscription)}
        for actor, subscription in subscriptions.items()
    }
    assert received == VISIBLE


async def test_former_owner_is_told_of_a_transfer_that_takes_the_conversation_out_of_view(
    h: TestHarness, hub: NotificationHub
) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    tara = await subscribe(h, hub, "tara")
    async with h.service.sessions() as session, session.begin():
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        conversation.queue, conversation.assignee_id, conversation.owner = "billing", "farah", Owner.HUMAN
        session.add(conversation)
        await log_event(
            session,
            conversation_id=conversation_id,
            type=EventType.TRANSFERRED,
            source="tara",
            description="transferred to billing",
            at=h.clock.now(),
            details={"from_rep_id": "tara", "to_queue": "billing"},
        )
        await log_event(
            session,
            conversation_id=conversation_id,
            type=EventType.SLA_WARNING,
            source="timers",
            description="no reply yet",
            at=h.clock.now(),
        )
    await hub.settled()
    assert [e.type for e in drained(tara)] == ["transferred"]


async def test_rolled_back_transaction_notifies_nobody(h: TestHarness, hub: NotificationHub) -> None:
    conversation_id = await seed_conversation(h, "waiting_support")
    admin = await subscribe(h, hub, "admin")

    class Abort(Exception):
        pass

    try:
        async with h.service.sessions() as session, session.begin():
            await log_event(
                session,
                conversation_id=conversation_id,
                type=EventType.ESCALATED,
                source="test",
                description="never committed",
                at=h.clock.now(),
            )
            raise Abort
    except Abort:
        pass
    marker = await add_event(h, conversation_id, EventType.SLA_WARNING)
    await hub.settled()
    assert [e.id for e in drained(admin)] == [marker]


async def test_event_of_a_rolled_back_savepoint_is_not_published(
    h: TestHarness, hub: NotificationHub
) -> None:
    conversation_id = await seed_conversation(h, "waiting_support")
    admin = await subscribe(h, hub, "admin")
    async with h.service.sessions() as session, session.begin():
        savepoint = await session.begin_nested()
        await log_event(
            session,
            conversation_id=conversation_id,
            type=EventType.ESCALATED,
            source="test",
            description="undone",
            at=h.clock.now(),
        )
        await savepoint.rollback()
        kept = await log_event(
            session,
            conversation_id=conversation_id,
            type=EventType.SLA_WARNING,
            source="test",
            description="kept",
            at=h.clock.now(),
        )
    await hub.settled()
    assert [e.id for e in drained(admin)] == [kept.id]


async def test_bot_internal_entries_stay_out_of_the_stream(h: TestHarness, hub: NotificationHub) -> None:
    conversation_id = await seed_conversation(h, "waiting_support")
    admin = await subscribe(h, hub, "admin")
    for quiet in (EventType.SIGNAL, EventType.FIELD_COLLECTED, EventType.BOT_REPLY, EventType.ROUTED):
        await add_event(h, conversation_id, quiet)
    marker = await add_event(h, conversation_id, EventType.ESCALATED)
    await hub.settled()
    assert [e.id for e in drained(admin)] == [marker]


async def test_subscriber_that_falls_behind_is_cut_off_instead_of_growing_memory(
    h: TestHarness, hub: NotificationHub
) -> None:
    conversation_id = await seed_conversation(h, "waiting_support")
    hub.max_queue = 2
    slow = await subscribe(h, hub, "admin")
    for _ in range(3):
        await add_event(h, conversation_id, EventType.SLA_WARNING)
    await hub.settled()
    assert slow.lagged
    assert slow.queue.qsize() == 2


async def test_resumed_stream_replays_the_visible_events_it_missed(h: TestHarness, live: str) -> None:
    mine = await seed_conversation(h, "tara_support")
    other = await seed_conversation(h, "farah_billing")
    start = await add_event(h, mine, EventType.SLA_WARNING)
    missed = [
        await add_event(h, mine, EventType.MESSAGE_RECEIVED),
        await add_event(h, other, EventType.ESCALATED),
    ]
    missed.append(await add_event(h, mine, EventType.ESCALATED))
    async with open_stream(live, "tara", last_event_id=start) as tara:
        replayed = [await tara.next(), await tara.next()]
        live_one = await add_event(h, mine, EventType.SLA_WARNING)
        after = await tara.next()
    assert [e.id for e in replayed] == [missed[0], missed[2]]
    assert after.id == live_one


async def test_resumed_stream_tells_a_rep_of_their_conversation_taken_away_meanwhile(
    h: TestHarness, live: str
) -> None:
    # The rep can no longer see the conversation, but the transfer is addressed to them: a live
    # stream delivers it, and so does one that resumes after being down when it happened.
    taken = await seed_conversation(h, "tara_support")
    elsewhere = await seed_conversation(h, "farah_billing")
    start = await add_event(h, taken, EventType.SLA_WARNING)
    moved = await h.http.post(
        f"/api/conversations/{taken}/transfer", json={"queue": "billing"}, headers=bearer("admin")
    )
    assert moved.status_code == 200, moved.text
    await add_event(h, elsewhere, EventType.ESCALATED)  # neither hers to see nor addressed to her
    marker = await add_event(h, elsewhere, EventType.SLA_WARNING, rep_id="tara")
    async with open_stream(live, "tara", last_event_id=start) as tara:
        replayed = [await tara.next(), await tara.next()]
    assert [(e.type, e.data["conversation_id"]) for e in replayed] == [
        ("transferred", taken),
        ("sla_warning", elsewhere),
    ]
    assert replayed[0].data["details"]["from_rep_id"] == "tara"
    assert replayed[1].id == marker


async def test_stream_starts_after_the_id_in_its_address_unless_the_header_says_otherwise(
    h: TestHarness, live: str
) -> None:
    mine = await seed_conversation(h, "tara_support")
    first = await add_event(h, mine, EventType.SLA_WARNING)
    second = await add_event(h, mine, EventType.ESCALATED)
    third = await add_event(h, mine, EventType.MESSAGE_RECEIVED)
    async with open_stream(live, "tara", params={"after": first}) as by_address:
        assert [(await by_address.next()).id for _ in range(2)] == [second, third]
    async with open_stream(live, "tara", last_event_id=second, params={"after": first}) as both:
        assert (await both.next()).id == third
        fourth = await add_event(h, mine, EventType.SLA_WARNING)
        assert (await both.next()).id == fourth  # nothing replayed twice: the header won


async def test_stream_can_be_limited_to_some_event_types(h: TestHarness, live: str) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    async with open_stream(live, "tara", params={"types": ["sla_warning"]}) as tara:
        await add_event(h, conversation_id, EventType.ESCALATED)
        wanted = await add_event(h, conversation_id, EventType.SLA_WARNING)
        first = await tara.next()
    assert (first.type, first.id) == ("sla_warning", wanted)


async def test_stream_refuses_a_caller_without_a_valid_token(h: TestHarness, live: str) -> None:
    async with httpx.AsyncClient(base_url=live) as client:
        missing = await client.get("/api/stream")
        wrong = await client.get("/api/stream", headers=bearer("not-a-token"))
    assert missing.status_code == 401
    assert wrong.status_code == 401
    assert wrong.json() == {"detail": "invalid or expired token"}


async def test_closing_the_stream_unsubscribes(h: TestHarness, live: str, hub: NotificationHub) -> None:
    async with open_stream(live, "tara"):
        (subscription,) = hub.subscriptions
        assert subscription.viewer.id == "tara"
    await asyncio.wait_for(subscription.closed.wait(), timeout=5)  # the server noticed the disconnect
    assert hub.subscriptions == ()


async def test_a_closed_stream_leaves_no_waiting_task_behind(
    h: TestHarness, live: str, hub: NotificationHub
) -> None:
    # A client that goes away while its stream waits for the next event: the waits of that moment
    # end with the stream. Left pending, each is destroyed later with the subscription ("Task was
    # destroyed but it is pending!", an error in the log at every closed browser tab).
    async with open_stream(live, "tara"):
        (subscription,) = hub.subscriptions
        await asyncio.sleep(0.05)  # the server waits for the next event
    await asyncio.wait_for(subscription.closed.wait(), timeout=5)
    await asyncio.sleep(0)  # a cancelled wait ends at the loop's next pass
    waits = {"Queue.get", "Event.wait"}
    left = [t for t in asyncio.all_tasks() if not t.done() and t.get_coro().__qualname__ in waits]  # type: ignore[union-attr]
    assert left == []


async def test_a_leads_open_stream_ends_when_an_admin_takes_their_department_away(
    h: TestHarness, live: str
) -> None:
    support = await seed_conversation(h, "waiting_support")
    async with open_stream(live, "lena") as lena:
        changed = await h.http.patch(
            "/api/admin/reps/lena", json={"role": "rep", "queues": ["billing"]}, headers=bearer("admin")
        )
        assert changed.status_code == 200, changed.text
        await lena.until_closed(within=5)
    # Reconnected, she is served what she may see now: support's events no longer reach her.
    async with open_stream(live, "lena") as again:
        await add_event(h, support, EventType.ESCALATED)
        billing = await seed_conversation(h, Kind("waiting_billing", Owner.QUEUED, "billing", None))
        hers = await add_event(h, billing, EventType.SLA_WARNING)
        received = [await again.next(), await again.next()]  # the billing handoff, then the warning
    assert [e.data["conversation_id"] for e in received] == [billing, billing]
    assert received[-1].id == hers


async def test_a_stream_whose_reps_rights_changed_elsewhere_ends_at_its_next_check(
    h: TestHarness, live: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another process changed them: nothing tells this one but the stream's own periodic check,
    # which runs while events keep coming too.
    monkeypatch.setattr("handoff.api.stream.STREAM_PING_S", 0.5)
    support = await seed_conversation(h, "waiting_support")

    async def keep_busy() -> None:
        while True:
            await add_event(h, support, EventType.SLA_WARNING)
            await asyncio.sleep(0.1)

    async with open_stream(live, "lena") as lena:
        busy = asyncio.create_task(keep_busy())
        try:
            await lena.next()  # events flow
            async with h.service.sessions() as session, session.begin():
                lena_row = await session.get_one(Rep, "lena")
                lena_row.role = Role.REP
                await set_queues(session, rep_id="lena", queues=["billing"], known={"billing", "support"})
            await lena.until_closed(within=5)  # the events never stop: only the check ends it
        finally:
            busy.cancel()


async def test_a_disabled_reps_open_stream_ends_at_once(h: TestHarness, live: str) -> None:
    async with open_stream(live, "diego") as diego:
        disabled = await h.http.post("/api/admin/reps/diego/disable", headers=bearer("admin"))
        assert disabled.status_code == 200
        rest = await diego.until_closed(within=5)
    assert not any(line.startswith("data:") for line in rest)
    async with httpx.AsyncClient(base_url=live) as client:
        again = await client.get("/api/stream", headers=bearer("diego"))
    assert again.status_code == 401


async def test_a_colleague_taking_a_waiting_conversation_tells_the_queues_reps_only_that(
    h: TestHarness,
) -> None:
    hub = h.service.notifier
    assert hub is not None
    waiting = await seed_conversation(h, "waiting_support", name="Ivy Cole")
    diego = await subscribe(h, hub, "diego")  # support, like tara: saw it waiting
    farah = await subscribe(h, hub, "farah")  # billing: never saw it
    taken = await h.http.post(f"/api/conversations/{waiting}/claim", headers=bearer("tara"))
    assert taken.status_code == 200, taken.text
    await hub.settled()
    told = [e for e in drained(diego) if e.conversation_id == waiting]
    assert told, "the rep's list would keep a conversation they can no longer take"
    for event in told:
        withheld = (
            event.details,
            event.description,
            event.source,
            event.owner,
            event.queue,
            event.assignee_id,
            event.customer,
        )
        assert withheld == (None, "", "", "", None, None, None)
    assert [e for e in drained(farah) if e.conversation_id == waiting] == []


async def test_a_resumed_stream_replays_what_left_the_reps_queue_stripped_too(
    h: TestHarness, live: str
) -> None:
    waiting = await seed_conversation(h, "waiting_support", name="Ivy Cole")
    before = await add_event(h, waiting, EventType.SLA_WARNING, rep_id="diego")  # where diego's page was
    taken = await h.http.post(f"/api/conversations/{waiting}/claim", headers=bearer("tara"))
    assert taken.status_code == 200, taken.text
    marker = await add_event(h, waiting, EventType.SLA_WARNING, rep_id="diego")  # after the claim
    async with open_stream(live, "diego", last_event_id=before) as diego:
        replayed: list[SSEEvent] = []
        while not replayed or replayed[-1].id != marker:
            replayed.append(await diego.next())
    left = [e for e in replayed if e.type == "assigned"]
    assert len(left) == 1
    withheld = ("details", "description", "assignee_id", "customer")
    assert [left[0].data[key] for key in withheld] == [None, "", None, None]
