"""Acknowledgements before background work (`orchestrator.core.aio.Foreground`): while a process
answers a webhook delivery, its bot turns wait between their steps, for a bounded time."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from orchestrator.channels.whatsapp.signature import compute_signature
from orchestrator.core.aio import Foreground
from orchestrator.core.tables import InboxItem, Message
from orchestrator.runtime import turns
from orchestrator.runtime.simulator import build_text_webhook, encode_webhook
from tests.conftest import OPEN_HOURS
from tests.factories import text
from tests.fakes.graph import TestHarness


async def test_yielding_returns_at_once_when_nothing_is_being_served() -> None:
    foreground = Foreground(max_wait_s=30)
    await asyncio.wait_for(foreground.yield_to(), 1)
    assert foreground.busy == 0


async def test_yielding_waits_until_the_last_request_being_served_ends() -> None:
    foreground = Foreground(max_wait_s=30)
    with foreground.serving():
        with foreground.serving():
            waiting = asyncio.create_task(foreground.yield_to())
            await asyncio.sleep(0.05)
            assert foreground.busy == 2
        await asyncio.sleep(0.05)
        assert not waiting.done(), "one request is still being served"
    await asyncio.wait_for(waiting, 1)
    assert foreground.busy == 0


async def test_yielding_goes_on_after_its_longest_wait_while_requests_keep_coming() -> None:
    foreground = Foreground(max_wait_s=0.05)
    with foreground.serving():
        await asyncio.wait_for(foreground.yield_to(), 2)
        assert foreground.busy == 1


async def test_a_step_given_a_shorter_wait_goes_on_after_it_while_the_others_keep_theirs() -> None:
    foreground = Foreground(max_wait_s=30)
    with foreground.serving():
        patient = asyncio.create_task(foreground.yield_to())
        await asyncio.wait_for(foreground.yield_to(max_wait_s=0.02), 2)
        assert foreground.busy == 1
        assert not patient.done(), "the other step keeps the foreground's own wait"
        patient.cancel()


async def test_the_foreground_is_active_while_it_serves_and_for_a_moment_after() -> None:
    lingering, brief = Foreground(recent_s=60), Foreground(recent_s=0.01)
    assert not lingering.active, "nothing served yet"
    for foreground in (lingering, brief):
        with foreground.serving():
            assert foreground.active
    assert lingering.active, "answered just now: more are likely to come"
    await asyncio.sleep(0.05)
    assert not brief.active, "nothing answered for longer than its `recent_s`"


async def test_waiting_steps_are_let_go_one_per_pass_of_the_loop_in_arrival_order() -> None:
    foreground = Foreground(max_wait_s=30)
    ran: list[int] = []

    async def step(n: int) -> None:
        await foreground.yield_to()
        ran.append(n)

    with foreground.serving():
        tasks = [asyncio.create_task(step(n)) for n in range(3)]
        await asyncio.sleep(0.01)
        assert ran == []
    seen = []
    for _ in range(3):
        await asyncio.sleep(0)  # one pass of the event loop
        seen.append(list(ran))
    assert seen == [[0], [0, 1], [0, 1, 2]], "a delivery arriving meanwhile waits for one step, not all"
    await asyncio.gather(*tasks)


async def test_a_step_arriving_as_a_waiting_one_is_let_go_does_not_overtake_it() -> None:
    # The first step is let go when the request ends, but resumes on a later pass of the loop; a
    # step reaching `yield_to` in between (its turn's lease was taken in the same pass) must wait
    # for it, or the second conversation takes the turn slot first and customers are answered out
    # of the order they wrote.
    foreground = Foreground(max_wait_s=30)
    ran: list[str] = []

    async def step(name: str) -> None:
        await foreground.yield_to()
        ran.append(name)

    with foreground.serving():
        first = asyncio.create_task(step("first"))
        await asyncio.sleep(0.01)  # waiting
        second = asyncio.create_task(step("second"))  # runs its first step after the release
    await asyncio.wait_for(asyncio.gather(first, second), 1)
    assert ran == ["first", "second"]


async def test_a_turn_waits_while_the_process_is_acknowledging_and_runs_once_it_is_done(
    h: TestHarness,
) -> None:
    turns = h.service.turns
    turns.burst_window_s = turns.burst_quiet_s = 1.0  # the turn starts 1 s after the message is applied
    response = await h.post(text("12025550401", "Hello", h.clock.now()))
    assert response.status_code == 200
    turns.foreground.max_wait_s = 30
    with turns.foreground.serving():  # as a delivery being acknowledged, from before the turn starts
        await asyncio.sleep(1.5)  # the burst window has passed: the turn is ready, and waits
        assert h.fake_graph.sent == [], "no turn step ran during the acknowledgement"
    await asyncio.wait_for(turns.drain(), 10)
    assert len(h.fake_graph.sent_texts()) == 1


async def test_a_turn_is_not_held_past_the_longest_wait_under_a_stream_of_deliveries(
    h: TestHarness,
) -> None:
    turns = h.service.turns
    turns.burst_window_s = 0.05
    turns.foreground.max_wait_s = 0.05
    with turns.foreground.serving():  # deliveries never stop for the whole turn
        assert (await h.post(text("12025550402", "Hello", h.clock.now()))).status_code == 200
        await asyncio.wait_for(turns.drain(), 10)
        assert len(h.fake_graph.sent_texts()) == 1


async def test_a_burst_the_applier_cannot_keep_up_with_keeps_at_most_the_limit_in_memory_and_loses_nothing(
    h: TestHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(turns, "HANDOVER_LIMIT", 5)
    engine = h.service.turns
    most = 0
    with engine.foreground.serving():  # acknowledgements under way: the applier waits between steps
        for n in range(20):
            await _deliver(h, f"44770091{n:04d}", f"wamid.burst.{n}")
            most = max(most, engine.handed_over)
    assert most == 5  # the rest were left in the inbox, not kept in memory
    await engine.drain()
    async with h.service.sessions() as session:
        inbound = await session.execute(
            select(col(Message.wa_message_id)).where(col(Message.direction) == "inbound")
        )
    assert sorted(str(m) for m in inbound.scalars()) == sorted(f"wamid.burst.{n}" for n in range(20))
    assert await _unapplied(h) == 0
    answered = {request["json"]["to"] for request in h.fake_graph.sent}
    assert answered == {f"+44770091{n:04d}" for n in range(20)}  # every customer got a reply


async def _deliver(h: TestHarness, wa_id: str, message_id: str) -> None:
    """One signed delivery of a first message, answered without waiting for the applier (as Meta
    sees it)."""
    body = encode_webhook(
        build_text_webhook(wa_id=wa_id, message_id=message_id, timestamp=OPEN_HOURS, text="hello")
    )
    secret = h.service.settings.whatsapp_app_secret.get_secret_value()
    response = await h.http.post(
        "/webhooks/whatsapp", content=body, headers={"x-hub-signature-256": compute_signature(secret, body)}
    )
    assert response.json()["messages"] == 1


async def _unapplied(h: TestHarness) -> int:
    async with h.service.sessions() as session:
        found = await session.execute(select(func.count()).where(col(InboxItem.applied_at).is_(None)))
        return int(found.scalar_one())


def _chunk_sizes(engine: turns.TurnEngine) -> list[int]:
    """The number of items of each transaction the applier runs from now on."""
    sizes: list[int] = []
    apply_chunk = engine._apply_chunk

    async def observed(chunk: list[int] | None, size: int, known: Any, **options: Any) -> Any:
        sizes.append(len(chunk) if chunk is not None else size)
        return await apply_chunk(chunk, size, known, **options)

    engine._apply_chunk = observed  # type: ignore[method-assign]
    return sizes


async def test_a_flood_defers_the_applier_until_its_items_are_overdue_then_it_applies_in_small_chunks(
    h: TestHarness,
) -> None:
    engine = h.service.turns
    engine.foreground.max_wait_s = 60  # without the lag rule the applier waits as long as the flood
    engine.apply_lag_s = 0.3
    sizes = _chunk_sizes(engine)
    with engine.foreground.serving():  # acknowledgements that never pause
        for n in range(60):
            await _deliver(h, f"44770092{n:04d}", f"wamid.flood.{n}")
        await asyncio.wait_for(engine.applied(), 10)  # applied while the flood still goes on
        assert await _unapplied(h) == 0
    assert sum(sizes) == 60
    assert max(sizes) <= turns.APPLY_CHUNK_SERVING < turns.APPLY_CHUNK, "short transactions while serving"
    await engine.drain()
    assert len(h.fake_graph.sent) == 60, "every customer answered"


async def test_a_flood_shorter_than_the_lag_is_acknowledged_first_and_applied_after(h: TestHarness) -> None:
    engine = h.service.turns
    engine.foreground.max_wait_s = 60
    engine.foreground.recent_s = 0  # once the flood ends, nothing more is expected
    engine.apply_lag_s = 60
    sizes = _chunk_sizes(engine)
    with engine.foreground.serving():
        for n in range(30):
            await _deliver(h, f"44770092{n:04d}", f"wamid.flood.{n}")
        await asyncio.sleep(0.3)
        assert await _unapplied(h) == 30, "nothing applied while acknowledgements are served"
    await asyncio.wait_for(engine.applied(), 10)  # the flood is over: applied at once
    assert await _unapplied(h) == 0
    assert sizes == [30], "one transaction once nothing is served: up to APPLY_CHUNK items"
