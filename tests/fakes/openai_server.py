"""A scripted OpenAI-compatible chat completions server, for tests that drive the real `openai` client.

Queue what the "model" should do, serve `.app` with `tests.fakes.servers.serve_in_thread`, and point
the client at `<base url>/v1` (the path without `/v1` is accepted too)::

    fake = ScriptedOpenAI()
    fake.fail(429)
    fake.respond_json({"summary": "...", "open_questions": [], "promises": []})
    with serve_in_thread(fake.app) as url:
        ...  # LLMClient(base_url=f"{url}/v1", ...)
    assert len(fake.requests) == 2

Each request pops the next scripted reply, first in first out. With the queue empty the server answers
500 with a message saying so, and counts it in `unexpected`, so a stray call fails loudly. Every
request is recorded (`requests`: path, headers, JSON body) to assert on the model name, the messages
and the `response_format` the client sent.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

DEFAULT_PROMPT_TOKENS = 120
DEFAULT_COMPLETION_TOKENS = 40


@dataclass(frozen=True)
class Reply:
    """One scripted reply: an HTTP status and JSON body, optionally after a delay."""

    status: int
    body: dict[str, Any]
    delay: float = 0.0


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def model(self) -> str | None:
        value = self.body.get("model")
        return value if isinstance(value, str) else None

    @property
    def messages(self) -> list[dict[str, Any]]:
        value = self.body.get("messages")
        return value if isinstance(value, list) else []

    @property
    def response_format(self) -> dict[str, Any]:
        value = self.body.get("response_format")
        return value if isinstance(value, dict) else {}


def completion(
    *,
    content: str | None,
    refusal: str | None = None,
    finish_reason: str = "stop",
    prompt_tokens: int = DEFAULT_PROMPT_TOKENS,
    completion_tokens: int = DEFAULT_COMPLETION_TOKENS,
) -> Reply:
    """A 200 `chat.completion` with one choice (the model name is filled from the request)."""
    return Reply(
        200,
        {
            "id": "chatcmpl-scripted",
            "object": "chat.completion",
            "created": 0,  # replaced when served
            "model": "",  # replaced by the request's model
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": refusal},
                    "finish_reason": finish_reason,
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        },
    )


def json_reply(
    obj: Any,
    *,
    prompt_tokens: int = DEFAULT_PROMPT_TOKENS,
    completion_tokens: int = DEFAULT_COMPLETION_TOKENS,
) -> Reply:
    """The model answers `obj` serialised as JSON (what structured outputs look like)."""
    return completion(
        content=json.dumps(obj), prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
    )


def raw_reply(
    content: str,
    *,
    prompt_tokens: int = DEFAULT_PROMPT_TOKENS,
    completion_tokens: int = DEFAULT_COMPLETION_TOKENS,
) -> Reply:
    """The model answers `content` verbatim: use for malformed or off-schema output."""
    return completion(content=content, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)


def refusal_reply(text: str = "I'm sorry, I can't help with that.") -> Reply:
    return completion(content=None, refusal=text)


def length_reply() -> Reply:
    """The answer was cut off at the token limit: truncated JSON, finish_reason "length"."""
    return completion(content='{"summary": "The customer wan', finish_reason="length")


def content_filter_reply() -> Reply:
    return completion(content=None, finish_reason="content_filter")


def error_reply(status: int, body: dict[str, Any] | None = None) -> Reply:
    """An API error in OpenAI's error shape (or `body` as given)."""
    kind = {429: "rate_limit_exceeded", 400: "invalid_request_error", 401: "invalid_api_key"}
    default = {
        "error": {
            "message": f"scripted error {status}",
            "type": kind.get(status, "server_error"),
            "param": None,
            "code": None,
        }
    }
    return Reply(status, body if body is not None else default)


@dataclass
class ScriptedOpenAI:
    """The scripted server; `app` is the ASGI app to serve."""

    requests: list[RecordedRequest] = field(default_factory=list)
    unexpected: int = 0
    _queue: deque[Reply] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.app = self._build_app()

    # --- scripting ---
    def enqueue(self, *replies: Reply) -> None:
        with self._lock:
            self._queue.extend(replies)

    def respond_json(
        self,
        obj: Any,
        *,
        prompt_tokens: int = DEFAULT_PROMPT_TOKENS,
        completion_tokens: int = DEFAULT_COMPLETION_TOKENS,
    ) -> None:
        self.enqueue(json_reply(obj, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens))

    def respond_raw(
        self,
        content: str,
        *,
        prompt_tokens: int = DEFAULT_PROMPT_TOKENS,
        completion_tokens: int = DEFAULT_COMPLETION_TOKENS,
    ) -> None:
        self.enqueue(raw_reply(content, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens))

    def refuse(self, text: str = "I'm sorry, I can't help with that.") -> None:
        self.enqueue(refusal_reply(text))

    def respond_length(self) -> None:
        self.enqueue(length_reply())

    def respond_content_filter(self) -> None:
        self.enqueue(content_filter_reply())

    def fail(self, status: int, body: dict[str, Any] | None = None) -> None:
        self.enqueue(error_reply(status, body))

    def delay(self, seconds: float, then: Reply | None = None) -> None:
        """Hold the response `seconds` (a client with a shorter timeout gives up), then send `then`."""
        reply = then if then is not None else error_reply(504, None)
        self.enqueue(Reply(reply.status, reply.body, delay=seconds))

    @property
    def pending(self) -> int:
        """Scripted replies not used yet."""
        with self._lock:
            return len(self._queue)

    # --- serving ---
    def _next(self) -> Reply | None:
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="scripted OpenAI")

        @app.post("/v1/chat/completions")
        @app.post("/chat/completions")
        async def chat_completions(request: Request) -> Response:
            try:
                body = await request.json()
            except ValueError:
                return JSONResponse({"error": {"message": "request body is not JSON"}}, status_code=400)
            self.requests.append(RecordedRequest(request.url.path, dict(request.headers), body))
            reply = self._next()
            if reply is None:
                self.unexpected += 1
                message = f"scripted OpenAI server: no reply queued for request #{len(self.requests)}"
                return JSONResponse(
                    {"error": {"message": message, "type": "server_error", "param": None, "code": None}},
                    status_code=500,
                )
            if reply.delay and await _client_left_within(request, reply.delay):
                return Response(status_code=499)
            payload = reply.body
            if reply.status == 200:
                payload = {**payload, "created": int(time.time()), "model": body.get("model", "")}
            return JSONResponse(payload, status_code=reply.status)

        return app


async def _client_left_within(request: Request, seconds: float) -> bool:
    """Wait `seconds`, returning early (True) if the client disconnects, so shutdown is not held up."""
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    while loop.time() < until:
        if await request.is_disconnected():
            return True
        await asyncio.sleep(min(0.02, max(0.0, until - loop.time())))
    return False


def analysis(**overrides: Any) -> dict[str, Any]:
    """A turn analysis as the model would return it (`agents.schemas`), with `overrides`."""
    base: dict[str, Any] = {
        "language": "en",
        "wants_human": False,
        "wants_human_evidence": None,
        "frustrated": False,
        "frustration_score": 0.0,
        "frustration_evidence": None,
        "fields": [],
        "answer": None,
        "answer_confidence": 0.0,
        "can_answer": False,
        "open_questions": [],
    }
    base.update(overrides)
    return base
