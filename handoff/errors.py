"""The refusals of the human side, raised on purpose by its flows and queries.

    HandoffError          base: every deliberate refusal; the API maps each subclass to one status
     ├── Unauthenticated  no valid credentials                                           (401)
     │    └── TooManyAttempts  sign-in refused for a while after repeated failures        (429)
     ├── Forbidden        visible, but the actor's role or ownership does not allow this (403)
     │    └── NotOwner    only the owner (or, for some actions, a supervisor) may
     ├── NotFound         no such conversation, rep or queue, or nothing open to act on  (404)
     ├── Conflict         the conversation's (or rep's) state does not allow this now    (409)
     │    └── Unavailable the chosen rep or queue cannot take it (offline, at capacity,
     │                    same queue)
     └── Invalid          the request names something that cannot be (unknown queue...)  (422)
          └── UserError   a request about users that cannot be honoured

None of them derives from `LookupError`, `ValueError` or `KeyError`: a bare one of those is a bug,
and the API answers it with a 500, never with a 404 or a 409 that would hide it.
"""

from __future__ import annotations


class HandoffError(Exception):
    """A deliberate refusal; the message says why (and is shown to the caller)."""


class Unauthenticated(HandoffError):
    """Missing, invalid or expired credentials."""


class TooManyAttempts(Unauthenticated):
    """Too many failed sign-ins for this user lately; `retry_after_s` says when to try again."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Forbidden(HandoffError):
    """The actor may see this, but their role or ownership does not allow the action."""


class NotOwner(Forbidden):
    """Only the conversation's current owner (or, for some actions, a lead or an admin) may do this."""


class NotFound(HandoffError):
    """No such conversation, rep or queue (or not visible to the caller), or nothing open to act on."""


class Conflict(HandoffError):
    """The current state does not allow this now (with the bot, closed, window closed...)."""


class Unavailable(Conflict):
    """The chosen rep or queue cannot take the conversation (offline, at capacity, same queue)."""


class Invalid(HandoffError):
    """The request is well formed but names something that cannot be; `location` says where."""

    def __init__(self, message: str, *, location: str = "body") -> None:
        super().__init__(message)
        self.location = location


class UserError(Invalid):
    """A request about users that cannot be honoured (unknown queue, duplicate id...)."""
