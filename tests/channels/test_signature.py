"""X-Hub-Signature-256 verification against Meta-signed bytes and Meta's SDK test vector."""

from __future__ import annotations

import json

import pytest

from orchestrator.channels.whatsapp.signature import compute_signature, verify_signature
from tests.fixtures import fixture_bytes

# From FACTS.md: pywa's real Meta-signed webhook (the secret is already reset) and the Node SDK vector.
PYWA_SECRET = "1222e786b144d0e85b9f365372d93676"
PYWA_HEADER = "sha256=54edfa1d7259e0eb13c677cc7d73d1b5c86cfa12433d19156e058ab9251bc441"
NODE_SDK_SECRET = "TEST_APP_SECRET"
NODE_SDK_DIGEST = "0c61947b610d4f45e65f3d680e26027121ec2413e77598bcb6cfc6e0d9888221"


@pytest.fixture
def signed_body() -> bytes:
    body = fixture_bytes("signed_webhook_text_body_pywa.json")
    assert len(body) == 511, "the signed fixture must be the exact 511 bytes Meta signed"
    return body


def test_real_meta_signed_body_verifies(signed_body: bytes) -> None:
    assert verify_signature(PYWA_SECRET, signed_body, PYWA_HEADER)


def test_compute_signature_reproduces_meta_header(signed_body: bytes) -> None:
    assert compute_signature(PYWA_SECRET, signed_body) == PYWA_HEADER


def test_tampered_body_fails_verification(signed_body: bytes) -> None:
    position = signed_body.index(b"Hey there")
    tampered = signed_body[:position] + b"h" + signed_body[position + 1 :]
    assert len(tampered) == len(signed_body)
    assert not verify_signature(PYWA_SECRET, tampered, PYWA_HEADER)


def test_reserialised_json_fails_verification(signed_body: bytes) -> None:
    # What a framework hands you after parsing: same data, different bytes.
    reserialised = json.dumps(json.loads(signed_body)).encode()
    assert json.loads(reserialised) == json.loads(signed_body)
    assert not verify_signature(PYWA_SECRET, reserialised, PYWA_HEADER)


def test_wrong_secret_fails_verification(signed_body: bytes) -> None:
    assert not verify_signature("not-the-app-secret", signed_body, PYWA_HEADER)


def test_node_sdk_vector_verifies() -> None:
    assert compute_signature(NODE_SDK_SECRET, b"test") == f"sha256={NODE_SDK_DIGEST}"
    assert verify_signature(NODE_SDK_SECRET, b"test", f"sha256={NODE_SDK_DIGEST}")


def test_uppercase_hex_and_surrounding_space_still_verify() -> None:
    assert verify_signature(NODE_SDK_SECRET, b"test", f" sha256={NODE_SDK_DIGEST.upper()} ")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        NODE_SDK_DIGEST,  # no "sha256=" prefix
        f"sha1={NODE_SDK_DIGEST}",
        "sha256=",
        "sha256=zz-not-hex",
        f"sha256={NODE_SDK_DIGEST[:-2]}",
        f"sha256={NODE_SDK_DIGEST[:-1]}é",  # non-ASCII garbage must not raise
    ],
)
def test_missing_or_garbled_header_is_rejected(header: str | None) -> None:
    assert verify_signature(NODE_SDK_SECRET, b"test", header) is False


def test_empty_secret_never_verifies() -> None:
    assert not verify_signature("", b"test", compute_signature("", b"test"))
