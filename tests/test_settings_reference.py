"""Every setting is documented where an operator looks (docs/settings.md, .env.example), from the
code itself, and `handoff settings` shows what a process would run with without showing a secret."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.core.settings import Settings, use_settings
from orchestrator.runtime import cli
from orchestrator.runtime.settings_reference import env_example, reference_markdown

ROOT = Path(__file__).resolve().parents[1]
REGENERATE = (
    "regenerate: handoff settings --reference > docs/settings.md; "
    "handoff settings --env-example > .env.example"
)


@pytest.fixture
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    use_settings(None)
    yield monkeypatch
    use_settings(None)


def test_every_setting_says_what_it_does() -> None:
    undocumented = [
        name for name, field in Settings.model_fields.items() if not (field.description or "").strip()
    ]
    assert undocumented == []


def test_the_settings_page_and_the_env_example_are_those_of_the_code() -> None:
    assert (ROOT / "docs" / "settings.md").read_text() == reference_markdown(), REGENERATE
    assert (ROOT / ".env.example").read_text() == env_example(), REGENERATE
    page = reference_markdown()
    for name in Settings.model_fields:
        assert f"`HANDOFF_{name.upper()}`" in page
    assert "`OPENAI_API_KEY`" in page


def test_the_env_example_with_every_value_uncommented_gives_the_defaults(tmp_path: Path) -> None:
    lines = (ROOT / ".env.example").read_text().splitlines()
    uncommented = [
        line.removeprefix("# ") for line in lines if line.startswith("# HANDOFF_") and not line.endswith("=")
    ]
    assert len(uncommented) >= 25, "most settings have a literal default"
    env_file = tmp_path / ".env"
    env_file.write_text("\n".join(uncommented) + "\n")
    from_file = Settings(_env_file=env_file)
    defaults = Settings(_env_file=None)
    named = {line.split("=", 1)[0].removeprefix("HANDOFF_").lower() for line in uncommented}
    assert named <= set(from_file.model_fields_set)
    for name in named:
        assert getattr(from_file, name) == getattr(defaults, name), name


def test_settings_command_shows_what_is_set_and_never_a_secret(
    fresh_settings: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh_settings.setenv("HANDOFF_WHATSAPP_APP_SECRET", "s3cret-app-value")
    fresh_settings.setenv("OPENAI_API_KEY", "sk-not-to-be-printed")
    fresh_settings.setenv("HANDOFF_LLM_MODEL", "gpt-4.1")
    fresh_settings.setenv("HANDOFF_BURST_WINDOW_S", "0.8")
    fresh_settings.setenv("HANDOFF_BURST_WINDW_S", "1")
    fresh_settings.setenv("HANDOFF_DATABASE_URL", "postgresql+psycopg://handoff:db-pass-123@db:5432/handoff")
    fresh_settings.setenv("HANDOFF_NOTIFY_WEBHOOK_URL", "https://hooks.example.com/in?token=hook-token-456")
    fresh_settings.setenv("HANDOFF_NOTIFY_WEBHOOK_SECRET", "a-signing-secret")
    assert cli.main(["settings"]) == 0
    out, err = capsys.readouterr()
    lines = dict(line.split("=", 1) for line in out.splitlines())
    assert set(lines) == {f"HANDOFF_{name.upper()}" for name in Settings.model_fields}
    assert "s3cret-app-value" not in out
    assert "sk-not-to-be-printed" not in out
    for secret in ("db-pass-123", "hook-token-456", "a-signing-secret"):
        assert secret not in out
    assert lines["HANDOFF_DATABASE_URL"] == "postgresql+psycopg://handoff:********@db:5432/handoff  # set"
    assert lines["HANDOFF_WHATSAPP_APP_SECRET"] == "********  # set"
    assert lines["HANDOFF_OPENAI_API_KEY"] == "********  # set"
    assert lines["HANDOFF_WHATSAPP_ACCESS_TOKEN"] == "********  # the public development value"
    assert lines["HANDOFF_LLM_MODEL"] == "gpt-4.1  # set"
    assert lines["HANDOFF_BURST_WINDOW_S"] == "0.8  # set"
    assert lines["HANDOFF_BURST_QUIET_S"] == "0.4"
    assert "HANDOFF_BURST_WINDW_S is not a setting (did you mean HANDOFF_BURST_WINDOW_S?)" in err


def test_an_empty_optional_setting_is_unset_as_the_command_shows_it(
    fresh_settings: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`OPENAI_API_KEY=` (what `${OPENAI_API_KEY:-}` gives a container) runs the offline engine."""
    fresh_settings.setenv("OPENAI_API_KEY", "")
    assert cli.main(["settings"]) == 0
    lines = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
    assert lines["HANDOFF_OPENAI_API_KEY"] == ""
    assert not Settings().llm_enabled
    fresh_settings.setenv("HANDOFF_CONFIG", "")  # an uncommented line of .env.example
    fresh_settings.setenv("HANDOFF_RETENTION_MEDIA_DAYS", " ")
    assert Settings().config is None
    assert Settings().retention_media_days is None


def test_settings_command_names_a_value_that_does_not_validate(
    fresh_settings: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh_settings.setenv("HANDOFF_TURN_CONCURRENCY", "0")
    assert cli.main(["settings"]) == 2
    assert capsys.readouterr().err.strip() == (
        "configuration error: HANDOFF_TURN_CONCURRENCY: Input should be greater than or equal to 1"
    )
