"""The handoff context: the typed, versioned record a rep gets so the customer never repeats themselves.

It is stored in the append-only context log as the details of a `handoff` event (DESIGN.md,
"The handoff context"). Bump `CONTEXT_VERSION` on any incompatible change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from orchestrator.core.enums import HandoffReason

CONTEXT_VERSION = 1


class Evidence(BaseModel):
    """Why the bot handed off: the triggering message and the signals with their scores."""

    message_id: int | None = None
    text: str | None = None
    signals: list[dict[str, Any]] = Field(default_factory=list)


class CollectedField(BaseModel):
    value: str
    message_id: int | None = Field(default=None, description="id of the message the value came from")
    evidence: str | None = None
    source: str = "rules"  # rules | model | rep


class ContactInfo(BaseModel):
    name: str | None = None
    wa_id: str | None = None
    user_id: str | None = None
    country: str | None = None
    language: str | None = None


class HandoffContext(BaseModel):
    version: int = CONTEXT_VERSION
    conversation_id: int
    reason: HandoffReason
    evidence: Evidence
    fields: dict[str, CollectedField] = Field(default_factory=dict)
    contact: ContactInfo
    referral: dict[str, Any] | None = None
    department_choice: str | None = None
    summary: str
    open_questions: list[str] = Field(default_factory=list)
    promises: list[str] = Field(default_factory=list)
    transcript_ref: str = Field(description="API path of the full transcript")
    turns: int = 0
    llm_calls: int = 0
    conversation_started_at: datetime
    handed_off_at: datetime
