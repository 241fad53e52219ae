"""The chat convention of correcting a word with a star ("*person" after "a real purse")."""

from __future__ import annotations

import pytest

from agents.common import apply_corrections
from agents.sentinel.detectors import detect_explicit_request


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("can i speak to a real perrson please. *person", "can i speak to a real person please"),
        ("we're Brightwood Dentl\n*Dental", "we're Brightwood Dental"),
        ("quiero hablar con un agenre *agente", "quiero hablar con un agente"),
    ],
)
def test_a_starred_word_replaces_the_word_it_corrects(typed: str, meant: str) -> None:
    assert apply_corrections(typed) == meant


@pytest.mark.parametrize("typed", ["this is *urgent* please", "*hi", "thanks *wave*", "rated 5*"])
def test_formatting_and_stars_with_nothing_to_correct_are_left_alone(typed: str) -> None:
    assert apply_corrections(typed) == typed


def test_a_request_typed_with_a_slip_and_corrected_is_found() -> None:
    typed = "can I talk to a real purse on here. *person lol autocorrect"
    assert detect_explicit_request(typed) is None
    assert detect_explicit_request(apply_corrections(typed)) is not None
