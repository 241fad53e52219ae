"""The rep API's error answers: their documented bodies, and the one place where the domain's
refusals (`handoff.errors`) become HTTP statuses.

    Unauthenticated -> 401 (with `WWW-Authenticate: Bearer`)
    Forbidden       -> 403        NotFound -> 404        Conflict -> 409
    Invalid, and an outbound message the Cloud API would refuse -> 422, shaped like the request
    validation errors: `{"detail": ["location: message"]}`

Anything else (a bare `LookupError`, `ValueError` or `KeyError` is a bug) is left to the server: 500.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from handoff.errors import (
    Conflict,
    Forbidden,
    HandoffError,
    Invalid,
    NotFound,
    TooManyAttempts,
    Unauthenticated,
)
from orchestrator.channels.whatsapp.outbound import OutboundValidationError


class Problem(BaseModel):
    detail: str


class ValidationProblem(BaseModel):
    detail: list[str] = Field(description="one line per problem: `location: message`")


_ERRORS: dict[int, str] = {
    400: "the body is not valid JSON",
    401: "missing, invalid or expired token",
    403: "visible, but the caller's role or ownership does not allow this",
    404: "does not exist, or is not visible to the caller",
    409: "the conversation's state does not allow this now",
    422: "the request is malformed",
}

_STATUS: tuple[tuple[type[HandoffError], int], ...] = (
    (TooManyAttempts, 429),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (Invalid, 422),
)


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: the body and meaning of each error status it may answer."""
    return {
        code: {"model": ValidationProblem if code == 422 else Problem, "description": _ERRORS[code]}
        for code in codes
    }


def paged(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`errors(*codes)` for a paged list, whose 200 answer says how many rows matched."""
    total = {"description": "matches before paging", "schema": {"type": "integer"}}
    return {200: {"headers": {"X-Total-Count": total}}, **errors(*codes)}


def status_of(exc: HandoffError) -> int:
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 500


async def handoff_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HandoffError)
    status = status_of(exc)
    if isinstance(exc, Invalid):
        return JSONResponse(status_code=422, content={"detail": [f"{exc.location}: {exc}"]})
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, TooManyAttempts):
        headers = {"Retry-After": str(exc.retry_after_s)}
    return JSONResponse(status_code=status, content={"detail": str(exc) or "refused"}, headers=headers)


async def outbound_invalid(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=422, content={"detail": [f"body: {exc}"]})


def install(app: FastAPI) -> None:
    """Register the mapping on `app` (the composition root calls this once)."""
    app.add_exception_handler(HandoffError, handoff_error)
    app.add_exception_handler(OutboundValidationError, outbound_invalid)
