"""Sign-in: the OAuth2 password flow (username: the rep id) for a signed, short-lived access token."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm

from handoff.api.deps import ClockDep, SessionsDep, SettingsDep
from handoff.api.errors import errors
from handoff.api.schemas import TokenOut
from handoff.errors import Unauthenticated
from handoff.models import Rep
from handoff.users import issue_access_token, verify_password

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/token", responses=errors(401, 422))
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    sessions: SessionsDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> TokenOut:
    """OAuth2 password flow: username (the rep id) and password for a signed access token."""
    async with sessions() as session:
        rep = await session.get(Rep, form.username)
    stored = rep.password_hash if rep is not None else None
    # scrypt is deliberately slow: off the event loop.
    if rep is None or not await asyncio.to_thread(verify_password, form.password, stored):
        raise Unauthenticated("incorrect username or password")
    ttl = timedelta(minutes=settings.jwt_ttl_minutes)
    token = issue_access_token(
        rep=rep, secret=settings.jwt_secret.get_secret_value(), at=clock.now(), ttl=ttl
    )
    return TokenOut(access_token=token, expires_in=int(ttl.total_seconds()))
