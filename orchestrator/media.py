"""Media of messages: a customer's photos, voice notes, videos, documents and stickers fetched from the
Graph API soon after they arrive, and the files reps send.

Inbound. Applying a message with media (`orchestrator.inbox`) records a `pending` row in the same
transaction as the message: the webhook's acknowledgement does nothing more. `MediaFetcher` then
fetches it off the request path (kicked after the delivery's items are applied, and swept by the
background loop): each row is claimed with one conditional UPDATE (`pending`, a failure due for
another try, or a claim whose fetcher died), so one process fetches it; the Graph client retries
transient errors (tenacity); the size is capped (`HANDOFF_MEDIA_MAX_BYTES`); the SHA-256 is checked
against Graph's metadata and against the webhook's when that one is a well-formed digest. The bytes
go into the database (`MediaContent`), the one store every process of a deployment shares. A failure
is kept on the row with its reason (shown to reps in the transcript) and tried again later
(`RETRY_AFTER`), up to `HANDOFF_MEDIA_FETCH_ATTEMPTS` attempts; the message itself is never lost.
Each outcome is written to the context log, so the reps' pages update.

Outbound. A rep's upload is stored with its message (`store_outbound`) and the message is queued
in the outbox without a media id; when the outbox sends it, `resolve_outbound` uploads the file to
Graph first (once: the id is kept) and sends the message with that id. A crash before the upload is
recorded uploads again (an unused media object at Meta, no message); the send itself has the
outbox's guarantees (claimed, relayed, at least once, never twice at the same time).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from orchestrator.channels.whatsapp.client import GraphAPIError, GraphClient, GraphError
from orchestrator.channels.whatsapp.inbound import MediaRef
from orchestrator.channels.whatsapp.media_api import MediaTooLarge, download, media_info, upload
from orchestrator.core.clock import Clock
from orchestrator.core.contextlog import log_event
from orchestrator.core.enums import Direction, EventType, MediaStatus
from orchestrator.core.tables import Media, MediaContent, Message

log = structlog.get_logger(__name__)

MEDIA_KINDS = frozenset({"image", "audio", "video", "document", "sticker"})
# Longer than the Graph client's worst case for two requests, so a live claim is never taken over.
FETCH_CLAIM = timedelta(seconds=180)
# When a failed fetch is tried again, by attempt number (the last delay repeats).
RETRY_AFTER = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
DEFAULT_ATTEMPTS = 5
MB = 1024 * 1024

# What a rep may upload: Meta's supported image and document types and their size limits (image
# 5 MB, document 100 MB), each with the first bytes its files start with (text has none).
_ZIP, _OLE = (b"PK\x03\x04",), (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",)


@dataclass(frozen=True)
class UploadType:
    kind: str  # image | document
    max_bytes: int
    signatures: tuple[bytes, ...]
    extension: str


UPLOAD_TYPES: dict[str, UploadType] = {
    "image/jpeg": UploadType("image", 5 * MB, (b"\xff\xd8\xff",), "jpg"),
    "image/png": UploadType("image", 5 * MB, (b"\x89PNG\r\n\x1a\n",), "png"),
    "application/pdf": UploadType("document", 100 * MB, (b"%PDF-",), "pdf"),
    "text/plain": UploadType("document", 100 * MB, (), "txt"),
    "application/msword": UploadType("document", 100 * MB, _OLE, "doc"),
    "application/vnd.ms-excel": UploadType("document", 100 * MB, _OLE, "xls"),
    "application/vnd.ms-powerpoint": UploadType("document", 100 * MB, _OLE, "ppt"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": UploadType(
        "document", 100 * MB, _ZIP, "docx"
    ),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": UploadType(
        "document", 100 * MB, _ZIP, "xlsx"
    ),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": UploadType(
        "document", 100 * MB, _ZIP, "pptx"
    ),
}


class UploadRefused(ValueError):
    """A file a rep may not send; `status` is the HTTP answer (413 too large, 415 wrong type)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


def check_upload(*, data: bytes, mime_type: str, max_bytes: int) -> UploadType:
    """The upload's type if it may be sent: a supported type, within its size limit and this
    service's, and content that is what it claims to be; `UploadRefused` otherwise."""
    mime = mime_type.split(";")[0].strip().lower()
    rule = UPLOAD_TYPES.get(mime)
    if rule is None:
        allowed = ", ".join(sorted(UPLOAD_TYPES))
        raise UploadRefused(
            f"files of type {mime or 'unknown'!r} cannot be sent; allowed: {allowed}", status=415
        )
    limit = min(rule.max_bytes, max_bytes)
    if len(data) > limit:
        raise UploadRefused(
            f"the file is {len(data)} bytes; {rule.kind}s of type {mime} may be at most {limit} bytes",
            status=413,
        )
    if not data:
        raise UploadRefused("the file is empty", status=422)
    if rule.signatures and not data.startswith(rule.signatures):
        raise UploadRefused(f"the file's content is not {mime}", status=415)
    if not rule.signatures:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise UploadRefused(f"the file's content is not {mime} (UTF-8 text)", status=415) from None
    return rule


def digest_of(value: str | None) -> bytes | None:
    """A declared SHA-256 as bytes: 64 hex digits, or base64 of 32 bytes; None when it is neither
    (then it cannot be checked)."""
    if not value:
        return None
    text = value.strip()
    if len(text) == 64:
        with contextlib.suppress(ValueError):
            return bytes.fromhex(text)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 32 else None


def media_message(
    to: str, kind: str, *, media_id: str | None, caption: str | None, filename: str | None
) -> dict[str, Any]:
    """The Graph API body of an image or document message (`id` filled when the upload is done)."""
    content: dict[str, Any] = {}
    if media_id is not None:
        content["id"] = media_id
    if caption:
        content["caption"] = caption
    if kind == "document" and filename:
        content["filename"] = filename
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": kind,
        kind: content,
    }


# -- inbound ---------------------------------------------------------------------------------------
async def register_inbound(
    session: AsyncSession, *, message: Message, ref: MediaRef, kind: str, at: datetime
) -> Media:
    """Record a new inbound message's media, to be fetched after the commit."""
    assert message.id is not None
    media = Media(
        message_id=message.id,
        conversation_id=message.conversation_id,
        direction=Direction.INBOUND,
        kind=kind,
        wa_media_id=ref.id[:255] if ref.id else None,
        mime_type=ref.mime_type[:255] if ref.mime_type else None,
        declared_sha256=ref.sha256[:255] if ref.sha256 else None,
        filename=ref.filename[:255] if ref.filename else None,
        caption=ref.caption,
        voice=ref.voice,
        status=MediaStatus.PENDING if ref.id else MediaStatus.FAILED,
        error=None if ref.id else "the webhook carried no media id",
        created_at=at,
    )
    session.add(media)
    await session.flush()
    return media


def _due(at: datetime) -> Any:
    return and_(
        col(Media.direction) == Direction.INBOUND,
        or_(
            col(Media.status) == MediaStatus.PENDING,
            and_(col(Media.status) == MediaStatus.FAILED, col(Media.next_attempt_at) <= at),
            and_(col(Media.status) == MediaStatus.FETCHING, col(Media.claimed_until) < at),
        ),
    )


async def claim_next(session: AsyncSession, *, at: datetime, claim: timedelta = FETCH_CLAIM) -> Media | None:
    """Claim the oldest inbound media due for a fetch, in one conditional UPDATE (a row another
    process claimed meanwhile no longer matches, so it is fetched once; on PostgreSQL a row being
    claimed right now is skipped for the next one)."""
    oldest = (
        select(col(Media.id))
        .where(_due(at))
        .order_by(col(Media.id))
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    stmt = (
        update(Media)
        .where(col(Media.id) == oldest.scalar_subquery(), _due(at))
        .values(
            status=MediaStatus.FETCHING,
            claimed_until=at + claim,
            attempts=col(Media.attempts) + 1,
            next_attempt_at=None,
        )
        .returning(Media)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(stmt)).scalars().first()


UNKNOWN_OBJECT = 100  # Graph's "Invalid parameter": an id it does not know
_UNKNOWN_MEDIA = "WhatsApp does not have this file (any more): ask the customer to send it again"


class FetchFailed(Exception):
    """Why a file could not be fetched, in words a rep reads (`str`); `detail` is the technical
    cause, for the log and the event's details."""

    def __init__(self, reason: str, *, retry: bool = True, detail: str | None = None) -> None:
        super().__init__(reason)
        self.retry = retry
        self.detail = detail


async def _fetch(client: GraphClient, media: Media, *, max_bytes: int) -> tuple[bytes, str | None]:
    if not media.wa_media_id:
        raise FetchFailed("the webhook carried no media id", retry=False)
    try:
        info = await media_info(client, media.wa_media_id)
        if info.file_size is not None and info.file_size > max_bytes:
            raise MediaTooLarge(limit=max_bytes, size=info.file_size)
        data, served_as = await download(client, info.url, max_bytes=max_bytes)
    except MediaTooLarge as exc:
        raise FetchFailed(exc.for_people, retry=False, detail=str(exc)) from exc
    except GraphAPIError as exc:
        # Error 100 on a media id: Graph does not know it (never, or no longer). Tried again all
        # the same (a webhook can be ahead of Graph), but the rep is told what will get the file.
        reason = _UNKNOWN_MEDIA if exc.code == UNKNOWN_OBJECT else exc.for_people
        raise FetchFailed(reason, retry=True, detail=str(exc)) from exc
    except GraphError as exc:
        raise FetchFailed(exc.for_people, retry=True, detail=str(exc)) from exc
    actual = hashlib.sha256(data).digest()
    for source, declared in (("Graph", info.sha256), ("the webhook", media.declared_sha256)):
        expected = digest_of(declared)
        if expected is not None and expected != actual:
            raise FetchFailed(
                "the file arrived damaged (its checksum does not match)",
                detail=f"the downloaded file does not match the SHA-256 {source} gave ({declared});"
                f" got {actual.hex()}",
            )
        if expected is None and declared:
            log.info("media_sha256_unchecked", media_id=media.id, source=source)
    return data, media.mime_type or info.mime_type or served_as


async def _record(
    sessions: async_sessionmaker[AsyncSession],
    *,
    media: Media,
    at: datetime,
    data: bytes | None,
    mime_type: str | None,
    failure: FetchFailed | None,
    max_attempts: int,
) -> Media | None:
    """Store the bytes, or the failure and when to try again, while the claim is still ours."""
    assert media.id is not None
    async with sessions() as session, session.begin():
        fresh = await session.get(Media, media.id, with_for_update=True)
        if fresh is None or fresh.status != MediaStatus.FETCHING:
            return None
        fresh.claimed_until = None
        if failure is None:
            assert data is not None
            session.add(MediaContent(media_id=media.id, data=data))
            fresh.status, fresh.error, fresh.stored_at = MediaStatus.STORED, None, at
            fresh.size, fresh.sha256 = len(data), hashlib.sha256(data).hexdigest()
            fresh.mime_type = (mime_type or "application/octet-stream")[:255]
            await log_event(
                session,
                conversation_id=fresh.conversation_id,
                type=EventType.MEDIA_STORED,
                source="whatsapp",
                description=f"the customer's {fresh.kind} was fetched ({len(data)} bytes)",
                at=at,
                details={"message_id": fresh.message_id, "media_id": fresh.id},
            )
        else:
            again = failure.retry and fresh.attempts < max_attempts
            delay = RETRY_AFTER[min(fresh.attempts, len(RETRY_AFTER)) - 1]
            fresh.status, fresh.error = MediaStatus.FAILED, str(failure)[:1000]
            fresh.next_attempt_at = at + delay if again else None
            log.warning(
                "media_fetch_failed",
                media_id=fresh.id,
                attempts=fresh.attempts,
                error=fresh.error,
                detail=failure.detail,
            )
            await log_event(
                session,
                conversation_id=fresh.conversation_id,
                type=EventType.MEDIA_FAILED,
                source="whatsapp",
                description=f"the customer's {fresh.kind} could not be fetched: {fresh.error}"[:500],
                at=at,
                details={
                    "message_id": fresh.message_id,
                    "media_id": fresh.id,
                    "attempts": fresh.attempts,
                    "next_attempt_at": fresh.next_attempt_at.isoformat() if fresh.next_attempt_at else None,
                    **({"detail": failure.detail[:1000]} if failure.detail else {}),
                },
            )
        session.add(fresh)
        await session.flush()
    return fresh


class MediaFetcher:
    """Fetches inbound media off the request path: `kick` after a delivery is applied (one pass in
    the background, passes coalesced), `fetch_due` from the background loop (due retries included)."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        client: GraphClient,
        clock: Clock,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_attempts: int = DEFAULT_ATTEMPTS,
        claim: timedelta = FETCH_CLAIM,
    ) -> None:
        self.sessions = sessions
        self.client = client
        self.clock = clock
        self.max_bytes = max_bytes
        self.max_attempts = max_attempts
        self.claim = claim
        self._task: asyncio.Task[None] | None = None
        self._again = False

    async def kick(self) -> None:
        """Fetch what is due soon, in a task of its own (async: callable as a background task)."""
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            while True:
                self._again = False
                await self.fetch_due()
                if not self._again:
                    break
        except Exception:
            log.exception("media_fetch_pass_failed")

    async def drain(self) -> None:
        """Wait for the pass `kick` started (tests, shutdown)."""
        while self._task is not None and not self._task.done():
            await asyncio.gather(self._task, return_exceptions=True)

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def fetch_due(self, *, limit: int = 100) -> list[Media]:
        """Fetch the media due now (new ones, failures whose retry time has come, claims of dead
        fetchers), one at a time; returns the rows this call finished."""
        done: list[Media] = []
        for _ in range(limit):
            async with self.sessions() as session, session.begin():
                media = await claim_next(session, at=self.clock.now(), claim=self.claim)
            if media is None:
                break
            data: bytes | None = None
            mime: str | None = None
            failure: FetchFailed | None = None
            try:
                data, mime = await _fetch(self.client, media, max_bytes=self.max_bytes)
            except FetchFailed as exc:
                failure = exc
            except Exception as exc:  # recorded on the row like any failure, never swallowed
                log.exception("media_fetch_crashed", media_id=media.id)
                failure = FetchFailed(
                    "an error in this service (its log has the details)",
                    detail=f"{type(exc).__name__}: {exc}",
                )
            finished = await _record(
                self.sessions,
                media=media,
                at=self.clock.now(),
                data=data,
                mime_type=mime,
                failure=failure,
                max_attempts=self.max_attempts,
            )
            if finished is not None:
                done.append(finished)
        return done


# -- outbound --------------------------------------------------------------------------------------
async def store_outbound(
    session: AsyncSession,
    *,
    message: Message,
    kind: str,
    data: bytes,
    mime_type: str,
    filename: str | None,
    caption: str | None,
    at: datetime,
) -> Media:
    """Keep a rep's file with its queued message (shown in the transcript, uploaded when sent)."""
    assert message.id is not None
    media = Media(
        message_id=message.id,
        conversation_id=message.conversation_id,
        direction=Direction.OUTBOUND,
        kind=kind,
        mime_type=mime_type,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        filename=filename[:255] if filename else None,
        caption=caption,
        status=MediaStatus.STORED,
        created_at=at,
        stored_at=at,
    )
    session.add(media)
    await session.flush()
    assert media.id is not None
    session.add(MediaContent(media_id=media.id, data=data))
    await session.flush()
    return media


def _needs_upload(payload: Mapping[str, Any]) -> bool:
    kind = payload.get("type")
    content = payload.get(kind) if isinstance(kind, str) and kind in MEDIA_KINDS else None
    return isinstance(content, Mapping) and "id" not in content and "link" not in content


async def resolve_outbound(
    sessions: async_sessionmaker[AsyncSession], *, client: GraphClient, message: Message
) -> dict[str, Any]:
    """The payload to send for a claimed outbound message: as stored, or, for a rep's file not yet
    uploaded, uploaded now (the media id is kept on the media row and in the payload)."""
    payload = dict(message.payload or {})
    if not _needs_upload(payload):
        return payload
    async with sessions() as session:
        media = (
            (await session.execute(select(Media).where(col(Media.message_id) == message.id)))
            .scalars()
            .first()
        )
        if media is None or media.id is None:
            raise ValueError(f"outbound {payload.get('type')} message {message.id} has no stored file")
        media_id = media.wa_media_id
        content = await session.get(MediaContent, media.id) if media_id is None else None
    kind = str(payload["type"])
    if media_id is None:
        if content is None:
            raise ValueError(f"the file of message {message.id} is not stored")
        data = content.data
        name = (
            media.filename
            or f"{kind}.{UPLOAD_TYPES.get(media.mime_type or '', UPLOAD_TYPES['application/pdf']).extension}"
        )
        media_id = await upload(
            client, data=data, mime_type=media.mime_type or "application/octet-stream", filename=name
        )
        async with sessions() as session, session.begin():
            await session.execute(update(Media).where(col(Media.id) == media.id).values(wa_media_id=media_id))
    payload[kind] = {**dict(payload[kind]), "id": media_id}
    async with sessions() as session, session.begin():
        await session.execute(update(Message).where(col(Message.id) == message.id).values(payload=payload))
    return payload
