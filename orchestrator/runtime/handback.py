"""The bot side of a hand-back (`handoff.handback.BotResumer`): the model writes the briefing when
one is configured. The hand-back's transaction records the briefing (the `returned_to_bot` event) with
the ownership change; the bot's state takes it at the conversation's next turn, in that turn's own
commit (`resume_update`, applied once per hand-back), so no crash can leave the bot resumed without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import ScalarSelect, func, select
from sqlalchemy.orm import aliased
from sqlmodel import col

from orchestrator.core.config import AppConfig
from orchestrator.core.contextlog import ContextEvent
from orchestrator.core.enums import EventType
from orchestrator.core.tables import Conversation
from orchestrator.runtime.graph import thread_config

if TYPE_CHECKING:  # the model client (and openai) load only when a model is configured
    from agents.llm import LLMClient
    from orchestrator.runtime.graph import AgentGraph


@dataclass
class GraphResumer:
    config: AppConfig
    llm: LLMClient | None = None

    async def brief(self, *, rep_lines: Sequence[str], note: str | None) -> str | None:
        if self.llm is None:
            return None
        from agents.llm import LLMUnavailable, brief_return

        try:
            result = await brief_return(
                self.llm, transcript="\n".join(rep_lines[-20:]), human_notes=note or ""
            )
        except LLMUnavailable:
            return None
        facts = [*(result.known_facts or []), result.summary_for_customer or ""]
        return "; ".join(facts).strip("; ") or None


@dataclass
class GraphMemory:
    """The bot's memory of conversations (`handoff.erasure.BotMemory`): their graph checkpoints."""

    graph: AgentGraph

    async def forget(self, conversation_ids: Sequence[int]) -> None:
        if not conversation_ids:
            return
        saver = await self.graph.checkpointer()
        for conversation_id in conversation_ids:
            await saver.adelete_thread(thread_config(conversation_id)["configurable"]["thread_id"])


@dataclass(frozen=True)
class HandBack:
    event_id: int
    briefing: str


def latest_hand_back_id() -> ScalarSelect[int | None]:
    """The id of the conversation's latest hand-back to the bot (its `returned_to_bot` event, which
    the hand-back's transaction recorded), correlated to the `Conversation` of the enclosing query,
    so the turn reads it with the conversation in one statement."""
    returned = aliased(ContextEvent)
    return (
        select(func.max(col(returned.id)))
        .where(
            col(returned.conversation_id) == col(Conversation.id),
            col(returned.type) == EventType.RETURNED_TO_BOT,
        )
        .correlate(Conversation)
        .scalar_subquery()
    )


def hand_back_of(event: ContextEvent | None) -> HandBack | None:
    if event is None or event.id is None:
        return None
    return HandBack(event.id, str((event.details or {}).get("briefing") or ""))


def resume_update(values: dict[str, Any], hand_back: HandBack, config: AppConfig) -> dict[str, Any] | None:
    """The state update that resumes the bot from `hand_back`'s briefing without re-asking what is
    known; None when the state already holds it."""
    if values.get("resumed_from") == hand_back.event_id:
        return None
    if "resumed_from" not in values and values.get("briefing") == hand_back.briefing:
        return None  # applied right after its commit, as hand-backs were before they went with a turn
    update: dict[str, Any] = {
        "briefing": hand_back.briefing,
        "resumed_from": hand_back.event_id,
        "handed_off": False,
        "fallbacks": 0,
        "customer_texts": [],
        "open_questions": [],
        "asking": None,
    }
    flow_name = values.get("flow")
    if flow_name:
        flow = config.qualification.flows.get(flow_name)
        known = set((values.get("fields") or {}).keys())
        if flow is None or set(flow.required) <= known:
            update["flow"] = None  # the lead is qualified: the bot answers, it does not re-qualify
    return update
