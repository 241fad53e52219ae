"""Metrics measured from the assignment (not from the conversation's creation): first response,
handle time, wait, reassignments, transfers, SLA breaches, queue depth and longest wait; served to
the rep API as models and to Prometheus at /metrics."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from sqlmodel import col

from handoff.flows_rep import rep_reply, resolve, set_presence, transfer
from handoff.metrics import metrics_report, queue_metrics, rep_metrics
from orchestrator.core.enums import HandoffReason, Owner, Presence
from orchestrator.core.tables import Conversation, InboxItem
from orchestrator.outbox import queue_outgoing
from tests.factories import button, say, text
from tests.fakes.graph import TestHarness, graph_error_body
from tests.handoff.conftest import World


async def test_first_response_time_is_measured_from_the_assignment_not_the_handoff(world: World) -> None:
    await world.add_rep("tara", "support", presence=Presence.AWAY)
    result = await world.handoff(choice="support")
    world.advance(minutes=10)  # nobody was free: it waited
    await world.act(set_presence, config=world.config, rep_id="tara", presence=Presence.ONLINE)
    world.advance(minutes=2)
    await world.act(
        rep_reply, conversation_id=result.context.conversation_id, rep=await world.rep("tara"), text="Hi"
    )
    async with world.sessions() as session:
        tara = await rep_metrics(session, rep_id="tara", at=world.now())
        (support,) = [
            q
            for q in await queue_metrics(session, config=world.config, at=world.now())
            if q.queue == "support"
        ]
    assert tara.first_response.count == 1
    assert tara.first_response.mean_seconds == 120.0
    assert tara.wait.mean_seconds == 600.0
    assert (tara.assignments, tara.active, tara.open) == (1, 1, 1)
    assert support.first_response.mean_seconds == 120.0
    assert support.first_response.max_seconds == 120.0


async def test_metrics_count_reassignments_sla_breaches_transfers_and_handle_time(world: World) -> None:
    for rep in ("tara", "diego"):
        await world.add_rep(rep, "support")
    await world.add_rep("eve", "senior_engineering")
    lapsed = await world.handoff(choice="support")  # diego, who will not answer
    world.advance(minutes=15)
    await world.heartbeat("tara", "diego", "eve")
    await world.tick()  # revoked -> tara
    tara = await world.rep("tara")
    await world.act(
        rep_reply, conversation_id=lapsed.context.conversation_id, rep=tara, text="Sorry for the wait"
    )
    world.advance(minutes=20)
    await world.act(resolve, conversation_id=lapsed.context.conversation_id, actor=tara)
    moved = await world.handoff(choice="support")  # diego again (tara's turn was last)
    world.advance(minutes=1)
    await world.act(
        transfer,
        config=world.config,
        conversation_id=moved.context.conversation_id,
        actor=await world.rep("diego"),
        to_queue="senior_engineering",
        note=None,
    )
    async with world.sessions() as session:
        report = await metrics_report(session, config=world.config, at=world.now())
    reps = {r.rep_id: r for r in report.reps}
    assert (reps["diego"].reassignments, reps["diego"].sla_breaches, reps["diego"].transfers) == (1, 1, 1)
    assert reps["diego"].handle_time.count == 1  # the transferred one: 1 minute
    assert reps["diego"].handle_time.mean_seconds == 60.0
    assert reps["tara"].handle_time.mean_seconds == 20 * 60 + 0.0
    assert (reps["tara"].reassignments, reps["tara"].sla_breaches) == (0, 0)
    queues = {q.queue: q for q in report.queues}
    assert (
        queues["support"].assignments,
        queues["support"].reassignments,
        queues["support"].sla_breaches,
    ) == (3, 1, 1)
    assert queues["support"].transfers == 1
    assert queues["senior_engineering"].active == 1
    assert report.timers_overdue == 0


async def test_queue_metrics_report_depth_and_longest_wait(world: World) -> None:
    await world.add_rep("tara", "support", presence=Presence.AWAY)
    await world.handoff(choice="support")
    world.advance(minutes=2)
    await world.handoff(choice="support")
    world.advance(minutes=3)
    async with world.sessions() as session:
        queues = {q.queue: q for q in await queue_metrics(session, config=world.config, at=world.now())}
    assert (queues["support"].depth, queues["support"].longest_wait_seconds) == (2, 300.0)
    assert (queues["support"].reps_online, queues["support"].reps_available) == (0, 0)
    assert (queues["billing"].depth, queues["billing"].longest_wait_seconds) == (0, None)


async def test_prometheus_endpoint_serves_queue_and_rep_metrics(h: TestHarness) -> None:
    wa = "447700900321"
    await say(h, text(wa, "Hello", h.clock.now()))
    await say(h, button(wa, "menu_support", "Support", h.clock.now()))
    response = await h.http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }
    assert samples[("handoff_queue_assignments_total", (("queue", "support"),))] == 1
    assert samples[("handoff_queue_active_assignments", (("queue", "support"),))] == 1
    assert samples[("handoff_queue_depth", (("queue", "support"),))] == 0
    assert samples[("handoff_queue_first_response_seconds_count", (("queue", "support"),))] == 0
    owners = [
        labels[0][1]
        for (name, labels), value in samples.items()
        if name == "handoff_rep_active_assignments" and value == 1
    ]
    assert len(owners) == 1
    assert owners[0] in {"tara", "diego", "lena"}
    assert samples[("handoff_rep_presence", (("presence", "online"), ("rep", owners[0])))] == 1


async def test_prometheus_endpoint_serves_the_bot_sides_backlog_failed_sends_and_handoffs(
    h: TestHarness,
) -> None:
    await say(h, text("15550100001", "I want to talk to a person", h.clock.now()))  # a handoff
    h.fake_graph.fail_next(400, graph_error_body(131026, "Receiver is incapable of receiving this message"))
    # A reply refused for good: counted failed, and the customer handed to a person (never alone).
    await say(h, text("15550100002", "What are your opening hours?", h.clock.now()))
    await say(h, text("15550100003", "Hello", h.clock.now()))  # stays with the bot
    now = h.clock.now()
    async with h.service.sessions() as session, session.begin():
        # What waits, as a crash or a backlog leaves it: an item stored 20 s ago and not applied, a
        # customer waiting 30 s for the bot's turn, a reply queued 40 s ago and not sent.
        session.add(
            InboxItem(key="waiting-item", kind="message", item={}, received_at=now - timedelta(seconds=20))
        )
        waiting = await session.scalar(select(Conversation).where(col(Conversation.owner) == Owner.BOT))
        assert waiting is not None
        waiting.has_pending, waiting.last_inbound_at = True, now - timedelta(seconds=30)
        assert waiting.id is not None
        await queue_outgoing(
            session,
            conversation_id=waiting.id,
            payload={"type": "text", "text": {"body": "later"}},
            sender_type="bot",
            sender_id=None,
            at=now - timedelta(seconds=40),
        )
    response = await h.http.get("/metrics")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }
    assert samples[("handoff_inbox_unapplied", ())] == 1
    assert samples[("handoff_inbox_oldest_unapplied_seconds", ())] == 20
    assert samples[("handoff_turns_pending", ())] == 1
    assert samples[("handoff_turns_oldest_pending_seconds", ())] == 30
    assert samples[("handoff_outbox_unsent", ())] == 1
    assert samples[("handoff_outbox_oldest_unsent_seconds", ())] == 40
    assert samples[("handoff_outbox_failed_total", ())] == 1
    handoffs = {
        labels[0][1]: value for (name, labels), value in samples.items() if name == "handoff_handoffs_total"
    }
    expected = {HandoffReason.EXPLICIT_REQUEST: 1, HandoffReason.AI_UNAVAILABLE: 1}
    assert handoffs == {str(reason): expected.get(reason, 0) for reason in HandoffReason}
