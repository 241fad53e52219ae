"""An in-memory stand-in for the Graph `/messages` and media endpoints (tests).

`FakeGraphAPI().app` is a FastAPI app serving ``POST /{version}/{phone_number_id}/messages``. Mount it
in-process with ``httpx.ASGITransport(app=fake.app)`` or serve it on a port. It answers in the shape
of Meta's success response with fresh `wamid.` ids, records every accepted request in `sent`, and can
be scripted to fail: ``fake.fail_next(400, graph_error_body(131056, "pair rate limit hit"), times=2)``,
and slowed down (`delay_s`).
When built with an `access_token`, requests without the matching bearer get a 401 error 190.

Media, as Meta serves it: ``GET /{version}/{media-id}`` answers the metadata (`url`, `mime_type`,
`sha256`, `file_size`) of a file registered with `add_media`, the `url` (``/lookaside/...``) answers
its bytes; both need the bearer. An unknown or `expire_media`d id gets Graph's error 100 ("does not
exist"), `fail_media` scripts any other answer, `add_media(..., sha256=...)` advertises a wrong
digest. ``POST /{version}/{phone-number-id}/media`` takes a multipart upload (recorded in `uploads`)
and answers its new id.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypedDict

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from orchestrator.channels.whatsapp.outbound import render_as_text
from orchestrator.channels.whatsapp.signature import compute_signature
from orchestrator.runtime.replay import Harness
from tests.fixtures import fixture_bytes


class SentRequest(TypedDict):
    path: str
    version: str
    phone_number_id: str
    headers: dict[str, str]
    json: dict[str, Any]
    wa_message_id: str | None  # the id we answered with; None when the request was refused


def graph_error_body(
    code: int, message: str, *, details: str | None = None, http_type: str = "OAuthException"
) -> dict[str, Any]:
    """A Graph error envelope shaped like Meta's (`error_130429_response.json`)."""
    error: dict[str, Any] = {"message": f"(#{code}) {message}", "type": http_type, "code": code}
    if details is not None:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    error["fbtrace_id"] = "Fake" + uuid.uuid4().hex[:19]
    return {"error": error}


@dataclass
class FakeMedia:
    content: bytes
    mime_type: str
    sha256: str  # the digest the metadata advertises (the content's own, unless scripted)


@dataclass
class UploadRequest:
    phone_number_id: str
    headers: dict[str, str]
    fields: dict[str, str]  # the form's text fields (messaging_product, type)
    filename: str | None
    content_type: str | None
    content: bytes
    media_id: str


class FakeGraphAPI:
    def __init__(self, *, access_token: str | None = None, id_prefix: str | None = None) -> None:
        self.access_token = access_token
        self.media: dict[str, FakeMedia] = {}
        self.uploads: list[UploadRequest] = []
        self.media_requests: list[tuple[str, str, dict[str, str]]] = []  # (what, media id, headers)
        self._media_failures: dict[str, deque[tuple[int, dict[str, Any] | str]]] = {}
        self.sent: list[SentRequest] = []  # accepted requests, in order
        self.requests: list[SentRequest] = []  # every request, refused ones included
        self._id_prefix = id_prefix if id_prefix is not None else uuid.uuid4().hex[:8].upper()
        self._counter = 0
        self._scripted: deque[tuple[int, dict[str, Any] | str]] = deque()
        self._lock = threading.Lock()  # tests read `sent` while a server thread appends
        self.delay_s = 0.0  # a slow Graph API: each request waits this long before its answer
        # As Meta does: after accepting a send, POST a signed `sent` status webhook (echoing the
        # send's `biz_opaque_callback_data`) to the first of these URLs that answers 200, retrying.
        self.status_webhooks: list[str] = []
        self.app_secret = ""
        self.statuses_posted = 0
        self.status_errors: list[str] = []  # why a send's status webhooks could not be posted
        self.status_sequence: tuple[str, ...] = ("sent",)  # e.g. ("sent", "delivered", "read")
        self._callbacks: set[asyncio.Task[None]] = set()
        # One client per event loop serving this fake, its connections kept between statuses: a
        # client and a connection per send cost the load generator about 0.7 ms of CPU more per
        # reply, and the API an accepted connection more.
        self._status_clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}
        self.app = self._build_app()

    def respond_next(self, status: int, body: dict[str, Any] | str, *, times: int = 1) -> None:
        """Answer the next `times` authorised requests with `status` and `body` (JSON, or plain text)."""
        with self._lock:
            self._scripted.extend([(status, body)] * times)

    def fail_next(self, status: int, body: dict[str, Any] | str, *, times: int = 1) -> None:
        """Fail the next `times` authorised requests, e.g. with `graph_error_body(130429, ...)`."""
        self.respond_next(status, body, times=times)

    def add_media(self, media_id: str, content: bytes, mime_type: str, *, sha256: str | None = None) -> None:
        """A customer's file Graph can serve under `media_id`."""
        with self._lock:
            self.media[media_id] = FakeMedia(
                content, mime_type, sha256 or hashlib.sha256(content).hexdigest()
            )

    def expire_media(self, media_id: str) -> None:
        """Graph no longer knows the id (Meta's ids expire): error 100, as for an unknown id."""
        with self._lock:
            self.media.pop(media_id, None)

    def fail_media(self, media_id: str, status: int, body: dict[str, Any] | str, *, times: int = 1) -> None:
        """Answer the next `times` metadata requests for `media_id` with `status` and `body`."""
        with self._lock:
            self._media_failures.setdefault(media_id, deque()).extend([(status, body)] * times)

    def transport(self) -> httpx.AsyncBaseTransport:
        """This fake mounted in-process."""
        return httpx.ASGITransport(app=self.app)

    def sent_texts(self) -> list[str]:
        """What was sent, as plain text (`render_as_text`), in order."""
        return [render_as_text(request["json"]) for request in self.sent]

    def _next_id(self) -> str:
        self._counter += 1
        return f"wamid.FAKE{self._id_prefix}{self._counter:06d}"

    def _build_app(self) -> FastAPI:
        app = FastAPI(
            title="Fake Graph API", openapi_url=None, docs_url=None, redoc_url=None, lifespan=self._lifespan
        )

        @app.get("/lookaside/whatsapp_business/attachments")
        async def media_bytes(request: Request, mid: str) -> Response:
            refused = self._refuse(request, "download", mid)
            if refused is not None:
                return refused
            found = self.media.get(mid)
            if found is None:
                return PlainTextResponse("not found", status_code=404)
            return Response(found.content, media_type=found.mime_type)

        @app.get("/{version}/{media_id}")
        async def media_metadata(version: str, media_id: str, request: Request) -> Response:
            refused = self._refuse(request, "metadata", media_id)
            if refused is not None:
                return refused
            with self._lock:
                scripted = self._media_failures.get(media_id)
                if scripted:
                    status, body = scripted.popleft()
                    if isinstance(body, str):
                        return PlainTextResponse(body, status_code=status)
                    return JSONResponse(body, status_code=status)
                found = self.media.get(media_id)
            if found is None:
                return JSONResponse(_unknown_object_body(media_id), status_code=400)
            url = (
                f"{str(request.base_url).rstrip('/')}/lookaside/whatsapp_business/attachments?mid={media_id}"
            )
            return JSONResponse(
                {
                    "messaging_product": "whatsapp",
                    "url": url,
                    "mime_type": found.mime_type,
                    "sha256": found.sha256,
                    "file_size": str(len(found.content)),
                    "id": media_id,
                }
            )

        @app.post("/{version}/{phone_number_id}/media")
        async def media_upload(version: str, phone_number_id: str, request: Request) -> Response:
            refused = self._refuse(request, "upload", "")
            if refused is not None:
                return refused
            form = await request.form()
            upload = form.get("file")
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
            if upload is None or isinstance(upload, str):
                return JSONResponse(
                    graph_error_body(100, "Invalid parameter", details="file is required"), 400
                )
            if fields.get("messaging_product") != "whatsapp":
                return JSONResponse(
                    graph_error_body(100, "Invalid parameter", details="messaging_product is required"), 400
                )
            content = await upload.read()
            with self._lock:
                media_id = f"{self._id_prefix}{len(self.uploads) + 1:06d}"
                self.uploads.append(
                    UploadRequest(
                        phone_number_id=phone_number_id,
                        headers=dict(request.headers),
                        fields=fields,
                        filename=upload.filename,
                        content_type=upload.content_type,
                        content=content,
                        media_id=media_id,
                    )
                )
                mime = upload.content_type or "application/octet-stream"
                self.media[media_id] = FakeMedia(content, mime, hashlib.sha256(content).hexdigest())
            return JSONResponse({"id": media_id})

        @app.post("/{version}/{phone_number_id}/messages")
        async def messages(version: str, phone_number_id: str, request: Request) -> Response:
            raw = await request.body()
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = None
            return self._handle(version, phone_number_id, request, payload)

        return app

    def _refuse(self, request: Request, what: str, media_id: str) -> Response | None:
        """Record a media request; answer 401 (error 190) without the right bearer. Media always
        needs one: without a configured token, any bearer is accepted."""
        headers = dict(request.headers)
        with self._lock:
            self.media_requests.append((what, media_id, headers))
        given = headers.get("authorization", "")
        expected = f"Bearer {self.access_token}" if self.access_token is not None else None
        if not given.startswith("Bearer ") or (expected is not None and given != expected):
            return JSONResponse(_expired_token_body(), status_code=401, headers={"WWW-Authenticate": "OAuth"})
        return None

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        """When the server stops: the status webhooks still being posted are cancelled and waited
        for, and this loop's client closed. Left to the end of the loop instead, a connection attempt
        they had started inside httpx was dropped unawaited, and its warning surfaced in whichever
        later test the garbage collector ran in."""
        yield
        pending = [task for task in self._callbacks if task.get_loop() is asyncio.get_running_loop()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        client = self._status_clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    async def _post_status(self, record: SentRequest) -> None:
        try:
            await self._post_statuses(record)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # shown by the benchmarks that wait for these statuses
            self.status_errors.append(repr(exc)[:300])
            raise

    async def _post_statuses(self, record: SentRequest) -> None:
        wamid, sent = record["wa_message_id"], record["json"]
        assert wamid is not None
        client = self._status_client()
        for status in self.status_sequence:  # each a moment after the one before, as on a phone
            await asyncio.sleep(0.05)
            body = status_webhook(wamid, str(sent["to"]), status, sent.get("biz_opaque_callback_data"))
            headers = {
                "content-type": "application/json",
                "x-hub-signature-256": compute_signature(self.app_secret, body),
            }
            for attempt in range(120):  # Meta retries for much longer; a minute is enough here
                url = self.status_webhooks[attempt % len(self.status_webhooks)]
                with contextlib.suppress(httpx.HTTPError):
                    if (
                        await client.post(f"{url}/webhooks/whatsapp", content=body, headers=headers)
                    ).is_success:
                        self.statuses_posted += 1
                        break
                await asyncio.sleep(0.5)

    def _status_client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._status_clients.get(loop)
        if client is None:
            # Plain HTTP: no certificate bundle to load (about 20 ms of CPU per client, which in a
            # burst of sends kept this fake from answering them).
            limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
            client = self._status_clients[loop] = httpx.AsyncClient(timeout=5, verify=False, limits=limits)
        return client

    def _handle(self, version: str, phone_number_id: str, request: Request, payload: Any) -> Response:
        record = SentRequest(
            path=request.url.path,
            version=version,
            phone_number_id=phone_number_id,
            headers=dict(request.headers),
            json=payload if isinstance(payload, dict) else {},
            wa_message_id=None,
        )
        with self._lock:
            self.requests.append(record)
            if self.access_token is not None and request.headers.get("authorization") != (
                f"Bearer {self.access_token}"
            ):
                return JSONResponse(
                    _expired_token_body(), status_code=401, headers={"WWW-Authenticate": "OAuth"}
                )
            if self._scripted:
                status, body = self._scripted.popleft()
                if isinstance(body, str):  # e.g. a proxy's HTML error page
                    return PlainTextResponse(body, status_code=status)
                return JSONResponse(body, status_code=status)
            problem = _validate(payload)
            if problem is not None:
                return JSONResponse(graph_error_body(100, "Invalid parameter", details=problem), 400)
            record["wa_message_id"] = self._next_id()
            self.sent.append(record)
        if self.status_webhooks:
            task = asyncio.get_running_loop().create_task(self._post_status(record))
            self._callbacks.add(task)
            task.add_done_callback(self._callbacks.discard)
        to = str(record["json"]["to"])
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": re.sub(r"\D", "", to)}],
                "messages": [{"id": record["wa_message_id"]}],
            }
        )


def status_webhook(wamid: str, recipient: str, status: str, callback_data: str | None) -> bytes:
    """Meta's status webhook for one of our sends (the shape of `status_sent_pywa.json`)."""
    body = json.loads(fixture_bytes("status_sent_pywa.json"))
    item = body["entry"][0]["changes"][0]["value"]["statuses"][0]
    item.update(id=wamid, status=status, recipient_id=recipient.lstrip("+"), timestamp=str(int(time.time())))
    if callback_data is not None:
        item["biz_opaque_callback_data"] = callback_data
    return json.dumps(body).encode()


def _validate(payload: Any) -> str | None:
    """The checks Graph would fail first; enough to catch a broken builder or wiring."""
    if not isinstance(payload, dict):
        return "the request body must be a JSON object"
    if payload.get("messaging_product") != "whatsapp":
        return "messaging_product must be 'whatsapp'"
    for key in ("to", "type"):
        if not isinstance(payload.get(key), str) or not payload[key]:
            return f"{key} is required"
    if payload["type"] not in payload:
        return f"type is {payload['type']!r} but there is no {payload['type']!r} object"
    return None


def _unknown_object_body(object_id: str) -> dict[str, Any]:
    # What Graph answers for an id it does not know, or no longer knows (an expired media id).
    return graph_error_body(
        100,
        f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be loaded due to"
        " missing permissions, or does not support this operation",
        http_type="GraphMethodException",
    )


def _expired_token_body() -> dict[str, Any]:
    # The shape of `error_190_expired_token_pywa.json`, wrapped in the Graph envelope.
    return {
        "error": {
            "message": "Error validating access token: the access token is invalid or has expired.",
            "type": "OAuthException",
            "code": 190,
            "error_subcode": 463,
            "fbtrace_id": "Fake" + uuid.uuid4().hex[:19],
        }
    }


# The service as the tests drive it: its sends go to this fake.
TestHarness = Harness[FakeGraphAPI]
