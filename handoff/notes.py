"""Private notes on a conversation, with @mentions that notify the mentioned rep.

A note is for the people working the conversation, never sent to the customer; it stays with the
conversation through transfers, so the next rep reads it. Anyone who may see the conversation may
add one. `@id` names a rep (`@diego`, `@sam`); each existing rep mentioned, other than the author,
gets a `Mention` (their notification, read or not) and a `mentioned` context-log entry addressed to
them, so their live stream carries it even when they cannot open the conversation itself (a rep
only sees their own and their queues' waiting conversations): the note's text travels with the
mention because the author chose to tell them.

Context-log details: note_added {note_id, author, mentions}; mentioned {rep_id (the mentioned rep),
note_id, author, author_name, text}. Keyword-only functions; the caller owns the transaction.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from handoff.models import AuditEntry, Mention, Note, Rep
from orchestrator.core.contextlog import log_event
from orchestrator.core.enums import EventType

# An @ not preceded by a word character or another @ (so e-mail addresses are not mentions).
MENTION = re.compile(r"(?<![\w@])@([a-z0-9][a-z0-9_.-]*)", re.IGNORECASE)
EXCERPT = 280


def mentioned_ids(text: str) -> list[str]:
    """The rep ids a note's text @mentions, in order of first mention (trailing punctuation off)."""
    seen: dict[str, None] = {}
    for match in MENTION.finditer(text):
        seen.setdefault(match.group(1).rstrip(".-_").lower(), None)
    return [rep_id for rep_id in seen if rep_id]


async def add_note(
    session: AsyncSession, *, conversation_id: int, author: Rep, text: str, at: datetime
) -> Note:
    """Store a note and notify each existing rep it mentions (not the author)."""
    wanted = [rep_id for rep_id in mentioned_ids(text) if rep_id != author.id]
    known = (
        set((await session.execute(select(col(Rep.id)).where(col(Rep.id).in_(wanted)))).scalars())
        if wanted
        else set()
    )
    mentions = [rep_id for rep_id in wanted if rep_id in known]
    note = Note(
        conversation_id=conversation_id,
        author_id=author.id,
        text=text,
        mentions=mentions or None,
        created_at=at,
    )
    session.add(note)
    await session.flush()
    assert note.id is not None
    await log_event(
        session,
        conversation_id=conversation_id,
        type=EventType.NOTE_ADDED,
        source=author.id,
        description=f"{author.name} added a note" + (f" for {', '.join(mentions)}" if mentions else ""),
        at=at,
        details={"note_id": note.id, "author": author.id, "mentions": mentions},
    )
    for rep_id in mentions:
        session.add(Mention(note_id=note.id, rep_id=rep_id, conversation_id=conversation_id, created_at=at))
        await log_event(
            session,
            conversation_id=conversation_id,
            type=EventType.MENTIONED,
            source=author.id,
            description=f"{author.name} mentioned {rep_id} in a note",
            at=at,
            details={
                "rep_id": rep_id,
                "note_id": note.id,
                "author": author.id,
                "author_name": author.name,
                "text": text[:EXCERPT],
            },
        )
    session.add(
        AuditEntry(
            actor_id=author.id,
            action="note",
            conversation_id=conversation_id,
            details={"note_id": note.id, "mentions": mentions},
            created_at=at,
        )
    )
    await session.flush()
    return note


async def notes_of(session: AsyncSession, *, conversation_id: int) -> list[Note]:
    rows = await session.execute(
        select(Note).where(col(Note.conversation_id) == conversation_id).order_by(col(Note.id))
    )
    return list(rows.scalars())


async def mentions_of(
    session: AsyncSession, *, rep_id: str, unread_only: bool = False, limit: int = 50
) -> list[tuple[Mention, Note]]:
    """The rep's mentions, newest first, each with its note."""
    query = (
        select(Mention, Note)
        .join(Note, col(Note.id) == col(Mention.note_id))
        .where(col(Mention.rep_id) == rep_id)
        .order_by(col(Mention.note_id).desc())
        .limit(limit)
    )
    if unread_only:
        query = query.where(col(Mention.read_at).is_(None))
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]


async def mark_mentions_read(
    session: AsyncSession, *, rep_id: str, at: datetime, conversation_id: int | None = None
) -> int:
    """Mark the rep's unread mentions read (those of one conversation, or all). Returns how many."""
    statement = update(Mention).where(col(Mention.rep_id) == rep_id, col(Mention.read_at).is_(None))
    if conversation_id is not None:
        statement = statement.where(col(Mention.conversation_id) == conversation_id)
    result = await session.execute(statement.values(read_at=at).execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)
