"""The team's numbers for leads and admins: per-rep metrics over a period (`handoff.rep_report`)."""

from __future__ import annotations

from fastapi import APIRouter

from handoff.api.deps import ActorDep, SessionsDep
from handoff.api.errors import errors
from handoff.api.schemas import Since
from handoff.api.visibility import visible_reps
from handoff.errors import Forbidden
from handoff.rep_report import RepReport, rep_reports
from handoff.reps import memberships
from orchestrator.core.enums import Role

router = APIRouter(prefix="/api/metrics", tags=["reps"])


@router.get("/reps", responses=errors(401, 403, 422))
async def team_metrics(actor: ActorDep, sessions: SessionsDep, since: Since = None) -> list[RepReport]:
    """Per rep: conversations handled, open now, median first response and handling time, SLA
    breaches, resolved. A lead sees the members of their queues, an admin everyone; a rep is
    refused (their own numbers: `GET /api/reps/{rep_id}/metrics`)."""
    if actor.role == Role.REP:
        raise Forbidden("only a lead or an admin may see the team's metrics")
    async with sessions() as session:
        reps = list((await session.execute(visible_reps(actor.viewer))).scalars())
        queues = await memberships(session, rep_ids=[r.id for r in reps])
        return await rep_reports(session, reps=reps, queues=queues, since=since)
