"""The assignment policy without a database: round robin with its tie-break, skip reasons, backlog
pacing, the escalation ladder, and SLA deadlines that count opening hours only."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from handoff.assignment.deadlines import open_deadline, sla_deadlines
from handoff.assignment.policy import (
    EXCLUDED,
    Burst,
    Member,
    Rung,
    Step,
    burst_of,
    escalation_ladder,
    rank,
    skip_reason,
    waits_for_next_rep,
    window_start,
)
from orchestrator.core.config import AssignmentConfig, Hours
from orchestrator.core.enums import Presence, Role
from tests.handoff.conftest import configured

AT = datetime(2026, 11, 24, 10, 0, 30, tzinfo=UTC)  # a Tuesday, 30 s into a minute
PACING = AssignmentConfig(backlog_burst=2, backlog_window_seconds=60)


def member(rep_id: str, **changes: Any) -> Member:
    base = Member(
        rep_id=rep_id,
        role=Role.REP,
        presence=Presence.ONLINE,
        auto_assign=True,
        open_count=0,
        capacity=3,
        last_assigned_at=None,
        last_turn=None,
        assigned_total=0,
        burst_started_at=None,
        burst_count=0,
    )
    return replace(base, **changes)


def order(members: list[Member], **kwargs: Any) -> list[str]:
    return [m.rep_id for m in rank(members, pacing=PACING, at=AT, **kwargs).ranked]


# -- round robin --------------------------------------------------------------------------------
def test_round_robin_puts_never_assigned_reps_first_then_the_oldest_turn() -> None:
    members = [
        member("ana", last_turn=7, assigned_total=1),
        member("bo", last_turn=3, assigned_total=1),
        member("cy"),
    ]
    assert order(members) == ["cy", "bo", "ana"]


def test_round_robin_breaks_ties_by_fewer_assignments_then_rep_id() -> None:
    members = [
        member("zed", assigned_total=2),
        member("amy", assigned_total=2),
        member("kim", assigned_total=1),
    ]
    assert order(members) == ["kim", "amy", "zed"]


def test_ranking_is_the_same_whatever_order_members_are_read_in() -> None:
    members = [member(r, last_turn=t) for r, t in (("a", 4), ("b", None), ("c", 2), ("d", 9))]
    assert order(members) == order(list(reversed(members))) == ["b", "c", "a", "d"]


# -- skip reasons -------------------------------------------------------------------------------
def test_every_skipped_member_is_explained_and_eligible_ones_are_not() -> None:
    members = [
        member("gone", presence=Presence.AWAY),
        member("full", open_count=3, capacity=3),
        member("manual", auto_assign=False),
        member("lapsed"),
        member("free"),
    ]
    ranking = rank(members, pacing=PACING, at=AT, exclude={"lapsed"})
    explained = {c.rep_id: (c.eligible, c.skipped) for c in ranking.explanation()}
    assert explained == {
        "gone": (False, "presence away"),
        "full": (False, "at capacity (3/3)"),
        "manual": (False, "opted out of auto-assignment"),
        "lapsed": (False, EXCLUDED),
        "free": (True, None),
    }
    assert [m.rep_id for m in ranking.ranked] == ["free"]


def test_exclusion_is_checked_before_anything_else() -> None:
    gone_and_lapsed = member("x", presence=Presence.OFFLINE)
    assert skip_reason(gone_and_lapsed, pacing=PACING, at=AT, exclude={"x"}) == EXCLUDED


def test_escalation_takes_only_team_leads_even_those_opted_out_of_round_robin() -> None:
    members = [member("rep"), member("lead", role=Role.LEAD, auto_assign=False)]
    ranking = rank(members, pacing=PACING, at=AT, leads_only=True)
    assert [m.rep_id for m in ranking.ranked] == ["lead"]
    assert ranking.candidates["rep"].skipped == "not a team lead"


# -- backlog pacing -----------------------------------------------------------------------------
def test_pacing_windows_are_aligned_to_fixed_boundaries() -> None:
    assert window_start(PACING, AT) == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert window_start(PACING, AT + timedelta(seconds=29)) == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert window_start(PACING, AT + timedelta(seconds=30)) == datetime(2026, 11, 24, 10, 1, tzinfo=UTC)


def test_rep_who_took_a_full_burst_in_this_window_is_paced_only_while_a_backlog_drains() -> None:
    busy = member("busy", burst_started_at=window_start(PACING, AT), burst_count=2)
    assert skip_reason(busy, pacing=PACING, at=AT, backlog=True) == (
        "paced: took 2 waiting conversations in this 60s window"
    )
    assert skip_reason(busy, pacing=PACING, at=AT, backlog=False) is None


def test_a_new_window_gives_a_paced_rep_a_fresh_allowance() -> None:
    earlier = window_start(PACING, AT) - timedelta(seconds=60)
    rep = member("rep", burst_started_at=earlier, burst_count=5)
    assert skip_reason(rep, pacing=PACING, at=AT, backlog=True) is None
    assert burst_of(rep, pacing=PACING, at=AT, backlog=True) == Burst.NEW


def test_burst_counts_on_within_the_window_and_not_outside_a_backlog() -> None:
    rep = member("rep", burst_started_at=window_start(PACING, AT), burst_count=1)
    assert burst_of(rep, pacing=PACING, at=AT, backlog=True) == Burst.MORE
    assert burst_of(rep, pacing=PACING, at=AT, backlog=False) == Burst.NONE


# -- the escalation ladder ----------------------------------------------------------------------
def ladder(**changes: Any) -> list[Step]:
    args: dict[str, Any] = {
        "queue": "support",
        "fallback": "general",
        "level": 0,
        "revocations": 1,
        "max_revocations": 2,
        "steps": ["lead", "catch_all"],
    }
    args.update(changes)
    return escalation_ladder(**args)


def test_first_revocation_tries_the_next_rep_then_the_lead_then_the_catch_all() -> None:
    assert ladder() == [
        Step(Rung.NEXT_REP, "support", 0, "sla_revoked", keep_exclusions=True),
        Step(Rung.LEAD, "support", 1, "escalated", keep_exclusions=False),
        Step(Rung.CATCH_ALL, "general", 2, "escalated", keep_exclusions=False),
        Step(Rung.WAIT, "support", 2, "sla_revoked", keep_exclusions=False),
    ]


def test_reaching_max_revocations_skips_the_next_rep() -> None:
    assert [s.rung for s in ladder(revocations=2)] == [Rung.LEAD, Rung.CATCH_ALL, Rung.WAIT]


def test_a_lead_who_lets_it_lapse_sends_it_to_the_catch_all() -> None:
    assert [s.rung for s in ladder(level=1, revocations=2)] == [Rung.CATCH_ALL, Rung.WAIT]


def test_at_the_end_of_the_path_it_only_goes_round_the_queue() -> None:
    assert [(s.rung, s.queue) for s in ladder(level=2, revocations=5, queue="general")] == [
        (Rung.NEXT_REP, "general"),
        (Rung.WAIT, "general"),
    ]


def test_the_catch_all_queue_does_not_escalate_to_itself() -> None:
    assert [s.rung for s in ladder(queue="general", revocations=2)] == [Rung.LEAD, Rung.WAIT]


def test_configured_steps_decide_which_rungs_exist() -> None:
    assert [s.rung for s in ladder(revocations=2, steps=["catch_all"])] == [Rung.CATCH_ALL, Rung.WAIT]
    assert [s.rung for s in ladder(revocations=2, steps=[])] == [Rung.WAIT]


def test_busy_reps_or_the_end_of_the_path_mean_waiting_instead_of_climbing() -> None:
    assert waits_for_next_rep(busy=True)
    assert not waits_for_next_rep(busy=False)


# -- SLA deadlines ------------------------------------------------------------------------------
OFFICE = Hours(timezone="Europe/London", weekly={"tue": "09:00-17:00", "wed": "09:00-17:00"})


def test_sla_clock_runs_straight_through_opening_hours() -> None:
    start = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert open_deadline(OFFICE, start, timedelta(minutes=15)) == start + timedelta(minutes=15)


def test_sla_clock_pauses_overnight_and_resumes_at_opening() -> None:
    start = datetime(2026, 11, 24, 16, 50, tzinfo=UTC)  # London is on UTC in November
    assert open_deadline(OFFICE, start, timedelta(minutes=15)) == datetime(2026, 11, 25, 9, 5, tzinfo=UTC)


def test_sla_clock_has_no_deadline_when_the_queue_never_opens_again() -> None:
    start = datetime(2026, 11, 25, 16, 50, tzinfo=UTC)  # Wednesday, 10 minutes before closing
    assert open_deadline(Hours(weekly={}), start, timedelta(minutes=15)) is None
    assert open_deadline(OFFICE, start, timedelta(minutes=15)) == datetime(2026, 12, 1, 9, 5, tzinfo=UTC)


def test_warning_comes_the_configured_minutes_before_the_revocation() -> None:
    config = configured(timers={"sla": "15m", "sla_warning": "5m"})
    start = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    queue = "support"
    assert config.queue(queue).hours.is_open(start)
    warn_at, due = sla_deadlines(config, queue=queue, at=start)
    assert (warn_at, due) == (start + timedelta(minutes=10), start + timedelta(minutes=15))
