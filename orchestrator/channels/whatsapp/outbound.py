"""Request bodies for the Graph `POST /{version}/{phone_number_id}/messages` endpoint.

Each builder returns the JSON dict in exactly the shape of Meta's documented examples (see
`shared/fixtures/whatsapp/send_*_request.json`) and enforces Meta's per-type limits up front, raising
`OutboundValidationError` naming the limit, so a bad message fails here and not as a Graph 400 later.

Recipients: Meta accepts `+`, `-`, `()` and spaces, but a number without `+` gets the *business*
number's country code prepended, which can reach the wrong person. A digits-only `to` therefore gets
a leading `+`.

Lengths are counted in Python characters (code points); Meta's exact counting of emoji is not
documented.

`render_as_text(payload)` turns any outbound payload into the plain text a transcript or the replay
output shows, e.g. ``How can we help?\\n[Sales] [Support] [Billing]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_TEXT_BODY = 4096
MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_BUTTON_ID = 256
MAX_BUTTONS_BODY = 1024
MAX_LIST_BODY = 4096
MAX_LIST_SECTIONS = 10
MAX_LIST_ROWS = 10
MAX_LIST_BUTTON = 20
MAX_SECTION_TITLE = 24
MAX_ROW_ID = 200
MAX_ROW_TITLE = 24
MAX_ROW_DESCRIPTION = 72
MAX_HEADER = 60
MAX_FOOTER = 60


class OutboundValidationError(ValueError):
    """An outbound message breaks one of Meta's documented limits; the message names the limit."""


@dataclass(frozen=True)
class ListRow:
    id: str
    title: str
    description: str | None = None


@dataclass(frozen=True)
class ListSection:
    rows: Sequence[ListRow]
    title: str | None = None  # required by Meta when the list has more than one section


def normalize_recipient(to: str) -> str:
    """Give a digits-only number its leading `+`; leave anything else as given (stripped)."""
    to = to.strip()
    if not to:
        raise OutboundValidationError("recipient 'to' is empty")
    return f"+{to}" if to.isdigit() else to


def text_message(
    to: str, body: str, *, preview_url: bool = False, reply_to: str | None = None
) -> dict[str, Any]:
    """A text message; `reply_to` quotes an earlier message by its wamid."""
    _check_text("text body", body, MAX_TEXT_BODY)
    payload = _envelope(to, "text", {"preview_url": preview_url, "body": body})
    if reply_to is not None:
        payload["context"] = {"message_id": reply_to}
    return payload


def reply_buttons(
    to: str,
    body: str,
    buttons: Sequence[tuple[str, str]],
    *,
    header: str | Mapping[str, Any] | None = None,
    footer: str | None = None,
) -> dict[str, Any]:
    """Interactive reply buttons; `buttons` are `(id, title)` pairs, 1 to 3 of them.

    `header` is a text (≤ 60 characters) or a ready header object such as
    ``{"type": "image", "image": {"id": "..."}}``.
    """
    _check_text("button message body", body, MAX_BUTTONS_BODY)
    if not 1 <= len(buttons) <= MAX_BUTTONS:
        raise OutboundValidationError(
            f"reply buttons: {len(buttons)} given, at least 1 and at most {MAX_BUTTONS} allowed"
        )
    for button_id, title in buttons:
        _check_text(f"button id {_show(button_id)}", button_id, MAX_BUTTON_ID)
        _check_text(f"button title {_show(title)}", title, MAX_BUTTON_TITLE)
    _check_unique("button title", [title for _, title in buttons])
    _check_unique("button id", [button_id for button_id, _ in buttons])
    interactive: dict[str, Any] = {"type": "button"}
    _add_header_footer(interactive, header, footer, body)
    interactive["action"] = {
        "buttons": [{"type": "reply", "reply": {"id": bid, "title": title}} for bid, title in buttons]
    }
    return _envelope(to, "interactive", interactive)


def list_message(
    to: str,
    body: str,
    button: str,
    sections: Sequence[ListSection],
    *,
    header: str | None = None,
    footer: str | None = None,
) -> dict[str, Any]:
    """An interactive list: `button` opens it; up to 10 rows across all sections."""
    _check_text("list message body", body, MAX_LIST_BODY)
    _check_text("list button label", button, MAX_LIST_BUTTON)
    if not 1 <= len(sections) <= MAX_LIST_SECTIONS:
        raise OutboundValidationError(
            f"list sections: {len(sections)} given, at least 1 and at most {MAX_LIST_SECTIONS} allowed"
        )
    rows = [row for section in sections for row in section.rows]
    if len(rows) > MAX_LIST_ROWS:
        raise OutboundValidationError(
            f"list rows: {len(rows)} given, at most {MAX_LIST_ROWS} allowed across all sections"
        )
    built_sections: list[dict[str, Any]] = []
    for index, section in enumerate(sections):
        if not section.rows:
            raise OutboundValidationError(f"list section {index} has no rows (at least 1 required)")
        built: dict[str, Any] = {}
        if section.title is not None:
            _check_text(f"section title {_show(section.title)}", section.title, MAX_SECTION_TITLE)
            built["title"] = section.title
        elif len(sections) > 1:
            raise OutboundValidationError(f"list section {index} needs a title when there are several")
        built["rows"] = [_row(row) for row in section.rows]
        built_sections.append(built)
    _check_unique("row id", [row.id for row in rows])
    interactive: dict[str, Any] = {"type": "list"}
    _add_header_footer(interactive, header, footer, body)
    interactive["action"] = {"button": button, "sections": built_sections}
    return _envelope(to, "interactive", interactive)


def template_message(
    to: str, name: str, language: str, components: Sequence[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    """A template send (the only kind allowed outside the 24-hour customer service window)."""
    if not name.strip():
        raise OutboundValidationError("template name is empty")
    if not language.strip():
        raise OutboundValidationError("template language code is empty")
    template: dict[str, Any] = {"name": name, "language": {"code": language}}
    if components:
        template["components"] = [dict(component) for component in components]
    return _envelope(to, "template", template)


def template_body(*positional: str, **named: str) -> dict[str, Any]:
    """A template `body` component: positional (`{{1}}`, `{{2}}`) or named parameters, not both."""
    if positional and named:
        raise OutboundValidationError("template parameters must be all positional or all named")
    parameters: list[dict[str, Any]] = [{"type": "text", "text": value} for value in positional]
    parameters += [{"type": "text", "parameter_name": key, "text": value} for key, value in named.items()]
    return {"type": "body", "parameters": parameters}


def render_as_text(payload: Mapping[str, Any]) -> str:
    """Plain text for a transcript: the body, then choices as ``[Sales] [Support] [Billing]``."""
    kind = payload.get("type")
    content = payload.get(kind) if isinstance(kind, str) else None
    content = content if isinstance(content, Mapping) else {}
    if kind == "text":
        return str(content.get("body", ""))
    if kind == "interactive":
        return _render_interactive(content)
    if kind == "template":
        return _render_template(content)
    caption = content.get("caption")
    return str(caption) if caption else f"[{kind}]"


def _render_interactive(interactive: Mapping[str, Any]) -> str:
    lines: list[str] = []
    header = interactive.get("header")
    if isinstance(header, Mapping) and header.get("type") == "text":
        lines.append(str(header.get("text", "")))
    body = interactive.get("body")
    if isinstance(body, Mapping):
        lines.append(str(body.get("text", "")))
    footer = interactive.get("footer")
    if isinstance(footer, Mapping):
        lines.append(str(footer.get("text", "")))
    action = interactive.get("action")
    action = action if isinstance(action, Mapping) else {}
    if interactive.get("type") == "button":
        titles = [b.get("reply", {}).get("title", "") for b in action.get("buttons", [])]
        lines.append(" ".join(f"[{title}]" for title in titles))
    elif interactive.get("type") == "list":
        titles = [row.get("title", "") for s in action.get("sections", []) for row in s.get("rows", [])]
        lines.append(f"[{action.get('button', 'Menu')}: {' | '.join(titles)}]")
    return "\n".join(line for line in lines if line)


def _render_template(template: Mapping[str, Any]) -> str:
    language = template.get("language")
    code = language.get("code") if isinstance(language, Mapping) else None
    values = [
        str(parameter.get("text", ""))
        for component in template.get("components", [])
        for parameter in component.get("parameters", [])
        if parameter.get("type") == "text"
    ]
    label = f"[template {template.get('name')}" + (f" ({code})" if code else "")
    return f"{label}: {', '.join(values)}]" if values else f"{label}]"


def _envelope(to: str, kind: str, content: dict[str, Any]) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": normalize_recipient(to),
        "type": kind,
        kind: content,
    }


def _add_header_footer(
    interactive: dict[str, Any], header: str | Mapping[str, Any] | None, footer: str | None, body: str
) -> None:
    # Key order as in Meta's examples: type, header, body, footer, action.
    if isinstance(header, str):
        _check_text("header", header, MAX_HEADER)
        interactive["header"] = {"type": "text", "text": header}
    elif header is not None:
        interactive["header"] = dict(header)
    interactive["body"] = {"text": body}
    if footer is not None:
        _check_text("footer", footer, MAX_FOOTER)
        interactive["footer"] = {"text": footer}


def _row(row: ListRow) -> dict[str, Any]:
    _check_text(f"row id {_show(row.id)}", row.id, MAX_ROW_ID)
    _check_text(f"row title {_show(row.title)}", row.title, MAX_ROW_TITLE)
    built = {"id": row.id, "title": row.title}
    if row.description is not None:
        _check_text(f"row description {_show(row.description)}", row.description, MAX_ROW_DESCRIPTION)
        built["description"] = row.description
    return built


def _check_text(what: str, value: str, limit: int) -> None:
    if not value.strip():
        raise OutboundValidationError(f"{what} is empty")
    if len(value) > limit:
        raise OutboundValidationError(f"{what} is {len(value)} characters, the limit is {limit}")


def _check_unique(what: str, values: Sequence[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise OutboundValidationError(f"{what} {_show(value)} is used twice; each must be unique")
        seen.add(value)


def _show(value: str) -> str:
    """A value for an error message, shortened so a 5,000-character mistake stays readable."""
    return repr(value if len(value) <= 40 else value[:37] + "...")
