"""Swahili and Vietnamese offline: a person asked for, frustration, and what is neither. Sentences
written for the lexicons, not taken from the labelled sets."""

from __future__ import annotations

import pytest

from agents.language import detect_language
from agents.sentinel.basics import is_question
from agents.sentinel.detectors import detect_explicit_request
from agents.sentinel.frustration import detect_frustration

THRESHOLD = 0.6


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Tafadhali naomba kuzungumza na mtu halisi", "sw"),
        ("nataka kuongea na mhudumu wa wateja", "sw"),
        ("naomba mnipigie simu kesho asubuhi", "sw"),
        ("cho em gặp nhân viên tư vấn nhé", "vi"),
        ("mình muốn nói chuyện với người thật", "vi"),
        ("gọi lại cho mình sau 5h chiều nhé", "vi"),
    ],
)
def test_a_person_asked_for_in_swahili_or_vietnamese_is_a_request(text: str, language: str) -> None:
    assert detect_language(text) == language
    assert detect_explicit_request(text) is not None, text


@pytest.mark.parametrize(
    "text",
    [
        "nimechoka kabisa, hakuna anayejibu ujumbe wangu",
        "nimesikitishwa na huduma mbaya sana",
        "thất vọng quá, không ai trả lời cả",
        "làm ăn kiểu gì vậy, chán quá",
    ],
)
def test_frustration_in_swahili_or_vietnamese_is_found(text: str) -> None:
    found = detect_frustration(text)
    assert found is not None
    assert found.score >= THRESHOLD, found


@pytest.mark.parametrize(
    "text",
    [
        "bei ya kifurushi cha msingi ni kiasi gani?",
        "asante sana, nimeelewa",
        "Habari za jioni",
        "giá gói cơ bản bao nhiêu vậy shop?",
        "cảm ơn bạn nhiều nha",
        "chào shop",
    ],
)
def test_a_question_thanks_or_a_greeting_in_swahili_or_vietnamese_asks_for_nobody(text: str) -> None:
    assert detect_explicit_request(text) is None, text
    found = detect_frustration(text)
    assert found is None or found.score < THRESHOLD


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("Chị tên Thu, bên công ty Gốm Sứ Minh Long", False),
        ("chị cần trả lời khách nhanh hơn", False),
        # Italian "chi" (who) still opens a question.
        ("chi è il responsabile vendite", True),
    ],
)
def test_a_vietnamese_word_spelled_with_its_own_marks_is_no_question_word_of_another_language(
    text: str, question: bool
) -> None:
    assert is_question(text) is question
