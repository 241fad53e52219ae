"""The live event stream: Server-Sent Events of what the caller may see (`handoff.notify`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from handoff.api.deps import ActorDep, HubDep
from handoff.api.errors import errors
from handoff.api.schemas import StreamReady
from orchestrator.core.enums import EventType

STREAM_PING_S = 15.0

router = APIRouter(prefix="/api/stream", tags=["stream"])


@router.get(
    "",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Server-Sent Events: `ready` once subscribed, then one event per context-log "
            "entry the caller may see (`id` is the entry id, `event` its type, `data` a JSON object "
            "with the entry and the conversation's owner, queue and assignee).",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **errors(401, 422),
    },
)
async def stream(
    actor: ActorDep,
    hub: HubDep,
    types: Annotated[list[EventType] | None, Query(description="only these event types")] = None,
    last_event_id: Annotated[
        int | None, Header(alias="Last-Event-ID", ge=0, description="resume after this event id")
    ] = None,
) -> StreamingResponse:
    """The caller's live notifications (assignment, new customer message, transfer, SLA warning...)."""
    subscription = hub.subscribe(actor.viewer, types=frozenset(str(t) for t in types) if types else None)

    async def events() -> AsyncIterator[str]:
        try:
            ready = StreamReady(rep_id=actor.id, resumed_after=last_event_id)
            yield f"retry: 3000\nevent: ready\ndata: {ready.model_dump_json()}\n\n"
            # Ids are not in commit order on PostgreSQL (a transaction may commit after a later
            # id's), so live events are never filtered by "newer than the last one"; only the
            # ones the replay of a resumed stream already sent are skipped.
            replayed: set[int] = set()
            if last_event_id is not None:
                for item in await hub.missed(actor.viewer, after=last_event_id):
                    if subscription.wants(item):
                        replayed.add(item.id)
                        yield item.sse()
            while not subscription.lagged:
                try:
                    item = await asyncio.wait_for(subscription.queue.get(), timeout=STREAM_PING_S)
                except TimeoutError:
                    yield ": ping\n\n"
                    continue
                if item.id not in replayed:
                    yield item.sse()
            # Cut off for falling behind: the client reconnects with Last-Event-ID and catches up.
        finally:
            hub.unsubscribe(subscription)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
