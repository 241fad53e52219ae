"""Run-scoped context the graph nodes get through `Runtime[GraphContext]` (never checkpointed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from orchestrator.core.config import AppConfig

if TYPE_CHECKING:
    from agents.llm import LLMClient, LLMUsage


@dataclass
class GraphContext:
    config: AppConfig
    now: datetime
    contact_name: str | None = None
    country: str | None = None
    referral: dict[str, Any] | None = None
    llm: LLMClient | None = None
    usage: LLMUsage | None = None
    knowledge: Any = field(default=None)
