"""The leads' and admins' pages: canned replies, reps (managed by admins, read-only for leads), the
audit log and per-rep metrics. A rep gets a 403 page for each.

As on every workspace page, what a page shows comes from the API's own read paths (the same
functions answer `GET /api/...` for the same caller), and what it does is a call to the JSON API
with the session's CSRF token (`static/team.js`), so the pages can neither show nor do more than the
API allows that user.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select
from sqlmodel import col

from handoff import canned
from handoff.api.audit import audit_log
from handoff.api.reads import WorkspaceService, WorkspaceServiceDep
from handoff.api.reps import list_reps
from handoff.api.team import team_metrics
from handoff.models import Rep
from handoff.reps import staffed_queues
from handoff.web.audit_lines import AuditWords
from handoff.web.rendering import PageUser, UserDep, render
from orchestrator.core.enums import Owner, Role
from orchestrator.core.tables import Conversation

router = APIRouter(include_in_schema=False)
AUDIT_PAGE = 50
PERIODS = {"today": 0, "7d": 7, "30d": 30, "90d": 90, "all": None}  # days back; today: since 00:00 UTC
# What the audit log records, each in the words the page shows (its filter offers them).
ACTION_LABELS = {
    "reply": "Replied to the customer",
    "note": "Added a note",
    "claim": "Claimed a conversation",
    "transfer": "Transferred a conversation",
    "reassign": "Reassigned a conversation",
    "resolve": "Resolved a conversation",
    "hand_back": "Handed a conversation back to the bot",
    "presence": "Changed presence",
    "auto_assign": "Switched auto-assignment",
    "user_created": "Created a user",
    "user_updated": "Changed a user",
    "user_disabled": "Disabled a user",
    "password_set": "Set a password (command line)",
    "api_token_issued": "Issued an API token",
    "api_token_revoked": "Revoked an API token",
    "rep_token_retired": "Retired a token the configuration gave",
    "rep_token_replaced": "Replaced a token the configuration gave",
    "canned_created": "Added a canned reply",
    "canned_updated": "Changed a canned reply",
    "canned_deleted": "Deleted a canned reply",
    "signed_in": "Signed in",
    "login_failed": "Failed sign-in",
    "customer_erased": "Erased a customer's data",
}


def action_label(action: str) -> str:
    """What an audit entry's action reads as on the page (its code when it has no words yet)."""
    return ACTION_LABELS.get(action, action)


def _refused(request: Request, service: WorkspaceService, user: PageUser) -> HTMLResponse:
    return render(request, "forbidden.html", service, user, status_code=403)


def _lead_or_admin(user: PageUser) -> bool:
    return user.actor.role in (Role.LEAD, Role.ADMIN)


def _manageable_queues(service: WorkspaceService, user: PageUser) -> list[str]:
    """The queues whose canned replies the user may manage (an admin: all, a lead: their own)."""
    slugs = [q.slug for q in service.config.queues]
    if user.actor.role == Role.ADMIN:
        return slugs
    return [s for s in slugs if s in user.actor.viewer.queues]


@router.get("/team/canned")
async def canned_page(request: Request, user: UserDep, service: WorkspaceServiceDep) -> HTMLResponse:
    if not _lead_or_admin(user):
        return _refused(request, service, user)
    async with service.sessions() as session:
        replies = await canned.visible_replies(session, viewer=user.actor.viewer)
    manageable = _manageable_queues(service, user)
    return render(
        request,
        "team_canned.html",
        service,
        user,
        section="canned",
        replies=replies,
        names=await _rep_names(service),
        manageable=manageable,
        team_wide=user.actor.role == Role.ADMIN,
        placeholders=canned.PLACEHOLDERS,
    )


@router.get("/team/reps")
async def reps_page(request: Request, user: UserDep, service: WorkspaceServiceDep) -> HTMLResponse:
    if not _lead_or_admin(user):
        return _refused(request, service, user)
    reps = await list_reps(user.actor, service.sessions)
    return render(
        request,
        "team_reps.html",
        service,
        user,
        section="reps",
        reps=reps,
        unstaffed=await _unstaffed(service, user),
        may_manage=user.actor.role == Role.ADMIN,
        roles=[str(r) for r in Role],
    )


async def _unstaffed(service: WorkspaceService, user: PageUser) -> list[tuple[str, int, str | None]]:
    """The queues (of the viewer's: an admin's are all) that no rep who can sign in is a member of,
    each with how many customers wait in it and the queue new handoffs go to instead (the fallback,
    when someone is in it and the configuration allows; else None: customers sent there wait until
    someone is added)."""
    routing = service.config.routing
    mine = [q.slug for q in service.config.queues]
    if user.actor.role != Role.ADMIN:
        mine = [q for q in mine if q in user.actor.viewer.queues]
    async with service.sessions() as session:
        staffed = await staffed_queues(session)
        empty = [q for q in mine if q not in staffed]
        if not empty:
            return []
        rows = await session.execute(
            select(col(Conversation.queue), func.count())
            .where(col(Conversation.owner) == Owner.QUEUED, col(Conversation.queue).in_(empty))
            .group_by(col(Conversation.queue))
        )
        waiting = {str(queue): int(n) for queue, n in rows.all()}
    instead = routing.fallback if routing.unstaffed_to_fallback and routing.fallback in staffed else None
    # A queue that takes transfers only gets no handoffs to send elsewhere: its transfers wait.
    return [
        (
            q,
            waiting.get(q, 0),
            instead if q != instead and not service.config.queue(q).transfers_only else None,
        )
        for q in empty
    ]


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


async def _actor_id(service: WorkspaceService, typed: str) -> str | None:
    """Who the audit filter means: a rep id as typed, or the one rep whose name, or one word of it,
    it is in any case ("Lena", "Fischer", "lena fischer"); else the text as given (no entry matches
    it)."""
    if not typed:
        return None
    wanted = typed.casefold()
    reps = await _rep_names(service)
    if typed in reps:
        return typed
    named = {
        rep_id
        for rep_id, name in reps.items()
        if wanted in (rep_id.casefold(), name.casefold(), *name.casefold().split())
    }
    return named.pop() if len(named) == 1 else typed


async def _rep_names(service: WorkspaceService) -> dict[str, str]:
    async with service.sessions() as session:
        rows = await session.execute(select(col(Rep.id), col(Rep.name)))
        return {str(rep_id): str(name) for rep_id, name in rows.all()}


@router.get("/team/audit")
async def audit_page(
    request: Request,
    user: UserDep,
    service: WorkspaceServiceDep,
    actor: Annotated[str, Query(max_length=64)] = "",
    action: Annotated[str, Query(max_length=32)] = "",
    since: Annotated[str, Query(max_length=10, description="YYYY-MM-DD")] = "",
    until: Annotated[str, Query(max_length=10, description="YYYY-MM-DD, inclusive")] = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    """Newest first, 50 a page; an admin sees every entry, a lead their own and those on
    conversations they may see (the API's rule)."""
    if not _lead_or_admin(user):
        return _refused(request, service, user)
    first, last = _day(since), _day(until)
    response = Response()
    entries = await audit_log(
        user.actor,
        service.sessions,
        response,
        conversation_id=None,
        actor_id=await _actor_id(service, actor.strip()),
        action=action.strip() or None,
        since=datetime.combine(first, time(), tzinfo=UTC) if first else None,
        until=datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC) if last else None,
        limit=AUDIT_PAGE,
        offset=(page - 1) * AUDIT_PAGE,
    )
    total = int(response.headers["X-Total-Count"])
    filters = {
        "actor": actor.strip(),
        "action": action.strip(),
        "since": first.isoformat() if first else "",
        "until": last.isoformat() if last else "",
    }

    def page_link(number: int) -> str:
        return "/team/audit?" + urlencode({**{k: v for k, v in filters.items() if v}, "page": number})

    return render(
        request,
        "team_audit.html",
        service,
        user,
        section="audit",
        entries=entries,
        total=total,
        page=page,
        pages=max(1, -(-total // AUDIT_PAGE)),
        filters=filters,
        page_link=page_link,
        words=AuditWords(await _rep_names(service), {q.slug: q.name for q in service.config.queues}),
        known_actions=ACTION_LABELS,
        action_label=action_label,
    )


@router.get("/team/metrics")
async def metrics_page(
    request: Request,
    user: UserDep,
    service: WorkspaceServiceDep,
    period: Annotated[str, Query(pattern="^(today|7d|30d|90d|all)$")] = "30d",
) -> HTMLResponse:
    if not _lead_or_admin(user):
        return _refused(request, service, user)
    days, now = PERIODS[period], service.clock.now()
    if days == 0:
        since: datetime | None = datetime.combine(now.astimezone(UTC).date(), time(), tzinfo=UTC)
    else:
        since = now - timedelta(days=days) if days else None
    rows = await team_metrics(user.actor, service.sessions, since=since)
    # Someone in no queue who handled nothing and has nothing open (an admin who only administers)
    # is no rep to measure.
    rows = [r for r in rows if r.queues or r.handled or r.open_now or r.resolved]
    return render(
        request,
        "team_metrics.html",
        service,
        user,
        section="metrics",
        rows=rows,
        period=period,
        periods=list(PERIODS),
        since=since,
    )


@router.get("/team/privacy")
async def privacy_page(request: Request, user: UserDep, service: WorkspaceServiceDep) -> HTMLResponse:
    """Erasing a customer on their request (admins only): `DELETE /api/admin/customers/{number}`."""
    if user.actor.role != Role.ADMIN:
        return _refused(request, service, user)
    return render(request, "team_privacy.html", service, user, section="privacy")
