"""A trial run (`make run`): the demo team stays present though nobody has their page open, so a
newcomer's first handoffs are assigned; a deployment's reps start offline and expire without
heartbeats as always."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from handoff.models import Rep
from orchestrator.core.clock import FrozenClock
from orchestrator.core.enums import Presence
from orchestrator.core.settings import Settings
from orchestrator.runtime.container import Service
from tests.conftest import OPEN_HOURS
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


@pytest.mark.parametrize(("demo_presence", "expected"), [(False, Presence.OFFLINE), (True, Presence.ONLINE)])
async def test_configured_reps_start_offline_in_a_deployment_and_present_in_a_trial_run(
    graph_api_url: str, sqlite_url: str, demo_presence: bool, expected: Presence
) -> None:
    """Outside a trial run, the reps a configuration lists are created offline: present once they
    sign in, so no first handoff goes to someone who is not there. A trial run starts with the
    demo team present."""
    settings = Settings(
        dev_mode=False,
        demo_presence=demo_presence,
        database_url=sqlite_url,
        whatsapp_api_url=graph_api_url,
        run_background=False,
    )
    async with (
        Service.running(settings, clock=FrozenClock(OPEN_HOURS), migrate=False) as service,
        service.sessions() as session,
    ):
        presences = set((await session.execute(select(col(Rep.presence)))).scalars())
    assert presences == {expected}
