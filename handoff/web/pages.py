"""The workspace's pages: sign-in and sign-out, the inbox, a conversation with its context panel, the
queue dashboard, and the offline API docs.

The pages are server-rendered (Jinja2) with htmx fragments that the page reloads when the live
stream (`GET /api/stream`, authenticated by the session cookie) says something changed. Everything
a page *does* (reply, note, take it, transfer, resolve, hand back, reassign, presence, heartbeat)
is a call to the JSON API with the session's CSRF token: the page is a client of the same flows
and the same authorisation as any other. What a page *shows* comes from the API's own read paths
(`handoff.api_bridge`), so it can never show more than the API would answer the same rep.

A request without a valid session is sent to the sign-in page (a fragment request gets 401 and an
`HX-Redirect` there); a conversation the rep may not see is a 404 page, as in the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, cast
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Form, Path, Query, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.exceptions import HTTPException as StarletteHTTPException

from handoff import notes, unread
from handoff.api.reads import (
    WorkspaceService,
    WorkspaceServiceDep,
    conversation_detail,
    conversation_summary,
    conversations,
    queue_numbers,
    queue_waiting,
    workspace_service,
)
from handoff.api.schemas import ID_MAX, ConversationDetail, ConversationSummary
from handoff.assignment.deadlines import sla_of
from handoff.errors import NotFound, TooManyAttempts, Unauthenticated
from handoff.models import Assignment, Note, Rep, RepQueue
from handoff.policy import visibility_clause
from handoff.reps import staffed_queues
from handoff.search import search_conversations
from handoff.users import device_of, device_token, sign_in
from handoff.web import session as web_session
from handoff.web import team_pages
from handoff.web.rendering import REP_KEYS, STATIC_DIR, PageUser, SignInRequired, UserDep, render
from orchestrator.core.enums import AssignmentStatus, HandoffReason, Owner, Presence, Role
from orchestrator.core.tables import Conversation, Message
from orchestrator.outbox import token_refused_since

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only a local path is a valid place to go after sign-in (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/inbox"


# -- sign-in ---------------------------------------------------------------------------------------
@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/inbox", status_code=303)


def _login_page(
    request: Request,
    service: WorkspaceService,
    *,
    error: str | None,
    next_path: str,
    status_code: int = 200,
    expired: bool = False,
    username: str = "",
) -> HTMLResponse:
    """The sign-in form (`username`: what was typed before a refusal, so only the password is typed
    again)."""
    token = web_session.new_login_csrf()
    response = render(
        request,
        "login.html",
        service,
        None,
        status_code,
        error=error,
        next_path=next_path,
        login_csrf=token,
        expired=expired,
        username=username,
    )
    web_session.set_login_csrf_cookie(response, request, token)
    return response


@router.get("/login")
async def login_form(
    request: Request,
    service: WorkspaceServiceDep,
    next: Annotated[str | None, Query()] = None,
    expired: Annotated[bool, Query()] = False,
) -> HTMLResponse:
    """`expired`: sent here because the session ended (signed out elsewhere, timed out): said so."""
    return _login_page(request, service, error=None, next_path=_safe_next(next), expired=expired)


@router.post("/login", response_model=None)
async def login(
    request: Request,
    service: WorkspaceServiceDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    csrf: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/inbox",
) -> Response:
    """Rep id and password (or, for an account without one, its API token)."""
    next_path = _safe_next(next)
    if not web_session.same_origin(request) or not web_session.tokens_match(
        request.cookies.get(web_session.LOGIN_CSRF_COOKIE, ""), csrf
    ):
        return _login_page(
            request,
            service,
            error="The form expired; please sign in again.",
            next_path=next_path,
            status_code=403,
        )
    signing_key = service.settings.jwt_secret.get_secret_value()
    known = request.cookies.get(web_session.DEVICE_COOKIE)
    # Ids are lowercase; a phone's keyboard capitalises the first letter typed ("Gus").
    username = username.strip().lower()
    device = device_of(known, rep_id=username, secret=signing_key)  # one of this user's browsers
    try:
        rep = await sign_in(
            service.sessions,
            username=username,
            secret=password,
            at=service.clock.now(),
            api_token_too=True,
            device=device,
        )
    except TooManyAttempts as exc:
        minutes = max(1, round(exc.retry_after_s / 60))
        return _login_page(
            request,
            service,
            error=f"Too many failed sign-ins. Try again in {minutes} minute{'s' if minutes != 1 else ''}.",
            next_path=next_path,
            status_code=429,
            username=username,
        )
    except Unauthenticated:
        return _login_page(
            request,
            service,
            error="Wrong user or password.",
            next_path=next_path,
            status_code=401,
            username=username,
        )
    async with service.sessions() as session, session.begin():
        fresh = await session.get(Rep, rep.id)
        assert fresh is not None
        token, _ = await web_session.start_session(session, rep=fresh, at=service.clock.now())
    response = RedirectResponse(next_path, status_code=303)
    web_session.set_session_cookie(response, request, token)
    # This browser is now one of theirs: the mark it had (for a longer time), or a new one.
    mark = known if known and device is not None else device_token(rep_id=rep.id, secret=signing_key)
    web_session.set_device_cookie(response, request, mark)
    response.delete_cookie(web_session.LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(
    request: Request,
    user: UserDep,
    service: WorkspaceServiceDep,
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> RedirectResponse:
    web_session.require_csrf(request, user.session, form_token=csrf)
    async with service.sessions() as session, session.begin():
        await web_session.end_session(
            session, token=request.cookies.get(web_session.COOKIE, ""), at=service.clock.now()
        )
    response = RedirectResponse("/login", status_code=303)
    web_session.clear_session_cookie(response)
    return response


# -- inbox -----------------------------------------------------------------------------------------
VIEWS = ("open", "mine", "waiting", "unread")
VIEW_PATTERN = "^(open|mine|waiting|unread)$"


@dataclass(frozen=True)
class InboxFilter:
    view: str = "open"
    queue: str | None = None
    reason: HandoffReason | None = None
    failed: bool = False
    rep: str | None = None  # a lead's or an admin's: one colleague's conversations

    def query(self) -> str:
        parts = {
            "view": self.view,
            "queue": self.queue,
            "reason": self.reason,
            "failed": "1" if self.failed else None,
            "rep": self.rep,
        }
        return "&".join(f"{k}={quote(str(v))}" for k, v in parts.items() if v)


def inbox_filter(
    view: Annotated[str, Query(pattern=VIEW_PATTERN)] = "open",
    queue: Annotated[str | None, Query(max_length=64)] = None,
    reason: Annotated[str | None, Query(max_length=32)] = None,
    failed: Annotated[bool, Query()] = False,
    rep: Annotated[str | None, Query(max_length=64)] = None,
) -> InboxFilter:
    known = {str(r) for r in HandoffReason}
    return InboxFilter(
        view=view,
        queue=queue or None,
        reason=HandoffReason(reason) if reason in known else None,
        failed=failed,
        rep=rep or None,
    )


FilterDep = Annotated[InboxFilter, Depends(inbox_filter)]


# Colleagues' conversations a lead's or an admin's "All open" lists at most (the most recently
# active; the queue filter and the dashboard narrow it down).
TEAM_ROWS = 200


def _latest_message_first(c: ConversationSummary) -> tuple[float, int]:
    """The order of the conversations with a rep: the customer's latest message first, the time
    each row shows ("last message 2m ago"), not the last change of any kind."""
    return (-(c.last_inbound_at or c.updated_at).timestamp(), -c.id)


async def _inbox_rows(service: WorkspaceService, user: PageUser, chosen: InboxFilter) -> dict[str, Any]:
    """The inbox list's values (`rows`, `unread`, `rep_names`). `mine`: assigned to me, the latest
    customer message first; `waiting`: waiting in my queues (oldest first); `open`: both, and for a
    lead or an admin every other conversation with a rep they may see (their departments'; all), so
    they can watch and reassign them, in the same order as mine, after the waiting ones; `unread`:
    mine and waiting, with customer messages I have not read. With their unread counts, and the
    names of the reps who have them."""
    actor = user.actor
    narrow: dict[str, Any] = {
        "queue": chosen.queue,
        "reason": chosen.reason,
        "failed_sends": True if chosen.failed else None,
    }
    rows: list[ConversationSummary] = []
    colleague = chosen.rep if actor.role in (Role.LEAD, Role.ADMIN) else None
    if colleague:
        # One colleague's conversations (those the lead may see), whatever the view.
        theirs = await conversations(service, actor, owner=Owner.HUMAN, assignee_id=colleague, **narrow)
        rows = sorted(theirs, key=_latest_message_first)
    elif chosen.view in ("open", "mine", "unread"):
        own = await conversations(service, actor, owner=Owner.HUMAN, assignee_id=actor.id, **narrow)
        rows += sorted(own, key=_latest_message_first)
        if chosen.view == "open" and actor.role in (Role.LEAD, Role.ADMIN):  # then the team's
            ids = {c.id for c in own}
            team = await conversations(
                service, actor, owner=Owner.HUMAN, limit=TEAM_ROWS + len(ids), **narrow
            )
            rows += sorted([c for c in team if c.id not in ids][:TEAM_ROWS], key=_latest_message_first)
    if chosen.view in ("open", "waiting", "unread") and not colleague:
        waiting = await conversations(service, actor, owner=Owner.QUEUED, **narrow)
        waiting.sort(key=lambda c: (c.waiting_since or c.updated_at, c.id))
        # A lead's or an admin's "All open" puts who nobody has yet first, above the team's many.
        first = chosen.view == "open" and actor.role in (Role.LEAD, Role.ADMIN)
        rows = waiting + rows if first else rows + waiting
    async with service.sessions() as session:
        counts = await unread.unread_counts(session, rep_id=actor.id, conversation_ids=[c.id for c in rows])
    if chosen.view == "unread":
        rows = [c for c in rows if counts.get(c.id)]
    # Who has each conversation, and who of them is not online (a customer may be waiting on
    # someone away).
    assignees = {c.assignee_id for c in rows if c.assignee_id}
    async with service.sessions() as session:
        reps = (
            await session.execute(
                select(col(Rep.id), col(Rep.name), col(Rep.presence)).where(col(Rep.id).in_(assignees))
            )
        ).all()
    names = {rep_id: name for rep_id, name, _ in reps if name}
    away = {rep_id: str(presence) for rep_id, _, presence in reps if presence != Presence.ONLINE}
    async with service.sessions() as session:
        back = await _back_in_queue(session, [c for c in rows if c.owner == Owner.QUEUED])
    return {"rows": rows, "unread": counts, "rep_names": names, "rep_away": away, "back": back}


# A conversation back in the queue keeps its place from the first handoff; it says when it came
# back only when that is a minute or more later.
BACK_AFTER = timedelta(minutes=1)


def _came_back(queued_at: datetime, waiting_since: datetime | None) -> bool:
    """Whether a waiting assignment queued at `queued_at` is a return to the queue after the
    first handoff (`waiting_since`), not the first handoff itself."""
    return waiting_since is not None and queued_at - waiting_since >= BACK_AFTER


async def _back_in_queue(session: AsyncSession, waiting: list[ConversationSummary]) -> dict[int, datetime]:
    """Of these waiting conversations, those that came back to the queue (a rep went offline, let
    it lapse, handed it on) after their first handoff: when they came back."""
    since = {c.id: c.waiting_since for c in waiting if c.waiting_since is not None}
    if not since:
        return {}
    rows = await session.execute(
        select(col(Assignment.conversation_id), col(Assignment.queued_at)).where(
            col(Assignment.conversation_id).in_(sorted(since)),
            col(Assignment.status) == AssignmentStatus.WAITING,
        )
    )
    return {int(cid): queued_at for cid, queued_at in rows.all() if _came_back(queued_at, since[int(cid)])}


async def _team(service: WorkspaceService, user: PageUser) -> list[tuple[str, str]]:
    """The colleagues a lead (the members of their queues) or an admin (everyone) can list the
    conversations of, by name."""
    if user.actor.role not in (Role.LEAD, Role.ADMIN):
        return []
    query = select(col(Rep.id), col(Rep.name)).order_by(col(Rep.name))
    if user.actor.role == Role.LEAD:
        members = select(col(RepQueue.rep_id)).where(
            col(RepQueue.queue).in_(sorted(user.actor.viewer.queues))
        )
        query = query.where(col(Rep.id).in_(members))
    async with service.sessions() as session:
        return [(rep_id, name) for rep_id, name in (await session.execute(query)).all()]


async def _my_queues(service: WorkspaceService, user: PageUser) -> list[str]:
    if user.actor.role == Role.ADMIN:
        return [q.slug for q in service.config.queues]
    return sorted(user.actor.viewer.queues)


async def _unread_mentions(service: WorkspaceService, user: PageUser) -> dict[str, Any]:
    """The rep's unread mentions, and which of their conversations the rep may open: a rep can be
    mentioned on a conversation that is not theirs to see (the note travels with the mention), or
    that has moved out of their sight since; those are listed without a link, to be marked read."""
    async with service.sessions() as session:
        mentions = await notes.mentions_of(session, rep_id=user.rep.id, unread_only=True, limit=20)
        ids = {note.conversation_id for _mention, note in mentions}
        openable: set[int] = set()
        if ids:
            query = select(col(Conversation.id)).where(col(Conversation.id).in_(ids))
            clause = visibility_clause(user.actor.viewer)
            if clause is not None:
                query = query.where(clause)
            openable = {int(i) for i in (await session.execute(query)).scalars() if i is not None}
    return {"mentions": mentions, "openable": openable}


@router.get("/inbox")
async def inbox(
    request: Request, user: UserDep, service: WorkspaceServiceDep, chosen: FilterDep
) -> HTMLResponse:
    mentioned = await _unread_mentions(service, user)
    listed = await _inbox_rows(service, user, chosen)
    return render(
        request,
        "inbox.html",
        service,
        user,
        f=chosen,
        views=VIEWS,
        my_queues=await _my_queues(service, user),
        team=await _team(service, user),
        **listed,
        **mentioned,
    )


@router.get("/inbox/list")
async def inbox_list(
    request: Request, user: UserDep, service: WorkspaceServiceDep, chosen: FilterDep
) -> HTMLResponse:
    return render(
        request, "_inbox_list.html", service, user, f=chosen, **await _inbox_rows(service, user, chosen)
    )


@router.get("/inbox/mentions")
async def inbox_mentions(request: Request, user: UserDep, service: WorkspaceServiceDep) -> HTMLResponse:
    return render(request, "_mentions.html", service, user, **await _unread_mentions(service, user))


# -- a conversation --------------------------------------------------------------------------------
async def _detail(
    service: WorkspaceService, user: PageUser, conversation_id: int, before: int | None = None
) -> ConversationDetail:
    return await conversation_detail(service, user.actor, conversation_id, before=before)


# Events that follow from another one logged at the same instant (an assignment from a reassignment).
_OUTCOMES = frozenset({"assigned", "waiting", "held_after_hours"})


def _timeline(
    detail: ConversationDetail, note_rows: list[Note], ends_at: datetime | None = None
) -> list[dict[str, Any]]:
    """Messages, notes and the human-side events of the transcript's page, in time order (the
    events come with the page; notes are kept to the time it covers)."""
    shown_events = {
        "assigned",
        "transferred",
        "reassigned",
        "resolved",
        "returned_to_bot",
        "assignment_revoked",
        "escalated",
        "waiting",
        "held_after_hours",
        "handoff",
        "sla_warning",
        "number_changed",
    }
    items: list[dict[str, Any]] = [{"kind": "message", "at": m.created_at, "m": m} for m in detail.messages]
    items += [
        {"kind": "note", "at": n.created_at, "n": n}
        for n in note_rows
        if _on_page(detail, ends_at, n.created_at)
    ]
    items += [{"kind": "event", "at": e.created_at, "e": e} for e in detail.events if e.type in shown_events]

    # At the same instant: what the customer said, what happened because of it (a reassignment or
    # a transfer before the assignment it led to), what was said back.
    def rank(item: dict[str, Any]) -> int:
        if item["kind"] == "message":
            return 0 if item["m"].direction == "inbound" else 3
        if item["kind"] == "event":
            return 2 if item["e"].type in _OUTCOMES else 1
        return 4

    return sorted(items, key=lambda i: (i["at"], rank(i)))


def _on_page(detail: ConversationDetail, ends_at: datetime | None, at: datetime) -> bool:
    """Whether something that happened `at` belongs with this page of the transcript, which ends
    where the next page starts (`ends_at`): pages are split where a page's first message was
    received, as the API splits the context log."""
    if detail.earlier_cursor is not None and detail.messages and at < detail.messages[0].created_at:
        return False
    return ends_at is None or at < ends_at


async def _members(service: WorkspaceService, queue: str | None) -> list[Rep]:
    if queue is None:
        return []
    async with service.sessions() as session:
        rows = await session.execute(
            select(Rep)
            .join(RepQueue, col(RepQueue.rep_id) == col(Rep.id))
            .where(col(RepQueue.queue) == queue)
            .order_by(col(Rep.id))
        )
        return list(rows.scalars())


async def _names(service: WorkspaceService, ids: set[str]) -> dict[str, str]:
    """The reps' names by id, for the page to say who has a conversation rather than their id."""
    if not ids:
        return {}
    async with service.sessions() as session:
        rows = await session.execute(select(col(Rep.id), col(Rep.name)).where(col(Rep.id).in_(ids)))
        return {rep_id: name for rep_id, name in rows if name}


async def _conversation_view(
    service: WorkspaceService,
    user: PageUser,
    conversation_id: int,
    before: int | None = None,
    *,
    with_actions: bool = True,
) -> dict[str, Any]:
    """What the conversation page and its fragments show; `with_actions`: the state bar's action
    forms are rendered too (the page, the state fragment), which need the queues' staffing."""
    if not 1 <= conversation_id <= ID_MAX:  # an address typed or altered by hand: no such page
        raise NotFound("conversation not found")
    detail = await _detail(service, user, conversation_id, before)
    ends_at: datetime | None = None
    async with service.sessions() as session:
        note_rows = await notes.notes_of(session, conversation_id=conversation_id)
        staffed = await staffed_queues(session) if with_actions else None
        if before is not None:
            ends_at = (
                await session.execute(
                    select(col(Message.created_at)).where(
                        col(Message.id) == before, col(Message.conversation_id) == conversation_id
                    )
                )
            ).scalar_one_or_none()
    actor = user.actor
    is_owner = detail.owner == Owner.HUMAN and detail.assignee_id == actor.id
    with_human = detail.owner in (Owner.QUEUED, Owner.HUMAN)
    may_claim = detail.owner == Owner.QUEUED and detail.queue in actor.viewer.queues
    # The last assignment carries the routing explanation and the reps considered.
    routed = next((a for a in reversed(detail.assignments) if a.routing or a.candidates), None)
    queued = next((a for a in detail.assignments if a.status == AssignmentStatus.WAITING), None)
    back_at = (
        queued.queued_at
        if queued is not None and _came_back(queued.queued_at, detail.waiting_since)
        else None
    )
    return {
        "back_at": back_at,
        "c": detail,
        "ctx": detail.handoff_context or {},
        "messages_by_id": {m.id: m for m in detail.messages},
        "timeline": _timeline(detail, note_rows, ends_at),
        "notes": note_rows,
        "routed": routed,
        # Queues nobody who can sign in is a member of: a transfer there waits for no one.
        "unstaffed": {q.slug for q in service.config.queues} - staffed if staffed is not None else set(),
        "is_owner": is_owner,
        "may_claim": may_claim,
        "may_act": with_human and (is_owner or user.supervisor),
        "may_reassign": with_human and user.supervisor,
        "members": await _members(service, detail.queue) if user.supervisor else [],
        "rep_names": await _names(
            service,
            {
                rep_id
                for rep_id in (
                    detail.assignee_id,
                    *(e.assignee_id for e in detail.earlier_conversations),
                    *(m.sender_id for m in detail.messages if m.sender_type == "rep"),
                    *(n.author_id for n in note_rows),
                    # the reps the transcript's events name ("reassigned it from harry to sam")
                    *(
                        str((e.details or {})[k])
                        for e in detail.events
                        for k in REP_KEYS
                        if (e.details or {}).get(k)
                    ),
                    # the reps the routing panel lists as considered
                    *(str(c.get("rep_id")) for c in ((routed.candidates if routed else None) or [])),
                )
                if rep_id
            },
        ),
    }


@router.get("/conversations/{conversation_id}")
async def conversation_page(
    conversation_id: int, request: Request, user: UserDep, service: WorkspaceServiceDep
) -> HTMLResponse:
    try:
        view = await _conversation_view(service, user, conversation_id)
    except NotFound:
        return render(request, "not_found.html", service, user, status_code=404)
    await _mark_read(service, user, conversation_id)
    return render(request, "conversation.html", service, user, **view)


async def _mark_read(service: WorkspaceService, user: PageUser, conversation_id: int) -> None:
    """The rep has the conversation in front of them: its messages and mentions are read."""
    async with service.sessions() as session, session.begin():
        at = service.clock.now()
        await notes.mark_mentions_read(session, rep_id=user.rep.id, at=at, conversation_id=conversation_id)
        await unread.mark_read(session, rep_id=user.rep.id, conversation_id=conversation_id, at=at)


@router.get("/conversations/{conversation_id}/earlier")
async def conversation_earlier(
    conversation_id: int,
    before: Annotated[int, Query(ge=1, le=ID_MAX)],
    request: Request,
    user: UserDep,
    service: WorkspaceServiceDep,
) -> HTMLResponse:
    """The transcript's page before message `before`: its items, and above them the control that
    loads the page before it (htmx swaps them in for the control that asked)."""
    try:
        view = await _conversation_view(service, user, conversation_id, before, with_actions=False)
    except NotFound:
        return render(request, "not_found.html", service, user, status_code=404)
    return render(request, "_timeline.html", service, user, earlier_page=True, **view)


@router.get("/conversations/{conversation_id}/fragments/{part}")
async def conversation_fragment(
    conversation_id: int,
    part: Annotated[str, Path(pattern="^(timeline|panel|state)$")],
    request: Request,
    user: UserDep,
    service: WorkspaceServiceDep,
) -> HTMLResponse:
    view = await _conversation_view(service, user, conversation_id, with_actions=part == "state")
    if part == "timeline":
        await _mark_read(service, user, conversation_id)
    return render(request, f"_{part}.html", service, user, **view)


# -- what stops every reply -----------------------------------------------------------------------
@router.get("/fragments/whatsapp")
async def whatsapp_banner(request: Request, user: UserDep, service: WorkspaceServiceDep) -> HTMLResponse:
    """A bar on every page while WhatsApp refuses this service's access token: no reply reaches
    any customer, and only an admin can fix it (reloaded with the page's live refreshes)."""
    async with service.sessions() as session:
        refused = await token_refused_since(session, now=service.clock.now())
    return render(request, "_whatsapp.html", service, user, refused=refused)


# -- search ----------------------------------------------------------------------------------------
@router.get("/search")
async def search_page(
    request: Request,
    user: UserDep,
    service: WorkspaceServiceDep,
    q: Annotated[str, Query(max_length=100)] = "",
) -> HTMLResponse:
    hits: list[dict[str, Any]] = []
    if len(q.strip()) >= 2:
        async with service.sessions() as session:
            found = await search_conversations(session, viewer=user.actor.viewer, query=q, limit=50)
        hits = [
            {"conversation": await conversation_summary(service, user.actor, cid), "matched": m, "snippet": s}
            for cid, m, s in found
        ]
    owners = {h["conversation"].assignee_id for h in hits if h["conversation"].assignee_id}
    names = await _names(service, owners)
    return render(request, "search.html", service, user, q=q.strip(), hits=hits, rep_names=names)


# -- dashboard -------------------------------------------------------------------------------------
async def _dashboard(service: WorkspaceService, user: PageUser) -> dict[str, Any]:
    numbers = await queue_numbers(service, user.actor)
    details = {q.queue: await queue_waiting(service, user.actor, q.queue) for q in numbers}
    # A customer waiting longer than the queue's response time is shown as late (before any breach
    # is counted: a breach is an assignment's, and nobody has them yet).
    sla = {q.queue: sla_of(service.config, q.queue).total_seconds() for q in numbers}
    return {"numbers": numbers, "details": details, "sla_seconds": sla}


@router.get("/dashboard")
async def dashboard(request: Request, user: UserDep, service: WorkspaceServiceDep) -> HTMLResponse:
    return render(request, "dashboard.html", service, user, **await _dashboard(service, user))


@router.get("/dashboard/queues")
async def dashboard_queues(request: Request, user: UserDep, service: WorkspaceServiceDep) -> HTMLResponse:
    return render(request, "_queues.html", service, user, **await _dashboard(service, user))


# -- offline API docs ------------------------------------------------------------------------------
@router.get("/docs")
async def swagger_ui() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Handoff orchestrator: API",
        swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
        swagger_favicon_url="/static/vendor/swagger-ui/favicon-32x32.png",
        oauth2_redirect_url="/docs/oauth2-redirect",
    )


@router.get("/docs/oauth2-redirect")
async def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


def _wants_page(request: Request) -> bool:
    """A browser asking for a page (not the API, the webhook, or an htmx fragment)."""
    return (
        "text/html" in request.headers.get("accept", "")
        and not request.headers.get("hx-request")
        and not request.url.path.startswith(("/api/", "/webhooks/"))
    )


def bad_address_page(request: Request) -> Response | None:
    """The page for a browser whose page address has a value the page does not take (a filter
    typed by hand, `/inbox?view=everything`): the workspace's "not found"; None for the API, the
    webhook and fragments, which keep their 422 and its list of problems."""
    if not _wants_page(request):
        return None
    return render(
        request, "not_found.html", workspace_service(request), None, status_code=404, page_missing=True
    )


def install(app: FastAPI) -> None:
    """Mount the workspace on the app: pages, static files, offline docs, and the sign-in redirect.
    (Create the app with `docs_url=None`, so `/docs` is this offline one.)"""

    async def _sign_in(request: Request, _exc: Exception) -> Response:
        # A session cookie that no longer signs anyone in: the session ended, and the page says so.
        ended = "expired=1&" if request.cookies.get(web_session.COOKIE) else ""
        target = f"/login?{ended}next=" + quote(
            request.url.path + (f"?{request.url.query}" if request.url.query else "")
        )
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    app.add_exception_handler(SignInRequired, _sign_in)

    async def _not_found(request: Request, exc: Exception) -> Response:
        """A browser asking for an address that is no page gets the workspace's page, not JSON;
        the API, the webhook and the other clients keep FastAPI's `{"detail": ...}`."""
        if getattr(exc, "status_code", 404) != 404 or not _wants_page(request):
            return await http_exception_handler(request, cast(StarletteHTTPException, exc))
        return render(
            request, "not_found.html", workspace_service(request), None, status_code=404, page_missing=True
        )

    app.add_exception_handler(StarletteHTTPException, _not_found)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(router)
    app.include_router(team_pages.router)
