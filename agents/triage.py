"""Triage: decides where a bot turn goes: a menu choice hands off to that department, an ad lead
goes to the qualifier, everything else to the responder. Button and list replies are matched to the
configured menu by reply id first, then by title (the replay contract and older clients send titles).
"""

from __future__ import annotations

from typing import Any, Literal

from langgraph.runtime import Runtime

from agents.common import handoff_request
from orchestrator.core.context import GraphContext
from orchestrator.core.enums import HandoffReason
from orchestrator.core.state import State

REPLY_KINDS = {"button_reply", "list_reply", "template_button"}


async def triage(state: State, runtime: Runtime[GraphContext]) -> dict[str, Any]:
    ctx = runtime.context
    # The menu choice of this turn's messages, also when the customer typed their question right
    # after the tap and both came in one burst ("Support" + "my invoice export fails").
    last = next((m for m in reversed(state.get("incoming", [])) if m["kind"] in REPLY_KINDS), None)
    if last is not None:
        button = ctx.config.button_for(reply_id=last["reply_id"], title=last["reply_title"] or last["text"])
        if button is not None:
            signal = {
                "kind": "menu_selection",
                "score": 1.0,
                "evidence": button.title,
                "rule": f"menu button {button.id}",
            }
            request = handoff_request(
                reason=HandoffReason.MENU_SELECTION,
                state=state,
                signals=[signal],
                department_choice=button.queue,
            )
            return {"handoff": request, "signals": [*state.get("signals", []), signal]}
    flow = state.get("flow")
    if flow is None and ctx.referral is not None and not state.get("qualified"):
        flow = "ad_lead"
    return {"flow": flow}


def after_triage(state: State) -> Literal["handoff", "qualifier", "responder"]:
    if state.get("handoff"):
        return "handoff"
    # A flow (set from the ad referral) means qualification; flows are named in the config.
    return "qualifier" if state.get("flow") else "responder"
