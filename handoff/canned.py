"""Canned replies: saved texts the team reuses, inserted with `/` in the composer.

A canned reply is team-wide (`queue` null) or belongs to one queue. Who may do what:
  - list: every signed-in user sees the team-wide ones and those of their own queues (an admin all);
  - create, edit, delete: a supervisor of its queue (`policy.supervises`): a lead for the queues
    they are a member of, an admin for every queue and for team-wide ones. Each change is audited
    (`canned_created`, `canned_updated`, `canned_deleted`).

Placeholders, filled when a rep inserts the reply into a conversation (`fill`):
  `{customer_name}` the contact's name (or "there" when unknown), `{customer_first_name}` its first
  word, `{rep_name}` / `{rep_first_name}` the rep inserting it, `{queue_name}` the conversation's
  team as customers see it. Any other `{word}` is refused when the reply is saved.

Keyword-only functions; the caller owns the transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from handoff.errors import Conflict, Invalid, NotFound, NotOwner
from handoff.models import CannedReply
from handoff.policy import Viewer, supervises
from handoff.reps import audit
from orchestrator.core.enums import Role

PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
PLACEHOLDERS = ("customer_name", "customer_first_name", "rep_name", "rep_first_name", "queue_name")
SHORTCUT = r"^[a-z0-9][a-z0-9_-]{0,31}$"


@dataclass(frozen=True)
class FillValues:
    """What the placeholders stand for in one conversation, for one rep."""

    customer_name: str | None
    rep_name: str
    queue_name: str | None

    def as_dict(self) -> dict[str, str]:
        customer = (self.customer_name or "").strip()
        return {
            "customer_name": customer or "there",
            "customer_first_name": customer.split()[0] if customer else "there",
            "rep_name": self.rep_name,
            "rep_first_name": self.rep_name.split()[0] if self.rep_name.strip() else self.rep_name,
            "queue_name": self.queue_name or "our team",
        }


def check_placeholders(text: str) -> None:
    unknown = sorted({m.group(1) for m in PLACEHOLDER.finditer(text)} - set(PLACEHOLDERS))
    if unknown:
        known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
        raise Invalid(
            f"unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}; known: {known}",
            location="body.text",
        )


def fill(text: str, values: FillValues) -> str:
    known = values.as_dict()
    return PLACEHOLDER.sub(lambda m: known.get(m.group(1), m.group(0)), text)


def _listed(viewer: Viewer) -> ColumnElement[bool] | None:
    if viewer.role == Role.ADMIN:
        return None
    return or_(col(CannedReply.queue).is_(None), col(CannedReply.queue).in_(sorted(viewer.queues)))


async def visible_replies(
    session: AsyncSession, *, viewer: Viewer, queue: str | None = None, shortcut_prefix: str = ""
) -> list[CannedReply]:
    """What `viewer` may use, by shortcut; with `queue`, only team-wide ones and that queue's."""
    query = select(CannedReply).order_by(col(CannedReply.shortcut), col(CannedReply.id))
    clause = _listed(viewer)
    if clause is not None:
        query = query.where(clause)
    if queue is not None:
        query = query.where(or_(col(CannedReply.queue).is_(None), col(CannedReply.queue) == queue))
    if shortcut_prefix:
        query = query.where(col(CannedReply.shortcut).startswith(shortcut_prefix, autoescape=True))
    return list((await session.execute(query)).scalars())


def _may_manage(viewer: Viewer, queue: str | None) -> None:
    if queue is None and viewer.role != Role.ADMIN:
        raise NotOwner("only an admin may manage team-wide canned replies")
    if not supervises(viewer, queue):
        raise NotOwner("only a lead of this queue or an admin may manage its canned replies")


async def _visible_one(session: AsyncSession, *, viewer: Viewer, reply_id: int) -> CannedReply:
    query = select(CannedReply).where(col(CannedReply.id) == reply_id)
    clause = _listed(viewer)
    if clause is not None:
        query = query.where(clause)
    found: CannedReply | None = (await session.execute(query.with_for_update())).scalars().first()
    if found is None:
        raise NotFound("canned reply not found")
    return found


async def _unique(session: AsyncSession, *, shortcut: str, queue: str | None, other_than: int | None) -> None:
    query = select(col(CannedReply.id)).where(col(CannedReply.shortcut) == shortcut)
    query = query.where(
        col(CannedReply.queue).is_(None) if queue is None else col(CannedReply.queue) == queue
    )
    if other_than is not None:
        query = query.where(col(CannedReply.id) != other_than)
    if (await session.execute(query)).first() is not None:
        where = "team-wide" if queue is None else f"in {queue}"
        raise Conflict(f"a canned reply /{shortcut} already exists {where}")


async def create(
    session: AsyncSession,
    *,
    viewer: Viewer,
    shortcut: str,
    title: str,
    text: str,
    queue: str | None,
    known_queues: set[str],
    at: datetime,
) -> CannedReply:
    if queue is not None and queue not in known_queues:
        raise Invalid(f"unknown queue {queue!r}", location="body.queue")
    _may_manage(viewer, queue)
    check_placeholders(text)
    await _unique(session, shortcut=shortcut, queue=queue, other_than=None)
    reply = CannedReply(
        shortcut=shortcut,
        title=title,
        text=text,
        queue=queue,
        created_by=viewer.id,
        updated_by=viewer.id,
        created_at=at,
        updated_at=at,
    )
    session.add(reply)
    await session.flush()
    audit(
        session,
        actor_id=viewer.id,
        action="canned_created",
        at=at,
        details={"canned_id": reply.id, "shortcut": shortcut, "queue": queue},
    )
    return reply


def _fields(reply: CannedReply) -> dict[str, str | None]:
    return {"shortcut": reply.shortcut, "title": reply.title, "text": reply.text, "queue": reply.queue}


async def update(
    session: AsyncSession,
    *,
    viewer: Viewer,
    reply_id: int,
    changes: dict[str, str | None],
    known_queues: set[str],
    at: datetime,
) -> CannedReply:
    """Change the given fields (`shortcut`, `title`, `text`, `queue`); the caller must supervise both
    the reply's queue and, when it moves, the new one."""
    reply = await _visible_one(session, viewer=viewer, reply_id=reply_id)
    _may_manage(viewer, reply.queue)
    queue = changes.get("queue", reply.queue)
    if queue != reply.queue:
        if queue is not None and queue not in known_queues:
            raise Invalid(f"unknown queue {queue!r}", location="body.queue")
        _may_manage(viewer, queue)
    shortcut = changes.get("shortcut") or reply.shortcut
    await _unique(session, shortcut=shortcut, queue=queue, other_than=reply.id)
    text = changes.get("text") or reply.text
    check_placeholders(text)
    before = _fields(reply)
    reply.shortcut, reply.title, reply.text, reply.queue = (
        shortcut,
        changes.get("title") or reply.title,
        text,
        queue,
    )
    after = _fields(reply)
    # What really changed (a form sends every field), and which reply by its shortcut.
    changed = sorted(k for k in after if after[k] != before[k])
    if not changed:
        return reply
    reply.updated_by, reply.updated_at = viewer.id, at
    session.add(reply)
    await session.flush()
    audit(
        session,
        actor_id=viewer.id,
        action="canned_updated",
        at=at,
        details={"canned_id": reply.id, "shortcut": reply.shortcut, "changed": changed},
    )
    return reply


async def delete(session: AsyncSession, *, viewer: Viewer, reply_id: int, at: datetime) -> None:
    reply = await _visible_one(session, viewer=viewer, reply_id=reply_id)
    _may_manage(viewer, reply.queue)
    await session.delete(reply)
    audit(
        session,
        actor_id=viewer.id,
        action="canned_deleted",
        at=at,
        details={"canned_id": reply_id, "shortcut": reply.shortcut, "queue": reply.queue},
    )
    await session.flush()
