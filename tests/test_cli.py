"""The console script as a newcomer and an operator meet it: one-line start-up errors, a deployment
refused while it still uses the public development secrets or the demo accounts, and `simulate`
sending a signed customer message through a running service's real webhook."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from orchestrator.core.config import load_config
from orchestrator.core.settings import Settings, get_settings, use_settings
from orchestrator.core.tables import Contact, Message
from orchestrator.runtime import cli
from orchestrator.runtime.app import create_app
from tests.fakes.graph import TestHarness
from tests.fakes.servers import serve_in_loop
from tests.processes.serving import run_handoff


@pytest.fixture
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    use_settings(None)
    yield monkeypatch
    use_settings(None)


def test_serve_refuses_the_public_development_secrets_and_the_demo_accounts(
    fresh_settings: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh_settings.delenv("HANDOFF_DEV_MODE", raising=False)
    assert cli.main(["serve", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "refusing to start: HANDOFF_WHATSAPP_APP_SECRET is the public development value" in err
    assert "HANDOFF_WHATSAPP_VERIFY_TOKEN" in err
    assert "HANDOFF_WHATSAPP_PHONE_NUMBER_ID is not set" in err
    assert "API tokens to admin, alice" in err


def test_a_deployment_with_its_own_secrets_and_no_demo_tokens_may_start() -> None:
    settings = Settings(
        dev_mode=False,
        whatsapp_app_secret="a-real-app-secret",
        whatsapp_verify_token="a-real-verify-token",
        whatsapp_access_token="a-real-access-token",
        whatsapp_phone_number_id="106540352242922",
    )
    config = load_config(None).model_copy(update={"reps": []})
    assert cli.startup_problems(settings, config) == []
    unset = settings.model_copy(update={"whatsapp_phone_number_id": "000000000000000"})
    assert [p.split(":")[0] for p in cli.startup_problems(unset, config)] == [
        "HANDOFF_WHATSAPP_PHONE_NUMBER_ID is not set"
    ]
    assert cli.startup_problems(Settings(dev_mode=False), load_config(None)) != []
    assert cli.startup_problems(Settings(dev_mode=True), load_config(None)) == []


def test_an_unsupported_database_url_is_one_clear_line(
    fresh_settings: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh_settings.setenv("HANDOFF_DATABASE_URL", "mysql://db/handoff")
    assert cli.main(["serve", "--port", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "configuration error: HANDOFF_DATABASE_URL: HANDOFF_DATABASE_URL must be a sqlite:/// or "
        "postgresql+psycopg:// URL"
    ]


@pytest.mark.postgres
@pytest.mark.parametrize("command", ["serve", "worker"])
def test_a_database_that_cannot_be_used_is_one_clear_line_before_anything_starts(
    fresh_settings: pytest.MonkeyPatch, postgres_url: str, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    missing = postgres_url.rsplit("/", 1)[0] + "/no_such_database"
    fresh_settings.setenv("HANDOFF_DATABASE_URL", missing)
    assert cli.main([command] + (["--port", "0"] if command == "serve" else [])) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"cannot start: the database at {missing} cannot be used: ")
    assert 'database "no_such_database" does not exist' in err[0]


def test_a_malformed_database_url_is_one_clear_line(
    fresh_settings: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh_settings.setenv("HANDOFF_DATABASE_URL", "postgresql+psycopg://::::")
    assert cli.main(["worker"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "cannot start: HANDOFF_DATABASE_URL is not a valid database URL"
    ]


def test_serve_with_several_processes_on_sqlite_is_refused_in_one_line(
    fresh_settings: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Live notifications cross processes by NOTIFY, which SQLite has not: one process only.
    fresh_settings.setenv("HANDOFF_DATABASE_URL", f"sqlite:///{tmp_path / 'handoff.db'}")
    assert cli.main(["serve", "--workers", "2", "--port", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "refusing to start: --workers needs PostgreSQL (HANDOFF_DATABASE_URL=postgresql+psycopg://...); "
        "SQLite, the embedded default, serves one process"
    ]
    assert not (tmp_path / "handoff.db").exists()


def test_an_empty_app_secret_is_refused_in_one_line_instead_of_refusing_every_webhook(
    fresh_settings: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh_settings.setenv("HANDOFF_WHATSAPP_APP_SECRET", "")
    fresh_settings.setenv("HANDOFF_WHATSAPP_VERIFY_TOKEN", "  ")
    assert cli.main(["serve", "--port", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "configuration error: HANDOFF_WHATSAPP_APP_SECRET: must not be empty",
        "configuration error: HANDOFF_WHATSAPP_VERIFY_TOKEN: must not be empty",
    ]


def test_a_missing_config_file_is_one_clear_line(
    fresh_settings: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh_settings.setenv("HANDOFF_CONFIG", str(tmp_path / "nowhere.yaml"))
    assert cli.main(["serve", "--port", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "nowhere.yaml, which is not a file" in err[0]


async def test_simulate_sends_a_signed_message_through_the_real_webhook(
    h: TestHarness, fresh_settings: pytest.MonkeyPatch
) -> None:
    secret = h.service.settings.whatsapp_app_secret.get_secret_value()
    fresh_settings.setenv("HANDOFF_WHATSAPP_APP_SECRET", secret)
    async with serve_in_loop(create_app(service=h.service)) as url:
        code = await asyncio.to_thread(
            cli.main, ["simulate", "I want to talk to a person", "--from", "+44 7700 900555", "--url", url]
        )
        await h.service.turns.drain()
    assert code == 0
    async with h.service.sessions() as session:
        contacts = (await session.execute(select(Contact))).scalars().all()
        messages = (await session.execute(select(Message))).scalars().all()
    assert [(c.wa_id, c.country) for c in contacts] == [("447700900555", "GB")]
    assert "I want to talk to a person" in [m.text for m in messages]


async def test_simulate_with_a_wrong_secret_is_refused_by_the_webhook(
    h: TestHarness, fresh_settings: pytest.MonkeyPatch
) -> None:
    fresh_settings.setenv("HANDOFF_WHATSAPP_APP_SECRET", "not-the-service-secret")
    async with serve_in_loop(create_app(service=h.service)) as url:
        code = await asyncio.to_thread(cli.main, ["simulate", "hello", "--url", url])
    assert code == 1


def test_a_misspelt_setting_is_named_with_the_one_it_most_likely_meant() -> None:
    environ = {
        "HANDOFF_RUN_TRUNS": "false",
        "HANDOFF_RUN_TURNS": "true",
        "HANDOFF_FOO": "1",
        "HANDOFF_TEST_POSTGRES_URL": "postgresql+psycopg://...",  # the test suite's own
        "PATH": "/bin",
    }
    assert cli.unknown_variables(environ) == [
        "HANDOFF_FOO is not a setting",
        "HANDOFF_RUN_TRUNS is not a setting (did you mean HANDOFF_RUN_TURNS?)",
    ]


def test_forked_workers_on_sqlite_are_refused_in_one_line(
    fresh_settings: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh_settings.setenv("HANDOFF_DATABASE_URL", f"sqlite:///{tmp_path / 'handoff.db'}")
    assert cli.main(["worker", "--processes", "2"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "refusing to start: --processes needs PostgreSQL (HANDOFF_DATABASE_URL=postgresql+psycopg://...); "
        "SQLite, the embedded default, runs one worker"
    ]
    assert not (tmp_path / "handoff.db").exists()


def test_worker_needs_at_least_one_process(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["worker", "--processes", "0"])
    assert exited.value.code == 2
    assert "--processes: needs 1 or more, not 0" in capsys.readouterr().err


def test_serve_needs_at_least_one_process(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["serve", "--workers", "0"])
    assert exited.value.code == 2
    assert "--workers: needs 1 or more, not 0" in capsys.readouterr().err


def test_a_reload_is_checked_against_the_settings_and_the_file_as_they_are_now(
    fresh_settings: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """SIGHUP to a process started on its own: what its new start would read is checked first."""
    assert cli._restart_problem() is None
    fresh_settings.setenv("HANDOFF_TURN_LEASE_S", "soon")
    assert "configuration error: HANDOFF_TURN_LEASE_S:" in (cli._restart_problem() or "")
    fresh_settings.delenv("HANDOFF_TURN_LEASE_S")
    fresh_settings.setenv("HANDOFF_CONFIG", str(tmp_path / "missing.yaml"))
    assert "missing.yaml" in (cli._restart_problem() or "")


def test_a_fleet_reload_hands_the_settings_it_checked_to_the_processes_it_forks_next(
    fresh_settings: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """SIGHUP to the parent of a fleet: the settings that pass become `get_settings()`'s, those that
    do not (or that move the fleet to another database) leave it as it was."""
    started = get_settings()
    fresh_settings.setenv("HANDOFF_TURN_LEASE_S", "45")
    assert cli._fleet_reload_problem(started) is None
    assert get_settings().turn_lease_s == 45
    fresh_settings.setenv("HANDOFF_TURN_LEASE_S", "soon")
    assert "HANDOFF_TURN_LEASE_S" in (cli._fleet_reload_problem(started) or "")
    fresh_settings.setenv("HANDOFF_TURN_LEASE_S", "50")
    fresh_settings.setenv("HANDOFF_DATABASE_URL", f"sqlite:///{tmp_path / 'other.db'}")
    assert "HANDOFF_DATABASE_URL has changed" in (cli._fleet_reload_problem(started) or "")
    fresh_settings.setenv("HANDOFF_DATABASE_URL", started.database_url)
    fresh_settings.setenv("HANDOFF_CONFIG", str(tmp_path / "missing.yaml"))
    assert "missing.yaml" in (cli._fleet_reload_problem(started) or "")
    assert get_settings().turn_lease_s == 45


def test_replay_names_a_missing_file_and_the_first_line_that_is_not_a_conversation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["replay", str(tmp_path / "missing.jsonl")]) == 2
    assert (
        capsys.readouterr().err.strip()
        == f"cannot read {tmp_path / 'missing.jsonl'}: No such file or directory"
    )
    cases = tmp_path / "cases.jsonl"
    cases.write_text('{"id": "a", "turns": [{"text": "hi"}]}\n\n{"id": "b", "turns": [}\n')
    assert cli.main(["replay", str(cases)]) == 2
    assert capsys.readouterr().err.startswith(f"{cases}: line 3 is not JSON: ")
    cases.write_text('["not", "a", "conversation"]\n')
    assert cli.main(["replay", str(cases)]) == 2
    assert "line 1 is not a conversation" in capsys.readouterr().err


def test_a_sqlite_url_that_names_no_file_or_a_missing_directory_is_refused_in_one_line(
    tmp_path: Path,
) -> None:
    """As real processes: a start that gets as far as the database sets the logging up for good."""
    env = {k: v for k, v in os.environ.items() if k != "HANDOFF_DATABASE_URL"}
    nothing = run_handoff({**env, "HANDOFF_DATABASE_URL": "sqlite://"}, "serve", "--port", "0")
    assert nothing.returncode == 2
    assert "HANDOFF_DATABASE_URL: names no SQLite file" in nothing.stderr
    missing = tmp_path / "mistyped" / "handoff.db"
    mistyped = run_handoff({**env, "HANDOFF_DATABASE_URL": f"sqlite:///{missing}"}, "serve", "--port", "0")
    assert mistyped.returncode == 2
    assert mistyped.stderr.strip().splitlines()[-1] == (
        f"cannot start: the directory of the SQLite file {missing} does not exist: "
        "create it or correct the path"
    )
    assert not missing.parent.exists()
