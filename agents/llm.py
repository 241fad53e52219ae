"""The model engine: one OpenAI-compatible chat model behind typed, retried, deadline-bound calls.

`LLMClient.parse` sends a system and a user message with `response_format=<Pydantic model>` (OpenAI
strict structured outputs) and returns the parsed model or raises. The helpers below it
(`analyze_turn`, `summarize_handoff`, `brief_return`) render a prompt from `prompts/` and parse into
the schemas of `agents/schemas.py`. The graph uses them when `OPENAI_API_KEY` is set.

Failure policy. The customer must be handed off as `ai_unavailable` within 10 s of their message, and
the turn starts only after the burst window (1.5 s by default), so every `parse` call ends within
`deadline` seconds (8 by default: 1.5 + 8 leaves half a second for the handoff), whatever happens:

- transient failures (timeout, 429, 5xx, connection) are retried by tenacity with exponential backoff
  and jitter, up to `max_attempts` calls and never past the deadline; each call's own timeout is cut
  to the time left. The openai client's own retries are off (`max_retries=0`) so the two do not stack;
- a malformed answer (not JSON, or not the schema) is retried once, since it can be a sampling fluke;
- a refusal, a content-filter stop, a length cut-off and a rejected request (4xx other than 408/429,
  or 429 `insufficient_quota`) are not retried: the same request would fail the same way.

Exceptions::

    LLMError                 anything this module raises on purpose
     └── LLMUnavailable      no usable answer; the caller hands off (`ai_unavailable`)
                               .kind: FailureKind   timeout | rate_limited | server_error | connection
                                                    (transient) | refused | malformed | length | rejected
                               .attempts: int       model calls made for this parse

`LLMUsage` counts calls and tokens; pass one per conversation or turn to see what it cost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Final, TypeVar, cast

import httpx
import openai
import pydantic
import structlog
from openai.types import CompletionUsage
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential_jitter,
)

from agents.schemas import Briefing, HandoffSummary, TurnAnalysis
from orchestrator.core.context import LLMUsage, ModelClient
from prompts import PromptError, render

__all__ = [
    "BRIEFING_KEYS",
    "PROMPT_KEYS",
    "SUMMARY_KEYS",
    "TURN_ANALYSIS_KEYS",
    "FailureKind",
    "LLMClient",
    "LLMError",
    "LLMUnavailable",
    "LLMUsage",
    "analyze_turn",
    "brief_return",
    "client_from_settings",
    "summarize_handoff",
]

_log = structlog.get_logger(__name__)

T = TypeVar("T", bound=pydantic.BaseModel)

DEFAULT_TIMEOUT_S: Final = 7.5
# 10 s promised from the customer's message, minus the burst window before the turn runs (1.5 s)
# and a margin for writing the handoff.
DEFAULT_DEADLINE_S: Final = 8.0
# Below this much time left, another call cannot return an answer: give up instead.
_MIN_ATTEMPT_S: Final = 0.1
# Malformed output: the first call plus one retry.
_MAX_MALFORMED: Final = 2


class FailureKind(StrEnum):
    TIMEOUT = "timeout"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    CONNECTION = "connection"
    REFUSED = "refused"
    MALFORMED = "malformed"
    LENGTH = "length"
    REJECTED = "rejected"


TRANSIENT: Final = frozenset(
    {FailureKind.TIMEOUT, FailureKind.RATE_LIMITED, FailureKind.SERVER_ERROR, FailureKind.CONNECTION}
)


class LLMError(Exception):
    """Base of the errors this module raises."""


class LLMUnavailable(LLMError):
    """The model gave no usable answer: past retries or the deadline, or an answer that cannot be used."""

    def __init__(self, kind: FailureKind | str, message: str = "", *, attempts: int = 0) -> None:
        self.kind = FailureKind(kind)
        self.attempts = attempts
        super().__init__(f"{self.kind}: {message}" if message else str(self.kind))

    @property
    def for_people(self) -> str:
        """What went wrong, for a rep reading why the bot handed over (the log keeps the cause)."""
        return _FOR_PEOPLE[self.kind]


_FOR_PEOPLE: Final = {
    FailureKind.TIMEOUT: "the AI model did not answer in time",
    FailureKind.RATE_LIMITED: "the AI model's provider refused more requests for now (rate limit)",
    FailureKind.SERVER_ERROR: "the AI model's provider had an error on its side",
    FailureKind.CONNECTION: "the AI model could not be reached (network error)",
    FailureKind.REFUSED: "the AI model's content filter stopped its answer",
    FailureKind.MALFORMED: "the AI model's answer could not be read",
    FailureKind.LENGTH: "the AI model's answer was cut off at its length limit",
    FailureKind.REJECTED: "the AI model's provider refused the request (its key, quota or settings)",
}


class LLMClient:
    """An OpenAI-compatible chat model with the retry and deadline policy of this module."""

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_attempts: int = 3,
        deadline: float = DEFAULT_DEADLINE_S,
        http_client: httpx.AsyncClient | None = None,
        wait_min: float = 0.5,
        wait_max: float = 4.0,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if timeout <= 0 or deadline <= 0:
            raise ValueError("timeout and deadline must be positive")
        if wait_min < 0 or wait_max < wait_min:
            raise ValueError("need 0 <= wait_min <= wait_max")
        self.model = model
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._deadline = deadline
        self._wait_min = wait_min
        self._wait_max = wait_max
        # An injected http client belongs to the caller, who closes it.
        self._owns_http_client = http_client is None
        self._openai = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=0,
            # openai 3 is typed for httpx2 but accepts an `httpx.AsyncClient` too (see its `_httpx2`).
            http_client=cast(Any, http_client),
        )

    async def aclose(self) -> None:
        if self._owns_http_client:
            await self._openai.close()

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def parse(self, *, schema: type[T], system: str, user: str, usage: LLMUsage | None = None) -> T:
        """One structured answer of type `schema`, or `LLMUnavailable` within `deadline` seconds."""
        usage = usage if usage is not None else LLMUsage()
        log = _log.bind(model=self.model, schema=schema.__name__)
        loop = asyncio.get_running_loop()
        started = loop.time()
        attempts = 0
        malformed = 0

        def time_left() -> float:
            return self._deadline - (loop.time() - started)

        async def attempt() -> T:
            nonlocal attempts, malformed
            left = time_left()
            if left < _MIN_ATTEMPT_S:
                raise LLMUnavailable(FailureKind.TIMEOUT, f"deadline of {self._deadline}s reached")
            attempts += 1
            usage.calls += 1
            ok = False
            try:
                result = await self._call_once(
                    schema=schema, system=system, user=user, time_limit=min(self._timeout, left), usage=usage
                )
                ok = True
                return result
            except LLMUnavailable as exc:
                if exc.kind is FailureKind.MALFORMED:
                    malformed += 1
                log.warning("llm.call_failed", kind=str(exc.kind), attempt=attempts, error=str(exc))
                raise
            finally:
                if not ok:  # also when the deadline cancels the call mid-flight
                    usage.failures += 1

        def should_retry(state: RetryCallState) -> bool:
            exc = state.outcome.exception() if state.outcome is not None else None
            if not isinstance(exc, LLMUnavailable) or time_left() < _MIN_ATTEMPT_S:
                return False
            return exc.kind in TRANSIENT or (exc.kind is FailureKind.MALFORMED and malformed < _MAX_MALFORMED)

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._max_attempts) | stop_before_delay(self._deadline),
            wait=wait_exponential_jitter(
                multiplier=self._wait_min, jitter=self._wait_min, max=self._wait_max
            ),
            retry=should_retry,
            reraise=True,
        )
        try:
            # The hard bound: tenacity checks its stop condition only between calls, and httpx timeouts
            # are per network operation, so a server trickling bytes could outlast `time_limit`.
            async with asyncio.timeout(self._deadline):
                result: T = await retrying(attempt)
        except TimeoutError:
            failure = LLMUnavailable(
                FailureKind.TIMEOUT, f"no answer within the {self._deadline}s deadline", attempts=attempts
            )
            log.error("llm.unavailable", kind=str(failure.kind), attempts=attempts)
            raise failure from None
        except LLMUnavailable as exc:
            exc.attempts = attempts
            log.error("llm.unavailable", kind=str(exc.kind), attempts=attempts)
            raise
        log.info("llm.parsed", attempts=attempts, seconds=round(loop.time() - started, 3))
        return result

    async def _call_once(
        self, *, schema: type[T], system: str, user: str, time_limit: float, usage: LLMUsage
    ) -> T:
        """One request; every failure comes out as `LLMUnavailable` with its kind."""
        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ]
        try:
            # The raw response keeps the body, so tokens of an unparseable answer are still counted.
            raw = await self._openai.chat.completions.with_raw_response.parse(
                model=self.model, messages=messages, response_format=schema, timeout=time_limit
            )
        except openai.APITimeoutError as exc:
            raise LLMUnavailable(FailureKind.TIMEOUT, f"no response within {time_limit:.2f}s") from exc
        except openai.APIConnectionError as exc:
            raise LLMUnavailable(FailureKind.CONNECTION, str(exc)) from exc
        except openai.APIStatusError as exc:
            raise LLMUnavailable(_status_kind(exc), f"HTTP {exc.status_code}: {exc.message}") from exc

        try:
            completion = raw.parse()
        except openai.LengthFinishReasonError as exc:
            usage.add_tokens(exc.completion.usage)
            raise LLMUnavailable(FailureKind.LENGTH, "the answer was cut off at the token limit") from exc
        except openai.ContentFilterFinishReasonError as exc:
            usage.add_tokens(exc.completion.usage if exc.completion is not None else None)
            raise LLMUnavailable(FailureKind.REFUSED, "stopped by the content filter") from exc
        except (ValueError, openai.APIError) as exc:  # pydantic.ValidationError is a ValueError
            usage.add_tokens(_usage_from_body(raw.http_response.content))
            raise LLMUnavailable(
                FailureKind.MALFORMED, f"answer does not fit {schema.__name__}: {exc}"
            ) from exc

        usage.add_tokens(completion.usage)
        if not completion.choices:
            raise LLMUnavailable(FailureKind.MALFORMED, "response has no choices")
        message = completion.choices[0].message
        if message.refusal:
            raise LLMUnavailable(FailureKind.REFUSED, message.refusal)
        if message.parsed is None:
            raise LLMUnavailable(FailureKind.MALFORMED, "response has no content")
        return message.parsed


def _status_kind(exc: openai.APIStatusError) -> FailureKind:
    if exc.status_code == 429:
        # OpenAI answers 429 for an exhausted quota too; waiting does not fix that.
        return FailureKind.REJECTED if exc.code == "insufficient_quota" else FailureKind.RATE_LIMITED
    if exc.status_code == 408:
        return FailureKind.TIMEOUT
    if exc.status_code >= 500:
        return FailureKind.SERVER_ERROR
    return FailureKind.REJECTED


def _usage_from_body(body: bytes) -> CompletionUsage | None:
    try:
        return ChatCompletion.model_validate_json(body).usage
    except pydantic.ValidationError:
        return None


def client_from_settings(
    *, api_key: str | None, base_url: str | None, model: str, timeout: float = DEFAULT_TIMEOUT_S
) -> LLMClient | None:
    """The model engine for these settings, or None (offline rules engine) when there is no API key."""
    if not api_key or not api_key.strip():
        return None
    return LLMClient(api_key=api_key.strip(), model=model, base_url=base_url or None, timeout=timeout)


# --- Prompts: each helper fills its template with exactly these keys (tests/test_prompts.py). ---

TURN_ANALYSIS_PROMPT: Final = "turn_analysis"
SUMMARY_PROMPT: Final = "summary"
BRIEFING_PROMPT: Final = "briefing"

TURN_ANALYSIS_KEYS: Final = frozenset(
    {"knowledge", "known_fields", "pending_field", "language_hint", "transcript"}
)
SUMMARY_KEYS: Final = frozenset({"reason", "fields"})
BRIEFING_KEYS: Final = frozenset({"human_notes"})

PROMPT_KEYS: Final[Mapping[str, frozenset[str]]] = {
    TURN_ANALYSIS_PROMPT: TURN_ANALYSIS_KEYS,
    SUMMARY_PROMPT: SUMMARY_KEYS,
    BRIEFING_PROMPT: BRIEFING_KEYS,
}


def _system_prompt(name: str, values: dict[str, str]) -> str:
    if values.keys() != PROMPT_KEYS[name]:
        raise PromptError(
            f"prompt {name!r}: the code passes {sorted(values)}, expected {sorted(PROMPT_KEYS[name])}"
        )
    return render(name, **values)


def _or(text: str, fallback: str) -> str:
    return text.strip() or fallback


def _field_lines(fields: Mapping[str, str]) -> str:
    return "\n".join(f"- {name}: {value}" for name, value in fields.items()) or "(none yet)"


async def analyze_turn(
    client: ModelClient,
    *,
    transcript: str,
    customer_message: str,
    pending_field: str | None,
    known_fields: dict[str, str],
    knowledge: str,
    language_hint: str,
    usage: LLMUsage | None = None,
) -> TurnAnalysis:
    """Everything the graph needs to know about one customer turn, in one call."""
    system = _system_prompt(
        TURN_ANALYSIS_PROMPT,
        {
            "knowledge": _or(knowledge, "(no knowledge supplied: do not answer questions)"),
            "known_fields": _field_lines(known_fields),
            "pending_field": pending_field or "none",
            "language_hint": _or(language_hint, "en"),
            "transcript": _or(transcript, "(this is the first message)"),
        },
    )
    return await client.parse(schema=TurnAnalysis, system=system, user=customer_message, usage=usage)


async def summarize_handoff(
    client: ModelClient,
    *,
    transcript: str,
    reason: str,
    fields: dict[str, str],
    usage: LLMUsage | None = None,
) -> HandoffSummary:
    """The short note a rep reads when the conversation reaches them."""
    system = _system_prompt(SUMMARY_PROMPT, {"reason": str(reason), "fields": _field_lines(fields)})
    return await client.parse(
        schema=HandoffSummary, system=system, user=_or(transcript, "(empty transcript)"), usage=usage
    )


async def brief_return(
    client: ModelClient,
    *,
    transcript: str,
    human_notes: str,
    usage: LLMUsage | None = None,
) -> Briefing:
    """What the bot needs to carry on after a rep hands the conversation back."""
    system = _system_prompt(BRIEFING_PROMPT, {"human_notes": _or(human_notes, "(none)")})
    return await client.parse(
        schema=Briefing, system=system, user=_or(transcript, "(empty transcript)"), usage=usage
    )
