"""Prompt templates: each one's placeholders are exactly what its caller passes, and filling is strict."""

from __future__ import annotations

import pytest

import prompts
from agents.llm import PROMPT_KEYS
from prompts import PromptError, placeholders, render


def test_every_template_has_a_caller_and_every_caller_a_template() -> None:
    assert set(prompts.names()) == set(PROMPT_KEYS)


@pytest.mark.parametrize(("name", "keys"), sorted(PROMPT_KEYS.items()))
def test_template_placeholders_match_the_keys_the_code_passes(name: str, keys: frozenset[str]) -> None:
    assert placeholders(name) == set(keys)


@pytest.mark.parametrize(("name", "keys"), sorted(PROMPT_KEYS.items()))
def test_every_value_lands_in_the_rendered_prompt(name: str, keys: frozenset[str]) -> None:
    values = {key: f"<<{key} value>>" for key in keys}

    text = render(name, **values)

    for value in values.values():
        assert value in text
    assert "$" not in text


def test_missing_value_is_refused() -> None:
    with pytest.raises(PromptError, match=r"missing values for \['human_notes'\]"):
        render("briefing")


def test_unexpected_value_is_refused() -> None:
    with pytest.raises(PromptError, match=r"unexpected values \['transcript'\]"):
        render("briefing", human_notes="refunded", transcript="customer: hi")


def test_values_are_inserted_verbatim_even_with_dollar_signs() -> None:
    text = render("briefing", human_notes="Quoted $human_notes and ${price} at $40")

    assert "Quoted $human_notes and ${price} at $40" in text


def test_unknown_template_is_refused() -> None:
    with pytest.raises(PromptError, match="unknown prompt template 'nope'"):
        placeholders("nope")
