"""Acknowledgement time of large deliveries: one signed POST of `--messages` messages (Meta batches
up to 1,000 updates) over real HTTP, timed until the 200 arrives; the messages are applied and
answered after the answer, and each round waits for that before the next.

    .venv/bin/python -m bench.ingest_batch [--messages 1000] [--rounds 5] [--senders 5]
                                           [--database-url postgresql+psycopg://...]

Without `--database-url` a temporary SQLite file is used (the embedded default); with one, use a
scratch database: the run adds conversations. Prints as its last line one JSON object:
`messages`, `rounds`, `ack_ms` (each round), `ack_p50_ms`, `ack_max_ms`, `applied_s` (mean time
until every message of a round was stored), `database`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlmodel import col

from orchestrator.channels.whatsapp.signature import compute_signature
from orchestrator.core.settings import Settings
from orchestrator.core.tables import Message
from orchestrator.runtime.app import create_app
from orchestrator.runtime.container import Service
from orchestrator.runtime.simulator import encode_webhook
from tests.fakes.graph import FakeGraphAPI
from tests.fakes.servers import serve_in_loop

SECRET = "bench-app-secret"


def delivery(round_no: int, messages: int, senders: int) -> bytes:
    at = str(int(datetime.now(UTC).timestamp()))
    items: list[dict[str, Any]] = [
        {
            "from": f"1202555{i % senders:04d}",
            "id": f"wamid.bench.{round_no}.{i}",
            "timestamp": at,
            "type": "text",
            "text": {"body": f"message {i} of round {round_no}"},
        }
        for i in range(messages)
    ]
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550000000", "phone_number_id": "000000000000000"},
        "contacts": [],
        "messages": items,
    }
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
    }
    return encode_webhook(payload)


async def inbound_count(service: Service) -> int:
    async with service.sessions() as session:
        query = select(func.count()).select_from(Message).where(col(Message.direction) == "inbound")
        return int((await session.execute(query)).scalar_one())


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        fake = FakeGraphAPI()
        settings = Settings(
            database_url=url, whatsapp_app_secret=SecretStr(SECRET), burst_window_s=0, run_background=False
        )
        async with Service.running(settings, graph_transport=fake.transport()) as service:
            acks: list[float] = []
            applied: list[float] = []
            async with (
                serve_in_loop(create_app(service=service)) as base,
                httpx.AsyncClient(base_url=base) as http,
            ):
                for round_no in range(args.rounds):
                    body = delivery(round_no, args.messages, args.senders)
                    before = await inbound_count(service)
                    headers = {
                        "content-type": "application/json",
                        "x-hub-signature-256": compute_signature(SECRET, body),
                    }
                    started = time.perf_counter()
                    response = await http.post("/webhooks/whatsapp", content=body, headers=headers)
                    acks.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, response.text
                    while await inbound_count(service) < before + args.messages:  # noqa: ASYNC110 (polls the database)
                        await asyncio.sleep(0.05)
                    applied.append(time.perf_counter() - started)
                    await service.turns.drain()
    return {
        "messages": args.messages,
        "rounds": args.rounds,
        "ack_ms": [round(a, 1) for a in acks],
        "ack_p50_ms": round(statistics.median(acks), 1),
        "ack_max_ms": round(max(acks), 1),
        "applied_s": round(statistics.fmean(applied), 2),
        "database": url.split(":", 1)[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--senders", type=int, default=5)
    parser.add_argument("--database-url")
    print(json.dumps(asyncio.run(run(parser.parse_args()))))


if __name__ == "__main__":
    main()
