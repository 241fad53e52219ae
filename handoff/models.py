"""Tables of the human side: the append-only context log, reps, queue memberships, assignments,
durable timers and the audit log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from handoff.enums import Presence, Role
from orchestrator.models import json_col, ts


class EventType(StrEnum):
    MESSAGE_RECEIVED = "message_received"
    SIGNAL = "signal"
    FIELD_COLLECTED = "field_collected"
    BOT_REPLY = "bot_reply"
    HANDOFF = "handoff"
    ROUTED = "routed"
    ASSIGNED = "assigned"
    WAITING = "waiting"
    HELD_AFTER_HOURS = "held_after_hours"
    ASSIGNMENT_REVOKED = "assignment_revoked"
    ESCALATED = "escalated"
    TRANSFERRED = "transferred"
    REP_REPLY = "rep_reply"
    SEND_FAILED = "send_failed"
    RESOLVED = "resolved"
    RETURNED_TO_BOT = "returned_to_bot"
    LLM_FAILURE = "llm_failure"
    UNSUPPORTED_MESSAGE = "unsupported_message"


class ContextEvent(SQLModel, table=True):
    """Append-only: rows are inserted, never updated or deleted."""

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    type: EventType = Field(sa_type=sa.String(32), index=True)
    source: str = Field(max_length=64)
    description: str
    details: dict[str, Any] | None = json_col()
    created_at: datetime = ts(index=True)


class Rep(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=64)
    name: str
    role: Role = Field(default=Role.REP, sa_type=sa.String(8))
    token_hash: str | None = Field(default=None, max_length=128, index=True)
    password_hash: str | None = Field(default=None, max_length=256)
    capacity: int = 5
    open_count: int = 0
    presence: Presence = Field(default=Presence.OFFLINE, sa_type=sa.String(8))
    auto_assign: bool = True
    last_seen_at: datetime | None = ts(nullable=True)
    offline_since: datetime | None = ts(nullable=True)
    created_at: datetime = ts()


class RepQueue(SQLModel, table=True):
    """Membership of a rep in a queue, with the round-robin cursor (last assignment in this queue)."""

    rep_id: str = Field(foreign_key="rep.id", primary_key=True, max_length=64)
    queue: str = Field(primary_key=True, max_length=64, index=True)
    last_assigned_at: datetime | None = ts(nullable=True)
    assigned_total: int = 0


class AssignmentStatus(StrEnum):
    WAITING = "waiting"  # in the queue, no rep yet (nobody eligible, or after hours)
    ACTIVE = "active"  # a rep owns the conversation
    REVOKED = "revoked"  # SLA or offline reassignment took it away
    TRANSFERRED = "transferred"
    RESOLVED = "resolved"
    RETURNED = "returned"  # handed back to the bot


class Assignment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    queue: str = Field(max_length=64, index=True)
    rep_id: str | None = Field(default=None, foreign_key="rep.id", index=True)
    status: AssignmentStatus = Field(sa_type=sa.String(16), index=True)
    reason: str = Field(max_length=32)  # handoff reason, or transfer / sla_revoked / offline
    routing: dict[str, Any] | None = json_col()
    candidates: list[dict[str, Any]] | None = json_col()
    queued_at: datetime = ts()
    assigned_at: datetime | None = ts(nullable=True)
    first_response_at: datetime | None = ts(nullable=True)
    ended_at: datetime | None = ts(nullable=True)
    revocations: int = 0


class Timer(SQLModel, table=True):
    """A durable timer: fired exactly once by whichever process claims it first."""

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32, index=True)
    conversation_id: int | None = Field(default=None, foreign_key="conversation.id", index=True)
    rep_id: str | None = Field(default=None, max_length=64)
    assignment_id: int | None = Field(default=None)
    due_at: datetime = ts(index=True)
    fired_at: datetime | None = ts(nullable=True, index=True)
    cancelled_at: datetime | None = ts(nullable=True)
    payload: dict[str, Any] | None = json_col()
    created_at: datetime = ts()


class AuditEntry(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    actor_id: str = Field(max_length=64, index=True)
    action: str = Field(max_length=32)
    conversation_id: int | None = Field(default=None, index=True)
    details: dict[str, Any] | None = json_col()
    created_at: datetime = ts(index=True)
