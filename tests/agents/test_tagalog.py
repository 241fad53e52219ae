"""Tagalog and Taglish offline: a person asked for, frustration, and what is neither. Sentences
written for the lexicon, not taken from the labelled sets."""

from __future__ import annotations

import pytest

from agents.language import detect_language
from agents.sentinel.detectors import detect_explicit_request
from agents.sentinel.frustration import detect_frustration

THRESHOLD = 0.6


@pytest.mark.parametrize(
    "text",
    [
        "pwede ko po bang makausap yung ahente niyo?",
        "gusto ko makausap ng totoong tao, hindi bot",
        "tawagan niyo na lang ako, mas madali",
        "may tao ba dyan? kanina pa ako nagtatanong",
    ],
)
def test_a_person_asked_for_in_tagalog_is_a_request(text: str) -> None:
    assert detect_language(text) == "tl"
    assert detect_explicit_request(text) is not None, text


@pytest.mark.parametrize(
    "text",
    ["nakakabwisit na talaga, walang sumasagot sa inyo", "ang tagal ng reply, paulit ulit na lang ako"],
)
def test_frustration_in_tagalog_is_found(text: str) -> None:
    found = detect_frustration(text)
    assert found is not None
    assert found.score >= THRESHOLD, found


@pytest.mark.parametrize(
    "text",
    [
        "magkano po yung plan para sa limang tao?",
        "salamat po, malinaw na",
        "kumusta po, nakita ko yung ad niyo",
    ],
)
def test_a_question_thanks_or_a_greeting_in_tagalog_asks_for_nobody(text: str) -> None:
    assert detect_explicit_request(text) is None, text
    found = detect_frustration(text)
    assert found is None or found.score < THRESHOLD
