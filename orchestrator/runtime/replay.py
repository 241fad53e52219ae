"""`handoff replay` and `handoff demo`: conversations played through the same code path as real
traffic: Cloud API payloads, signed, POSTed to the webhook handler; the turn engine; a fake Graph
API capturing what is sent. Each conversation runs in a fresh temporary database with the default
configuration (replay contract, DESIGN.md).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

import httpx
from pydantic import SecretStr
from sqlalchemy import select
from sqlmodel import col

from agents.llm import LLMClient
from orchestrator.channels.whatsapp.outbound import render_as_text
from orchestrator.channels.whatsapp.signature import compute_signature
from orchestrator.core.clock import FrozenClock
from orchestrator.core.config import AppConfig, load_config
from orchestrator.core.enums import Owner
from orchestrator.core.settings import Settings
from orchestrator.core.tables import Contact, Conversation
from orchestrator.migrations import run_migrations
from orchestrator.runtime.app import create_app
from orchestrator.runtime.container import Service
from orchestrator.runtime.graph import thread_config
from orchestrator.runtime.simulator import (
    GraphSink,
    SendCapture,
    build_button_reply_webhook,
    build_list_reply_webhook,
    build_text_webhook,
    encode_webhook,
)
from orchestrator.runtime.turns import TurnOutcome

SECRET = "replay-app-secret"
SECONDS_BETWEEN_TURNS = 20


Capture = TypeVar("Capture", bound=SendCapture)


@dataclass
class Harness(Generic[Capture]):
    """A running service driven through its webhook; `fake_graph` is where its sends go."""

    service: Service
    http: httpx.AsyncClient
    fake_graph: Capture
    clock: FrozenClock
    outcomes: list[TurnOutcome]

    async def post_body(self, body: bytes, *, signature: str | None = None) -> httpx.Response:
        """POST raw bytes to the webhook, signed with the service's secret unless told otherwise;
        returns once the process has applied what it stored (`TurnEngine.apply_soon`)."""
        secret = self.service.settings.whatsapp_app_secret.get_secret_value()
        response = await self.http.post(
            "/webhooks/whatsapp",
            content=body,
            headers={
                "content-type": "application/json",
                "x-hub-signature-256": signature or compute_signature(secret, body),
            },
        )
        # As a server would right after answering: the delivery's items applied, turns scheduled
        # (by the applier, or on PostgreSQL by a pass of the inbox listener that took them first).
        await self.service.turns.applied()
        if self.service.inbox_listener is not None:
            await self.service.inbox_listener.settled()
        return response

    async def post(self, payload: dict[str, Any]) -> httpx.Response:
        return await self.post_body(encode_webhook(payload))


@asynccontextmanager
async def harness(
    *,
    database_url: str,
    config: AppConfig,
    at: datetime,
    migrate: bool = True,
    llm: LLMClient | None = None,
    fake_graph: Capture,
    graph_api_url: str | None = None,
    app_secret: str = SECRET,
) -> AsyncIterator[Harness[Capture]]:
    """A running service with a fake Graph API: in-process (ASGI) by default, or over HTTP at
    `graph_api_url` where the caller serves `fake_graph`."""
    settings = Settings(
        dev_mode=True,  # a trial run on the demo team, present from the start
        database_url=database_url,
        whatsapp_app_secret=SecretStr(app_secret),
        whatsapp_api_url=graph_api_url or "http://graph.invalid",
        burst_window_s=0,
        run_background=False,
    )
    fake = fake_graph
    clock = FrozenClock(at)
    outcomes: list[TurnOutcome] = []
    async with Service.running(
        settings,
        config=config,
        clock=clock,
        graph_transport=None if graph_api_url else fake.transport(),
        migrate=migrate,
        llm=llm,
        on_outcome=outcomes.append,
    ) as service:
        app = create_app(service=service)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://handoff.local"
        ) as http:
            yield Harness(service, http, fake, clock, outcomes)


def turn_payload(config: AppConfig, case: dict[str, Any], index: int, at: datetime) -> dict[str, Any]:
    contact = case.get("contact") or {}
    common: dict[str, Any] = {
        "wa_id": contact.get("wa_id"),
        "user_id": contact.get("user_id"),
        "name": contact.get("name"),
        "message_id": f"wamid.replay.{case.get('id', 'case')}.{index}",
        "timestamp": at,
        "referral": case.get("referral") if index == 0 else None,
    }
    turn = case["turns"][index]
    if "button" in turn:
        button = config.button_for(reply_id=None, title=turn["button"])
        return build_button_reply_webhook(
            reply_id=button.id if button else turn["button"], title=turn["button"], **common
        )
    if "list" in turn:
        return build_list_reply_webhook(reply_id=turn["list"], title=turn["list"], **common)
    return build_text_webhook(text=turn["text"], **common)


async def play_case(h: Harness[Any], config: AppConfig, case: dict[str, Any]) -> dict[str, Any]:
    out_turns: list[dict[str, Any]] = []
    handoff: dict[str, Any] | None = None
    llm_calls = 0
    for index in range(len(case["turns"])):
        h.clock.advance(seconds=SECONDS_BETWEEN_TURNS)
        before = len(h.fake_graph.sent)
        done = len(h.outcomes)
        response = await h.post(turn_payload(config, case, index, h.clock.now()))
        response.raise_for_status()
        await h.service.turns.drain()
        for outcome in h.outcomes[done:]:
            llm_calls += outcome.llm_calls
            if outcome.handoff is not None and handoff is None:
                result = outcome.handoff
                handoff = {
                    "turn": index,
                    "reason": str(result.context.reason),
                    "queue": result.outcome.assignment.queue,
                    "assignee": result.outcome.rep.id if result.outcome.rep else None,
                    "context": result.context.model_dump(mode="json"),
                }
        owner = await current_owner(h, case)
        sent = [render_as_text(r["json"]) for r in h.fake_graph.sent[before:]]
        out_turns.append({"sent": sent, "owner": str(owner)})
    fields = await collected_fields(h, case)
    return {
        "id": case.get("id"),
        "turns": out_turns,
        "handoff": handoff,
        "fields": fields,
        "llm_calls": llm_calls,
    }


async def _conversation(h: Harness[Any], case: dict[str, Any]) -> Conversation | None:
    contact = case.get("contact") or {}
    async with h.service.sessions() as session:
        row = (
            (
                await session.execute(
                    select(Conversation)
                    .join(Contact, col(Contact.id) == col(Conversation.contact_id))
                    .where(col(Contact.wa_id) == contact.get("wa_id"))
                    .order_by(col(Conversation.id).desc())
                )
            )
            .scalars()
            .first()
        )
    return row


async def current_owner(h: Harness[Any], case: dict[str, Any]) -> Owner:
    conversation = await _conversation(h, case)
    return conversation.owner if conversation else Owner.BOT


async def collected_fields(h: Harness[Any], case: dict[str, Any]) -> dict[str, str]:
    conversation = await _conversation(h, case)
    if conversation is None or conversation.id is None:
        return {}
    snapshot = await h.service.graph.aget_state(thread_config(conversation.id))
    fields = (snapshot.values or {}).get("fields") or {}
    return {name: record["value"] for name, record in fields.items()}


class TemplateDatabase:
    """Migrate once, copy per conversation: a fresh database each time without re-running Alembic."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.template = root / "template.db"
        run_migrations(f"sqlite:///{self.template}")
        self.count = 0

    def fresh_url(self) -> str:
        self.count += 1
        path = self.root / f"case-{self.count}.db"
        shutil.copyfile(self.template, path)
        return f"sqlite:///{path}"


async def replay_cases(
    cases: list[dict[str, Any]],
    *,
    at: datetime | None = None,
    config: AppConfig | None = None,
    llm: LLMClient | None = None,
) -> list[dict[str, Any]]:
    config = config or load_config(None)
    start = at or datetime.now(UTC)
    results = []
    with tempfile.TemporaryDirectory(prefix="handoff-replay-") as tmp:
        templates = TemplateDatabase(Path(tmp))
        for case in cases:
            async with harness(
                database_url=templates.fresh_url(),
                config=config,
                at=start,
                migrate=False,
                llm=llm,
                fake_graph=GraphSink(),
            ) as h:
                results.append(await play_case(h, config, case))
    return results


def read_cases(path: Path) -> list[dict[str, Any]]:
    """The conversations of a JSON-lines file; `ValueError` names the first line that is not one."""
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            case = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"line {number} is not JSON: {exc.msg} (column {exc.colno})") from None
        if not isinstance(case, dict) or not isinstance(case.get("turns"), list):
            raise ValueError(f'line {number} is not a conversation (an object with a list of "turns")')
        cases.append(case)
    return cases


DEMO_CASES: list[dict[str, Any]] = [
    {
        "id": "demo-ad-lead",
        "contact": {"wa_id": "447700900123", "name": "Ana Clarke"},
        "referral": {
            "source_url": "https://fb.me/demo-ad",
            "source_id": "120200000001",
            "source_type": "ad",
            "headline": "Sell more on WhatsApp",
            "body": "Free trial",
            "ctwa_clid": "demo-clid",
        },
        "turns": [
            {"text": "Hi! I saw your ad and want to know more"},
            {"text": "Our company is Northwind Traders"},
            {"text": "We want to answer order questions on WhatsApp and qualify wholesale leads"},
        ],
    },
    {
        "id": "demo-support-menu",
        "contact": {"wa_id": "14155550123", "name": "Ben Ortiz"},
        "referral": None,
        "turns": [{"text": "Hello"}, {"button": "Support"}],
    },
]


async def demo(*, at: datetime | None = None) -> None:
    at = at or datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    for result in await replay_cases(DEMO_CASES, at=at):
        print(f"=== {result['id']}")
        for i, turn in enumerate(result["turns"]):
            for text in turn["sent"]:
                print(f"  [turn {i}] bot: {text}")
            print(f"  [turn {i}] owner: {turn['owner']}")
        handoff = result["handoff"]
        if handoff:
            print(
                f"  handoff at turn {handoff['turn']}: reason={handoff['reason']} queue={handoff['queue']} "
                f"assignee={handoff['assignee']}"
            )
            print(
                "  context: "
                + json.dumps(handoff["context"], indent=2, ensure_ascii=False).replace("\n", "\n  ")
            )
        print()
