"""A turn costs a fixed number of SQL statements: one message's whole path (webhook, inbox, turn,
commit, send), counted on the service's engine, for a bot turn and for a turn that ends in a
handoff, and the same at the 3rd message of a conversation as at the 50th. A change that adds a
statement to every turn fails here; lower the budgets when a change removes one."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from sqlalchemy import delete, select
from sqlmodel import col

from orchestrator.channels.whatsapp.inbound import split_webhook
from orchestrator.core.contextlog import ContextEvent
from orchestrator.core.enums import Direction, EventType, Owner
from orchestrator.core.tables import Contact, Conversation, InboxItem, Message, MessageStatusEvent
from orchestrator.inbox import Take, accept_deliveries, kind_batches, prepare_delivery
from orchestrator.runtime.graph import thread_config
from orchestrator.runtime.simulator import encode_webhook
from tests.factories import AD_REFERRAL, auth, counting, say, text
from tests.fakes.graph import TestHarness, status_webhook
from tests.fixtures import load_fixture

# Webhook 3 (acknowledgement), inbox 5 (contact with its open conversation, message, has_pending,
# applied: the acknowledgement hands its items over, and a batch needs no savepoint), turn 6 (lease + read of
# conversation, contact and latest hand-back + messages + the stored checkpoint and its writes),
# fenced commit 6 (count, consume, the graph's checkpoint, event, the reply written already
# claimed), the send's result recorded with the lease's release 3. On SQLite the checkpoint goes
# through the service's engine, so its statements are counted.
BOT_TURN_STATEMENTS = 23
# The same message's statements on PostgreSQL, counted at the driver (every connection): the
# acknowledgement 1, inbox 5, lease + read 4 (the checkpoint with its writes in one query), fenced
# commit 5 (the row's lock, count and consume in one, the checkpoint's values and row in one, event,
# reply), the send's result with the lease's release 1 (autocommitted).
PG_BOT_TURN_STATEMENTS = 16
# A first message that asks for a person: the contact and conversation created (each one INSERT that
# does nothing on a concurrent creation, no savepoint; the new contact's conversation opened with the
# message already marked, neither looked for nor updated), then the handoff (context, routing,
# assignment, SLA timers, the customer's notice) in the turn's commit.
HANDOFF_TURN_STATEMENTS = 33
# Transactions per message, webhook to reply: acknowledgement, inbox, lease + read, commit, send
# result + lease release.
TURN_TRANSACTIONS = 5
# Small talk the bot keeps answering (acknowledgements are never a loop, so no handoff).
SMALL_TALK = ["hello", "thanks", "ok", "great, thanks", "hi there", "thank you"]


async def _statements_of_one_message(h: TestHarness, wa: str, words: str) -> tuple[int, list[str]]:
    statements, replies = await _one_message(h, wa, words)
    return len(statements), replies


async def _one_message(h: TestHarness, wa: str, words: str) -> tuple[list[str], list[str]]:
    with counting(h) as statements:
        replies = await say(h, text(wa, words, h.clock.now()))
    return statements, replies


def _transactions(statements: list[str]) -> int:
    return sum(1 for s in statements if s.lstrip().upper().startswith("BEGIN"))


async def test_a_bot_turn_runs_a_fixed_budget_of_statements(h: TestHarness) -> None:
    wa = "12025550401"
    await say(h, text(wa, "Hello", h.clock.now()))
    count, replies = await _statements_of_one_message(h, wa, "how much does the basic plan cost?")
    assert replies, "the bot answered"
    assert count <= BOT_TURN_STATEMENTS


async def test_a_handoff_turn_runs_a_fixed_budget_of_statements(h: TestHarness) -> None:
    # Loaded beforehand: a process's first turn also sets the checkpoint tables up (3 statements on
    # SQLite, once per process), which is not the turn's cost.
    await h.service.graph.get()
    count, replies = await _statements_of_one_message(h, "12025550402", "I want to talk to a person please")
    assert replies, "the customer is told what happens next"
    async with h.service.sessions() as session:
        conversation = (await session.execute(select(Conversation))).scalars().one()
    assert conversation.owner in {Owner.QUEUED, Owner.HUMAN}
    assert count <= HANDOFF_TURN_STATEMENTS


async def test_a_message_runs_in_a_fixed_number_of_transactions(h: TestHarness) -> None:
    wa = "12025550404"
    await say(h, text(wa, "Hello", h.clock.now()))
    statements, replies = await _one_message(h, wa, "how much does the basic plan cost?")
    assert replies, "the bot answered"
    assert _transactions(statements) <= TURN_TRANSACTIONS
    await h.service.graph.get()
    statements, replies = await _one_message(h, "12025550405", "I want to talk to a person please")
    assert replies, "the customer is told what happens next"
    assert _transactions(statements) <= TURN_TRANSACTIONS


async def test_a_turn_costs_the_same_statements_and_state_at_the_50th_message_as_early_on(
    h: TestHarness,
) -> None:
    wa = "12025550403"
    counts: dict[int, int] = {}
    sizes: dict[int, dict[str, int]] = {}
    for n in range(1, 51):
        count, replies = await _statements_of_one_message(h, wa, SMALL_TALK[n % len(SMALL_TALK)])
        assert replies, f"message {n} was answered by the bot"
        counts[n] = count
        if n in (45, 50):  # the transcript kept is full (40 entries) by then
            snapshot = await h.service.graph.aget_state(thread_config(1))
            sizes[n] = {k: len(v) for k, v in snapshot.values.items() if isinstance(v, list)}
    assert counts[50] == counts[3]
    assert sizes[50] == sizes[45], "what the state keeps of the history is bounded"


@pytest.mark.postgres
async def test_a_bot_turns_last_reply_is_recorded_with_the_lease_released_in_one_autocommitted_statement(
    pg_h: TestHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every statement the driver runs, with whether its connection was in autocommit (no BEGIN and
    # COMMIT around it: one round trip).
    ran: list[tuple[bool, str]] = []
    execute = psycopg.AsyncCursor.execute

    async def recording(self: psycopg.AsyncCursor[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
        ran.append((self.connection.autocommit, " ".join(str(query).split())))
        return await execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.AsyncCursor, "execute", recording)
    wa = "12025550407"
    await say(pg_h, text(wa, "Hello", pg_h.clock.now()))
    ran.clear()
    assert await say(pg_h, text(wa, "how much does the basic plan cost?", pg_h.clock.now()))
    release = "UPDATE conversation SET lease_owner=%(param"
    releases = [(autocommit, query) for autocommit, query in ran if release in query]
    assert len(releases) == 1, releases
    [(autocommit, query)] = releases
    assert autocommit, "one statement in a round trip of its own"
    assert query.startswith("WITH sent AS (UPDATE message SET wa_message_id="), query
    async with pg_h.service.sessions() as session:
        conversation = (await session.execute(select(Conversation))).scalars().one()
        replies = (
            (await session.execute(select(Message).where(col(Message.direction) == Direction.OUTBOUND)))
            .scalars()
            .all()
        )
    assert conversation.lease_owner is None
    assert {m.status for m in replies} == {"accepted"}


@pytest.mark.postgres
async def test_a_bot_turn_on_postgres_keeps_its_checkpoint_in_its_own_transactions(
    pg_h: TestHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every statement the driver runs, on whichever connection (the service's engine or a pool of
    # the checkpointer's own), with the connection it ran on.
    ran: list[tuple[int, str]] = []

    def recording(name: str) -> Any:
        original = getattr(psycopg.AsyncCursor, name)

        async def run(self: psycopg.AsyncCursor[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
            ran.append((id(self.connection), " ".join(str(query).split())))
            return await original(self, query, *args, **kwargs)

        return run

    for name in ("execute", "executemany"):
        monkeypatch.setattr(psycopg.AsyncCursor, name, recording(name))
    wa = "12025550406"
    await say(pg_h, text(wa, "Hello", pg_h.clock.now()))
    ran.clear()
    assert await say(pg_h, text(wa, "how much does the basic plan cost?", pg_h.clock.now()))

    def connection_of(start: str) -> int:
        found = [conn for conn, query in ran if query.startswith(start)]
        assert len(found) == 1, (start, [query for _, query in ran])
        return found[0]

    # Read with the lease, written with the fenced commit: on the turn's connections.
    assert connection_of("UPDATE conversation SET lease_owner=%(b_owner)s") == connection_of(
        "select thread_id, checkpoint"
    )
    assert connection_of("WITH counted AS (UPDATE conversation") == connection_of(
        "WITH blobs AS ( INSERT INTO checkpoint_blobs"
    )
    assert len(ran) <= PG_BOT_TURN_STATEMENTS


@pytest.mark.postgres
async def test_a_worker_pass_stops_at_the_last_stored_item_without_a_read_that_finds_nothing(
    pg_h: TestHarness,
) -> None:
    # Stored as an acknowledge-only API process stores them; the worker's wake-up applies them in
    # one transaction on PostgreSQL: the oldest item, then the run of messages after it. Each read
    # says whether an item comes after those it took.
    async with pg_h.service.engine.begin() as conn:
        for wa in ("12025550501", "12025550502"):
            body = encode_webhook(text(wa, "Hello", pg_h.clock.now()))
            await accept_deliveries(conn, [prepare_delivery(body, split_webhook(body), at=pg_h.clock.now())])

    with counting(pg_h) as statements:
        applied = await pg_h.service.turns.apply_inbox()
    await pg_h.service.turns.drain()

    assert applied.stored == 2
    reads = [s for s in statements if s.lstrip().startswith("WITH taken_")]
    assert len(reads) == 2  # the pass did not read a third time to find nothing


async def _replies_to(h: TestHarness, *customers: str) -> list[str]:
    """Each customer says hello; the wamid of the bot's reply to each, in order."""
    replies = []
    for wa in customers:
        assert await say(h, text(wa, "Hello", h.clock.now()))
        async with h.service.sessions() as session:
            found = await session.execute(
                select(col(Message.wa_message_id))
                .join(Conversation, col(Conversation.id) == col(Message.conversation_id))
                .join(Contact, col(Contact.id) == col(Conversation.contact_id))
                .where(col(Contact.wa_id) == wa, col(Message.direction) == Direction.OUTBOUND)
            )
            replies.append(str(found.scalars().one()))
    return replies


@pytest.mark.postgres
async def test_a_worker_applies_waiting_statuses_together_and_messages_together_apart_from_them(
    pg_h: TestHarness,
) -> None:
    a, b = await _replies_to(pg_h, "12025550511", "12025550512")
    bodies = [
        encode_webhook(text("12025550513", "Hi there", pg_h.clock.now())),
        status_webhook(b, "12025550512", "sent", None),
        status_webhook(a, "12025550511", "read", None),
        encode_webhook(text("12025550514", "Hi there", pg_h.clock.now())),
        status_webhook(b, "12025550512", "delivered", None),
        status_webhook(a, "12025550511", "delivered", None),  # after read: Meta's order is not kept
    ]
    # Stored as an acknowledge-only API process stores them, then applied as a worker's wake-up does.
    async with pg_h.service.engine.begin() as conn:
        for body in bodies:
            await accept_deliveries(conn, [prepare_delivery(body, split_webhook(body), at=pg_h.clock.now())])

    with counting(pg_h) as statements:
        applied = await pg_h.service.turns.apply_inbox()
    await pg_h.service.turns.drain()

    assert (applied.stored, applied.seen) == (6, 6)
    reads = [s for s in statements if s.lstrip().startswith("WITH taken_")]
    oldest_reads = [s for s in reads if s.lstrip().startswith("WITH taken_oldest")]
    # One transaction for the two messages, one for the four statuses: each run read with its first
    # item (the oldest) and one more read (its kind after it), and no read that finds nothing.
    assert (len(oldest_reads), len(reads)) == (2, 4)
    # The four statuses in two statements: one INSERT of their records, one UPDATE (executed for
    # each message moved on, in one call) of their messages.
    status_inserts = [s for s in statements if s.lstrip().startswith("INSERT INTO messagestatusevent")]
    advances = [
        s
        for s in statements
        if s.lstrip().startswith("UPDATE message SET status") and "message.wa_message_id =" in s
    ]
    assert (len(status_inserts), len(advances)) == (1, 1)
    async with pg_h.service.sessions() as session:
        rows = await session.execute(
            select(col(Message.wa_message_id), col(Message.status)).where(
                col(Message.wa_message_id).in_([a, b])
            )
        )
        status_of = {row[0]: row[1] for row in rows.all()}
        events = (await session.execute(select(MessageStatusEvent))).scalars().all()
        customers = (await session.execute(select(col(Contact.wa_id)))).scalars().all()
    assert status_of == {a: "read", b: "delivered"}
    assert len(events) == 4
    assert {"12025550513", "12025550514"} <= set(customers)


@pytest.mark.postgres
async def test_a_workers_pass_of_one_kind_applies_only_that_kind_each_in_one_read(pg_h: TestHarness) -> None:
    a, b = await _replies_to(pg_h, "12025550521", "12025550522")
    bodies = [
        status_webhook(b, "12025550522", "sent", None),
        encode_webhook(text("12025550523", "Hi there", pg_h.clock.now())),
        status_webhook(a, "12025550521", "read", None),
        encode_webhook(text("12025550524", "Hi there", pg_h.clock.now())),
        status_webhook(b, "12025550522", "delivered", None),
        status_webhook(a, "12025550521", "delivered", None),
    ]
    async with pg_h.service.engine.begin() as conn:
        for body in bodies:
            await accept_deliveries(conn, [prepare_delivery(body, split_webhook(body), at=pg_h.clock.now())])

    async def unapplied() -> list[str]:
        async with pg_h.service.sessions() as session:
            found = await session.execute(
                select(col(InboxItem.kind)).where(col(InboxItem.applied_at).is_(None))
            )
            return sorted(found.scalars().all())

    with counting(pg_h) as messages_pass:
        applied = await pg_h.service.turns.apply_inbox(take=Take.MESSAGES)
    await pg_h.service.turns.drain()
    assert (applied.stored, applied.seen) == (2, 2)
    assert await unapplied() == ["status"] * 4, "the statuses wait for their own pass"
    assert len([s for s in messages_pass if s.lstrip().startswith("WITH taken_")]) == 1

    with counting(pg_h) as statuses_pass:
        applied = await pg_h.service.turns.apply_inbox(take=Take.STATUSES)
    assert (applied.stored, applied.seen) == (4, 4)
    assert await unapplied() == []
    assert len([s for s in statuses_pass if s.lstrip().startswith("WITH taken_")]) == 1
    async with pg_h.service.sessions() as session:
        rows = await session.execute(
            select(col(Message.wa_message_id), col(Message.status)).where(
                col(Message.wa_message_id).in_([a, b])
            )
        )
        assert {row[0]: row[1] for row in rows.all()} == {a: "read", b: "delivered"}


def test_stored_items_are_applied_in_runs_of_one_kind_never_messages_and_statuses_together() -> None:
    kinds = {1: "message", 2: "status", 3: "status", 4: "status", 5: "message", 6: "message", 7: "status"}
    known = {i: {"kind": kind} for i, kind in kinds.items()}
    assert kind_batches(list(kinds), known, statuses=2, messages=1) == [[1], [2, 3], [4], [5], [6], [7]]
    assert kind_batches(list(kinds), known, statuses=100, messages=10) == [[1], [2, 3, 4], [5, 6], [7]]
    assert kind_batches([8, 2, 3], known, statuses=100, messages=10) == [[8], [2, 3]], (
        "an item not known goes alone"
    )


async def _statuses_of_one_pass(h: TestHarness) -> None:
    """Statuses of several replies, out of order, repeated, failed and of a message not ours, stored
    beside a new message and applied in one pass: each status counted once, each message moved
    forward only, the failure shown to reps."""
    a, b = await _replies_to(h, "12025550521", "12025550522")
    failed = load_fixture("status_failed_131026_real_redacted.json")
    failed["entry"][0]["changes"][0]["value"]["statuses"][0]["id"] = b
    # A status applied before, its inbox row since removed (retention), delivered again by Meta.
    earlier = status_webhook(b, "12025550522", "sent", None)
    async with h.service.engine.begin() as conn:
        await accept_deliveries(conn, [prepare_delivery(earlier, split_webhook(earlier), at=h.clock.now())])
    assert (await h.service.turns.apply_inbox()).stored == 1
    async with h.service.engine.begin() as conn:
        await conn.execute(delete(InboxItem))
    bodies = [
        status_webhook(a, "12025550521", "read", None),
        encode_webhook(text("12025550523", "Hi there", h.clock.now())),
        status_webhook(a, "12025550521", "sent", None),  # after read: Meta's order is not kept
        status_webhook(b, "12025550522", "sent", None),
        json.dumps(failed).encode(),
        status_webhook(b, "12025550522", "read", None),  # a failed message stays failed
        status_webhook("wamid.not-one-of-ours", "12025550599", "delivered", None),
    ]
    async with h.service.engine.begin() as conn:
        for body in bodies:
            await accept_deliveries(conn, [prepare_delivery(body, split_webhook(body), at=h.clock.now())])
    applied = await h.service.turns.apply_inbox()
    await h.service.turns.drain()

    assert (applied.seen, applied.stored, applied.duplicates, applied.rejected) == (7, 6, 1, 0)
    async with h.service.sessions() as session:
        rows = await session.execute(
            select(col(Message.wa_message_id), col(Message.status)).where(
                col(Message.wa_message_id).in_([a, b])
            )
        )
        status_of = {row[0]: row[1] for row in rows.all()}
        recorded = (await session.execute(select(col(MessageStatusEvent.wa_message_id)))).scalars().all()
    assert status_of == {a: "read", b: "failed"}
    assert sorted(recorded) == sorted([a, a, b, b, b, "wamid.not-one-of-ours"])
    conversations = (await h.http.get("/api/conversations", headers=auth("demo-admin"))).json()
    of_b = next(c for c in conversations if c["contact_wa_id"] == "12025550522")
    detail = (await h.http.get(f"/api/conversations/{of_b['id']}", headers=auth("demo-admin"))).json()
    (failure,) = detail["send_failures"]
    assert failure["error"]["errors"][0]["code"] == 131026


async def test_statuses_applied_together_count_once_and_move_messages_forward_only(h: TestHarness) -> None:
    await _statuses_of_one_pass(h)


@pytest.mark.postgres
async def test_statuses_applied_together_on_postgresql_count_once_and_move_forward_only(
    pg_h: TestHarness,
) -> None:
    await _statuses_of_one_pass(pg_h)


async def _store_as_an_acknowledge_only_api(h: TestHarness, *payloads: dict[str, Any]) -> None:
    async with h.service.engine.begin() as conn:
        for payload in payloads:
            body = encode_webhook(payload)
            await accept_deliveries(conn, [prepare_delivery(body, split_webhook(body), at=h.clock.now())])


def _inserts(statements: list[str], table: str) -> int:
    return sum(1 for s in statements if s.lstrip().upper().startswith(f"INSERT INTO {table.upper()} "))


async def _first_messages_of_new_customers_in_one_run(h: TestHarness) -> None:
    customers = [f"1202555{n:04d}" for n in range(700, 708)]
    await _store_as_an_acknowledge_only_api(h, *(text(wa, "Hello", h.clock.now()) for wa in customers))

    with counting(h) as statements:
        applied = await h.service.turns.apply_inbox()
    assert (applied.stored, applied.seen) == (8, 8)
    # One statement for all the run's contacts, one for their conversations, one for the messages.
    assert (_inserts(statements, "contact"), _inserts(statements, "conversation")) == (1, 1)
    assert _inserts(statements, "message") == 1
    await h.service.turns.drain()
    assert sorted(await _replies_to_each(h)) == customers, "each customer answered once"


async def _replies_to_each(h: TestHarness) -> list[str]:
    return [m["json"]["to"].lstrip("+") for m in h.fake_graph.sent]


async def test_first_messages_of_new_customers_are_stored_together(h: TestHarness) -> None:
    await _first_messages_of_new_customers_in_one_run(h)


@pytest.mark.postgres
async def test_first_messages_of_new_customers_are_stored_together_on_postgresql(pg_h: TestHarness) -> None:
    await _first_messages_of_new_customers_in_one_run(pg_h)


async def _messages_to_reps_in_one_run(h: TestHarness) -> None:
    """Customers who are with a rep or waiting for one write again (a worker's run holds at most ten
    messages): their messages are stored together, each shown to the rep (a `message_received`
    event naming it), none for the bot."""
    await h.service.graph.get()
    customers = [f"1202555{n:04d}" for n in range(720, 725)]
    for wa in customers:
        await say(h, text(wa, "I want to talk to a person please", h.clock.now()))
    h.clock.advance(seconds=30)
    at = h.clock.now()
    written = [(wa, f"{words} ({wa[-2:]})") for wa in customers for words in ("are you there?", "hello?")]
    await _store_as_an_acknowledge_only_api(h, *(text(wa, words, at) for wa, words in written))
    sent_before = len(h.fake_graph.sent)

    with counting(h) as statements:
        applied = await h.service.turns.apply_inbox()
    assert (applied.seen, applied.stored) == (10, 10)
    # The run's messages in one INSERT, the conversations marked in one statement, on PostgreSQL
    # one more that finds any of them whose conversation a hand-back or a close took meanwhile
    # (tests/faults/test_conversation_changes_hands_while_storing.py), the events in one INSERT on
    # PostgreSQL (SQLite's flush writes them row by row): fewer than two statements a message, where
    # each took five or six (the contact, the conversation, the message, its mark, its event).
    assert _inserts(statements, "message") == 1
    if h.service.engine.dialect.name == "postgresql":
        assert _inserts(statements, "contextevent") == 1
    assert len(statements) < 2 * applied.seen
    assert not applied.to_run, "no turn for the bot"

    async with h.service.sessions() as session:
        contacts = {c.id: c.wa_id for c in (await session.execute(select(Contact))).scalars()}
        conversations = {c.id: c for c in (await session.execute(select(Conversation))).scalars()}
        messages = {
            m.id: m
            for m in (
                await session.execute(select(Message).where(col(Message.direction) == Direction.INBOUND))
            ).scalars()
        }
        received = (
            (
                await session.execute(
                    select(ContextEvent)
                    .where(col(ContextEvent.type) == EventType.MESSAGE_RECEIVED)
                    .order_by(col(ContextEvent.id))
                )
            )
            .scalars()
            .all()
        )
    assert all(c.owner in {Owner.QUEUED, Owner.HUMAN} for c in conversations.values())
    assert not any(c.has_pending for c in conversations.values())
    assert all(c.last_inbound_at == at for c in conversations.values())
    shown = []
    for event in received:
        assert event.details is not None
        message = messages[event.details["message_id"]]
        conversation = conversations[event.conversation_id]
        assert message.conversation_id == conversation.id
        assert message.status == "for_rep"
        assert message.text is not None
        assert event.description == f"customer wrote while {conversation.owner}: {message.text}"
        shown.append((contacts[conversation.contact_id], message.text))
    assert sorted(shown) == sorted(written), "every message shown to its rep once"
    await h.service.turns.drain()
    assert len(h.fake_graph.sent) == sent_before, "the bot stays quiet"


async def test_messages_to_customers_a_rep_has_are_stored_together(h: TestHarness) -> None:
    await _messages_to_reps_in_one_run(h)


@pytest.mark.postgres
async def test_messages_to_customers_a_rep_has_are_stored_together_on_postgresql(pg_h: TestHarness) -> None:
    await _messages_to_reps_in_one_run(pg_h)


async def _a_run_of_every_kind_of_sender(h: TestHarness) -> None:
    """A run (one worker pass) holding each case `store_inbound_run` tells apart: a known customer
    the bot is talking to (twice, one of them a redelivery), a known customer a rep has, a new
    customer who writes twice, a new customer from an ad, a known customer whose name changed."""
    known, with_rep, renamed = "12025550711", "12025550712", "12025550713"
    new_twice, from_ad = "12025550714", "12025550715"
    for wa in (known, with_rep, renamed):
        await say(h, text(wa, "Hello", h.clock.now()))
    await say(h, text(with_rep, "I want to talk to a person please", h.clock.now()))
    again = text(known, "what does it cost?", h.clock.now())
    await say(h, again)
    async with h.service.sessions() as session, session.begin():
        await session.execute(delete(InboxItem))  # as after retention: a redelivery is stored again
    h.clock.advance(seconds=30)
    at = h.clock.now()
    await _store_as_an_acknowledge_only_api(
        h,
        text(known, "and the premium plan?", at),
        text(with_rep, "are you there?", at),
        text(new_twice, "Hi", at),
        again,  # Meta delivers an answered message again
        text(new_twice, "I run a bakery", at),
        text(from_ad, "Tell me more", at, referral=AD_REFERRAL),
        text(renamed, "still me", at, name="New Name"),
    )
    applied = await h.service.turns.apply_inbox()
    assert (applied.seen, applied.stored, applied.duplicates) == (7, 6, 1)

    async with h.service.sessions() as session:
        contacts = {c.wa_id: c for c in (await session.execute(select(Contact))).scalars()}
        conversations = {c.contact_id: c for c in (await session.execute(select(Conversation))).scalars()}
        messages = (
            (await session.execute(select(Message).where(col(Message.direction) == Direction.INBOUND)))
            .scalars()
            .all()
        )
        received = (
            (
                await session.execute(
                    select(ContextEvent).where(col(ContextEvent.type) == EventType.MESSAGE_RECEIVED)
                )
            )
            .scalars()
            .all()
        )
    assert len(contacts) == 5
    assert contacts[renamed].name == "New Name"

    def of(wa: str) -> Conversation:
        contact_id = contacts[wa].id
        assert contact_id is not None
        return conversations[contact_id]

    def texts(wa: str) -> list[str | None]:
        return [m.text for m in messages if m.conversation_id == of(wa).id]

    assert texts(known) == ["Hello", "what does it cost?", "and the premium plan?"]
    assert texts(new_twice) == ["Hi", "I run a bakery"], "in the order they were written"
    assert texts(from_ad) == ["Tell me more"]
    assert of(from_ad).referral == AD_REFERRAL
    for wa in (known, new_twice, from_ad, renamed):
        assert of(wa).has_pending
        assert of(wa).owner == Owner.BOT
        assert of(wa).last_inbound_at == at
    assert of(with_rep).owner != Owner.BOT
    assert not of(with_rep).has_pending
    [for_rep] = [m for m in messages if m.text == "are you there?"]
    assert for_rep.status == "for_rep"
    assert [e.conversation_id for e in received] == [of(with_rep).id], "the rep is told"

    await h.service.turns.drain()
    answered = await _replies_to_each(h)
    # One turn each (the new customer's two messages read together: the bot's greeting and its
    # answer to the bakery, as when the two are stored one by one).
    assert [answered.count(wa) for wa in (known, new_twice, from_ad, renamed)] == [3, 2, 1, 2]
    async with h.service.sessions() as session:
        turned = await session.get(Conversation, of(new_twice).id, populate_existing=True)
    assert turned is not None
    assert turned.turns == 1
    assert answered.count(with_rep) == 2, "the bot's greeting and its handoff notice, nothing after"


async def test_a_run_of_every_kind_of_sender_is_stored_as_one_by_one(h: TestHarness) -> None:
    await _a_run_of_every_kind_of_sender(h)


@pytest.mark.postgres
async def test_a_run_of_every_kind_of_sender_is_stored_as_one_by_one_on_postgresql(pg_h: TestHarness) -> None:
    await _a_run_of_every_kind_of_sender(pg_h)
