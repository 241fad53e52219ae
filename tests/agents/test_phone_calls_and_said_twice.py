"""Offline rules for being called on the phone in Portuguese, asking to "have" someone in Dutch,
Hindi in Devanagari with its postposition, being told the same twice or sent the same again,
cool displeasure and money taken twice; a former provider's possessive is still another business;
a business named after what it is ("la boulangerie Au Pain Doré"). Sentences written for these
rules, not taken from the labelled sets."""

from __future__ import annotations

import pytest

from agents.extract import extract_fields
from agents.sentinel.detectors import detect_explicit_request
from agents.sentinel.frustration import detect_frustration

THRESHOLD = 0.6


@pytest.mark.parametrize(
    "text",
    [
        "alguém pode me chamar no celular? tô dirigindo",
        "me chama no telefone por favor, é mais fácil",
        "krijg ik een echte medewerker?",
        "mag ik een adviseur spreken",
        "मुझे किसी कर्मचारी से बात करनी है",
        "कृपया किसी अधिकारी से बात करवाइए",
    ],
)
def test_a_call_a_person_to_have_and_hindi_in_devanagari_are_requests(text: str) -> None:
    assert detect_explicit_request(text) is not None, text


@pytest.mark.parametrize(
    "text",
    [
        "mag ik een vraag stellen over de prijzen?",
        "krijg ik een factuur per maand?",
        "मुझे कीमत के बारे में जानना है",
        "me chama atenção o preço, é por usuário?",
    ],
)
def test_asking_a_question_or_for_a_thing_is_no_request_for_a_person(text: str) -> None:
    assert detect_explicit_request(text) is None, text


@pytest.mark.parametrize(
    "text",
    [
        "I've asked you twice now and you keep giving me the same answer!!",
        "why do you keep sending me the same menu?? i explained it twice",
        "Not impressed. Nobody got back to me since Monday.",
        "we paid twice this month and heard nothing back",
    ],
)
def test_said_twice_the_same_sent_again_and_cool_displeasure_are_frustration(text: str) -> None:
    found = detect_frustration(text)
    assert found is not None, text
    assert found.score >= THRESHOLD, (text, found)


@pytest.mark.parametrize(
    "text",
    [
        "our previous vendor's support was a nightmare honestly, how does yours work?",
        "my old provider's app was hopeless, can I import my contacts?",
    ],
)
def test_a_feeling_about_a_former_providers_things_is_not_frustration_with_us(text: str) -> None:
    found = detect_frustration(text)
    assert found is None or found.score < THRESHOLD, (text, found)


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("we run the restaurant Casa Nostra and we would like to send booking reminders", "Casa Nostra"),
        ("I manage the gym Iron Temple, we want to use it for class bookings", "Iron Temple"),
        ("je gère le salon Coiffure Élégance et on voudrait envoyer des rappels", "Coiffure Élégance"),
        ("tengo la ferretería El Tornillo Feliz y queremos mandar presupuestos", "El Tornillo Feliz"),
    ],
)
def test_a_business_named_after_what_it_is_gives_the_name(text: str, company: str) -> None:
    found = {x.field: x.value for x in extract_fields(text, asking=None, known=frozenset(), person="Sam")}
    assert found.get("company_name") == company, found
