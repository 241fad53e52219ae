"""Routing rules in the precedence of DESIGN.md, each decision stored with the rule that matched."""

from __future__ import annotations

from handoff.models import Rep
from handoff.routing import RoutingInput, route
from orchestrator.core.enums import EventType, HandoffReason, SignalKind
from orchestrator.core.phones import calling_code_of, country_of
from tests.factories import AD_REFERRAL
from tests.handoff.conftest import World, WorldFactory, configured, uk_number, us_number


def test_country_comes_from_the_phone_number() -> None:
    assert country_of("447700900123") == "GB"  # a reserved UK range still maps to GB
    assert country_of("5511987654321") == "BR"
    assert country_of("12025550142") == "US"
    assert country_of("not a number") is None


def test_calling_code_comes_from_the_phone_number_whatever_the_region() -> None:
    assert country_of("447911123456") == "GG"  # a Guernsey mobile shares the UK's +44
    assert calling_code_of("447911123456") == 44
    assert calling_code_of("447700900123") == 44
    assert calling_code_of("12025550142") == 1
    assert calling_code_of("not a number") is None


def test_sales_bound_uk_number_is_refined_to_uk_account_executives() -> None:
    decision = route(
        configured(), RoutingInput(reason=HandoffReason.QUALIFIED, country="GB", calling_code=44)
    )
    assert decision.queue == "uk_sales"
    assert decision.stage == "reason_default"
    assert decision.rule == "reason:qualified+uk_numbers_to_uk_account_executives"
    assert any("refined sales -> uk_sales" in line for line in decision.explanation)


def test_uk_customer_who_chose_support_stays_in_support() -> None:
    decision = route(
        configured(),
        RoutingInput(
            reason=HandoffReason.MENU_SELECTION, department_choice="support", country="GB", calling_code=44
        ),
    )
    assert (decision.queue, decision.stage) == ("support", "choice")


def test_sales_bound_number_of_a_crown_dependency_on_44_goes_to_uk_account_executives() -> None:
    for country in ("GG", "JE", "IM"):
        decision = route(
            configured(), RoutingInput(reason=HandoffReason.QUALIFIED, country=country, calling_code=44)
        )
        assert decision.queue == "uk_sales", country


def test_a_signal_rule_sends_orders_to_their_own_queue_and_leaves_other_leads_alone() -> None:
    config = configured(
        routing={
            "rules": [
                {"name": "orders_to_billing", "when": {"signal": [SignalKind.ORDER]}, "queue": "billing"},
                {"name": "ad_lead_is_sales_bound", "when": {"has_referral": True}, "queue": "sales"},
            ]
        }
    )
    order = route(
        config,
        RoutingInput(reason=HandoffReason.QUALIFIED, has_referral=True, signals=frozenset({"order"})),
    )
    lead = route(
        config,
        RoutingInput(
            reason=HandoffReason.QUALIFIED, has_referral=True, signals=frozenset({"explicit_request"})
        ),
    )
    assert (order.queue, order.rule) == ("billing", "orders_to_billing")
    assert order.inputs["signals"] == ["order"]
    assert (lead.queue, lead.rule) == ("sales", "ad_lead_is_sales_bound")


async def test_uk_ad_lead_is_routed_by_its_number_and_the_decision_is_stored(world: World) -> None:
    await world.add_rep("olivia", "uk_sales")
    result = await world.handoff(uk_number(), reason=HandoffReason.QUALIFIED, referral=AD_REFERRAL)
    assignment = result.outcome.assignment
    assert assignment.queue == "uk_sales"
    assert assignment.routing is not None
    assert assignment.routing["rule"] == "ad_lead_is_sales_bound+uk_numbers_to_uk_account_executives"
    assert assignment.routing["inputs"]["country"] == "GB"
    assert assignment.routing["inputs"]["ad_source_id"] == AD_REFERRAL["source_id"]
    routed = await world.events(result.context.conversation_id, EventType.ROUTED)
    assert routed[0].details is not None
    assert routed[0].details["queue"] == "uk_sales"
    assert routed[0].details["explanation"][0] == "rule ad_lead_is_sales_bound matched"


async def test_ad_source_id_rule_sends_the_campaign_to_its_queue(make_world: WorldFactory) -> None:
    config = configured(
        routing={
            "rules": [
                {"name": "billing_campaign", "when": {"ad_source_id": ["777"]}, "queue": "billing"},
                {"name": "ad_lead_is_sales_bound", "when": {"has_referral": True}, "queue": "sales"},
            ]
        }
    )
    world = await make_world(config)
    campaign = await world.handoff(us_number(), referral={**AD_REFERRAL, "source_id": "777"})
    other_ad = await world.handoff(us_number(), referral=AD_REFERRAL)
    assert campaign.routing.queue == "billing"
    assert campaign.routing.rule == "billing_campaign"
    assert other_ad.routing.queue == "sales"
    assert other_ad.routing.rule == "ad_lead_is_sales_bound"


async def test_country_rule_routes_by_the_number_of_the_contact(make_world: WorldFactory) -> None:
    config = configured(
        routing={"rules": [{"name": "brazil", "when": {"country": ["BR"]}, "queue": "support"}]}
    )
    world = await make_world(config)
    brazilian = await world.handoff("5511987654321")
    american = await world.handoff(us_number())
    assert (brazilian.routing.queue, brazilian.routing.rule) == ("support", "brazil")
    assert (american.routing.queue, american.routing.rule) == ("general", "fallback")


async def test_language_rule_routes_to_its_queue(make_world: WorldFactory) -> None:
    config = configured(
        routing={"rules": [{"name": "german", "when": {"language": ["de"]}, "queue": "billing"}]}
    )
    world = await make_world(config)
    german = await world.handoff(us_number(), language="de")
    english = await world.handoff(us_number(), language="en")
    assert german.routing.queue == "billing"
    assert english.routing.queue == "general"


def test_explicit_choice_wins_over_metadata_rules_and_reason_defaults() -> None:
    decision = route(
        configured(),
        RoutingInput(
            reason=HandoffReason.QUALIFIED, department_choice="billing", has_referral=True, country="GB"
        ),
    )
    assert (decision.queue, decision.stage, decision.rule) == ("billing", "choice", "department_choice")


def test_reason_default_applies_when_no_rule_matches() -> None:
    decision = route(configured(), RoutingInput(reason=HandoffReason.QUALIFIED, country="US"))
    assert (decision.queue, decision.stage) == ("sales", "reason_default")
    assert decision.explanation[0] == "no metadata rule matched"


def test_anything_no_rule_matches_falls_through_to_the_catch_all() -> None:
    decision = route(configured(), RoutingInput(reason=HandoffReason.FRUSTRATION, country="US"))
    assert (decision.queue, decision.stage, decision.rule) == ("general", "fallback", "fallback")


def test_choice_of_a_queue_that_takes_transfers_only_is_not_honoured() -> None:
    decision = route(
        configured(),
        RoutingInput(reason=HandoffReason.EXPLICIT_REQUEST, department_choice="senior_engineering"),
    )
    assert decision.queue == "general"
    assert "not a routable queue" in decision.explanation[0]


def test_priority_comes_from_the_rule_or_else_the_reason() -> None:
    config = configured(
        routing={
            "rules": [{"name": "vip", "when": {"ad_source_id": ["9"]}, "queue": "sales", "priority": 5}],
            "reason_priority": {"frustration": 2},
        }
    )
    assert route(config, RoutingInput(reason=HandoffReason.UNRESOLVED, ad_source_id="9")).priority == 5
    assert route(config, RoutingInput(reason=HandoffReason.FRUSTRATION)).priority == 2
    assert route(config, RoutingInput(reason=HandoffReason.UNRESOLVED)).priority == 0


def test_a_queue_nobody_can_sign_in_to_gives_way_to_the_catch_all() -> None:
    inp = RoutingInput(
        reason=HandoffReason.QUALIFIED, country="GB", calling_code=44, staffed=frozenset({"general"})
    )
    decision = route(configured(), inp)
    assert decision.queue == "general"
    assert decision.rule == "reason:qualified+uk_numbers_to_uk_account_executives+unstaffed"
    assert decision.explanation[-1] == "nobody who can sign in is in uk_sales: sent to general instead"


def test_the_chosen_queue_stays_when_it_is_staffed_or_nobody_is_in_the_catch_all_either() -> None:
    def uk_lead(staffed: frozenset[str] | None) -> RoutingInput:
        return RoutingInput(reason=HandoffReason.QUALIFIED, country="GB", calling_code=44, staffed=staffed)

    staffed = route(configured(), uk_lead(frozenset({"uk_sales", "general"})))
    empty_fallback = route(configured(), uk_lead(frozenset({"support"})))
    unknown = route(configured(), uk_lead(None))
    assert (staffed.queue, empty_fallback.queue, unknown.queue) == ("uk_sales", "uk_sales", "uk_sales")
    switched_off = configured(routing={"unstaffed_to_fallback": False})
    assert route(switched_off, uk_lead(frozenset({"general"}))).queue == "uk_sales"


async def test_a_lead_for_a_queue_of_reps_who_cannot_sign_in_is_assigned_in_the_catch_all(
    world: World,
) -> None:
    await world.add_rep("olivia", "uk_sales")  # configured, never given a password or a token
    await world.add_rep("gus", "general")
    async with world.sessions() as session, session.begin():
        gus = await session.get_one(Rep, "gus")
        gus.token_hash = "a-token-hash"
    result = await world.handoff(uk_number(), reason=HandoffReason.QUALIFIED, referral=AD_REFERRAL)
    assignment = result.outcome.assignment
    assert (assignment.queue, assignment.rep_id) == ("general", "gus")
    assert assignment.routing is not None
    assert (
        assignment.routing["explanation"][-1]
        == "nobody who can sign in is in uk_sales: sent to general instead"
    )
