"""The configuration file and settings fail fast, naming the key and the problem."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from orchestrator.core.config import ConfigError, default_config_text, load_config, parse_config
from orchestrator.core.settings import Settings, use_settings
from orchestrator.runtime import cli


def _default() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load(default_config_text())  # type: ignore[no-any-return]


def test_shipped_default_matches_the_design_queues() -> None:
    config = load_config(None)
    assert [q.slug for q in config.queues] == [
        "sales",
        "uk_sales",
        "support",
        "billing",
        "senior_engineering",
        "general",
    ]
    assert config.routing.fallback == "general"
    assert [b.title for b in config.menu.buttons] == ["Sales", "Support", "Billing"]
    assert config.qualification.flows["ad_lead"].required == ["company_name", "use_case"]


def test_timer_durations_can_be_seconds_so_an_sla_can_be_tried_quickly() -> None:
    data = _default()
    data["timers"].update({"sla": "45s", "sla_warning": "PT15S", "offline": 90, "heartbeat_ttl": "1m"})
    data["queues"][2]["sla"] = "2h"
    config = parse_config(data)
    assert config.timers.sla == timedelta(seconds=45)
    assert config.timers.sla_warning == timedelta(seconds=15)
    assert config.timers.offline == timedelta(seconds=90)
    assert config.timers.heartbeat_ttl == timedelta(minutes=1)
    assert config.queues[2].sla == timedelta(hours=2)


def test_older_minute_keys_are_still_read() -> None:
    data = _default()
    for new in ("sla", "sla_warning", "offline", "heartbeat_ttl"):
        del data["timers"][new]
    data["timers"].update({"sla_minutes": 20, "sla_warning_minutes": 2, "offline_minutes": 3})
    data["timers"]["heartbeat_ttl_seconds"] = 30
    timers = parse_config(data).timers
    assert (timers.sla, timers.sla_warning, timers.offline, timers.heartbeat_ttl) == (
        timedelta(minutes=20),
        timedelta(minutes=2),
        timedelta(minutes=3),
        timedelta(seconds=30),
    )


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("sla", "0s", "must be longer than zero"),
        ("sla", "soon", "timers.sla"),
        ("sla_minutes", 5, "sla_minutes is the older spelling of sla"),
    ],
)
def test_bad_durations_name_the_key(key: str, value: object, problem: str) -> None:
    data = _default()
    data["timers"][key] = value
    with pytest.raises(ConfigError, match=problem):
        parse_config(data)


def test_bad_opening_hours_name_the_key() -> None:
    data = _default()
    data["queues"][1]["hours"]["weekly"]["mon"] = "9-5"
    with pytest.raises(
        ConfigError, match=r"queues\[uk_sales\]\.hours\.weekly: mon: '9-5' is not HH:MM-HH:MM"
    ):
        parse_config(data)


def test_unknown_queue_in_a_routing_rule_is_refused() -> None:
    data = _default()
    data["routing"]["rules"][0]["queue"] = "marketing"
    with pytest.raises(
        ConfigError, match=r"routing\.rules\[ad_lead_is_sales_bound\]\.queue: unknown queue 'marketing'"
    ):
        parse_config(data)


def test_unknown_signal_kind_in_a_routing_rule_is_refused() -> None:
    data = _default()
    data["routing"]["rules"][0]["when"] = {"signal": ["orders"]}
    with pytest.raises(ConfigError, match=r"routing\.rules\[ad_lead_is_sales_bound\]\.when\.signal\[#1\]: "):
        parse_config(data)


def test_missing_customer_message_is_refused() -> None:
    data = _default()
    del data["messages"]["handoff_after_hours"]
    with pytest.raises(ConfigError, match=r"messages\.handoff_after_hours: missing"):
        parse_config(data)


def test_button_title_over_twenty_characters_is_refused() -> None:
    data = _default()
    data["menu"]["buttons"][0]["title"] = "Enterprise Sales Team Now"
    with pytest.raises(ConfigError, match=r"menu\.buttons\[menu_sales\]\.title"):
        parse_config(data)


def test_invalid_yaml_is_reported_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("queues: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


def test_unknown_timezone_is_refused() -> None:
    data = _default()
    data["queues"][0]["hours"]["timezone"] = "Mars/Olympus"
    with pytest.raises(ConfigError, match="unknown timezone 'Mars/Olympus'"):
        parse_config(data)


def test_opening_hours_and_next_opening_follow_the_queue_timezone() -> None:
    hours = load_config(None).queue("billing").hours
    friday_evening = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
    assert not hours.is_open(friday_evening)
    opens = hours.next_opening(friday_evening)
    assert opens is not None
    assert opens.astimezone(UTC) == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # Monday, London = UTC in winter
    assert not hours.is_open(datetime(2026, 12, 25, 11, 0, tzinfo=UTC))  # closed date


def test_settings_refuse_an_unknown_database_url() -> None:
    with pytest.raises(ValueError, match="HANDOFF_DATABASE_URL must be"):
        Settings(database_url="mysql://localhost/x")


def test_acknowledge_only_api_processes_need_postgresql() -> None:
    with pytest.raises(ValueError, match="HANDOFF_RUN_TURNS=false needs PostgreSQL"):
        Settings(database_url="sqlite:///var/x.db", run_turns=False)
    assert not Settings(database_url="postgresql+psycopg://h/db", run_turns=False).run_turns


def test_serve_stops_before_binding_when_the_config_is_bad(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _default()
    data["routing"]["fallback"] = "nowhere"
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    monkeypatch.setenv("HANDOFF_CONFIG", str(path))
    use_settings(None)
    try:
        assert cli.main(["serve", "--port", "0"]) == 2
    finally:
        use_settings(None)
    assert "routing.fallback: unknown queue 'nowhere'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ({"name": "Bad Name", "bodies": {"en": "hi"}}, "templates[Bad Name].name"),
        ({"name": "t", "bodies": {"english": "hi"}}, "'english' is not a language code"),
        ({"name": "t", "bodies": {"en": "Hi {{1}} {{name}}"}}, "all positional or all named"),
        ({"name": "t", "bodies": {"en": "Hi {{1}} {{3}}"}}, "without gaps"),
        ({"name": "t", "bodies": {"en": "Hi {{1}}", "es": "Hola {{1}} {{2}}"}}, "same parameters"),
        ({"name": "t", "category": "promo", "bodies": {"en": "hi"}}, "templates[t].category"),
        ({"name": "t", "bodies": {}}, "templates[t].bodies"),
    ],
)
def test_a_bad_template_in_the_catalogue_is_refused_naming_it(
    template: dict[str, object], problem: str
) -> None:
    data = _default()
    data["templates"] = [template]
    with pytest.raises(ConfigError, match=re.escape(problem)):
        parse_config(data)


def test_template_names_in_the_catalogue_are_unique() -> None:
    data = _default()
    data["templates"] = [{"name": "t", "bodies": {"en": "a"}}, {"name": "t", "bodies": {"es": "b"}}]
    with pytest.raises(ConfigError, match="templates: names must be unique"):
        parse_config(data)


def test_a_catalogue_template_knows_its_parameters_and_fills_a_preview() -> None:
    data = _default()
    data["templates"] = [{"name": "t", "bodies": {"en": "{{2}} then {{1}}, again {{2}}"}}]
    template = parse_config(data).templates[0]
    assert template.parameters == ["1", "2"]
    assert template.positional
    assert template.preview("en", {"1": "a"}) == "{{2}} then a, again {{2}}"


def test_a_rep_and_a_duration_are_named_as_the_file_names_them() -> None:
    """Items of a list by their id (`reps[harry]`), not by a position counted from zero; a bad
    length of time says which forms are read."""
    data = _default()
    harry = next(rep for rep in data["reps"] if rep["id"] == "harry")
    harry["queues"] = ["uk_sales", "marketing"]
    with pytest.raises(ConfigError, match=r"^<config>: reps\[harry\]\.queues: unknown queue 'marketing'"):
        parse_config(data)
    data = _default()
    data["timers"]["sla"] = "15 minutes"
    with pytest.raises(
        ConfigError, match=re.escape("timers.sla: '15 minutes' is not a length of time: 30s, 15m")
    ):
        parse_config(data)
