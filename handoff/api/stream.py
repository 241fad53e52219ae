"""The live event stream: Server-Sent Events of what the caller may see (`handoff.notify`)."""

from __future__ import annotations

import asyncio
from asyncio import FIRST_COMPLETED as FIRST
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from handoff.api.deps import ActorDep, HubDep, viewer_now
from handoff.api.errors import errors
from handoff.api.schemas import EVENT_ID_MAX, StreamReady
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
    request: Request,
    actor: ActorDep,
    hub: HubDep,
    types: Annotated[list[EventType] | None, Query(description="only these event types")] = None,
    last_event_id: Annotated[
        int | None,
        Header(alias="Last-Event-ID", ge=0, le=EVENT_ID_MAX, description="resume after this event id"),
    ] = None,
    after: Annotated[
        int | None,
        Query(
            ge=0,
            le=EVENT_ID_MAX,
            description="start after this event id: what the caller has already seen (a page's "
            "render), so nothing committed before the stream connects is lost; `Last-Event-ID` wins",
        ),
    ] = None,
) -> StreamingResponse:
    """The caller's live notifications (assignment, new customer message, transfer, SLA warning...)."""
    if last_event_id is None:
        # An `EventSource` cannot set the header on its first connection; when it reconnects by
        # itself it sends the last id it received, which is newer than the one in its URL.
        last_event_id = after
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
                    shown = subscription.shown(item)
                    if shown is not None:
                        replayed.add(item.id)
                        yield shown.sse()
            # Until cut off for falling behind, revoked, or ended (the process is stopping). Every
            # `STREAM_PING_S`, busy or idle, the stream checks who the caller is now: a rep disabled,
            # or whose role or queues changed (through any process), ends within that interval; a
            # client still signed in reconnects, with what it may see now.
            loop = asyncio.get_running_loop()
            checked = loop.time()
            while not (subscription.lagged or subscription.revoked or subscription.closed.is_set()):
                getting = asyncio.ensure_future(subscription.queue.get())
                ended = asyncio.ensure_future(subscription.closed.wait())
                wait_s = max(0.0, checked + STREAM_PING_S - loop.time())
                try:
                    done, _ = await asyncio.wait({getting, ended}, timeout=wait_s, return_when=FIRST)
                finally:
                    # Also when the client went away meanwhile (the stream is cancelled here): a wait
                    # left pending would be destroyed later with the subscription, logged as an error.
                    for pending in (getting, ended):
                        if not pending.done():
                            pending.cancel()
                if ended in done:
                    continue
                if loop.time() - checked >= STREAM_PING_S:
                    if await viewer_now(request) != subscription.viewer:
                        break  # an event taken meanwhile is not sent: it is replayed if still theirs
                    checked = loop.time()
                    if getting not in done:
                        yield ": ping\n\n"
                if getting in done:
                    item = getting.result()
                    if item.id not in replayed:
                        yield item.sse()
            # Cut off for falling behind, or revoked: a client that may reconnect catches up with
            # Last-Event-ID; one that may not gets a 401.
        finally:
            hub.unsubscribe(subscription)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
