"""Per-rep numbers for the leads' and admins' metrics page (`GET /api/metrics/reps`): conversations
handled, open now, median first response time, median handling time, SLA breaches, resolved.

Measured from the assignment records, as `handoff.metrics` does (first response: assigned -> the
rep's first reply; handling: assigned -> resolved, transferred or handed back), over the assignments
queued since a given time. Medians need the individual durations, so the rows of the period are read
and the medians taken here (the Prometheus metrics keep sums and counts instead).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from handoff.metrics import HANDLED
from handoff.models import Assignment, Rep
from orchestrator.core.enums import AssignmentStatus, Presence


class RepReport(BaseModel):
    rep_id: str
    name: str
    role: str
    presence: Presence
    queues: list[str]
    handled: int = Field(description="distinct conversations assigned to the rep in the period")
    open_now: int
    capacity: int
    median_first_response_seconds: float | None
    median_handling_seconds: float | None
    sla_breaches: int
    resolved: int


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


async def rep_reports(
    session: AsyncSession, *, reps: Sequence[Rep], queues: dict[str, list[str]], since: datetime | None
) -> list[RepReport]:
    """The numbers of `reps` (already limited to what the caller may see), in their order."""
    ids = [r.id for r in reps]
    query = select(
        col(Assignment.rep_id),
        col(Assignment.conversation_id),
        col(Assignment.status),
        col(Assignment.assigned_at),
        col(Assignment.first_response_at),
        col(Assignment.ended_at),
        col(Assignment.sla_breached_at),
    ).where(col(Assignment.rep_id).in_(ids), col(Assignment.assigned_at).is_not(None))
    if since is not None:
        query = query.where(col(Assignment.queued_at) >= since)
    conversations: dict[str, set[int]] = {i: set() for i in ids}
    first: dict[str, list[float]] = {i: [] for i in ids}
    handling: dict[str, list[float]] = {i: [] for i in ids}
    breaches = dict.fromkeys(ids, 0)
    resolved = dict.fromkeys(ids, 0)
    for rep_id, conversation_id, status, assigned, responded, ended, breached in await session.execute(query):
        if assigned is None:
            continue
        key = str(rep_id)
        conversations[key].add(int(conversation_id))
        if responded is not None:
            first[key].append((responded - assigned).total_seconds())
        if ended is not None and status in HANDLED:
            handling[key].append((ended - assigned).total_seconds())
        breaches[key] += breached is not None
        resolved[key] += status == AssignmentStatus.RESOLVED
    return [
        RepReport(
            rep_id=r.id,
            name=r.name,
            role=str(r.role),
            presence=r.presence,
            queues=queues.get(r.id, []),
            handled=len(conversations[r.id]),
            open_now=r.open_count,
            capacity=r.capacity,
            median_first_response_seconds=_median(first[r.id]),
            median_handling_seconds=_median(handling[r.id]),
            sla_breaches=breaches[r.id],
            resolved=resolved[r.id],
        )
        for r in reps
    ]
