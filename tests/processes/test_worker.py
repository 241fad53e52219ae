"""`handoff worker`, a real OS process: it answers what a killed API process left behind, and stops
cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from orchestrator.channels.whatsapp.signature import compute_signature
from orchestrator.core.settings import DEV_SECRETS
from orchestrator.runtime.simulator import build_text_webhook, encode_webhook
from tests.fakes.graph import FakeGraphAPI
from tests.fakes.servers import free_port

CUSTOMER = "447700900777"


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    # The log goes to a file: a pipe nobody reads would block the process once full.
    log = tempfile.NamedTemporaryFile(prefix="handoff-", suffix=".log", delete=False)  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator.runtime.cli", *args],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _wait_healthy(process: subprocess.Popen[bytes], url: str) -> None:
    with httpx.Client() as client:
        for _ in range(300):  # bounded: up to 30 s to migrate and listen
            if process.poll() is not None:
                raise RuntimeError(
                    f"handoff serve exited: {process.stderr.read().decode() if process.stderr else ''}"
                )
            try:
                if client.get(f"{url}/healthz", timeout=0.5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    raise RuntimeError("handoff serve did not start")


def test_worker_answers_the_message_a_killed_api_process_left_pending(
    tmp_path: Path, graph: tuple[FakeGraphAPI, str]
) -> None:
    fake, graph_url = graph
    env = {
        **os.environ,
        "HANDOFF_DATABASE_URL": f"sqlite:///{tmp_path / 'handoff.db'}",
        "HANDOFF_WHATSAPP_API_URL": graph_url,
        "HANDOFF_RUN_BACKGROUND": "false",
        "HANDOFF_BURST_WINDOW_S": "3",  # the API process is killed inside this window
        "HANDOFF_BURST_QUIET_S": "3",
        "HANDOFF_TIMER_INTERVAL_S": "0.2",
    }
    port = free_port()
    api = _start(["serve", "--port", str(port)], env)
    try:
        _wait_healthy(api, f"http://127.0.0.1:{port}")
        body = encode_webhook(
            build_text_webhook(
                wa_id=CUSTOMER, message_id="wamid.worker.1", timestamp=int(time.time()), text="hi"
            )
        )
        signature = compute_signature(DEV_SECRETS["HANDOFF_WHATSAPP_APP_SECRET"], body)
        response = httpx.post(
            f"http://127.0.0.1:{port}/webhooks/whatsapp",
            content=body,
            headers={"content-type": "application/json", "x-hub-signature-256": signature},
        )
        assert response.status_code == 200
    finally:
        api.send_signal(signal.SIGKILL)
        api.wait(timeout=10)
    assert fake.sent == []  # stored, never answered: the API process died inside the burst window

    worker = _start(["worker"], env)
    try:
        deadline = time.monotonic() + 30
        while not fake.sent and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.1)
        time.sleep(0.5)  # a second, wrong answer would arrive now
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=20)
    assert code == 0
    assert len(fake.sent) >= 1
    assert {request["json"]["to"] for request in fake.sent} == {"+" + CUSTOMER}
    texts = fake.sent_texts()
    assert len(texts) == len(set(texts))  # nothing sent twice
