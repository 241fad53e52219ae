"""The rep API's FastAPI dependencies, declared once as `Annotated` aliases.

Each reads one part the composition root puts on `app.state` (`expose` lists them): the session
factory, settings, configuration, clock, notification hub, Graph API client and bot resumer. No
route sees the whole running service, and importing this module loads neither the agents, nor
LangGraph, nor the composition root.

Who is calling: two kinds of bearer token, both sent as `Authorization: Bearer <token>` (FastAPI's
OAuth2 password flow conventions, so `/docs` can log in), or, without an `Authorization` header, a
signed-in browser's session cookie (with its CSRF token on unsafe requests; `handoff/web/session.py`),
so the workspace pages use these same endpoints:
- an access token from `POST /api/auth/token` (username + password): a signed JWT, short-lived;
- an API token (issued by an admin, or `demo-<id>` for the demo reps): stored as a SHA-256 hash.
The rep is loaded in a short session of its own, closed before the route runs: a request never holds
a database transaction open just for authentication (on SQLite every transaction takes the write
lock, and the live stream lasts for hours). 401 without a valid token; 403 for a role that may not
use an endpoint at all. Whether a conversation is visible (404 when not) is decided in the queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff.erasure import BotMemory
from handoff.errors import Forbidden, Unauthenticated
from handoff.handback import BotResumer
from handoff.models import Rep
from handoff.notify import NotificationHub
from handoff.policy import Viewer, viewer_of
from handoff.users import decode_access_token, looks_like_jwt, password_fingerprint, rep_by_api_token
from handoff.web.session import browser_session_rep
from orchestrator.channels.whatsapp.client import GraphClient
from orchestrator.core.clock import Clock
from orchestrator.core.config import AppConfig
from orchestrator.core.enums import Role
from orchestrator.core.settings import Settings
from orchestrator.outbox import Dispatcher


def expose(
    state: Any,
    *,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    config: AppConfig,
    clock: Clock,
    notifier: NotificationHub | None,
    whatsapp: GraphClient,
    resumer: BotResumer,
    dispatcher: Dispatcher,
    memory: BotMemory,
) -> None:
    """Put the parts the rep API reads on `app.state` (the composition root calls this)."""
    state.sessions, state.settings, state.config, state.clock = sessions, settings, config, clock
    state.notifier, state.whatsapp, state.resumer = notifier, whatsapp, resumer
    state.dispatcher, state.memory = dispatcher, memory


def get_sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    return sessions


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_config(request: Request) -> AppConfig:
    config: AppConfig = request.app.state.config
    return config


def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


def get_hub(request: Request) -> NotificationHub:
    hub: NotificationHub | None = request.app.state.notifier
    assert hub is not None, "the notification hub is started with the service"
    return hub


def get_resumer(request: Request) -> BotResumer:
    resumer: BotResumer = request.app.state.resumer
    return resumer


SessionsDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ConfigDep = Annotated[AppConfig, Depends(get_config)]
ClockDep = Annotated[Clock, Depends(get_clock)]
HubDep = Annotated[NotificationHub, Depends(get_hub)]
ResumerDep = Annotated[BotResumer, Depends(get_resumer)]


def get_memory(request: Request) -> BotMemory:
    memory: BotMemory = request.app.state.memory
    return memory


MemoryDep = Annotated[BotMemory, Depends(get_memory)]


@dataclass(frozen=True)
class Sender:
    """Sends what a transaction queued for one conversation once it is committed, in the background
    (`outbox.Dispatcher`): the request answers with the message `pending` and never waits for Graph
    or its back-off; the outcome (sent, or failed with Meta's reason) reaches the rep live."""

    dispatcher: Dispatcher

    def after_commit(self, conversation_id: int) -> None:
        self.dispatcher.kick(conversation_id)


def get_sender(request: Request) -> Sender:
    dispatcher: Dispatcher = request.app.state.dispatcher
    return Sender(dispatcher=dispatcher)


SenderDep = Annotated[Sender, Depends(get_sender)]


# -- who is calling ------------------------------------------------------------------------------
oauth2 = OAuth2PasswordBearer(
    tokenUrl="/api/auth/token",
    auto_error=False,
    description="An access token from `/api/auth/token`, or an API token issued by an admin.",
)


@dataclass(frozen=True)
class Actor:
    """The authenticated caller: their rep row (detached) and what they may see and do."""

    rep: Rep
    viewer: Viewer

    @property
    def id(self) -> str:
        return self.rep.id

    @property
    def role(self) -> Role:
        return self.viewer.role


async def current_actor(
    request: Request,
    sessions: SessionsDep,
    settings: SettingsDep,
    clock: ClockDep,
    token: Annotated[str | None, Depends(oauth2)],
) -> Actor:
    if not token:
        # A signed-in browser (session cookie; CSRF token on unsafe requests) instead of a bearer.
        async with sessions() as session:
            browser = await browser_session_rep(session, request=request, at=clock.now())
            if browser is None:
                raise Unauthenticated("missing bearer token")
            return Actor(rep=browser, viewer=await viewer_of(session, rep=browser))
    async with sessions() as session:
        rep: Rep | None = None
        if looks_like_jwt(token):
            claims = decode_access_token(token, secret=settings.jwt_secret.get_secret_value(), at=clock.now())
            if claims is not None:
                found = await session.get(Rep, claims.rep_id)
                if (
                    found is not None
                    and found.password_hash is not None
                    and claims.fingerprint == password_fingerprint(found.password_hash)
                ):
                    rep = found
        if rep is None:
            rep = await rep_by_api_token(session, token=token)
        if rep is None:
            raise Unauthenticated("invalid or expired token")
        viewer = await viewer_of(session, rep=rep)
    return Actor(rep=rep, viewer=viewer)


ActorDep = Annotated[Actor, Depends(current_actor)]


async def viewer_now(request: Request) -> Viewer | None:
    """What the caller of this (long-lived) request may see now: None once its credentials would no
    longer be accepted. A role or queues changed since it began give another `Viewer`."""
    state = request.app.state
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else None
    try:
        actor = await current_actor(request, state.sessions, state.settings, state.clock, token)
    except Unauthenticated:
        return None
    return actor.viewer


async def current_admin(actor: ActorDep) -> Actor:
    if actor.role != Role.ADMIN:
        raise Forbidden("only an admin may do this")
    return actor


AdminDep = Annotated[Actor, Depends(current_admin)]
