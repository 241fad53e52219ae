"""Outbound builders reproduce Meta's documented request bodies and enforce Meta's limits."""

from __future__ import annotations

import json
from typing import Any

import pytest

from orchestrator.channels.whatsapp.outbound import (
    ListRow,
    ListSection,
    OutboundValidationError,
    list_message,
    render_as_text,
    reply_buttons,
    template_body,
    template_message,
    text_message,
)
from tests.fixtures import load_fixture

TO = "+16505551234"
MENU = [("sales", "Sales"), ("support", "Support"), ("billing", "Billing")]


def _same_json(built: dict[str, Any], expected: dict[str, Any]) -> None:
    """Equal, and in the same key order as Meta's example (easier to diff against the docs)."""
    assert built == expected
    assert json.dumps(built) == json.dumps(expected)


def _shipping_sections() -> list[ListSection]:
    return [
        ListSection(
            title="I want it ASAP!",
            rows=[
                ListRow("priority_express", "Priority Mail Express", "Next Day to 2 Days"),
                ListRow("priority_mail", "Priority Mail", "1–3 Days"),
            ],
        ),
        ListSection(
            title="I can wait a bit",
            rows=[
                ListRow("usps_ground_advantage", "USPS Ground Advantage", "2–5 Days"),
                ListRow("media_mail", "Media Mail", "2–8 Days"),
            ],
        ),
    ]


def test_text_message_matches_meta_example() -> None:
    expected = load_fixture("send_text_request.json")
    _same_json(text_message(TO, expected["text"]["body"], preview_url=True), expected)


def test_reply_buttons_match_meta_example() -> None:
    expected = load_fixture("send_interactive_buttons_request.json")
    interactive = expected["interactive"]
    built = reply_buttons(
        TO,
        interactive["body"]["text"],
        [("change-button", "Change"), ("cancel-button", "Cancel")],
        header=interactive["header"],
        footer=interactive["footer"]["text"],
    )
    _same_json(built, expected)


def test_list_message_matches_meta_example() -> None:
    expected = load_fixture("send_interactive_list_request.json")
    built = list_message(
        TO,
        "Which shipping option do you prefer?",
        "Shipping Options",
        _shipping_sections(),
        header="Choose Shipping Option",
        footer="Lucky Shrub: Your gateway to succulents™",
    )
    _same_json(built, expected)


def test_positional_template_matches_meta_example() -> None:
    built = template_message(TO, "order_confirmation", "en_US", [template_body("Jessica", "SKBUP2-4CPIG9")])
    _same_json(built, load_fixture("send_template_positional_request.json"))


def test_named_template_matches_meta_example() -> None:
    body = template_body(first_name="Jessica", order_number="SKBUP2-4CPIG9")
    built = template_message(TO, "order_confirmation", "en_US", [body])
    _same_json(built, load_fixture("send_template_named_request.json"))


def test_template_without_components_omits_the_key() -> None:
    built = template_message(TO, "hello_world", "en_US")
    assert built["template"] == {"name": "hello_world", "language": {"code": "en_US"}}


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("16505551234", "+16505551234"),
        ("+16505551234", "+16505551234"),
        (" 447700900123 ", "+447700900123"),
        ("+1 (650) 555-1234", "+1 (650) 555-1234"),
    ],
)
def test_digits_only_recipient_gets_a_plus(given: str, sent: str) -> None:
    # Without "+", Meta prepends the *business* number's country code.
    assert text_message(given, "hi")["to"] == sent


def test_text_reply_quotes_the_message() -> None:
    assert text_message(TO, "hi", reply_to="wamid.abc")["context"] == {"message_id": "wamid.abc"}


def test_text_header_is_a_text_header_object() -> None:
    built = reply_buttons(TO, "How can we help?", MENU, header="Welcome")
    assert built["interactive"]["header"] == {"type": "text", "text": "Welcome"}


def _row(n: int) -> ListRow:
    return ListRow(f"r{n}", f"Row {n}")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: text_message(TO, "x" * 4097), "text body is 4097 characters, the limit is 4096"),
        (lambda: text_message(TO, "  "), "text body is empty"),
        (lambda: text_message("", "hi"), "recipient 'to' is empty"),
        (lambda: reply_buttons(TO, "b", [*MENU, ("x", "More")]), "4 given, at least 1 and at most 3"),
        (lambda: reply_buttons(TO, "b", []), "0 given, at least 1 and at most 3"),
        (lambda: reply_buttons(TO, "b", [("a", "x" * 21)]), "the limit is 20"),
        (
            lambda: reply_buttons(TO, "b", [("a", "Sales"), ("b", "Sales")]),
            "button title 'Sales' is used twice",
        ),
        (lambda: reply_buttons(TO, "b", [("a", "One"), ("a", "Two")]), "button id 'a' is used twice"),
        (
            lambda: reply_buttons(TO, "b" * 1025, MENU),
            "button message body is 1025 characters, the limit is 1024",
        ),
        (lambda: reply_buttons(TO, "b", MENU, footer="f" * 61), "footer is 61 characters, the limit is 60"),
        (lambda: reply_buttons(TO, "b", MENU, header="h" * 61), "header is 61 characters, the limit is 60"),
        (
            lambda: list_message(TO, "b", "Menu", [ListSection([_row(n) for n in range(11)])]),
            "list rows: 11 given, at most 10",
        ),
        (
            lambda: list_message(
                TO,
                "b",
                "Menu",
                [
                    ListSection([_row(n) for n in range(6)], "A"),
                    ListSection([_row(n) for n in range(6, 11)], "B"),
                ],
            ),
            "list rows: 11 given, at most 10 allowed across all sections",
        ),
        (lambda: list_message(TO, "b", "Menu", []), "list sections: 0 given"),
        (lambda: list_message(TO, "b", "Menu", [ListSection([])]), "list section 0 has no rows"),
        (
            lambda: list_message(TO, "b", "x" * 21, [ListSection([_row(1)])]),
            "list button label is 21 characters",
        ),
        (lambda: list_message(TO, "b" * 4097, "Menu", [ListSection([_row(1)])]), "the limit is 4096"),
        (lambda: list_message(TO, "b", "Menu", [ListSection([ListRow("i", "t" * 25)])]), "the limit is 24"),
        (
            lambda: list_message(TO, "b", "Menu", [ListSection([ListRow("i", "t", "d" * 73)])]),
            "characters, the limit is 72",
        ),
        (lambda: list_message(TO, "b", "Menu", [ListSection([_row(1)], "s" * 25)]), "section title"),
        (
            lambda: list_message(TO, "b", "Menu", [ListSection([_row(1)], "A"), ListSection([_row(2)])]),
            "list section 1 needs a title",
        ),
        (
            lambda: list_message(TO, "b", "Menu", [ListSection([_row(1), _row(1)])]),
            "row id 'r1' is used twice",
        ),
        (lambda: template_message(TO, "", "en_US"), "template name is empty"),
        (lambda: template_body("a", b="c"), "all positional or all named"),
    ],
)
def test_limit_violations_raise_naming_the_limit(build: Any, message: str) -> None:
    with pytest.raises(OutboundValidationError) as caught:
        build()
    assert message in str(caught.value)


def test_limits_are_inclusive() -> None:
    built = reply_buttons(TO, "b" * 1024, [("a" * 256, "t" * 20)], footer="f" * 60, header="h" * 60)
    assert built["interactive"]["action"]["buttons"][0]["reply"]["title"] == "t" * 20
    rows = [ListRow(f"r{n}", "t" * 24, "d" * 72) for n in range(10)]
    assert (
        len(
            list_message(TO, "b" * 4096, "x" * 20, [ListSection(rows, "s" * 24)])["interactive"]["action"][
                "sections"
            ][0]["rows"]
        )
        == 10
    )
    assert text_message(TO, "x" * 4096)["text"]["body"] == "x" * 4096


def test_long_values_are_shortened_in_error_messages() -> None:
    with pytest.raises(OutboundValidationError) as caught:
        reply_buttons(TO, "b", [("a", "x" * 500)])
    assert len(str(caught.value)) < 120


def test_render_text_is_the_body() -> None:
    assert render_as_text(text_message(TO, "Hello there")) == "Hello there"


def test_render_buttons_lists_titles_in_brackets() -> None:
    built = reply_buttons(TO, "How can we help?", MENU, header="Welcome", footer="Reply with a button")
    assert (
        render_as_text(built) == "Welcome\nHow can we help?\nReply with a button\n[Sales] [Support] [Billing]"
    )


def test_render_list_shows_the_button_and_rows() -> None:
    built = list_message(TO, "Which shipping option do you prefer?", "Shipping Options", _shipping_sections())
    assert render_as_text(built) == (
        "Which shipping option do you prefer?\n"
        "[Shipping Options: Priority Mail Express | Priority Mail | USPS Ground Advantage | Media Mail]"
    )


def test_render_template_shows_name_language_and_values() -> None:
    rendered = render_as_text(load_fixture("send_template_named_request.json"))
    assert rendered == "[template order_confirmation (en_US): Jessica, SKBUP2-4CPIG9]"


def test_render_other_types_names_the_type() -> None:
    image = {"messaging_product": "whatsapp", "to": TO, "type": "image", "image": {"id": "1"}}
    assert render_as_text(image) == "[image]"
    assert render_as_text({**image, "image": {"id": "1", "caption": "Our prices"}}) == "Our prices"
