"""Return to bot: a rep hands the conversation back; the bot resumes with a briefing of what the
human did and never re-asks what is known (the collected fields stay in the graph state)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlmodel import col

from handoff.assignment import release_capacity
from handoff.errors import Conflict, NotFound, NotOwner
from handoff.models import Assignment, AuditEntry, Rep
from orchestrator.core.contextlog import log_event
from orchestrator.core.enums import AssignmentStatus, EventType, Owner, Role
from orchestrator.core.tables import Conversation, Message
from orchestrator.runtime.graph import thread_config

if TYPE_CHECKING:
    from orchestrator.runtime.container import Service


def offline_briefing(note: str | None, rep_lines: list[str]) -> str:
    parts = []
    if note:
        parts.append(f"Rep's note: {note.strip()}")
    if rep_lines:
        parts.append("The rep told the customer: " + " / ".join(line[:200] for line in rep_lines[-3:]))
    return " ".join(parts) or "A rep handled the conversation and handed it back."


async def hand_back(service: Service, *, conversation_id: int, actor: Rep, note: str | None = None) -> str:
    """Give a human-owned conversation back to the bot. Returns the briefing the bot resumes with."""
    now = service.clock.now()
    async with service.sessions() as session, session.begin():
        conversation = await session.get(Conversation, conversation_id, with_for_update=True)
        if conversation is None:
            raise NotFound(f"conversation {conversation_id} not found")
        is_owner = conversation.owner == Owner.HUMAN and conversation.assignee_id == actor.id
        if not is_owner and actor.role not in (Role.LEAD, Role.ADMIN):
            raise NotOwner("only the owner, a lead or an admin may hand a conversation back to the bot")
        if conversation.owner not in (Owner.HUMAN, Owner.QUEUED):
            raise Conflict(f"the conversation is {conversation.owner}, not with a human")
        rep_lines = [
            m.text or ""
            for m in (
                await session.execute(
                    select(Message)
                    .where(col(Message.conversation_id) == conversation_id, col(Message.sender_type) == "rep")
                    .order_by(col(Message.id))
                )
            ).scalars()
        ]
        active = (
            await session.execute(
                select(Assignment).where(
                    col(Assignment.conversation_id) == conversation_id,
                    col(Assignment.status).in_([AssignmentStatus.ACTIVE, AssignmentStatus.WAITING]),
                )
            )
        ).scalars()
        for assignment in active:
            if assignment.status == AssignmentStatus.ACTIVE and assignment.rep_id:
                await release_capacity(session, rep_id=assignment.rep_id)
            assignment.status, assignment.ended_at = AssignmentStatus.RETURNED, now
            session.add(assignment)
        briefing = offline_briefing(note, rep_lines)
        if service.llm is not None:
            from agents.llm import LLMUnavailable, brief_return

            try:
                result = await brief_return(
                    service.llm, transcript="\n".join(rep_lines[-20:]), human_notes=note or ""
                )
                facts = [*(result.known_facts or []), result.summary_for_customer or ""]
                briefing = "; ".join(facts).strip("; ")
                briefing = briefing or offline_briefing(note, rep_lines)
            except LLMUnavailable:
                pass
        conversation.owner, conversation.assignee_id, conversation.waiting_since = Owner.BOT, None, None
        conversation.updated_at = now
        session.add(conversation)
        session.add(
            AuditEntry(
                actor_id=actor.id,
                action="hand_back",
                conversation_id=conversation_id,
                details={"note": note},
                created_at=now,
            )
        )
        await log_event(
            session,
            conversation_id=conversation_id,
            type=EventType.RETURNED_TO_BOT,
            source=actor.id,
            description=f"{actor.name} handed the conversation back to the bot",
            at=now,
            details={"briefing": briefing, "note": note},
        )
    config = thread_config(conversation_id)
    snapshot = await service.graph.aget_state(config)
    values: dict[str, Any] = snapshot.values or {}
    update: dict[str, Any] = {
        "briefing": briefing,
        "handed_off": False,
        "fallbacks": 0,
        "customer_texts": [],
        "open_questions": [],
        "asking": None,
    }
    flow_name = values.get("flow")
    if flow_name:
        flow = service.config.qualification.flows.get(flow_name)
        known = set((values.get("fields") or {}).keys())
        if flow is None or set(flow.required) <= known:
            update["flow"] = None  # the lead is qualified: the bot answers, it does not re-qualify
    if snapshot.values:
        await service.graph.aupdate_state(config, update)
    return briefing
