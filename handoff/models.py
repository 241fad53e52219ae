"""Tables of the human side: the append-only context log, reps, queue memberships, assignments,
durable timers and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import relationship
from sqlmodel import Field, Relationship, SQLModel

from orchestrator.core.enums import AssignmentStatus, EndReason, Presence, Role
from orchestrator.core.tables import Conversation, json_col, ts


class Rep(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=64)
    name: str
    role: Role = Field(default=Role.REP, sa_type=sa.String(8))
    token_hash: str | None = Field(default=None, max_length=128, index=True)
    # The token the configuration file gave (retired when the file no longer lists this rep).
    config_token_hash: str | None = Field(default=None, max_length=128)
    password_hash: str | None = Field(default=None, max_length=256)
    capacity: int = 5
    open_count: int = 0
    presence: Presence = Field(default=Presence.OFFLINE, sa_type=sa.String(8))
    # Set when a missed heartbeat turned the rep offline: the presence a heartbeat restores.
    expired_presence: Presence | None = Field(default=None, sa_type=sa.String(8))
    auto_assign: bool = True
    last_seen_at: datetime | None = ts(nullable=True)
    offline_since: datetime | None = ts(nullable=True)
    created_at: datetime = ts()


class RepQueue(SQLModel, table=True):
    """Membership of a rep in a queue, with the round-robin cursor (last assignment in this queue)."""

    rep_id: str = Field(foreign_key="rep.id", primary_key=True, max_length=64)
    queue: str = Field(primary_key=True, max_length=64, index=True)
    last_assigned_at: datetime | None = ts(nullable=True)
    # Order of the last assignment in this queue across all processes (a database sequence): round
    # robin ranks by it, so clock differences between processes cannot reorder turns.
    last_turn: int | None = Field(default=None, sa_type=sa.BigInteger)
    assigned_total: int = 0
    # Backlog pacing: how many waiting conversations the rep took in the window started at this time.
    burst_started_at: datetime | None = ts(nullable=True)
    burst_count: int = 0


class Assignment(SQLModel, table=True):
    __table_args__ = (
        # The database itself refuses a second open (waiting or active) assignment of a conversation:
        # no conversation ever has two owners, whatever the code above it does.
        sa.Index(
            "uq_assignment_open_per_conversation",
            "conversation_id",
            unique=True,
            sqlite_where=sa.text("status IN ('waiting', 'active')"),
            postgresql_where=sa.text("status IN ('waiting', 'active')"),
        ),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    queue: str = Field(max_length=64, index=True)
    rep_id: str | None = Field(default=None, foreign_key="rep.id", index=True)
    status: AssignmentStatus = Field(sa_type=sa.String(16), index=True)
    reason: str = Field(max_length=32)  # handoff reason, or transfer / sla_revoked / offline
    routing: dict[str, Any] | None = json_col()  # the routing explanation (rule, inputs), for people
    # Reps who let this conversation lapse or sent it away: no drain hands it back to them.
    excluded_reps: list[str] | None = json_col()
    candidates: list[dict[str, Any]] | None = json_col()
    queued_at: datetime = ts()
    assigned_at: datetime | None = ts(nullable=True)
    first_response_at: datetime | None = ts(nullable=True)
    ended_at: datetime | None = ts(nullable=True)
    end_reason: EndReason | None = Field(default=None, sa_type=sa.String(16))
    revocations: int = 0  # SLA revocations of this handoff so far (carried to the next assignment)
    escalation: int = 0  # 0 normal, 1 the team lead, 2 the catch-all queue
    sla_due_at: datetime | None = ts(nullable=True)  # reply deadline (opening hours only count)
    sla_breached_at: datetime | None = ts(nullable=True)


class Timer(SQLModel, table=True):
    """A durable timer: fired exactly once by whichever process claims it first (see
    handoff/assignment/runner.py)."""

    __table_args__ = (
        # The runner's claim query: due, neither fired nor cancelled.
        sa.Index(
            "ix_timer_pending",
            "due_at",
            sqlite_where=sa.text("fired_at IS NULL AND cancelled_at IS NULL"),
            postgresql_where=sa.text("fired_at IS NULL AND cancelled_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32, index=True)
    # Optional idempotency key: scheduling the same key twice keeps the first timer.
    key: str | None = Field(default=None, max_length=128, unique=True, index=True)
    conversation_id: int | None = Field(default=None, foreign_key="conversation.id", index=True)
    rep_id: str | None = Field(default=None, max_length=64)
    assignment_id: int | None = Field(default=None, foreign_key="assignment.id")
    due_at: datetime = ts(index=True)
    fired_at: datetime | None = ts(nullable=True, index=True)
    cancelled_at: datetime | None = ts(nullable=True)
    fired_by: str | None = Field(default=None, max_length=64)
    attempts: int = 0
    last_error: str | None = None
    payload: dict[str, Any] | None = json_col()
    created_at: datetime = ts()
    # Lets an assignment and its SLA timers be written in one flush (the id is filled in then).
    assignment: Assignment | None = Relationship(sa_relationship=relationship("Assignment"))


class AuditEntry(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    actor_id: str = Field(max_length=64, index=True)
    action: str = Field(max_length=32)
    conversation_id: int | None = Field(default=None, index=True)
    details: dict[str, Any] | None = json_col()
    created_at: datetime = ts(index=True)


# The assignment engine's waiting queue (drain order: priority, then handoff time), kept small by
# indexing only queued conversations. Declared here, with the engine's tables, on `conversation`.
sa.Index(
    "ix_conversation_waiting",
    Conversation.__table__.c.queue,  # type: ignore[attr-defined]
    Conversation.__table__.c.priority,  # type: ignore[attr-defined]
    Conversation.__table__.c.waiting_since,  # type: ignore[attr-defined]
    sqlite_where=sa.text("owner = 'queued'"),
    postgresql_where=sa.text("owner = 'queued'"),
)


# -- the rep workspace in the browser ------------------------------------------------------------
class Note(SQLModel, table=True):
    """A private note on a conversation (never sent to the customer); it travels with the
    conversation through transfers. `mentions`: the rep ids it @mentions, each notified."""

    __table_args__ = {"sqlite_autoincrement": True}  # ids never given again (migration 0014)

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    author_id: str = Field(foreign_key="rep.id", max_length=64)
    text: str
    mentions: list[str] | None = json_col()
    created_at: datetime = ts()


class Mention(SQLModel, table=True):
    """One rep @mentioned in a note: their notification, read or not."""

    note_id: int = Field(foreign_key="note.id", primary_key=True)
    rep_id: str = Field(foreign_key="rep.id", primary_key=True, max_length=64)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    created_at: datetime = ts()
    read_at: datetime | None = ts(nullable=True)


class WebSession(SQLModel, table=True):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored, so a copy of
    the table signs nobody in. `credential` fingerprints the rep's password and API token hashes at
    sign-in: changing either, or disabling the user, ends the session. Sign-out sets `revoked_at`."""

    id: str = Field(primary_key=True, max_length=64)  # sha256 hex of the cookie's token
    rep_id: str = Field(foreign_key="rep.id", max_length=64, index=True)
    csrf_token: str = Field(max_length=64)
    credential: str = Field(max_length=64)
    created_at: datetime = ts()
    expires_at: datetime = ts(index=True)
    revoked_at: datetime | None = ts(nullable=True)


class ConversationRead(SQLModel, table=True):
    """How far a rep has read a conversation: customer messages after `last_message_id` are unread."""

    rep_id: str = Field(foreign_key="rep.id", primary_key=True, max_length=64)
    conversation_id: int = Field(foreign_key="conversation.id", primary_key=True)
    last_message_id: int = 0
    read_at: datetime = ts()


class CannedReply(SQLModel, table=True):
    """A saved reply the team reuses (typed `/` in the composer): team-wide (`queue` null) or for one
    queue's conversations. Its text may hold placeholders filled when inserted (`handoff.canned`)."""

    id: int | None = Field(default=None, primary_key=True)
    shortcut: str = Field(max_length=32, index=True)  # what a rep types after `/`
    title: str = Field(max_length=100)
    text: str
    queue: str | None = Field(default=None, max_length=64, index=True)
    created_by: str = Field(max_length=64)
    updated_by: str = Field(max_length=64)
    created_at: datetime = ts()
    updated_at: datetime = ts()
