"""Admission in groups (`orchestrator.core.aio.GroupAdmission`): at most `capacity` inside; once
callers wait, they are let in in arrival order, a group at a time."""

from __future__ import annotations

import asyncio

from orchestrator.core.aio import GroupAdmission


async def _enter(admission: GroupAdmission, order: list[str], name: str, leave: asyncio.Event) -> None:
    async with admission:
        order.append(name)
        await leave.wait()


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_lone_caller_enters_at_once() -> None:
    admission = GroupAdmission(4, group=3)
    async with admission:
        assert admission.inside == 1
    assert admission.inside == 0


async def test_waiting_callers_are_let_in_a_group_at_a_time_in_arrival_order() -> None:
    admission = GroupAdmission(3, group=2)
    order: list[str] = []
    leave = {name: asyncio.Event() for name in "abcdef"}
    tasks = {name: asyncio.create_task(_enter(admission, order, name, leave[name])) for name in "abcdef"}
    await _settle()
    assert order == ["a", "b", "c"]
    assert admission.waiting == 3

    leave["a"].set()
    await _settle()
    assert order == ["a", "b", "c"], "one place free: the waiting wait for a group's worth"

    leave["b"].set()
    await _settle()
    assert order == ["a", "b", "c", "d", "e"], "two places free: the next two let in together"

    leave["c"].set()
    await _settle()
    assert order[-1] == "f", "fewer wait than a group: let in as soon as there is room for them"
    for event in leave.values():
        event.set()
    await asyncio.gather(*tasks.values())
    assert admission.inside == 0


async def test_a_cancelled_waiter_takes_no_place_and_holds_no_one_up() -> None:
    admission = GroupAdmission(1, group=1)
    order: list[str] = []
    leave = {name: asyncio.Event() for name in "abc"}
    first = asyncio.create_task(_enter(admission, order, "a", leave["a"]))
    await _settle()
    gone = asyncio.create_task(_enter(admission, order, "b", leave["b"]))
    last = asyncio.create_task(_enter(admission, order, "c", leave["c"]))
    await _settle()
    gone.cancel()
    await _settle()
    leave["a"].set()
    leave["c"].set()
    await asyncio.wait_for(asyncio.gather(first, last), 1)
    assert order == ["a", "c"]
    assert admission.inside == 0
