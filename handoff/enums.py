"""Closed vocabularies of the product (DESIGN.md): tests, replay output and metrics use these strings."""

from enum import StrEnum


class HandoffReason(StrEnum):
    EXPLICIT_REQUEST = "explicit_request"
    FRUSTRATION = "frustration"
    UNRESOLVED = "unresolved"
    QUALIFIED = "qualified"
    MENU_SELECTION = "menu_selection"
    AI_UNAVAILABLE = "ai_unavailable"


class Owner(StrEnum):
    BOT = "bot"
    QUEUED = "queued"
    HUMAN = "human"
    CLOSED = "closed"


class Presence(StrEnum):
    ONLINE = "online"
    AWAY = "away"
    BUSY = "busy"
    OFFLINE = "offline"


class Role(StrEnum):
    REP = "rep"
    LEAD = "lead"
    ADMIN = "admin"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class SendStatus(StrEnum):
    """Outbound message lifecycle: ours (pending, accepted, failed) then Meta's (sent < delivered < read)."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    PLAYED = "played"
    FAILED = "failed"
