"""Built webhook bodies have the fixtures' shape and go through parse_webhook like real traffic."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from orchestrator.channels.whatsapp.inbound import InboundKind, parse_webhook
from orchestrator.channels.whatsapp.signature import compute_signature, verify_signature
from orchestrator.runtime.simulator import (
    build_button_reply_webhook,
    build_list_reply_webhook,
    build_text_webhook,
    encode_webhook,
)
from tests.fixtures import load_fixture

AT = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def _shape(node: Any) -> Any:
    """The key structure of a JSON document, values dropped (lists by their first item)."""
    if isinstance(node, dict):
        return {key: _shape(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_shape(node[0])] if node else []
    return type(node).__name__


def _without_bsuid(document: dict[str, Any]) -> dict[str, Any]:
    for contact in document["entry"][0]["changes"][0]["value"]["contacts"]:
        contact.pop("user_id", None)
        contact.pop("parent_user_id", None)
    return document


def test_text_webhook_has_the_shape_of_the_real_fixture() -> None:
    built = build_text_webhook(
        wa_id="447700900123", name="Ana", message_id="wamid.1", timestamp=AT, text="Hi"
    )
    assert _shape(built) == _shape(_without_bsuid(load_fixture("inbound_text_pywa.json")))


def test_button_reply_webhook_has_the_shape_of_the_real_fixture() -> None:
    built = build_button_reply_webhook(
        wa_id="447700900123",
        name="Ana",
        message_id="wamid.2",
        timestamp=AT,
        reply_id="support",
        title="Support",
        context_message_id="wamid.menu",
    )
    real = _without_bsuid(load_fixture("inbound_interactive_button_reply_pywa.json"))
    assert _shape(built) == _shape(real)


def test_list_reply_webhook_has_the_shape_of_the_real_fixture() -> None:
    built = build_list_reply_webhook(
        wa_id="447700900123",
        name="Ana",
        message_id="wamid.3",
        timestamp=AT,
        reply_id="billing",
        title="Billing",
        description="Invoices and payments",
        context_message_id="wamid.menu",
    )
    real = _without_bsuid(load_fixture("inbound_interactive_list_reply_pywa.json"))
    assert _shape(built) == _shape(real)


def test_text_webhook_parses_back_with_referral_and_phone_number_id() -> None:
    referral = load_fixture("inbound_ctwa_referral_pywa.json")["entry"][0]["changes"][0]["value"]["messages"][
        0
    ]["referral"]
    built = build_text_webhook(
        wa_id="447700900123",
        name="Ana",
        message_id="wamid.ad",
        timestamp=AT,
        text="I saw your ad",
        referral=referral,
        phone_number_id="106540352242922",
    )

    [message] = parse_webhook(encode_webhook(built)).messages

    assert message.kind is InboundKind.TEXT
    assert message.text == "I saw your ad"
    assert message.wa_message_id == "wamid.ad"
    assert message.timestamp == AT
    assert message.contact.key == "447700900123"
    assert message.contact.name == "Ana"
    assert message.referral == referral
    assert message.phone_number_id == "106540352242922"


@pytest.mark.parametrize(
    ("builder", "kind"),
    [
        (build_button_reply_webhook, InboundKind.BUTTON_REPLY),
        (build_list_reply_webhook, InboundKind.LIST_REPLY),
    ],
)
def test_reply_webhooks_parse_back_to_their_reply(builder: Any, kind: InboundKind) -> None:
    built = builder(
        wa_id="12025550100", message_id="wamid.r", timestamp=1764000000, reply_id="sales", title="Sales"
    )
    [message] = parse_webhook(encode_webhook(built)).messages
    assert (message.kind, message.reply_id, message.reply_title, message.text) == (
        kind,
        "sales",
        "Sales",
        "Sales",
    )
    assert message.contact.name is None


def test_bsuid_only_sender_is_supported() -> None:
    built = build_text_webhook(wa_id=None, user_id="US.1", message_id="wamid.b", timestamp=AT, text="hey")
    [message] = parse_webhook(encode_webhook(built)).messages
    assert (message.contact.wa_id, message.contact.key) == (None, "US.1")


def test_builder_refuses_a_sender_without_any_id() -> None:
    with pytest.raises(ValueError, match="wa_id or user_id"):
        build_text_webhook(wa_id=None, message_id="wamid.x", timestamp=AT, text="hey")


def test_encoded_body_escapes_non_ascii_like_meta_and_signs_round_trip() -> None:
    built = build_text_webhook(wa_id="34600000000", message_id="wamid.e", timestamp=AT, text="¿Qué tal? äöå")
    body = encode_webhook(built)
    assert b"\\u00e4\\u00f6\\u00e5" in body
    assert verify_signature("secret", body, compute_signature("secret", body))
    assert parse_webhook(body).messages[0].text == "¿Qué tal? äöå"
