"""The outbox under concurrency and crashes: claimed before sending, each reply sent exactly once and
in order when several senders race, resent by the relay after a crash, and one bad row never blocks
the rest. Sends go over HTTP to the fake Graph API on a real port, which counts every request."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from sqlalchemy import select
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from orchestrator.channels.whatsapp.inbound import split_webhook
from orchestrator.core.enums import Direction, SendStatus
from orchestrator.core.tables import Conversation, Message
from orchestrator.inbox import accept_deliveries, prepare_delivery
from orchestrator.outbox import SEND_CLAIM, callback_of, queue_outgoing, send_claimed, send_pending
from tests.factories import say, text
from tests.fakes.graph import FakeGraphAPI, TestHarness, status_webhook


async def _conversation(h: TestHarness, wa_id: str) -> int:
    await say(h, text(wa_id, "Hello", h.clock.now()))
    async with h.service.sessions() as session:
        conversation = (await session.execute(select(Conversation))).scalars().one()
    assert conversation.id is not None
    return conversation.id


async def _queue(
    h: TestHarness, conversation_id: int, texts: list[str], *, status: str = SendStatus.PENDING
) -> None:
    async with h.service.sessions() as session, session.begin():
        for body in texts:
            message = await queue_outgoing(
                session,
                conversation_id=conversation_id,
                payload={
                    "messaging_product": "whatsapp",
                    "to": "447700900001",
                    "type": "text",
                    "text": {"body": body},
                },
                sender_type="rep",
                sender_id=None,
                at=h.clock.now(),
            )
            message.status = status
            if status == SendStatus.SENDING:
                message.claimed_until = h.clock.now() + SEND_CLAIM
            session.add(message)


def _requests_for(fake: FakeGraphAPI, prefix: str) -> list[str]:
    bodies = [r["json"].get("text", {}).get("body", "") for r in fake.requests]
    return [b for b in bodies if b.startswith(prefix)]


async def _statuses(h: TestHarness, prefix: str) -> list[str]:
    async with h.service.sessions() as session:
        rows = await session.execute(
            select(Message).where(col(Message.direction) == Direction.OUTBOUND).order_by(col(Message.id))
        )
        return [m.status for m in rows.scalars() if (m.text or "").startswith(prefix)]


async def test_concurrent_senders_send_each_reply_exactly_once_in_order(db_h: TestHarness) -> None:
    conversation_id = await _conversation(db_h, "447700900001")
    for round_no in range(5):
        texts = [f"round {round_no} reply {i}" for i in range(4)]
        await _queue(db_h, conversation_id, texts)
        senders = [
            send_pending(
                db_h.service.sessions,
                client=db_h.service.client,
                conversation_id=conversation_id,
                clock=db_h.clock,
            )
            for _ in range(3)
        ]
        await asyncio.gather(*senders)
        assert _requests_for(db_h.fake_graph, f"round {round_no} ") == texts
        assert await _statuses(db_h, f"round {round_no} ") == [SendStatus.ACCEPTED] * 4


async def test_replies_left_pending_by_a_crash_are_sent_by_the_relay(db_h: TestHarness) -> None:
    conversation_id = await _conversation(db_h, "447700900001")
    # The commit happened, the process died before sending.
    await _queue(db_h, conversation_id, ["left pending 1", "left pending 2"])
    await db_h.service.tick()
    assert _requests_for(db_h.fake_graph, "left pending") == ["left pending 1", "left pending 2"]
    await db_h.service.tick()
    assert len(_requests_for(db_h.fake_graph, "left pending")) == 2, "sent once"


async def test_a_claim_is_respected_while_live_and_taken_over_when_it_lapses(db_h: TestHarness) -> None:
    conversation_id = await _conversation(db_h, "447700900001")
    await _queue(db_h, conversation_id, ["claimed by a dead sender"], status=SendStatus.SENDING)
    await _queue(db_h, conversation_id, ["queued after it"])
    await db_h.service.tick()
    assert _requests_for(db_h.fake_graph, "claimed by") == [], "a live claim is never sent twice at once"
    assert _requests_for(db_h.fake_graph, "queued after") == [], "nor overtaken: order per conversation"
    db_h.clock.advance(seconds=SEND_CLAIM.total_seconds() + 1)
    await db_h.service.tick()
    assert _requests_for(db_h.fake_graph, "claimed by") == ["claimed by a dead sender"]
    assert _requests_for(db_h.fake_graph, "queued after") == ["queued after it"]


async def test_a_duplicate_returned_id_fails_that_row_and_the_rest_go_out(db_h: TestHarness) -> None:
    conversation_id = await _conversation(db_h, "447700900001")
    async with db_h.service.sessions() as session:
        existing = (
            (
                await session.execute(
                    select(col(Message.wa_message_id)).where(col(Message.wa_message_id).is_not(None))
                )
            )
            .scalars()
            .first()
        )
    assert existing is not None
    await _queue(db_h, conversation_id, ["collides", "after the collision", "and one more"])
    db_h.fake_graph.respond_next(200, {"messaging_product": "whatsapp", "messages": [{"id": existing}]})
    await send_pending(
        db_h.service.sessions, client=db_h.service.client, conversation_id=conversation_id, clock=db_h.clock
    )
    assert await _statuses(db_h, "collides") == [SendStatus.FAILED]
    assert await _statuses(db_h, "after the collision") == [SendStatus.ACCEPTED]
    assert await _statuses(db_h, "and one more") == [SendStatus.ACCEPTED]
    sent = await say(db_h, text("447700900001", "still there?", db_h.clock.now()))
    assert sent, "later turns are answered"
    assert not any("collides" in s for s in sent)


async def test_a_row_that_cannot_be_sent_is_failed_without_blocking_the_rest(db_h: TestHarness) -> None:
    conversation_id = await _conversation(db_h, "447700900001")
    await _queue(db_h, conversation_id, ["broken"])
    async with db_h.service.sessions() as session, session.begin():
        broken = (await session.execute(select(Message).where(col(Message.text) == "broken"))).scalars().one()
        broken.payload = None
        session.add(broken)
    await _queue(db_h, conversation_id, ["fine after broken"])
    await db_h.service.tick()
    assert await _statuses(db_h, "fine after broken") == [SendStatus.ACCEPTED]
    async with db_h.service.sessions() as session:
        failed = await session.get(Message, broken.id)
    assert failed is not None
    assert failed.status == SendStatus.FAILED
    assert failed.error is not None
    assert "payload" in failed.error["details"]


class _PoolTroubleAfterSend:
    """The service's session factory, except that the first `failures` sessions opened after Graph
    accepted a send raise the pool's timeout (a saturated process: every connection busy)."""

    def __init__(self, h: TestHarness, failures: int) -> None:
        self.inner, self.fake, self.failures = h.service.sessions, h.fake_graph, failures
        self.sent_before = len(h.fake_graph.requests)

    def __call__(self) -> AsyncSession:
        if self.failures and len(self.fake.requests) > self.sent_before:
            self.failures -= 1
            raise PoolTimeout("QueuePool limit of size 10 overflow 10 reached, connection timed out")
        return self.inner()


async def test_a_send_graph_accepted_is_recorded_through_a_busy_pool_not_marked_failed(
    db_h: TestHarness,
) -> None:
    conversation_id = await _conversation(db_h, "447700900001")
    await _queue(db_h, conversation_id, ["delivered while the pool was busy"])
    flaky = _PoolTroubleAfterSend(db_h, failures=3)
    await send_pending(
        cast(async_sessionmaker[AsyncSession], flaky),
        client=db_h.service.client,
        conversation_id=conversation_id,
        clock=db_h.clock,
    )
    assert flaky.failures == 0, "the record met the busy pool"
    assert _requests_for(db_h.fake_graph, "delivered while") == ["delivered while the pool was busy"]
    assert await _statuses(db_h, "delivered while") == [SendStatus.ACCEPTED]
    async with db_h.service.sessions() as session:
        row = (
            (
                await session.execute(
                    select(Message).where(col(Message.text) == "delivered while the pool was busy")
                )
            )
            .scalars()
            .one()
        )
    assert row.wa_message_id is not None
    assert row.error is None


async def test_a_reply_written_claimed_by_a_turn_that_died_before_sending_goes_out_once_the_claim_lapses(
    db_h: TestHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation_id = await _conversation(db_h, "447700900001")

    async def dead_before_sending(*_args: Any, **_kwargs: Any) -> list[Message]:
        return []  # the commit happened; the process died before the send

    monkeypatch.setattr("orchestrator.runtime.turns.send_claimed", dead_before_sending)
    assert await say(db_h, text("447700900001", "how much does the basic plan cost?", db_h.clock.now())) == []
    monkeypatch.setattr("orchestrator.runtime.turns.send_claimed", send_claimed)
    async with db_h.service.sessions() as session:
        [reply] = (
            (
                await session.execute(
                    select(Message).where(
                        col(Message.conversation_id) == conversation_id,
                        col(Message.status) == SendStatus.SENDING,
                    )
                )
            )
            .scalars()
            .all()
        )
    assert reply.attempts == 1, "written claimed by the turn"
    assert reply.claimed_until is not None
    await db_h.service.tick()
    assert reply.text is not None
    assert _requests_for(db_h.fake_graph, reply.text) == [], "its claim is live: nobody else sends it"
    db_h.clock.advance(seconds=SEND_CLAIM.total_seconds() + 1)
    await db_h.service.tick()
    await db_h.service.tick()
    assert _requests_for(db_h.fake_graph, reply.text) == [reply.text], "sent once by the relay"
    async with db_h.service.sessions() as session:
        sent = await session.get(Message, reply.id)
    assert sent is not None
    assert sent.status == SendStatus.ACCEPTED
    assert sent.attempts == 2


async def test_a_rep_message_queued_while_the_turn_holds_the_claim_is_sent_after_the_turns_reply(
    db_h: TestHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation_id = await _conversation(db_h, "447700900001")

    async def rep_writes_meanwhile(*args: Any, **kwargs: Any) -> list[Message]:
        await _queue(db_h, conversation_id, ["rep wrote meanwhile"])
        stopped = await send_pending(
            db_h.service.sessions,
            client=db_h.service.client,
            conversation_id=conversation_id,
            clock=db_h.clock,
        )
        assert stopped == [], "the rep's sender stops at the turn's live claim"
        return await send_claimed(*args, **kwargs)

    monkeypatch.setattr("orchestrator.runtime.turns.send_claimed", rep_writes_meanwhile)
    before = len(db_h.fake_graph.requests)
    replies = await say(db_h, text("447700900001", "how much does the basic plan cost?", db_h.clock.now()))
    assert replies, "the bot answered"
    bodies = [r["json"].get("text", {}).get("body", "") for r in db_h.fake_graph.requests[before:]]
    assert bodies[-1] == "rep wrote meanwhile", (
        "sent by the turn's worker, after its reply, without the relay"
    )
    assert await _statuses(db_h, "rep wrote") == [SendStatus.ACCEPTED]


@pytest.mark.parametrize("status", ["applied", "stored", "none"])
async def test_a_reply_graph_accepted_before_its_sender_died_is_confirmed_by_its_status_not_resent(
    db_h: TestHarness, monkeypatch: pytest.MonkeyPatch, status: str
) -> None:
    """The crash window of at-least-once delivery: Graph accepted the turn's reply, and the process
    died before recording it. Meta's `sent` status webhook echoes the send's tag
    (`biz_opaque_callback_data`): once it is in (`applied`, or only acknowledged and `stored` in the
    inbox, not applied yet), the relay records the reply instead of sending it again. Without it
    (`none`), the relay can only send it again: the customer gets it twice."""
    conversation_id = await _conversation(db_h, "447700900001")
    accepted: list[tuple[str, dict[str, Any]]] = []

    async def died_after_graph_accepted(
        *_args: Any, messages: list[Message], **_kwargs: Any
    ) -> list[Message]:
        for message in messages:
            assert message.id is not None
            assert message.payload is not None
            payload = {**message.payload, "biz_opaque_callback_data": callback_of(message.id)}
            result = await db_h.service.client.send(payload)
            accepted.append((result.wa_message_id, payload))
        return []  # the process died before recording anything

    monkeypatch.setattr("orchestrator.runtime.turns.send_claimed", died_after_graph_accepted)
    received = await say(db_h, text("447700900001", "how much does the basic plan cost?", db_h.clock.now()))
    monkeypatch.setattr("orchestrator.runtime.turns.send_claimed", send_claimed)
    [(wamid, payload)] = accepted
    assert received == [payload["text"]["body"]], "the customer has the reply"
    reply_text = payload["text"]["body"]
    webhook = status_webhook(wamid, payload["to"], "sent", payload["biz_opaque_callback_data"])
    if status == "applied":
        assert (await db_h.post_body(webhook)).status_code == 200
    elif status == "stored":  # acknowledged: in the inbox, which nobody has applied yet
        delivery = prepare_delivery(webhook, split_webhook(webhook), at=db_h.clock.now())
        async with db_h.service.engine.begin() as conn:
            await accept_deliveries(conn, [delivery])

    db_h.clock.advance(seconds=SEND_CLAIM.total_seconds() + 1)  # the dead sender's claim lapses
    await send_pending(
        db_h.service.sessions, client=db_h.service.client, conversation_id=conversation_id, clock=db_h.clock
    )

    async with db_h.service.sessions() as session:
        reply = (
            await session.execute(
                select(Message).where(
                    col(Message.conversation_id) == conversation_id, col(Message.text) == reply_text
                )
            )
        ).scalar_one()
    if status != "none":
        assert _requests_for(db_h.fake_graph, reply_text) == [reply_text], "sent once"
        assert (reply.status, reply.wa_message_id) == (SendStatus.SENT, wamid)
    else:
        assert _requests_for(db_h.fake_graph, reply_text) == [reply_text, reply_text], "sent again"
        assert reply.status == SendStatus.ACCEPTED
        assert reply.wa_message_id != wamid


async def test_retry_timers_wake_a_conversation_at_each_of_its_marks_earlier_and_later() -> None:
    from datetime import UTC, datetime, timedelta

    from orchestrator.core.clock import FrozenClock
    from orchestrator.outbox import RetryTimers

    clock = FrozenClock(datetime(2026, 1, 5, 10, tzinfo=UTC))
    woken: list[tuple[int, float]] = []
    loop = asyncio.get_running_loop()
    started = loop.time()
    timers = RetryTimers(clock, lambda cid: woken.append((cid, loop.time() - started)))

    def held(seconds: float) -> Message:
        return Message(
            conversation_id=7,
            direction=Direction.OUTBOUND,
            kind="text",
            sender_type="bot",
            status=SendStatus.SENDING,
            claimed_until=clock.now() + timedelta(seconds=seconds),
            error={"retry_in_s": seconds},
        )

    timers.watch(7, [held(1.0)])
    timers.watch(7, [held(0.1)])  # an earlier mark, watched later
    sent = Message(
        conversation_id=7,
        direction=Direction.OUTBOUND,
        kind="text",
        sender_type="bot",
        status=SendStatus.ACCEPTED,
    )
    timers.watch(7, [sent])  # not waiting for a retry: no mark
    assert timers.pending() == {7}

    async def until_woken(times: int) -> None:  # waits on the loop, not a fixed sleep (a busy host)
        deadline = loop.time() + 10
        while len(woken) < times:
            assert loop.time() < deadline, woken
            await asyncio.sleep(0.01)

    await until_woken(1)
    assert [cid for cid, _ in woken] == [7], "the earlier mark fired first"
    assert 0.1 <= woken[0][1] < 1.0
    assert timers.pending() == {7}, "the later mark is still set"
    await until_woken(2)
    assert [cid for cid, _ in woken] == [7, 7]
    assert woken[1][1] >= 1.0
    assert timers.pending() == set()
    timers.close()


async def _lease_owner(h: TestHarness, conversation_id: int) -> str | None:
    async with h.service.sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
    assert conversation is not None
    return conversation.lease_owner


async def test_a_reply_sent_after_another_worker_took_the_lease_is_recorded_and_their_lease_kept(
    db_h: TestHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record of a turn's last reply releases the turn's lease with it (on PostgreSQL in the same
    statement): only while this worker still holds it. Here the lease lapsed and another worker took
    it while the reply went out; the reply is recorded as sent, the other worker keeps its lease."""
    conversation_id = await _conversation(db_h, "447700900001")

    async def lease_taken_meanwhile(*args: Any, **kwargs: Any) -> list[Message]:
        async with db_h.service.sessions() as session, session.begin():
            conversation = await session.get(Conversation, conversation_id)
            assert conversation is not None
            conversation.lease_owner = "another-worker"
        return await send_claimed(*args, **kwargs)

    monkeypatch.setattr("orchestrator.runtime.turns.send_claimed", lease_taken_meanwhile)
    replies = await say(db_h, text("447700900001", "how much does the basic plan cost?", db_h.clock.now()))
    assert replies, "the bot answered"
    assert await _statuses(db_h, replies[0]) == [SendStatus.ACCEPTED]
    assert await _lease_owner(db_h, conversation_id) == "another-worker"


async def test_a_turns_lease_is_released_when_its_reply_was_recorded_by_someone_else_meanwhile(
    db_h: TestHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Graph accepted the turn's last reply and, before the turn recorded it, the row was recorded by
    another path (its status webhook's confirmation): the turn's record changes nothing, and the
    lease it held is released all the same (not left to lapse)."""
    conversation_id = await _conversation(db_h, "447700900001")
    client = db_h.service.client
    send = client.send

    async def confirmed_meanwhile(payload: dict[str, Any]) -> Any:
        result = await send(payload)
        async with db_h.service.sessions() as session, session.begin():
            rows = await session.execute(select(Message).where(col(Message.status) == SendStatus.SENDING))
            for message in rows.scalars():
                message.status, message.wa_message_id = SendStatus.ACCEPTED, result.wa_message_id
        return result

    monkeypatch.setattr(client, "send", confirmed_meanwhile)
    replies = await say(db_h, text("447700900001", "how much does the basic plan cost?", db_h.clock.now()))
    assert replies, "the bot answered"
    assert await _statuses(db_h, replies[0]) == [SendStatus.ACCEPTED]
    assert await _lease_owner(db_h, conversation_id) is None
