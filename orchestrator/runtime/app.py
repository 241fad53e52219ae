"""The FastAPI application: webhook, rep API, health and metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from handoff.api import errors as api_errors
from handoff.metrics import router as metrics_router
from handoff.routes import admin_router, auth_router
from handoff.routes import router as rep_router
from orchestrator.core.settings import Settings, get_settings
from orchestrator.runtime.container import Service
from orchestrator.runtime.webhook import router as webhook_router


def create_app(
    *, settings: Settings | None = None, service: Service | None = None, **service_kwargs: Any
) -> FastAPI:
    """The app. With `service`, the caller runs the service (tests, replay); otherwise the app's
    lifespan starts one from `settings` (or the environment)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if service is not None:
            app.state.service = service
            yield
            return
        async with Service.running(settings or get_settings(), **service_kwargs) as running:
            app.state.service = running
            yield

    app = FastAPI(
        title="Handoff orchestrator",
        version="0.1.0",
        summary="WhatsApp AI agents in front, humans behind: handoff, routing and assignment.",
        lifespan=lifespan,
    )
    if service is not None:
        app.state.service = service

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": problems})

    api_errors.install(app)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(webhook_router)
    app.include_router(auth_router)
    app.include_router(rep_router)
    app.include_router(admin_router)
    app.include_router(metrics_router)
    return app
