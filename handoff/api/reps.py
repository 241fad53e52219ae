"""Reps as the caller may see them (an admin: everyone; a lead: their teams; a rep: themself), and
one rep's workload and responsiveness."""

from __future__ import annotations

from fastapi import APIRouter

from handoff import metrics
from handoff.api.deps import ActorDep, ClockDep, SessionsDep
from handoff.api.errors import errors
from handoff.api.schemas import RepId, RepOut, Since
from handoff.api.visibility import reps_out, visible_rep, visible_reps
from handoff.metrics import RepMetrics

router = APIRouter(prefix="/api/reps", tags=["reps"])


@router.get("", responses=errors(401))
async def list_reps(actor: ActorDep, sessions: SessionsDep) -> list[RepOut]:
    async with sessions() as session:
        return await reps_out(session, (await session.execute(visible_reps(actor.viewer))).scalars())


@router.get("/{rep_id}/metrics", responses=errors(401, 404, 422))
async def rep_metrics(
    rep_id: RepId, actor: ActorDep, sessions: SessionsDep, clock: ClockDep, since: Since = None
) -> RepMetrics:
    """Workload and responsiveness of one rep (themself; a lead: their team; an admin: anyone)."""
    async with sessions() as session:
        rep = await visible_rep(session, actor.viewer, rep_id)
        return await metrics.rep_metrics(session, rep_id=rep.id, at=clock.now(), since=since)
