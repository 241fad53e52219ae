"""Signals the sentinel raises: what it saw in a customer's message, how strongly, and why.

A `Signal` is evidence, not a decision: the graph decides (explicit request -> hand off; frustration
at or above its threshold -> hand off; loop -> hand off as ``unresolved``) and stores every signal in
the handoff context so a rep can see exactly which words triggered it and which rule matched.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from orchestrator.core.enums import SignalKind

__all__ = ["Signal", "SignalKind"]


class Signal(BaseModel, frozen=True):
    """One observation about one message."""

    kind: SignalKind
    score: float = Field(ge=0.0, le=1.0, description="Strength of the signal, 0..1.")
    evidence: str = Field(description="The span of the customer's message that matched.")
    rule: str = Field(description="Which rule matched, for the audit trail.")
    language: str | None = Field(default=None, description="ISO 639-1 code of the matched lexicon.")
