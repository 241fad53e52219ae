"""Closed vocabularies of the product (DESIGN.md): tests, replay output and metrics use these strings."""

from enum import StrEnum


class HandoffReason(StrEnum):
    EXPLICIT_REQUEST = "explicit_request"
    FRUSTRATION = "frustration"
    UNRESOLVED = "unresolved"
    QUALIFIED = "qualified"
    MENU_SELECTION = "menu_selection"
    AI_UNAVAILABLE = "ai_unavailable"


class SignalKind(StrEnum):
    """What a signal of the sentinel is about (stored in a handoff's evidence; routing rules can
    match it)."""

    EXPLICIT_REQUEST = "explicit_request"
    FRUSTRATION = "frustration"
    LOOP = "loop"
    NEGATED_REQUEST = "negated_request"
    ACKNOWLEDGEMENT = "acknowledgement"
    ORDER = "order"  # a cart sent from the business's catalogue


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
    SENDING = "sending"  # claimed by a sender (see orchestrator.outbox)
    ACCEPTED = "accepted"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    PLAYED = "played"
    FAILED = "failed"


# How far a sent message has got: statuses arrive out of order, and a message only moves forward.
STATUS_RANK = {
    SendStatus.PENDING: 0,
    SendStatus.ACCEPTED: 1,
    SendStatus.SENT: 2,
    SendStatus.DELIVERED: 3,
    SendStatus.READ: 4,
    SendStatus.PLAYED: 5,
}


class InboxOutcome(StrEnum):
    """What applying a delivered item did."""

    STORED = "stored"  # a new message, or a status recorded
    DUPLICATE = "duplicate"  # already stored (Meta delivers at least once)
    REJECTED = "rejected"  # could not be used: kept with its error, shown to reps when the sender is known


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
    SLA_WARNING = "sla_warning"
    REASSIGNED = "reassigned"
    TRANSFERRED = "transferred"
    REP_REPLY = "rep_reply"
    SEND_FAILED = "send_failed"
    MESSAGE_SENT = "message_sent"  # a rep's message accepted by WhatsApp (it was `pending` until then)
    RESOLVED = "resolved"
    RETURNED_TO_BOT = "returned_to_bot"
    LLM_FAILURE = "llm_failure"
    UNSUPPORTED_MESSAGE = "unsupported_message"
    NOTE_ADDED = "note_added"  # a private note on the conversation (rep workspace)
    MENTIONED = "mentioned"  # a rep was @mentioned in a note: addressed to them
    MEDIA_STORED = "media_stored"  # an inbound photo, voice note, video or document was fetched
    MEDIA_FAILED = "media_failed"  # it could not be fetched (the reason is on the media row)
    NUMBER_CHANGED = "number_changed"  # WhatsApp said the customer changed their number


class AssignmentStatus(StrEnum):
    WAITING = "waiting"  # in the queue, no rep yet (nobody eligible, or after hours)
    ACTIVE = "active"  # a rep owns the conversation
    REVOKED = "revoked"  # SLA or offline reassignment took it away
    TRANSFERRED = "transferred"
    RESOLVED = "resolved"
    RETURNED = "returned"  # handed back to the bot


class EndReason(StrEnum):
    """Why an assignment ended (metrics count reassignments and SLA breaches from these)."""

    SLA = "sla"  # no rep reply within the SLA: revoked
    OFFLINE = "offline"  # the rep was offline too long: requeued
    REASSIGNED = "reassigned"  # a lead moved it to another rep
    TRANSFERRED = "transferred"  # moved to another queue
    RESOLVED = "resolved"
    RETURNED = "returned"


class TimerKind(StrEnum):
    SLA_WARNING = "sla_warning"
    SLA = "sla"
    OFFLINE = "offline"
    QUEUE_OPEN = "queue_open"


class Action(StrEnum):
    """What a rep, lead or admin may try to do with a conversation (the authorization policy)."""

    VIEW = "view"
    REPLY = "reply"
    TRANSFER = "transfer"
    REASSIGN = "reassign"
    RESOLVE = "resolve"
    HAND_BACK = "hand_back"


class SearchMatch(StrEnum):
    """What a workspace search matched in a conversation."""

    NAME = "name"  # the contact's name
    NUMBER = "number"  # the contact's number
    MESSAGE = "message"  # the text of one of its messages


class MediaStatus(StrEnum):
    """Where a message's media is (see orchestrator.media)."""

    PENDING = "pending"  # inbound: to be fetched from the Graph API
    FETCHING = "fetching"  # claimed by a fetcher, until its claim lapses
    STORED = "stored"  # the bytes are in the database
    FAILED = "failed"  # could not be fetched: `error` says why; retried while `next_attempt_at` is set
    EXPIRED = "expired"  # the bytes were removed by retention (`retention_media_days`); the row stays
