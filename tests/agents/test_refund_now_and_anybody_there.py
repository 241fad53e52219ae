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
