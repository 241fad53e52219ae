"""Search over conversations and their contacts: the customer's name, their number, and the text of
any message, within what the viewer may see (the visibility clause is part of the query, as for the
rep API's list). Names and texts are compared folded (`orchestrator.core.db.folded`: case and
diacritics ignored, so "lucia" finds "Lucía"). Most recently active first. Keyword-only; read-only.
"""

from __future__ import annotations

import re

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from handoff.policy import Viewer, visibility_clause
from orchestrator.core.db import fold_text, folded
from orchestrator.core.enums import SearchMatch
from orchestrator.core.tables import Contact, Conversation, Message


def _like(text: str) -> str:
    """A LIKE pattern matching `text` literally anywhere (its wildcards escaped with `\\`)."""
    return "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"


async def search_conversations(
    session: AsyncSession, *, viewer: Viewer, query: str, limit: int = 50
) -> list[tuple[int, SearchMatch, str | None]]:
    """(conversation id, what matched, the matching message's text) for each hit."""
    text = query.replace("\x00", "").strip()
    if not text:
        return []
    pattern = _like(fold_text(text) or "")
    digits = re.sub(r"\D", "", text)
    name_hit = folded(col(Contact.name)).like(pattern, escape="\\")
    number_hit = col(Contact.wa_id).like(_like(digits), escape="\\") if len(digits) >= 4 else None
    message_hit = exists().where(
        col(Message.conversation_id) == col(Conversation.id),
        folded(col(Message.text)).like(pattern, escape="\\"),
    )
    matches = [name_hit, message_hit] + ([number_hit] if number_hit is not None else [])
    statement = (
        select(col(Conversation.id), name_hit.label("by_name"))
        .join(Contact, col(Contact.id) == col(Conversation.contact_id))
        .where(or_(*matches))
        .order_by(col(Conversation.updated_at).desc(), col(Conversation.id).desc())
        .limit(limit)
    )
    clause = visibility_clause(viewer)
    if clause is not None:
        statement = statement.where(clause)
    hits: list[tuple[int, SearchMatch, str | None]] = []
    for found, by_name in (await session.execute(statement)).all():
        assert found is not None  # a primary key
        conversation_id = int(found)
        snippet = (
            await session.execute(
                select(col(Message.text))
                .where(
                    col(Message.conversation_id) == conversation_id,
                    folded(col(Message.text)).like(pattern, escape="\\"),
                )
                .order_by(col(Message.id).desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        matched = SearchMatch.NAME if by_name else (SearchMatch.MESSAGE if snippet else SearchMatch.NUMBER)
        hits.append((conversation_id, matched, snippet))
    return hits
