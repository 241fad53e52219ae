"""Prompt templates: one Markdown file per prompt in this package, with `$name` placeholders.

Templates use `string.Template` syntax (`$name` or `${name}`; a literal dollar sign is `$$`), filled at
call time by `render`. Filling is strict in both directions: a placeholder left without a value and a
value without a placeholder both raise `PromptError`, so a renamed key fails loudly instead of sending
the model an empty section. `tests/test_prompts.py` checks each template against the key set its
caller passes (the `*_KEYS` constants in `agents/llm.py`).

Nothing time-dependent is formatted in here: templates are read lazily and hold only placeholders.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from string import Template

__all__ = ["PromptError", "names", "placeholders", "render"]

_DIR = Path(__file__).resolve().parent
_SUFFIX = ".md"


class PromptError(ValueError):
    """An unknown template, a malformed one, or values that do not match its placeholders."""


def names() -> list[str]:
    """The template names available (file stems), sorted."""
    return sorted(path.stem for path in _DIR.glob(f"*{_SUFFIX}"))


@cache
def _template(name: str) -> Template:
    if name not in names():
        raise PromptError(f"unknown prompt template {name!r}; known: {', '.join(names())}")
    template = Template((_DIR / f"{name}{_SUFFIX}").read_text(encoding="utf-8"))
    if not template.is_valid():
        raise PromptError(f"prompt template {name!r} has a malformed placeholder (a lone '$'? use '$$')")
    return template


def placeholders(name: str) -> set[str]:
    """The placeholder names in template `name`."""
    return set(_template(name).get_identifiers())


def render(name: str, **values: str) -> str:
    """Fill template `name`; the keyword names must be exactly its placeholders."""
    expected = placeholders(name)
    missing = expected - values.keys()
    unexpected = values.keys() - expected
    if missing or unexpected:
        raise PromptError(
            f"prompt {name!r}: missing values for {sorted(missing)}, unexpected values {sorted(unexpected)}"
        )
    return _template(name).substitute(values)
