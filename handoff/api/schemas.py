"""The rep API's request and response models, and its path and query parameter types.

The field descriptions are the OpenAPI contract; the limits mirror the Cloud API's (a reply the
Graph API would refuse is refused here first, with a 422 that says which limit).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import BaseModel, Discriminator, Field, Tag

from handoff.history import EarlierConversation
from handoff.metrics import QueueMetrics
from orchestrator.core.enums import Direction, HandoffReason, MediaStatus, Owner, Presence, Role


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds")


class RepOut(BaseModel):
    id: str
    name: str
    role: Role
    presence: Presence
    capacity: int
    open_count: int
    auto_assign: bool
    last_seen_at: datetime | None
    queues: list[str]
    has_password: bool
    has_api_token: bool


class ConversationSummary(BaseModel):
    id: int
    owner: Owner
    queue: str | None
    assignee_id: str | None
    handoff_reason: HandoffReason | None
    contact_name: str | None
    contact_wa_id: str | None
    waiting_since: datetime | None
    handed_off_at: datetime | None
    last_inbound_at: datetime | None
    window_open: bool = Field(description="inside the 24-hour customer-service window: free-form allowed")
    failed_sends: int = Field(description="outbound messages that failed (shown in the transcript)")
    updated_at: datetime


class MediaOut(BaseModel):
    """A message's photo, voice note, video, document or sticker."""

    id: int
    kind: str = Field(description="image, audio, video, document or sticker")
    status: MediaStatus = Field(
        description="pending/fetching: not here yet; stored: at `url`; failed: see error"
    )
    mime_type: str | None
    size: int | None = Field(description="bytes, once stored")
    filename: str | None
    caption: str | None
    voice: bool = Field(description="an audio recorded as a voice message")
    error: str | None = Field(description="why it could not be fetched")
    next_attempt_at: datetime | None = Field(
        description="when a failed fetch is tried again (null: given up)"
    )
    url: str = Field(description="where the caller downloads it (same authorisation as the conversation)")


class MessageRef(BaseModel):
    """The message another one quotes (a reply swiped on it) or reacts to."""

    id: int
    direction: Direction
    sender_type: str
    kind: str
    excerpt: str | None = Field(description="the start of its text (at most 120 characters)")


class OrderItem(BaseModel):
    product: str = Field(description="the catalogue's product retailer id")
    quantity: int | None
    price: float | None = Field(description="the price of one, in `currency`")
    currency: str | None


class OrderOut(BaseModel):
    """A cart sent from the business's WhatsApp catalogue."""

    catalog_id: str | None
    items: list[OrderItem]
    note: str | None = Field(description="what the customer wrote with the order")
    total: float | None = Field(
        description="quantity × price summed, when every item has a quantity, a price and one currency"
    )
    currency: str | None


class MessageOut(BaseModel):
    id: int
    direction: Direction
    kind: str
    text: str | None
    sender_type: str
    sender_id: str | None
    status: str
    error: dict[str, Any] | None
    created_at: datetime = Field(description="when this service stored it")
    sent_at: datetime | None = Field(
        default=None,
        description="inbound: when the customer sent it (WhatsApp's timestamp; earlier than `created_at` "
        "when Meta delivered it late); outbound: when the Graph API accepted it",
    )
    media: MediaOut | None = None
    replying_to: MessageRef | None = Field(
        default=None,
        description="inbound: the message of this conversation it quotes or reacts to (null when it "
        "quotes none, or one this service does not hold)",
    )
    order: OrderOut | None = Field(default=None, description="inbound orders: the cart's items")
    reaction: str | None = Field(
        default=None,
        description="inbound reactions: the emoji (empty when the customer removed their reaction); "
        "`replying_to` is the message it is on",
    )


class EventOut(BaseModel):
    id: int
    type: str
    source: str
    description: str
    details: dict[str, Any] | None
    created_at: datetime


class AssignmentOut(BaseModel):
    id: int
    queue: str
    rep_id: str | None
    status: str
    reason: str
    routing: dict[str, Any] | None = Field(description="the routing decision: rule, precedence step")
    candidates: list[dict[str, Any]] | None = Field(description="reps considered, and why each was skipped")
    excluded_reps: list[str] | None = Field(
        default=None, description="reps who may not get it back (let it lapse, or sent it away)"
    )
    queued_at: datetime
    assigned_at: datetime | None
    first_response_at: datetime | None
    ended_at: datetime | None


class AuditOut(BaseModel):
    id: int
    actor_id: str
    action: str
    conversation_id: int | None
    details: dict[str, Any] | None
    created_at: datetime


class SendFailure(BaseModel):
    message_id: int
    text: str | None
    error: dict[str, Any] | None
    at: datetime


class ConversationDetail(ConversationSummary):
    window_closes_at: datetime | None
    handoff_context: dict[str, Any] | None = Field(description="the latest handoff's context")
    messages: list[MessageOut] = Field(
        description="a page of the transcript, oldest first: the latest `limit` messages, or the "
        "`limit` messages before `before`"
    )
    earlier_cursor: int | None = Field(
        description="pass it as `before` to get the page of earlier messages; null when this page "
        "starts the conversation"
    )
    events: list[EventOut] = Field(
        description="the context log over the time this page covers (from its first message on, or "
        "from the start of the conversation on its first page; up to the next page)"
    )
    assignments: list[AssignmentOut]
    send_failures: list[SendFailure] = Field(description="the latest failed sends, whatever the page")
    audit: list[AuditOut]
    earlier_conversations: list[EarlierConversation] = Field(
        default_factory=list,
        description="the contact's other conversations, newest first; those the caller may not see "
        "are listed with `visible: false` and nothing else",
    )


class TextReply(BaseModel):
    type: Literal["text"] = "text"
    text: str = Field(min_length=1, max_length=4096)


class ButtonIn(BaseModel):
    id: str = Field(min_length=1, max_length=256)
    title: str = Field(min_length=1, max_length=20)


class ButtonsReply(BaseModel):
    type: Literal["buttons"]
    text: str = Field(min_length=1, max_length=1024)
    buttons: list[ButtonIn] = Field(min_length=1, max_length=3)
    header: str | None = Field(default=None, max_length=60)
    footer: str | None = Field(default=None, max_length=60)


class RowIn(BaseModel):
    id: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=24)
    description: str | None = Field(default=None, max_length=72)


class SectionIn(BaseModel):
    title: str | None = Field(default=None, max_length=24)
    rows: list[RowIn] = Field(min_length=1, max_length=10)


class ListReply(BaseModel):
    type: Literal["list"]
    text: str = Field(min_length=1, max_length=4096)
    button: str = Field(min_length=1, max_length=20, description="label of the button that opens the list")
    sections: list[SectionIn] = Field(min_length=1, max_length=10)
    header: str | None = Field(default=None, max_length=60)
    footer: str | None = Field(default=None, max_length=60)


class TemplateReply(BaseModel):
    type: Literal["template"]
    name: str = Field(min_length=1, max_length=512, description="an approved template's name")
    language: str = Field(min_length=2, max_length=16, description="e.g. en, en_US, pt_BR")
    parameters: (
        list[Annotated[str, Field(max_length=1024)]] | dict[str, Annotated[str, Field(max_length=1024)]]
    ) = Field(
        default_factory=list,
        max_length=20,
        description="body parameters: a list for {{1}}, {{2}}... or an object for named ones "
        '({"first_name": "Ana"}); checked against the template catalogue (GET /api/templates)',
    )


def _reply_kind(value: Any) -> str:
    kind = value.get("type", "text") if isinstance(value, dict) else getattr(value, "type", "text")
    return str(kind)


ReplyIn = Annotated[
    Annotated[TextReply, Tag("text")]
    | Annotated[ButtonsReply, Tag("buttons")]
    | Annotated[ListReply, Tag("list")]
    | Annotated[TemplateReply, Tag("template")],
    Discriminator(_reply_kind),
]


class PresenceIn(BaseModel):
    presence: Presence


class TransferIn(BaseModel):
    queue: str = Field(min_length=1, max_length=64, description="slug of the destination queue")
    note: str | None = Field(default=None, max_length=2000, description="for the next rep")


class ReassignIn(BaseModel):
    rep_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="a member of the queue; null: the next in turn"
    )


class HandBackIn(BaseModel):
    note: str | None = Field(default=None, max_length=2000, description="what the bot should know")


class ActionOut(BaseModel):
    conversation: ConversationSummary
    assignment: AssignmentOut | None = None
    briefing: str | None = None


class QueueDetail(QueueMetrics):
    waiting: list[ConversationSummary] = Field(description="oldest first (higher priority first)")
    reps: list[RepOut]


class AutoAssignIn(BaseModel):
    enabled: bool


class RepCreate(BaseModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=64)
    name: str = Field(min_length=1, max_length=200)
    role: Role = Role.REP
    queues: list[str] = Field(default_factory=list, max_length=50)
    capacity: int = Field(default=5, ge=0, le=1000)
    password: str | None = Field(default=None, min_length=8, max_length=256)


class RepUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    role: Role | None = None
    queues: list[str] | None = Field(default=None, max_length=50)
    capacity: int | None = Field(default=None, ge=0, le=1000)
    auto_assign: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=256)


class ApiTokenOut(BaseModel):
    rep_id: str
    token: str = Field(description="shown once; only its hash is stored")


class ProcessOut(BaseModel):
    id: str = Field(description="<host>/<pid>")
    role: str = Field(description="worker | api")
    host: str
    pid: int
    runs_turns: bool
    interval_s: float = Field(description="seconds between its heartbeats")
    started_at: datetime
    beat_at: datetime
    loop_lag_s: float | None = Field(
        default=None,
        description="the longest its event loop ran late over the interval before its last beat, seconds",
    )
    state: Literal["live", "silent"]


class CustomerErased(BaseModel):
    """What an erasure removed (counts only: who it was is not kept anywhere). `contact_id` is null
    when only raw copies were left (the customer erased before)."""

    contact_id: int | None
    conversations: int
    messages: int
    media: int
    statuses: int
    events: int
    notes: int
    raw_deliveries: int
    inbox_items: int


class StreamReady(BaseModel):
    rep_id: str
    resumed_after: int | None


# -- parameters -------------------------------------------------------------------------------------
ID_MAX = 2**31 - 1  # rows' ids (PostgreSQL's integer)
EVENT_ID_MAX = 2**63 - 1  # the most an event id given to compare with may be (SQLite's integer)
ConversationId = Annotated[int, Path(ge=1, le=ID_MAX)]
RepId = Annotated[str, Path(min_length=1, max_length=64)]
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Since = Annotated[datetime | None, Query(description="count assignments made since then (default: all)")]
