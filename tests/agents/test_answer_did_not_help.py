"""A customer who says the bot's answer did not help ("did that, still no email"), through the real
webhook path: right after an answer from the knowledge base the bot says so and offers a person, in
the customer's language, and a "yes" brings one in; the same words with no answer before them, or
good news after the answer, get no such offer."""

from __future__ import annotations

import pytest

from tests.factories import first_listed_conversation, say, text
from tests.fakes.graph import TestHarness

YES = {"en": "yes please", "es": "sí, por favor", "pt": "sim", "de": "ja bitte", "id": "iya", "tr": "evet"}


@pytest.mark.parametrize(
    ("wa", "language", "question", "entry", "report"),
    [
        (
            "12025550701",
            "en",
            "how do i reset my password",
            "password_reset",
            "tried that 3 times, no email ever came",
        ),
        ("5215512340702", "es", "olvidé mi contraseña", "password_reset", "ya lo hice y no me llega nada"),
        ("5511987650703", "pt", "esqueci minha senha", "password_reset", "já fiz isso, não chegou o email"),
        (
            "4915112340704",
            "de",
            "wie setze ich mein Passwort zurück?",
            "password_reset",
            "hab ich schon gemacht, klappt nicht",
        ),
        (
            "6281234560705",
            "id",
            "saya lupa password akun saya, bagaimana caranya?",
            "password_reset",
            "udah dicoba tp emailnya ga masuk",
        ),
        ("905321234706", "tr", "şifremi unuttum", "password_reset", "denedim, mail gelmedi"),
        (
            "12025550707",
            "en",
            "is there a free trial?",
            "trial",
            "it doesn't work, the signup page keeps failing",
        ),
    ],
)
async def test_right_after_an_answer_a_report_that_it_did_not_help_is_offered_a_person(
    h: TestHarness, wa: str, language: str, question: str, entry: str, report: str
) -> None:
    config = h.service.config
    answer = next(e for e in config.knowledge if e.id == entry).answer
    sent = await say(h, text(wa, question, h.clock.now()))
    assert sent == [config.localized(answer, language)]
    offered = await say(h, text(wa, report, h.clock.now()))
    assert offered == [config.message("answer_failed", language)]
    assert (await first_listed_conversation(h))["owner"] == "bot"
    await say(h, text(wa, YES[language], h.clock.now()))
    conversation = await first_listed_conversation(h)
    assert conversation["owner"] != "bot"
    assert conversation["handoff_context"]["reason"] == "explicit_request"


@pytest.mark.parametrize(
    ("wa", "before", "after"),
    [
        # No answer before: the report is about something else, read as any other message.
        ("12025550711", "hello", "still no idea which plan fits us"),
        # Good news after the answer.
        ("12025550712", "how do i reset my password", "tried it, works now, thanks!"),
    ],
)
async def test_without_an_answer_just_before_or_with_good_news_no_person_is_offered(
    h: TestHarness, wa: str, before: str, after: str
) -> None:
    await say(h, text(wa, before, h.clock.now()))
    sent = await say(h, text(wa, after, h.clock.now()))
    assert h.service.config.message("answer_failed", "en") not in sent
    assert (await first_listed_conversation(h))["owner"] == "bot"
