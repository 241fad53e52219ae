"""Responder: answers basic questions from the knowledge base, in the customer's language.

Offline it matches the question against the knowledge entries with rapidfuzz (token-set similarity
over accent-folded text) and answers only above the configured confidence; with the model on, it
uses the turn analysis' answer when the model says it can answer from the supplied knowledge. After
`fallbacks_before_handoff` turns it cannot answer, it hands off as `unresolved`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langgraph.runtime import Runtime
from rapidfuzz import fuzz, process

from agents.common import comparable, handoff_request, reply, turn_text
from agents.sentinel.basics import is_acknowledgement, is_greeting, is_pleasantry, is_question, strip_social
from orchestrator.core.config import AppConfig, KnowledgeEntry
from orchestrator.core.context import GraphContext
from orchestrator.core.enums import HandoffReason
from orchestrator.core.state import Outgoing, State

# The latest unanswered questions kept in the state (for the handoff): bounded, as the transcript.
OPEN_QUESTIONS_KEPT = 10
AGENT = "responder"
# Kinds that carry no words we can read: answered with "please type" after the first message.
UNREADABLE = {"unsupported", "unknown", "audio", "sticker"}


@dataclass(frozen=True)
class KnowledgeMatch:
    entry: KnowledgeEntry
    score: float
    question: str


class KnowledgeBase:
    """Index of the configured knowledge entries for fuzzy matching."""

    def __init__(self, entries: list[KnowledgeEntry]) -> None:
        self._choices: list[str] = []
        self._owners: list[KnowledgeEntry] = []
        for entry in entries:
            for q in entry.questions:
                self._choices.append(comparable(q))
                self._owners.append(entry)

    def best(self, text: str) -> KnowledgeMatch | None:
        query = comparable(text)
        if not query or not self._choices:
            return None
        found = process.extractOne(query, self._choices, scorer=fuzz.token_set_ratio)
        if found is None:
            return None
        _choice, score, index = found
        # token_set_ratio is 100 for any subset; demand real overlap for very short queries.
        if len(query.split()) < 2 and score < 100:
            return None
        return KnowledgeMatch(self._owners[index], float(score), self._choices[index])

    def as_text(self, config: AppConfig, language: str) -> str:
        seen: dict[str, str] = {}
        for entry in self._owners:
            seen[entry.id] = (
                f"- {entry.id}: Q: {entry.questions[0]} A: {config.localized(entry.answer, language)}"
            )
        return "\n".join(seen.values())


def knowledge_of(ctx: GraphContext) -> KnowledgeBase:
    if ctx.knowledge is None:
        ctx.knowledge = KnowledgeBase(ctx.config.knowledge)
    kb: KnowledgeBase = ctx.knowledge
    return kb


def menu_message(config: AppConfig, language: str) -> Outgoing:
    return {
        "kind": "buttons",
        "text": config.localized(config.menu.body, language),
        "buttons": [{"id": b.id, "title": b.title} for b in config.menu.buttons],
        "agent": "triage",
    }


async def responder(state: State, runtime: Runtime[GraphContext]) -> dict[str, Any]:
    ctx = runtime.context
    config = ctx.config
    language = state.get("language") or config.default_language
    text = turn_text(state)
    out: list[Outgoing] = list(state.get("outgoing", []))
    if not text:
        incoming = state.get("incoming", [])
        if not state.get("menu_shown"):
            # A first message with no words (a photo, a location, a contact card, an order, a
            # reaction, a voice note): acknowledge it and offer the menu, never leave silence.
            out.append(reply(config.message("media_received", language), agent=AGENT))
            out.append(menu_message(config, language))
            return {"outgoing": out, "menu_shown": True}
        if any(m["kind"] in UNREADABLE for m in incoming):
            out.append(reply(config.message("unsupported_message", language), agent=AGENT))
        return {"outgoing": out}
    if is_acknowledgement(text):
        out.append(reply(config.message("acknowledgement", language), agent=AGENT))
        return {"outgoing": out, "fallbacks": 0}
    analysis = state.get("analysis")
    events = list(state.get("events", []))
    if analysis and analysis.get("can_answer") and analysis.get("answer"):
        confidence = float(analysis.get("answer_confidence") or 0.0)
        if confidence >= config.agents.answer_min_confidence:
            out.append(reply(str(analysis["answer"]), agent=AGENT))
            return {"outgoing": out, "fallbacks": 0}
        # A guess is worse than "I don't know": fall back to the knowledge base, then to a person.
        events.append(
            {
                "agent": AGENT,
                "description": f"model answer withheld: confidence {confidence:.2f} is below "
                f"{config.agents.answer_min_confidence:.2f}",
                "details": {"answer": analysis["answer"], "confidence": confidence},
            }
        )
        analysis = None
    if is_greeting(text):
        # A greeting is answered with the welcome; it is never an unanswered question.
        if state.get("menu_shown"):
            out.append(reply(config.message("greeting", language), agent=AGENT))
            return {"outgoing": out, "events": events}
        out.append(menu_message(config, language))
        return {"outgoing": out, "menu_shown": True, "events": events}
    # "Hi there, what are your prices?": the question is what follows the greeting.
    question = strip_social(text)
    match = knowledge_of(ctx).best(question) if analysis is None else None
    if match is not None and match.score >= config.agents.knowledge_threshold:
        out.append(reply(config.localized(match.entry.answer, language), agent=AGENT))
        event = {
            "agent": AGENT,
            "description": f"answered from knowledge entry {match.entry.id}",
            "details": {"entry": match.entry.id, "score": match.score, "matched": match.question},
        }
        return {"outgoing": out, "fallbacks": 0, "events": [*events, event]}
    if is_pleasantry(question):
        out.append(reply(config.message("acknowledgement", language), agent=AGENT))
        return {"outgoing": out, "fallbacks": 0, "events": events}
    fallbacks = state.get("fallbacks", 0) + 1
    # Hand off on an unanswered question; a statement ("still stuck") gets the fallback reply and
    # the sentinel watches how the customer goes on.
    if fallbacks >= config.agents.fallbacks_before_handoff and is_question(question):
        request = handoff_request(
            reason=HandoffReason.UNRESOLVED,
            state=state,
            signals=[{"kind": "fallback", "score": 1.0, "evidence": text, "rule": f"{fallbacks} fallbacks"}],
        )
        return {"handoff": request, "fallbacks": fallbacks, "events": events}
    out.append(reply(config.message("fallback", language), agent=AGENT))
    if not state.get("menu_shown"):
        out.append(menu_message(config, language))
    open_questions = (
        [*state.get("open_questions", []), text][-OPEN_QUESTIONS_KEPT:]
        if "?" in text
        else state.get("open_questions", [])
    )
    return {
        "outgoing": out,
        "fallbacks": fallbacks,
        "menu_shown": True,
        "open_questions": open_questions,
        "events": events,
    }
