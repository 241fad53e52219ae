"""Graph state, checkpointed per conversation (thread id = conversation id).

Keys marked *per turn* are reset by the caller's input at each turn; the rest accumulate.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict


class TurnMessage(TypedDict):
    id: int
    kind: str
    text: str | None
    reply_id: str | None
    reply_title: str | None
    # An order from the catalogue, in one line ("3 × HAMBURGER at 30.00 ILS; total 90.00 ILS").
    order: NotRequired[str]


class FieldRecord(TypedDict):
    value: str
    message_id: int | None
    evidence: str | None
    source: str
    # False for a value taken from a bare answer ("omg ok so" to "what's your company?"), which a
    # later value with a clear lead-in ("we're called Coil & Crown") replaces.
    confident: NotRequired[bool]
    # How clearly the rules read it (0..1): a later value read more clearly ("company: Zaiqa Foods"
    # after "Usman here from Lahore") replaces it.
    confidence: NotRequired[float]


class Outgoing(TypedDict):
    kind: Literal["text", "buttons"]
    text: str
    buttons: NotRequired[list[dict[str, str]]]
    agent: str


class HandoffRequest(TypedDict):
    reason: str
    department_choice: str | None
    evidence: dict[str, Any]
    summary: str
    open_questions: list[str]
    promises: list[str]


class State(TypedDict, total=False):
    # per turn (input)
    incoming: list[TurnMessage]
    consumed: list[int]  # ids of `incoming`: a checkpoint ahead of the database is recognised by them
    outgoing: list[Outgoing]
    handoff: HandoffRequest | None
    signals: list[dict[str, Any]]
    events: list[dict[str, Any]]
    analysis: dict[str, Any] | None
    # accumulated
    turn: int
    language: str
    flow: str | None
    fields: dict[str, FieldRecord]
    asking: str | None
    customer_texts: list[str]
    transcript: list[str]
    fallbacks: int
    open_questions: list[str]
    menu_shown: bool
    offered_person: int | None  # the turn at which the bot last offered to bring in a person
    answered: int | None  # the turn at which the bot last answered a question (knowledge, model)
    answered_entry: str | None  # the knowledge entry of that answer, when it came from one
    # How many times in a row before that answer the customer had asked the same thing: one when it
    # asked again what the bot had missed or answered with the same entry the turn before.
    asked_before: int
    handed_off: bool
    qualified: bool
    briefing: str | None
    resumed_from: int | None  # the hand-back (context-log event id) whose briefing the state holds
    llm_calls: int


def turn_input(incoming: list[TurnMessage]) -> State:
    """The graph input for one turn: the new messages, with every per-turn key reset."""
    return {
        "incoming": incoming,
        "consumed": [m["id"] for m in incoming],
        "outgoing": [],
        "handoff": None,
        "signals": [],
        "events": [],
        "analysis": None,
    }
