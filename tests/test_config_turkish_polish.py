"""Turkish and Polish customers are answered in their language: the shipped configuration has `tr` and
`pl` texts for the menu, the qualification questions, every customer message and every knowledge
answer, and lists the questions as Turkish and Polish customers type them. Conversations are played
through the real replay path (signed webhooks, the turn engine, a fake Graph API)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from agents.language import detect_language
from agents.responder import KnowledgeBase
from orchestrator.core.config import AppConfig, load_config
from orchestrator.runtime.replay import replay_cases

# A Tuesday, 10:00 UTC: every default queue is open.
OPEN_HOURS = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
# A Saturday: Finance (billing) is closed until Monday 09:00, London time.
SATURDAY = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


def _localized_texts(config: AppConfig) -> dict[str, dict[str, str]]:
    return {
        "menu.body": config.menu.body,
        **{f"qualification.questions.{k}": v for k, v in config.qualification.questions.items()},
        **{f"messages.{k}": v for k, v in config.messages.items()},
        **{f"knowledge.{e.id}.answer": e.answer for e in config.knowledge},
    }


def _case(cid: str, wa_id: str, name: str, *turns: dict[str, str]) -> dict[str, Any]:
    return {"id": cid, "contact": {"wa_id": wa_id, "name": name}, "referral": None, "turns": list(turns)}


async def _replay(case: dict[str, Any], at: datetime = OPEN_HOURS) -> dict[str, Any]:
    [result] = await replay_cases([case], at=at, config=load_config(None))
    return result


def _said(result: dict[str, Any], turn: int) -> str:
    return "\n".join(result["turns"][turn]["sent"])


def test_every_customer_facing_text_is_written_in_the_same_languages_with_the_same_placeholders() -> None:
    texts = _localized_texts(load_config(None))
    languages = set(texts["menu.body"])
    assert {"tr", "pl"} <= languages
    for where, table in texts.items():
        assert set(table) == languages, where
        expected = sorted(PLACEHOLDER.findall(table["en"]))
        for language, text in table.items():
            assert sorted(PLACEHOLDER.findall(text)) == expected, (where, language)
            assert text.strip(), (where, language)


def test_turkish_and_polish_texts_are_not_the_english_ones() -> None:
    for where, table in _localized_texts(load_config(None)).items():
        assert table["tr"] != table["en"], where
        assert table["pl"] != table["en"], where
        assert table["tr"] != table["pl"], where


@pytest.fixture(scope="module")
def default_kb() -> KnowledgeBase:
    config = load_config(None)
    return KnowledgeBase(config.knowledge, config.agents.knowledge_threshold)


@pytest.mark.parametrize(
    ("text", "entry"),
    [
        ("fiyat ne kadar?", "pricing"),
        ("aylık ücret ne kadar acaba", "pricing"),
        ("Pro paket ne kadar", "pricing"),
        ("kaç para?", "pricing"),
        ("ile kosztuje?", "pricing"),
        ("ile to kosztuje miesięcznie?", "pricing"),
        ("cennik poproszę", "pricing"),
        ("chciałbym poznać ceny", "pricing"),
        ("birden fazla kişi aynı numarayı kullanabilir mi", "teams"),
        ("ekip arkadaşlarımı ekleyebilir miyim", "teams"),
        ("czy kilka osób może obsługiwać jeden numer", "teams"),
        ("ilu użytkowników może korzystać?", "teams"),
        ("çalışma saatleriniz nedir", "hours"),
        ("hafta sonu açık mısınız", "hours"),
        ("jakie są godziny otwarcia", "hours"),
        ("do której pracujecie?", "hours"),
        ("broşür gönderebilir misiniz", "brochure"),
        ("macie jakąś broszurę?", "brochure"),
        ("şifremi unuttum", "password_reset"),
        ("sifremi nasil sifirlarim", "password_reset"),
        ("zapomniałem hasła", "password_reset"),
        ("nie pamietam hasla do konta", "password_reset"),
        ("jak zresetować hasło?", "password_reset"),
        ("ücretsiz deneme var mı", "trial"),
        ("deneme süresi ne kadar", "trial"),
        ("czy jest darmowy okres próbny", "trial"),
        ("czy mogę przetestować za darmo", "trial"),
    ],
)
def test_turkish_and_polish_questions_are_answered_from_the_right_entry(
    default_kb: KnowledgeBase, text: str, entry: str
) -> None:
    match = default_kb.best(text)
    assert match is not None, text
    assert match.entry.id == entry, (text, match)


@pytest.mark.parametrize(
    "text",
    [
        "faturamı göremiyorum",
        "shopify ile entegre oluyor mu",
        "ne kadar sürer kurulum",
        "czy da się zintegrować z shoperem",
        "jak anulować subskrypcję",
        "nie",  # a bare "no" is not a password question
        "ne?",  # "what?" is a word of "fiyat ne kadar", and asks nothing
        "tak",  # "yes" (and Hindi "until", of "kab tak open") asks nothing
    ],
)
def test_turkish_and_polish_questions_no_entry_answers_are_left_unanswered(
    default_kb: KnowledgeBase, text: str
) -> None:
    assert default_kb.best(text) is None


@pytest.mark.parametrize(
    ("wa_id", "turns", "welcome", "prices", "reset"),
    [
        (
            "905321234567",
            ("merhaba", "fiyat ne kadar?", "şifremi unuttum", "sifremi nasil sifirlarim"),
            "sanal asistan",
            ("Fiyatlarımız", "49 $"),
            "sıfırlayabilirsiniz",
        ),
        (
            "48501234567",
            ("dzień dobry", "ile kosztuje?", "zapomniałem hasła", "nie pamietam hasla"),
            "wirtualnym asystentem",
            ("Ceny zaczynają się", "miesięcznie"),
            "zresetować",
        ),
    ],
)
async def test_turkish_and_polish_customers_get_prices_and_the_password_reset_in_their_language(
    wa_id: str, turns: tuple[str, ...], welcome: str, prices: tuple[str, str], reset: str
) -> None:
    result = await _replay(_case("knowledge", wa_id, "Ada", *({"text": t} for t in turns)))
    assert welcome in _said(result, 0)
    for words in prices:
        assert words in _said(result, 1)
    for turn in (2, 3):
        assert reset in _said(result, turn)
    assert result["handoff"] is None


@pytest.mark.parametrize(
    ("wa_id", "hello", "asked", "told"),
    [
        ("905321234568", "merhaba", "bir temsilciyle görüşmek istiyorum", ("ekibimizden", "yanıt verecek")),
        ("48501234568", "dzień dobry", "chcę porozmawiać z konsultantem", ("przekazuję", "odpowie ci tutaj")),
    ],
)
async def test_a_turkish_or_polish_request_for_a_person_is_told_in_their_language_who_takes_over(
    wa_id: str, hello: str, asked: str, told: tuple[str, str]
) -> None:
    result = await _replay(_case("handoff", wa_id, "Ada", {"text": hello}, {"text": asked}))
    handoff = result["handoff"]
    assert handoff is not None
    assert (handoff["turn"], handoff["reason"]) == (1, "explicit_request")
    said = _said(result, 1)
    for words in told:
        assert words in said
    assert "passed everything" not in said
    assert result["turns"][1]["owner"] != "bot"


async def test_a_closed_team_s_reopening_reads_as_a_turkish_and_a_polish_sentence() -> None:
    turkish = await _replay(
        _case("tr-closed", "905321234569", "Elif", {"text": "merhaba"}, {"button": "Billing"}), at=SATURDAY
    )
    assert "Finance ekibimiz şu anda kapalı" in _said(turkish, 1)
    assert "Pazartesi, 09:00 (Europe/London) itibarıyla" in _said(turkish, 1)
    polish = await _replay(
        _case("pl-closed", "48501234569", "Zofia", {"text": "dzień dobry"}, {"button": "Billing"}),
        at=SATURDAY,
    )
    assert "Zespół Finance jest teraz nieczynny" in _said(polish, 1)
    assert "Powrót zespołu: poniedziałek, 09:00 (Europe/London)" in _said(polish, 1)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("broşür gönderebilir misiniz", "tr"),
        ("merhaba reklamınızı gördüm", "tr"),
        ("ücretsiz deneme var mı", "tr"),
        ("zapomniałem hasła", "pl"),
        ("ile kosztuje?", "pl"),
        ("müssen wir dafür zahlen?", "de"),
    ],
)
def test_short_turkish_and_polish_messages_are_read_in_their_language(text: str, language: str) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize(
    ("wa_id", "hello", "question", "yes", "answer"),
    [
        ("905321234567", "merhaba", "bot musun?", "evet lütfen", "sanal asistan"),
        ("48501234567", "dzień dobry", "czy jesteś botem?", "tak, poproszę", "wirtualnym asystentem"),
    ],
)
async def test_asked_if_it_is_a_bot_it_says_so_in_their_language_and_yes_brings_a_person(
    wa_id: str, hello: str, question: str, yes: str, answer: str
) -> None:
    result = await _replay(
        _case("bot-question", wa_id, "Ada", {"text": hello}, {"text": question}, {"text": yes})
    )
    assert answer in _said(result, 1)
    assert result["handoff"] is not None
    assert result["handoff"]["turn"] == 2
    assert result["handoff"]["reason"] == "explicit_request"
