"""Routing: which queue a handed-off conversation goes to, and why.

Policy order (DESIGN.md), first match wins; every decision records the rule that matched:
  1. the customer's explicit department choice (reply button or list row);
  2. contact metadata rules from the configuration (ad referral, ad/campaign id, country, calling
     code, language, the handoff's reason and signals, e.g. an order from the catalogue);
  3. the handoff reason's default queue (`qualified` -> sales);
  4. the fallback (catch-all) queue.
Then `refine` rules may narrow the chosen queue (a sales-bound +44 number -> UK Account Executives).
Last, a queue no rep who can sign in is a member of gives way to the fallback queue, when someone is
in that one (`unstaffed_to_fallback`): a customer is never left waiting where nobody can answer.
A department choice naming no routable queue (unknown, or transfers only) falls through to step 2.
The decision records the inputs it saw, the stage and rule that matched, an explanation line per
step, and the waiting-queue priority (the matching rule's, else the reason's, else 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator.core.config import AppConfig, RuleCondition
from orchestrator.core.enums import HandoffReason


@dataclass(frozen=True)
class RoutingInput:
    reason: HandoffReason
    department_choice: str | None = None
    has_referral: bool = False
    ad_source_id: str | None = None
    country: str | None = None
    calling_code: int | None = None
    language: str | None = None
    signals: frozenset[str] = frozenset()  # kinds of the handoff's signals: order, frustration, ...
    staffed: frozenset[str] | None = None  # queues a rep who can sign in is a member of; None: unknown


@dataclass
class RoutingDecision:
    queue: str
    stage: str  # choice | rule | reason_default | fallback
    rule: str
    explanation: list[str] = field(default_factory=list)
    priority: int = 0
    inputs: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "queue": self.queue,
            "stage": self.stage,
            "rule": self.rule,
            "explanation": self.explanation,
            "priority": self.priority,
            "inputs": self.inputs,
        }


def _matches(when: RuleCondition, inp: RoutingInput, queue: str | None) -> bool:
    checks: list[bool] = []
    if when.has_referral is not None:
        checks.append(inp.has_referral == when.has_referral)
    if when.ad_source_id is not None:
        checks.append(inp.ad_source_id in when.ad_source_id)
    if when.country is not None:
        checks.append(inp.country in when.country)
    if when.calling_code is not None:
        checks.append(inp.calling_code in when.calling_code)
    if when.language is not None:
        checks.append(inp.language in when.language)
    if when.reason is not None:
        checks.append(inp.reason in when.reason)
    if when.signal is not None:
        checks.append(not inp.signals.isdisjoint(str(kind) for kind in when.signal))
    if when.queue is not None:
        checks.append(queue in when.queue)
    return bool(checks) and all(checks)


def _routable(config: AppConfig, slug: str) -> bool:
    try:
        return not config.queue(slug).transfers_only
    except KeyError:
        return False


def route(config: AppConfig, inp: RoutingInput) -> RoutingDecision:
    routing = config.routing
    why: list[str] = []
    decision: RoutingDecision | None = None
    priority: int | None = None
    # 1. explicit department choice
    if inp.department_choice:
        if _routable(config, inp.department_choice):
            why.append(f"customer chose {inp.department_choice}")
            decision = RoutingDecision(inp.department_choice, "choice", "department_choice", why)
        else:
            why.append(f"customer chose {inp.department_choice!r}, which is not a routable queue")
    # 2. contact metadata rules
    if decision is None:
        for rule in routing.rules:
            if _matches(rule.when, inp, None):
                why.append(f"rule {rule.name} matched")
                decision = RoutingDecision(rule.queue, "rule", rule.name, why)
                priority = rule.priority
                break
        else:
            why.append("no metadata rule matched")
    # 3. the handoff reason's default
    if decision is None and inp.reason in routing.reason_defaults:
        slug = routing.reason_defaults[inp.reason]
        why.append(f"default queue for reason {inp.reason}")
        decision = RoutingDecision(slug, "reason_default", f"reason:{inp.reason}", why)
    # 4. catch-all
    if decision is None:
        why.append("fell through to the catch-all queue")
        decision = RoutingDecision(routing.fallback, "fallback", "fallback", why)
    # Refinements (first match wins), e.g. sales-bound +44 -> uk_sales.
    for rule in routing.refine:
        if _matches(rule.when, inp, decision.queue):
            why.append(f"refined {decision.queue} -> {rule.queue} by {rule.name}")
            decision.queue = rule.queue
            decision.rule = f"{decision.rule}+{rule.name}"
            if rule.priority is not None:
                priority = rule.priority
            break
    if (
        routing.unstaffed_to_fallback
        and inp.staffed is not None
        and decision.queue not in inp.staffed
        and decision.queue != routing.fallback
        and routing.fallback in inp.staffed
    ):
        why.append(f"nobody who can sign in is in {decision.queue}: sent to {routing.fallback} instead")
        decision.queue = routing.fallback
        decision.rule = f"{decision.rule}+unstaffed"
    if priority is None:
        priority = routing.reason_priority.get(inp.reason, 0)
    decision.priority = priority
    decision.inputs = {
        "reason": str(inp.reason),
        "department_choice": inp.department_choice,
        "has_referral": inp.has_referral,
        "ad_source_id": inp.ad_source_id,
        "country": inp.country,
        "calling_code": inp.calling_code,
        "language": inp.language,
        "signals": sorted(inp.signals),
    }
    return decision
