"""Retention: old raw deliveries, applied inbox items, statuses, fired timers and audit entries go
after their periods;
only each conversation's latest graph checkpoint is kept, and the conversation carries on from it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy import text as sql
from sqlmodel import col

from handoff.models import AuditEntry, Timer
from orchestrator.core.tables import InboxItem, MessageStatusEvent, WebhookDelivery
from orchestrator.runtime.retention import prune
from tests.factories import AD_REFERRAL, count, say, text
from tests.fakes.graph import TestHarness


async def _checkpoints(h: TestHarness) -> list[tuple[str, int]]:
    async with h.service.sessions() as session:
        rows = await session.execute(
            sql("SELECT thread_id, count(*) FROM checkpoints GROUP BY thread_id ORDER BY thread_id")
        )
        return [(str(thread), int(n)) for thread, n in rows.all()]


async def _old_and_new_records(h: TestHarness) -> None:
    now = h.clock.now()
    old = now - timedelta(days=400)
    async with h.service.sessions() as session, session.begin():
        for at in (old, now):
            session.add(WebhookDelivery(body="{}", received_at=at))
            session.add(InboxItem(key=f"s:{at.year}", kind="status", item={}, received_at=at, applied_at=at))
            session.add(
                MessageStatusEvent(
                    wa_message_id=f"wamid.{at.year}", status="read", timestamp=at, created_at=at
                )
            )
            session.add(Timer(kind="sla", due_at=at, fired_at=at, created_at=at))
            session.add(AuditEntry(actor_id="admin", action="rep_updated", created_at=at))
        session.add(Timer(kind="sla", due_at=old, created_at=old))  # not fired yet: kept whatever its age
        # Not applied yet (a crash before the sweep): kept whatever its age.
        session.add(InboxItem(key="s:unapplied", kind="status", item={}, received_at=old))


async def _ad_lead_keeps_its_state_across_pruning(h: TestHarness) -> None:
    wa = "447700900654"
    await say(h, text(wa, "Hi, I saw your ad", h.clock.now(), referral=AD_REFERRAL))
    await say(h, text(wa, "the company is Initech", h.clock.now()))
    await _old_and_new_records(h)
    before = await _checkpoints(h)
    assert len(before) == 1
    assert before[0][1] > 1

    pruned = await prune(
        h.service.sessions,
        settings=h.service.settings,
        at=h.clock.now(),
        checkpointer=await h.service.graph.checkpointer(),
    )

    assert (pruned.deliveries, pruned.inbox, pruned.statuses, pruned.timers, pruned.audit) == (1, 1, 1, 1, 1)
    async with h.service.sessions() as session:
        kept = await session.execute(select(col(InboxItem.key)).where(col(InboxItem.key).like("s:%")))
        assert sorted(kept.scalars()) == [f"s:{h.clock.now().year}", "s:unapplied"]
    assert pruned.checkpoints == before[0][1] - 1
    assert await _checkpoints(h) == [(before[0][0], 1)]
    assert await count(h, WebhookDelivery) >= 1  # today's, the conversation's own deliveries included
    assert await count(h, AuditEntry) == 1
    async with h.service.sessions() as session:
        unfired = await session.execute(
            select(func.count()).select_from(Timer).where(col(Timer.fired_at).is_(None))
        )
        assert unfired.scalar_one() == 1

    sent = await say(h, text(wa, "we want to qualify inbound leads on WhatsApp", h.clock.now()))
    assert any("Enterprise Sales" in s or "UK Account Executives" in s for s in sent), sent
    assert not any("company" in s.lower() for s in sent), sent  # never asks again for what it knows


async def test_pruning_on_sqlite_keeps_only_what_is_in_its_period_and_the_latest_checkpoint(
    h: TestHarness,
) -> None:
    await _ad_lead_keeps_its_state_across_pruning(h)


@pytest.mark.postgres
async def test_pruning_on_postgres_keeps_only_what_is_in_its_period_and_the_latest_checkpoint(
    pg_h: TestHarness,
) -> None:
    await _ad_lead_keeps_its_state_across_pruning(pg_h)


@pytest.mark.postgres
async def test_one_process_at_a_time_prunes_on_postgres(pg_h: TestHarness, postgres_url: str) -> None:
    import psycopg

    from orchestrator.runtime.container import RETENTION_LOCK

    h = pg_h
    old = h.clock.now() - timedelta(days=400)
    async with h.service.sessions() as session, session.begin():
        session.add(WebhookDelivery(body="{}", received_at=old))
    with psycopg.connect(postgres_url.replace("+psycopg", ""), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (RETENTION_LOCK,))  # another process is pruning
        h.service.pruned_at = None
        await h.service.tick()
        assert await count(h, WebhookDelivery) == 1, "this process skipped its pass"
        other.execute("SELECT pg_advisory_unlock(%s)", (RETENTION_LOCK,))
    h.service.pruned_at = None
    await h.service.tick()
    assert await count(h, WebhookDelivery) == 0
