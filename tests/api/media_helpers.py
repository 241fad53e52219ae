"""Media for the tests: real image files (a JPEG a browser decodes, PNGs of any size), a PDF, and
the customer's photo delivered through the real webhook with the pywa fixture."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import zlib
from typing import Any

from sqlalchemy import select, update
from sqlmodel import col

from orchestrator.core.contextlog import ContextEvent
from orchestrator.core.enums import Direction, EventType, MediaStatus
from orchestrator.core.tables import Contact, Conversation, Media, MediaContent, Message
from tests.api.helpers import Running
from tests.fixtures import fixture_bytes

# A 24 x 16 photo, as Chromium's own JPEG encoder wrote it.
JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/4gHYSUNDX1BST0ZJTEUAAQEAAAHIAAAAAAQwAABtbnRyUkdCIFhZWiAH4AABAAEAAAAAAABh"
    "Y3NwAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQAA9tYAAQAAAADTLQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAlkZXNjAAAA8AAAACRyWFlaAAABFAAAABRnWFlaAAABKAAAABRiWFlaAAABPAAAABR3dHB0AAAB"
    "UAAAABRyVFJDAAABZAAAAChnVFJDAAABZAAAAChiVFJDAAABZAAAAChjcHJ0AAABjAAAADxtbHVjAAAAAAAAAAEAAAAMZW5VUwAA"
    "AAgAAAAcAHMAUgBHAEJYWVogAAAAAAAAb6IAADj1AAADkFhZWiAAAAAAAABimQAAt4UAABjaWFlaIAAAAAAAACSgAAAPhAAAts9Y"
    "WVogAAAAAAAA9tYAAQAAAADTLXBhcmEAAAAAAAQAAAACZmYAAPKnAAANWQAAE9AAAApbAAAAAAAAAABtbHVjAAAAAAAAAAEAAAAM"
    "ZW5VUwAAACAAAAAcAEcAbwBvAGcAbABlACAASQBuAGMALgAgADIAMAAxADb/2wBDAAYEBQYFBAYGBQYHBwYIChAKCgkJChQODwwQ"
    "FxQYGBcUFhYaHSUfGhsjHBYWICwgIyYnKSopGR8tMC0oMCUoKSj/2wBDAQcHBwoIChMKChMoGhYaKCgoKCgoKCgoKCgoKCgoKCgo"
    "KCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCj/wAARCAAQABgDASIAAhEBAxEB/8QAFQABAQAAAAAAAAAAAAAAAAAABgD/"
    "xAAkEAAABAQGAwAAAAAAAAAAAAAAERITAQIEBQYVFyMxUWWk4v/EABYBAQEBAAAAAAAAAAAAAAAAAAUEBv/EACQRAAAEBAYDAAAA"
    "AAAAAAAAAAEREzEAAiEyBAUUFVFxUmKB/9oADAMBAAIRAxEAPwAlh22ZzeaegeZdVuJURSxm4OHQbaY+X9b7AnDtzya809ey80rb"
    "UkzljLyUew21O8R7PwMlm+7LBoLCra5j5VYogy3bUh1lx+zEHH2BOIrZk15qKB55pO4lJnLCbg49iFiK55zeaivZZdTtqURSwl5K"
    "HQg5hVEZFryA+yq1H4gnEJqzJWmJdHR4/9k="
)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def png(width: int = 4, height: int = 3, *, padding: int = 0) -> bytes:
    """A valid RGB PNG; `padding` adds a private ancillary chunk of that many bytes (a large file)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x10\x80\xf0" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    extra = chunk(b"prVt", b"\x00" * padding) if padding else b""
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + extra
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def fixture_media(name: str) -> dict[str, Any]:
    """The media object of the fixture's (only) message, and its sender."""
    message = json.loads(fixture_bytes(name))["entry"][0]["changes"][0]["value"]["messages"][0]
    return {"from": message["from"], **message[message["type"]]}


async def give_contact_number(h: Running, conversation_id: int, wa_id: str) -> None:
    """Make the seeded conversation's customer the sender of a fixture (its messages land there)."""
    async with h.service.sessions() as session, session.begin():
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        await session.execute(
            update(Contact).where(col(Contact.id) == conversation.contact_id).values(wa_id=wa_id)
        )


async def media_rows(h: Running, conversation_id: int) -> list[Media]:
    async with h.service.sessions() as session:
        rows = await session.execute(
            select(Media).where(col(Media.conversation_id) == conversation_id).order_by(col(Media.id))
        )
        return list(rows.scalars())


async def last_fetch_failure(h: Running, conversation_id: int) -> dict[str, Any]:
    """The details of the conversation's latest `media_failed` event (the technical cause among them)."""
    async with h.service.sessions() as session:
        event = (
            (
                await session.execute(
                    select(ContextEvent)
                    .where(col(ContextEvent.conversation_id) == conversation_id)
                    .where(col(ContextEvent.type) == EventType.MEDIA_FAILED)
                    .order_by(col(ContextEvent.id).desc())
                )
            )
            .scalars()
            .first()
        )
    assert event is not None, "no media_failed event"
    return {"description": event.description, **(event.details or {})}


async def seed_media(h: Running, conversation_id: int, *, content: bytes = JPEG) -> int:
    """A stored customer photo on the conversation's first message (as a finished fetch leaves it)."""
    now = h.clock.now()
    async with h.service.sessions() as session, session.begin():
        message = (
            (
                await session.execute(
                    select(Message)
                    .where(col(Message.conversation_id) == conversation_id)
                    .order_by(col(Message.id))
                )
            )
            .scalars()
            .first()
        )
        assert message is not None
        assert message.id is not None
        media = Media(
            message_id=message.id,
            conversation_id=conversation_id,
            direction=Direction.INBOUND,
            kind="image",
            wa_media_id=f"seeded-{message.id}",
            mime_type="image/jpeg",
            sha256=hashlib.sha256(content).hexdigest(),
            size=len(content),
            status=MediaStatus.STORED,
            attempts=1,
            created_at=now,
            stored_at=now,
        )
        session.add(media)
        await session.flush()
        assert media.id is not None
        session.add(MediaContent(media_id=media.id, data=content))
    return media.id
