"""What the customer reads at a handoff: team names and opening times that read naturally in their
language."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from handoff.flows import opens_phrase

LONDON = ZoneInfo("Europe/London")
TUESDAY_EARLY = datetime(2026, 11, 24, 6, 30, tzinfo=UTC)  # 06:30 in London, the team opens at 09:00


def test_a_team_back_later_the_same_day_is_back_today() -> None:
    opens = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert (
        opens_phrase(opens, now=TUESDAY_EARLY, zone=LONDON, language="en")
        == "today, 9:00\u202fAM (Europe/London)"
    )


def test_a_team_back_the_next_morning_is_back_tomorrow_in_the_customers_language() -> None:
    evening = datetime(2026, 11, 24, 19, 0, tzinfo=UTC)
    opens = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    assert opens_phrase(opens, now=evening, zone=LONDON, language="es") == "mañana, 9:00 (Europe/London)"
    assert opens_phrase(opens, now=evening, zone=LONDON, language="de") == "morgen, 09:00 (Europe/London)"


def test_a_team_back_after_the_weekend_is_named_by_its_weekday() -> None:
    friday_evening = datetime(2026, 11, 27, 19, 0, tzinfo=UTC)
    monday = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    assert (
        opens_phrase(monday, now=friday_evening, zone=LONDON, language="fr") == "lundi, 09:00 (Europe/London)"
    )
    assert opens_phrase(monday, now=friday_evening, zone=LONDON, language="pt").startswith("segunda-feira")


def test_the_day_is_counted_in_the_teams_timezone_not_utc() -> None:
    # 23:30 UTC on Tuesday is already Wednesday in Tokyo: 09:00 Wednesday there is "today".
    tokyo = ZoneInfo("Asia/Tokyo")
    now = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)
    opens = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
    assert opens_phrase(opens, now=now, zone=tokyo, language="en").startswith("today, 9:00")


def test_romanised_hindi_messages_get_dates_in_latin_script() -> None:
    evening = datetime(2026, 11, 24, 19, 0, tzinfo=UTC)
    opens = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    assert opens_phrase(opens, now=evening, zone=LONDON, language="hi").startswith("tomorrow")
