"""`GET /metrics`: per queue and per rep assignment metrics for Prometheus (`handoff.metrics`)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from handoff.api.deps import ClockDep, ConfigDep, SessionsDep
from handoff.metrics import metrics_report, render_prometheus

router = APIRouter(tags=["ops"])


@router.get("/metrics", response_class=Response)
async def prometheus_metrics(sessions: SessionsDep, config: ConfigDep, clock: ClockDep) -> Response:
    """Per queue and per rep assignment metrics in the Prometheus text format."""
    async with sessions() as session:
        report = await metrics_report(session, config=config, at=clock.now())
    return Response(content=render_prometheus(report), media_type=CONTENT_TYPE_LATEST)
