"""The reps the configuration file lists: created from it at their first start, then the team in
force is the database's, and a start says which of them an admin has changed since."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import col
from structlog.testing import capture_logs

from handoff.models import Rep
from handoff.reps import seed_reps
from tests.fakes.graph import TestHarness


async def test_a_start_keeps_the_team_in_force_and_warns_where_it_differs_from_the_file(
    h: TestHarness,
) -> None:
    config = h.service.config
    async with h.service.sessions() as session, session.begin():
        await session.execute(update(Rep).where(col(Rep.id) == "harry").values(capacity=11, name="Harry B."))
    with capture_logs() as logs:
        async with h.service.sessions() as session, session.begin():
            created = await seed_reps(session, config=config, at=h.clock.now())
    async with h.service.sessions() as session:
        harry = await session.get(Rep, "harry")
    assert created == 0
    assert harry is not None
    assert (harry.capacity, harry.name) == (11, "Harry B.")
    warnings = [e for e in logs if e["event"] == "configured_rep_differs"]
    file_harry = next(rc for rc in config.reps if rc.id == "harry")
    assert [(w["rep"], w["differences"]) for w in warnings] == [
        (
            "harry",
            [
                f"name: the file says {file_harry.name!r}, in force 'Harry B.'",
                f"capacity: the file says {file_harry.capacity}, in force 11",
            ],
        )
    ]
