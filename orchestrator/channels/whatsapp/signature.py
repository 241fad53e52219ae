"""`X-Hub-Signature-256` for WhatsApp Cloud API webhooks.

Meta signs each POST with HMAC-SHA256 over the *raw request bytes*, keyed by the app secret, and sends
`sha256=<lowercase hex>`. Always verify the bytes exactly as received: re-serialising the parsed JSON
(`json.dumps`, other separators, `ensure_ascii=False`) changes the bytes and therefore the hash.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Hub-Signature-256"
_PREFIX = "sha256="


def compute_signature(secret: str, body: bytes) -> str:
    """The header value Meta would send for `body`: `"sha256=<hex>"`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return _PREFIX + digest


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """True when `header` is a valid `sha256=` signature of `body`; False for anything else.

    A missing, empty, unprefixed or non-hex header is simply invalid (never an exception), and the
    comparison is constant-time. Hex case is ignored, as Meta documents lowercase but hex is hex.
    """
    if not secret or not header:
        return False
    header = header.strip()
    if header[: len(_PREFIX)].lower() != _PREFIX:
        return False
    received = header[len(_PREFIX) :].lower()
    expected = compute_signature(secret, body)[len(_PREFIX) :]
    # compare_digest on str requires ASCII; a garbled header with other characters is just invalid.
    if not received.isascii():
        return False
    return hmac.compare_digest(received, expected)
