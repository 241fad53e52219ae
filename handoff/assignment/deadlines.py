"""SLA calendar arithmetic, pure: an SLA counts minutes of opening hours only, so the clock pauses
while the queue is closed (overnight, at weekends)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from orchestrator.core.config import AppConfig, Hours


def open_deadline(hours: Hours, start: datetime, minutes: float) -> datetime | None:
    """The moment `minutes` of opening hours have passed since `start`. None when the queue never
    opens again."""
    remaining = timedelta(minutes=minutes)
    if hours.always_open:
        return start + remaining
    t = start.astimezone(UTC)
    for _ in range(2000):
        if not hours.is_open(t):
            opening = hours.next_opening(t)
            if opening is None:
                return None
            t = opening.astimezone(UTC)
        end = hours.open_until(t)
        if end is None:  # defensive: treat as open for good
            return t + remaining
        end = end.astimezone(UTC)
        if t + remaining <= end:
            return t + remaining
        remaining -= end - t
        t = end
    return None


def sla_minutes(config: AppConfig, queue: str) -> int:
    return config.queue(queue).sla_minutes or config.timers.sla_minutes


def sla_deadlines(config: AppConfig, *, queue: str, at: datetime) -> tuple[datetime | None, datetime | None]:
    """(warning, revocation) moments of an assignment made at `at` in `queue`."""
    hours = config.queue(queue).hours
    minutes = sla_minutes(config, queue)
    due = open_deadline(hours, at, minutes)
    warning = config.timers.sla_warning_minutes
    warn_at = (
        open_deadline(hours, at, minutes - warning) if due is not None and 0 < warning < minutes else None
    )
    return warn_at, due
