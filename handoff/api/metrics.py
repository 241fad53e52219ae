"""`GET /metrics`: per queue and per rep assignment metrics for Prometheus (`handoff.metrics`), for
the bearer of `HANDOFF_METRICS_TOKEN` (anyone in development mode without one)."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from handoff.api.deps import ClockDep, ConfigDep, SessionsDep, SettingsDep
from handoff.api.errors import errors
from handoff.errors import Unauthenticated
from handoff.metrics import metrics_report, render_prometheus

router = APIRouter(tags=["ops"])


async def scraper(request: Request, settings: SettingsDep) -> None:
    """The caller may read the metrics: they name every user (the sign-in names) and their workload."""
    header = request.headers.get("authorization", "")
    given = header[7:].strip() if header[:7].lower() == "bearer " else ""
    expected = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    if expected:
        if not secrets.compare_digest(given.encode(), expected.encode()):
            raise Unauthenticated("the metrics need the bearer token of HANDOFF_METRICS_TOKEN")
    elif not settings.dev_mode:
        raise Unauthenticated(
            "the metrics are served with HANDOFF_METRICS_TOKEN only: set it, and give it to the scraper "
            "as its bearer token"
        )


@router.get("/metrics", response_class=Response, responses=errors(401))
async def prometheus_metrics(
    _scraper: Annotated[None, Depends(scraper)], sessions: SessionsDep, config: ConfigDep, clock: ClockDep
) -> Response:
    """Per queue and per rep assignment metrics in the Prometheus text format."""
    async with sessions() as session:
        report = await metrics_report(session, config=config, at=clock.now())
    return Response(content=render_prometheus(report), media_type=CONTENT_TYPE_LATEST)
