"""`/webhooks/whatsapp`: Meta's verification handshake and the signed notifications.

POST: read the body up to the limit, verify `X-Hub-Signature-256` over the raw bytes (nothing is
stored when it fails), split it into its messages and statuses, store them all with one batched
insert into the inbox (deduplicated; deliveries arriving together share a transaction, see
`InboxWriter`), answer 200 once that has committed; then apply them one by one (contacts,
conversations, messages, statuses: see `orchestrator.inbox`) and run the bot turns.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, cast

import orjson
import structlog
from fastapi import APIRouter, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import PlainTextResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel

from orchestrator.channels.whatsapp.document import WebhookPayloadError
from orchestrator.channels.whatsapp.inbound import split_webhook
from orchestrator.channels.whatsapp.schema import SIGNATURE_HEADER, WEBHOOK_BODY_SCHEMA
from orchestrator.channels.whatsapp.signature import verify_signature
from orchestrator.inbox import InboxWriter, prepare_delivery
from orchestrator.runtime.container import Service
from orchestrator.runtime.deps import ServiceDep
from orchestrator.runtime.wakeup import CHANNEL

log = structlog.get_logger(__name__)
router = APIRouter(tags=["whatsapp"])
MAX_BODY_BYTES = 4 * 1024 * 1024  # Meta sends up to 3 MB


class WebhookAck(BaseModel):
    messages: int
    duplicates: int
    statuses: int


class WebhookRefusal(BaseModel):
    detail: str


@router.get(
    "/webhooks/whatsapp",
    response_class=PlainTextResponse,
    responses={
        400: {"description": "hub.challenge is missing"},
        403: {"description": "wrong hub.mode or hub.verify_token"},
    },
)
async def verify_subscription(
    service: ServiceDep,
    mode: Annotated[str | None, Query(alias="hub.mode")] = None,
    token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge")] = None,
) -> str:
    expected = service.settings.whatsapp_verify_token.get_secret_value()
    if mode != "subscribe" or token is None or not secrets.compare_digest(token, expected):
        raise HTTPException(status_code=403, detail="verification failed: wrong hub.mode or hub.verify_token")
    if challenge is None:
        raise HTTPException(status_code=400, detail="hub.challenge is missing")
    return challenge


async def receive(request: Request) -> Response:
    # The service and the inbox writer are read from the app's state (`_Acknowledgement`).
    service: Service = request.app.state.service
    writer: InboxWriter = request.app.state.inbox_writer
    with service.turns.foreground.serving():  # this process's turns wait meanwhile (`Foreground`)
        body = await read_body(request, limit=MAX_BODY_BYTES)
        header = request.headers.get("x-hub-signature-256")
        if header is None:
            raise HTTPException(status_code=401, detail="missing X-Hub-Signature-256 header")
        if not verify_signature(service.settings.whatsapp_app_secret.get_secret_value(), body, header):
            log.warning("webhook_bad_signature", length=len(body))
            raise HTTPException(status_code=401, detail="X-Hub-Signature-256 does not match the body")
        try:
            envelope = split_webhook(body)
        except WebhookPayloadError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        delivery = prepare_delivery(body, envelope, at=service.clock.now())
        accepted = await writer.store(delivery)  # answered once its transaction has committed
        if accepted.new_ids and service.settings.run_turns:
            # Applied by the process's applier task, together with the items of the deliveries
            # arriving meanwhile; a crash before it is covered by the background sweep.
            media = service.media if delivery.media else None
            service.turns.apply_soon(
                accepted.new_ids, accepted.items, then=media.kick if media is not None else None
            )
        # A ready response: FastAPI neither validates nor serialises it again (`response_model` is
        # what the API documents).
        return Response(
            orjson.dumps(
                {
                    "messages": accepted.messages,
                    "duplicates": accepted.duplicates,
                    "statuses": accepted.statuses,
                }
            ),
            media_type="application/json",
        )


class _Acknowledgement(APIRoute):
    """The route of the webhook's POST: its endpoint takes the request and returns a ready response,
    so the route hands the request straight to it. FastAPI's dependency solving, validation and
    serialisation were a measurable share of each delivery's CPU, and this endpoint needs none of
    them; the OpenAPI description still comes from the route's declaration."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return cast(Callable[[Request], Coroutine[Any, Any, Response]], self.endpoint)


def install(app: FastAPI) -> None:
    """The webhook's routes on `app`. The POST is the app's first route, on the app's own router
    (an included router is matched through one more layer on every request)."""
    app.router.routes.insert(
        0,
        _Acknowledgement(
            "/webhooks/whatsapp",
            receive,
            methods=["POST"],
            tags=["whatsapp"],
            # Documented only: the body is read as raw bytes (the signature covers those bytes)
            # and never validated against this schema, so FastAPI neither parses nor checks it.
            openapi_extra={
                "parameters": [SIGNATURE_HEADER],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": WEBHOOK_BODY_SCHEMA}},
                },
            },
            response_model=WebhookAck,
            responses={
                400: {
                    "model": WebhookRefusal,
                    "description": "malformed payload or JSON nested too deep: the detail says what is wrong",
                },
                401: {
                    "model": WebhookRefusal,
                    "description": "missing or wrong X-Hub-Signature-256; nothing is stored",
                },
                413: {
                    "model": WebhookRefusal,
                    "description": "body larger than Meta's 3 MB (with margin); refused while reading",
                },
            },
        ),
    )
    app.include_router(router)


def inbox_writer(service: Service) -> InboxWriter:
    """The webhook's writer for `service`: an acknowledge-only process wakes its workers with each
    write that stored new items (PostgreSQL delivers the NOTIFY at its commit)."""
    return InboxWriter(service.engine, notify=None if service.settings.run_turns else CHANNEL)


async def read_body(request: Request, *, limit: int) -> bytes:
    """The body, refused with a 413 as soon as it passes `limit` bytes (never read whole first)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(status_code=413, detail=f"body larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(status_code=413, detail=f"body larger than {limit} bytes")
    return bytes(body)
