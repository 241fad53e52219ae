"""Offline rules for what a customer reports rather than asks, and for waiting and weariness said
plainly: a talk with a person in the past is no request ("hablé con una persona de ventas", "j'ai
parlé avec un conseiller hier"), a Turkish "I am a representative" is who is writing, Turkish and
Polish requests with the verb last or with politeness are requests; waiting since a named day with
nothing since, being worn out by it and the same questions again are frustration, a feeling about a
former provider is not, and a starred word is a correction. Sentences written for these rules, not
taken from the labelled sets."""

from __future__ import annotations

import pytest

from agents.extract import is_correction
from agents.sentinel.detectors import detect_explicit_request
from agents.sentinel.frustration import detect_frustration

THRESHOLD = 0.6


@pytest.mark.parametrize(
    "text",
    [
        "müşteri temsilcisi istiyorum",
        "bir yetkili ile görüşmek istiyorum",
        "müşteri temsilcisi lütfen",
        "acil temsilci lütfen",
        "konsultant proszę",
        "chciałbym porozmawiać z konsultantem",
        # A call or a meeting with someone, in the languages where English had it already.
        "podemos agendar uma reunião com alguém do comercial?",
        "Können wir einen Termin mit einem Berater machen?",
        "¿se puede armar una llamada con alguien de ventas?",
    ],
)
def test_turkish_and_polish_requests_and_a_meeting_with_someone_are_requests(text: str) -> None:
    assert detect_explicit_request(text) is not None, text


@pytest.mark.parametrize(
    "text",
    [
        "la semana pasada hablé con una persona de ventas y me dijo que había descuento, es así?",
        "hablé con un asesor y me explicó lo del plan, cuánto cuesta al final?",
        "j'ai parlé avec un conseiller hier, il m'a parlé d'une offre",
        "letzte Woche habe ich mit einem Mitarbeiter gesprochen, gilt das Angebot noch?",
        "ho parlato con un operatore la settimana scorsa",
        "satış temsilcisiyim, fiyatlarınız nedir?",
        "müşteri temsilcisi olarak çalışmak istiyorum, iş ilanınız var mı?",
        "yetkiliye gerek yok, sadece fiyatı söyleyin",
        "tuve una reunión con mi contador ayer y me pidió el precio",
    ],
)
def test_a_talk_in_the_past_and_who_is_writing_are_not_requests(text: str) -> None:
    assert detect_explicit_request(text) is None, text


@pytest.mark.parametrize(
    "text",
    [
        "hable con una persona por favor",
        "je voudrais parler avec un conseiller",
        "Mitarbeiter hier?",
        "tem algum atendente lá?",
    ],
)
def test_the_same_words_as_a_request_are_still_requests(text: str) -> None:
    assert detect_explicit_request(text) is not None, text


@pytest.mark.parametrize(
    "text",
    [
        "been waiting since thursday. nothing so far",
        "I'm honestly worn out by this",
        "espero respuesta desde el martes y hasta ahora nada",
        "estou esperando desde segunda, até agora nenhuma resposta",
        "j'attends depuis mardi, toujours pas de réponse",
        "ich warte seit Dienstag, bis jetzt nichts",
        "aspetto da martedì, ancora nessuna risposta",
        "ik wacht sinds dinsdag, tot nu toe niks",
        "nunggu dari hari selasa, sampai sekarang belum ada kabar",
        "salıdan beri bekliyorum, hala haber yok",
        "czekam od wtorku, nadal nic",
        "Langsam wird es mühsam, ich warte seit Montag",
        "same questions again?? I already filled in the form",
        "otra vez las mismas preguntas, ya llené el formulario",
        "de novo as mesmas perguntas, já preenchi o formulário",
    ],
)
def test_waiting_since_a_day_with_nothing_since_and_the_same_questions_again_are_frustration(
    text: str,
) -> None:
    signal = detect_frustration(text)
    assert signal is not None, text
    assert signal.score >= THRESHOLD, (text, signal)


@pytest.mark.parametrize(
    "text",
    [
        "we were fed up with our old provider, that's why we're here. what does pro cost?",
        "I'm exhausted lol long day, what are your hours?",
        "our new contract starts from monday, how much is the pro plan?",
        "el plan nuevo empieza desde el lunes?",
        "do you ask the same questions for every plan?",
    ],
)
def test_a_former_provider_a_long_day_and_a_start_date_are_not_frustration(text: str) -> None:
    signal = detect_frustration(text)
    assert signal is None or signal.score < THRESHOLD, (text, signal)


@pytest.mark.parametrize(
    ("text", "correction"),
    [
        ("pardon, Boulangerie Marchand*", True),
        ("*Ferreira", True),
        ("our company is *Acme Corp*", False),
        ("5*3 seats?", False),
    ],
)
def test_a_word_with_one_star_is_a_correction_and_bold_is_not(text: str, correction: bool) -> None:
    assert is_correction(text) is correction
