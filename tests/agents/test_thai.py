"""Thai offline: words found in text written without spaces, a person asked for, frustration,
greetings and thanks. Sentences written for the lexicon, not taken from the labelled sets."""

from __future__ import annotations

import subprocess
import sys

import pytest

from agents.extract import extract_fields
from agents.language import analyse, detect_language
from agents.sentinel.basics import is_acknowledgement, is_greeting, will_get_back
from agents.sentinel.detectors import detect_explicit_request, detect_negated_request
from agents.sentinel.frustration import detect_frustration


def test_thai_written_without_spaces_is_read_as_words_with_their_offsets() -> None:
    text = "ขอคุยกับเจ้าหน้าที่หน่อยครับ"
    a = analyse(text)
    assert a.words == ("ขอ", "คุย", "กับ", "เจ้าหน้าที่", "หน่อย", "ครับ")
    assert [text[t.start : t.end] for t in a.tokens] == list(a.words)


def test_a_thai_space_ends_a_clause_and_a_letter_typed_again_and_again_is_one() -> None:
    a = analyse("ไม่อยากคุยกับบอท ขอคุยกับคนจริง")
    assert a.tokens[0].clause != a.tokens[-1].clause
    assert analyse("ขอบคุณครับบบ").words == ("ขอบคุณ", "ครับ")


def test_a_process_that_never_reads_thai_does_not_load_the_segmenter() -> None:
    code = (
        "import sys; from agents.language import analyse; analyse('hola, quiero un agente'); "
        "print('pythainlp' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("text", ["ขอคุยกับเจ้าหน้าที่หน่อยครับ", "มีใครโทรหาผมได้ไหมคะ", "ไม่อยากคุยกับบอท ขอคุยกับคนจริง"])
def test_a_person_asked_for_in_thai_is_a_request(text: str) -> None:
    assert detect_language(text) == "th"
    assert detect_explicit_request(text) is not None, text


@pytest.mark.parametrize("text", ["แอดมินของร้านเรามี 3 คน", "ราคาต่อแอดมินเท่าไหร่คะ"])
def test_their_own_admins_or_a_price_per_admin_is_no_request(text: str) -> None:
    assert detect_explicit_request(text) is None, text


def test_no_need_for_a_person_in_thai_is_a_declined_request() -> None:
    text = "ไม่ต้องต่อเจ้าหน้าที่นะ ขอแค่ราคา"
    assert detect_explicit_request(text) is None
    assert detect_negated_request(text) is not None


@pytest.mark.parametrize("text", ["ผิดหวังมาก ไม่มีใครตอบเลย", "ถามหลายรอบแล้ว ยังใช้ไม่ได้"])
def test_frustration_in_thai_is_seen(text: str) -> None:
    signal = detect_frustration(text)
    assert signal is not None, text
    assert signal.score >= 0.6, (text, signal)


def test_thai_greetings_and_thanks_are_read() -> None:
    assert is_greeting("สวัสดีครับ")
    assert is_greeting("สวัสดีค่าาา")
    assert is_acknowledgement("ขอบคุณค่ะ")


def test_thanks_and_i_will_message_again_in_thai_is_no_answer_yet() -> None:
    text = "ขอบคุณครับ ไว้ว่างแล้วจะทักมาใหม่"
    assert will_get_back(text)
    assert extract_fields(text, asking="use_case", known=frozenset({"company_name"})) == []
