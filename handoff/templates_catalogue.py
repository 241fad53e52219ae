"""The catalogue of approved message templates (configuration `templates:`), as reps see it, and the
check of a template reply against it before anything is queued.

Templates are the only messages WhatsApp allows once the 24-hour customer-service window is closed
(FACTS.md). A rep picks one from the catalogue, fills its parameters, and it goes through the
ordinary reply path (`POST /api/conversations/{id}/messages` with `type: template`): positional
parameters as a list (`["Ana", "#123"]` for `{{1}}`, `{{2}}`), named ones as an object
(`{"first_name": "Ana"}`), as in Meta's request shapes. A template that is not in the catalogue, a
language it was not approved in, or a wrong set of parameters is a 422 that says which.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from handoff.errors import Invalid
from orchestrator.channels.whatsapp.outbound import template_body
from orchestrator.core.config import AppConfig, TemplateConfig


class TemplateOut(BaseModel):
    name: str
    category: str
    description: str
    languages: list[str]
    parameters: list[str] = Field(description="in the order they are sent: 1, 2... or the names")
    positional: bool = Field(description="parameters are sent as a list (true) or by name (false)")
    bodies: dict[str, str] = Field(description="body text per language code, with {{parameters}}")


def template_out(template: TemplateConfig) -> TemplateOut:
    return TemplateOut(
        name=template.name,
        category=template.category,
        description=template.description,
        languages=list(template.bodies),
        parameters=template.parameters,
        positional=template.positional,
        bodies=dict(template.bodies),
    )


def catalogue(config: AppConfig) -> list[TemplateOut]:
    return [template_out(t) for t in config.templates]


@dataclass(frozen=True)
class CheckedTemplate:
    components: list[dict[str, Any]]
    preview: str  # the body as the customer will read it


def check_template_reply(
    config: AppConfig, *, name: str, language: str, parameters: list[str] | dict[str, str]
) -> CheckedTemplate:
    """The body component and the preview of a template reply; `Invalid` (422) saying what is wrong."""
    template = config.template(name)
    if template is None:
        known = ", ".join(t.name for t in config.templates) or "none configured"
        raise Invalid(f"template {name!r} is not in the catalogue (known: {known})", location="body.name")
    if language not in template.bodies:
        raise Invalid(
            f"template {name!r} has no {language!r} version (approved: {', '.join(template.bodies)})",
            location="body.language",
        )
    expected = template.parameters
    shown = ", ".join("{{" + p + "}}" for p in expected) or "none"
    if template.positional:
        if isinstance(parameters, dict):
            raise Invalid(
                f"template {name!r} takes positional parameters ({shown}): send them as a list",
                location="body.parameters",
            )
        if len(parameters) != len(expected):
            raise Invalid(
                f"template {name!r} ({language}) takes {len(expected)} parameter(s) ({shown}); "
                f"{len(parameters)} given",
                location="body.parameters",
            )
        values = {str(i): v for i, v in enumerate(parameters, start=1)}
    else:
        if isinstance(parameters, list):
            raise Invalid(
                f"template {name!r} takes named parameters ({shown}): send them as an object",
                location="body.parameters",
            )
        missing = [p for p in expected if p not in parameters]
        extra = sorted(set(parameters) - set(expected))
        if missing or extra:
            parts = [f"missing {', '.join(missing)}"] if missing else []
            parts += [f"unknown {', '.join(extra)}"] if extra else []
            raise Invalid(
                f"template {name!r} ({language}) takes {shown}: {'; '.join(parts)}",
                location="body.parameters",
            )
        values = {p: parameters[p] for p in expected}
    empty = [p for p, v in values.items() if not v.strip()]
    if empty:
        raise Invalid(
            f"template {name!r}: parameter(s) {', '.join('{{' + p + '}}' for p in empty)} are empty",
            location="body.parameters",
        )
    if not expected:
        components: list[dict[str, Any]] = []
    elif template.positional:
        components = [template_body(*(values[p] for p in expected))]
    else:
        components = [template_body(**values)]
    return CheckedTemplate(components=components, preview=template.preview(language, values))
