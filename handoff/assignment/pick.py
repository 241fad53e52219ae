"""Choosing a rep and claiming them: the policy's ranking, then the claim, member by member.

A member found locked or changed is skipped for the next in rank: turns only move forward, so the
next unchanged member is still the right one. Nothing here sleeps: the caller holds the
conversation's row lock until it commits, so a pick re-reads at once, and backing off
(`runner.drain_waiting`) happens between transactions.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from handoff.assignment.claim import Placement, claim, read_members
from handoff.assignment.policy import BUSY, Candidate, Member, Mode, Ranking, rank
from handoff.models import Rep
from orchestrator.core.config import AppConfig

PICK_ATTEMPTS = 6  # reads of the queue before the conversation waits for the next drain


@dataclass
class Pick:
    member: Member
    rep: Rep
    placed: bool = False  # the claim also wrote the placement (the assignment, conversation, timers)


async def pick(
    session: AsyncSession,
    *,
    config: AppConfig,
    queue: str,
    at: datetime,
    exclude: Collection[str] = (),
    backlog: bool = False,
    wait: bool = True,
    leads_only: bool = False,
    members: list[Member] | None = None,
    placement: Placement | None = None,
) -> tuple[Pick | None, list[Candidate]]:
    """Choose the next rep by the policy and claim them (capacity and cursor); with `placement`, the
    claim writes the new assignment with the rep where it can (`Pick.placed`).

    A member found locked or changed is skipped for the next in rank: turns only move forward, so
    the next unchanged member is still the right one. When every eligible member was busy, read
    again at once (a few times); with `wait`, also wait for the first in rank's lock."""
    mode = Mode.LEAD if leads_only else Mode.AUTO
    ranking = Ranking(ranked=[], candidates={})

    async def take(m: Member, *, skip_locked: bool) -> Pick | None:
        """Claim `m`; the candidates recorded with the assignment are the explanation as it stands."""
        explanation = ranking.explanation()
        rep = await claim(
            session,
            config=config,
            queue=queue,
            member=m,
            at=at,
            backlog=backlog,
            mode=mode,
            skip_locked=skip_locked,
            placement=placement,
            candidates=[c.as_dict() for c in explanation] if placement is not None else None,
        )
        if rep is None:
            return None
        return Pick(member=m, rep=rep, placed=placement is not None and placement.written)

    for attempt in range(PICK_ATTEMPTS):
        if attempt or members is None:
            members, _ = await read_members(session, queue=queue)
        ranking = rank(
            members, pacing=config.assignment, at=at, exclude=exclude, backlog=backlog, leads_only=leads_only
        )
        if not ranking.ranked:
            break
        for index, m in enumerate(ranking.ranked):
            # With `wait`, the first in rank is waited for rather than skipped: a concurrent
            # transaction holding it commits in milliseconds, and skipping it would break the
            # round robin's fairness. Nothing else is locked yet, so this wait cannot deadlock.
            picked = await take(m, skip_locked=not (wait and index == 0 and attempt == 0))
            if picked is not None:
                return picked, ranking.explanation()
            ranking.candidates[m.rep_id].skip(BUSY)
        if not wait:
            continue  # read again: those claimed since the read may be free again
        # Every eligible member was busy in another transaction: wait for the first in rank.
        first = ranking.candidates[ranking.ranked[0].rep_id]
        first.eligible, first.skipped = True, None
        picked = await take(ranking.ranked[0], skip_locked=False)
        if picked is not None:
            return picked, ranking.explanation()
        first.skip(BUSY)
    return None, ranking.explanation()


def any_busy(candidates: list[Candidate]) -> bool:
    return any(c.skipped == BUSY for c in candidates)
