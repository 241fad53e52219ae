"""A trial run (`make run`): the demo team stays present though nobody has their page open, so a
newcomer's first handoffs are assigned; a deployment's reps expire without heartbeats as always."""

from __future__ import annotations

from handoff.models import Rep
from orchestrator.core.enums import Presence
from tests.fakes.graph import TestHarness


async def _presence_after_ten_quiet_minutes(h: TestHarness) -> Presence:
    h.clock.advance(minutes=10)
    await h.service.tick()
    async with h.service.sessions() as session:
        alice = await session.get(Rep, "alice")
    assert alice is not None
    return alice.presence


async def test_demo_reps_stay_present_in_a_trial_run(h: TestHarness) -> None:
    h.service.settings.demo_presence = True
    assert await _presence_after_ten_quiet_minutes(h) == Presence.ONLINE


async def test_without_a_trial_run_demo_reps_expire_like_anyone(h: TestHarness) -> None:
    assert not h.service.settings.demo_presence
    assert await _presence_after_ten_quiet_minutes(h) == Presence.OFFLINE
