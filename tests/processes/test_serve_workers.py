"""`handoff serve --workers N` as real OS processes: several API processes on one new database, each
logging as the deployment asked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.fakes.servers import free_port
from tests.processes.test_worker import _wait_healthy


def _events(text: str) -> list[dict[str, Any]]:
    """Each line of the log as the JSON object it must be (a line that is not one fails here)."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_two_processes_start_together_on_a_new_sqlite_file_and_both_log_as_json(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "HANDOFF_DATABASE_URL": f"sqlite:///{tmp_path / 'new.db'}",  # migrated by both at once
        "HANDOFF_RUN_BACKGROUND": "false",
        "HANDOFF_LOG_JSON": "true",
    }
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "orchestrator.runtime.cli",
                "serve",
                "--workers",
                "2",
                "--port",
                str(port),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(process, url)
        deadline = time.monotonic() + 60  # a bound on starting, not a speed assertion
        while log.read_text().count('"graph_loaded"') < 2 and time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()[-3000:]
            time.sleep(0.2)
        refused = httpx.post(
            f"{url}/webhooks/whatsapp", content=b"{}", headers={"X-Hub-Signature-256": "sha256=00"}
        )
        assert refused.status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=30)
    events = _events(log.read_text())
    started = {e["event"] for e in events if e["event"].startswith("Started server process")}
    assert len(started) == 2, "both processes started (neither failed on the other's migrations)"
    assert sum(1 for e in events if e["event"] == "graph_loaded") == 2
    assert any(e["event"] == "webhook_bad_signature" for e in events)
