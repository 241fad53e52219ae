"""Async client for sending WhatsApp messages through the Graph API, with retries for transient errors.

Exceptions:

    GraphError                 base; `.retryable` says whether another attempt may succeed
    ├── GraphTransportError    no usable HTTP answer: connect/read failure, timeout (retryable)
    └── GraphAPIError          Graph answered with an error: `.code`, `.title`, `.details`,
                               `.http_status`, `.fbtrace_id`, `.retryable`

Decisions key on the Graph `error.code` (and `error_data.details` for humans), never on the HTTP
status, as Meta asks; the HTTP status is only used when the body carries no parseable error
(5xx and 429 then count as transient).

Retried (tenacity, then the last error is raised as is):
- 130429 throughput, 4 / 80007 app and WABA rate limits: 1, 2, 4 ... s;
- 131056 pair rate limit and 131057 maintenance: Meta's 4^x policy, 1, 4, 16, 64 s;
- 1 and 2 (temporary API errors), 131000 "something went wrong", 5xx without an error body,
  transport errors: 0.5, 1, 2 ... s.
Waits are capped by `max_backoff_s` and multiplied by `backoff_scale` (tests use 0).
Never retried: 131047 (24-hour window closed: send a template), 131026, 131049, 131050, 131051,
190 (expired token) and every other error.

A retried read timeout may duplicate a message that Graph did accept: the API has no idempotency key.
A 200 means *accepted*, not delivered: delivery (or a late 131047) arrives in status webhooks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

logger = logging.getLogger(__name__)

DEFAULT_API_VERSION = "v25.0"

PAIR_RATE_LIMIT = 131056
MAINTENANCE_MODE = 131057
THROUGHPUT_LIMIT = 130429
RATE_LIMIT_CODES = frozenset({THROUGHPUT_LIMIT, 4, 80007})
# 1 "API Unknown" and 2 "API Service" are Meta's temporary (downtime) errors.
TRANSIENT_CODES = frozenset({1, 2, 131000})
RETRYABLE_CODES = frozenset({*RATE_LIMIT_CODES, PAIR_RATE_LIMIT, MAINTENANCE_MODE, *TRANSIENT_CODES})
# Listed for readers: everything outside RETRYABLE_CODES is permanent anyway.
PERMANENT_CODES = frozenset({131047, 131026, 131049, 131050, 131051, 190})

_TITLE_PREFIX = re.compile(r"^\(#\d+\)\s*")


UNREACHABLE = "WhatsApp could not be reached (network error)"  # a transport failure, as reps read it


def bare_http_for_people(status: int | None) -> str:
    """An error answer without Graph's error object (a proxy's or a load balancer's page): its
    status in words; the body (HTML, as often as not) stays in the log."""
    if status is not None and status >= 500:
        return f"WhatsApp had an error on its side (HTTP {status})"
    return f"WhatsApp refused the request (HTTP {status})"


def describe_failure(error: dict[str, Any] | None) -> str:
    """A failed send's reason for a person (a rep, a summary, the context log): Meta's code and
    title, and its details when given; no exception names or socket errors (the log keeps those)."""
    if not error:
        return "failed"
    if error.get("source") == "transport":  # never reached Meta: the network, DNS, a timeout
        return UNREACHABLE
    if error.get("source") == "outbox":  # this service failed before or after the request
        return "an error in this service (its log has the details)"
    if error.get("source") == "status_webhook":
        first = (error.get("errors") or [{}])[0]
        details = (first.get("error_data") or {}).get("details") or first.get("message")
        parts = [str(first.get("code") or ""), str(first.get("title") or "")]
    elif error.get("code") is None and str(error.get("title") or "").startswith("HTTP "):
        return bare_http_for_people(error.get("http_status"))  # no Graph error object: no body quoted
    else:
        details = error.get("details")
        parts = [str(error.get("code") or ""), str(error.get("title") or "")]
    head = " ".join(p for p in parts if p).strip()
    if details and details != head:
        return f"{head}: {details}" if head else str(details)
    return head or "failed"


class GraphError(Exception):
    """A send failed. `retryable` tells whether trying again later may help."""

    retryable: bool = False

    @property
    def for_people(self) -> str:
        """What went wrong, for a rep: no exception names, socket errors or trace ids (the log
        keeps those)."""
        return "WhatsApp failed"


class GraphTransportError(GraphError):
    """No usable HTTP response (connection refused, reset, timeout)."""

    retryable = True

    @property
    def for_people(self) -> str:
        return UNREACHABLE


class GraphSendUncertain(GraphTransportError):
    """A message request went out but no answer came back (a read timeout, a connection dropped
    after sending): Graph may have accepted it. Not retried within `send`, since a second POST
    could deliver it twice; the outbox tries again later, after looking for the message's status
    webhook (`orchestrator.outbox.confirm_by_status`)."""


class GraphAPIError(GraphError):
    """Graph answered with an error object (or with a status and no parseable body)."""

    def __init__(
        self,
        *,
        code: int | None,
        title: str,
        details: str | None = None,
        http_status: int | None = None,
        fbtrace_id: str | None = None,
        retryable: bool | None = None,
        body: Any = None,
    ) -> None:
        self.code = code
        self.title = title
        self.details = details
        self.http_status = http_status
        self.fbtrace_id = fbtrace_id
        self.retryable = _is_retryable(code, http_status) if retryable is None else retryable
        self.body = body
        super().__init__(self._describe())

    @property
    def for_people(self) -> str:
        if self.code is None and self.title.startswith("HTTP "):  # no Graph error body to quote
            return bare_http_for_people(self.http_status)
        said = f"{self.title} ({self.details})" if self.details and self.details != self.title else self.title
        code = f" {self.code}" if self.code is not None else ""
        return f"WhatsApp answered with error{code}: {said}"

    def _describe(self) -> str:
        code = f"Graph error {self.code}" if self.code is not None else "Graph error"
        status = f" (HTTP {self.http_status})" if self.http_status is not None else ""
        details = f": {self.details}" if self.details and self.details != self.title else ""
        trace = f" [fbtrace_id={self.fbtrace_id}]" if self.fbtrace_id else ""
        return f"{code}{status}: {self.title}{details}{trace}"

    @classmethod
    def from_error_object(cls, error: dict[str, Any], *, http_status: int | None = None) -> GraphAPIError:
        """From a Graph `error` object or a webhook `errors[]` item (both shapes carry `code`)."""
        raw_code = error.get("code")
        code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else None
        error_data = error.get("error_data")
        details = error_data.get("details") if isinstance(error_data, dict) else None
        title = (
            error.get("title") or _TITLE_PREFIX.sub("", str(error.get("message") or "")) or "unknown error"
        )
        fbtrace_id = error.get("fbtrace_id")
        return cls(
            code=code,
            title=str(title),
            details=str(details) if details is not None else None,
            http_status=http_status,
            fbtrace_id=str(fbtrace_id) if fbtrace_id is not None else None,
            body=error,
        )


def _is_retryable(code: int | None, http_status: int | None) -> bool:
    if code is not None:
        return code in RETRYABLE_CODES
    return http_status is not None and (http_status >= 500 or http_status == 429)


def backoff_seconds(error: BaseException, attempt: int) -> float:
    """Unscaled, uncapped wait after failed attempt number `attempt` (1-based) ended in `error`."""
    code = error.code if isinstance(error, GraphAPIError) else None
    exponent = attempt - 1
    if code in (PAIR_RATE_LIMIT, MAINTENANCE_MODE):
        return 4.0**exponent
    if code in RATE_LIMIT_CODES:
        return 2.0**exponent
    return 0.5 * 2.0**exponent


@dataclass(frozen=True)
class SendResult:
    wa_message_id: str
    wa_id: str | None  # the recipient as WhatsApp resolved it (absent for BSUID-only sends)
    message_status: str | None = None  # only for paced templates ("accepted", "held_for_quality_assessment")
    attempts: int = 1
    raw: dict[str, Any] = field(default_factory=dict)


class GraphClient:
    """Sends `/messages` requests for one business phone number. Use as an async context manager."""

    def __init__(
        self,
        *,
        base_url: str,
        phone_number_id: str,
        access_token: str,
        api_version: str = DEFAULT_API_VERSION,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        max_attempts: int = 4,
        backoff_scale: float = 1.0,
        max_backoff_s: float = 64.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.phone_number_id = phone_number_id
        self.api_version = api_version
        self.max_attempts = max_attempts
        self.backoff_scale = backoff_scale
        self.max_backoff_s = max_backoff_s
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=base_url,
            transport=transport,
            timeout=timeout,
            headers={"Authorization": f"Bearer {access_token}"},
        )

    @property
    def messages_path(self) -> str:
        return f"/{self.api_version}/{self.phone_number_id}/messages"

    @property
    def http(self) -> httpx.AsyncClient:
        """The HTTP client (base URL, bearer token, timeout) for the other Graph endpoints (media)."""
        return self._http

    def retrying(self, *, retry_uncertain: bool = True, done: int = 0) -> AsyncRetrying:
        """This client's retry policy: transient `GraphError`s retried, the last one raised as is;
        with `retry_uncertain=False`, a request that may have been accepted is not sent again.
        `done`: attempts already made (and waited after), so the first attempt here is number
        `done + 1`, with that attempt's wait and the same limit on the total."""

        def transient(exc: BaseException) -> bool:
            return self._retryable(exc, retry_uncertain=retry_uncertain)

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome is not None else None
            if error is None:  # pragma: no cover - tenacity only waits after a failure
                return 0.0
            return self._wait_after(error, state.attempt_number + done)

        def log_retry(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome is not None else None
            self._log_retry(
                error, state.attempt_number + done, state.next_action.sleep if state.next_action else 0.0
            )

        return AsyncRetrying(
            stop=stop_after_attempt(max(1, self.max_attempts - done)),
            retry=retry_if_exception(transient),
            wait=wait,
            sleep=self._sleep,
            before_sleep=log_retry,
            reraise=True,
        )

    async def send(self, payload: dict[str, Any]) -> SendResult:
        """POST one message; retry transient failures; raise the last `GraphError` when giving up.
        A request that may have reached Graph is never sent twice here (`GraphSendUncertain`)."""
        # The first attempt outside the retry policy's machinery (a send is once per reply, and
        # almost always accepted at once); only a transient failure enters it, from attempt two.
        try:
            return await self._send_once(payload)
        except GraphError as exc:
            if self.max_attempts < 2 or not self._retryable(exc, retry_uncertain=False):
                raise
            wait = self._wait_after(exc, 1)
            self._log_retry(exc, 1, wait)
            await self._sleep(wait)
        async for attempt in self.retrying(retry_uncertain=False, done=1):
            with attempt:
                result = await self._send_once(payload)
                return dataclasses.replace(result, attempts=attempt.retry_state.attempt_number + 1)
        raise AssertionError("unreachable: tenacity either returns or reraises")  # pragma: no cover

    @staticmethod
    def _retryable(exc: BaseException, *, retry_uncertain: bool) -> bool:
        if not retry_uncertain and isinstance(exc, GraphSendUncertain):
            return False
        return isinstance(exc, GraphError) and exc.retryable

    async def _send_once(self, payload: dict[str, Any]) -> SendResult:
        try:
            response = await self._http.post(self.messages_path, json=payload)
        except (httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError) as exc:
            # Sent, or partly sent, and then nothing: Graph may have the message.
            raise GraphSendUncertain(f"Graph request failed: {type(exc).__name__}: {exc}") from exc
        except httpx.TransportError as exc:  # refused, connect or write timeouts: not sent
            raise GraphTransportError(f"Graph request failed: {type(exc).__name__}: {exc}") from exc
        if response.is_success:
            return _parse_success(_json_or_none(response), response.status_code)
        raise error_from_response(response)

    def _wait_after(self, error: BaseException, attempt: int) -> float:
        """The wait after failed attempt number `attempt`, capped and scaled."""
        return min(backoff_seconds(error, attempt), self.max_backoff_s) * self.backoff_scale

    def _log_retry(self, error: BaseException | None, attempt: int, wait: float) -> None:
        logger.warning(
            "whatsapp send attempt %d/%d failed (%s); retrying in %.2fs",
            attempt,
            self.max_attempts,
            error,
            wait,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:  # never show the token
        return f"GraphClient(base_url={str(self._http.base_url)!r}, phone_number_id={self.phone_number_id!r})"


def error_from_response(response: httpx.Response) -> GraphAPIError:
    """The error a non-2xx Graph answer carries (or one naming its HTTP status when it has none)."""
    body = _json_or_none(response)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return GraphAPIError.from_error_object(error, http_status=response.status_code)
    return GraphAPIError(
        code=None,
        title=f"HTTP {response.status_code} without a Graph error body",
        details=response.text[:200] or None,
        http_status=response.status_code,
        body=body,
    )


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
        return None


def _parse_success(body: Any, http_status: int) -> SendResult:
    messages = body.get("messages") if isinstance(body, dict) else None
    first = messages[0] if isinstance(messages, list) and messages else None
    message_id = first.get("id") if isinstance(first, dict) else None
    if not isinstance(message_id, str):
        # Graph said yes but we cannot tell which message: do not retry (it may have been sent).
        raise GraphAPIError(
            code=None,
            title="success response without messages[0].id",
            http_status=http_status,
            retryable=False,
            body=body,
        )
    contacts = body.get("contacts") if isinstance(body, dict) else None
    contact = contacts[0] if isinstance(contacts, list) and contacts else None
    wa_id = contact.get("wa_id") if isinstance(contact, dict) else None
    status = first.get("message_status") if isinstance(first, dict) else None
    return SendResult(
        wa_message_id=message_id,
        wa_id=wa_id if isinstance(wa_id, str) else None,
        message_status=status if isinstance(status, str) else None,
        raw=body if isinstance(body, dict) else {},
    )
