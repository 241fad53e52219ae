"""SLA calendar arithmetic, pure: an SLA counts time within opening hours only, so the clock pauses
while the queue is closed (overnight, at weekends)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from orchestrator.core.config import AppConfig, Hours


def open_deadline(hours: Hours, start: datetime, length: timedelta) -> datetime | None:
    """The moment `length` of opening hours has passed since `start`. None when the queue never
    opens again."""
    remaining = length
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


def sla_of(config: AppConfig, queue: str) -> timedelta:
    return config.queue(queue).sla or config.timers.sla


def sla_deadlines(config: AppConfig, *, queue: str, at: datetime) -> tuple[datetime | None, datetime | None]:
    """(warning, revocation) moments of an assignment made at `at` in `queue`."""
    hours = config.queue(queue).hours
    sla = sla_of(config, queue)
    due = open_deadline(hours, at, sla)
    warning = config.timers.sla_warning
    warn_at = (
        open_deadline(hours, at, sla - warning) if due is not None and timedelta(0) < warning < sla else None
    )
    return warn_at, due
