"""`/webhooks/whatsapp`: Meta's verification handshake and the signed notifications.

POST: read the body up to the limit, verify `X-Hub-Signature-256` over the raw bytes (nothing is
stored when it fails), split it into its messages and statuses, store them all with one batched
insert into the inbox (deduplicated; deliveries arriving together share a transaction, see
`InboxWriter`), answer 200 once that has committed; then apply them (contacts, conversations,
messages, statuses: see `orchestrator.inbox`) and run the bot turns.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

import orjson
import structlog
from fastapi import APIRouter, FastAPI, HTTPException, Query
from fastapi.responses import PlainTextResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.types import Receive, Scope, Send

from orchestrator.channels.whatsapp.document import WebhookPayloadError
from orchestrator.channels.whatsapp.inbound import split_webhook
from orchestrator.channels.whatsapp.schema import SIGNATURE_HEADER, WEBHOOK_BODY_SCHEMA
from orchestrator.channels.whatsapp.signature import verify_signature
from orchestrator.core.db import DATABASE_RETRY_AFTER_S, database_unavailable
from orchestrator.inbox import prepare_delivery
from orchestrator.runtime.container import Service
from orchestrator.runtime.deps import ServiceDep

log = structlog.get_logger(__name__)
router = APIRouter(tags=["whatsapp"])
MAX_BODY_BYTES = 4 * 1024 * 1024  # Meta sends up to 3 MB
PATH = "/webhooks/whatsapp"


class WebhookAck(BaseModel):
    messages: int
    duplicates: int
    statuses: int


class WebhookRefusal(BaseModel):
    detail: str


@router.get(
    PATH,
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
        log.warning("webhook_verification_refused", mode=mode)
        raise HTTPException(status_code=403, detail="verification failed: wrong hub.mode or hub.verify_token")
    if challenge is None:
        raise HTTPException(status_code=400, detail="hub.challenge is missing")
    return challenge


# The refusal of a body past the limit, declared or as it is read.
_TOO_LARGE = {"detail": f"body larger than {MAX_BODY_BYTES} bytes"}
_UNAVAILABLE = {"detail": "the database is unavailable: the delivery was not acknowledged; retry"}


async def acknowledge(scope: Scope, receive: Receive, send: Send) -> None:
    """The webhook's POST as a plain ASGI application (see `_Acknowledgement`): read the body up to
    the limit, verify, split, store, answer. Refusals answer as FastAPI's `HTTPException` does
    (`{"detail": ...}`); an error of the storage propagates (a 500, nothing acknowledged)."""
    service: Service = scope["app"].state.service
    writer = service.inbox
    with service.turns.foreground.serving():  # this process's turns wait meanwhile (`Foreground`)
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            log.warning("webhook_too_large", declared=int(declared))
            return await _answer(send, 413, _TOO_LARGE)
        body = bytearray()
        while True:  # never read whole first: refused as soon as it passes the limit
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the sender went away before its body arrived: nothing stored, no answer
            body += message.get("body", b"")
            if len(body) > MAX_BODY_BYTES:
                log.warning("webhook_too_large", length=len(body))
                return await _answer(send, 413, _TOO_LARGE)
            if not message.get("more_body", False):
                break
        raw = bytes(body)
        header = _header(scope, b"x-hub-signature-256")
        if header is None:
            log.warning("webhook_unsigned", length=len(raw))
            return await _answer(send, 401, {"detail": "missing X-Hub-Signature-256 header"})
        if not verify_signature(service.settings.whatsapp_app_secret.get_secret_value(), raw, header):
            log.warning("webhook_bad_signature", length=len(raw))
            return await _answer(send, 401, {"detail": "X-Hub-Signature-256 does not match the body"})
        try:
            envelope = split_webhook(raw)
        except WebhookPayloadError as exc:
            log.warning("webhook_malformed", length=len(raw), error=str(exc)[:200])
            return await _answer(send, 400, {"detail": str(exc)})
        delivery = prepare_delivery(raw, envelope, at=service.clock.now())
        try:
            accepted = await writer.store(delivery)  # answered once its transaction has committed
        except Exception as exc:
            if not database_unavailable(exc):
                raise  # a bug: the server answers 500 and logs its traceback
            # Not acknowledged: Meta delivers it again (stored twice, it is kept once).
            log.warning("webhook_database_unavailable", error=repr(exc)[:300])
            return await _answer(send, 503, _UNAVAILABLE, retry_after_s=DATABASE_RETRY_AFTER_S)
        if accepted.new_ids and service.settings.run_turns:
            # Applied by the process's applier task, together with the items of the deliveries
            # arriving meanwhile; a crash before it is covered by the background sweep.
            media = service.media if delivery.media else None
            service.turns.apply_soon(
                accepted.new_ids, accepted.items, then=media.kick if media is not None else None
            )
        counts = {
            "messages": accepted.messages,
            "duplicates": accepted.duplicates,
            "statuses": accepted.statuses,
        }
        await _answer(send, 200, counts)


def _header(scope: Scope, name: bytes) -> str | None:
    """The first value of header `name` (lower case, as ASGI servers give the names)."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


async def _answer(
    send: Send, status: int, content: dict[str, Any], *, retry_after_s: int | None = None
) -> None:
    body = orjson.dumps(content)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if retry_after_s is not None:
        headers.append((b"retry-after", str(retry_after_s).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def is_acknowledgement(scope: Scope) -> bool:
    """Whether `scope` is a POST of the webhook's notifications (`ServiceApp` answers it first)."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return False
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path == PATH or (bool(root) and path == root + PATH)


class _Acknowledgement(APIRoute):
    """The route of the webhook's POST. Its declaration gives the OpenAPI description; the request is
    handed to `acknowledge`, a plain ASGI application, instead of the route's usual wrapping (a
    Request, exit stacks, dependency solving, validation and serialisation, a Response object): that
    wrapping cost about two thirds of what the whole bare endpoint `bench.ingest` compares against
    costs, and this endpoint needs none of it. The app (`ServiceApp`) hands the POST to
    `acknowledge` before even its middleware; this route answers what reaches the router anyway
    (an app built without `ServiceApp`)."""

    def __init__(self, path: str, **kwargs: Any) -> None:
        super().__init__(path, receive_notifications, **kwargs)
        self.app = acknowledge


async def receive_notifications() -> WebhookAck:
    """Meta's signed notifications: messages and delivery statuses, answered once stored."""
    # The route's declaration only: `_Acknowledgement` hands its requests to `acknowledge`.
    raise NotImplementedError("the route hands requests to `acknowledge`")


def install(app: FastAPI) -> None:
    """The webhook's routes on `app`. The POST is the app's first route, on the app's own router
    (an included router is matched through one more layer on every request)."""
    app.router.routes.insert(
        0,
        _Acknowledgement(
            PATH,
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
