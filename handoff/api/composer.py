"""The composer's helpers: canned replies (team-wide or per queue; `handoff.canned` says who may
manage them and which placeholders they fill) and the catalogue of approved templates
(`handoff.templates_catalogue`), sent through the ordinary reply endpoint."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from handoff import canned
from handoff.api.deps import ActorDep, ClockDep, ConfigDep, SessionsDep
from handoff.api.errors import errors
from handoff.api.schemas import ConversationId
from handoff.api.visibility import visible_conversation
from handoff.models import CannedReply
from handoff.templates_catalogue import TemplateOut, catalogue

router = APIRouter(prefix="/api", tags=["composer"])
CannedId = Annotated[int, Path(ge=1, le=2**31 - 1)]
_PLACEHOLDERS = ", ".join("{" + p + "}" for p in canned.PLACEHOLDERS)


class CannedIn(BaseModel):
    shortcut: str = Field(pattern=canned.SHORTCUT, description="what a rep types after `/`")
    title: str = Field(min_length=1, max_length=100)
    text: str = Field(min_length=1, max_length=4096, description=f"placeholders: {_PLACEHOLDERS}")
    queue: str | None = Field(default=None, max_length=64, description="null: team-wide (admins only)")


class CannedPatch(BaseModel):
    shortcut: str | None = Field(default=None, pattern=canned.SHORTCUT)
    title: str | None = Field(default=None, min_length=1, max_length=100)
    text: str | None = Field(default=None, min_length=1, max_length=4096)
    queue: str | None = Field(default=None, max_length=64, description="null: team-wide (admins only)")


class CannedOut(BaseModel):
    id: int
    shortcut: str
    title: str
    text: str
    queue: str | None
    created_by: str
    updated_by: str
    created_at: datetime
    updated_at: datetime


class CannedFilled(CannedOut):
    filled: str = Field(description="the text with this conversation's placeholders filled in")


def _out(reply: CannedReply) -> CannedOut:
    return CannedOut.model_validate(reply, from_attributes=True)


@router.get("/canned-replies", responses=errors(401, 422))
async def list_canned_replies(
    actor: ActorDep,
    sessions: SessionsDep,
    queue: Annotated[str | None, Query(max_length=64, description="team-wide ones and this queue's")] = None,
) -> list[CannedOut]:
    """The canned replies the caller may use: team-wide and their queues' (an admin: all)."""
    async with sessions() as session:
        return [_out(r) for r in await canned.visible_replies(session, viewer=actor.viewer, queue=queue)]


@router.post("/canned-replies", status_code=201, responses=errors(400, 401, 403, 409, 422))
async def create_canned_reply(
    body: CannedIn, actor: ActorDep, sessions: SessionsDep, config: ConfigDep, clock: ClockDep
) -> CannedOut:
    """A lead for one of their queues, an admin for any queue or team-wide. Audited."""
    async with sessions() as session, session.begin():
        reply = await canned.create(
            session,
            viewer=actor.viewer,
            shortcut=body.shortcut,
            title=body.title,
            text=body.text,
            queue=body.queue,
            known_queues={q.slug for q in config.queues},
            at=clock.now(),
        )
        out = _out(reply)
    return out


@router.patch("/canned-replies/{canned_id}", responses=errors(400, 401, 403, 404, 409, 422))
async def update_canned_reply(
    canned_id: CannedId,
    body: CannedPatch,
    actor: ActorDep,
    sessions: SessionsDep,
    config: ConfigDep,
    clock: ClockDep,
) -> CannedOut:
    async with sessions() as session, session.begin():
        reply = await canned.update(
            session,
            viewer=actor.viewer,
            reply_id=canned_id,
            changes=body.model_dump(exclude_unset=True),
            known_queues={q.slug for q in config.queues},
            at=clock.now(),
        )
        out = _out(reply)
    return out


@router.delete("/canned-replies/{canned_id}", status_code=204, responses=errors(401, 403, 404, 422))
async def delete_canned_reply(
    canned_id: CannedId, actor: ActorDep, sessions: SessionsDep, clock: ClockDep
) -> Response:
    async with sessions() as session, session.begin():
        await canned.delete(session, viewer=actor.viewer, reply_id=canned_id, at=clock.now())
    return Response(status_code=204)


@router.get("/conversations/{conversation_id}/canned-replies", responses=errors(401, 404, 422))
async def canned_replies_for_conversation(
    conversation_id: ConversationId,
    actor: ActorDep,
    sessions: SessionsDep,
    config: ConfigDep,
    q: Annotated[str, Query(max_length=32, description="shortcut prefix")] = "",
) -> list[CannedFilled]:
    """The canned replies usable in this conversation (team-wide and its queue's), filled in for it."""
    async with sessions() as session:
        conversation, contact, _ = await visible_conversation(session, actor.viewer, conversation_id)
        replies = await canned.visible_replies(
            session, viewer=actor.viewer, queue=conversation.queue or "", shortcut_prefix=q.lower()
        )
    team = next((t for t in config.queues if t.slug == conversation.queue), None)
    values = canned.FillValues(
        customer_name=contact.name,
        rep_name=actor.rep.name,
        queue_name=(team.customer_name or team.name) if team else None,
    )
    return [
        CannedFilled(**_out(r).model_dump(), filled=canned.fill(r.text, values))
        for r in replies
        if r.queue is None or r.queue == conversation.queue
    ]


@router.get("/templates", responses=errors(401))
async def list_templates(_actor: ActorDep, config: ConfigDep) -> list[TemplateOut]:
    """The approved message templates (configuration `templates:`): what may be sent once the
    24-hour customer-service window is closed, with each one's languages and parameters."""
    return catalogue(config)
