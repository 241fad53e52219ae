"""Handoff agent: completes the handoff request with a summary for the rep, the open questions and
anything the bot promised. Offline the summary is extractive (what the customer said and what was
collected); when the model analysed the turn, it writes the summary (one call), falling back to
the extractive one. The customer-facing message is written by the handoff flow, which knows the
assignment outcome.
"""

from __future__ import annotations

from typing import Any

import structlog
from langgraph.runtime import Runtime

from orchestrator.core.context import GraphContext
from orchestrator.core.state import HandoffRequest, State

log = structlog.get_logger(__name__)
REASON_TEXT = {
    "explicit_request": "asked for a person",
    "frustration": "is frustrated",
    "unresolved": "has a question the bot could not resolve",
    "qualified": "is a qualified lead",
    "menu_selection": "chose a department from the menu",
    "ai_unavailable": "was handed over because the AI model was unavailable",
}


def extractive_summary(state: State, request: HandoffRequest, contact_name: str | None) -> str:
    who = contact_name or "The customer"
    orders = [m["order"] for m in state.get("incoming", []) if m.get("order")]
    if orders:
        parts = [f"{who} sent an order: " + " / ".join(orders) + "."]
    else:
        parts = [f"{who} {REASON_TEXT.get(request['reason'], request['reason'])}."]
    fields = state.get("fields", {})
    if fields:
        parts.append(
            "Known: " + "; ".join(f"{k.replace('_', ' ')}: {v['value']}" for k, v in fields.items()) + "."
        )
    # A turn's text joins the messages of a burst with newlines: each message is quoted on its own.
    said = [line.strip() for t in state.get("customer_texts", []) for line in t.split("\n") if line.strip()]
    said = said[-3:]
    if said:
        parts.append("Last said: " + " / ".join(f"“{_shortened(t, 160)}”" for t in said))
    return " ".join(parts)


def _shortened(text: str, limit: int) -> str:
    """`text`, or its first words up to `limit` characters and "…" (a whole word last)."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip(" ,.;:") + "…"


async def handover(state: State, runtime: Runtime[GraphContext]) -> dict[str, Any]:
    ctx = runtime.context
    request = state.get("handoff")
    if request is None:
        return {}
    completed: HandoffRequest = {**request}
    completed["summary"] = extractive_summary(state, request, ctx.contact_name)
    completed["open_questions"] = list(state.get("open_questions", []))
    # The model writes the summary only on turns it was already consulted on: a turn the
    # deterministic signals decided (an explicit request, a button) costs no model call.
    if ctx.llm is not None and state.get("analysis") is not None:
        from agents.llm import LLMUnavailable, summarize_handoff

        try:
            summary = await summarize_handoff(
                ctx.llm,
                transcript="\n".join(state.get("transcript", [])[-30:]),
                reason=request["reason"],
                fields={k: v["value"] for k, v in state.get("fields", {}).items()},
                usage=ctx.usage,
            )
            completed["summary"] = summary.summary
            completed["open_questions"] = summary.open_questions or completed["open_questions"]
            completed["promises"] = summary.promises
        except LLMUnavailable as exc:
            log.warning("summary_unavailable", error=str(exc))
    return {"handoff": completed, "handed_off": True}
