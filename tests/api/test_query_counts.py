"""The rep and queue listings cost a fixed number of SQL statements, however many reps there are
(each rep's queues come in one query for all of them, not one query per rep)."""

from __future__ import annotations

from handoff.users import create_user
from orchestrator.core.enums import Role
from tests.api.helpers import bearer
from tests.factories import counting
from tests.fakes.graph import TestHarness


async def add_support_reps(h: TestHarness, count: int, *, start: int) -> None:
    async with h.service.sessions() as session, session.begin():
        for n in range(start, start + count):
            await create_user(
                session,
                rep_id=f"extra{n:03d}",
                name=f"Extra {n}",
                role=Role.REP,
                queues=["support", "billing"],
                known_queues={q.slug for q in h.service.config.queues},
                capacity=3,
                password=None,
                at=h.clock.now(),
            )


async def statements_for(h: TestHarness, path: str) -> tuple[int, int]:
    """(statements run, reps listed) for one GET as the admin."""
    with counting(h) as statements:
        response = await h.http.get(path, headers=bearer("admin"))
    assert response.status_code == 200
    body = response.json()
    reps = body if isinstance(body, list) else body["reps"]
    return len(statements), len(reps)


async def test_listing_reps_runs_the_same_statements_for_3_and_30_more_reps(h: TestHarness) -> None:
    await add_support_reps(h, 3, start=0)
    few, listed_few = await statements_for(h, "/api/reps")
    await add_support_reps(h, 27, start=3)
    many, listed_many = await statements_for(h, "/api/reps")
    assert listed_many == listed_few + 27
    assert many == few


async def test_a_queue_with_3_or_30_more_members_runs_the_same_statements(h: TestHarness) -> None:
    await add_support_reps(h, 3, start=0)
    few, listed_few = await statements_for(h, "/api/queues/support")
    await add_support_reps(h, 27, start=3)
    many, listed_many = await statements_for(h, "/api/queues/support")
    assert listed_many == listed_few + 27
    assert many == few


async def test_each_listed_rep_carries_all_of_their_queues(h: TestHarness) -> None:
    await add_support_reps(h, 3, start=0)
    reps = (await h.http.get("/api/reps", headers=bearer("admin"))).json()
    extra = {r["id"]: r["queues"] for r in reps if r["id"].startswith("extra")}
    assert extra == {f"extra{n:03d}": ["billing", "support"] for n in range(3)}
    lena = next(r for r in reps if r["id"] == "lena")
    assert lena["queues"] == ["senior_engineering", "support"]
