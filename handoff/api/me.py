"""The caller's own state: who they are, presence and heartbeat, opting in to auto-assignment."""

from __future__ import annotations

from fastapi import APIRouter

from handoff import flows_rep
from handoff.api.deps import ActorDep, ClockDep, ConfigDep, SessionsDep
from handoff.api.errors import errors
from handoff.api.schemas import AutoAssignIn, PresenceIn, RepOut
from handoff.api.visibility import one_rep_out
from handoff.models import Rep

router = APIRouter(prefix="/api/me", tags=["me"])


@router.get("", responses=errors(401))
async def me(actor: ActorDep, sessions: SessionsDep) -> RepOut:
    async with sessions() as session:
        rep = await session.get(Rep, actor.id)
        assert rep is not None
        return await one_rep_out(session, rep)


@router.post("/presence", responses=errors(400, 401, 422))
async def update_presence(
    body: PresenceIn, actor: ActorDep, sessions: SessionsDep, config: ConfigDep, clock: ClockDep
) -> RepOut:
    """Set presence; going online may assign waiting conversations at once."""
    async with sessions() as session, session.begin():
        rep = await flows_rep.set_presence(
            session, config=config, rep_id=actor.id, presence=body.presence, at=clock.now()
        )
        out = await one_rep_out(session, rep)
    return out


@router.post("/heartbeat", responses=errors(401))
async def heartbeat(actor: ActorDep, sessions: SessionsDep, config: ConfigDep, clock: ClockDep) -> RepOut:
    """Keep the rep's presence alive (a rep silent past the configured TTL is treated as offline)."""
    async with sessions() as session, session.begin():
        rep = await flows_rep.heartbeat(session, config=config, rep_id=actor.id, at=clock.now())
        out = await one_rep_out(session, rep)
    return out


@router.post("/auto-assign", responses=errors(400, 401, 422))
async def auto_assign(
    body: AutoAssignIn, actor: ActorDep, sessions: SessionsDep, config: ConfigDep, clock: ClockDep
) -> RepOut:
    """Opt in to (or out of) automatic assignment; opting in while online takes waiting ones."""
    async with sessions() as session, session.begin():
        rep = await flows_rep.set_auto_assign(
            session, config=config, rep_id=actor.id, enabled=body.enabled, at=clock.now()
        )
        out = await one_rep_out(session, rep)
    return out
