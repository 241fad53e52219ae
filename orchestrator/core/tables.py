"""Tables of the channel side: contacts, conversations, messages, delivery statuses, raw deliveries,
and the inbox of delivered items waiting to be applied."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import JSON, Column, Field, SQLModel

from orchestrator.core.db import UTCDateTime
from orchestrator.core.enums import Direction, HandoffReason, MediaStatus, Owner


def ts(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


def json_col() -> Any:
    return Field(default=None, sa_column=Column(JSON, nullable=True))


class Contact(SQLModel, table=True):
    """A WhatsApp user: keyed by phone (wa_id) and/or business-scoped user id (BSUID)."""

    __table_args__ = {"sqlite_autoincrement": True}  # ids never given again (migration 0014)

    id: int | None = Field(default=None, primary_key=True)
    wa_id: str | None = Field(default=None, unique=True, max_length=32)
    user_id: str | None = Field(default=None, unique=True, max_length=128)
    name: str | None = None
    username: str | None = None
    country: str | None = Field(default=None, max_length=2)
    language: str | None = Field(default=None, max_length=8)
    created_at: datetime = ts()


class Conversation(SQLModel, table=True):
    """One open thread per contact at a time; `owner` is the ownership gate (bot/queued/human/closed)."""

    __table_args__ = (
        sa.Index(
            "uq_open_conversation_per_contact",
            "contact_id",
            unique=True,
            sqlite_where=sa.text("owner != 'closed'"),
            postgresql_where=sa.text("owner != 'closed'"),
        ),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    owner: Owner = Field(default=Owner.BOT, sa_type=sa.String(16), index=True)
    flow: str | None = Field(default=None, max_length=32)
    language: str | None = Field(default=None, max_length=8)
    referral: dict[str, Any] | None = json_col()
    queue: str | None = Field(default=None, max_length=64, index=True)
    assignee_id: str | None = Field(default=None, foreign_key="rep.id", index=True)
    handoff_reason: HandoffReason | None = Field(default=None, sa_type=sa.String(32))
    handed_off_at: datetime | None = ts(nullable=True)
    waiting_since: datetime | None = ts(nullable=True, index=True)
    priority: int = 0
    turns: int = 0
    # Per-conversation turn lease: one process runs the bot turn at a time (DESIGN.md flow step 2).
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = ts(nullable=True)
    # Turns interrupted in a row: leases taken over from a holder that never gave it back (its
    # process died or hung mid-turn). Counted by the claim, back to 0 at a claim of a released lease.
    lease_lapses: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    has_pending: bool = Field(default=False, index=True)
    last_inbound_at: datetime | None = ts(nullable=True)
    # When WhatsApp refused a free-form message for the 24-hour window (131047) although our count
    # had it open: the window is closed from then until the customer writes again (`core.window`).
    window_closed_at: datetime | None = ts(nullable=True)
    created_at: datetime = ts()
    updated_at: datetime = ts()
    closed_at: datetime | None = ts(nullable=True)


# The outbound messages not sent (yet, or for good): few among all messages, counted at every scrape
# of `GET /metrics` through a partial index of their own (`handoff.metrics.pipeline_metrics`).
OUTBOX_WATCHED_SQL = "status IN ('pending', 'sending', 'failed')"


class Message(SQLModel, table=True):
    """Every message in and out. Inbound dedupes on the wamid; `turn` is set once the bot consumed it."""

    __table_args__ = (
        sa.Index(
            "ix_message_outbox_watched",
            "status",
            "created_at",
            sqlite_where=sa.text(OUTBOX_WATCHED_SQL),
            postgresql_where=sa.text(OUTBOX_WATCHED_SQL),
        ),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    direction: Direction = Field(sa_type=sa.String(8))
    wa_message_id: str | None = Field(default=None, unique=True, max_length=255)
    kind: str = Field(max_length=32)
    text: str | None = None
    reply_id: str | None = None
    payload: dict[str, Any] | None = json_col()
    sender_type: str = Field(max_length=16)  # customer | bot | rep | system
    sender_id: str | None = Field(default=None, max_length=64)
    status: str = Field(default="received", max_length=16)
    error: dict[str, Any] | None = json_col()
    turn: int | None = None
    # Outbound only: how often a sender claimed it, and until when the current claim holds.
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    claimed_until: datetime | None = ts(nullable=True)
    sent_at: datetime | None = ts(nullable=True)
    created_at: datetime = ts(index=True)
    updated_at: datetime = ts()


class MessageStatusEvent(SQLModel, table=True):
    """Delivery statuses from Meta, deduplicated on (wamid, status)."""

    __table_args__ = (sa.UniqueConstraint("wa_message_id", "status", name="uq_status_once"),)

    id: int | None = Field(default=None, primary_key=True)
    wa_message_id: str = Field(max_length=255, index=True)
    status: str = Field(max_length=16)
    timestamp: datetime = ts()
    errors: list[dict[str, Any]] | None = json_col()
    raw: dict[str, Any] | None = json_col()
    # The `biz_opaque_callback_data` of the send, echoed by Meta: names our row (orchestrator.outbox).
    callback_data: str | None = Field(default=None, max_length=512, index=True)
    created_at: datetime = ts()


class WebhookDelivery(SQLModel, table=True):
    """Each verified webhook body as received: Meta keeps no history we could fetch later."""

    id: int | None = Field(default=None, primary_key=True)
    body: str
    messages: int = 0
    statuses: int = 0
    received_at: datetime = ts(index=True)


class InboxItem(SQLModel, table=True):
    """One message or status of a verified delivery, stored before the webhook answers and applied
    (contact, conversation, message, status) afterwards. `key` dedupes Meta's repeated deliveries."""

    __table_args__ = {"sqlite_autoincrement": True}  # ids never given again (migration 0014)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=255, unique=True)
    kind: str = Field(max_length=16)  # message | status
    item: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    received_at: datetime = ts()
    applied_at: datetime | None = ts(nullable=True, index=True)
    outcome: str | None = Field(default=None, max_length=16)  # InboxOutcome
    error: str | None = None


class Media(SQLModel, table=True):
    """The photo, voice note, video, document or sticker of one message: an inbound one fetched from
    the Graph API after it arrived, a rep's upload before it is sent. The bytes are in
    `MediaContent`, so listing a transcript's media never loads them."""

    __table_args__ = {"sqlite_autoincrement": True}  # ids never given again (migration 0014)

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", unique=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    direction: Direction = Field(sa_type=sa.String(8))
    kind: str = Field(max_length=16)  # image | audio | video | document | sticker
    wa_media_id: str | None = Field(default=None, max_length=255)  # Meta's id (inbound, or our upload's)
    mime_type: str | None = Field(default=None, max_length=255)
    declared_sha256: str | None = Field(default=None, max_length=255)  # as the webhook gave it
    sha256: str | None = Field(default=None, max_length=64)  # hex digest of the stored bytes
    size: int | None = None
    filename: str | None = Field(default=None, max_length=255)
    caption: str | None = None
    voice: bool = False
    status: MediaStatus = Field(default=MediaStatus.PENDING, sa_type=sa.String(16), index=True)
    attempts: int = 0
    next_attempt_at: datetime | None = ts(nullable=True, index=True)
    claimed_until: datetime | None = ts(nullable=True)
    error: str | None = None
    created_at: datetime = ts()
    stored_at: datetime | None = ts(nullable=True)


class MediaContent(SQLModel, table=True):
    """The bytes of a `Media`: in the database, so every process (API, worker) serves the same ones."""

    media_id: int = Field(foreign_key="media.id", primary_key=True)
    data: bytes = Field(sa_column=Column(sa.LargeBinary, nullable=False))


class ProcessBeat(SQLModel, table=True):
    """A running process with a background loop (`handoff worker`, `handoff serve`): its heartbeat,
    written at each pass of the loop and removed when it stops. One whose beat is older than three
    of its intervals died without stopping (`kill -9`, a lost machine) or hangs."""

    id: str = Field(primary_key=True, max_length=200)  # "<host>/<pid>"
    role: str = Field(max_length=16)  # worker | api
    host: str = Field(max_length=128)
    pid: int
    runs_turns: bool
    interval_s: float
    started_at: datetime = ts()
    beat_at: datetime = ts()
    # The longest its event loop ran late over the interval before the beat (`core.aio.LoopLag`).
    loop_lag_s: float | None = None
