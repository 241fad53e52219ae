"""The domain's refusals map to their HTTP statuses at the edge; a bare builtin error is a bug (500)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from handoff.api import errors as api_errors
from handoff.errors import Conflict, HandoffError, Invalid, NotFound, NotOwner, Unauthenticated, Unavailable


def _app_raising(exc: Exception) -> FastAPI:
    app = FastAPI()
    api_errors.install(app)

    @app.get("/boom")
    async def boom() -> None:
        raise exc

    return app


async def _get(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/boom")


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (Unauthenticated("no token"), 401),
        (NotOwner("only the owner"), 403),
        (NotFound("conversation not found"), 404),
        (Conflict("closed"), 409),
        (Unavailable("at capacity"), 409),
    ],
)
async def test_each_refusal_answers_its_status_with_its_message(exc: HandoffError, status: int) -> None:
    response = await _get(_app_raising(exc))
    assert response.status_code == status
    assert response.json() == {"detail": str(exc)}


async def test_unauthenticated_asks_for_a_bearer_token() -> None:
    response = await _get(_app_raising(Unauthenticated("no token")))
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_invalid_is_shaped_like_a_validation_error() -> None:
    response = await _get(_app_raising(Invalid("unknown queue 'x'", location="body.queue")))
    assert response.status_code == 422
    assert response.json() == {"detail": ["body.queue: unknown queue 'x'"]}


@pytest.mark.parametrize("exc", [LookupError("x"), KeyError("x"), ValueError("x")])
async def test_a_bare_builtin_error_is_a_server_error_not_a_404_or_409(exc: Exception) -> None:
    response = await _get(_app_raising(exc))
    assert response.status_code == 500
