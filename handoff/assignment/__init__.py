"""The assignment engine: queues, round robin, SLA, escalation, presence and durable timers.

Modules, each depending only on those listed before it:
  - `policy`: pure rep selection (skip reasons, round robin, pacing) and the escalation ladder;
  - `deadlines`: pure SLA calendar arithmetic (opening hours only count);
  - `claim`: the claim SQL (PostgreSQL `SKIP LOCKED`, SQLite serialised) and capacity release;
  - `timers`: scheduling every kind of durable timer;
  - `pick`: the policy's ranking claimed member by member; `records`: open, find, close assignments;
  - `engine`: enqueue, place, assign, hold, wait, drain;
  - `sla`: revocation and escalation; `presence`: heartbeat expiry and the offline requeue;
  - `runner`: firing timers and the background pass.
Every function takes the caller's session: the caller owns the transaction (the runner, which opens
its own, excepted). Other packages import from here, not from the modules.
"""

from handoff.assignment.claim import release_capacity
from handoff.assignment.deadlines import open_deadline, sla_of
from handoff.assignment.engine import (
    AssignmentOutcome,
    assign_next,
    assign_to_rep,
    drain_queue,
    drain_queues,
    enqueue,
    give_back_waiting,
    tell_customer,
    waiting_queues,
)
from handoff.assignment.policy import BUSY, Candidate, window_start
from handoff.assignment.presence import expire_heartbeats, requeue_offline_rep
from handoff.assignment.records import end_assignment, new_assignment, open_assignment
from handoff.assignment.runner import (
    MAX_ATTEMPTS,
    BackgroundReport,
    Fired,
    drain_waiting,
    fire_next,
    run_background,
    run_due_timers,
)
from handoff.assignment.sla import sla_expired, sla_warning
from handoff.assignment.timers import cancel_timers, schedule_offline, schedule_timer

__all__ = [
    "BUSY",
    "MAX_ATTEMPTS",
    "AssignmentOutcome",
    "BackgroundReport",
    "Candidate",
    "Fired",
    "assign_next",
    "assign_to_rep",
    "cancel_timers",
    "drain_queue",
    "drain_queues",
    "drain_waiting",
    "end_assignment",
    "enqueue",
    "expire_heartbeats",
    "fire_next",
    "give_back_waiting",
    "new_assignment",
    "open_assignment",
    "open_deadline",
    "release_capacity",
    "requeue_offline_rep",
    "run_background",
    "run_due_timers",
    "schedule_offline",
    "schedule_timer",
    "sla_expired",
    "sla_of",
    "sla_warning",
    "tell_customer",
    "waiting_queues",
    "window_start",
]
