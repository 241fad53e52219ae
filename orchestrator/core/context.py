"""Run-scoped context the graph nodes get through `Runtime[GraphContext]` (never checkpointed), and
the contract of the model client the agents call (implemented by `agents.llm.LLMClient`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from orchestrator.core.config import AppConfig

T = TypeVar("T", bound=BaseModel)


@dataclass
class LLMUsage:
    """What the model cost; mutable, the caller passes one per conversation or turn.

    `calls` counts requests sent (retries included), `failures` those that gave no usable answer.
    Tokens come from the responses' `usage`, including unusable ones (they are billed too).
    """

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    failures: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add_tokens(self, usage: Any) -> None:
        """Add a response's `usage` (`prompt_tokens`, `completion_tokens`), if it has one."""
        if usage is not None:
            self.prompt_tokens += usage.prompt_tokens
            self.completion_tokens += usage.completion_tokens


class ModelClient(Protocol):
    """One structured-output call: the answer parsed into `schema`, or an error past the retries."""

    async def parse(self, *, schema: type[T], system: str, user: str, usage: LLMUsage | None = None) -> T: ...


@dataclass
class GraphContext:
    config: AppConfig
    now: datetime
    contact_name: str | None = None
    country: str | None = None
    referral: dict[str, Any] | None = None
    llm: ModelClient | None = None
    usage: LLMUsage | None = None
    knowledge: Any = field(default=None)
