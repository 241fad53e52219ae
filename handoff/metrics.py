"""Metrics of the human side, per rep and per queue, measured from the assignment (not from when the
conversation was created): first response time (assigned -> first rep reply), handle time (assigned
-> resolved, transferred or handed back), wait (queued -> assigned), reassignments (taken away from
the rep: SLA, offline, a lead), transfers, SLA breaches; live: queue depth, longest wait, reps online.

Service functions return pydantic models (the rep API serves them, and `render_prometheus` as the
Prometheus text of `GET /metrics`), computed from the database at scrape time, so every API process
reports the same numbers. Durations are aggregated in SQL (count, sum, max), so a scrape stays cheap
as the history grows; Prometheus derives averages and rates from `_sum`/`_count`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, cast

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from pydantic import BaseModel
from sqlalchemy import ColumnElement, case, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from handoff.errors import NotFound
from handoff.models import Assignment, Rep, RepQueue, Timer
from orchestrator.core import heartbeat
from orchestrator.core.config import AppConfig
from orchestrator.core.enums import AssignmentStatus, HandoffReason, Owner, Presence, SendStatus
from orchestrator.core.tables import OUTBOX_WATCHED_SQL, Conversation, InboxItem, Message

HANDLED = (AssignmentStatus.RESOLVED, AssignmentStatus.TRANSFERRED, AssignmentStatus.RETURNED)


class DurationStats(BaseModel):
    count: int = 0
    total_seconds: float = 0.0
    mean_seconds: float | None = None
    max_seconds: float | None = None


class Outcomes(BaseModel):
    """Counts and durations over assignments (those assigned at or after `since`, when given)."""

    assignments: int = 0  # given to a rep
    active: int = 0
    first_response: DurationStats = DurationStats()
    handle_time: DurationStats = DurationStats()
    wait: DurationStats = DurationStats()
    reassignments: int = 0  # taken away from the rep (SLA, offline, a lead's reassignment)
    transfers: int = 0
    sla_breaches: int = 0


class RepMetrics(Outcomes):
    rep_id: str
    name: str
    presence: Presence
    open: int
    capacity: int


class QueueMetrics(Outcomes):
    queue: str
    name: str
    open_now: bool
    depth: int  # conversations waiting (or held) in the queue now
    longest_wait_seconds: float | None
    reps_online: int
    reps_available: int  # online, opted in, under capacity


class PipelineMetrics(BaseModel):
    """The bot side at the moment of reading: webhook items stored and not applied yet, customers
    waiting for a bot turn, replies not sent yet (or given up on), and the handoffs so far by
    reason. A backlog that keeps growing, or an oldest age that keeps rising, is what to alert on."""

    inbox_unapplied: int = 0
    inbox_oldest_unapplied_seconds: float = 0.0
    turns_pending: int = 0  # conversations with customer messages the bot has not answered yet
    turns_oldest_pending_seconds: float = 0.0  # since the latest message of the longest waiting one
    outbox_unsent: int = 0  # outbound messages pending or being sent
    outbox_oldest_unsent_seconds: float = 0.0
    outbox_failed: int = 0  # given up on: shown to reps as failed sends
    handoffs: dict[str, int] = {}  # by reason, every reason listed


class MetricsReport(BaseModel):
    at: datetime
    since: datetime | None
    queues: list[QueueMetrics]
    reps: list[RepMetrics]
    timers_pending: int
    timers_overdue: int
    pipeline: PipelineMetrics
    # Processes with a background loop by role, live or silent (`orchestrator.core.heartbeat`).
    processes: dict[str, dict[str, int]] = {}
    # The live ones' longest event-loop delay over their last heartbeat interval: (role, id, seconds).
    loop_lags: list[tuple[str, str, float]] = []


def _seconds(session: AsyncSession, end: Any, start: Any) -> ColumnElement[float]:
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return cast(ColumnElement[float], func.extract("epoch", end - start))


def _stats(count: Any, total: Any, peak: Any) -> DurationStats:
    n = int(count or 0)
    s = float(total or 0.0)
    return DurationStats(
        count=n,
        total_seconds=round(s, 3),
        mean_seconds=round(s / n, 3) if n else None,
        max_seconds=round(float(peak), 3) if peak is not None else None,
    )


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


async def _outcomes(
    session: AsyncSession, *, group: Any, since: datetime | None, where: ColumnElement[bool] | None = None
) -> dict[str, Outcomes]:
    a = Assignment
    first = _seconds(session, col(a.first_response_at), col(a.assigned_at))
    handled = col(a.status).in_(HANDLED) & col(a.assigned_at).is_not(None) & col(a.ended_at).is_not(None)
    handle = case((handled, _seconds(session, col(a.ended_at), col(a.assigned_at))), else_=None)
    wait = _seconds(session, col(a.assigned_at), col(a.queued_at))
    query = select(
        group,
        func.count(col(a.assigned_at)),
        _count_if(col(a.status) == AssignmentStatus.ACTIVE),
        func.count(col(a.first_response_at)),
        func.sum(first),
        func.max(first),
        func.count(handle),
        func.sum(handle),
        func.max(handle),
        func.count(col(a.assigned_at)),
        func.sum(wait),
        func.max(wait),
        _count_if((col(a.status) == AssignmentStatus.REVOKED) & col(a.rep_id).is_not(None)),
        _count_if(col(a.status) == AssignmentStatus.TRANSFERRED),
        func.count(col(a.sla_breached_at)),
    ).group_by(group)
    if since is not None:
        query = query.where(col(a.queued_at) >= since)
    if where is not None:
        query = query.where(where)
    out: dict[str, Outcomes] = {}
    for row in await session.execute(query):
        key = row[0]
        if key is None:
            continue
        out[str(key)] = Outcomes(
            assignments=int(row[1] or 0),
            active=int(row[2] or 0),
            first_response=_stats(row[3], row[4], row[5]),
            handle_time=_stats(row[6], row[7], row[8]),
            wait=_stats(row[9], row[10], row[11]),
            reassignments=int(row[12] or 0),
            transfers=int(row[13] or 0),
            sla_breaches=int(row[14] or 0),
        )
    return out


async def rep_metrics(
    session: AsyncSession, *, rep_id: str, at: datetime, since: datetime | None = None
) -> RepMetrics:
    """One rep's workload and responsiveness. `NotFound` when there is no such rep."""
    reps = await all_rep_metrics(session, at=at, since=since, rep_ids=[rep_id])
    if not reps:
        raise NotFound(f"rep {rep_id} not found")
    return reps[0]


async def all_rep_metrics(
    session: AsyncSession,
    *,
    at: datetime,
    since: datetime | None = None,
    rep_ids: Iterable[str] | None = None,
) -> list[RepMetrics]:
    query = select(Rep).order_by(col(Rep.id))
    where: ColumnElement[bool] | None = None
    if rep_ids is not None:
        ids = list(rep_ids)
        query = query.where(col(Rep.id).in_(ids))
        where = col(Assignment.rep_id).in_(ids)
    reps = list((await session.execute(query)).scalars())
    outcomes = await _outcomes(session, group=col(Assignment.rep_id), since=since, where=where)
    return [
        RepMetrics(
            rep_id=rep.id,
            name=rep.name,
            presence=rep.presence,
            open=rep.open_count,
            capacity=rep.capacity,
            **outcomes.get(rep.id, Outcomes()).model_dump(),
        )
        for rep in reps
    ]


async def queue_metrics(
    session: AsyncSession, *, config: AppConfig, at: datetime, since: datetime | None = None
) -> list[QueueMetrics]:
    outcomes = await _outcomes(session, group=col(Assignment.queue), since=since)
    waiting = {
        str(queue): (int(depth), oldest)
        for queue, depth, oldest in await session.execute(
            select(col(Conversation.queue), func.count(), func.min(col(Conversation.waiting_since)))
            .where(col(Conversation.owner) == Owner.QUEUED)
            .group_by(col(Conversation.queue))
        )
    }
    staffing: dict[str, tuple[int, int]] = {}
    rows = await session.execute(
        select(
            col(RepQueue.queue),
            _count_if(col(Rep.presence) == Presence.ONLINE),
            _count_if(
                (col(Rep.presence) == Presence.ONLINE)
                & col(Rep.auto_assign).is_(True)
                & (col(Rep.open_count) < col(Rep.capacity))
            ),
        )
        .join(Rep, col(Rep.id) == col(RepQueue.rep_id))
        .group_by(col(RepQueue.queue))
    )
    for queue, online, available in rows:
        staffing[str(queue)] = (int(online or 0), int(available or 0))
    out: list[QueueMetrics] = []
    for q in config.queues:
        depth, oldest = waiting.get(q.slug, (0, None))
        online, available = staffing.get(q.slug, (0, 0))
        out.append(
            QueueMetrics(
                queue=q.slug,
                name=q.name,
                open_now=q.hours.is_open(at),
                depth=depth,
                longest_wait_seconds=round((at - oldest).total_seconds(), 3) if oldest is not None else None,
                reps_online=online,
                reps_available=available,
                **outcomes.get(q.slug, Outcomes()).model_dump(),
            )
        )
    return out


async def metrics_report(
    session: AsyncSession, *, config: AppConfig, at: datetime, since: datetime | None = None
) -> MetricsReport:
    pending = col(Timer.fired_at).is_(None) & col(Timer.cancelled_at).is_(None)
    timers_pending, timers_overdue = (
        await session.execute(select(func.count(), _count_if(col(Timer.due_at) <= at)).where(pending))
    ).one()
    processes, loop_lags = await process_counts(session, at=at)
    return MetricsReport(
        at=at,
        since=since,
        queues=await queue_metrics(session, config=config, at=at, since=since),
        reps=await all_rep_metrics(session, at=at, since=since),
        timers_pending=int(timers_pending or 0),
        timers_overdue=int(timers_overdue or 0),
        pipeline=await pipeline_metrics(session, at=at),
        processes=processes,
        loop_lags=loop_lags,
    )


async def process_counts(
    session: AsyncSession, *, at: datetime
) -> tuple[dict[str, dict[str, int]], list[tuple[str, str, float]]]:
    """Processes with a background loop, by role (`worker`, `api`): how many beat in time (`live`)
    and how many went silent (died without stopping, or hang), both roles always listed; and how
    late each live one's event loop ran, as (role, id, seconds)."""
    counts = {role: {"live": 0, "silent": 0} for role in ("worker", "api")}
    lags: list[tuple[str, str, float]] = []
    beats, at = await heartbeat.processes(session, at=at)
    for beat in beats:
        live = heartbeat.is_live(beat, at=at)
        counts.setdefault(beat.role, {"live": 0, "silent": 0})
        counts[beat.role]["live" if live else "silent"] += 1
        if live and beat.loop_lag_s is not None:
            lags.append((beat.role, beat.id, beat.loop_lag_s))
    return counts, lags


def _age(at: datetime, since: datetime | None) -> float:
    return max(0.0, (at - since).total_seconds()) if since is not None else 0.0


async def pipeline_metrics(session: AsyncSession, *, at: datetime) -> PipelineMetrics:
    """`PipelineMetrics`, each figure one indexed aggregate (the unapplied inbox items, the pending
    conversations, the outbound messages under `ix_message_outbox_watched`), the handoffs one pass
    over the assignments as the queue metrics make."""
    unapplied, oldest_item = (
        await session.execute(
            select(func.count(), func.min(col(InboxItem.received_at))).where(
                col(InboxItem.applied_at).is_(None)
            )
        )
    ).one()
    pending, oldest_pending = (
        await session.execute(
            select(func.count(), func.min(col(Conversation.last_inbound_at))).where(
                col(Conversation.has_pending).is_(True)
            )
        )
    ).one()
    # The literal condition of the partial index, so that SQLite uses it too.
    outbox = {
        status: (int(count), oldest)
        for status, count, oldest in await session.execute(
            select(col(Message.status), func.count(), func.min(col(Message.created_at)))
            .where(text(OUTBOX_WATCHED_SQL))
            .group_by(col(Message.status))
        )
    }
    unsent = [outbox[s] for s in (SendStatus.PENDING, SendStatus.SENDING) if s in outbox]
    reasons = [str(r) for r in HandoffReason]
    handoffs = dict.fromkeys(reasons, 0)
    for reason, count in await session.execute(
        select(col(Assignment.reason), func.count())
        .where(col(Assignment.reason).in_(reasons))
        .group_by(col(Assignment.reason))
    ):
        handoffs[reason] = int(count)
    return PipelineMetrics(
        inbox_unapplied=int(unapplied or 0),
        inbox_oldest_unapplied_seconds=_age(at, oldest_item),
        turns_pending=int(pending or 0),
        turns_oldest_pending_seconds=_age(at, oldest_pending),
        outbox_unsent=sum(count for count, _ in unsent),
        outbox_oldest_unsent_seconds=_age(at, min((oldest for _, oldest in unsent if oldest), default=None)),
        outbox_failed=outbox.get(SendStatus.FAILED, (0, None))[0],
        handoffs=handoffs,
    )


# -- Prometheus -----------------------------------------------------------------------------------
def prometheus_families(report: MetricsReport) -> list[Metric]:
    """The report as Prometheus metric families (labels: `queue`, `rep`)."""
    families: list[Metric] = []

    def gauge(name: str, doc: str, label: str, values: Iterable[tuple[str, float]]) -> None:
        family = GaugeMetricFamily(name, doc, labels=[label])
        for key, value in values:
            family.add_metric([key], value)
        families.append(family)

    def counter(name: str, doc: str, label: str, values: Iterable[tuple[str, float]]) -> None:
        family = CounterMetricFamily(name, doc, labels=[label])
        for key, value in values:
            family.add_metric([key], value)
        families.append(family)

    def summary(name: str, doc: str, label: str, values: Iterable[tuple[str, DurationStats]]) -> None:
        family = SummaryMetricFamily(name, doc, labels=[label])
        for key, stats in values:
            family.add_metric([key], count_value=stats.count, sum_value=stats.total_seconds)
        families.append(family)

    for scope, label, rows in (
        ("queue", "queue", [(q.queue, q) for q in report.queues]),
        ("rep", "rep", [(r.rep_id, r) for r in report.reps]),
    ):
        outcomes: list[tuple[str, Outcomes]] = list(rows)
        counter(
            f"handoff_{scope}_assignments",
            f"Conversations assigned to a rep, per {scope}",
            label,
            [(k, o.assignments) for k, o in outcomes],
        )
        gauge(
            f"handoff_{scope}_active_assignments",
            f"Assignments currently active, per {scope}",
            label,
            [(k, o.active) for k, o in outcomes],
        )
        summary(
            f"handoff_{scope}_first_response_seconds",
            "Assignment to first rep reply",
            label,
            [(k, o.first_response) for k, o in outcomes],
        )
        summary(
            f"handoff_{scope}_handle_seconds",
            "Assignment to resolution, transfer or hand-back",
            label,
            [(k, o.handle_time) for k, o in outcomes],
        )
        summary(
            f"handoff_{scope}_wait_seconds", "Queued to assigned", label, [(k, o.wait) for k, o in outcomes]
        )
        counter(
            f"handoff_{scope}_reassignments",
            "Assignments taken away (SLA, offline, a lead)",
            label,
            [(k, o.reassignments) for k, o in outcomes],
        )
        counter(
            f"handoff_{scope}_transfers",
            "Assignments transferred to another queue",
            label,
            [(k, o.transfers) for k, o in outcomes],
        )
        counter(
            f"handoff_{scope}_sla_breaches",
            "Assignments without a reply within the SLA",
            label,
            [(k, o.sla_breaches) for k, o in outcomes],
        )
    gauge(
        "handoff_queue_depth",
        "Conversations waiting in the queue",
        "queue",
        [(q.queue, q.depth) for q in report.queues],
    )
    gauge(
        "handoff_queue_longest_wait_seconds",
        "Age of the oldest waiting conversation",
        "queue",
        [(q.queue, q.longest_wait_seconds or 0.0) for q in report.queues],
    )
    gauge(
        "handoff_queue_open",
        "1 when the queue is within its opening hours",
        "queue",
        [(q.queue, 1.0 if q.open_now else 0.0) for q in report.queues],
    )
    gauge(
        "handoff_queue_reps_online",
        "Members online",
        "queue",
        [(q.queue, q.reps_online) for q in report.queues],
    )
    gauge(
        "handoff_queue_reps_available",
        "Members online, opted in and under capacity",
        "queue",
        [(q.queue, q.reps_available) for q in report.queues],
    )
    gauge(
        "handoff_rep_open_conversations",
        "Open conversations of the rep",
        "rep",
        [(r.rep_id, r.open) for r in report.reps],
    )
    gauge("handoff_rep_capacity", "Capacity of the rep", "rep", [(r.rep_id, r.capacity) for r in report.reps])
    presence = GaugeMetricFamily(
        "handoff_rep_presence", "1 for the rep's current presence", labels=["rep", "presence"]
    )
    for r in report.reps:
        for p in Presence:
            presence.add_metric([r.rep_id, str(p)], 1.0 if r.presence == p else 0.0)
    families.append(presence)
    families.append(
        GaugeMetricFamily("handoff_timers_pending", "Timers not fired yet", value=report.timers_pending)
    )
    families.append(
        GaugeMetricFamily("handoff_timers_overdue", "Timers due but not fired", value=report.timers_overdue)
    )
    pipe = report.pipeline
    for name, doc, value in (
        ("handoff_inbox_unapplied", "Webhook items stored and not applied yet", pipe.inbox_unapplied),
        (
            "handoff_inbox_oldest_unapplied_seconds",
            "Age of the oldest webhook item not applied yet",
            pipe.inbox_oldest_unapplied_seconds,
        ),
        ("handoff_turns_pending", "Conversations whose customer waits for a bot turn", pipe.turns_pending),
        (
            "handoff_turns_oldest_pending_seconds",
            "Since the last message of the conversation waiting longest for a bot turn",
            pipe.turns_oldest_pending_seconds,
        ),
        ("handoff_outbox_unsent", "Outbound messages waiting to be sent or being sent", pipe.outbox_unsent),
        (
            "handoff_outbox_oldest_unsent_seconds",
            "Age of the oldest outbound message not sent yet",
            pipe.outbox_oldest_unsent_seconds,
        ),
    ):
        families.append(GaugeMetricFamily(name, doc, value=value))
    families.append(
        CounterMetricFamily(
            "handoff_outbox_failed", "Outbound messages given up on (shown to reps)", value=pipe.outbox_failed
        )
    )
    counter(
        "handoff_handoffs", "Conversations handed to a person, per reason", "reason", pipe.handoffs.items()
    )
    processes = GaugeMetricFamily(
        "handoff_processes",
        "Processes with a background loop (workers, API processes with theirs), live or silent (no "
        "heartbeat for three of their intervals: died without stopping, or hang)",
        labels=["role", "state"],
    )
    for role, states in sorted(report.processes.items()):
        for state, count in sorted(states.items()):
            processes.add_metric([role, state], count)
    families.append(processes)
    lags = GaugeMetricFamily(
        "handoff_process_loop_lag_seconds",
        "The longest a live process's event loop ran late over its last heartbeat interval (work "
        "holding the loop delays every request and turn of that process by as much)",
        labels=["role", "process"],
    )
    for role, process, seconds in sorted(report.loop_lags):
        lags.add_metric([role, process], seconds)
    families.append(lags)
    return families


class _Snapshot:
    """A collector over one precomputed report (the database is read asynchronously beforehand)."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        yield from self._families


def render_prometheus(report: MetricsReport) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(prometheus_families(report)))
    return generate_latest(registry)
