"""Administration (admins only): the configuration in force, and user management (create, update,
issue an API token, disable). Every change is in the audit log."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path

from handoff import erasure, flows_rep
from handoff.api.deps import AdminDep, ClockDep, ConfigDep, HubDep, MemoryDep, SessionsDep
from handoff.api.errors import errors
from handoff.api.schemas import ApiTokenOut, CustomerErased, ProcessOut, RepCreate, RepId, RepOut, RepUpdate
from handoff.api.visibility import one_rep_out
from handoff.assignment import requeue_offline_rep
from handoff.errors import Conflict, NotFound
from handoff.models import Rep
from handoff.reps import audit, configured_rep_differences, queues_of
from handoff.users import create_user, disable_login, hash_password, rotate_api_token, set_queues
from orchestrator.core import heartbeat
from orchestrator.core.enums import Presence

router = APIRouter(prefix="/api/admin", tags=["admin"], responses=errors(401, 403))


@router.get("/config")
async def read_config(_admin: AdminDep, config: ConfigDep, sessions: SessionsDep) -> dict[str, Any]:
    """The configuration in force (queues, routing, menu, hours, timers...), demo tokens withheld.
    Its reps are created from the file at their first start; each says where the team in force
    (`GET /api/reps`, edited in the workspace) now differs from the file (`differs_in_force`)."""
    data = config.model_dump(mode="json")
    async with sessions() as session:
        differs = await configured_rep_differences(session, config=config)
    for rep in data.get("reps", []):
        if rep.get("token"):
            rep["token"] = "***"
        rep["differs_in_force"] = differs.get(rep["id"], [])
    return data


@router.get("/processes")
async def read_processes(_admin: AdminDep, sessions: SessionsDep, clock: ClockDep) -> list[ProcessOut]:
    """The processes (`handoff worker`, `handoff serve`) and their last heartbeat: `silent` when
    none came for three of their intervals (died without stopping, or hangs). A process that stops
    removes itself; a silent one is forgotten after a day."""
    async with sessions() as session:
        beats, at = await heartbeat.processes(session, at=clock.now())
    return [
        ProcessOut.model_validate(
            {**b.model_dump(), "state": "live" if heartbeat.is_live(b, at=at) else "silent"}
        )
        for b in beats
    ]


@router.delete("/customers/{customer}", responses=errors(404, 409, 422))
async def erase_customer(
    customer: Annotated[str, Path(min_length=3, max_length=128, description="WhatsApp number or user id")],
    admin: AdminDep,
    sessions: SessionsDep,
    clock: ClockDep,
    memory: MemoryDep,
) -> CustomerErased:
    """Erase everything the service holds about a customer, on their request (data-protection
    law's right to erasure): contact, conversations, messages, media, the context log, notes, the
    raw deliveries that carry their number, and the bot's memory of them. Not undoable. The audit
    log records that a customer was erased and how much, never who."""
    async with sessions() as session, session.begin():
        erased = await erasure.erase_customer(session, customer=customer, actor_id=admin.id, at=clock.now())
    await memory.forget(erased.conversation_ids)
    return CustomerErased(**erased.counts())


@router.post("/reps", status_code=201, responses=errors(400, 409, 422))
async def create_rep(
    body: RepCreate, admin: AdminDep, sessions: SessionsDep, config: ConfigDep, clock: ClockDep
) -> RepOut:
    now = clock.now()
    password_hash = await asyncio.to_thread(hash_password, body.password) if body.password else None
    async with sessions() as session, session.begin():
        if await session.get(Rep, body.id) is not None:
            raise Conflict(f"a user with id {body.id!r} already exists")
        rep = await create_user(
            session,
            rep_id=body.id,
            name=body.name,
            role=body.role,
            queues=body.queues,
            known_queues={q.slug for q in config.queues},
            capacity=body.capacity,
            password=None,
            at=now,
        )
        rep.password_hash = password_hash
        session.add(rep)
        details = {"rep_id": rep.id, "role": str(rep.role), "queues": body.queues}
        audit(session, actor_id=admin.id, action="user_created", at=now, details=details)
        await session.flush()
        out = await one_rep_out(session, rep)
    return out


@router.patch("/reps/{rep_id}", responses=errors(400, 404, 422))
async def update_rep(
    rep_id: RepId,
    body: RepUpdate,
    admin: AdminDep,
    sessions: SessionsDep,
    config: ConfigDep,
    clock: ClockDep,
    hub: HubDep,
) -> RepOut:
    now = clock.now()
    password_hash = await asyncio.to_thread(hash_password, body.password) if body.password else None
    asked = body.model_dump(exclude_unset=True, exclude={"password"}, mode="json")
    async with sessions() as session, session.begin():
        rep = await session.get(Rep, rep_id, with_for_update=True)
        if rep is None:
            raise NotFound("rep not found")
        before: dict[str, Any] = {
            "name": rep.name,
            "role": str(rep.role),
            "capacity": rep.capacity,
            "auto_assign": rep.auto_assign,
            "queues": await queues_of(session, rep_id=rep_id),
        }
        if body.queues is not None:
            await set_queues(
                session, rep_id=rep_id, queues=body.queues, known={q.slug for q in config.queues}
            )
        for name in ("name", "role", "capacity", "auto_assign"):
            value = getattr(body, name)
            if value is not None:
                setattr(rep, name, value)
        # The audit says what changed, from what to what; a value given again is no change.
        after = {key: sorted(set(value)) if key == "queues" else value for key, value in asked.items()}
        changes: dict[str, Any] = {
            key: {"from": before[key], "to": value}
            for key, value in after.items()
            if value is not None and value != before[key]
        }
        if password_hash is not None:
            rep.password_hash = password_hash
            changes["password"] = "changed"
        session.add(rep)
        if changes:
            audit(
                session,
                actor_id=admin.id,
                action="user_updated",
                at=now,
                details={"rep_id": rep_id, **changes},
            )
        await session.flush()
        out = await one_rep_out(session, rep)
    if body.role is not None or body.queues is not None:
        # What they may see changed: their live streams end now and reconnect with the new rights
        # (in other processes: at their next check).
        hub.end_streams_of(rep_id)
    return out


@router.post("/reps/{rep_id}/api-token", status_code=201, responses=errors(404, 422))
async def issue_api_token(
    rep_id: RepId, admin: AdminDep, sessions: SessionsDep, clock: ClockDep
) -> ApiTokenOut:
    """A new API token for the rep (the previous one stops working). Shown once."""
    async with sessions() as session, session.begin():
        rep = await session.get(Rep, rep_id, with_for_update=True)
        if rep is None:
            raise NotFound("rep not found")
        token = await rotate_api_token(session, rep=rep)
        audit(
            session, actor_id=admin.id, action="api_token_issued", at=clock.now(), details={"rep_id": rep_id}
        )
    return ApiTokenOut(rep_id=rep_id, token=token)


@router.delete("/reps/{rep_id}/api-token", responses=errors(404, 422))
async def revoke_api_token(
    rep_id: RepId, admin: AdminDep, sessions: SessionsDep, config: ConfigDep, clock: ClockDep, hub: HubDep
) -> RepOut:
    """The rep's API token stops working now. Their password, if any, still signs them in; their
    browser sessions end (a credential changed), so they sign in again. A rep left with no way to
    sign in goes offline now, so nothing more is assigned to them (their open conversations follow
    the offline policy, as when they close their laptop)."""
    now = clock.now()
    async with sessions() as session, session.begin():
        rep = await session.get(Rep, rep_id, with_for_update=True)
        if rep is None:
            raise NotFound("rep not found")
        rep.token_hash = None
        session.add(rep)
        audit(session, actor_id=admin.id, action="api_token_revoked", at=now, details={"rep_id": rep_id})
        await session.flush()
        if rep.password_hash is None and rep.presence != Presence.OFFLINE:
            rep = await flows_rep.set_presence(
                session, config=config, rep_id=rep_id, presence=Presence.OFFLINE, at=now, actor_id=admin.id
            )
        out = await one_rep_out(session, rep)
    hub.revoke(rep_id)  # their live streams end now (in other processes: at their next check)
    return out


@router.post("/reps/{rep_id}/disable", responses=errors(404, 409, 422))
async def disable_rep(
    rep_id: RepId,
    admin: AdminDep,
    sessions: SessionsDep,
    config: ConfigDep,
    clock: ClockDep,
    hub: HubDep,
) -> RepOut:
    """No more sign-in for this user (API token and password cleared, access tokens revoked); they go
    offline, and their open conversations go back to their queues at once (the next rep free takes
    each), whatever the offline policy: a disabled rep does not come back to them."""
    if rep_id == admin.id:
        raise Conflict("an admin cannot disable themself")
    now = clock.now()
    async with sessions() as session, session.begin():
        rep = await session.get(Rep, rep_id, with_for_update=True)
        if rep is None:
            raise NotFound("rep not found")
        await disable_login(session, rep=rep)
        rep = await flows_rep.set_presence(
            session, config=config, rep_id=rep_id, presence=Presence.OFFLINE, at=now, actor_id=admin.id
        )
        audit(session, actor_id=admin.id, action="user_disabled", at=now, details={"rep_id": rep_id})
        offline_since = rep.offline_since
    if offline_since is not None:
        # Their own transaction, conversations locked before any rep (the engine's lock order).
        async with sessions() as session, session.begin():
            await requeue_offline_rep(
                session, config=config, rep_id=rep_id, offline_since=offline_since, at=now, for_good=True
            )
    async with sessions() as session:
        rep = await session.get(Rep, rep_id)
        assert rep is not None
        out = await one_rep_out(session, rep)
    hub.revoke(rep_id)  # their live streams end now (in other processes: at their next check)
    return out
