"""Parse WhatsApp Cloud API webhook POST bodies into normalized, typed records.

`parse_webhook(body)` takes the raw bytes (after the signature check) and returns a `WebhookBatch`:
every inbound message and every status update across all `entry[]` / `changes[]` items of the POST.

Leniency rules (DESIGN.md, "What bad input gets"):
- unknown keys are ignored, and each record keeps its object exactly as received in `raw`;
- unknown message types are kept (`InboundKind.UNKNOWN`, with `raw_type` holding Meta's string) and
  get a short human rendering in `text`, so reps see them; nothing is dropped;
- changes whose `field` is not `"messages"` (account updates, template status, ...) are skipped and
  listed in `ignored_fields`;
- the sender may have no phone number (business-scoped user ids, 2026): a message needs `from` *or*
  `from_user_id` (or a matching `contacts[]` entry), not both.

Only input that cannot be stored meaningfully raises `WebhookPayloadError`, with a message that names
the offending location, e.g. ``entry[0].changes[0].value.messages[2] has no id``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from orchestrator.channels.whatsapp.document import WebhookPayloadError, decode_document

WEBHOOK_OBJECT = "whatsapp_business_account"
MESSAGES_FIELD = "messages"

_MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")


class InboundKind(StrEnum):
    TEXT = "text"
    BUTTON_REPLY = "button_reply"  # interactive.button_reply (reply buttons we sent)
    LIST_REPLY = "list_reply"  # interactive.list_reply (a row of a list we sent)
    TEMPLATE_BUTTON = "template_button"  # type "button": a template quick-reply tap
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"
    DOCUMENT = "document"
    STICKER = "sticker"
    LOCATION = "location"
    CONTACTS = "contacts"
    REACTION = "reaction"
    ORDER = "order"
    SYSTEM = "system"
    UNSUPPORTED = "unsupported"  # Meta's own type "unsupported" (error 131051)
    UNKNOWN = "unknown"  # any type string we do not model; `raw_type` keeps it


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class ContactRef(_Record):
    """Who sent a message. Since 2026 the phone number may be absent and only the BSUID present."""

    wa_id: str | None = None
    user_id: str | None = None  # business-scoped user id, e.g. "US.13491208655302741918"
    name: str | None = None
    username: str | None = None

    @property
    def key(self) -> str:
        """A stable identity for the sender: the phone number when known, else the BSUID."""
        key = self.wa_id or self.user_id
        if key is None:  # parse_webhook never builds such a contact
            raise ValueError("contact has neither wa_id nor user_id")
        return key


class MediaRef(_Record):
    """Media attached to an inbound message; download it with the Graph media endpoint (bearer token)."""

    id: str | None = None
    mime_type: str | None = None
    sha256: str | None = None
    url: str | None = None
    filename: str | None = None
    caption: str | None = None
    voice: bool = False


class InboundMessage(_Record):
    wa_message_id: str
    kind: InboundKind
    raw_type: str
    timestamp: datetime
    phone_number_id: str | None
    display_phone_number: str | None
    contact: ContactRef
    text: str | None
    reply_id: str | None = None
    reply_title: str | None = None
    reply_description: str | None = None
    context_message_id: str | None = None
    forwarded: bool = False
    referral: dict[str, Any] | None = None
    media: MediaRef | None = None
    errors: list[dict[str, Any]] = []
    raw: dict[str, Any]


class StatusUpdate(_Record):
    wa_message_id: str
    status: str  # sent, delivered, read, played, failed (kept as received)
    timestamp: datetime
    recipient_wa_id: str | None
    recipient_user_id: str | None
    phone_number_id: str | None = None
    callback_data: str | None = None  # biz_opaque_callback_data we attached to the send, if any
    errors: list[dict[str, Any]] = []
    raw: dict[str, Any]


class WebhookBatch(_Record):
    messages: list[InboundMessage] = []
    statuses: list[StatusUpdate] = []
    errors: list[dict[str, Any]] = []  # value.errors[]: problems Meta reports about the webhook itself
    ignored_fields: list[str] = []  # `field` of each change that was not "messages"

    @property
    def ignored_changes(self) -> int:
        return len(self.ignored_fields)


class ItemKind(StrEnum):
    MESSAGE = "message"
    STATUS = "status"


class RawItem(_Record):
    """One message or status of a delivery, not yet validated: what the webhook stores at once.

    `contacts` and `metadata` are the surrounding `value`'s, which the item needs to be parsed."""

    kind: ItemKind
    path: str
    raw: Any
    contacts: list[dict[str, Any]] = []
    metadata: dict[str, Any] = {}


class WebhookEnvelope(_Record):
    """A delivery split into its items; only the envelope's structure has been checked."""

    items: list[RawItem] = []
    errors: list[dict[str, Any]] = []
    ignored_fields: list[str] = []


def split_webhook(body: bytes) -> WebhookEnvelope:
    """Decode a body and split it into its messages and statuses without validating them, so one bad
    item never costs the others; raise `WebhookPayloadError` only when the envelope is unusable."""
    document = decode_document(body)
    if not isinstance(document, dict) or document.get("object") != WEBHOOK_OBJECT:
        found = f", got object={document.get('object')!r}" if isinstance(document, dict) else ""
        raise WebhookPayloadError(f"expected a JSON object with object='{WEBHOOK_OBJECT}'{found}")
    items: list[RawItem] = []
    errors: list[dict[str, Any]] = []
    ignored: list[str] = []
    for e, entry in enumerate(_list(document, "entry", "entry")):
        entry_path = f"entry[{e}]"
        entry = _object(entry, entry_path)
        for c, change in enumerate(_list(entry, "changes", f"{entry_path}.changes")):
            change_path = f"{entry_path}.changes[{c}]"
            change = _object(change, change_path)
            field = change.get("field")
            if field != MESSAGES_FIELD:
                ignored.append(str(field))
                continue
            path = f"{change_path}.value"
            value = _object(change.get("value"), path)
            metadata = value.get("metadata")
            metadata = metadata if isinstance(metadata, dict) else {}
            contacts = [
                c for c in _optional_list(value, "contacts", f"{path}.contacts") if isinstance(c, dict)
            ]
            for kind, key in ((ItemKind.MESSAGE, "messages"), (ItemKind.STATUS, "statuses")):
                for i, raw in enumerate(_optional_list(value, key, f"{path}.{key}")):
                    # Built without validation: every field was checked just above (validating
                    # would copy the contacts into each item, on the acknowledgement's path).
                    items.append(
                        RawItem.model_construct(
                            kind=kind,
                            path=f"{path}.{key}[{i}]",
                            raw=raw,
                            contacts=contacts,
                            metadata=metadata,
                        )
                    )
            errors.extend(_error_list(value.get("errors")))
    return WebhookEnvelope.model_construct(items=items, errors=errors, ignored_fields=ignored)


def parse_item(item: RawItem) -> InboundMessage | StatusUpdate:
    """Validate one item; raise `WebhookPayloadError` naming its path when it cannot be used."""
    raw = _object(item.raw, item.path)
    if item.kind == ItemKind.MESSAGE:
        return _parse_message(
            raw,
            item.path,
            contacts=item.contacts,
            phone_number_id=_str_or_none(item.metadata.get("phone_number_id")),
            display_phone_number=_str_or_none(item.metadata.get("display_phone_number")),
        )
    return _parse_status(raw, item.path, item.contacts, _str_or_none(item.metadata.get("phone_number_id")))


def parse_webhook(body: bytes) -> WebhookBatch:
    """Parse a webhook POST body (raw bytes) into a `WebhookBatch`; raise `WebhookPayloadError` for the
    first item that cannot be used (the service stores items one by one: see `split_webhook`)."""
    return _batch(split_webhook(body))


def parse_webhook_document(document: Any) -> WebhookBatch:
    """Like `parse_webhook`, for a body that is already decoded from JSON."""
    return parse_webhook(json.dumps(document).encode())


def _batch(envelope: WebhookEnvelope) -> WebhookBatch:
    messages: list[InboundMessage] = []
    statuses: list[StatusUpdate] = []
    for item in envelope.items:
        parsed = parse_item(item)
        if isinstance(parsed, InboundMessage):
            messages.append(parsed)
        else:
            statuses.append(parsed)
    return WebhookBatch(
        messages=messages, statuses=statuses, errors=envelope.errors, ignored_fields=envelope.ignored_fields
    )


def _parse_message(
    raw: dict[str, Any],
    path: str,
    *,
    contacts: list[dict[str, Any]],
    phone_number_id: str | None,
    display_phone_number: str | None,
) -> InboundMessage:
    message_id = _required_str(raw, "id", path)
    raw_type = _required_str(raw, "type", path)
    timestamp = _timestamp(raw, path)
    contact = _contact_for(raw, contacts, path)
    context = _sub_object(raw, "context")
    referral = raw.get("referral")

    fields: dict[str, Any] = {
        "context_message_id": _str_or_none(context.get("id")),
        "forwarded": bool(context.get("forwarded") or context.get("frequently_forwarded")),
    }
    kind, text = _kind_and_text(raw, raw_type, fields)
    return InboundMessage(
        wa_message_id=message_id,
        kind=kind,
        raw_type=raw_type,
        timestamp=timestamp,
        phone_number_id=phone_number_id,
        display_phone_number=display_phone_number,
        contact=contact,
        text=text,
        referral=dict(referral) if isinstance(referral, dict) else None,
        errors=_error_list(raw.get("errors")),
        raw=raw,
        **fields,
    )


def _kind_and_text(raw: dict[str, Any], raw_type: str, fields: dict[str, Any]) -> tuple[InboundKind, str]:
    """Map Meta's type to our kind and the line a rep reads; fill reply/media/context into `fields`."""
    body = _sub_object(raw, raw_type)
    if raw_type == "text":
        return InboundKind.TEXT, _str_or_none(body.get("body")) or ""
    if raw_type == "interactive":
        return _interactive(body, fields)
    if raw_type == "button":  # template quick reply: payload is ours, text is the label the user saw
        title = _str_or_none(body.get("text"))
        fields.update(reply_id=_str_or_none(body.get("payload")), reply_title=title)
        return InboundKind.TEMPLATE_BUTTON, title or "[button]"
    if raw_type in _MEDIA_TYPES:
        media = MediaRef(
            id=_str_or_none(body.get("id")),
            mime_type=_str_or_none(body.get("mime_type")),
            sha256=_str_or_none(body.get("sha256")),
            url=_str_or_none(body.get("url")),
            filename=_str_or_none(body.get("filename")),
            caption=_str_or_none(body.get("caption")),
            voice=body.get("voice") is True,
        )
        fields["media"] = media
        if media.caption:
            return InboundKind(raw_type), media.caption
        if media.voice:
            return InboundKind(raw_type), "[voice message]"
        if media.filename:
            return InboundKind(raw_type), f"[{raw_type}: {media.filename}]"
        return InboundKind(raw_type), f"[{raw_type}]"
    if raw_type == "location":
        return InboundKind.LOCATION, _render_location(body)
    if raw_type == "contacts":
        return InboundKind.CONTACTS, _render_contacts(raw.get("contacts"))
    if raw_type == "reaction":
        target = _str_or_none(body.get("message_id"))
        fields["context_message_id"] = target or fields["context_message_id"]
        emoji = _str_or_none(body.get("emoji"))
        # Removal arrives as emoji "" or with no emoji key at all.
        if emoji:
            return InboundKind.REACTION, f"{emoji} reaction to {target or 'a message'}"
        return InboundKind.REACTION, f"reaction removed from {target or 'a message'}"
    if raw_type == "order":
        items = body.get("product_items")
        count = len(items) if isinstance(items, list) else 0
        note = _str_or_none(body.get("text"))
        rendering = f"[order: {count} item{'' if count == 1 else 's'}]"
        return InboundKind.ORDER, f"{rendering} {note}" if note else rendering
    if raw_type == "system":
        system_type = _str_or_none(body.get("type"))
        return InboundKind.SYSTEM, _str_or_none(body.get("body")) or f"[system: {system_type or 'event'}]"
    if raw_type == "unsupported":
        inner = _str_or_none(body.get("type"))
        return InboundKind.UNSUPPORTED, f"[unsupported: {inner}]" if inner else "[unsupported]"
    return InboundKind.UNKNOWN, f"[{raw_type}]"


class OrderLine(_Record):
    product: str
    quantity: int | None
    price: float | None
    currency: str | None


class Order(_Record):
    catalog_id: str | None
    items: tuple[OrderLine, ...]
    note: str | None

    @property
    def currency(self) -> str | None:
        """The order's currency when every line has the same one; None otherwise."""
        currencies = {line.currency for line in self.items}
        return currencies.pop() if len(currencies) == 1 and None not in currencies else None

    @property
    def total(self) -> float | None:
        """The sum of the lines, when every line has a quantity and a price in the one currency."""
        priced = all(line.price is not None and line.quantity is not None for line in self.items)
        if not self.items or not priced or self.currency is None:
            return None
        # Rounded past any currency's minor unit, so 3 × 0.1 reads 0.3, not 0.30000000000000004.
        return round(sum((line.price or 0) * (line.quantity or 0) for line in self.items), 6)

    def describe(self) -> str:
        """One line for a summary or a model: "3 × HAMBURGER at 30.00 ILS, 1 × SODA; total 90.00
        ILS; note: no onions" (a line without a price or quantity says what it has)."""

        def amount(value: float, currency: str | None) -> str:
            return f"{value:.2f} {currency}" if currency else f"{value:.2f}"

        lines = []
        for line in self.items:
            text = f"{line.quantity} × {line.product}" if line.quantity is not None else line.product
            if line.price is not None:
                text += f" at {amount(line.price, line.currency)}"
            lines.append(text)
        parts = [", ".join(lines) or "no items"]
        if self.total is not None:
            parts.append(f"total {amount(self.total, self.currency)}")
        if self.note:
            parts.append(f"note: {self.note}")
        return "; ".join(parts)


def quoted_message_id(raw: Mapping[str, Any]) -> str | None:
    """The wamid a stored inbound message refers to: the message a reaction is on, or the one a
    reply quotes (`context.id`); None for a forwarded message or one that quotes nothing."""
    if raw.get("type") == "reaction":
        target = _str_or_none(_sub_object(raw, "reaction").get("message_id"))
        if target:
            return target
    return _str_or_none(_sub_object(raw, "context").get("id")) or None


def reaction_of(raw: Mapping[str, Any]) -> str | None:
    """The emoji of a stored inbound `reaction` message; "" when the customer took theirs back
    (Meta sends an empty emoji or none); None for any other message."""
    if raw.get("type") != "reaction":
        return None
    return _str_or_none(_sub_object(raw, "reaction").get("emoji")) or ""


def order_of(raw: Mapping[str, Any]) -> Order | None:
    """The cart of a stored inbound `order` message, its lines as Meta sent them (a line without a
    product id is left out; a quantity or price of the wrong type is read as none)."""
    if raw.get("type") != "order":
        return None
    body = _sub_object(raw, "order")
    items = body.get("product_items")
    lines = []
    for item in items if isinstance(items, list) else []:
        product = _str_or_none(item.get("product_retailer_id")) if isinstance(item, dict) else None
        if not product:
            continue
        quantity, price = _number(item.get("quantity")), _number(item.get("item_price"))
        lines.append(
            OrderLine(
                product=product,
                quantity=int(quantity) if quantity is not None and quantity == int(quantity) else None,
                price=price,
                currency=_str_or_none(item.get("currency")),
            )
        )
    return Order(
        catalog_id=_str_or_none(body.get("catalog_id")),
        items=tuple(lines),
        note=_str_or_none(body.get("text")) or None,
    )


def _number(value: Any) -> float | None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return None
    return float(value)


def _interactive(body: dict[str, Any], fields: dict[str, Any]) -> tuple[InboundKind, str]:
    sub_type = _str_or_none(body.get("type"))
    if sub_type in ("button_reply", "list_reply"):
        reply = _sub_object(body, sub_type)
        title = _str_or_none(reply.get("title"))
        fields.update(
            reply_id=_str_or_none(reply.get("id")),
            reply_title=title,
            reply_description=_str_or_none(reply.get("description")),
        )
        kind = InboundKind.BUTTON_REPLY if sub_type == "button_reply" else InboundKind.LIST_REPLY
        return kind, title or f"[{sub_type}]"
    # e.g. nfm_reply (Flows), or an interactive with no body when Meta reports value.errors.
    return InboundKind.UNKNOWN, f"[interactive: {sub_type}]" if sub_type else "[interactive]"


def _render_location(body: dict[str, Any]) -> str:
    label = ", ".join(s for s in (_str_or_none(body.get("name")), _str_or_none(body.get("address"))) if s)
    lat, lon = body.get("latitude"), body.get("longitude")
    coords = f"({lat}, {lon})" if lat is not None and lon is not None else ""
    return " ".join(part for part in ("📍", label, coords) if part)


def _render_contacts(cards: Any) -> str:
    names: list[str] = []
    for card in cards if isinstance(cards, list) else []:
        name = card.get("name") if isinstance(card, dict) else None
        formatted = _str_or_none(name.get("formatted_name")) if isinstance(name, dict) else None
        names.append(formatted or "?")
    return f"👤 {', '.join(names)}" if names else "👤 [contacts]"


def _contact_for(raw: dict[str, Any], contacts: list[dict[str, Any]], path: str) -> ContactRef:
    """The sender: `from`/`from_user_id` on the message, name and username from `contacts[]`."""
    wa_id = _str_or_none(raw.get("from"))
    user_id = _str_or_none(raw.get("from_user_id"))
    match = _match_contact(contacts, wa_id=wa_id, user_id=user_id)
    profile = _sub_object(match, "profile")
    contact = ContactRef(
        wa_id=wa_id or _str_or_none(match.get("wa_id")),
        # The message's own from_user_id wins: it is the id of this sender.
        user_id=user_id or _str_or_none(match.get("user_id")),
        name=_str_or_none(profile.get("name")),
        username=_str_or_none(profile.get("username")),
    )
    if contact.wa_id is None and contact.user_id is None:
        raise WebhookPayloadError(f"{path} has no sender (neither from nor from_user_id)")
    return contact


def _match_contact(
    contacts: list[dict[str, Any]], *, wa_id: str | None, user_id: str | None
) -> dict[str, Any]:
    # 1. same phone number; 2. same BSUID; 3. the only contact, when nothing contradicts it.
    if wa_id is not None:
        for contact in contacts:
            if contact.get("wa_id") == wa_id:
                return contact
    if user_id is not None:
        for contact in contacts:
            if contact.get("user_id") == user_id:
                return contact
    # Only differing phone numbers contradict. BSUIDs are not compared here: pywa's BSUID test data
    # pairs contacts[0].user_id "uUS.…" with from_user_id "US.…" and still means one person.
    if len(contacts) == 1:
        only = contacts[0]
        if wa_id is None or only.get("wa_id") in (None, wa_id):
            return only
    return {}


def _parse_status(
    raw: dict[str, Any], path: str, contacts: list[dict[str, Any]], phone_number_id: str | None
) -> StatusUpdate:
    wa_id = _str_or_none(raw.get("recipient_id"))
    user_id = _str_or_none(raw.get("recipient_user_id"))
    # Since 2026 status webhooks may carry contacts[] too: take the BSUID from there when missing.
    match = _match_contact(contacts, wa_id=wa_id, user_id=user_id)
    return StatusUpdate(
        wa_message_id=_required_str(raw, "id", path),
        status=_required_str(raw, "status", path),
        timestamp=_timestamp(raw, path),
        recipient_wa_id=wa_id or _str_or_none(match.get("wa_id")),
        recipient_user_id=user_id or _str_or_none(match.get("user_id")),
        phone_number_id=phone_number_id,
        callback_data=_str_or_none(raw.get("biz_opaque_callback_data")),
        errors=_error_list(raw.get("errors")),
        raw=raw,
    )


# --- small typed accessors, each naming the path it complains about ---


def _object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WebhookPayloadError(f"{path} is missing or not a JSON object")
    return value


def _list(parent: Mapping[str, Any], key: str, path: str) -> list[Any]:
    value = parent.get(key)
    if not isinstance(value, list):
        raise WebhookPayloadError(f"{path} is missing or not a list")
    return value


def _optional_list(parent: Mapping[str, Any], key: str, path: str) -> list[Any]:
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise WebhookPayloadError(f"{path} is not a list")
    return value


def _sub_object(parent: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    return value if isinstance(value, dict) else {}


def _required_str(raw: Mapping[str, Any], key: str, path: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise WebhookPayloadError(f"{path} has no {key}")
    return value


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _timestamp(raw: Mapping[str, Any], path: str) -> datetime:
    value = raw.get("timestamp")
    if value is None:
        raise WebhookPayloadError(f"{path} has no timestamp")
    # Meta sends epoch seconds as a string; accept a bare integer too (never a bool or a float).
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(int(value), tz=UTC)
        except (ValueError, OverflowError, OSError):
            pass
    raise WebhookPayloadError(f"{path}.timestamp is not Unix epoch seconds: {value!r}")


def _error_list(value: Any) -> list[dict[str, Any]]:
    return [e for e in value if isinstance(e, dict)] if isinstance(value, list) else []
