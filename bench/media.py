"""Media through the service path: fetching customers' photos from the Graph API into the database,
serving them to a rep, and a rep's image uploaded and sent.

    .venv/bin/python -m bench.media [--photos 50] [--size 1048576] [--database-url ...]

In one process, the fake Graph API mounted in-process (no network), on SQLite by default:
1. `fetch`: N photos of `--size` bytes delivered through the webhook to a rep's conversation (their
   fetch not started), then fetched by one `MediaFetcher.fetch_due` pass: photos/s and MB/s
   (metadata + download + SHA-256 + one commit each);
2. `serve`: `GET /api/conversations/{id}/media/{media_id}` of those photos as the rep: p50/p99 ms;
3. `send`: `POST /api/conversations/{id}/media` of a `--size` PNG, answered at once (202) and then
   uploaded (multipart) and sent in the background: p50/p99 ms until it is sent.
Prints as its last line one JSON object with those figures, `database` and `loadavg`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.measure import quantile
from orchestrator.core.config import load_config
from orchestrator.runtime.replay import harness
from tests.api.helpers import bearer, seed_conversation
from tests.api.media_helpers import give_contact_number, media_rows, png
from tests.conftest import OPEN_HOURS
from tests.fakes.graph import FakeGraphAPI
from tests.fixtures import load_fixture


async def run(*, database_url: str, photos: int, size: int) -> dict[str, Any]:
    fake = FakeGraphAPI()
    async with harness(
        database_url=database_url, config=load_config(None), at=OPEN_HOURS, fake_graph=fake
    ) as h:
        fetcher = h.service.media
        assert fetcher is not None
        h.service.media = None  # deliveries only recorded: the fetch is measured on its own below
        conversation_id = await seed_conversation(h, "tara_support")
        await give_contact_number(h, conversation_id, "972987654321")
        for i in range(photos):
            document = load_fixture("inbound_image_pywa.json")
            message = document["entry"][0]["changes"][0]["value"]["messages"][0]
            message["id"], message["image"]["id"] = f"wamid.bench{i}", f"bench-{i}"
            fake.add_media(f"bench-{i}", b"\xff\xd8\xff" + os.urandom(size - 3), "image/jpeg")
            (await h.post(document)).raise_for_status()

        started = time.perf_counter()
        fetched = await fetcher.fetch_due(limit=photos)
        fetch_s = time.perf_counter() - started
        assert len(fetched) == photos
        assert all(m.status == "stored" for m in fetched)

        serve_ms: list[float] = []
        for media in await media_rows(h, conversation_id):
            started = time.perf_counter()
            response = await h.http.get(
                f"/api/conversations/{conversation_id}/media/{media.id}", headers=bearer("tara")
            )
            serve_ms.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
            assert len(response.content) == size

        image = png(padding=max(0, size - 100))
        send_ms: list[float] = []
        for _ in range(max(5, photos // 5)):
            started = time.perf_counter()
            response = await h.http.post(
                f"/api/conversations/{conversation_id}/media",
                files={"file": ("bench.png", image, "image/png")},
                headers=bearer("tara"),
            )
            # Answered at once with the message pending; stored, uploaded and sent after the commit.
            assert response.status_code == 202, response.text
            assert response.json()["status"] == "pending"
            await h.service.dispatcher.drain()
            send_ms.append((time.perf_counter() - started) * 1000)
        images = [r for r in fake.sent if r["json"].get("type") == "image"]
        assert len(images) == len(send_ms), f"{len(images)} of {len(send_ms)} images sent"
    return {
        "photos": photos,
        "size_bytes": size,
        "fetch_per_s": round(photos / fetch_s, 1),
        "fetch_mb_per_s": round(photos * size / fetch_s / 1024 / 1024, 1),
        "serve_p50_ms": round(statistics.median(serve_ms), 2),
        "serve_p99_ms": round(quantile(serve_ms, 0.99), 2),
        "send_p50_ms": round(statistics.median(send_ms), 2),
        "send_p99_ms": round(quantile(send_ms, 0.99), 2),
        "sends": len(send_ms),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", type=int, default=50)
    parser.add_argument("--size", type=int, default=1024 * 1024)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="handoff-bench-media-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        result = asyncio.run(run(database_url=url, photos=args.photos, size=args.size))
    result["database"] = url.split(":", 1)[0]
    result["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
