"""Conversation basics through the real webhook path: greetings get the welcome and never count as
unanswered questions, a greeting with a question answers the question, thanks get a "you're
welcome", and a first message that is not text (fixture payloads) still gets a reply."""

from __future__ import annotations

import pytest

from tests.factories import AD_REFERRAL, first_listed_conversation, say, text
from tests.fakes.graph import TestHarness
from tests.fixtures import load_fixture


@pytest.mark.parametrize(
    "greeting",
    [
        "yo",
        "Morning",
        "good evening",
        "Guten Morgen",
        "مرحبا",
        "السلام عليكم",
        "halo kak",
        "opa",
        "buonasera",
    ],
)
async def test_greeting_gets_the_menu_not_a_fallback(h: TestHarness, greeting: str) -> None:
    sent = await say(h, text("12025550501", greeting, h.clock.now()))
    assert not any("don't have an answer" in s for s in sent), sent
    assert h.fake_graph.sent[-1]["json"]["type"] == "interactive"


async def test_greeting_then_one_unknown_question_does_not_hand_off(h: TestHarness) -> None:
    wa = "12025550502"
    await say(h, text(wa, "Morning", h.clock.now()))
    sent = await say(h, text(wa, "does it integrate with Shopify?", h.clock.now()))
    assert any("don't have an answer" in s for s in sent), sent
    assert (await first_listed_conversation(h))["owner"] == "bot"


async def test_greeting_with_a_question_answers_the_question(h: TestHarness) -> None:
    sent = await say(h, text("12025550503", "HI THERE, IS THERE A FREE TRIAL?", h.clock.now()))
    assert any("14-day free trial" in s for s in sent), sent
    assert (await first_listed_conversation(h))["owner"] == "bot"


async def test_second_greeting_gets_a_short_welcome_not_the_menu_again(h: TestHarness) -> None:
    wa = "12025550504"
    await say(h, text(wa, "hello", h.clock.now()))
    sent = await say(h, text(wa, "hi again", h.clock.now()))
    assert sent == ["Hi again! What can I help you with?"]


async def test_thanks_with_a_remark_gets_you_are_welcome(h: TestHarness) -> None:
    wa = "12025550505"
    await say(h, text(wa, "Hi", h.clock.now()))
    sent = await say(h, text(wa, "Thanks, the person I spoke to solved it", h.clock.now()))
    assert any("welcome" in s for s in sent), sent
    assert (await first_listed_conversation(h))["owner"] == "bot"


async def test_thanks_that_announce_another_question_get_go_ahead_and_no_miss_is_counted(
    h: TestHarness,
) -> None:
    wa = "12025550506"
    await say(h, text(wa, "Hi", h.clock.now()))
    sent = await say(h, text(wa, "thanks, one more question about my invoice", h.clock.now()))
    assert sent == ["Of course, go ahead: what would you like to know?"]
    # Announcements are not misses: after two of them, two unanswered questions still do not
    # reach the three misses that hand the conversation to a person.
    await say(h, text(wa, "I have a question", h.clock.now()))
    sent = await say(h, text(wa, "does it integrate with Shopify?", h.clock.now()))
    assert any("don't have an answer" in s for s in sent), sent
    # The second miss in a row offers a person, and the bot keeps the conversation.
    sent = await say(h, text(wa, "do you have a Zapier connector?", h.clock.now()))
    assert any("can't answer that one either" in s for s in sent), sent
    assert (await first_listed_conversation(h))["owner"] == "bot"


async def test_announced_question_is_answered_in_the_customers_language(h: TestHarness) -> None:
    wa = "34612345678"
    await say(h, text(wa, "Hola", h.clock.now()))
    sent = await say(h, text(wa, "gracias, tengo otra pregunta sobre mi factura", h.clock.now()))
    assert sent == ["¡Claro! Dime, ¿qué te gustaría saber?"]


@pytest.mark.parametrize(
    "fixture",
    [
        "inbound_image_pywa.json",
        "inbound_location_named_pywa.json",
        "inbound_contacts_pywa.json",
        "inbound_reaction_pywa.json",
        "inbound_audio_voice_pywa.json",
        "inbound_sticker_pywa.json",
    ],
)
async def test_first_message_that_is_not_text_gets_a_reply(h: TestHarness, fixture: str) -> None:
    # An order is handed to a person instead (tests/test_orders_and_media.py).
    sent = await say(h, load_fixture(fixture))
    assert sent, f"{fixture}: the customer was left in silence"
    assert "received" in sent[0]
    assert h.fake_graph.sent[-1]["json"]["type"] == "interactive"


async def test_ad_lead_greeting_gets_the_qualification_opening(h: TestHarness) -> None:
    sent = await say(h, text("12025550506", "hi saw your ad", h.clock.now(), referral=AD_REFERRAL))
    assert len(sent) == 1
    assert "company" in sent[0]


async def test_one_shot_lead_is_qualified_on_its_first_message(h: TestHarness) -> None:
    message = (
        "Hi! I'm Maria from Contoso Pharma, we want to use WhatsApp to answer prescription refill questions"
    )
    await say(h, text("12025550507", message, h.clock.now(), name="Maria", referral=AD_REFERRAL))
    conversation = await first_listed_conversation(h)
    assert conversation["handoff_reason"] == "qualified"
    fields = conversation["handoff_context"]["fields"]
    assert fields["company_name"]["value"] == "Contoso Pharma"
    assert "prescription refill" in fields["use_case"]["value"]


async def test_ad_lead_asking_for_a_person_keeps_the_company_given_in_that_message(h: TestHarness) -> None:
    wa = "12025550508"
    await say(h, text(wa, "hello", h.clock.now(), referral=AD_REFERRAL))
    await say(h, text(wa, "We're Initech Ltd, can I talk to a salesperson please?", h.clock.now()))
    conversation = await first_listed_conversation(h)
    assert conversation["handoff_reason"] == "explicit_request"
    assert conversation["handoff_context"]["fields"]["company_name"]["value"] == "Initech Ltd"


async def test_use_case_given_before_the_company_is_not_taken_for_the_company(h: TestHarness) -> None:
    wa = "12025550509"
    await say(h, text(wa, "hey :)", h.clock.now(), referral=AD_REFERRAL))
    sent = await say(h, text(wa, "answering customer FAQs for our gym", h.clock.now()))
    assert any("company" in s for s in sent), "asks for what is still missing"
    await say(h, text(wa, "FitHub", h.clock.now()))
    fields = (await first_listed_conversation(h))["handoff_context"]["fields"]
    assert fields["company_name"]["value"] == "FitHub"
    assert fields["use_case"]["value"] == "answering customer FAQs for our gym"


async def test_an_ad_lead_who_announces_a_question_is_heard_before_the_form_goes_on(h: TestHarness) -> None:
    wa = "12025550520"
    await say(h, text(wa, "Hi from your ad", h.clock.now(), referral=AD_REFERRAL))
    sent = await say(h, text(wa, "one quick question first", h.clock.now()))
    assert sent == [h.service.config.message("go_ahead", "en")]
    sent = await say(h, text(wa, "how much does it cost?", h.clock.now()))
    assert sent[0].startswith("Plans start at $49")
    assert "company" in sent[-1], "then the company question again"
    sent = await say(h, text(wa, "Acme Ltd", h.clock.now()))
    assert any("use it for" in s for s in sent), "the company was taken: the use case is asked next"


@pytest.mark.parametrize(("greeting", "welcome"), [("boa noite", "Olá!"), ("Goedemorgen", "Hallo!")])
async def test_a_greeting_of_one_language_is_welcomed_in_it(
    h: TestHarness, greeting: str, welcome: str
) -> None:
    await say(h, text("12025550521", greeting, h.clock.now()))
    request = h.fake_graph.sent[-1]["json"]
    assert request["interactive"]["body"]["text"].startswith(welcome)


async def test_telling_who_they_are_is_noted_and_no_miss_is_counted(h: TestHarness) -> None:
    wa = "12025550507"
    await say(h, text(wa, "Hi", h.clock.now()))
    sent = await say(h, text(wa, "we run a small animal shelter in Leeds", h.clock.now()))
    assert sent == ["Thanks for telling us! What would you like to know?"]
    # Two unanswered questions after it are two misses, not three: the bot keeps the conversation.
    await say(h, text(wa, "does it integrate with Shopify?", h.clock.now()))
    sent = await say(h, text(wa, "do you have a Zapier connector?", h.clock.now()))
    assert any("can't answer that one either" in s for s in sent), sent
    sent = await say(h, text(wa, "gonna show this to my co-founder tonight", h.clock.now()))
    assert sent == ["Thanks for telling us! What would you like to know?"]
    assert (await first_listed_conversation(h))["owner"] == "bot"


async def test_a_problem_told_without_a_question_still_counts_as_unanswered(h: TestHarness) -> None:
    wa = "12025550508"
    await say(h, text(wa, "Hi", h.clock.now()))
    sent = await say(h, text(wa, "our order messages keep coming through twice", h.clock.now()))
    assert any("don't have an answer" in s for s in sent), sent


async def test_a_third_miss_that_declines_a_person_does_not_bring_one_in(h: TestHarness) -> None:
    wa = "12025550509"
    await say(h, text(wa, "Hi", h.clock.now()))
    await say(h, text(wa, "does it integrate with Shopify?", h.clock.now()))
    await say(h, text(wa, "do you have a Zapier connector?", h.clock.now()))
    sent = await say(h, text(wa, "don't need a human, just the link to the driver app", h.clock.now()))
    assert any("don't have an answer" in s for s in sent), sent
    assert (await first_listed_conversation(h))["owner"] == "bot"


async def test_a_short_and_question_after_an_answer_asks_more_of_the_same_entry(h: TestHarness) -> None:
    wa = "12025550510"
    await say(h, text(wa, "Hi", h.clock.now()))
    first = await say(h, text(wa, "how much is the basic plan?", h.clock.now()))
    again = await say(h, text(wa, "and the pro?", h.clock.now()))
    assert again == first, again
    # Not after a miss: "and the other thing?" then is no follow-up of anything.
    await say(h, text(wa, "do you have a Zapier connector?", h.clock.now()))
    sent = await say(h, text(wa, "and the webhooks?", h.clock.now()))
    assert any("can't answer that one either" in s for s in sent), sent


@pytest.mark.parametrize(
    "message", ["I want to get my contact list out as a csv", "I'm asking about Zoho Desk specifically"]
)
async def test_a_wish_or_a_question_said_as_a_statement_still_counts_as_unanswered(
    h: TestHarness, message: str
) -> None:
    wa = "12025550511"
    await say(h, text(wa, "Hi", h.clock.now()))
    sent = await say(h, text(wa, message, h.clock.now()))
    assert any("don't have an answer" in s for s in sent), sent


async def test_a_question_without_a_question_mark_is_no_statement(h: TestHarness) -> None:
    wa = "12025550512"
    await say(h, text(wa, "Hi", h.clock.now()))
    sent = await say(
        h, text(wa, "i mean is there a way to download all conversations as a spreadsheet", h.clock.now())
    )
    assert any("don't have an answer" in s for s in sent), sent
