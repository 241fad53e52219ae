"""Romanian, Russian and Bengali offline: a person asked for, frustration, greetings, and what is
neither. Sentences written for the lexicons, not taken from the labelled sets."""

from __future__ import annotations

import pytest

from agents.extract import extract_fields
from agents.language import analyse, detect_language
from agents.sentinel.basics import is_greeting
from agents.sentinel.detectors import detect_explicit_request
from agents.sentinel.frustration import detect_frustration

THRESHOLD = 0.6


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Aș vrea să vorbesc cu un operator, vă rog", "ro"),
        ("ma poate suna cineva azi? e urgent", "ro"),
        ("Можно поговорить с живым человеком?", "ru"),
        ("перезвоните мне, пожалуйста, после обеда", "ru"),
        ("আমি একজন মানুষের সাথে কথা বলতে চাই", "bn"),
        ("দয়া করে আমাকে একটু ফোন করুন", "bn"),
    ],
)
def test_a_person_asked_for_in_romanian_russian_or_bengali_is_a_request(text: str, language: str) -> None:
    assert detect_language(text) == language
    assert detect_explicit_request(text) is not None, text


@pytest.mark.parametrize(
    "text",
    [
        "Nu am nevoie de un operator, spuneți-mi doar prețul",
        "agenții noștri răspund la mesaje toată ziua",
        "Мне не нужен оператор, просто скажите цену",
        "наши операторы работают в две смены",
        "আমার অপারেটর লাগবে না, শুধু দাম জানতে চাই",
    ],
)
def test_a_declined_person_or_their_own_staff_is_no_request(text: str) -> None:
    assert detect_explicit_request(text) is None, text


@pytest.mark.parametrize(
    "text",
    [
        "e a treia oară când vă scriu și tot nu funcționează",
        "Третий раз пишу, и никто не отвечает",
        "আমি খুব হতাশ, কেউ উত্তর দিচ্ছে না",
    ],
)
def test_frustration_in_romanian_russian_or_bengali_is_seen(text: str) -> None:
    signal = detect_frustration(text)
    assert signal is not None, text
    assert signal.score >= THRESHOLD, (text, signal)


@pytest.mark.parametrize("text", ["Bună ziua", "здравствуйте", "Добрый вечер", "হ্যালো", "শুভ সকাল"])
def test_a_greeting_in_romanian_russian_or_bengali_is_a_greeting(text: str) -> None:
    assert is_greeting(text), text


def test_a_bengali_word_keeps_its_vowel_signs_and_a_danda_ends_a_clause() -> None:
    a = analyse("আমি মানুষের সাথে কথা বলতে চাই। ধন্যবাদ")
    assert a.words[:2] == ("আমি", "মানুষের")
    assert a.tokens[-1].clause > a.tokens[0].clause


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("avem o brutărie în Iași, se numește Pâine Bună", "Pâine Bună"),
        ("firma noastră e Transport Ionescu", "Transport Ionescu"),
        ("Наша компания называется «Северный ветер»", "Северный ветер"),
        ("мы из компании ООО Ромашка", "ООО Ромашка"),
    ],
)
def test_a_company_named_in_romanian_or_russian_is_read(text: str, company: str) -> None:
    found = {f.field: f.value for f in extract_fields(text, asking="company_name")}
    assert found.get("company_name") == company


def test_what_they_want_to_do_in_romanian_or_russian_is_the_use_case_and_talking_is_not() -> None:
    def use_case(text: str) -> str | None:
        return {f.field: f.value for f in extract_fields(text, asking=None)}.get("use_case")

    assert use_case("vrem să trimitem confirmări de programare pe WhatsApp") == (
        "trimitem confirmări de programare pe WhatsApp"
    )
    assert use_case("хотим принимать заказы через WhatsApp") == "принимать заказы через WhatsApp"
    assert use_case("vrem să vorbim cu cineva") is None
    assert use_case("хотим поговорить с оператором") is None
