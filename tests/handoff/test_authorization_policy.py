"""The one authorization policy: who may do what with a conversation, by role, membership and
ownership (a supervisor is an admin, or a lead who is a member of the conversation's queue)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from handoff.errors import Conflict, NotOwner
from handoff.policy import Viewer, can, require
from orchestrator.core.enums import Action, Owner, Role

TARA = Viewer(id="tara", role=Role.REP, queues=frozenset({"support"}))
DIEGO = Viewer(id="diego", role=Role.REP, queues=frozenset({"support"}))
LENA = Viewer(id="lena", role=Role.LEAD, queues=frozenset({"support"}))
SAM = Viewer(id="sam", role=Role.LEAD, queues=frozenset({"sales"}))
ADMIN = Viewer(id="admin", role=Role.ADMIN, queues=frozenset())


@dataclass(frozen=True)
class State:
    owner: str
    queue: str | None
    assignee_id: str | None


TARAS = State(Owner.HUMAN, "support", "tara")
WAITING = State(Owner.QUEUED, "support", None)
WRITE = (Action.REPLY,)
MOVE = (Action.TRANSFER, Action.RESOLVE, Action.HAND_BACK)


@pytest.mark.parametrize(
    ("actor", "allowed"),
    [
        (TARA, {Action.VIEW, Action.REPLY, *MOVE}),  # the owner: everything but reassign
        (DIEGO, set()),  # a rep of the same queue does not see another's conversation
        (LENA, {Action.VIEW, Action.REASSIGN, *MOVE}),  # the queue's lead supervises, never writes
        (SAM, set()),  # a lead of another queue is nobody here
        (ADMIN, {Action.VIEW, Action.REASSIGN, *MOVE}),
    ],
)
def test_each_actor_may_do_exactly_what_the_rules_say_to_an_owned_conversation(
    actor: Viewer, allowed: set[Action]
) -> None:
    assert {a for a in Action if can(actor, a, TARAS)} == allowed


def test_a_waiting_conversation_is_seen_by_its_queue_but_moved_only_by_supervisors() -> None:
    assert can(DIEGO, Action.VIEW, WAITING)
    assert not can(DIEGO, Action.TRANSFER, WAITING)
    assert can(LENA, Action.TRANSFER, WAITING)
    assert not can(SAM, Action.VIEW, WAITING)


def test_require_refuses_the_role_before_the_state() -> None:
    closed = State(Owner.CLOSED, "support", "tara")
    with pytest.raises(NotOwner):
        require(SAM, Action.RESOLVE, closed)
    with pytest.raises(Conflict):
        require(LENA, Action.RESOLVE, closed)
    require(LENA, Action.RESOLVE, TARAS)
