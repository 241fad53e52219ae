"""The workspace pages' frame: who is signed in (`page_user`), the templates and how a page is
rendered (security headers, the helpers templates use)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path as FilePath
from typing import Annotated, Any

from babel import Locale
from babel.numbers import UnknownCurrencyError, format_currency
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from sqlalchemy import func, select
from sqlmodel import col

from handoff import notes
from handoff.api.deps import Actor
from handoff.api.reads import (
    WorkspaceService,
    WorkspaceServiceDep,
)
from handoff.api.schemas import MessageRef
from handoff.models import Rep, WebSession
from handoff.notify import streamed
from handoff.policy import viewer_of
from handoff.web import session as web_session
from orchestrator.channels.whatsapp.client import describe_failure
from orchestrator.core.contextlog import ContextEvent
from orchestrator.core.enums import EventType, Presence, Role

HERE = FilePath(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")
HEARTBEAT_S = 30  # the page's heartbeat interval; the service's presence TTL is 90 s by default
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class SignInRequired(Exception):
    """No valid session: pages redirect to the sign-in page, fragments answer 401 + HX-Redirect."""


@dataclass(frozen=True)
class PageUser:
    actor: Actor
    session: WebSession
    # The newest context-log entry when the page's data was read: its event stream starts after it,
    # so what happens between the render and the stream's connection still reaches the page.
    events_seen: int | None = None

    @property
    def rep(self) -> Rep:
        return self.actor.rep

    @property
    def csrf(self) -> str:
        return self.session.csrf_token

    @property
    def supervisor(self) -> bool:
        return self.actor.role in (Role.LEAD, Role.ADMIN)


async def page_user(request: Request, service: WorkspaceServiceDep) -> PageUser:
    token = request.cookies.get(web_session.COOKIE)
    if token:
        async with service.sessions() as session:
            found = await web_session.find_session(session, token=token, at=service.clock.now())
            if found is not None:
                rep, row = found
                actor = Actor(rep=rep, viewer=await viewer_of(session, rep=rep))
                # Read before the handler reads the page's data (a whole page, not an htmx fragment).
                seen = None
                if request.method == "GET" and "HX-Request" not in request.headers:
                    seen = await session.scalar(select(func.max(col(ContextEvent.id)))) or 0
                return PageUser(actor=actor, session=row, events_seen=seen)
    raise SignInRequired


UserDep = Annotated[PageUser, Depends(page_user)]


# -- presentation helpers --------------------------------------------------------------------------
def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d {seconds % 86400 // 3600}h"


def note_html(text: str) -> Markup:
    """A note's text, escaped, with its @mentions marked."""
    return Markup(
        notes.MENTION.sub(lambda m: f'<span class="mention">@{m.group(1)}</span>', str(escape(text)))
    )


MEDIA_KINDS = frozenset({"image", "audio", "video", "document", "sticker", "location", "contacts"})
# What the page listens for on the stream (everything the stream carries).
STREAM_TYPES = [str(t) for t in EventType if streamed(str(t))]


def quoted(ref: MessageRef | None) -> str:
    """A message replied to or reacted to, in a few words: “its text…”, or what it was."""
    if ref is None:
        return "a message"
    if ref.excerpt and not (ref.excerpt.startswith("[") and ref.excerpt.endswith("]")):
        return f"“{ref.excerpt}”"
    whose = "their" if ref.direction == "inbound" else "your" if ref.sender_type == "rep" else "the bot's"
    return f"{whose} {ref.kind.replace('_', ' ')}" if ref.kind != "text" else f"{whose} message"


def message_line(
    kind: str, text: str | None, replying_to: MessageRef | None = None, reaction: str | None = None
) -> str:
    """What the transcript says for a customer's message without a file: its text, or for the kinds
    the channel renders as a token ("😮 reaction to wamid...", "[unsupported: poll]") what a rep
    should read instead. A reaction names the message it is on when the conversation holds it; its
    emoji is the stored message's (`reaction`), or read from the rendering when that is gone."""
    text = text or f"[{kind}]"
    if kind == "reaction":
        if reaction is None:
            emoji, found, _target = text.partition(" reaction to ")
            reaction = emoji if found else ""
        if reaction:
            return f"Reacted {reaction} to {quoted(replying_to)}"
        return f"Removed their reaction to {quoted(replying_to)}" if replying_to else "Removed a reaction"
    if kind == "unsupported":
        inner = text.removeprefix("[unsupported").strip(":] ")
        what = f"a {inner} message" if inner else "a message"
        return f"Sent {what} that WhatsApp does not pass on to businesses: ask them to send it another way."
    return text


def money(amount: float | None, currency: str | None) -> str:
    """An order's price as a rep reads it ("₪30.00", "$12.50", "30 XYZ" for a code Babel does not
    know); empty when there is none."""
    if amount is None:
        return ""
    if not currency:
        return f"{amount:g}"
    try:
        return format_currency(amount, currency, locale=_ENGLISH)
    except (ValueError, UnknownCurrencyError):  # not an ISO 4217 code Babel knows
        return f"{amount:g} {currency}"


failure_reason = describe_failure  # a failed send's reason, for a rep


REASONS = {
    "explicit_request": "The customer asked for a person",
    "frustration": "The customer is frustrated",
    "unresolved": "The bot could not help",
    "qualified": "A qualified lead",
    "menu_selection": "Chosen from the menu",
    # The model failing past its retries, the assistant crashing, or its reply not delivered: the
    # signal in the panel says which.
    "ai_unavailable": "The bot could not continue",
}
# What each kind of signal in a handoff's evidence means, for a person (the slug stays as a tooltip).
SIGNAL_LABELS = {
    "explicit_request": "Asked for a person",
    "negated_request": "Said they do not want a person",
    "frustration": "Frustration",
    "loop": "Asked the same again",
    "acknowledgement": "Acknowledgement",
    "fallback": "The bot had no answer",
    "menu_selection": "Menu choice",
    "ai_unavailable": "The model did not answer",
    "internal_error": "The assistant failed",
    "send_failed": "The bot's reply was not delivered",
}
FIELD_LABELS = {
    "company_name": "Company",
    "use_case": "Primary use case",
    "email": "Email",
    "business_size": "Business size",
    "budget": "Budget",
}


_ENGLISH = Locale("en")


def country_name(code: str | None) -> str:
    """'BR' -> 'Brazil' (the code itself when unknown, a dash when there is none)."""
    if not code:
        return "—"
    return str(_ENGLISH.territories.get(code.upper()) or code)


def language_name(code: str | None) -> str:
    """'pt' -> 'Portuguese' (the code itself when unknown, a dash when there is none)."""
    if not code:
        return "—"
    return str(_ENGLISH.languages.get(code.lower()) or code)


_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?")
_QUEUE_KEYS = ("queue", "from_queue", "to_queue")


def _hm(at: datetime | None) -> str:
    return at.strftime("%d %b %H:%M UTC") if at else "—"


# The details that name a rep by id; the transcript names them as people ("reassigned it from harry
# to sam" reads "from Harry Jones to Sam Patel").
REP_KEYS = ("rep_id", "from_rep_id", "to_rep_id", "revoked_rep_id", "previous_rep_id")


def event_line(
    description: str,
    event_type: str,
    details: dict[str, Any],
    queues: dict[str, str],
    reps: Mapping[str, str] | None = None,
) -> str:
    """An event's description as a rep reads it on the transcript: the log writes queue slugs, rep
    ids, reason codes and ISO times (for the API and the audit); the page shows the queue's name,
    the rep's name (`reps`), what the reason means and the time as the page writes times. A rep's
    own words (a transfer's note) are shown as written."""
    line, words = description, ""
    note = details.get("note")
    if isinstance(note, str) and note and description.endswith(f": {note}"):
        line, words = description[: -len(note) - 2], f": {note}"
    for key in _QUEUE_KEYS:
        slug = details.get(key)
        if isinstance(slug, str) and slug in queues:
            line = re.sub(rf"(?<![\w-]){re.escape(slug)}(?![\w-])", queues[slug], line)
    for key in REP_KEYS:
        rep_id = details.get(key)
        name = (reps or {}).get(rep_id) if isinstance(rep_id, str) else None
        if name and isinstance(rep_id, str):
            line = line.replace(f"{name} ({rep_id})", name)  # "Assigned to Gus Okafor (gus)"
            line = re.sub(rf"(?<![\w-]){re.escape(rep_id)}(?![\w-])", name, line)
    if event_type == EventType.HANDOFF:
        reason = details.get("reason")
        if isinstance(reason, str) and reason in REASONS:
            line = line.replace(reason, REASONS[reason][0].lower() + REASONS[reason][1:])
    line = _ISO_TIME.sub(lambda m: _hm(_utc(datetime.fromisoformat(m.group(0)))), line)
    return line[:1].upper() + line[1:] + words


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _context(
    request: Request, user: PageUser | None, service: WorkspaceService, **extra: Any
) -> dict[str, Any]:
    now = service.clock.now()
    queues = {q.slug: q.name for q in service.config.queues}

    def ago(at: datetime | None) -> str:
        return _duration((now - at).total_seconds()) if at else "—"

    def said(event: Any, reps: Mapping[str, str] | None = None) -> str:
        return event_line(event.description, str(event.type), event.details or {}, queues, reps)

    def closed_until(queue: str | None) -> datetime | None:
        """When a queue that is closed now opens again (None: open, unknown or no opening)."""
        if queue not in queues:
            return None
        hours = service.config.queue(queue).hours
        return None if hours.is_open(now) else hours.next_opening(now)

    return {
        "request": request,
        "user": user,
        "now": now,
        "ago": ago,
        "hm": _hm,
        "duration": _duration,
        "failure_reason": failure_reason,
        "message_line": message_line,
        "quoted": quoted,
        "money": money,
        "note_html": note_html,
        "media_kinds": MEDIA_KINDS,
        "stream_types": STREAM_TYPES,
        "reasons": REASONS,
        "signal_labels": SIGNAL_LABELS,
        "country_name": country_name,
        "language_name": language_name,
        "field_labels": FIELD_LABELS,
        "queues": queues,
        "said": said,
        "closed_until": closed_until,
        "heartbeat_s": HEARTBEAT_S,
        "presences": [str(p) for p in Presence],
        **extra,
    }


def render(
    request: Request,
    template: str,
    service: WorkspaceService,
    user: PageUser | None,
    status_code: int = 200,
    **extra: Any,
) -> HTMLResponse:
    response = templates.TemplateResponse(
        request, template, _context(request, user, service, **extra), status_code=status_code
    )
    # Pages carry the session's CSRF token and private data: never cached, never framed, and only
    # this server's own scripts run (no inline script, no other origin).
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = CSP
    return response
