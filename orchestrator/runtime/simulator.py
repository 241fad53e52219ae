"""The customer simulator of `handoff replay`, `handoff demo` and `handoff simulate`: Cloud-API-shaped
inbound webhook bodies, and a sink that stands where the Graph API would and records what is sent.
The serving path never imports this module.

The shape follows the real payloads in `shared/fixtures/whatsapp/` (entry → changes → value with
metadata, contacts and messages, `field: "messages"`), so what these produce goes through the same
`parse_webhook` path as real traffic. `encode_webhook` gives the bytes to sign and POST: compact JSON
with non-ASCII escaped as `\\uXXXX`, the form Meta signs.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

import httpx

DEFAULT_PHONE_NUMBER_ID = "000000000000000"  # the Settings default, so replay matches out of the box
DEFAULT_DISPLAY_PHONE_NUMBER = "15550000000"
DEFAULT_WABA_ID = "000000000000001"


def build_text_webhook(
    *,
    wa_id: str | None,
    message_id: str,
    timestamp: datetime | int,
    text: str,
    name: str | None = None,
    user_id: str | None = None,
    referral: Mapping[str, Any] | None = None,
    context_message_id: str | None = None,
    phone_number_id: str = DEFAULT_PHONE_NUMBER_ID,
    display_phone_number: str = DEFAULT_DISPLAY_PHONE_NUMBER,
) -> dict[str, Any]:
    """A webhook carrying one text message from `wa_id` (and/or BSUID `user_id`)."""
    return _webhook(
        "text",
        {"body": text},
        wa_id=wa_id,
        user_id=user_id,
        name=name,
        message_id=message_id,
        timestamp=timestamp,
        referral=referral,
        context_message_id=context_message_id,
        phone_number_id=phone_number_id,
        display_phone_number=display_phone_number,
    )


def build_button_reply_webhook(
    *,
    wa_id: str | None,
    message_id: str,
    timestamp: datetime | int,
    reply_id: str,
    title: str,
    name: str | None = None,
    user_id: str | None = None,
    referral: Mapping[str, Any] | None = None,
    context_message_id: str | None = None,
    phone_number_id: str = DEFAULT_PHONE_NUMBER_ID,
    display_phone_number: str = DEFAULT_DISPLAY_PHONE_NUMBER,
) -> dict[str, Any]:
    """A webhook carrying a tap on one of our reply buttons (`interactive.button_reply`)."""
    return _interactive_webhook(
        "button_reply",
        {"id": reply_id, "title": title},
        wa_id=wa_id,
        user_id=user_id,
        name=name,
        message_id=message_id,
        timestamp=timestamp,
        referral=referral,
        context_message_id=context_message_id,
        phone_number_id=phone_number_id,
        display_phone_number=display_phone_number,
    )


def build_list_reply_webhook(
    *,
    wa_id: str | None,
    message_id: str,
    timestamp: datetime | int,
    reply_id: str,
    title: str,
    description: str | None = None,
    name: str | None = None,
    user_id: str | None = None,
    referral: Mapping[str, Any] | None = None,
    context_message_id: str | None = None,
    phone_number_id: str = DEFAULT_PHONE_NUMBER_ID,
    display_phone_number: str = DEFAULT_DISPLAY_PHONE_NUMBER,
) -> dict[str, Any]:
    """A webhook carrying a choice of one row of our list message (`interactive.list_reply`)."""
    reply = {"id": reply_id, "title": title}
    if description is not None:
        reply["description"] = description
    return _interactive_webhook(
        "list_reply",
        reply,
        wa_id=wa_id,
        user_id=user_id,
        name=name,
        message_id=message_id,
        timestamp=timestamp,
        referral=referral,
        context_message_id=context_message_id,
        phone_number_id=phone_number_id,
        display_phone_number=display_phone_number,
    )


def encode_webhook(payload: Mapping[str, Any]) -> bytes:
    """The bytes Meta would POST: compact JSON, non-ASCII escaped (sign these, not a re-dump)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _interactive_webhook(sub_type: str, reply: dict[str, str], **common: Any) -> dict[str, Any]:
    return _webhook("interactive", {"type": sub_type, sub_type: reply}, **common)


def _webhook(
    kind: str,
    content: dict[str, Any],
    *,
    wa_id: str | None,
    user_id: str | None,
    name: str | None,
    message_id: str,
    timestamp: datetime | int,
    referral: Mapping[str, Any] | None,
    context_message_id: str | None,
    phone_number_id: str,
    display_phone_number: str,
) -> dict[str, Any]:
    if wa_id is None and user_id is None:
        raise ValueError("a webhook message needs wa_id or user_id")
    seconds = int(timestamp.timestamp()) if isinstance(timestamp, datetime) else int(timestamp)
    message: dict[str, Any] = {}
    if context_message_id is not None:
        # A reply quotes one of *our* messages, so the quoted sender is the business number.
        message["context"] = {"from": display_phone_number, "id": context_message_id}
    if referral is not None:
        message["referral"] = dict(referral)
    contact: dict[str, Any] = {"profile": {"name": name} if name is not None else {}}
    if wa_id is not None:
        message["from"] = contact["wa_id"] = wa_id
    if user_id is not None:
        message["from_user_id"] = contact["user_id"] = user_id
    message.update({"id": message_id, "timestamp": str(seconds), "type": kind, kind: content})
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": display_phone_number, "phone_number_id": phone_number_id},
        "contacts": [contact],
        "messages": [message],
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": DEFAULT_WABA_ID, "changes": [{"value": value, "field": "messages"}]}],
    }


class SendCapture(Protocol):
    """Where the replay harness sends: records each accepted `/messages` request body in `sent`."""

    @property
    def sent(self) -> list[Any]: ...

    def transport(self) -> httpx.AsyncBaseTransport: ...


class GraphSink:
    """Accepts every `/messages` request in the shape of Meta's success answer and records its JSON
    body (`sent[i]["json"]`), so replay can show what the bot said without reaching Meta."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    def transport(self) -> httpx.AsyncBaseTransport:
        return httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        wamid = f"wamid.SIM{next(self._ids):08d}"
        self.sent.append({"json": body, "wa_message_id": wamid})
        to = str(body.get("to", ""))
        return httpx.Response(
            200,
            json={
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to.lstrip("+")}],
                "messages": [{"id": wamid}],
            },
        )
