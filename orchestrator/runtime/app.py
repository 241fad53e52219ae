"""The FastAPI application: webhook, rep API, health and metrics."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from types import FrameType
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from handoff.api import deps as api_deps
from handoff.api import errors as api_errors
from handoff.api.routers import ROUTERS
from handoff.web.pages import bad_address_page
from handoff.web.pages import install as install_workspace
from orchestrator.core.db import DATABASE_RETRY_AFTER_S, UNAVAILABLE
from orchestrator.core.settings import Settings, get_settings
from orchestrator.runtime.container import Service
from orchestrator.runtime.handback import GraphMemory, GraphResumer
from orchestrator.runtime.webhook import acknowledge, is_acknowledgement
from orchestrator.runtime.webhook import install as install_webhook

log = structlog.get_logger(__name__)


class ServiceApp(FastAPI):
    """The FastAPI app, with the webhook's POST (nearly every request of a busy number) handed to
    `webhook.acknowledge` before the middleware stack: Starlette's error and exception middleware,
    FastAPI's body limit and native telemetry and the router took about an eighth of the process's
    CPU at 50 requests in flight (`docs/benchmarks.md`), and it needs none of them: it reads its
    body up to its own limit, answers its own refusals, and an error of the storage propagates to
    the server, which answers 500 and logs it as Starlette's error middleware would. The price: the
    POST has no span of FastAPI's native telemetry."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if is_acknowledgement(scope):
            scope["app"] = self
            await acknowledge(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


@contextmanager
def _streams_end_on_stop(service: Service) -> Iterator[None]:
    """On SIGTERM or SIGINT, end the process's open event streams, then let the server's own handler
    run (uvicorn's: stop accepting, wait for the open responses, then the app's shutdown, where the
    turns in flight finish). A stream never finishes by itself: without this, one rep's open tab
    kept the process from ever stopping. Chained only where the server handles the signal in the
    main thread, as `handoff serve` does."""
    hub = service.notifier
    if hub is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    previous = {int(sig): signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    chained = {sig: handler for sig, handler in previous.items() if callable(handler)}

    def stopping(sig: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(hub.end_streams)
        chained[sig](sig, frame)

    for sig in chained:
        signal.signal(sig, stopping)
    try:
        yield
    finally:
        for sig, handler in chained.items():
            if signal.getsignal(sig) is stopping:
                signal.signal(sig, handler)


def create_app(
    *, settings: Settings | None = None, service: Service | None = None, **service_kwargs: Any
) -> FastAPI:
    """The app. With `service`, the caller runs the service (tests, replay); otherwise the app's
    lifespan starts one from `settings` (or the environment)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if service is not None:
            _expose(app, service)
            yield
            return
        # A process's own service (serve): its heap is frozen after startup (`core.heap`).
        async with Service.running(
            settings or get_settings(), **{"freeze_heap": True, "warm_graph": True, **service_kwargs}
        ) as running:
            _expose(app, running)
            with _streams_end_on_stop(running):
                yield

    app = ServiceApp(
        title="Handoff orchestrator",
        version="0.1.0",
        summary="WhatsApp AI agents in front, humans behind: handoff, routing and assignment.",
        lifespan=lifespan,
        # /docs is the workspace's offline Swagger UI (no CDN); see handoff/web/pages.py.
        docs_url=None,
        redoc_url=None,
    )
    if service is not None:
        _expose(app, service)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        page = bad_address_page(request)  # a browser's page address: the workspace's page
        if page is not None:
            return page
        problems = [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": problems})

    api_errors.install(app)

    async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # The rep API and the pages while the database cannot be reached: a 503 saying so, one
        # log line, instead of a 500 and a traceback for every request.
        log.warning("database_unavailable", path=request.url.path, error=repr(exc)[:300])
        return JSONResponse(
            status_code=503,
            content={"detail": "the database is unavailable: the request was not completed; retry shortly"},
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
        )

    for unavailable in UNAVAILABLE:
        app.add_exception_handler(unavailable, _database_unavailable)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], responses={503: {"description": "Still loading the agents' graph"}})
    async def readyz(request: Request) -> JSONResponse:
        """Whether to send this process traffic (a load balancer's readiness check; `/healthz` is
        its liveness): 503 until a process that runs turns has loaded the agents' graph."""
        running: Service | None = getattr(request.app.state, "service", None)
        if running is None or not running.ready:
            waiting_for = "service" if running is None else "graph"
            return JSONResponse({"status": "starting", "waiting_for": waiting_for}, status_code=503)
        return JSONResponse({"status": "ready"})

    install_webhook(app)  # the webhook's POST first: the route of nearly every request
    for router in ROUTERS:
        app.include_router(router)
    install_workspace(app)  # the browser pages, their static files and the offline API docs
    return app


def _expose(app: FastAPI, service: Service) -> None:
    """The webhook reads the whole service; the rep API only the parts it names (`handoff.api.deps`)."""
    app.state.service = service
    api_deps.expose(
        app.state,
        sessions=service.sessions,
        settings=service.settings,
        config=service.config,
        clock=service.clock,
        notifier=service.notifier,
        whatsapp=service.client,
        resumer=GraphResumer(config=service.config, llm=service.llm),
        dispatcher=service.dispatcher,
        memory=GraphMemory(service.graph),
    )
