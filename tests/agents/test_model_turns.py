"""The model engine where the rules cannot decide, through the real `openai` client against the
scripted OpenAI-compatible server: low-confidence answers are withheld, the latest message is sent
once, and a language the rules do not read goes to the model even for a greeting."""

from __future__ import annotations

import json

from agents.llm import DEFAULT_DEADLINE_S
from tests.factories import auth, say, text
from tests.fakes.graph import TestHarness
from tests.fakes.openai_server import ScriptedOpenAI, analysis


async def _owner(h: TestHarness) -> str:
    listed = (await h.http.get("/api/conversations", headers=auth("demo-admin"))).json()
    owner: str = listed[0]["owner"]
    return owner


async def test_low_confidence_answer_is_not_sent(mh: TestHarness, scripted: ScriptedOpenAI) -> None:
    guess = "Yes, we integrate with every ERP."
    scripted.respond_json(analysis(can_answer=True, answer=guess, answer_confidence=0.05))
    sent = await say(mh, text("12025550601", "do you integrate with my ERP?", mh.clock.now()))
    assert guess not in sent
    assert any("don't have an answer" in s for s in sent), sent
    assert await _owner(mh) == "bot"


async def test_answer_at_the_configured_confidence_is_sent(mh: TestHarness, scripted: ScriptedOpenAI) -> None:
    answer = "Yes: the Pro plan includes the ERP connector."
    scripted.respond_json(analysis(can_answer=True, answer=answer, answer_confidence=0.6))
    sent = await say(mh, text("12025550602", "do you integrate with my ERP?", mh.clock.now()))
    assert sent == [answer]


async def test_withheld_answers_end_in_an_unresolved_handoff(
    mh: TestHarness, scripted: ScriptedOpenAI
) -> None:
    wa = "12025550603"
    for _ in range(2):
        scripted.respond_json(analysis(can_answer=True, answer="maybe?", answer_confidence=0.1))
    await say(mh, text(wa, "can I export to SAP?", mh.clock.now()))
    await say(mh, text(wa, "so can my data go to SAP or not?", mh.clock.now()))
    listed = (await mh.http.get("/api/conversations", headers=auth("demo-admin"))).json()
    assert listed[0]["handoff_reason"] == "unresolved"


async def test_latest_message_is_sent_to_the_model_once(mh: TestHarness, scripted: ScriptedOpenAI) -> None:
    wa = "12025550604"
    for _ in range(2):
        scripted.respond_json(analysis(can_answer=True, answer="Yes.", answer_confidence=0.9))
    await say(mh, text(wa, "first question about invoices?", mh.clock.now()))
    latest = "second question: can invoices be split by department?"
    await say(mh, text(wa, latest, mh.clock.now()))
    assert len(scripted.requests) == 2
    request = scripted.requests[-1]
    everything = json.dumps(request.messages, ensure_ascii=False)
    assert everything.count(latest) == 1
    assert request.messages[-1] == {"role": "user", "content": latest}
    assert "first question about invoices?" in request.messages[0]["content"], "earlier turns stay"


async def test_greeting_in_a_language_the_rules_do_not_read_goes_to_the_model(
    mh: TestHarness, scripted: ScriptedOpenAI
) -> None:
    scripted.respond_json(analysis(language="sv"))
    await say(mh, text("12025550605", "Hej, tack!", mh.clock.now()))
    assert len(scripted.requests) == 1


async def test_greeting_in_a_covered_language_costs_no_model_call(
    mh: TestHarness, scripted: ScriptedOpenAI
) -> None:
    await say(mh, text("12025550606", "Guten Morgen", mh.clock.now()))
    assert scripted.requests == []


def test_model_deadline_leaves_room_for_the_burst_window_within_ten_seconds() -> None:
    burst_window_s = 1.5  # the turn engine's default: the turn starts after it
    assert burst_window_s + DEFAULT_DEADLINE_S < 10
