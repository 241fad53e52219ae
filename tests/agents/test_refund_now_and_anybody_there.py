"""Offline rules for asking whether anybody is there at all, and for a refund demanded now after
being charged twice (Portuguese and Spanish). Sentences written for these rules, not taken from
the labelled sets."""

from __future__ import annotations

import pytest

from agents.sentinel.detectors import detect_explicit_request
from agents.sentinel.frustration import detect_frustration

THRESHOLD = 0.6


@pytest.mark.parametrize(
    "text", ["is anybody actually there?", "is somebody really there or am I talking to a wall"]
)
def test_asking_whether_anybody_is_there_is_a_request(text: str) -> None:
    assert detect_explicit_request(text) is not None, text


@pytest.mark.parametrize(
    "text",
    [
        "me cobraram duas vezes a mensalidade, quero o reembolso agora",
        "nos cobraron dos veces la factura, quiero mi reembolso YA",
    ],
)
def test_charged_twice_and_a_refund_demanded_now_is_frustration(text: str) -> None:
    found = detect_frustration(text)
    assert found is not None
    assert found.score >= THRESHOLD, found


@pytest.mark.parametrize("text", ["como faço para pedir reembolso?", "¿cuánto tarda el reembolso?"])
def test_asking_how_a_refund_works_is_neither(text: str) -> None:
    frustration = detect_frustration(text)
    assert frustration is None or frustration.score < THRESHOLD, frustration
    assert detect_explicit_request(text) is None, text


@pytest.mark.parametrize(
    "text",
    [
        "je comprends pas trop ces trucs là non, si quelqu'un peut m'appeler ce serait top",
        "eu não sei mexer nisso não se alguém puder me ligar depois agradeço",
    ],
)
def test_a_no_that_closes_the_sentence_before_does_not_negate_an_if_someone_could_call(text: str) -> None:
    assert detect_explicit_request(text) is not None, text


@pytest.mark.parametrize(
    "text",
    [
        "does it connect to Google Tag Manager?",
        "can this connect with our account manager's CRM login?",
    ],
)
def test_the_product_connecting_to_something_is_no_request(text: str) -> None:
    assert detect_explicit_request(text) is None, text


def test_connect_me_to_a_manager_is_still_a_request() -> None:
    assert detect_explicit_request("could you connect me to a manager please") is not None


@pytest.mark.parametrize(
    "text",
    [
        "BEEN TRYING TO RESET MY PASSWORD FOR HOURS",
        "you charged my card again even though I cancelled, I want my money back",
        "Merci pour rien, vraiment.",
    ],
)
def test_effort_in_capitals_a_charge_after_cancelling_and_thanks_for_nothing_are_frustration(
    text: str,
) -> None:
    found = detect_frustration(text)
    assert found is not None
    assert found.score >= THRESHOLD, found


def test_trying_something_out_or_asking_for_a_refund_calmly_is_not() -> None:
    for text in ("I've been trying out the templates, nice", "can I get the money back for the unused days?"):
        found = detect_frustration(text)
        assert found is None or found.score < THRESHOLD, (text, found)
