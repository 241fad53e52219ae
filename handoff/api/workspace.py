"""JSON endpoints of the workspace's newer capabilities: claiming a waiting conversation, private
notes with @mentions, and the caller's mentions. Same authentication and the same visibility rule
as the rest of the rep API (404 for what the caller may not see, 403 for what they may see but not
do, 409 for a state that does not allow it); the browser pages call these very endpoints.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from handoff import notes, unread
from handoff.api.deps import ActorDep, SenderDep
from handoff.api.errors import errors
from handoff.api.reads import (
    WorkspaceServiceDep,
    conversation_summary,
    conversations,
)
from handoff.api.schemas import ConversationSummary
from handoff.api.visibility import visible_conversation
from handoff.claim import claim
from handoff.errors import NotFound
from handoff.models import Note, Rep
from handoff.policy import viewer_of
from handoff.search import search_conversations
from orchestrator.core.enums import Owner, SearchMatch

router = APIRouter(prefix="/api")
ConversationId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=4000, description="`@rep_id` mentions notify that rep")


class NoteOut(BaseModel):
    id: int
    conversation_id: int
    author_id: str
    text: str
    mentions: list[str]
    created_at: datetime


class NoteAdded(NoteOut):
    """The note just added, and what its author should know of its @mentions."""

    unknown_mentions: list[str] = Field(description="@ids that name no rep: nobody was notified")
    mentions_without_access: list[str] = Field(
        description="reps notified (the note travels with the mention) who may not open the conversation"
    )


class MentionOut(BaseModel):
    note: NoteOut
    read_at: datetime | None


class MentionsRead(BaseModel):
    conversation_id: int | None = Field(default=None, ge=1, le=2**31 - 1, description="null: all of them")


class MarkedRead(BaseModel):
    marked: int


class UnreadOut(BaseModel):
    conversation_id: int
    unread: int = Field(description="customer messages since the caller last read the conversation")


class SearchHit(BaseModel):
    conversation: ConversationSummary
    matched: SearchMatch = Field(description="what matched: the contact's name or number, or a message")
    snippet: str | None = Field(description="the latest message whose text matched")


class ReadOut(BaseModel):
    conversation_id: int
    last_message_id: int = Field(description="read up to this message")


def _note_out(note: Note) -> NoteOut:
    assert note.id is not None
    return NoteOut(
        id=note.id,
        conversation_id=note.conversation_id,
        author_id=note.author_id,
        text=note.text,
        mentions=note.mentions or [],
        created_at=note.created_at,
    )


@router.post(
    "/conversations/{conversation_id}/claim",
    tags=["conversations"],
    responses=errors(401, 403, 404, 409, 422),
)
async def claim_conversation(
    conversation_id: ConversationId, actor: ActorDep, service: WorkspaceServiceDep, sender: SenderDep
) -> ConversationSummary:
    """Take a conversation waiting in one of your queues ("take it"): you must be a member of the
    queue, not offline, and under capacity. The customer's notice of who has the conversation now is
    sent after the commit in the background, like a reply."""
    async with service.sessions() as session, session.begin():
        await visible_conversation(session, actor.viewer, conversation_id)
        rep = await session.get(Rep, actor.id)
        assert rep is not None
        await claim(
            session,
            config=service.config,
            conversation_id=conversation_id,
            rep=rep,
            at=service.clock.now(),
        )
    sender.after_commit(conversation_id)
    return await conversation_summary(service, actor, conversation_id)


@router.get("/conversations/{conversation_id}/notes", tags=["conversations"], responses=errors(401, 404, 422))
async def list_notes(
    conversation_id: ConversationId, actor: ActorDep, service: WorkspaceServiceDep
) -> list[NoteOut]:
    """The conversation's private notes, oldest first."""
    async with service.sessions() as session:
        await visible_conversation(session, actor.viewer, conversation_id)
        return [_note_out(n) for n in await notes.notes_of(session, conversation_id=conversation_id)]


@router.post(
    "/conversations/{conversation_id}/notes",
    status_code=201,
    tags=["conversations"],
    responses=errors(400, 401, 404, 422),
)
async def add_note(
    conversation_id: ConversationId, body: NoteIn, actor: ActorDep, service: WorkspaceServiceDep
) -> NoteAdded:
    """A private note (never sent to the customer); each `@rep_id` mentioned is notified. The answer
    says which @ids name nobody, and which reps mentioned may not open the conversation."""
    async with service.sessions() as session, session.begin():
        await visible_conversation(session, actor.viewer, conversation_id)
        author = await session.get(Rep, actor.id)
        assert author is not None
        note = await notes.add_note(
            session, conversation_id=conversation_id, author=author, text=body.text, at=service.clock.now()
        )
        mentioned = note.mentions or []
        unknown = [r for r in notes.mentioned_ids(body.text) if r != actor.id and r not in mentioned]
        without_access = []
        for rep_id in mentioned:
            rep = await session.get(Rep, rep_id)
            assert rep is not None
            try:
                await visible_conversation(session, await viewer_of(session, rep=rep), conversation_id)
            except NotFound:
                without_access.append(rep_id)
        out = NoteAdded(
            **_note_out(note).model_dump(), unknown_mentions=unknown, mentions_without_access=without_access
        )
    return out


@router.get("/me/mentions", tags=["me"], responses=errors(401, 422))
async def my_mentions(
    actor: ActorDep,
    service: WorkspaceServiceDep,
    unread: Annotated[bool, Query(description="only those not read yet")] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[MentionOut]:
    """Notes that @mention you, newest first."""
    async with service.sessions() as session:
        rows = await notes.mentions_of(session, rep_id=actor.id, unread_only=unread, limit=limit)
    return [MentionOut(note=_note_out(note), read_at=mention.read_at) for mention, note in rows]


@router.post("/me/mentions/read", tags=["me"], responses=errors(400, 401, 422))
async def read_mentions(body: MentionsRead, actor: ActorDep, service: WorkspaceServiceDep) -> MarkedRead:
    """Mark your mentions read: those of one conversation, or all."""
    async with service.sessions() as session, session.begin():
        marked = await notes.mark_mentions_read(
            session, rep_id=actor.id, at=service.clock.now(), conversation_id=body.conversation_id
        )
    return MarkedRead(marked=marked)


@router.get("/me/unread", tags=["me"], responses=errors(401))
async def my_unread(actor: ActorDep, service: WorkspaceServiceDep) -> list[UnreadOut]:
    """Your conversations (and your queues' waiting ones) with customer messages you have not read."""
    open_ones = [c.id for c in await conversations(service, actor, owner=Owner.HUMAN, assignee_id=actor.id)]
    open_ones += [c.id for c in await conversations(service, actor, owner=Owner.QUEUED)]
    async with service.sessions() as session:
        counts = await unread.unread_counts(session, rep_id=actor.id, conversation_ids=open_ones)
    return [UnreadOut(conversation_id=cid, unread=n) for cid, n in sorted(counts.items())]


@router.post("/conversations/{conversation_id}/read", tags=["conversations"], responses=errors(401, 404, 422))
async def mark_read(
    conversation_id: ConversationId, actor: ActorDep, service: WorkspaceServiceDep
) -> ReadOut:
    """Mark the conversation read, for you only (the page does it when you open it)."""
    async with service.sessions() as session, session.begin():
        await visible_conversation(session, actor.viewer, conversation_id)
        last = await unread.mark_read(
            session, rep_id=actor.id, conversation_id=conversation_id, at=service.clock.now()
        )
    return ReadOut(conversation_id=conversation_id, last_message_id=last)


@router.get("/search", tags=["conversations"], responses=errors(401, 422))
async def search(
    actor: ActorDep,
    service: WorkspaceServiceDep,
    q: Annotated[str, Query(min_length=2, max_length=100, description="name, number or message text")],
    limit: Annotated[int, Query(ge=1, le=100)] = 30,
) -> list[SearchHit]:
    """Conversations whose contact's name or number, or any message, matches, among those you may
    see; most recently active first."""
    async with service.sessions() as session:
        hits = await search_conversations(session, viewer=actor.viewer, query=q, limit=limit)
    return [
        SearchHit(
            conversation=await conversation_summary(service, actor, conversation_id),
            matched=matched,
            snippet=snippet,
        )
        for conversation_id, matched, snippet in hits
    ]
