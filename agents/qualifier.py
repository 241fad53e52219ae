"""Qualifier: fills the lead fields of the conversation's flow (ad leads: company name, then primary
use case; optional email, business size, budget), one question at a time, several fields from one
message when the customer volunteers them. Each value keeps the message it came from. When every
required field is known, the lead is qualified and handed off.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from agents.common import handoff_request, message_of, reply, turn_text
from agents.extract import confirmed_name, confirms_name, extract_fields
from agents.responder import KEPT, UNREADABLE, knowledge_of
from agents.sentinel.basics import is_announcement, is_greeting, will_get_back
from agents.sentinel.detectors import asks_if_bot
from orchestrator.core.context import GraphContext
from orchestrator.core.enums import HandoffReason
from orchestrator.core.state import FieldRecord, Outgoing, State

AGENT = "qualifier"


# Extraction confidence from which a value counts as clearly introduced (a lead-in such as "our
# company is", a legal suffix); a bare answer to the question is 0.65.
CONFIDENT = 0.85


def _from_model(state: State) -> list[tuple[str, str, str | None]]:
    analysis = state.get("analysis") or {}
    return [(f["name"], f["value"], f.get("evidence")) for f in analysis.get("fields", []) if f.get("value")]


def collect_fields(
    state: State, ctx: GraphContext
) -> tuple[dict[str, FieldRecord], list[dict[str, Any]], list[str]]:
    """The lead fields after this turn (each with the message it came from), the events recording
    what was collected, and the names found in this turn."""
    flow = ctx.config.qualification.flows[state.get("flow") or "ad_lead"]
    fields: dict[str, FieldRecord] = dict(state.get("fields", {}))
    text = turn_text(state)
    asking = state.get("asking")
    events = list(state.get("events", []))
    found: list[tuple[str, str, str | None, str, bool, float | None]] = []
    corrected: set[str] = set()
    if text and not is_greeting(text):
        if state.get("analysis") is not None:
            found = [(n, v, e, "model", True, None) for n, v, e in _from_model(state)]
        else:
            extracted = extract_fields(text, asking=asking, known=frozenset(fields), person=ctx.contact_name)
            found = [
                (
                    x.field,
                    x.value,
                    x.evidence,
                    "rules",
                    x.confidence >= CONFIDENT or x.correction,
                    x.confidence,
                )
                for x in extracted
            ]
            corrected = {x.field for x in extracted if x.correction}
    if (
        text
        and asking == "company_name"
        and "company_name" not in fields
        and not any(name == "company_name" for name, *_ in found)
        and confirms_name(text)
    ):
        # "Buen Día", passed over as a greeting, then "sí, ese es el nombre jaja": the answer before.
        before = state.get("customer_texts", [])[-2:-1]
        named = confirmed_name(before[0]) if before else None
        if named is not None:
            found.append(("company_name", named, text, "rules", True, None))
    wanted = set(flow.required) | set(flow.optional)
    collected: list[str] = []
    for name, value, evidence, source, confident, confidence in found:
        if name not in wanted:
            continue
        # A field already collected is taken again only when it is being asked for, or when the
        # earlier value was a bare answer and this one comes with a clear lead-in.
        earlier = fields.get(name)
        # A correction ("perdón, Viveros del Ebro ...") replaces the value it corrects, however it came.
        # So does a value read more clearly than the one kept ("company: Zaiqa Foods (Pvt.) Ltd"
        # after "Usman here from Lahore").
        replaces = earlier is not None and (
            name in corrected
            or (confident and not earlier.get("confident", True))
            or (confidence is not None and confidence > earlier.get("confidence", 1.0))
        )
        if name in fields and name != asking and not replaces:
            continue
        source_message = message_of(state, evidence)
        message_id = source_message["id"] if source_message else None
        fields[name] = {
            "value": value,
            "message_id": message_id,
            "evidence": evidence,
            "source": source,
            "confident": confident,
        }
        if confidence is not None:
            fields[name]["confidence"] = confidence
        collected.append(name)
        events.append(
            {
                "agent": AGENT,
                "type": "field_collected",
                "description": f"{name} = {value!r}",
                "details": {"field": name, "value": value, "message_id": message_id, "source": source},
            }
        )
    return fields, events, collected


async def qualifier(state: State, runtime: Runtime[GraphContext]) -> dict[str, Any]:
    ctx = runtime.context
    config = ctx.config
    flow = config.qualification.flows[state.get("flow") or "ad_lead"]
    language = state.get("language") or config.default_language
    text = turn_text(state)
    if text and will_get_back(text):
        # "I'll talk to my partner and get back to you": no answer to take, the question waits.
        outgoing = [*state.get("outgoing", []), reply(config.message("see_you", language), agent="responder")]
        return {"outgoing": outgoing}
    fields, events, collected = collect_fields(state, ctx)
    missing = [name for name in flow.required if name not in fields]
    if not missing:
        request = handoff_request(reason=HandoffReason.QUALIFIED, state=state)
        return {"fields": fields, "events": events, "asking": None, "handoff": request, "qualified": True}
    out: list[Outgoing] = list(state.get("outgoing", []))
    kinds = {m["kind"] for m in state.get("incoming", [])}
    if not text and kinds & UNREADABLE:
        # A voice note instead of an answer: the customer is asked to type, then asked again.
        out.append(reply(config.message("unsupported_message", language), agent="responder"))
    elif not text and kinds & KEPT:
        # A photo or a file instead of an answer: it is kept, and the question asked again.
        out.append(reply(config.message("media_received", language), agent="responder"))
    if text and not collected and is_announcement(text):
        # "One quick question first": the customer is heard before the form goes on.
        out.append(reply(config.message("go_ahead", language), agent="responder"))
        return {"fields": fields, "events": events, "asking": missing[0], "outgoing": out}
    offered: dict[str, Any] = {}
    if text and not collected and asks_if_bot(text):
        # "are you a bot?" before the answer: said honestly (a person is offered), then asked again.
        out.append(reply(config.message("bot_identity", language), agent="responder"))
        offered = {"offered_person": state.get("turn", 0)}
    elif text and not collected and not is_greeting(text):
        # A question instead of an answer: answer it if we can, then ask again.
        match = knowledge_of(ctx).best(text)
        if match is not None:
            out.append(reply(config.localized(match.entry.answer, language), agent="responder"))
    question = config.localized(config.qualification.questions[missing[0]], language)
    out.append(reply(question, agent=AGENT))
    return {"fields": fields, "events": events, "asking": missing[0], "outgoing": out, **offered}
