"""The bot side of a hand-back (`handoff.handback.BotResumer`): the model writes the briefing when
one is configured, and the graph's state for the conversation is updated so the bot resumes from
it without re-asking what is known."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orchestrator.core.config import AppConfig
from orchestrator.runtime.graph import AgentGraph, thread_config

if TYPE_CHECKING:  # the model client (and openai) load only when a model is configured
    from agents.llm import LLMClient


@dataclass
class GraphResumer:
    graph: AgentGraph
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

    async def resume(self, *, conversation_id: int, briefing: str) -> None:
        config = thread_config(conversation_id)
        snapshot = await self.graph.aget_state(config)
        if not snapshot.values:
            return  # the bot never ran for this conversation: nothing to resume
        values: dict[str, Any] = snapshot.values
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
            flow = self.config.qualification.flows.get(flow_name)
            known = set((values.get("fields") or {}).keys())
            if flow is None or set(flow.required) <= known:
                update["flow"] = None  # the lead is qualified: the bot answers, it does not re-qualify
        await self.graph.aupdate_state(config, update)
