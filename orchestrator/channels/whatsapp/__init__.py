"""WhatsApp Cloud API channel library: webhook signature, inbound parsing, outbound builders, sender.

No database and no routes here; the service wires these into `POST /webhooks/whatsapp` and its outbox.

- `signature`: `verify_signature` over the raw webhook bytes.
- `inbound`: `parse_webhook(body) -> WebhookBatch` of normalized `InboundMessage` / `StatusUpdate`.
- `outbound`: `/messages` request bodies with Meta's limits enforced; `render_as_text`.
- `client`: `GraphClient.send` with retries for transient Graph errors.
"""

from orchestrator.channels.whatsapp.client import (
    GraphAPIError,
    GraphClient,
    GraphError,
    GraphTransportError,
    SendResult,
)
from orchestrator.channels.whatsapp.document import WebhookPayloadError
from orchestrator.channels.whatsapp.inbound import (
    ContactRef,
    InboundKind,
    InboundMessage,
    MediaRef,
    StatusUpdate,
    WebhookBatch,
    parse_webhook,
    parse_webhook_document,
)
from orchestrator.channels.whatsapp.outbound import (
    ListRow,
    ListSection,
    OutboundValidationError,
    list_message,
    render_as_text,
    reply_buttons,
    template_body,
    template_message,
    text_message,
)
from orchestrator.channels.whatsapp.signature import SIGNATURE_HEADER, compute_signature, verify_signature

__all__ = [
    "SIGNATURE_HEADER",
    "ContactRef",
    "GraphAPIError",
    "GraphClient",
    "GraphError",
    "GraphTransportError",
    "InboundKind",
    "InboundMessage",
    "ListRow",
    "ListSection",
    "MediaRef",
    "OutboundValidationError",
    "SendResult",
    "StatusUpdate",
    "WebhookBatch",
    "WebhookPayloadError",
    "compute_signature",
    "list_message",
    "parse_webhook",
    "parse_webhook_document",
    "render_as_text",
    "reply_buttons",
    "template_body",
    "template_message",
    "text_message",
    "verify_signature",
]
