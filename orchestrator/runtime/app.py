"""The FastAPI application: webhook, rep API, the rep workspace in the browser, health and metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from handoff.metrics import router as metrics_router
from handoff.routes import admin_router, auth_router
from handoff.routes import router as rep_router
from handoff.web.pages import install as install_workspace
from handoff.workspace_api import router as workspace_router
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
        # /docs is the workspace's offline Swagger UI (no CDN); see handoff/web/pages.py.
        docs_url=None,
        redoc_url=None,
    )
    if service is not None:
        app.state.service = service

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": problems})

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(webhook_router)
    app.include_router(auth_router)
    app.include_router(rep_router)
    app.include_router(workspace_router)
    app.include_router(admin_router)
    app.include_router(metrics_router)
    install_workspace(app)  # the browser pages, their static files and the offline API docs
    return app
