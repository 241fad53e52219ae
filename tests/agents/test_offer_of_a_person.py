"""The bot's offer of a person, through the real webhook path: "are you a bot?" is answered honestly
with the offer, the second unanswered question in a row makes it, and a "yes" right after it brings
a person in; a customer who goes on with other questions keeps the bot."""

from __future__ import annotations

import pytest

from tests.factories import AD_REFERRAL, auth, first_listed_conversation, say, text
from tests.fakes.graph import TestHarness

OFFER_OF_A_PERSON = "bring in a person from our team"
SECOND_MISS = "can't answer that one either"


async def test_are_you_a_bot_is_answered_honestly_and_the_bot_keeps_the_conversation(h: TestHarness) -> None:
    wa = "12025550601"
    await say(h, text(wa, "hey", h.clock.now()))
    sent = await say(h, text(wa, "r u a bot?", h.clock.now()))
    assert len(sent) == 1, sent
    assert "virtual assistant" in sent[0], sent
    assert OFFER_OF_A_PERSON in sent[0], sent
    assert (await first_listed_conversation(h))["owner"] == "bot"
    sent = await say(h, text(wa, "haha fair enough. how much is the pro plan?", h.clock.now()))
    assert any("$99" in s for s in sent), sent
    assert (await first_listed_conversation(h))["owner"] == "bot"


@pytest.mark.parametrize(
    ("wa", "greeting", "question", "yes"),
    [
        ("12025550602", "hi", "are you a bot?", "yes please"),
        ("5511987650603", "oi", "vc é robô?", "sim, por favor"),
        ("4915112340604", "Hallo", "Bist du ein Bot?", "ja gerne"),
        ("919812340605", "namaste", "aap bot ho?", "haan ji"),
    ],
)
async def test_a_yes_to_the_offer_brings_in_a_person_with_the_offer_as_evidence(
    h: TestHarness, wa: str, greeting: str, question: str, yes: str
) -> None:
    await say(h, text(wa, greeting, h.clock.now()))
    sent = await say(h, text(wa, question, h.clock.now()))
    assert len(sent) == 1, sent
    await say(h, text(wa, yes, h.clock.now()))
    conversation = await first_listed_conversation(h)
    assert conversation["owner"] != "bot"
    context = conversation["handoff_context"]
    assert context["reason"] == "explicit_request"
    assert [s["rule"] for s in context["evidence"]["signals"]] == ["accepts the offer of a person"]


async def test_a_yes_with_no_offer_before_it_is_only_an_acknowledgement(h: TestHarness) -> None:
    wa = "12025550606"
    await say(h, text(wa, "hello", h.clock.now()))
    await say(h, text(wa, "what are your opening hours?", h.clock.now()))
    sent = await say(h, text(wa, "yes please", h.clock.now()))
    assert sent, "the yes is answered"
    assert all("passed everything" not in s for s in sent), sent
    assert (await first_listed_conversation(h))["owner"] == "bot"


async def test_the_offer_lasts_one_turn(h: TestHarness) -> None:
    wa = "12025550607"
    await say(h, text(wa, "hello", h.clock.now()))
    await say(h, text(wa, "are you a bot?", h.clock.now()))
    await say(h, text(wa, "what are your opening hours?", h.clock.now()))
    await say(h, text(wa, "yes", h.clock.now()))
    assert (await first_listed_conversation(h))["owner"] == "bot"


async def test_the_second_miss_in_a_row_offers_a_person_and_a_yes_takes_it(h: TestHarness) -> None:
    wa = "12025550608"
    await say(h, text(wa, "hello", h.clock.now()))
    sent = await say(h, text(wa, "does it integrate with Shopify?", h.clock.now()))
    assert any("don't have an answer" in s for s in sent), sent
    sent = await say(h, text(wa, "do you have a Zapier connector?", h.clock.now()))
    assert any(SECOND_MISS in s for s in sent), sent
    assert (await first_listed_conversation(h))["owner"] == "bot"
    await say(h, text(wa, "yes pls", h.clock.now()))
    context = (await first_listed_conversation(h))["handoff_context"]
    assert context["reason"] == "explicit_request"


async def test_questions_added_one_after_another_keep_the_bot_until_a_third_miss_on_one_topic(
    h: TestHarness,
) -> None:
    wa = "12025550609"
    await say(h, text(wa, "morning", h.clock.now()))
    await say(h, text(wa, "how do i export my chats to csv?", h.clock.now()))
    sent = await say(h, text(wa, "great and can i export the contacts the same way?", h.clock.now()))
    assert any(SECOND_MISS in s for s in sent), sent
    sent = await say(h, text(wa, "perfect, and how long do you keep chat history?", h.clock.now()))
    assert any(SECOND_MISS in s for s in sent), sent
    assert (await first_listed_conversation(h))["owner"] == "bot"
    # The same thing a third time in a row is the bot failing to help.
    await say(h, text(wa, "and the contacts export to csv, is that possible?", h.clock.now()))
    conversation = await first_listed_conversation(h)
    assert conversation["handoff_context"]["reason"] == "unresolved"


async def test_an_ad_lead_asking_if_this_is_a_bot_is_answered_then_asked_again_and_can_take_the_offer(
    h: TestHarness,
) -> None:
    wa = "12025550610"
    await say(h, text(wa, "hi", h.clock.now(), referral=AD_REFERRAL))
    sent = await say(h, text(wa, "are you a bot?", h.clock.now()))
    assert OFFER_OF_A_PERSON in sent[0], sent
    assert "company" in sent[-1], sent
    await say(h, text(wa, "yes", h.clock.now()))
    conversation = await first_listed_conversation(h)
    assert conversation["handoff_context"]["reason"] == "explicit_request"
    assert conversation["queue"] == "sales"


async def test_a_customer_who_will_come_back_later_is_told_the_door_is_open_and_nothing_is_missed(
    h: TestHarness,
) -> None:
    wa = "919812340611"
    await say(h, text(wa, "hello sir", h.clock.now()))
    await say(h, text(wa, "kya aapka bot customers ko human agent pe transfer kar sakta hai?", h.clock.now()))
    sent = await say(h, text(wa, "aur price kitna hai 3 agents ke liye?", h.clock.now()))
    assert any("$49" in s for s in sent), sent
    sent = await say(h, text(wa, "ok theek hai, main apne partner se baat karke batata hoon", h.clock.now()))
    assert sent == ["Theek hai! Jab bhi aap ready hon, yahin likhiye; hum wahin se aage badhenge."]
    assert (await first_listed_conversation(h))["owner"] == "bot"


async def test_an_ad_lead_who_will_come_back_later_gives_no_use_case(h: TestHarness) -> None:
    wa = "12025550612"
    await say(h, text(wa, "hi", h.clock.now(), referral=AD_REFERRAL))
    await say(h, text(wa, "Acme Plumbing", h.clock.now()))
    sent = await say(h, text(wa, "ok I'll talk to my boss and get back to you", h.clock.now()))
    assert sent == ["Sounds good! Write here whenever you're ready; we'll pick up where we left off."]
    assert (await first_listed_conversation(h))["owner"] == "bot"
    # Back later with the answer: it is the use case, nothing was taken from the goodbye.
    await say(h, text(wa, "order notifications", h.clock.now()))
    conversation = await first_listed_conversation(h)
    assert conversation["handoff_context"]["reason"] == "qualified"
    assert conversation["handoff_context"]["fields"]["use_case"]["value"] == "order notifications"


async def test_a_second_question_on_the_same_subject_gets_the_offer_the_same_question_again_a_person(
    h: TestHarness,
) -> None:
    wa = "12025550613"
    await say(h, text(wa, "hey there", h.clock.now()))
    await say(h, text(wa, "does your inbox sync with zoho crm deals?", h.clock.now()))
    sent = await say(h, text(wa, "how many zoho users can I connect on starter?", h.clock.now()))
    assert any(SECOND_MISS in s for s in sent), sent  # one word in common: a new question
    assert (await first_listed_conversation(h))["owner"] == "bot"

    wa = "12025550614"
    await say(h, text(wa, "hey there", h.clock.now()))
    await say(h, text(wa, "does your inbox sync with zoho crm deals?", h.clock.now()))
    await say(h, text(wa, "so the zoho deals sync into the inbox or not?", h.clock.now()))
    conversation = next(
        c
        for c in (await h.http.get("/api/conversations", headers=auth("demo-admin"))).json()
        if c["owner"] != "bot"
    )
    assert conversation["handoff_reason"] == "unresolved"


async def test_a_third_different_question_announced_as_the_last_one_keeps_the_bot(h: TestHarness) -> None:
    wa = "12025550613"
    await say(h, text(wa, "Hello!", h.clock.now()))
    await say(h, text(wa, "Can I schedule broadcasts for a specific time zone?", h.clock.now()))
    sent = await say(h, text(wa, "No worries. Is there an Android app for the inbox?", h.clock.now()))
    assert any(SECOND_MISS in s for s in sent), sent
    await say(h, text(wa, "Alright, last one: do you support message templates in Hindi?", h.clock.now()))
    assert (await first_listed_conversation(h))["owner"] == "bot"


async def test_a_yes_in_other_words_takes_the_offer(h: TestHarness) -> None:
    wa = "12025550614"
    await say(h, text(wa, "hi", h.clock.now()))
    await say(h, text(wa, "am i chatting with a bot right now", h.clock.now()))
    await say(h, text(wa, "yeah go on then 👍", h.clock.now()))
    assert (await first_listed_conversation(h))["handoff_context"]["reason"] == "explicit_request"


async def test_a_third_unanswered_question_added_with_a_bare_and_hands_off_as_unresolved(
    h: TestHarness,
) -> None:
    wa = "12025550611"
    await say(h, text(wa, "hello", h.clock.now()))
    await say(h, text(wa, "does it integrate with Magento?", h.clock.now()))
    sent = await say(h, text(wa, "and with PrestaShop?", h.clock.now()))
    assert any(SECOND_MISS in s for s in sent), sent
    assert (await first_listed_conversation(h))["owner"] == "bot"
    await say(h, text(wa, "and can it print shipping labels?", h.clock.now()))
    conversation = await first_listed_conversation(h)
    assert conversation["handoff_context"]["reason"] == "unresolved"


@pytest.mark.parametrize(
    ("wa", "question", "praise"),
    [
        ("12025550612", "does it work with Odoo?", "wow. so helpful"),
        ("393331234613", "posso collegare il gestionale Danea?", "davvero utilissimo questo assistente 👏"),
    ],
)
async def test_praise_of_the_bots_help_right_after_a_miss_is_sarcasm_and_hands_off(
    h: TestHarness, wa: str, question: str, praise: str
) -> None:
    await say(h, text(wa, "hi", h.clock.now()))
    await say(h, text(wa, question, h.clock.now()))
    await say(h, text(wa, praise, h.clock.now()))
    conversation = await first_listed_conversation(h)
    assert conversation["handoff_context"]["reason"] == "frustration"


async def test_praise_of_the_bots_help_after_an_answer_is_thanks(h: TestHarness) -> None:
    wa = "12025550614"
    await say(h, text(wa, "hi", h.clock.now()))
    await say(h, text(wa, "what are your opening hours?", h.clock.now()))
    await say(h, text(wa, "very helpful, thanks!", h.clock.now()))
    assert (await first_listed_conversation(h))["owner"] == "bot"


async def test_an_ad_lead_correcting_the_company_name_is_no_loop_and_keeps_the_corrected_name(
    h: TestHarness,
) -> None:
    wa = "12025550615"
    await say(h, text(wa, "hi", h.clock.now(), referral=AD_REFERRAL))
    await say(h, text(wa, "Harbourveiw Dental", h.clock.now()))
    sent = await say(h, text(wa, "sorry, typo: Harbourview Dental", h.clock.now()))
    assert (await first_listed_conversation(h))["owner"] == "bot", sent
    await say(h, text(wa, "appointment reminders for our patients", h.clock.now()))
    context = (await first_listed_conversation(h))["handoff_context"]
    assert context["reason"] == "qualified"
    assert context["fields"]["company_name"]["value"] == "Harbourview Dental"
