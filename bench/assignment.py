"""Assignment under concurrency: N OS processes hand off conversations at once against one database.

    .venv/bin/python bench/assignment.py --processes 4 --conversations 500 \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Each run creates its own queues, reps (online, equal capacity) and bot-owned conversations (names
carry a run id, so an existing database is never disturbed), then every process opens its own engine
and, after a common start barrier, hands off its share through the real path: one transaction per
conversation that reads it (locked) with its contact, writes the handoff context, routes it (the
customer's department choice) and assigns it (`handoff.flows.perform_handoff`). Afterwards the
database is checked independently and the last line printed is one JSON object:

  assignments          conversations given to a rep
  processes            OS processes that ran handoffs
  double_assignments   conversations with more than one open assignment or `assigned` event, or
                       whose owner disagrees with their active assignment (must be 0)
  capacity_violations  reps above capacity, or whose open count disagrees with their active
                       assignments (must be 0)
  lost                 conversations neither assigned nor waiting (must be 0)
  spread               max - min assignments among the (equally available) reps of a queue
  p50_ms, p99_ms       latency of one handoff transaction, begin to commit (with `--rate`: from
                       when it was due to its commit)
  per_s                assignments per second of wall time, first start to last commit
  first_ms             each process's first handoff: it builds and compiles the statements
                       (timed, unless `--warmup W` had each process make W before the clock)
  rehearsed_ms         with `--service-start`: each process starts as the service's processes
                       do, before the clock: it rehearses one handoff and rolls it back
                       (`handoff.flows.rehearse_handoff`; how long that took in each), then
                       freezes its heap out of the garbage collector's full passes
                       (`orchestrator.core.heap.settle`)

  loadavg              the machine's load average at the end (the figures are CPU-bound)

By default each process hands off as fast as it can (a closed loop: the latency is then that of a
saturated machine). `--rate R` offers R handoffs a second in all instead, shared among the processes
(an open loop: each handoff is due at its time whether or not the earlier ones have finished, and
waits for one of the process's `--concurrency` lanes if all are busy), which is how a goal such as
"300/s with a p99 of 25 ms" reads.

`--cpu N` measures instead the client side of one handoff: N handoffs one at a time in this process
(after a warm-up), printing `cpu_ms_per_handoff` (`time.process_time`) and `statements_per_handoff`
(SQL statements the engine ran).

The processes run on the event loop the service's processes run on (`--loop uvloop`, the default:
uvloop where installed, as `handoff serve` and `handoff worker` do); `--loop asyncio` for asyncio's
own.

`run_load` is also what tests/handoff/test_concurrency.py runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bench.measure import LOOPS, run_on_loop
from handoff.flows import perform_handoff, rehearse_handoff
from handoff.models import Assignment, Rep, RepQueue
from orchestrator.core.config import AppConfig, load_config, parse_config
from orchestrator.core.contextlog import ContextEvent
from orchestrator.core.db import make_engine, make_sessionmaker
from orchestrator.core.enums import AssignmentStatus, EventType, Owner, Presence
from orchestrator.core.heap import settle
from orchestrator.core.state import HandoffRequest
from orchestrator.core.tables import Contact, Conversation
from orchestrator.migrations import run_migrations


def bench_config(run: str, queues: int) -> AppConfig:
    """The default configuration plus this run's queues (always open)."""
    data = load_config(None).model_dump(mode="json")
    data["queues"] += [
        {"slug": f"b{run}_q{i}", "name": f"Bench {run} queue {i}", "hours": {"always_open": True}}
        for i in range(queues)
    ]
    data["reps"] = []
    return parse_config(data, source="bench config")


def _plan(run: str, queues: int, reps_per_queue: int) -> dict[str, list[str]]:
    return {f"b{run}_q{q}": [f"b{run}-q{q}-r{r}" for r in range(reps_per_queue)] for q in range(queues)}


async def setup(
    url: str, *, run: str, plan: dict[str, list[str]], capacity: int, conversations: int
) -> list[tuple[int, str]]:
    """Reps online with `capacity`, and bot-owned conversations: [(conversation id, queue)]."""
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    now = datetime.now(UTC)
    queues = sorted(plan)
    try:
        async with sessions() as session, session.begin():
            for queue, reps in plan.items():
                for rep_id in reps:
                    session.add(
                        Rep(
                            id=rep_id,
                            name=rep_id,
                            capacity=capacity,
                            presence=Presence.ONLINE,
                            last_seen_at=now,
                            created_at=now,
                        )
                    )
                    session.add(RepQueue(rep_id=rep_id, queue=queue))
            await session.flush()
            contact_rows = [
                {"wa_id": f"9{abs(hash(run)) % 10**6:06d}{i:07d}", "name": f"Bench {i}", "created_at": now}
                for i in range(conversations)
            ]
            ids = list(
                (await session.execute(insert(Contact).returning(col(Contact.id)), contact_rows)).scalars()
            )
            conversation_rows = [
                {
                    "contact_id": cid,
                    "owner": Owner.BOT,
                    "language": "en",  # as the bot's turns leave a conversation they hand off
                    "created_at": now,
                    "updated_at": now,
                    "turns": 1,
                    "priority": 0,
                    "has_pending": False,
                }
                for cid in ids
            ]
            conv_ids = list(
                (
                    await session.execute(
                        insert(Conversation).returning(col(Conversation.id)), conversation_rows
                    )
                ).scalars()
            )
        return [(int(cid), queues[i % len(queues)]) for i, cid in enumerate(conv_ids) if cid is not None]
    finally:
        await engine.dispose()


def _request(queue: str) -> HandoffRequest:
    return {
        "reason": "menu_selection",
        "department_choice": queue,
        "evidence": {"message_id": None, "text": "bench", "signals": []},
        "summary": "benchmark handoff",
        "open_questions": [],
        "promises": [],
    }


async def hand_off_one(
    sessions: async_sessionmaker[AsyncSession], config: AppConfig, conversation_id: int, queue: str
) -> None:
    """One handoff as a turn makes it: one transaction that reads the conversation (locked) with its
    contact in one joined read, as a turn does, writes the handoff context and routing and assigns
    it."""
    async with sessions() as session, session.begin():
        conversation, contact = (
            await session.execute(
                select(Conversation, Contact)
                .join(Contact, col(Contact.id) == col(Conversation.contact_id))
                .where(col(Conversation.id) == conversation_id)
                .with_for_update(of=Conversation)
            )
        ).one()
        await perform_handoff(
            session,
            config=config,
            conversation=conversation,
            contact=contact,
            request=_request(queue),
            fields={},
            language="en",
            llm_calls=0,
            at=datetime.now(UTC),
        )


async def _hand_off(
    url: str,
    config_data: dict[str, Any],
    work: list[tuple[int, str]],
    concurrency: int,
    barrier: Any,
    rate: float | None = None,
    warmup: int = 0,
    rehearse: bool = False,
) -> dict[str, Any]:
    config = parse_config(config_data)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    latencies: list[float] = []
    errors: list[str] = []
    try:

        async def connect() -> None:
            async with sessions() as session:
                await session.execute(select(1))
                await asyncio.sleep(0.05)  # held a moment, so that each lane opens its own

        await asyncio.gather(*(connect() for _ in range(concurrency)))  # before the clock starts
        rehearsed: float | None = None
        if rehearse:  # what `handoff serve` and `handoff worker` do at startup
            since = time.perf_counter()
            await rehearse_handoff(sessions, config=config, at=datetime.now(UTC))
            rehearsed = (time.perf_counter() - since) * 1000
            settle()
        # Before the clock too: the first handoffs of a process, which build and compile its
        # statements (a process of a running fleet has long done so).
        warmed: list[float] = []
        for conversation_id, queue in work[:warmup]:
            since = time.perf_counter()
            await hand_off_one(sessions, config, conversation_id, queue)
            warmed.append((time.perf_counter() - since) * 1000)
        work = work[warmup:]
        await asyncio.to_thread(barrier.wait)
        started = time.perf_counter()
        started_wall = time.time()
        items = iter(work)

        async def one(conversation_id: int, queue: str, since: float) -> None:
            try:
                await hand_off_one(sessions, config, conversation_id, queue)
            except Exception as exc:  # reported, and the checks below count what was lost
                errors.append(f"{conversation_id}: {exc!r}"[:300])
                return
            latencies.append((time.perf_counter() - since) * 1000)

        async def lane() -> None:
            for conversation_id, queue in items:
                await one(conversation_id, queue, time.perf_counter())

        async def paced(per_s: float) -> None:
            # Open loop: the n-th handoff is due at n / per_s whether or not the ones before have
            # finished, and its latency counts from when it was due (a late start, waiting for one
            # of the `concurrency` lanes, included).
            lanes = asyncio.Semaphore(concurrency)

            async def due_one(conversation_id: int, queue: str, due: float) -> None:
                async with lanes:
                    await one(conversation_id, queue, due)

            tasks = []
            for index, (conversation_id, queue) in enumerate(work):
                due = started + index / per_s
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                tasks.append(asyncio.create_task(due_one(conversation_id, queue, due)))
            await asyncio.gather(*tasks)

        if rate is None:
            await asyncio.gather(*(lane() for _ in range(concurrency)))
        else:
            await paced(rate)
        return {
            "latencies": latencies,
            "warmed": warmed,
            "rehearsed": rehearsed,
            "errors": errors,
            "started": started_wall,
            "finished": started_wall + (time.perf_counter() - started),
        }
    finally:
        await engine.dispose()


def worker(
    url: str,
    config_data: dict[str, Any],
    work: list[tuple[int, str]],
    concurrency: int,
    barrier: Any,
    rate: float | None = None,
    loop: str = "uvloop",
    warmup: int = 0,
    rehearse: bool = False,
) -> dict[str, Any]:
    """One OS process: its own engine, its share of the handoffs (at `rate` a second, if given), on
    `loop` (`bench.measure.run_on_loop`); the first `warmup` of them before the start barrier."""
    return run_on_loop(_hand_off(url, config_data, work, concurrency, barrier, rate, warmup, rehearse), loop)


async def verify(url: str, *, plan: dict[str, list[str]], conversation_ids: list[int]) -> dict[str, Any]:
    """Check the outcome in the database, independently of what the workers reported."""
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    reps = [r for members in plan.values() for r in members]
    of_run = col(Assignment.conversation_id).in_(conversation_ids)
    try:
        async with sessions() as session:

            async def counts(query: Any) -> dict[Any, int]:
                return {key: int(n) for key, n in (await session.execute(query)).all()}

            open_per_conversation = await counts(
                select(col(Assignment.conversation_id), func.count())
                .where(
                    of_run, col(Assignment.status).in_([AssignmentStatus.ACTIVE, AssignmentStatus.WAITING])
                )
                .group_by(col(Assignment.conversation_id))
            )
            assigned_events = await counts(
                select(col(ContextEvent.conversation_id), func.count())
                .where(
                    col(ContextEvent.conversation_id).in_(conversation_ids),
                    col(ContextEvent.type) == EventType.ASSIGNED,
                )
                .group_by(col(ContextEvent.conversation_id))
            )
            per_rep = await counts(
                select(col(Assignment.rep_id), func.count())
                .where(col(Assignment.rep_id).in_(reps), col(Assignment.status) == AssignmentStatus.ACTIVE)
                .group_by(col(Assignment.rep_id))
            )
            active: dict[int, str | None] = dict(
                (
                    await session.execute(
                        select(col(Assignment.conversation_id), col(Assignment.rep_id)).where(
                            of_run, col(Assignment.status) == AssignmentStatus.ACTIVE
                        )
                    )
                ).all()
            )
            conversations = (
                await session.execute(
                    select(
                        col(Conversation.id), col(Conversation.owner), col(Conversation.assignee_id)
                    ).where(col(Conversation.id).in_(conversation_ids))
                )
            ).all()
            rep_rows = (
                await session.execute(
                    select(col(Rep.id), col(Rep.open_count), col(Rep.capacity)).where(col(Rep.id).in_(reps))
                )
            ).all()
    finally:
        await engine.dispose()
    double = lost = waiting = 0
    for cid, owner, assignee in conversations:
        assert cid is not None
        twice = open_per_conversation.get(cid, 0) > 1 or assigned_events.get(cid, 0) > 1
        if twice or (owner == Owner.HUMAN and active.get(cid) != assignee):
            double += 1
        if owner == Owner.QUEUED and open_per_conversation.get(cid, 0) == 1:
            waiting += 1
        elif not (owner == Owner.HUMAN and cid in active):
            lost += 1
    violations = sum(
        1
        for rep_id, open_count, capacity in rep_rows
        if open_count > capacity or per_rep.get(rep_id, 0) > capacity or per_rep.get(rep_id, 0) != open_count
    )
    spread = max(
        (max(per_rep.get(r, 0) for r in members) - min(per_rep.get(r, 0) for r in members))
        for members in plan.values()
    )
    return {
        "assignments": len(active),
        "double_assignments": double,
        "capacity_violations": violations,
        "lost": lost,
        "waiting": waiting,
        "spread": spread,
        "per_rep": {r: per_rep.get(r, 0) for r in reps},
    }


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def run_load(
    url: str,
    *,
    processes: int = 4,
    conversations: int = 500,
    queues: int = 2,
    reps_per_queue: int = 5,
    capacity: int | None = None,
    concurrency: int = 1,
    migrate: bool = True,
    rate: float | None = None,
    loop: str = "uvloop",
    warmup: int = 0,
    rehearse: bool = False,
) -> dict[str, Any]:
    """Set up, hand off from `processes` OS processes at once, verify. Returns the result object.
    `rate`: handoffs a second offered in all (open loop, shared evenly among the processes) instead
    of each process handing off as fast as its `concurrency` lanes finish. `loop`: the processes'
    event loop (`bench.measure.run_on_loop`). `warmup`: handoffs each process makes before the
    start barrier, on conversations of their own (assigned and checked like the others, neither
    timed nor counted in `per_s`)."""
    if migrate:
        run_migrations(url)
    run = uuid.uuid4().hex[:6]
    plan = _plan(run, queues, reps_per_queue)
    # Enough capacity for an even split, plus a little: capacity binds, round robin must still spread.
    total = conversations + warmup * processes
    capacity = capacity or math.ceil(total / (queues * reps_per_queue)) + 2
    work = asyncio.run(setup(url, run=run, plan=plan, capacity=capacity, conversations=total))
    config_data = bench_config(run, queues).model_dump(mode="json")
    warm, timed = work[: warmup * processes], work[warmup * processes :]
    shares = [warm[i::processes] + timed[i::processes] for i in range(processes)]
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        barrier = manager.Barrier(processes)
        with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
            per_process = rate / processes if rate else None
            futures = [
                pool.submit(
                    worker, url, config_data, share, concurrency, barrier, per_process, loop, warmup, rehearse
                )
                for share in shares
            ]
            results = [f.result() for f in futures]
    latencies = [ms for r in results for ms in r["latencies"]]
    warmed = [r["warmed"] for r in results]
    errors = [e for r in results for e in r["errors"]]
    wall = max(r["finished"] for r in results) - min(r["started"] for r in results)
    checked = asyncio.run(verify(url, plan=plan, conversation_ids=[cid for cid, _ in work]))
    return {
        "assignments": checked["assignments"],
        "processes": processes,
        "double_assignments": checked["double_assignments"],
        "capacity_violations": checked["capacity_violations"],
        "lost": checked["lost"],
        "waiting": checked["waiting"],
        "errors": len(errors),
        "error_samples": errors[:3],
        "spread": checked["spread"],
        "per_rep": checked["per_rep"],
        "p50_ms": round(_percentile(latencies, 0.50), 2),
        "p99_ms": round(_percentile(latencies, 0.99), 2),
        "per_s": round((checked["assignments"] - sum(map(len, warmed))) / wall, 1) if wall > 0 else 0.0,
        # Each process's first handoff (its statements built and compiled): in the timings when
        # there is no warm-up, before them otherwise.
        "first_ms": [
            round((w or r["latencies"] or [0.0])[0], 1) for w, r in zip(warmed, results, strict=True)
        ],
        "warmup": warmup,
        "rehearsed_ms": [round(r["rehearsed"], 1) for r in results if r["rehearsed"] is not None],
        "conversations": conversations,
        "queues": queues,
        "reps_per_queue": reps_per_queue,
        "capacity": capacity,
        "concurrency": concurrency,
        "rate": rate,
        "loop": loop,
        "database": url.split("://", 1)[0],
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


async def _cpu_per_handoff(
    url: str, *, handoffs: int, warmup: int, queues: int, reps_per_queue: int
) -> dict[str, Any]:
    run = uuid.uuid4().hex[:6]
    plan = _plan(run, queues, reps_per_queue)
    total = warmup + handoffs
    capacity = math.ceil(total / (queues * reps_per_queue)) + 2
    work = await setup(url, run=run, plan=plan, capacity=capacity, conversations=total)
    config = bench_config(run, queues)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    statements = 0

    def count(*_args: Any) -> None:
        nonlocal statements
        statements += 1

    try:
        for conversation_id, queue in work[:warmup]:  # statement caches and pools warm
            await hand_off_one(sessions, config, conversation_id, queue)
        event.listen(engine.sync_engine, "before_cursor_execute", count)
        started = time.process_time()
        for conversation_id, queue in work[warmup:]:
            await hand_off_one(sessions, config, conversation_id, queue)
        cpu_ms = (time.process_time() - started) * 1000
    finally:
        await engine.dispose()
    checked = await verify(url, plan=plan, conversation_ids=[cid for cid, _ in work])
    return {
        "handoffs": handoffs,
        "assignments": checked["assignments"] - warmup,
        "cpu_ms_per_handoff": round(cpu_ms / handoffs, 2),
        "statements_per_handoff": round(statements / handoffs, 2),
        "database": url.split("://", 1)[0],
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def cpu_per_handoff(
    url: str,
    *,
    handoffs: int = 300,
    warmup: int = 30,
    queues: int = 2,
    reps_per_queue: int = 5,
    migrate: bool = True,
    loop: str = "uvloop",
) -> dict[str, Any]:
    """Client CPU (`time.process_time`) and SQL statements per handoff, one handoff at a time in
    this process, after `warmup` handoffs, on `loop` (`bench.measure.run_on_loop`)."""
    if migrate:
        run_migrations(url)
    measured = run_on_loop(
        _cpu_per_handoff(url, handoffs=handoffs, warmup=warmup, queues=queues, reps_per_queue=reps_per_queue),
        loop,
    )
    return {**measured, "loop": loop}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--conversations", type=int, default=500)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--queues", type=int, default=2)
    parser.add_argument("--reps-per-queue", type=int, default=5)
    parser.add_argument("--capacity", type=int, default=None, help="per rep (default: even split + 2)")
    parser.add_argument("--concurrency", type=int, default=1, help="concurrent handoffs per process")
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="open loop: handoffs offered a second in all, latency counted from when each was due",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=0,
        metavar="W",
        help="handoffs each process makes before the clock starts (not timed, not in per_s)",
    )
    parser.add_argument(
        "--service-start",
        action="store_true",
        help="each process starts as the service's do (one handoff rehearsed, heap frozen) before the clock",
    )
    parser.add_argument(
        "--cpu",
        type=int,
        default=0,
        metavar="N",
        help="instead: client CPU and statements per handoff over N sequential handoffs in one process",
    )
    parser.add_argument(
        "--loop",
        choices=LOOPS,
        default="uvloop",
        help="the processes' event loop: the service's (uvloop where installed) or asyncio's own",
    )
    args = parser.parse_args(argv)
    if args.cpu:
        measured = cpu_per_handoff(
            args.database_url,
            handoffs=args.cpu,
            queues=args.queues,
            reps_per_queue=args.reps_per_queue,
            loop=args.loop,
        )
        print(json.dumps(measured))
        return 0 if measured["assignments"] == args.cpu else 1
    result = run_load(
        args.database_url,
        processes=args.processes,
        conversations=args.conversations,
        queues=args.queues,
        reps_per_queue=args.reps_per_queue,
        capacity=args.capacity,
        concurrency=args.concurrency,
        rate=args.rate,
        loop=args.loop,
        warmup=args.warmup,
        rehearse=args.service_start,
    )
    print(json.dumps({k: v for k, v in result.items() if k != "per_rep"}))
    ok = result["double_assignments"] == 0 and result["capacity_violations"] == 0 and result["lost"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
