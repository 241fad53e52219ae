"""Media on the human side: the media of a transcript, one stored file for a viewer the policy lets see
its conversation, and a rep's file sent to the customer (stored with its message, uploaded and sent by
the outbox: see `orchestrator.media`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from handoff import flows_rep
from handoff.errors import Conflict, NotFound
from handoff.models import Rep
from handoff.policy import Viewer, can
from orchestrator.core.enums import Action, MediaStatus
from orchestrator.core.tables import Conversation, Media, MediaContent, Message
from orchestrator.media import check_upload, media_message, store_outbound

NOUNS = {"image": "photo", "audio": "audio", "video": "video", "document": "document", "sticker": "sticker"}


def api_path(media: Media) -> str:
    return f"/api/conversations/{media.conversation_id}/media/{media.id}"


async def media_of(session: AsyncSession, *, conversation_id: int) -> dict[int, Media]:
    """The conversation's media by message id (without their bytes)."""
    rows = await session.execute(select(Media).where(col(Media.conversation_id) == conversation_id))
    return {m.message_id: m for m in rows.scalars()}


async def viewable_media(
    session: AsyncSession, *, viewer: Viewer, conversation_id: int, media_id: int
) -> Media:
    """The media if `viewer` may see its conversation (`policy.can`), `NotFound` otherwise, exactly
    like the conversation itself; `Conflict` while it is not stored (still fetching, failed, or removed
    by retention)."""
    media = await session.get(Media, media_id)
    conversation = await session.get(Conversation, conversation_id)
    if (
        media is None
        or conversation is None
        or media.conversation_id != conversation_id
        or not can(viewer, Action.VIEW, conversation)
    ):
        raise NotFound("media not found")
    if media.status != MediaStatus.STORED:
        noun = NOUNS.get(media.kind, media.kind)
        if media.status == MediaStatus.FAILED:
            raise Conflict(f"the {noun} could not be fetched: {media.error}")
        if media.status == MediaStatus.EXPIRED:
            raise Conflict(f"the {noun} is no longer kept: {media.error}")
        raise Conflict(f"the {noun} is still being fetched")
    return media


async def content_of(session: AsyncSession, media: Media) -> bytes:
    content = await session.get(MediaContent, media.id)
    if content is None:
        raise NotFound("media not found")
    return content.data


async def send_file(
    session: AsyncSession,
    *,
    conversation_id: int,
    rep: Rep,
    data: bytes,
    mime_type: str,
    filename: str | None,
    caption: str | None,
    max_bytes: int,
    at: datetime,
) -> tuple[Message, Media]:
    """Queue a rep's image or document for the customer (`UploadRefused` for a file that may not be
    sent). The rep's own write rules apply (`flows_rep.rep_reply`: owner only, audited, first response);
    the outbox uploads the file to Graph and sends it after the commit."""
    rule = check_upload(data=data, mime_type=mime_type, max_bytes=max_bytes)
    name = filename or f"{rule.kind}.{rule.extension}"
    label = caption or (f"[{rule.kind}: {name}]" if rule.kind == "document" else f"[{rule.kind}]")
    message = await flows_rep.rep_reply(session, conversation_id=conversation_id, rep=rep, text=label, at=at)
    to = str((message.payload or {}).get("to"))
    message.payload = media_message(to, rule.kind, media_id=None, caption=caption, filename=name)
    message.kind, message.text = rule.kind, label
    session.add(message)
    media = await store_outbound(
        session,
        message=message,
        kind=rule.kind,
        data=data,
        mime_type=mime_type.split(";")[0].strip().lower(),
        filename=name,
        caption=caption,
        at=at,
    )
    return message, media
