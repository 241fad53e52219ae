"""Acknowledgements before background work (`orchestrator.core.aio.Foreground`): while a process
answers a webhook delivery, its bot turns wait between their steps, for a bounded time."""

from __future__ import annotations

import asyncio

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
            body = encode_webhook(
                build_text_webhook(
                    wa_id=f"44770091{n:04d}",
                    message_id=f"wamid.burst.{n}",
                    timestamp=OPEN_HOURS,
                    text="hello",
                )
            )
            secret = h.service.settings.whatsapp_app_secret.get_secret_value()
            response = await h.http.post(  # answered, not waiting for the applier (as Meta sees it)
                "/webhooks/whatsapp",
                content=body,
                headers={"x-hub-signature-256": compute_signature(secret, body)},
            )
            assert response.json()["messages"] == 1
            most = max(most, engine.handed_over)
    assert most == 5  # the rest were left in the inbox, not kept in memory
    await engine.drain()
    async with h.service.sessions() as session:
        inbound = await session.execute(
            select(col(Message.wa_message_id)).where(col(Message.direction) == "inbound")
        )
        unapplied = await session.execute(select(func.count()).where(col(InboxItem.applied_at).is_(None)))
    assert sorted(str(m) for m in inbound.scalars()) == sorted(f"wamid.burst.{n}" for n in range(20))
    assert unapplied.scalar_one() == 0
    answered = {request["json"]["to"] for request in h.fake_graph.sent}
    assert answered == {f"+44770091{n:04d}" for n in range(20)}  # every customer got a reply
