"""Browser sign-in: a server-side session behind an HttpOnly cookie, with CSRF protection.

- Sign-in takes the rep id and their password, or their API token (the demo reps have only that);
  a random token goes in the cookie and only its SHA-256 is stored (`WebSession`).
- A session ends at sign-out (revoked), after `SESSION_TTL`, or as soon as the rep's password or API
  token changes or the user is disabled (`credential` no longer matches).
- CSRF (synchronizer token): each session has its own token, given to the page in a `<meta>` tag;
  every unsafe request made with the cookie must carry it in `X-CSRF-Token` (forms: a `csrf` field),
  and a request whose `Origin` names another host is refused. The cookie is `SameSite=Lax` too.
  The sign-in form itself is protected by a double-submit cookie (there is no session yet).
- The bearer API is unchanged: a request with an `Authorization` header never looks at the cookie.

Keyword-only functions; the caller owns the transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit

from fastapi import HTTPException, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.models import Rep, WebSession
from handoff.users import DEVICE_TTL

COOKIE = "handoff_session"
LOGIN_CSRF_COOKIE = "handoff_login_csrf"
# Marks a browser its user signed in with (`handoff.users.device_token`): their failed sign-ins
# there are counted apart from unknown clients'. Sent to the sign-in form only.
DEVICE_COOKIE = "handoff_device"
CSRF_HEADER = "X-CSRF-Token"
SESSION_TTL = timedelta(hours=12)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def credential_fingerprint(rep: Rep) -> str:
    """Changes when the password or the API token changes, or both are cleared (a disabled user)."""
    return _digest(f"{rep.password_hash or ''}|{rep.token_hash or ''}")[:32]


async def start_session(session: AsyncSession, *, rep: Rep, at: datetime) -> tuple[str, WebSession]:
    """A new signed-in browser for `rep`: the cookie's token (returned once) and the stored row."""
    token = secrets.token_urlsafe(32)
    row = WebSession(
        id=_digest(token),
        rep_id=rep.id,
        csrf_token=secrets.token_urlsafe(32),
        credential=credential_fingerprint(rep),
        created_at=at,
        expires_at=at + SESSION_TTL,
    )
    session.add(row)
    await session.flush()
    return token, row


async def find_session(session: AsyncSession, *, token: str, at: datetime) -> tuple[Rep, WebSession] | None:
    """The rep and session behind a cookie's token, if the session is still good."""
    row = await session.get(WebSession, _digest(token))
    if row is None or row.revoked_at is not None or row.expires_at <= at:
        return None
    rep = await session.get(Rep, row.rep_id)
    if rep is None or not hmac.compare_digest(row.credential, credential_fingerprint(rep)):
        return None
    return rep, row


async def end_session(session: AsyncSession, *, token: str, at: datetime) -> None:
    row = await session.get(WebSession, _digest(token))
    if row is not None and row.revoked_at is None:
        row.revoked_at = at
        session.add(row)
        await session.flush()


def same_origin(request: Request) -> bool:
    """False when the browser says the request comes from a page of another host."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", request.url.netloc)


def tokens_match(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


def require_csrf(request: Request, row: WebSession, *, form_token: str | None = None) -> None:
    """403 unless an unsafe request carries the session's CSRF token and comes from this origin."""
    if request.method in SAFE_METHODS:
        return
    given = request.headers.get(CSRF_HEADER) or form_token
    if not same_origin(request) or not tokens_match(row.csrf_token, given):
        raise HTTPException(status_code=403, detail="missing or wrong CSRF token (reload the page)")


async def browser_session_rep(session: AsyncSession, *, request: Request, at: datetime) -> Rep | None:
    """The rep signed in by the session cookie (None without a valid one); for an unsafe request the
    CSRF token is required (403 otherwise). Used by the API's authentication when no bearer token
    is sent, so a page (and its `EventSource`) calls the same endpoints under the same rules."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    found = await find_session(session, token=token, at=at)
    if found is None:
        return None
    rep, row = found
    require_csrf(request, row)
    return rep


def _secure(request: Request) -> bool:
    """Cookies only over HTTPS: always in a deployment (behind a TLS proxy the request this process
    sees may be plain HTTP, and the proxy's forwarded scheme is not trusted by default); in
    development mode when the request came over HTTPS."""
    return request.url.scheme == "https" or not request.app.state.settings.dev_mode


def _set_cookie(
    response: Response,
    request: Request,
    name: str,
    value: str,
    *,
    max_age: timedelta,
    path: str,
    samesite: Literal["lax", "strict"],
) -> None:
    """Every cookie of ours: HttpOnly, and `Secure` as `_secure` says."""
    response.set_cookie(
        name,
        value,
        max_age=int(max_age.total_seconds()),
        httponly=True,
        samesite=samesite,
        secure=_secure(request),
        path=path,
    )


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    _set_cookie(response, request, COOKIE, token, max_age=SESSION_TTL, path="/", samesite="lax")


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


def set_login_csrf_cookie(response: Response, request: Request, token: str) -> None:
    """The sign-in form's double-submit token: the form's hidden field must equal this cookie."""
    _set_cookie(
        response,
        request,
        LOGIN_CSRF_COOKIE,
        token,
        max_age=timedelta(hours=1),
        path="/login",
        samesite="strict",
    )


def set_device_cookie(response: Response, request: Request, token: str) -> None:
    """The mark of a browser the user signed in with (`DEVICE_COOKIE`), sent to the sign-in form only."""
    _set_cookie(response, request, DEVICE_COOKIE, token, max_age=DEVICE_TTL, path="/login", samesite="strict")


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/")
