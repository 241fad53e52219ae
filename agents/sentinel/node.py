"""Sentinel node: watches every bot turn for the moment a human is needed.

Deterministic signals run first (explicit request, frustration, repeated unresolved questions); a
turn they decide costs no model call. Only when they find nothing, and the turn is not a trivial
acknowledgement or greeting, does the model (when configured) analyse the turn, once; its analysis is
shared with the qualifier and the responder. A model failure past its retries hands off as
`ai_unavailable`: the customer is never left alone.
"""

from __future__ import annotations

from typing import Any, Literal, cast

import structlog
from langgraph.runtime import Runtime

from agents.common import handoff_request, reply, turn_text
from agents.extract import is_correction
from agents.language import detect_language, rules_cover
from agents.qualifier import collect_fields
from agents.responder import knowledge_of
from agents.sentinel.basics import accepts_offer, is_acknowledgement, is_greeting
from agents.sentinel.detectors import detect_explicit_request, detect_negated_request
from agents.sentinel.frustration import detect_frustration, gives_up_after_a_miss, praise_after_a_miss
from agents.sentinel.loops import detect_loop
from agents.sentinel.signals import Signal, SignalKind
from orchestrator.core.context import GraphContext
from orchestrator.core.enums import HandoffReason
from orchestrator.core.state import State

log = structlog.get_logger(__name__)
AGENT = "sentinel"
FRUSTRATION_THRESHOLD = 0.6
MODEL_FRUSTRATION_THRESHOLD = 0.7
HISTORY = 12


async def perceive(state: State, runtime: Runtime[GraphContext]) -> dict[str, Any]:
    """Book-keeping before the agents: turn counter, language, transcript."""
    text = turn_text(state)
    language = state.get("language") or runtime.context.config.default_language
    if text:
        # The conversation's language holds against a message that is mostly names or one word.
        detected = detect_language(
            text, default="", current=state.get("language"), country=runtime.context.country
        )
        if detected:
            language = detected
    transcript = list(state.get("transcript", []))
    for m in state.get("incoming", []):
        transcript.append(f"customer: {m['text'] or m['reply_title'] or '[' + m['kind'] + ']'}")
    return {"turn": state.get("turn", 0) + 1, "language": language, "transcript": transcript[-40:]}


def _earlier_lines(state: State) -> list[str]:
    """The transcript before this turn (`perceive` has already appended this turn's messages)."""
    transcript = list(state.get("transcript", []))
    this_turn = len(state.get("incoming", []))
    return transcript[:-this_turn] if this_turn else transcript


def _order_handoff(state: State, ctx: GraphContext, orders: list[str]) -> dict[str, Any]:
    """An order from the catalogue is a buyer the bot cannot serve (it takes no payment and
    confirms no stock): the customer is told it arrived and a person takes it, as a qualified lead
    (routed as one: sales by default), with the order's lines as the evidence."""
    signal = Signal(
        kind=SignalKind.ORDER, score=1.0, evidence=" / ".join(orders), rule="an order from the catalogue"
    ).model_dump(mode="json")
    language = state.get("language") or ctx.config.default_language
    request = handoff_request(reason=HandoffReason.QUALIFIED, state=state, signals=[signal])
    # The evidence is the order itself, not the words that came with it in the same turn.
    order = [m for m in state.get("incoming", []) if m["kind"] == "order"][-1]
    request["evidence"] = {**request["evidence"], "message_id": order["id"], "text": orders[-1]}
    update: dict[str, Any] = {
        "signals": [*state.get("signals", []), signal],
        "handoff": request,
        "outgoing": [
            *state.get("outgoing", []),
            reply(ctx.config.message("order_received", language), agent=AGENT),
        ],
    }
    if ctx.referral is not None and not state.get("qualified"):
        # An ad lead's company or use case in the words beside the order is kept.
        update["fields"], update["events"], _ = collect_fields(state, ctx)
    return update


async def sentinel(state: State, runtime: Runtime[GraphContext]) -> dict[str, Any]:
    ctx = runtime.context
    text = turn_text(state)
    previous = state.get("customer_texts", [])
    update: dict[str, Any] = {"customer_texts": ([*previous, text] if text else previous)[-HISTORY:]}
    orders = [m.get("order") or m["text"] or "" for m in state.get("incoming", []) if m["kind"] == "order"]
    if orders:
        return {**update, **_order_handoff(state, ctx, orders)}
    if not text:
        return update
    signals: list[dict[str, Any]] = []
    explicit = detect_explicit_request(text)
    frustration = detect_frustration(text)
    # Right after a miss: the bot's last answer was a fallback, with no "ok" from the customer since.
    just_missed = bool(state.get("fallbacks", 0)) and not (previous and is_acknowledgement(previous[-1]))
    if (frustration is None or frustration.score < FRUSTRATION_THRESHOLD) and just_missed:
        frustration = praise_after_a_miss(text) or gives_up_after_a_miss(text) or frustration
    negated = detect_negated_request(text)
    # "perdón, me equivoqué: es Inmobiliaria Nuevo Horizonte" repeats a name to correct it.
    loop = (
        None
        if is_correction(text)
        else detect_loop(previous, text, similarity=ctx.config.agents.loop_similarity)
    )
    accepted = None
    if explicit is None and state.get("offered_person") == state.get("turn", 0) - 1 and accepts_offer(text):
        # "yes please", right after the bot offered a person ("are you a bot?", a second miss).
        accepted = Signal(
            kind=SignalKind.EXPLICIT_REQUEST, score=0.9, evidence=text, rule="accepts the offer of a person"
        )
    for signal in (explicit, accepted, frustration, negated, loop):
        if signal is not None:
            signals.append(signal.model_dump(mode="json"))
    update["signals"] = [*state.get("signals", []), *signals]
    reason: HandoffReason | None = None
    if explicit is not None or accepted is not None:
        reason = HandoffReason.EXPLICIT_REQUEST
    elif frustration is not None and frustration.score >= FRUSTRATION_THRESHOLD:
        reason = HandoffReason.FRUSTRATION
    elif loop is not None:
        reason = HandoffReason.UNRESOLVED
    if reason is not None:
        update["handoff"] = handoff_request(reason=reason, state=state, signals=signals)
        if ctx.referral is not None and not state.get("qualified"):
            # An ad lead who asks for a person in the same message as their company keeps it.
            update["fields"], update["events"], _ = collect_fields(state, ctx)
        return update
    if ctx.llm is None:
        return update
    # Greetings and thanks need no model call, in the languages the rules know; a language they
    # do not cover goes to the model, which can read it.
    if rules_cover(text) and (is_acknowledgement(text) or is_greeting(text)):
        return update
    from agents.llm import LLMUnavailable, analyze_turn

    language = state.get("language") or ctx.config.default_language
    try:
        analysis = await analyze_turn(
            ctx.llm,
            # The latest message goes once, as the user message: the transcript stops before it.
            transcript="\n".join(_earlier_lines(state)[-20:]),
            customer_message=text,
            pending_field=state.get("asking"),
            known_fields={k: v["value"] for k, v in state.get("fields", {}).items()},
            knowledge=knowledge_of(ctx).as_text(ctx.config, language),
            language_hint=language,
            usage=ctx.usage,
        )
    except LLMUnavailable as exc:
        log.warning("llm_unavailable", error=str(exc), kind=getattr(exc, "kind", None))
        failure: dict[str, Any] = {
            "kind": "ai_unavailable",
            "score": 1.0,
            "evidence": exc.for_people,
            "rule": "model failed",
        }
        update["signals"] = [*update["signals"], failure]
        update["events"] = [
            *update.get("events", []),
            {
                "agent": "sentinel",
                "type": "llm_failure",
                "description": f"the model gave no usable answer: {exc.for_people}",
                "details": {"kind": str(exc.kind), "attempts": exc.attempts, "detail": str(exc)[:500]},
            },
        ]
        update["handoff"] = handoff_request(
            reason=HandoffReason.AI_UNAVAILABLE, state=state, signals=[failure]
        )
        if ctx.referral is not None and not state.get("qualified"):
            # What the model could not read, the rules can: the rep still gets the ad lead's
            # company and use case from this message (not the model's reading of an earlier one).
            unread = cast(State, {**state, "analysis": None, "events": update["events"]})
            update["fields"], update["events"], _ = collect_fields(unread, ctx)
        return update
    data = analysis.model_dump(mode="json")
    update["analysis"] = data
    if analysis.language:
        update["language"] = analysis.language
    model_signals: list[dict[str, Any]] = []
    if analysis.wants_human:
        model_signals.append(
            {
                "kind": "explicit_request",
                "score": 0.9,
                "evidence": analysis.wants_human_evidence or text,
                "rule": "model",
            }
        )
        reason = HandoffReason.EXPLICIT_REQUEST
    elif analysis.frustrated and analysis.frustration_score >= MODEL_FRUSTRATION_THRESHOLD:
        model_signals.append(
            {
                "kind": "frustration",
                "score": analysis.frustration_score,
                "evidence": analysis.frustration_evidence or text,
                "rule": "model",
            }
        )
        reason = HandoffReason.FRUSTRATION
    update["signals"] = [*update["signals"], *model_signals]
    if reason is not None:
        update["handoff"] = handoff_request(reason=reason, state=state, signals=model_signals)
    return update


def after_sentinel(state: State) -> Literal["handoff", "triage"]:
    return "handoff" if state.get("handoff") else "triage"
