"""`handoff serve`'s access log, a real OS process: off unless the deployment turns it on."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.processes.serving import serving


def _serve_and_ask(tmp_path: Path, extra: dict[str, str], *args: str) -> str:
    """Start `handoff serve`, ask for /healthz twice and the verify handshake once, stop it: its log."""
    env = {
        **{k: v for k, v in os.environ.items() if k != "HANDOFF_ACCESS_LOG"},
        "HANDOFF_DATABASE_URL": f"sqlite:///{tmp_path / 'handoff.db'}",
        "HANDOFF_RUN_BACKGROUND": "false",
        **extra,
    }
    with serving(tmp_path, env, *args) as served:
        httpx.get(f"{served.url}/healthz")
        httpx.get(f"{served.url}/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1")
    return served.log.read_text()


@pytest.mark.parametrize("setting", [None, "false"])
def test_serve_writes_no_line_per_request_by_default(tmp_path: Path, setting: str | None) -> None:
    text = _serve_and_ask(tmp_path, {} if setting is None else {"HANDOFF_ACCESS_LOG": setting})

    assert "Application startup complete" in text  # the log is read: what is absent is absent
    assert "GET /healthz" not in text
    assert "GET /webhooks/whatsapp" not in text


def test_serve_writes_a_line_per_request_when_the_access_log_is_on(tmp_path: Path) -> None:
    text = _serve_and_ask(tmp_path, {"HANDOFF_ACCESS_LOG": "true"})

    assert '"GET /healthz HTTP/1.1" 200' in text
    # The handshake's line is there, its verify token is not (`orchestrator.core.logs`).
    assert "GET /webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=[redacted]" in text
    assert "guess" not in text


@pytest.mark.postgres
def test_serve_with_several_processes_writes_no_line_per_request_by_default(
    tmp_path: Path, postgres_url: str
) -> None:
    """Each of `serve --workers N`'s processes sets its logging up after uvicorn has: the setting
    must hold there too."""
    text = _serve_and_ask(
        tmp_path, {"HANDOFF_DATABASE_URL": postgres_url, "HANDOFF_RUN_TURNS": "false"}, "--workers", "2"
    )

    assert "Application startup complete" in text
    assert "GET /healthz" not in text
    assert "GET /webhooks/whatsapp" not in text
