"""The model engine through the real `openai` client against a scripted OpenAI-compatible server:
answers, call budget, and failures that hand off as `ai_unavailable` (the customer is told)."""

from __future__ import annotations

import time

import pytest

from tests.api.helpers import bearer, seed_conversation
from tests.factories import AD_REFERRAL, auth, say, text
from tests.fakes.graph import TestHarness
from tests.fakes.openai_server import ScriptedOpenAI, analysis


async def test_model_answer_is_sent_with_one_call_per_turn(mh: TestHarness, scripted: ScriptedOpenAI) -> None:
    scripted.respond_json(
        analysis(can_answer=True, answer_confidence=0.9, answer="Our Pro plan is $99 per seat per month.")
    )
    sent = await say(mh, text("12025550001", "what does the pro plan cost per seat?", mh.clock.now()))
    assert sent == ["Our Pro plan is $99 per seat per month."]
    assert len(scripted.requests) == 1
    request = scripted.requests[0]
    assert request.model == "test-model"
    assert request.response_format["type"] == "json_schema"


async def test_explicit_request_costs_no_model_call(mh: TestHarness, scripted: ScriptedOpenAI) -> None:
    await say(mh, text("12025550002", "I want to talk to a human please", mh.clock.now()))
    listed = (await mh.http.get("/api/conversations", headers=auth("demo-admin"))).json()
    assert listed[0]["handoff_reason"] == "explicit_request"
    assert scripted.requests == []


async def test_model_detects_a_request_the_rules_missed(mh: TestHarness, scripted: ScriptedOpenAI) -> None:
    scripted.respond_json(
        analysis(wants_human=True, wants_human_evidence="could somebody from your team ring me")
    )
    await say(mh, text("12025550003", "could somebody from your team ring me tomorrow", mh.clock.now()))
    detail = (await mh.http.get("/api/conversations", headers=auth("demo-admin"))).json()[0]
    assert detail["handoff_reason"] == "explicit_request"


@pytest.mark.parametrize(
    "script",
    ["server_error", "timeout", "refusal", "malformed", "rate_limited"],
)
async def test_model_failure_hands_off_as_ai_unavailable_and_tells_the_customer(
    mh: TestHarness, scripted: ScriptedOpenAI, script: str
) -> None:
    for _ in range(4):
        if script == "server_error":
            scripted.fail(500, {"error": {"message": "boom", "type": "server_error"}})
        elif script == "timeout":
            scripted.delay(2.0)
        elif script == "refusal":
            scripted.refuse()
        elif script == "malformed":
            scripted.respond_raw("{not json")
        else:
            scripted.fail(429, {"error": {"message": "slow down", "type": "rate_limit_error"}})
    started = time.monotonic()
    sent = await say(mh, text("12025550004", "does it integrate with my ERP system?", mh.clock.now()))
    elapsed = time.monotonic() - started
    assert elapsed < 10, "the customer must not wait more than 10 s"
    listed = (await mh.http.get("/api/conversations", headers=auth("demo-admin"))).json()
    assert listed[0]["handoff_reason"] == "ai_unavailable"
    assert listed[0]["owner"] in ("human", "queued")
    assert any("trouble" in s for s in sent), sent
    detail = (await mh.http.get(f"/api/conversations/{listed[0]['id']}", headers=auth("demo-admin"))).json()
    (failure,) = [e for e in detail["events"] if e["type"] == "llm_failure"]
    assert failure["details"]["kind"], failure  # why the model failed is in the context log
    assert failure["details"]["detail"].startswith(failure["details"]["kind"]), "with its technical cause"
    # ... and in words for the rep who reads why the bot handed over
    (signal,) = detail["handoff_context"]["evidence"]["signals"]
    assert signal["evidence"].startswith("the AI model"), signal
    assert failure["details"]["kind"] not in signal["evidence"].split(), "no failure kind slug shown"


async def test_an_ad_lead_handed_over_because_the_model_is_down_keeps_what_the_rules_read(
    mh: TestHarness, scripted: ScriptedOpenAI
) -> None:
    for _ in range(4):
        scripted.fail(500, {"error": {"message": "boom", "type": "server_error"}})
    words = "Hi! We're Northwind Traders, we want to send order updates on WhatsApp"
    await say(mh, text("12025550005", words, mh.clock.now(), referral=AD_REFERRAL))
    listed = (await mh.http.get("/api/conversations", headers=auth("demo-admin"))).json()
    assert listed[0]["handoff_reason"] == "ai_unavailable"
    detail = (await mh.http.get(f"/api/conversations/{listed[0]['id']}", headers=auth("demo-admin"))).json()
    fields = detail["handoff_context"]["fields"]
    assert fields["company_name"]["value"] == "Northwind Traders", fields
    assert fields["company_name"]["source"] == "rules"


async def test_a_hand_back_the_rep_may_not_make_is_refused_before_the_model_is_asked(
    mh: TestHarness, scripted: ScriptedOpenAI
) -> None:
    # Diego sees the waiting conversation of his queue but may not hand it back: refused without a
    # model call for a briefing nobody will read (each one costs).
    waiting = await seed_conversation(mh, "waiting_support")
    asked = len(scripted.requests)
    refused = await mh.http.post(
        f"/api/conversations/{waiting}/hand-back", json={"note": "all sorted"}, headers=bearer("diego")
    )
    assert refused.status_code == 403, refused.text
    assert len(scripted.requests) == asked
