"""Who is calling the rep API, and what their role lets them do.

Two kinds of bearer token, both sent as `Authorization: Bearer <token>` (FastAPI's OAuth2 password
flow conventions, so `/docs` can log in):
- an access token from `POST /api/auth/token` (username + password): a signed JWT, short-lived;
- an API token (issued by an admin, or `demo-<id>` for the demo reps): stored as a SHA-256 hash.
Without an `Authorization` header, a signed-in browser's session cookie is accepted instead (with
its CSRF token on unsafe requests; `handoff/web/session.py`), so the pages use these same endpoints.

The rep is loaded in a short session of its own, closed before the route runs: a request never holds
a database transaction open just for authentication (on SQLite every transaction takes the write
lock, and the live stream lasts for hours).

Answers: 401 without a valid token; 403 for a role that may not use an endpoint at all. Whether a
conversation is visible (404 when not) is decided in the queries (`users.visibility_clause`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import OAuth2PasswordBearer

from handoff.models import Rep
from handoff.users import (
    Viewer,
    decode_access_token,
    looks_like_jwt,
    password_fingerprint,
    rep_by_api_token,
    viewer_of,
)
from handoff.web.session import browser_session_rep
from orchestrator.core.enums import Role
from orchestrator.runtime.deps import ServiceDep

oauth2 = OAuth2PasswordBearer(
    tokenUrl="/api/auth/token",
    auto_error=False,
    description="An access token from `/api/auth/token`, or an API token issued by an admin.",
)


@dataclass(frozen=True)
class Actor:
    """The authenticated caller: their rep row (detached) and what they may see."""

    rep: Rep
    viewer: Viewer

    @property
    def id(self) -> str:
        return self.rep.id

    @property
    def role(self) -> Role:
        return self.viewer.role


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


async def current_actor(
    request: Request, service: ServiceDep, token: Annotated[str | None, Depends(oauth2)]
) -> Actor:
    if not token:
        # A signed-in browser (session cookie; CSRF token on unsafe requests) instead of a bearer.
        async with service.sessions() as session:
            browser = await browser_session_rep(session, request=request, at=service.clock.now())
            if browser is None:
                raise _unauthorized("missing bearer token")
            return Actor(rep=browser, viewer=await viewer_of(session, rep=browser))
    async with service.sessions() as session:
        rep: Rep | None = None
        if looks_like_jwt(token):
            claims = decode_access_token(
                token, secret=service.settings.jwt_secret.get_secret_value(), at=service.clock.now()
            )
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
            raise _unauthorized("invalid or expired token")
        viewer = await viewer_of(session, rep=rep)
    return Actor(rep=rep, viewer=viewer)


ActorDep = Annotated[Actor, Depends(current_actor)]


def require_role(actor: Actor, *roles: Role) -> None:
    if actor.role not in roles:
        allowed = " or ".join(str(r) for r in roles)
        raise HTTPException(status_code=403, detail=f"only a {allowed} may do this")


async def current_admin(actor: ActorDep) -> Actor:
    require_role(actor, Role.ADMIN)
    return actor


AdminDep = Annotated[Actor, Depends(current_admin)]
