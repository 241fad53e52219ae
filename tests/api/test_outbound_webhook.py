"""The optional outbound webhook: notifications POSTed to an integration, signed with HMAC-SHA256."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr, ValidationError

from handoff.notify import SIGNATURE_HEADER, WebhookSender
from orchestrator.core.clock import FrozenClock
from orchestrator.core.enums import EventType
from orchestrator.core.settings import Settings
from orchestrator.runtime.container import Service
from tests.api.helpers import add_event, seed_conversation
from tests.fakes.servers import serve_in_thread

SECRET = "integration-secret"
AT = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


class Receiver:
    """An integration's endpoint: records deliveries, answers with scripted statuses first."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        self.lock = threading.Lock()  # the server thread appends
        self.app = FastAPI()

        @self.app.post("/hook")
        async def hook(request: Request) -> JSONResponse:
            body = await request.body()
            with self.lock:
                self.deliveries.append((dict(request.headers), body))
                status = self.statuses.pop(0) if self.statuses else 200
            return JSONResponse({"ok": status < 300}, status_code=status)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    hook = Receiver()
    with serve_in_thread(hook.app) as url:
        yield hook, f"{url}/hook"


@dataclass
class Running:
    service: Service
    clock: FrozenClock


@asynccontextmanager
async def service_with_webhook(sqlite_url: str, url: str) -> AsyncIterator[Running]:
    settings = Settings(
        database_url=sqlite_url,
        run_background=False,
        whatsapp_api_url="http://graph.invalid",
        notify_webhook_url=url,
        notify_webhook_secret=SecretStr(SECRET),
    )
    async with Service.running(settings, clock=FrozenClock(AT), migrate=False) as service:
        assert service.notifier is not None
        assert service.notifier.webhook is not None
        service.notifier.webhook.backoff_s = 0.01
        yield Running(service, FrozenClock(AT))


async def settled(running: Running) -> WebhookSender:
    """Every event committed so far has been delivered or given up."""
    assert running.service.notifier is not None
    webhook = running.service.notifier.webhook
    assert webhook is not None
    await running.service.notifier.settled()
    await webhook.settled()
    return webhook


async def test_each_notification_is_posted_signed_with_the_shared_secret(
    sqlite_url: str, receiver: tuple[Receiver, str]
) -> None:
    hook, url = receiver
    async with service_with_webhook(sqlite_url, url) as running:
        conversation_id = await seed_conversation(running, "tara_support")
        event_id = await add_event(running, conversation_id, EventType.SLA_WARNING)
        webhook = await settled(running)
    assert (webhook.delivered, webhook.failed) == (3, 0)  # handoff, assigned, sla_warning
    headers, body = hook.deliveries[-1]
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER.lower()] == expected
    assert headers["x-handoff-event-id"] == str(event_id)
    payload: dict[str, Any] = json.loads(body)
    assert payload["type"] == "sla_warning"
    assert payload["conversation_id"] == conversation_id
    assert [json.loads(b)["type"] for _, b in hook.deliveries] == ["handoff", "assigned", "sla_warning"]


async def test_delivery_is_retried_after_a_server_error(
    sqlite_url: str, receiver: tuple[Receiver, str]
) -> None:
    hook, url = receiver
    hook.statuses = [503, 500]
    async with service_with_webhook(sqlite_url, url) as running:
        conversation_id = await seed_conversation(running, "bot")
        await add_event(running, conversation_id, EventType.ESCALATED)
        webhook = await settled(running)
    assert (webhook.delivered, webhook.failed) == (1, 0)
    bodies = {b for _, b in hook.deliveries}
    assert len(bodies) == 1  # the same event three times


async def test_a_refused_delivery_is_not_retried(sqlite_url: str, receiver: tuple[Receiver, str]) -> None:
    hook, url = receiver
    hook.statuses = [400]
    async with service_with_webhook(sqlite_url, url) as running:
        conversation_id = await seed_conversation(running, "bot")
        await add_event(running, conversation_id, EventType.ESCALATED)
        await add_event(running, conversation_id, EventType.SLA_WARNING)
        webhook = await settled(running)
    assert (webhook.delivered, webhook.failed) == (1, 1)
    assert [json.loads(b)["type"] for _, b in hook.deliveries] == ["escalated", "sla_warning"]


def test_webhook_url_without_a_secret_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="HANDOFF_NOTIFY_WEBHOOK_SECRET"):
        Settings(database_url=f"sqlite:///{tmp_path}/x.db", notify_webhook_url="https://example.com/hook")
