"""Sign-in: the OAuth2 password flow (username: the rep id) for a signed, short-lived access token."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm

from handoff.api.deps import ClockDep, SessionsDep, SettingsDep
from handoff.api.errors import errors
from handoff.api.schemas import TokenOut
from handoff.users import issue_access_token, sign_in

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/token", responses=errors(401, 422))
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    sessions: SessionsDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> TokenOut:
    """OAuth2 password flow: username (the rep id) and password for a signed access token."""
    rep = await sign_in(sessions, username=form.username, secret=form.password, at=clock.now())
    ttl = timedelta(minutes=settings.jwt_ttl_minutes)
    token = issue_access_token(
        rep=rep, secret=settings.jwt_secret.get_secret_value(), at=clock.now(), ttl=ttl
    )
    return TokenOut(access_token=token, expires_in=int(ttl.total_seconds()))
