"""Locate the shared WhatsApp Cloud API fixtures (`../shared/fixtures/whatsapp` beside the repo).

Tests that need them skip with a clear reason when the shared folder is absent (e.g. a bare clone).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

WHATSAPP_FIXTURES = Path(__file__).resolve().parents[1] / ".." / "shared" / "fixtures" / "whatsapp"


def whatsapp_fixtures_dir() -> Path:
    """The fixture folder, or skip the calling test when it is not there."""
    if not WHATSAPP_FIXTURES.is_dir():
        pytest.skip(f"shared WhatsApp fixtures not found at {WHATSAPP_FIXTURES.resolve()}")
    return WHATSAPP_FIXTURES


def fixture_path(name: str) -> Path:
    path = whatsapp_fixtures_dir() / name
    if not path.is_file():
        raise FileNotFoundError(f"no fixture named {name!r} in {WHATSAPP_FIXTURES.resolve()}")
    return path


def fixture_bytes(name: str) -> bytes:
    """The exact bytes of a fixture (signatures are computed over bytes)."""
    return fixture_path(name).read_bytes()


def load_fixture(name: str) -> Any:
    return json.loads(fixture_bytes(name))


def fixture_names(pattern: str) -> list[Any]:
    """Fixture names matching a glob, for `parametrize` at collection time.

    When the shared folder is absent this is one skipped parameter carrying the reason, rather than an
    empty parameter set.
    """
    if not WHATSAPP_FIXTURES.is_dir():
        reason = f"shared WhatsApp fixtures not found at {WHATSAPP_FIXTURES.resolve()}"
        return [pytest.param(pattern, marks=pytest.mark.skip(reason=reason))]
    return sorted(p.name for p in WHATSAPP_FIXTURES.glob(pattern))
