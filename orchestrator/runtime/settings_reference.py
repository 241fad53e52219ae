"""Every setting, read from `Settings` itself: the reference (`docs/settings.md`), the `.env.example`
and what one process's settings are (`handoff settings`). The descriptions live on the fields, so
the three cannot disagree with the code (tests/test_settings_reference.py compares the files)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

from pydantic import AliasChoices, SecretStr
from pydantic.fields import FieldInfo

from orchestrator.core.settings import DEV_SECRETS, Settings

HIDDEN = "********"


def env_name(name: str) -> str:
    return f"HANDOFF_{name.upper()}"


def _aliases(name: str, field: FieldInfo) -> list[str]:
    """The variables a field is read from besides `HANDOFF_<NAME>` (`OPENAI_API_KEY`)."""
    alias = field.validation_alias
    choices = alias.choices if isinstance(alias, AliasChoices) else []
    return [str(c) for c in choices if isinstance(c, str) and c != env_name(name)]


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def default_of(name: str) -> str | None:
    """The default as an environment value, or None when there is none to write (unset, random per
    start, or a public development secret that a deployment must replace)."""
    field = Settings.model_fields[name]
    if field.default_factory is not None or field.default is None:
        return None
    if isinstance(field.default, SecretStr):
        return None
    return _literal(field.default)


def _default_shown(name: str) -> str:
    field = Settings.model_fields[name]
    if field.default_factory is not None:
        return "random per start"
    if isinstance(field.default, SecretStr):
        return "development value"
    if field.default is None:
        return "unset"
    return f"`{_literal(field.default)}`"


def _fields() -> Iterator[tuple[str, FieldInfo]]:
    yield from Settings.model_fields.items()


def reference_markdown() -> str:
    rows = []
    for name, field in _fields():
        names = " or ".join(f"`{n}`" for n in [env_name(name), *_aliases(name, field)])
        meaning = (field.description or "").replace("|", "\\|")
        rows.append(f"| {names} | {_default_shown(name)} | {meaning} |")
    return "\n".join(
        [
            "# Settings",
            "",
            "Every setting of `handoff serve` and `handoff worker`, read from the environment and from a",
            "`.env` file in the working directory (the environment wins). A `HANDOFF_` variable that names",
            "no setting is reported at start with the one it most likely meant; a value that does not",
            "validate stops the start with the variable named. `handoff settings` prints what a process",
            "would run with, secrets hidden; `.env.example` lists them all, commented out.",
            "",
            "This page is generated from `orchestrator/core/settings.py`",
            "(`handoff settings --reference > docs/settings.md`); a test keeps it current.",
            "",
            "| variable | default | meaning |",
            "|---|---|---|",
            *rows,
            "",
        ]
    )


def env_example() -> str:
    lines = [
        "# The handoff service's settings, each with its default (commented out: the default applies).",
        "# Copy to .env and uncomment what you set. Generated: handoff settings --env-example",
        "# Secrets marked 'required' must be set outside development mode; keep .env out of images.",
        "",
    ]
    for name, field in _fields():
        for line in textwrap.wrap(field.description or "", width=98):
            lines.append(f"# {line}")
        lines.append(f"# {env_name(name)}={default_of(name) or ''}")
        lines.append("")
    return "\n".join(lines)


def _without_credentials(value: str) -> str:
    """A URL's password and query hidden (the database's URL, an integration's webhook URL)."""
    parts = urlsplit(value)
    if not parts.scheme or not parts.netloc:
        return value
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", f":{HIDDEN}@", 1)
    query = HIDDEN if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def effective(settings: Settings) -> list[str]:
    """`settings` as `VARIABLE=value` lines, secrets hidden, each marked where it differs from the
    default or still holds a public development value."""
    lines = []
    for name, field in _fields():
        value = getattr(settings, name)
        is_set = name in settings.model_fields_set
        if isinstance(value, SecretStr):
            secret = value.get_secret_value()
            shown = HIDDEN if secret else ""
            if secret in DEV_SECRETS.values():
                shown = f"{HIDDEN}  # the public development value"
            elif field.default_factory is not None and not is_set:
                shown = f"{HIDDEN}  # random, this start only"
            elif is_set:
                shown = f"{HIDDEN}  # set"
        else:
            shown = "" if value is None else _without_credentials(_literal(value))
            if is_set:
                shown += "  # set"
        lines.append(f"{env_name(name)}={shown}")
    return lines
