"""The shape of Meta's webhook notification as a JSON Schema, for the OpenAPI description of
`POST /webhooks/whatsapp` (documentation and generated tests only).

The webhook never validates a body against it: the body is read as raw bytes, its signature checked
over those bytes, and its items split without validation (`inbound.split_webhook`), so a message
this schema does not describe is still stored. It follows the payloads in `shared/fixtures/whatsapp/`
and Meta's webhook reference; every object admits properties it does not list (Meta adds fields).
"""

from __future__ import annotations

from typing import Any

_DIGITS = {"type": "string", "pattern": "^[0-9]{1,20}$"}
_EPOCH_SECONDS = {"type": "string", "pattern": "^[0-9]{1,10}$", "description": "Unix time, in seconds"}
_WAMID = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    "description": "a WhatsApp message id (wamid.…)",
}
_MEDIA = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "mime_type": {"type": "string"},
        "sha256": {"type": "string"},
        "caption": {"type": "string"},
        "filename": {"type": "string"},
        "url": {"type": "string"},
        "voice": {"type": "boolean"},
        "animated": {"type": "boolean"},
    },
}
_ERRORS = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "code": {"type": "integer"},
            "title": {"type": "string"},
            "message": {"type": "string"},
            "error_data": {"type": "object", "properties": {"details": {"type": "string"}}},
            "href": {"type": "string"},
        },
    },
}
_REPLY = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "title": {"type": "string"}, "description": {"type": "string"}},
}

MESSAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A message a customer sent; the object named by `type` carries its content.",
    "required": ["id", "timestamp", "type"],
    "properties": {
        "from": {**_DIGITS, "description": "the customer's WhatsApp id (phone number)"},
        "from_user_id": {"type": "string", "description": "the customer's business-scoped user id"},
        "id": _WAMID,
        "timestamp": _EPOCH_SECONDS,
        "type": {
            "type": "string",
            "enum": [
                "text",
                "image",
                "audio",
                "video",
                "document",
                "sticker",
                "location",
                "contacts",
                "interactive",
                "button",
                "reaction",
                "order",
                "system",
                "unsupported",
            ],
        },
        "context": {
            "type": "object",
            "description": "the message this one replies to",
            "properties": {
                "from": {"type": "string"},
                "id": {"type": "string"},
                "forwarded": {"type": "boolean"},
            },
        },
        "referral": {
            "type": "object",
            "description": "the click-to-WhatsApp ad or post the customer came from",
            "properties": {
                "source_url": {"type": "string"},
                "source_id": {"type": "string"},
                "source_type": {"type": "string"},
                "headline": {"type": "string"},
                "body": {"type": "string"},
                "media_type": {"type": "string"},
                "ctwa_clid": {"type": "string"},
            },
        },
        "text": {"type": "object", "required": ["body"], "properties": {"body": {"type": "string"}}},
        "image": _MEDIA,
        "audio": _MEDIA,
        "video": _MEDIA,
        "document": _MEDIA,
        "sticker": _MEDIA,
        "location": {
            "type": "object",
            "properties": {
                "latitude": {"type": "number"},
                "longitude": {"type": "number"},
                "name": {"type": "string"},
                "address": {"type": "string"},
            },
        },
        "interactive": {
            "type": "object",
            "properties": {
                "type": {"type": "string", "enum": ["button_reply", "list_reply", "nfm_reply"]},
                "button_reply": _REPLY,
                "list_reply": _REPLY,
            },
        },
        "button": {
            "type": "object",
            "properties": {"payload": {"type": "string"}, "text": {"type": "string"}},
        },
        "reaction": {
            "type": "object",
            "properties": {"message_id": {"type": "string"}, "emoji": {"type": "string"}},
        },
        "errors": _ERRORS,
    },
}

STATUS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "What became of a message the business sent.",
    "required": ["id", "status", "timestamp"],
    "properties": {
        "id": _WAMID,
        "status": {"type": "string", "enum": ["sent", "delivered", "read", "played", "failed", "deleted"]},
        "timestamp": _EPOCH_SECONDS,
        "recipient_id": {"type": "string"},
        "recipient_user_id": {"type": "string"},
        "biz_opaque_callback_data": {"type": "string"},
        "conversation": {"type": "object"},
        "pricing": {"type": "object"},
        "errors": _ERRORS,
    },
}

WEBHOOK_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "WhatsAppNotification",
    "description": (
        "A WhatsApp Cloud API webhook notification: messages customers sent and statuses of the "
        "messages the business sent, grouped by business account (`entry`) and change. Changes of "
        "other fields than `messages` are acknowledged and ignored."
    ),
    "required": ["object", "entry"],
    "properties": {
        "object": {"type": "string", "enum": ["whatsapp_business_account"]},
        "entry": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "changes"],
                "properties": {
                    "id": {"type": "string", "description": "the WhatsApp Business Account id"},
                    "changes": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["field", "value"],
                            "properties": {
                                "field": {"type": "string", "enum": ["messages"]},
                                "value": {
                                    "type": "object",
                                    "required": ["messaging_product", "metadata"],
                                    "properties": {
                                        "messaging_product": {"type": "string", "enum": ["whatsapp"]},
                                        "metadata": {
                                            "type": "object",
                                            "required": ["phone_number_id"],
                                            "properties": {
                                                "display_phone_number": {"type": "string"},
                                                "phone_number_id": {"type": "string"},
                                            },
                                        },
                                        "contacts": {
                                            "type": "array",
                                            "items": {
                                                "type": "object",
                                                "properties": {
                                                    "profile": {
                                                        "type": "object",
                                                        "properties": {"name": {"type": "string"}},
                                                    },
                                                    "wa_id": _DIGITS,
                                                    "user_id": {"type": "string"},
                                                },
                                            },
                                        },
                                        "messages": {"type": "array", "items": MESSAGE_SCHEMA},
                                        "statuses": {"type": "array", "items": STATUS_SCHEMA},
                                        "errors": _ERRORS,
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}

SIGNATURE_HEADER: dict[str, Any] = {
    "name": "X-Hub-Signature-256",
    "in": "header",
    "required": True,
    "description": "`sha256=` and the HMAC-SHA256 of the raw body with the app secret, in hex",
    "schema": {"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"},
}
