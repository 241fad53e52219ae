"""Multi-step work of the human side, with side effects. The caller owns the transaction, so
"write the handoff context, pause the bot, assign" is a single commit.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime, format_time
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff.assignment import AssignmentOutcome, enqueue
from handoff.models import Rep, RepQueue
from handoff.record import CollectedField, ContactInfo, Evidence, HandoffContext
from handoff.reps import staffed_queues
from handoff.routing import RoutingDecision, RoutingInput, route
from orchestrator.core.config import AppConfig
from orchestrator.core.contextlog import log_event
from orchestrator.core.enums import EventType, HandoffReason, Owner, Presence
from orchestrator.core.phones import calling_code_of
from orchestrator.core.state import FieldRecord, HandoffRequest
from orchestrator.core.tables import Contact, Conversation


@dataclass
class HandoffResult:
    context: HandoffContext
    routing: RoutingDecision
    outcome: AssignmentOutcome
    customer_text: str


# Our Hindi messages are written in Latin script (Hinglish): dates read best in English there.
_DATE_LOCALE = {"hi": "en"}


def opens_phrase(opens_at: datetime, *, now: datetime, zone: ZoneInfo, language: str) -> str:
    """When a closed team is back, as a customer reads it in their language: "today, 09:00",
    "tomorrow, 09:00", else the weekday ("Tuesday, 09:00"), with the team's timezone."""
    locale = Locale.parse(_DATE_LOCALE.get(language, language))
    local, today = opens_at.astimezone(zone), now.astimezone(zone).date()
    days = (local.date() - today).days
    # CLDR's words for today and tomorrow ("hoy", "demain"...); Babel has no public accessor for them.
    relative = locale._data["date_fields"]["day"]["relative"] if "date_fields" in locale._data else {}
    day = relative.get(days) if days in (0, 1) else None
    if day is None:
        day = format_datetime(local, "EEEE", locale=locale)
    return f"{day}, {format_time(local, format='short', locale=locale)} ({zone.key})"


def reopening(config: AppConfig, outcome: AssignmentOutcome, *, at: datetime, language: str) -> str:
    """When the closed team a conversation is held for is back, in the customer's words ("—" when its
    hours never open again)."""
    if outcome.opens_at is None:
        return "—"
    zone = config.queue(outcome.assignment.queue).hours.zone
    return opens_phrase(outcome.opens_at, now=at, zone=zone, language=language)


def customer_message(
    config: AppConfig, *, reason: str, outcome: AssignmentOutcome, language: str, at: datetime
) -> str:
    queue = config.queue(outcome.assignment.queue)
    team = queue.customer_name or queue.name
    if outcome.held:
        opens = reopening(config, outcome, at=at, language=language)
        text = config.message("handoff_after_hours", language, queue_name=team, opens_at=opens)
    elif outcome.rep is not None:
        first_name = outcome.rep.name.split()[0]
        text = config.message("handoff_assigned", language, rep_name=first_name, queue_name=team)
    else:
        text = config.message("handoff_waiting", language, queue_name=team)
    if reason == HandoffReason.AI_UNAVAILABLE:
        text = config.message("ai_unavailable", language) + " " + text
    return text


async def perform_handoff(
    session: AsyncSession,
    *,
    config: AppConfig,
    conversation: Conversation,
    contact: Contact,
    request: HandoffRequest,
    fields: dict[str, FieldRecord],
    language: str,
    llm_calls: int,
    at: datetime,
) -> HandoffResult:
    """Write the handoff context to the log, pause the bot (owner -> queued), route and assign."""
    assert conversation.id is not None
    reason = HandoffReason(request["reason"])
    referral = conversation.referral
    decision = route(
        config,
        RoutingInput(
            reason=reason,
            department_choice=request.get("department_choice"),
            has_referral=referral is not None,
            ad_source_id=(referral or {}).get("source_id"),
            country=contact.country,
            calling_code=calling_code_of(contact.wa_id),
            language=language,
            signals=frozenset(str(s["kind"]) for s in request["evidence"].get("signals", []) if "kind" in s),
            staffed=frozenset(await staffed_queues(session)),
        ),
    )
    context = HandoffContext(
        conversation_id=conversation.id,
        reason=reason,
        evidence=Evidence.model_validate(request["evidence"]),
        fields={name: CollectedField.model_validate(record) for name, record in fields.items()},
        contact=ContactInfo(
            name=contact.name,
            wa_id=contact.wa_id,
            user_id=contact.user_id,
            country=contact.country,
            language=language,
        ),
        referral=referral,
        department_choice=request.get("department_choice"),
        summary=request["summary"],
        open_questions=request["open_questions"],
        promises=request["promises"],
        transcript_ref=f"/api/conversations/{conversation.id}",
        turns=conversation.turns,
        llm_calls=llm_calls,
        conversation_started_at=conversation.created_at,
        handed_off_at=at,
    )
    conversation.handoff_reason = reason
    conversation.handed_off_at = at
    conversation.language = language
    await log_event(
        session,
        conversation_id=conversation.id,
        type=EventType.HANDOFF,
        source="bot",
        description=f"handed off: {reason}",
        at=at,
        details=context.model_dump(mode="json"),
    )
    await log_event(
        session,
        conversation_id=conversation.id,
        type=EventType.ROUTED,
        source="router",
        description=f"routed to {decision.queue} ({decision.rule})",
        at=at,
        details=decision.as_dict(),
    )
    outcome = await enqueue(
        session,
        config=config,
        conversation=conversation,
        queue=decision.queue,
        reason=str(reason),
        routing=decision.as_dict(),
        at=at,
    )
    text = customer_message(config, reason=reason, outcome=outcome, language=language, at=at)
    return HandoffResult(context=context, routing=decision, outcome=outcome, customer_text=text)


async def rehearse_handoff(
    sessions: async_sessionmaker[AsyncSession], *, config: AppConfig, at: datetime
) -> HandoffResult:
    """One handoff, assigned, in a transaction that is rolled back: what a process's first handoff
    costs once (SQLAlchemy configuring its mappers and compiling each statement of the path) is paid
    at startup instead of by the first customers. The customer, conversation, queue and rep are made
    up inside the transaction (random keys, a queue of their own), so no row another transaction can
    see is read for update or changed, and nothing is published: events go out after a commit. The
    configuration's routing rules are left out (a rule that refines any English handoff to a real
    queue would otherwise take the rehearsal there, to real reps): the customer's choice of the
    rehearsal's queue, or the fallback, which is that queue too, is all that routes it."""
    tag = secrets.token_hex(6)
    queue = f"rehearsal_{tag}"
    data = config.model_dump(mode="json")
    data["queues"] = [*data["queues"], {"slug": queue, "name": "Rehearsal"}]
    data["routing"] = {**data["routing"], "rules": [], "refine": [], "fallback": queue}
    rehearsal = AppConfig.model_validate(data)
    async with sessions() as session:
        await session.begin()
        try:
            rep = Rep(
                id=f"rehearsal-{tag}",
                name="Rehearsal",
                presence=Presence.ONLINE,
                last_seen_at=at,
                created_at=at,
            )
            contact = Contact(wa_id=f"0{tag}", name="Rehearsal", created_at=at)
            session.add_all([rep, RepQueue(rep_id=rep.id, queue=queue), contact])
            await session.flush()
            assert contact.id is not None
            # As a conversation the bot has talked in: its language known, so the handoff writes
            # the columns a real one writes (the statement the rehearsal compiles is theirs).
            conversation = Conversation(
                contact_id=contact.id, owner=Owner.BOT, language="en", created_at=at, updated_at=at, turns=1
            )
            session.add(conversation)
            await session.flush()
            result = await perform_handoff(
                session,
                config=rehearsal,
                conversation=conversation,
                contact=contact,
                request={
                    "reason": HandoffReason.MENU_SELECTION,
                    "department_choice": queue,
                    "evidence": {"message_id": None, "text": "", "signals": []},
                    "summary": "",
                    "open_questions": [],
                    "promises": [],
                },
                fields={},
                language="en",
                llm_calls=0,
                at=at,
            )
            await session.flush()
        finally:
            await session.rollback()
    return result
