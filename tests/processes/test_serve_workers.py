"""`handoff serve --workers N` as real OS processes on PostgreSQL: every process logs as the
deployment asked, a rep's access token signed by one is accepted by the others, and one killed or
hung is replaced."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestrator.core.config import default_config_text
from tests.faults.processes import alive, children
from tests.processes.serving import english_handoff_message, handoff_message, serving

pytestmark = pytest.mark.postgres

PROCESSES = 2
# New connections spread over the processes as the kernel hands them out: this many calls all
# reach the same process about once in 2**(CALLS - 1) runs.
CALLS = 24


def _events(text: str) -> list[dict[str, Any]]:
    """Each line of the log as the JSON object it must be (a line that is not one fails here)."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_every_process_logs_as_json_and_accepts_the_tokens_of_the_others(
    postgres_url: str, tmp_path: Path
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if k != "HANDOFF_JWT_SECRET"},  # none configured
        "HANDOFF_DATABASE_URL": postgres_url,
        "HANDOFF_RUN_BACKGROUND": "false",
        "HANDOFF_LOG_JSON": "true",
    }
    with serving(tmp_path, env, "--workers", str(PROCESSES)) as served:
        url, log = served.url, served.log
        deadline = time.monotonic() + 60  # a bound on starting, not a speed assertion
        while log.read_text().count('"graph_loaded"') < PROCESSES and time.monotonic() < deadline:
            assert served.process.poll() is None, log.read_text()[-3000:]
            time.sleep(0.2)
        created = httpx.post(
            f"{url}/api/admin/reps",
            json={
                "id": "nina",
                "name": "Nina Costa",
                "queues": ["support"],
                "password": "correct horse battery",
            },
            headers={"Authorization": "Bearer demo-admin"},
        )
        assert created.status_code == 201, created.text
        signed_in = httpx.post(
            f"{url}/api/auth/token", data={"username": "nina", "password": "correct horse battery"}
        )
        assert signed_in.status_code == 200
        bearer = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
        statuses = []
        for _ in range(CALLS):
            with httpx.Client() as client:  # a new connection each time
                statuses.append(client.get(f"{url}/api/me", headers=bearer).status_code)
        refused = httpx.post(
            f"{url}/webhooks/whatsapp", content=b"{}", headers={"X-Hub-Signature-256": "sha256=00"}
        )
        assert refused.status_code == 401
    assert statuses == [200] * CALLS
    events = _events(log.read_text())
    started = {e["event"] for e in events if e["event"].startswith("Started server process")}
    assert len(started) == PROCESSES
    assert sum(1 for e in events if e["event"] == "graph_loaded") == PROCESSES
    assert any(e["event"] == "webhook_bad_signature" for e in events)


@pytest.mark.parametrize("fault", [signal.SIGKILL, signal.SIGSTOP], ids=["killed", "hung"])
def test_a_killed_or_hung_api_process_is_replaced_and_sigterm_stops_every_process_cleanly(
    fault: signal.Signals, postgres_url: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "HANDOFF_DATABASE_URL": postgres_url,
        "HANDOFF_RUN_BACKGROUND": "false",
        "HANDOFF_RUN_TURNS": "false",
        "HANDOFF_LOG_JSON": "true",
        "HANDOFF_PROCESS_HANG_S": "3",  # a process whose event loop is silent this long is replaced
    }
    with serving(tmp_path, env, "--workers", str(PROCESSES)) as served:
        url, log, parent = served.url, served.log, served.process.pid
        forked = _children_when(parent, PROCESSES)
        deadline = time.monotonic() + 60  # a bound on starting and restarting, not a speed assertion
        while log.read_text().count("Application startup complete") < PROCESSES:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
        os.kill(min(forked), fault)  # SIGSTOP: alive, its event loop stopped
        while '"api_process_exited"' not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        now = _children_when(parent, PROCESSES, besides=min(forked))
        while log.read_text().count("Application startup complete") < PROCESSES + 1:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
        statuses = []
        for _ in range(CALLS):
            with httpx.Client() as client:  # a new connection each time: the processes share them
                statuses.append(client.get(f"{url}/healthz").status_code)
        served.process.terminate()
        code = served.process.wait(timeout=30)
    assert statuses == [200] * CALLS
    assert min(forked) not in now
    assert len(now) == PROCESSES
    assert code == 0, log.read_text()[-3000:]
    events = _events(log.read_text())
    stopped = [e for e in events if e["event"] == "api_processes_stopped"]
    assert [e["clean"] for e in stopped] == [True]
    hung = [e["pid"] for e in events if e["event"] == "api_process_hung"]
    assert hung == ([min(forked)] if fault == signal.SIGSTOP else [])
    assert not any(alive(pid) for pid in now)


def _children_when(parent: int, count: int, *, besides: int | None = None) -> set[int]:
    """The running processes `parent` forked, once there are `count` of them (not `besides`)."""
    deadline = time.monotonic() + 60
    while True:
        found = children(parent) - {besides or 0}
        if len(found) == count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_sighup_replaces_the_processes_one_at_a_time_with_the_edited_configuration(
    postgres_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    original = default_config_text()
    config.write_text(original)
    env = {
        **os.environ,
        "HANDOFF_DATABASE_URL": postgres_url,
        "HANDOFF_RUN_BACKGROUND": "false",
        "HANDOFF_RUN_TURNS": "false",
        "HANDOFF_LOG_JSON": "true",
        "HANDOFF_CONFIG": str(config),
    }
    failures: list[str] = []
    answered = 0
    done = threading.Event()

    def keep_asking(url: str) -> None:  # new connections all along the reload
        nonlocal answered
        while not done.is_set():
            try:
                with httpx.Client(timeout=10) as client:
                    status = client.get(f"{url}/healthz").status_code
                answered += 1
                if status != 200:
                    failures.append(str(status))
            except httpx.HTTPError as exc:
                failures.append(repr(exc))
            time.sleep(0.01)

    with serving(tmp_path, env, "--workers", str(PROCESSES)) as served:
        url, log, parent = served.url, served.log, served.process.pid
        before = _children_when(parent, PROCESSES)
        asking = threading.Thread(target=keep_asking, args=(url,))
        asking.start()
        try:
            edited = "Thanks! ${rep_name} of ${queue_name} takes it from here."
            config.write_text(original.replace(english_handoff_message(original), edited, 1))
            os.kill(parent, signal.SIGHUP)
            deadline = time.monotonic() + 60  # a bound on the reload, not a speed assertion
            while '"api_reload_finished"' not in log.read_text():
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.1)
            after = _children_when(parent, PROCESSES, besides=min(before))
            seen = {handoff_message(url) for _ in range(CALLS)}
            # A configuration that does not load is refused in the parent: nothing is replaced.
            config.write_text("queues: [not, a, mapping")
            os.kill(parent, signal.SIGHUP)
            while '"api_reload_refused"' not in log.read_text():
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.1)
            kept = _children_when(parent, PROCESSES)
        finally:
            done.set()
            asking.join()
        served.process.terminate()
        code = served.process.wait(timeout=30)
    assert failures == [], failures[:5]
    assert answered > 0
    assert len(after) == PROCESSES
    assert not after & before, "every process was replaced"
    assert seen == {edited}, "every process runs the edited configuration"
    assert kept == after
    assert code == 0, log.read_text()[-3000:]
    events = _events(log.read_text())
    retired = [e["pid"] for e in events if e["event"] == "api_process_retired"]
    assert sorted(retired) == sorted(before)
    assert not any(e["event"] == "api_process_exited" for e in events)
    refused = [e for e in events if e["event"] == "api_reload_refused"]
    assert "not valid YAML" in refused[0]["error"]


def _logged(log: Path, event: str, times: int) -> None:
    """Wait until `event` is in the JSON log `times` times (a bound on a reload, not a speed check)."""
    deadline = time.monotonic() + 60
    while log.read_text().count(f'"{event}"') < times:
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.1)


def test_sighup_reads_the_env_file_again_and_keeps_the_database_the_fleet_started_on(
    postgres_url: str, tmp_path: Path
) -> None:
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    original = default_config_text()
    first.write_text(original)
    edited = "Thanks! ${rep_name} of ${queue_name} answers next."
    second.write_text(original.replace(english_handoff_message(original), edited, 1))
    dotenv = tmp_path / ".env"

    def write_env(**extra: str) -> None:
        values = {"HANDOFF_DATABASE_URL": postgres_url, "HANDOFF_CONFIG": str(first), **extra}
        dotenv.write_text("".join(f"{key}={value}\n" for key, value in values.items()))

    write_env()
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("HANDOFF_DATABASE_URL", "HANDOFF_CONFIG")},
        "HANDOFF_RUN_BACKGROUND": "false",
        "HANDOFF_RUN_TURNS": "false",
        "HANDOFF_LOG_JSON": "true",
    }
    with serving(tmp_path, env, "--workers", str(PROCESSES), cwd=tmp_path) as served:
        url, log, parent = served.url, served.log, served.process.pid
        before = _children_when(parent, PROCESSES)
        assert handoff_message(url) == english_handoff_message(original)
        # The file `.env` names changes: the processes forked by the reload read the new one.
        write_env(HANDOFF_CONFIG=str(second))
        os.kill(parent, signal.SIGHUP)
        _logged(log, "api_reload_finished", 1)
        after = _children_when(parent, PROCESSES, besides=min(before))
        seen = {handoff_message(url) for _ in range(CALLS)}
        # A setting `.env` gives wrong, and another database, are refused; nothing is replaced.
        write_env(HANDOFF_CONFIG=str(second), HANDOFF_TURN_LEASE_S="soon")
        os.kill(parent, signal.SIGHUP)
        _logged(log, "api_reload_refused", 1)
        write_env(HANDOFF_CONFIG=str(second), HANDOFF_DATABASE_URL=f"{postgres_url}_elsewhere")
        os.kill(parent, signal.SIGHUP)
        _logged(log, "api_reload_refused", 2)
        kept = _children_when(parent, PROCESSES)
        # A process that dies now is replaced with the settings the last reload checked.
        os.kill(min(kept), signal.SIGKILL)
        replaced = _children_when(parent, PROCESSES, besides=min(kept))
        seen_after_replacement = {handoff_message(url) for _ in range(CALLS)}
        served.process.terminate()
        code = served.process.wait(timeout=30)
    assert not after & before, "every process was replaced"
    assert seen == {edited}, "every new process runs the file the edited .env names"
    assert kept == after
    assert len(replaced) == PROCESSES
    assert seen_after_replacement == {edited}
    assert code == 0, log.read_text()[-3000:]
    refused = [e["error"] for e in _events(log.read_text()) if e["event"] == "api_reload_refused"]
    assert "HANDOFF_TURN_LEASE_S" in refused[0]
    assert "HANDOFF_DATABASE_URL has changed" in refused[1]
