"""CPU time a worker spends applying stored webhook items, per item, in process: Meta's delivery
statuses, or (`--inbound`) customers' messages.

Every reply the bot sends comes back as up to three status webhooks (`sent`, `delivered`, `read`),
so a busy number's workers apply about three statuses for each turn they run. This seeds
`--messages` sent replies (and `--batch` more for a warm-up pass, not timed), stores a status of
each as the acknowledge-only API does (the inbox's batched insert), and times the worker's
`apply_inbox` pass over them: `--batch` statuses stored, then applied (as a worker finds them
waiting when it wakes), until every message has its `sent`, `delivered` and `read`. Only the pass
is timed (`time.process_time`), not the storing. With `--inbound`, each round stores a text message
of each of those customers instead, into their open conversation (the turns are held back, so
only the applying is timed).

    .venv/bin/python -m bench.apply [--messages 600] [--batch 20] [--inbound] [--database-url ...]

Prints as its last line one JSON object: `database`, `items` (`statuses` or `messages`),
`messages`, `batch`, `applied`, `cpu_ms_per_item` (one figure per round: `sent`, `delivered`,
`read`, or the customers' first, second and third messages), `mean_cpu_ms`,
`statements_per_item`, `loadavg`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from pydantic import SecretStr

from orchestrator.channels.whatsapp.inbound import split_webhook
from orchestrator.core.settings import Settings
from orchestrator.core.tables import Contact, Conversation, Message
from orchestrator.inbox import accept_deliveries, prepare_delivery
from orchestrator.runtime.container import Service
from orchestrator.runtime.simulator import encode_webhook
from tests.factories import text
from tests.fakes.graph import FakeGraphAPI, status_webhook

SECRET = "bench-app-secret"
KINDS = ("sent", "delivered", "read")


def _table(entity: Any) -> sa.Table:
    return cast(sa.Table, entity.__table__)


async def _seed(service: Service, messages: int) -> list[tuple[str, str]]:
    """`messages` bot replies already accepted by Graph, each to its own customer: (wamid, wa_id)."""
    now = service.clock.now()
    sent: list[tuple[str, str]] = []
    async with service.engine.begin() as conn:
        for index in range(messages):
            wa_id = f"4477009{index:05d}"
            contact_id = await conn.scalar(
                sa.insert(_table(Contact)).values(wa_id=wa_id, created_at=now).returning(sa.column("id"))
            )
            conversation_id = await conn.scalar(
                sa.insert(_table(Conversation))
                .values(contact_id=contact_id, owner="bot", created_at=now, updated_at=now)
                .returning(sa.column("id"))
            )
            wamid = f"wamid.bench-status-{index}"
            await conn.execute(
                sa.insert(_table(Message)).values(
                    conversation_id=conversation_id,
                    direction="outbound",
                    wa_message_id=wamid,
                    kind="text",
                    text="Thanks, what is the name of your company?",
                    sender_type="bot",
                    status="accepted",
                    created_at=now,
                    updated_at=now,
                )
            )
            sent.append((wamid, wa_id))
    return sent


def _no_turn(conversation_id: int, *, arrived: bool = True) -> None:
    """The turns the applied messages would schedule, not run."""


async def _store(service: Service, bodies: list[bytes]) -> None:
    """The status webhooks stored as the acknowledgement stores them."""
    at = service.clock.now()
    async with service.engine.begin() as conn:
        await accept_deliveries(conn, [prepare_delivery(b, split_webhook(b), at=at) for b in bodies])


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        settings = Settings(
            database_url=url,
            whatsapp_app_secret=SecretStr(SECRET),
            run_background=False,
            run_turns=True,
        )
        per_kind: dict[str, float] = {}
        statements, applying = 0, False

        def count(*_args: Any) -> None:  # the pass's statements only, not the storing
            nonlocal statements
            statements += applying

        async with Service.running(settings, graph_transport=FakeGraphAPI().transport()) as service:
            service.turns.schedule = _no_turn  # type: ignore[method-assign]  # only the applying runs
            seeded = await _seed(service, args.messages + args.batch)
            warm, sent = seeded[: args.batch], seeded[args.batch :]
            for kind in KINDS:  # statements compiled and connections opened before the clock runs
                await _store(service, [status_webhook(w, to, kind, None) for w, to in warm])
                await _store(service, [encode_webhook(text(to, kind, service.clock.now())) for _, to in warm])
                await service.turns.apply_inbox()
            sa.event.listen(service.engine.sync_engine, "before_cursor_execute", count)
            for round_, kind in enumerate(KINDS):
                spent = 0.0
                for start in range(0, len(sent), args.batch):
                    some = sent[start : start + args.batch]
                    if args.inbound:
                        at = service.clock.now()
                        bodies = [encode_webhook(text(to, f"message {round_ + 1}", at)) for _, to in some]
                    else:
                        bodies = [status_webhook(w, to, kind, None) for w, to in some]
                    await _store(service, bodies)
                    applying, before = True, time.process_time()
                    applied = await service.turns.apply_inbox()
                    spent += time.process_time() - before
                    applying = False
                    assert applied.stored == len(bodies), applied
                per_kind[kind] = spent / len(sent) * 1000
            sa.event.remove(service.engine.sync_engine, "before_cursor_execute", count)
            async with service.engine.connect() as conn:
                where = (
                    "direction = 'inbound'" if args.inbound else "direction = 'outbound' AND status = 'read'"
                )
                found = await conn.scalar(
                    sa.select(sa.func.count()).where(sa.text(where)).select_from(sa.table("message"))
                )
            expected = len(seeded) * len(KINDS) if args.inbound else len(seeded)
            assert found == expected, f"{found} of {expected} messages"
    total = len(sent) * len(KINDS)
    rounds = ("first", "second", "third") if args.inbound else KINDS
    return {
        "database": "postgresql" if url.startswith("postgresql") else "sqlite",
        "items": "messages" if args.inbound else "statuses",
        "messages": args.messages,
        "batch": args.batch,
        "applied": total,
        "cpu_ms_per_item": {name: round(ms, 3) for name, ms in zip(rounds, per_kind.values(), strict=True)},
        "mean_cpu_ms": round(sum(per_kind.values()) / len(per_kind), 3),
        "statements_per_item": round(statements / total, 2),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=600)
    parser.add_argument("--batch", type=int, default=20, help="items stored before each pass")
    parser.add_argument("--inbound", action="store_true", help="customers' messages instead of statuses")
    parser.add_argument("--database-url", default=None, help="a fresh database (default: a new SQLite file)")
    print(json.dumps(asyncio.run(run(parser.parse_args()))))


if __name__ == "__main__":
    main()
