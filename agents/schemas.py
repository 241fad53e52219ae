"""Structured outputs of the model: what each call returns, as Pydantic models.

The `Field(description=...)` texts are the contract the model sees (they travel in the JSON schema of
`response_format`), so they are written for the model. The models stay inside what OpenAI strict
structured outputs accept: every field required (nullable where optional, no defaults), no
`additionalProperties`, `Literal` for closed sets, numeric bounds only as `minimum`/`maximum`.

Scores are clamped into 0..1 before validation: `OPENAI_BASE_URL` may point at a compatible server
that does not enforce the schema, and a score of 1.02 is not worth failing a turn for.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "LEAD_FIELD_NAMES",
    "Briefing",
    "FieldValue",
    "HandoffSummary",
    "LeadFieldName",
    "TurnAnalysis",
]

LeadFieldName = Literal["company_name", "use_case", "email", "business_size", "budget"]
LEAD_FIELD_NAMES: tuple[str, ...] = get_args(LeadFieldName)


class _Output(BaseModel):
    # Frozen: an agent's output is a record of what the model said, logged as-is.
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldValue(_Output):
    name: LeadFieldName = Field(description="Which lead detail this is.")
    value: str = Field(
        description="The detail, normalised briefly (e.g. the company name as written, an email in "
        "lower case, a use case in a few words)."
    )
    evidence: str = Field(description="The customer's exact words this detail comes from (a verbatim quote).")


class TurnAnalysis(_Output):
    language: str = Field(
        description="ISO 639-1 code (two lowercase letters, e.g. 'en', 'es', 'pt') of the language the "
        "customer writes in."
    )
    wants_human: bool = Field(description="True only if the customer asks to talk to a human person.")
    wants_human_evidence: str | None = Field(
        description="Verbatim quote of the customer's words asking for a human, or null."
    )
    frustrated: bool = Field(description="True if the customer is clearly frustrated or angry.")
    frustration_score: float = Field(
        ge=0.0, le=1.0, description="How frustrated the customer is: 0 calm, 1 furious."
    )
    frustration_evidence: str | None = Field(
        description="Verbatim quote of the customer's words showing frustration, or null."
    )
    fields: list[FieldValue] = Field(
        description="Lead details the customer states in the latest message, each with its quote. "
        "Empty if none."
    )
    answer: str | None = Field(
        description="A short reply to the customer's question in the customer's language, using only "
        "facts from the supplied knowledge; null if the knowledge does not answer it or there is no "
        "question."
    )
    answer_confidence: float = Field(
        ge=0.0,
        le=1.0,
        description="Confidence from 0 to 1 that the answer is correct and fully supported by the "
        "knowledge; 0 when answer is null.",
    )
    can_answer: bool = Field(description="True if answer is not null and is supported by the knowledge.")
    open_questions: list[str] = Field(
        description="Questions the customer asked that remain unanswered, in their words. Empty if none."
    )

    @field_validator("frustration_score", "answer_confidence", mode="before")
    @classmethod
    def _clamp_unit(cls, value: object) -> object:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return min(1.0, max(0.0, float(value)))
        return value

    @field_validator("language")
    @classmethod
    def _primary_subtag(cls, value: str) -> str:
        # "pt-BR" / "EN " -> "pt" / "en": the rest of the system keys messages on the bare code.
        code = value.strip().replace("_", "-").split("-")[0].lower()
        if not code:
            raise ValueError("language must be an ISO 639-1 code")
        return code


class HandoffSummary(_Output):
    summary: str = Field(
        description="At most three short sentences for the human representative: who the customer is, "
        "what they want, and where the conversation stands."
    )
    open_questions: list[str] = Field(
        description="The customer's questions nobody has answered yet, one per item. Empty if none."
    )
    promises: list[str] = Field(
        description="What the assistant told the customer will happen, one per item. Empty if none."
    )


class Briefing(_Output):
    summary_for_customer: str | None = Field(
        description="One or two sentences in the customer's language telling them the assistant is back "
        "and what was done; null if nothing useful can be said."
    )
    known_facts: list[str] = Field(
        description="Facts now known or settled (customer details, decisions, what the representative "
        "did), one short statement per item."
    )
