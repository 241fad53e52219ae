"""Media: download a message's photo, voice note, video or document, and send an image or a document.

`GET /api/conversations/{id}/media/{media_id}` answers to whoever may see the conversation (the one
policy, `policy.can`: a rep their own, a lead their departments', an admin all) with a bearer token
or the workspace's session cookie (so the pages' `<img>`, `<audio>` and `<video>` load it); anyone
else gets the same 404 as for the conversation. The bytes go out with their stored type, `nosniff`,
inline only for images, audio and video (documents and anything else as an attachment), a CSP that
runs nothing, and a private cache revalidated on every use (`ETag`), so access taken away is taken
away at once. A single byte range (`Range: bytes=...`, with `If-Range`) is answered with a 206, so
a browser can seek in a voice note or a video.

`POST /api/conversations/{id}/media` (multipart: `file`, optional `caption`) sends an image (JPEG,
PNG) or a document (PDF, text, Office) as the owner would send text, inside the 24-hour window; a
file of another type is a 415, a file over its limit a 413.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Path, Request, Response
from starlette.datastructures import UploadFile

from handoff import media as media_flows
from handoff.api.deps import ActorDep, ClockDep, SenderDep, SessionsDep, SettingsDep
from handoff.api.errors import Problem, errors
from handoff.api.schemas import ConversationId, MediaOut, MessageOut, MessageRef, OrderItem, OrderOut
from handoff.api.visibility import visible_conversation, window_open
from handoff.errors import Conflict
from handoff.policy import require
from orchestrator.channels.whatsapp.inbound import order_of, reaction_of
from orchestrator.core import window
from orchestrator.core.enums import Action, Direction
from orchestrator.core.tables import Media, Message
from orchestrator.media import UPLOAD_TYPES, UploadRefused

router = APIRouter(prefix="/api/conversations", tags=["media"])
INLINE_TYPES = ("image/", "audio/", "video/")
MEDIA_CSP = "default-src 'none'; img-src 'self'; media-src 'self'; sandbox"
MULTIPART_MARGIN = 64 * 1024  # the form's own bytes around the file
MediaId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def media_out(media: Media) -> MediaOut:
    assert media.id is not None
    return MediaOut(
        id=media.id,
        kind=media.kind,
        status=media.status,
        mime_type=media.mime_type,
        size=media.size,
        filename=media.filename,
        caption=media.caption,
        voice=media.voice,
        error=media.error,
        next_attempt_at=media.next_attempt_at,
        url=media_flows.api_path(media),
    )


EXCERPT_CHARS = 120


def message_ref(message: Message) -> MessageRef:
    """What a reply or a reaction refers to, in short."""
    assert message.id is not None
    text = message.text
    if text is not None and len(text) > EXCERPT_CHARS:
        text = text[: EXCERPT_CHARS - 1].rstrip() + "…"
    return MessageRef(
        id=message.id,
        direction=message.direction,
        sender_type=message.sender_type,
        kind=message.kind,
        excerpt=text,
    )


def order_out(message: Message) -> OrderOut | None:
    order = order_of(raw_of(message)) if message.kind == "order" else None
    if order is None:
        return None
    items = [OrderItem.model_validate(line, from_attributes=True) for line in order.items]
    return OrderOut(
        catalog_id=order.catalog_id,
        items=items,
        note=order.note,
        total=order.total,
        currency=order.currency,
    )


def raw_of(message: Message) -> dict[str, Any]:
    """The message object as WhatsApp delivered it (inbound rows keep it; others have none)."""
    raw = (message.payload or {}).get("message") if message.direction == Direction.INBOUND else None
    return raw if isinstance(raw, dict) else {}


def message_out(message: Message, media: Media | None, replying_to: Message | None = None) -> MessageOut:
    out = MessageOut.model_validate(message, from_attributes=True)
    update: dict[str, Any] = {}
    if media is not None:
        update["media"] = media_out(media)
    if replying_to is not None:
        update["replying_to"] = message_ref(replying_to)
    if (order := order_out(message)) is not None:
        update["order"] = order
    if message.kind == "reaction" and (emoji := reaction_of(raw_of(message))) is not None:
        update["reaction"] = emoji
    return out.model_copy(update=update) if update else out


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) byte of a single-range `Range` header (RFC 9110 §14.1.2), or None
    when the whole file is to be sent (no header, another unit, several ranges, or a malformed one,
    which a server may ignore). Raises `ValueError` when the range cannot be satisfied."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first_text, dash, last_text = header[len("bytes=") :].strip().partition("-")
    if not dash or not (first_text.isdigit() or (not first_text and last_text.isdigit())):
        return None
    if last_text and not last_text.isdigit():
        return None
    if not first_text:  # the last N bytes
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            raise ValueError("an empty suffix range")
        return max(size - suffix, 0), size - 1
    first = int(first_text)
    last = min(int(last_text), size - 1) if last_text else size - 1
    if first >= size or (last_text and int(last_text) < first):
        raise ValueError("the range starts beyond the end of the file")
    return first, last


def _disposition(media: Media, mime: str) -> str:
    # SVG is an image that can carry scripts: a download, whatever the sandbox would allow.
    inline = media.kind != "document" and mime.startswith(INLINE_TYPES) and not mime.startswith("image/svg")
    name = media.filename or f"{media.kind}-{media.id}"
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)
    return f"{'inline' if inline else 'attachment'}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"


@router.get(
    "/{conversation_id}/media/{media_id}",
    response_class=Response,
    responses={
        200: {
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
            "description": "the file, with its stored type",
        },
        206: {"description": "the byte range asked for (`Range`), with `Content-Range`"},
        304: {"description": "unchanged since the `ETag` the caller holds"},
        416: {"description": "the range asked for lies beyond the end of the file"},
        **errors(401, 404, 409, 422),
    },
)
async def download_media(
    conversation_id: ConversationId,
    media_id: MediaId,
    request: Request,
    actor: ActorDep,
    sessions: SessionsDep,
) -> Response:
    """A message's stored file (409 while it is still being fetched, when it could not be, or once
    retention removed it); one byte range on request (206)."""
    async with sessions() as session:
        media = await media_flows.viewable_media(
            session, viewer=actor.viewer, conversation_id=conversation_id, media_id=media_id
        )
        etag = f'"{media.sha256}"'
        headers = {
            "ETag": etag,
            "Cache-Control": "private, no-cache",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": MEDIA_CSP,
            "Cross-Origin-Resource-Policy": "same-origin",
            "Accept-Ranges": "bytes",
        }
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        data = await media_flows.content_of(session, media)
    mime = media.mime_type or "application/octet-stream"
    headers["Content-Disposition"] = _disposition(media, mime)
    if_range = request.headers.get("if-range")
    if if_range is None or if_range == etag:  # a range of the version the caller has, or none
        try:
            span = byte_range(request.headers.get("range"), len(data))
        except ValueError:
            headers["Content-Range"] = f"bytes */{len(data)}"
            return Response(status_code=416, headers=headers)
        if span is not None:
            first, last = span
            headers["Content-Range"] = f"bytes {first}-{last}/{len(data)}"
            return Response(content=data[first : last + 1], status_code=206, media_type=mime, headers=headers)
    return Response(content=data, media_type=mime, headers=headers)


_UPLOAD_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": "its part's Content-Type must be one of: " + ", ".join(UPLOAD_TYPES),
                    },
                    "caption": {"type": "string", "maxLength": 1024},
                },
            }
        }
    },
}


@router.post(
    "/{conversation_id}/media",
    status_code=202,
    openapi_extra={"requestBody": _UPLOAD_BODY},
    responses={
        413: {"description": "the file is larger than its type's limit (or this service's)"},
        415: {"description": "not an image or document type WhatsApp accepts, or content that is not it"},
        400: {"model": Problem, "description": "the body is not a readable multipart form"},
        **errors(401, 403, 404, 409, 422),
    },
)
async def send_media(
    conversation_id: ConversationId,
    request: Request,
    actor: ActorDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    clock: ClockDep,
    sender: SenderDep,
) -> MessageOut:
    """Send an image or a document to the customer as the conversation's owner, with an optional
    caption, inside the 24-hour window. The file is kept with the message (shown in the transcript)
    and answered at once (202) with the message `pending`; it is uploaded to WhatsApp and sent after
    the commit in the background, like a text reply, and its outcome reaches the rep live
    (`message_sent`, or `send_failed` with the message marked `failed` and Meta's reason)."""
    limit = max(min(settings.media_max_bytes, max(t.max_bytes for t in UPLOAD_TYPES.values())), 1)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + MULTIPART_MARGIN:
        raise HTTPException(status_code=413, detail=f"the file is larger than {limit} bytes")
    # A malformed multipart body is Starlette's 400; anything else without a file part is a 422.
    async with request.form(max_files=1, max_fields=4) as form:
        upload, caption = form.get("file"), form.get("caption")
        if not isinstance(upload, UploadFile):
            raise HTTPException(status_code=422, detail=["body.file: a file is required"])
        if caption is not None and (not isinstance(caption, str) or len(caption) > 1024):
            raise HTTPException(status_code=422, detail=["body.caption: at most 1024 characters"])
        data = await upload.read(limit + 1)
        mime_type, filename = upload.content_type or "", upload.filename
    now = clock.now()
    async with sessions() as session, session.begin():
        conversation, _, _ = await visible_conversation(session, actor.viewer, conversation_id)
        require(actor.viewer, Action.REPLY, conversation)
        if not window_open(conversation, now):
            closed = window.closes_at(conversation)
            raise Conflict(
                "the 24-hour customer-service window is closed"
                + (f" (since {closed.isoformat()})" if closed else "")
                + "; only an approved template can be sent"
            )
        try:
            message, media = await media_flows.send_file(
                session,
                conversation_id=conversation_id,
                rep=actor.rep,
                data=data,
                mime_type=mime_type,
                filename=(filename or "")[:255] or None,
                caption=caption or None,
                max_bytes=settings.media_max_bytes,
                at=now,
            )
        except UploadRefused as exc:
            detail: str | list[str] = [f"body.file: {exc}"] if exc.status == 422 else str(exc)
            raise HTTPException(status_code=exc.status, detail=detail) from exc
    sender.after_commit(conversation_id)
    return message_out(message, media)
