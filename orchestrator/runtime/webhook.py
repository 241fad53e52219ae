"""`/webhooks/whatsapp`: Meta's verification handshake and the signed notifications.

POST: verify `X-Hub-Signature-256` over the raw bytes (nothing is stored when it fails), parse,
persist every message and status (deduplicated) with the raw body in one transaction, answer 200,
and run the bot turns off the request path.
"""

from __future__ import annotations

import secrets
from typing import Annotated

import structlog
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from orchestrator.channels.whatsapp.inbound import WebhookPayloadError, parse_webhook
from orchestrator.channels.whatsapp.signature import verify_signature
from orchestrator.conversations import apply_status, store_inbound
from orchestrator.core.enums import Owner
from orchestrator.core.tables import WebhookDelivery
from orchestrator.runtime.deps import ServiceDep

log = structlog.get_logger(__name__)
router = APIRouter(tags=["whatsapp"])
MAX_BODY_BYTES = 4 * 1024 * 1024  # Meta sends up to 3 MB


class WebhookAck(BaseModel):
    messages: int
    duplicates: int
    statuses: int


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


@router.post(
    "/webhooks/whatsapp",
    responses={
        400: {"description": "malformed payload: the detail says what is wrong"},
        401: {"description": "missing or wrong X-Hub-Signature-256; nothing is stored"},
        413: {"description": "body larger than Meta's 3 MB (with margin)"},
    },
)
async def receive(request: Request, service: ServiceDep) -> WebhookAck:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise HTTPException(status_code=413, detail=f"body larger than {MAX_BODY_BYTES} bytes")
    header = request.headers.get("x-hub-signature-256")
    if header is None:
        raise HTTPException(status_code=401, detail="missing X-Hub-Signature-256 header")
    if not verify_signature(service.settings.whatsapp_app_secret.get_secret_value(), body, header):
        log.warning("webhook_bad_signature", length=len(body))
        raise HTTPException(status_code=401, detail="X-Hub-Signature-256 does not match the body")
    try:
        batch = parse_webhook(body)
    except WebhookPayloadError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    now = service.clock.now()
    to_run: set[int] = set()
    new = duplicates = 0
    async with service.sessions() as session, session.begin():
        session.add(
            WebhookDelivery(
                body=body.decode("utf-8", errors="replace"),
                messages=len(batch.messages),
                statuses=len(batch.statuses),
                received_at=now,
            )
        )
        for msg in batch.messages:
            stored, conversation = await store_inbound(session, msg=msg, at=now)
            if stored is None:
                duplicates += 1
                continue
            new += 1
            if conversation.owner == Owner.BOT and conversation.id is not None:
                to_run.add(conversation.id)
        for status in batch.statuses:
            await apply_status(session, status=status, at=now)
    for conversation_id in sorted(to_run):
        service.turns.schedule(conversation_id)
    return WebhookAck(messages=new, duplicates=duplicates, statuses=len(batch.statuses))
