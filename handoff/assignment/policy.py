"""The assignment policy, pure: who may take a conversation, in which order, and where an
unanswered one goes next. No database, no I/O: the engine reads the queue's members, asks this
module, and claims the answer.

Rep selection (round robin), in order:
  1. members of the queue only (for an escalation: the queue's team leads only);
  2. skip reps that are excluded (they already had this conversation and let it lapse, or sent it
     away), that are not `online`, that opted out of auto-assignment, that are at capacity, or, while
     a backlog is drained, that already took `assignment.backlog_burst` waiting conversations in the
     current window ("paced"); each skip is recorded with its reason;
  3. among the rest, the rep whose last assignment *in this queue* is oldest (never assigned first);
  4. tie-break: fewer assignments in this queue, then rep id (deterministic).

Escalation of an unanswered assignment is a ladder of steps walked in order until one places the
conversation: the next rep of the queue, the queue's team lead, the catch-all (routing fallback)
queue, and at the end of the path waiting in the queue.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from orchestrator.core.config import AssignmentConfig
from orchestrator.core.enums import Presence, Role

BUSY = "busy: taken by a concurrent assignment"
EXCLUDED = "excluded: had it before and let it lapse or passed it on"


@dataclass(frozen=True)
class Member:
    """A queue member as read (or as locked): the rep's state and the round-robin cursor."""

    rep_id: str
    role: str
    presence: str
    auto_assign: bool
    open_count: int
    capacity: int
    last_assigned_at: datetime | None
    last_turn: int | None
    assigned_total: int
    burst_started_at: datetime | None
    burst_count: int

    def rank(self) -> tuple[bool, int, int, str]:
        """Never assigned first, then the oldest last assignment (by turn), fewer, rep id."""
        return (self.last_turn is not None, self.last_turn or 0, self.assigned_total, self.rep_id)


@dataclass
class Candidate:
    """One member as considered for one assignment: the routing explanation reps and leads read."""

    rep_id: str
    eligible: bool
    skipped: str | None
    open_count: int
    capacity: int
    last_assigned_at: str | None

    @classmethod
    def of(cls, m: Member) -> Candidate:
        return cls(
            rep_id=m.rep_id,
            eligible=True,
            skipped=None,
            open_count=m.open_count,
            capacity=m.capacity,
            last_assigned_at=m.last_assigned_at.isoformat() if m.last_assigned_at else None,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "rep_id": self.rep_id,
            "eligible": self.eligible,
            "skipped": self.skipped,
            "open": self.open_count,
            "capacity": self.capacity,
            "last_assigned_at": self.last_assigned_at,
        }

    def skip(self, reason: str) -> None:
        self.eligible, self.skipped = False, reason


class Mode(Enum):
    """Who a claim may take (re-checked by the claim itself, under the rep's lock)."""

    AUTO = "auto"  # round robin: online, opted in
    LEAD = "lead"  # escalation: online team leads, whether opted in or not
    EXPLICIT = "explicit"  # a lead's named choice: anyone not offline


class Burst(Enum):
    """How a claim moves the rep's pacing window."""

    NONE = "none"  # not from the backlog: pacing untouched
    MORE = "more"  # another one in the current window
    NEW = "new"  # the first one of a new window


# -- backlog pacing -----------------------------------------------------------------------------
def window_start(pacing: AssignmentConfig, at: datetime) -> datetime:
    """Start of the pacing window containing `at`. Windows are aligned to fixed boundaries, the same
    for every rep, so at each boundary all reps get a fresh allowance together and the rest of a
    backlog goes round robin among everyone who is in by then."""
    seconds = pacing.backlog_window_seconds
    epoch = at.timestamp()
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)


def window_open(m: Member, *, pacing: AssignmentConfig, at: datetime) -> bool:
    return m.burst_started_at is not None and m.burst_started_at >= window_start(pacing, at)


def paced(m: Member, *, pacing: AssignmentConfig, at: datetime) -> bool:
    return window_open(m, pacing=pacing, at=at) and m.burst_count >= pacing.backlog_burst


def burst_of(m: Member, *, pacing: AssignmentConfig, at: datetime, backlog: bool) -> Burst:
    if not backlog:
        return Burst.NONE
    return Burst.MORE if window_open(m, pacing=pacing, at=at) else Burst.NEW


# -- selection ----------------------------------------------------------------------------------
def skip_reason(
    m: Member,
    *,
    pacing: AssignmentConfig,
    at: datetime,
    exclude: Collection[str] = (),
    backlog: bool = False,
    leads_only: bool = False,
) -> str | None:
    """Why `m` cannot take the conversation now (None: eligible). Step 2 of the policy, in order."""
    if m.rep_id in exclude:
        return EXCLUDED
    if leads_only and m.role != Role.LEAD:
        return "not a team lead"
    if m.presence != Presence.ONLINE:
        return f"presence {m.presence}"
    # An escalation is not auto-assignment: a lead who opted out still receives it.
    if not m.auto_assign and not leads_only:
        return "opted out of auto-assignment"
    if m.open_count >= m.capacity:
        return f"at capacity ({m.open_count}/{m.capacity})"
    if backlog and paced(m, pacing=pacing, at=at):
        window = pacing.backlog_window_seconds
        return f"paced: took {m.burst_count} waiting conversations in this {window}s window"
    return None


@dataclass
class Ranking:
    """The eligible members best first, and every member as considered (skips with reasons)."""

    ranked: list[Member]
    candidates: dict[str, Candidate]

    def explanation(self) -> list[Candidate]:
        return list(self.candidates.values())


def rank(
    members: Iterable[Member],
    *,
    pacing: AssignmentConfig,
    at: datetime,
    exclude: Collection[str] = (),
    backlog: bool = False,
    leads_only: bool = False,
) -> Ranking:
    """Steps 2-4 of the policy: skip with reasons, then order the rest round robin."""
    candidates: dict[str, Candidate] = {}
    ranked: list[Member] = []
    for m in members:
        candidates[m.rep_id] = Candidate.of(m)
        reason = skip_reason(m, pacing=pacing, at=at, exclude=exclude, backlog=backlog, leads_only=leads_only)
        if reason is None:
            ranked.append(m)
        else:
            candidates[m.rep_id].skip(reason)
    ranked.sort(key=Member.rank)
    return Ranking(ranked=ranked, candidates=candidates)


# -- escalation ---------------------------------------------------------------------------------
class Rung(Enum):
    NEXT_REP = "next_rep"  # another rep of the same queue
    LEAD = "lead"  # the queue's team leads
    CATCH_ALL = "catch_all"  # the routing fallback queue
    WAIT = "wait"  # the end of the path: wait in the queue for whoever is next


@dataclass(frozen=True)
class Step:
    """One rung of the ladder: where the new assignment goes and how it is written."""

    rung: Rung
    queue: str
    level: int  # the new assignment's escalation level: 0 normal, 1 the team lead, 2 the catch-all
    reason: str  # the new assignment's reason
    # The reps who let it lapse stay excluded, from this placement and later drains. At the end of
    # the path they are not: someone who let it lapse is better than nobody at all.
    keep_exclusions: bool


def escalation_ladder(
    *,
    queue: str,
    fallback: str,
    level: int,
    revocations: int,
    max_revocations: int,
    steps: Sequence[str],
) -> list[Step]:
    """The steps to try, in order, after an assignment at escalation `level` in `queue` was revoked
    for the `revocations`-th time. The last step always places the conversation."""
    ladder: list[Step] = []
    if revocations < max_revocations or level >= 2:
        ladder.append(Step(Rung.NEXT_REP, queue, level, "sla_revoked", keep_exclusions=True))
    if level < 1 and Rung.LEAD.value in steps:
        ladder.append(Step(Rung.LEAD, queue, 1, "escalated", keep_exclusions=False))
    if level < 2 and Rung.CATCH_ALL.value in steps and fallback != queue:
        ladder.append(Step(Rung.CATCH_ALL, fallback, 2, "escalated", keep_exclusions=False))
    ladder.append(Step(Rung.WAIT, queue, 2, "sla_revoked", keep_exclusions=False))
    return ladder


def waits_for_next_rep(*, busy: bool) -> bool:
    """Nobody else in the queue took it: wait in the queue, keeping the exclusions, only when reps
    are busy this instant (the next drain assigns it). Otherwise climb: at the end of the path the
    last step lifts the exclusions rather than leave it with nobody."""
    return busy
