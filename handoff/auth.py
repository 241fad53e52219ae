"""Who is calling the rep API. Reps, leads and admins authenticate with a bearer token (stored hashed).

Visibility (DESIGN.md): a rep sees the conversations assigned to them and those waiting in their own
queues; a lead sees everything in their queues; an admin sees everything. Invisible things answer 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlmodel import col

from handoff.models import Rep, RepQueue
from handoff.service import hash_token
from orchestrator.deps import SessionDep

bearer = HTTPBearer(auto_error=False, description="rep API token")


async def current_rep(
    session: SessionDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Rep:
    if credentials is None:
        raise HTTPException(
            status_code=401, detail="missing bearer token", headers={"WWW-Authenticate": "Bearer"}
        )
    rep = (
        (await session.execute(select(Rep).where(col(Rep.token_hash) == hash_token(credentials.credentials))))
        .scalars()
        .first()
    )
    if rep is None:
        raise HTTPException(status_code=401, detail="invalid token", headers={"WWW-Authenticate": "Bearer"})
    return rep


RepDep = Annotated[Rep, Depends(current_rep)]


async def queues_of(session: SessionDep, rep: Rep) -> list[str]:
    rows = await session.execute(select(col(RepQueue.queue)).where(col(RepQueue.rep_id) == rep.id))
    return [str(q) for q in rows.scalars()]
