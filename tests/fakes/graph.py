"""An in-memory stand-in for the Graph `/messages` endpoint (demo, replay and tests).

`FakeGraphAPI().app` is a FastAPI app serving ``POST /{version}/{phone_number_id}/messages``. Mount it
in-process with ``httpx.ASGITransport(app=fake.app)`` or serve it on a port. It answers in the shape
of Meta's success response with fresh `wamid.` ids, records every accepted request in `sent`, and can
be scripted to fail: ``fake.fail_next(400, graph_error_body(131056, "pair rate limit hit"), times=2)``,
and slowed down (`delay_s`).
When built with an `access_token`, requests without the matching bearer get a 401 error 190.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import uuid
from collections import deque
from typing import Any, TypedDict

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from orchestrator.channels.whatsapp.outbound import render_as_text
from orchestrator.runtime.replay import Harness


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


class FakeGraphAPI:
    def __init__(self, *, access_token: str | None = None, id_prefix: str | None = None) -> None:
        self.access_token = access_token
        self.sent: list[SentRequest] = []  # accepted requests, in order
        self.requests: list[SentRequest] = []  # every request, refused ones included
        self._id_prefix = id_prefix if id_prefix is not None else uuid.uuid4().hex[:8].upper()
        self._counter = 0
        self._scripted: deque[tuple[int, dict[str, Any] | str]] = deque()
        self._lock = threading.Lock()  # tests read `sent` while a server thread appends
        self.delay_s = 0.0  # a slow Graph API: each request waits this long before its answer
        self.app = self._build_app()

    def respond_next(self, status: int, body: dict[str, Any] | str, *, times: int = 1) -> None:
        """Answer the next `times` authorised requests with `status` and `body` (JSON, or plain text)."""
        with self._lock:
            self._scripted.extend([(status, body)] * times)

    def fail_next(self, status: int, body: dict[str, Any] | str, *, times: int = 1) -> None:
        """Fail the next `times` authorised requests, e.g. with `graph_error_body(130429, ...)`."""
        self.respond_next(status, body, times=times)

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
        app = FastAPI(title="Fake Graph API", openapi_url=None, docs_url=None, redoc_url=None)

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
        to = str(record["json"]["to"])
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": re.sub(r"\D", "", to)}],
                "messages": [{"id": record["wa_message_id"]}],
            }
        )


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
