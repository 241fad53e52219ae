"""parse_webhook against every real Cloud API webhook fixture, plus malformed and batched input."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from orchestrator.channels.whatsapp.client import GraphAPIError
from orchestrator.channels.whatsapp.document import WebhookPayloadError, decode_document
from orchestrator.channels.whatsapp.inbound import (
    ContactRef,
    InboundKind,
    parse_webhook,
)
from tests.fixtures import fixture_bytes, fixture_names, load_fixture

PYWA_CONTACT = ContactRef(
    wa_id="972987654321", user_id="US.13491208655302741918", name="Test Name", username=None
)

# What a rep (and the graph) should get from each inbound fixture. Keys not listed default to
# None/False; `contact` defaults to the pywa test contact.
INBOUND_EXPECTATIONS: dict[str, dict[str, Any]] = {
    "inbound_text_pywa.json": {"kind": InboundKind.TEXT, "text": "Body Text"},
    "inbound_text_forwarded_pywa.json": {
        "kind": InboundKind.TEXT,
        "text": "forwarded text",
        "forwarded": True,
    },
    "inbound_text_reply_context_pywa.json": {
        "kind": InboundKind.TEXT,
        "text": "replied text",
        "context_message_id": "wamid.xyzxyz==",
    },
    "inbound_text_bsuid_no_phone_pywa.json": {
        "kind": InboundKind.TEXT,
        "text": "Does it come in another color?",
        # from_user_id wins over the fixture's contacts[0].user_id typo ("uUS.…").
        "contact": ContactRef(
            wa_id=None,
            user_id="US.13491208655302741918",
            name="Sheena Nelson",
            username="@realsheenanelson",
        ),
        "phone_number_id": "106540352242922",
    },
    "inbound_ctwa_referral_pywa.json": {
        "kind": InboundKind.TEXT,
        "text": "BODY",
        "referral_source_id": "ADID",
    },
    "inbound_interactive_button_reply_pywa.json": {
        "kind": InboundKind.BUTTON_REPLY,
        "raw_type": "interactive",
        "text": "title",
        "reply_id": "callback_data",
        "reply_title": "title",
        "context_message_id": "wamid.xyzxyz",
    },
    "inbound_interactive_list_reply_pywa.json": {
        "kind": InboundKind.LIST_REPLY,
        "raw_type": "interactive",
        "text": "title",
        "reply_id": "callback_data",
        "reply_title": "title",
        "reply_description": "description",
        "context_message_id": "wamid.xyzxyz",
    },
    "inbound_interactive_list_reply_no_description_pywa.json": {
        "kind": InboundKind.LIST_REPLY,
        "raw_type": "interactive",
        "text": "title",
        "reply_id": "callback_data",
        "reply_title": "title",
        "context_message_id": "wamid.xyzxyz",
    },
    "inbound_interactive_with_value_errors_pywa.json": {
        "kind": InboundKind.UNKNOWN,
        "raw_type": "interactive",
        "text": "[interactive]",
        "context_message_id": "wamid.gvwegfretge==",
        "batch_error_codes": [131000],
    },
    "inbound_button_template_quick_reply_pywa.json": {
        "kind": InboundKind.TEMPLATE_BUTTON,
        "raw_type": "button",
        "text": "title",
        "reply_id": "callback_data",
        "reply_title": "title",
        "context_message_id": "wamid.xyzxyz==",
    },
    "inbound_button_template_quick_reply_no_context_pywa.json": {
        "kind": InboundKind.TEMPLATE_BUTTON,
        "raw_type": "button",
        "text": "title",
        "reply_id": "callback_data",
        "reply_title": "title",
    },
    "inbound_image_pywa.json": {"kind": InboundKind.IMAGE, "text": "[image]", "media_id": "65463453"},
    "inbound_image_with_url_pywa.json": {
        "kind": InboundKind.IMAGE,
        "text": "[image]",
        "media_id": "65463453",
        "media_url_host": "lookaside.fbsbx.com",
    },
    "inbound_video_pywa.json": {
        "kind": InboundKind.VIDEO,
        "text": "caption",
        "forwarded": True,
        "media_id": "765756756",
    },
    "inbound_document_pywa.json": {
        "kind": InboundKind.DOCUMENT,
        "text": "caption",
        "forwarded": True,
        "media_id": "1234567890987654321",
        "media_filename": "filename.pdf",
    },
    "inbound_audio_pywa.json": {
        "kind": InboundKind.AUDIO,
        "text": "[audio]",
        "forwarded": True,
        "media_id": "1234567890987654321",
    },
    "inbound_audio_voice_pywa.json": {
        "kind": InboundKind.AUDIO,
        "text": "[voice message]",
        "media_id": "1234567890987654321",
        "voice": True,
    },
    "inbound_sticker_pywa.json": {
        "kind": InboundKind.STICKER,
        "text": "[sticker]",
        "media_id": "1234567890987654321",
    },
    "inbound_location_current_pywa.json": {
        "kind": InboundKind.LOCATION,
        "text": "📍 (12.25089, 43.90539)",
        "forwarded": True,
    },
    "inbound_location_named_pywa.json": {
        "kind": InboundKind.LOCATION,
        "text": "📍 Facebook HQ, 1 Hacker Way, Menlo Park, CA 94025 (37.4611978, -122.2164385)",
        "forwarded": True,
    },
    "inbound_contacts_pywa.json": {
        "kind": InboundKind.CONTACTS,
        "text": "👤 Chandler Bing, Monica, Rachel Green",
    },
    "inbound_reaction_pywa.json": {
        "kind": InboundKind.REACTION,
        "text": "😮 reaction to wamid.yzxyzx=",
        "context_message_id": "wamid.yzxyzx=",
    },
    "inbound_reaction_removed_empty_emoji_pywa.json": {
        "kind": InboundKind.REACTION,
        "text": "reaction removed from wamid.yzxyzx=",
        "context_message_id": "wamid.yzxyzx=",
    },
    "inbound_reaction_removed_no_emoji_pywa.json": {
        "kind": InboundKind.REACTION,
        "text": "reaction removed from wamid.yzxyzx=",
        "context_message_id": "wamid.yzxyzx=",
    },
    "inbound_order_pywa.json": {"kind": InboundKind.ORDER, "text": "[order: 3 items]"},
    "inbound_system_phone_number_change_pywa.json": {
        "kind": InboundKind.SYSTEM,
        "text": "User A changed from 972987654321 to 972912345678",
        # No contacts[] in a system webhook: only the (old) number from `from`.
        "contact": ContactRef(wa_id="972987654321"),
    },
    "inbound_unsupported_pywa.json": {
        "kind": InboundKind.UNSUPPORTED,
        "text": "[unsupported]",
        "message_error_codes": [131051],
    },
    "inbound_unsupported_with_type_pywa.json": {
        "kind": InboundKind.UNSUPPORTED,
        "text": "[unsupported: pool]",
        "message_error_codes": [131051],
    },
}


def test_every_inbound_fixture_has_expectations() -> None:
    names = fixture_names("inbound_*.json")
    if names and not isinstance(names[0], str):
        pytest.skip("shared WhatsApp fixtures are absent")
    assert set(names) == set(INBOUND_EXPECTATIONS)


@pytest.mark.parametrize("name", fixture_names("inbound_*.json"))
def test_inbound_fixture_normalizes_for_reps(name: str) -> None:
    expected = INBOUND_EXPECTATIONS[name]
    document = load_fixture(name)
    raw_message = document["entry"][0]["changes"][0]["value"]["messages"][0]

    batch = parse_webhook(fixture_bytes(name))

    assert batch.statuses == []
    assert [e["code"] for e in batch.errors] == expected.get("batch_error_codes", [])
    [message] = batch.messages
    assert message.kind is expected["kind"]
    assert message.raw_type == expected.get("raw_type", raw_message["type"])
    assert message.text == expected["text"]
    assert message.reply_id == expected.get("reply_id")
    assert message.reply_title == expected.get("reply_title")
    assert message.reply_description == expected.get("reply_description")
    assert message.context_message_id == expected.get("context_message_id")
    assert message.forwarded is expected.get("forwarded", False)
    assert message.contact == expected.get("contact", PYWA_CONTACT)
    assert message.phone_number_id == expected.get("phone_number_id", "1122334455667")
    assert message.wa_message_id == raw_message["id"]
    assert message.timestamp == datetime.fromtimestamp(int(raw_message["timestamp"]), tz=UTC)
    assert message.timestamp.tzinfo is not None
    assert [e["code"] for e in message.errors] == expected.get("message_error_codes", [])
    assert message.raw == raw_message
    if "referral_source_id" in expected:
        assert message.referral == raw_message["referral"]
        assert message.referral is not None
        assert message.referral["source_id"] == expected["referral_source_id"]
    else:
        assert message.referral is None
    if "media_id" in expected:
        assert message.media is not None
        assert message.media.id == expected["media_id"]
        assert message.media.voice is expected.get("voice", False)
        assert message.media.filename == expected.get("media_filename")
        if "media_url_host" in expected:
            assert message.media.url is not None
            assert message.media.url.startswith(f"https://{expected['media_url_host']}/")
        else:
            assert message.media.url is None
    else:
        assert message.media is None


def test_contact_key_prefers_phone_number_then_bsuid() -> None:
    with_phone = parse_webhook(fixture_bytes("inbound_text_pywa.json")).messages[0]
    bsuid_only = parse_webhook(fixture_bytes("inbound_text_bsuid_no_phone_pywa.json")).messages[0]
    assert with_phone.contact.key == "972987654321"
    assert bsuid_only.contact.key == "US.13491208655302741918"


def test_ctwa_referral_is_kept_whole() -> None:
    message = parse_webhook(fixture_bytes("inbound_ctwa_referral_pywa.json")).messages[0]
    assert message.referral is not None
    assert message.referral["ctwa_clid"] == "CTWA_CLID"
    assert message.referral["headline"] == "AD_TITLE"
    assert set(message.referral) >= {"source_url", "source_type", "body", "media_type", "image_url"}


# --- statuses ---

STATUS_EXPECTATIONS: dict[str, dict[str, Any]] = {
    "status_sent_pywa.json": {"status": "sent", "wa_id": "972987654321"},
    "status_delivered_pywa.json": {"status": "delivered", "wa_id": "972987654321"},
    "status_read_pywa.json": {"status": "read", "wa_id": "972987654321"},
    "status_played_pywa.json": {"status": "played", "wa_id": "972987654321"},
    "status_with_tracker_pywa.json": {
        "status": "sent",
        "wa_id": "972987654321",
        "callback_data": "some data",
    },
    "status_failed_130472_pywa.json": {"status": "failed", "wa_id": "972987654321", "codes": [130472]},
    "status_failed_131026_real_redacted.json": {
        "status": "failed",
        "wa_id": "REDACTED",
        "user_id": None,
        "codes": [131026],
    },
    "status_delivered_bsuid_no_phone_pywa.json": {"status": "delivered", "wa_id": None},
}


def test_every_status_fixture_has_expectations() -> None:
    names = fixture_names("status_*.json")
    if names and not isinstance(names[0], str):
        pytest.skip("shared WhatsApp fixtures are absent")
    assert set(names) == set(STATUS_EXPECTATIONS)


@pytest.mark.parametrize("name", fixture_names("status_*.json"))
def test_status_fixture_normalizes(name: str) -> None:
    expected = STATUS_EXPECTATIONS[name]
    raw_status = load_fixture(name)["entry"][0]["changes"][0]["value"]["statuses"][0]

    batch = parse_webhook(fixture_bytes(name))

    assert batch.messages == []
    [status] = batch.statuses
    assert status.wa_message_id == raw_status["id"]
    assert status.status == expected["status"]
    assert status.timestamp == datetime.fromtimestamp(int(raw_status["timestamp"]), tz=UTC)
    assert status.recipient_wa_id == expected["wa_id"]
    # The BSUID comes from the status itself or from the 2026 contacts[] block beside it.
    assert status.recipient_user_id == expected.get("user_id", "US.13491208655302741918")
    assert status.callback_data == expected.get("callback_data")
    assert [e["code"] for e in status.errors] == expected.get("codes", [])
    assert status.raw == raw_status


@pytest.mark.parametrize(
    ("name", "code", "retryable"),
    [
        ("error_131047_webhook_error_object_pywa.json", 131047, False),
        ("error_131053_media_upload_error_object_pywa.json", 131053, False),
    ],
)
def test_webhook_error_object_in_failed_status_is_classified(name: str, code: int, retryable: bool) -> None:
    # A failed status carrying the real error object (131047 arrives this way after an HTTP 200).
    error_object = load_fixture(name)
    document = load_fixture("status_failed_130472_pywa.json")
    document["entry"][0]["changes"][0]["value"]["statuses"][0]["errors"] = [error_object]

    [status] = parse_webhook(json.dumps(document).encode()).statuses
    error = GraphAPIError.from_error_object(status.errors[0])

    assert status.status == "failed"
    assert error.code == code
    assert error.title == error_object["title"]
    assert error.details == error_object["error_data"]["details"]
    assert error.retryable is retryable


def test_signed_fixture_parses_as_text() -> None:
    [message] = parse_webhook(fixture_bytes("signed_webhook_text_body_pywa.json")).messages
    assert message.text == "Hey there! I am using PyWa."
    assert message.contact == ContactRef(wa_id="972544401243", name="PyWa Tests")
    assert message.phone_number_id == "277321005464405"


# --- batches and leniency ---


def _with_messages(messages: list[dict[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = load_fixture("inbound_text_pywa.json")
    document["entry"][0]["changes"][0]["value"]["messages"] = messages
    return document


def test_batch_with_several_entries_changes_and_messages_keeps_all_in_order() -> None:
    text = load_fixture("inbound_text_pywa.json")
    status = load_fixture("status_read_pywa.json")
    first_value = text["entry"][0]["changes"][0]["value"]
    second = copy.deepcopy(first_value["messages"][0])
    second.update(id="wamid.second", text={"body": "second"})
    first_value["messages"].append(second)
    account_update = {"field": "account_update", "value": {"event": "VERIFIED_ACCOUNT"}}
    text["entry"][0]["changes"].append(account_update)
    text["entry"].append(status["entry"][0])
    template_update = {"field": "message_template_status_update", "value": {"event": "APPROVED"}}
    text["entry"].append({"id": "other-waba", "changes": [template_update]})

    batch = parse_webhook(json.dumps(text).encode())

    assert [m.wa_message_id for m in batch.messages] == ["wamid.xyzxyz", "wamid.second"]
    assert [m.text for m in batch.messages] == ["Body Text", "second"]
    assert [(s.wa_message_id, s.status) for s in batch.statuses] == [("wamid.xyzxyz", "read")]
    assert batch.ignored_fields == ["account_update", "message_template_status_update"]
    assert batch.ignored_changes == 2


def test_unknown_message_type_is_kept_with_its_type_string() -> None:
    raw: dict[str, Any] = {"from": "972987654321", "id": "wamid.poll", "timestamp": "1697043223"}
    raw.update(type="poll", poll={"question": "?"})
    [message] = parse_webhook(json.dumps(_with_messages([raw])).encode()).messages
    assert message.kind is InboundKind.UNKNOWN
    assert message.raw_type == "poll"
    assert message.text == "[poll]"
    assert message.raw == raw


def test_unknown_extra_keys_are_ignored() -> None:
    document = load_fixture("inbound_text_pywa.json")
    document["brand_new_top_level"] = {"x": 1}
    document["entry"][0]["changes"][0]["value"]["messages"][0]["brand_new_key"] = [1, 2]
    [message] = parse_webhook(json.dumps(document).encode()).messages
    assert message.text == "Body Text"
    assert message.raw["brand_new_key"] == [1, 2]


def test_empty_entry_list_is_an_empty_batch() -> None:
    batch = parse_webhook(b'{"object":"whatsapp_business_account","entry":[]}')
    assert (batch.messages, batch.statuses, batch.errors, batch.ignored_changes) == ([], [], [], 0)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "body is not valid JSON: Expecting value at line 1 column 1"),
        (b"{not json", "body is not valid JSON: Expecting property name enclosed in double quotes"),
        (b"\xff\xfe\xfa", "body is not valid"),
        (b"[]", "expected a JSON object with object='whatsapp_business_account'"),
        (b'{"object":"page","entry":[]}', "expected a JSON object with object='whatsapp_business_account'"),
        (b'{"object":"whatsapp_business_account"}', "entry is missing or not a list"),
        (b'{"object":"whatsapp_business_account","entry":[7]}', "entry[0] is missing or not a JSON object"),
        (
            b'{"object":"whatsapp_business_account","entry":[{"id":"1"}]}',
            "entry[0].changes is missing or not a list",
        ),
        (
            b'{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages"}]}]}',
            "entry[0].changes[0].value is missing or not a JSON object",
        ),
        (
            b'{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages",'
            b'"value":{"messages":{}}}]}]}',
            "entry[0].changes[0].value.messages is not a list",
        ),
    ],
)
def test_malformed_envelope_names_the_problem(body: bytes, message: str) -> None:
    with pytest.raises(WebhookPayloadError) as caught:
        parse_webhook(body)
    assert caught.value.message.startswith(message)


def test_message_without_id_is_rejected_with_its_path() -> None:
    good = load_fixture("inbound_text_pywa.json")["entry"][0]["changes"][0]["value"]["messages"][0]
    second = dict(good, id="wamid.2")
    no_id = {k: v for k, v in good.items() if k != "id"}
    with pytest.raises(
        WebhookPayloadError, match=r"^entry\[0\]\.changes\[0\]\.value\.messages\[2\] has no id$"
    ):
        parse_webhook(json.dumps(_with_messages([good, second, no_id])).encode())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"type": None}, "messages[0] has no type"),
        ({"timestamp": "yesterday"}, "messages[0].timestamp is not Unix epoch seconds: 'yesterday'"),
        ({"timestamp": None}, "messages[0] has no timestamp"),
        ({"from": None}, "messages[0] has no sender (neither from nor from_user_id)"),
    ],
)
def test_message_missing_essentials_is_rejected(change: dict[str, Any], message: str) -> None:
    document = load_fixture("inbound_text_pywa.json")
    value = document["entry"][0]["changes"][0]["value"]
    value.pop("contacts")  # so the sender cannot be recovered from contacts[]
    raw = value["messages"][0]
    for key, new in change.items():
        if new is None:
            raw.pop(key)
        else:
            raw[key] = new
    with pytest.raises(WebhookPayloadError) as caught:
        parse_webhook(json.dumps(document).encode())
    assert caught.value.message == f"entry[0].changes[0].value.{message}"


def test_status_without_status_field_is_rejected() -> None:
    document = load_fixture("status_sent_pywa.json")
    del document["entry"][0]["changes"][0]["value"]["statuses"][0]["status"]
    with pytest.raises(WebhookPayloadError, match=r"statuses\[0\] has no status$"):
        parse_webhook(json.dumps(document).encode())


def test_sender_found_through_contacts_when_from_is_missing() -> None:
    document = load_fixture("inbound_text_pywa.json")
    del document["entry"][0]["changes"][0]["value"]["messages"][0]["from"]
    [message] = parse_webhook(json.dumps(document).encode()).messages
    assert message.contact == PYWA_CONTACT


def test_each_message_in_a_batch_gets_its_own_senders_name() -> None:
    document = load_fixture("inbound_text_pywa.json")
    value = document["entry"][0]["changes"][0]["value"]
    other = copy.deepcopy(value["messages"][0])
    other.update({"from": "447700900123", "id": "wamid.uk"})
    value["contacts"].insert(0, {"profile": {"name": "Ana"}, "wa_id": "447700900123"})
    value["messages"].append(other)

    batch = parse_webhook(json.dumps(document).encode())

    assert [(m.contact.wa_id, m.contact.name) for m in batch.messages] == [
        ("972987654321", "Test Name"),
        ("447700900123", "Ana"),
    ]


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (b"1234567890123456789", 1234567890123456789),  # 19 digits: still an exact integer
        (b"12345678901234567890123", 12345678901234567890123),  # past 64 bits: not made a float
        (b"-98765432109876543210", -98765432109876543210),
        (b"123456789012345678", 123456789012345678),  # 18 digits: orjson's own reading
    ],
)
def test_long_integers_are_read_exactly(number: bytes, expected: int) -> None:
    body = b'{"a": "phone 4477009001234567890123", "n": [1, ' + number + b"]}"
    document = decode_document(body)
    assert document["n"][1] == expected
    assert isinstance(document["n"][1], int)
    assert document["a"] == "phone 4477009001234567890123"
