"""Country and calling code of a WhatsApp number."""

from __future__ import annotations

import phonenumbers


def _parsed(wa_id: str | None) -> phonenumbers.PhoneNumber | None:
    """A WhatsApp number (digits, no '+') parsed, or None when it is not one."""
    if not wa_id:
        return None
    try:
        return phonenumbers.parse("+" + wa_id.lstrip("+"))
    except phonenumbers.NumberParseException:
        return None


def country_of(wa_id: str | None) -> str | None:
    """ISO 3166 region of a WhatsApp number (digits, no '+'), or None when unknown."""
    number = _parsed(wa_id)
    if number is None:
        return None
    # Exact region for valid numbers; otherwise the main region of the calling code (+44 -> GB),
    # which is what routing needs even for reserved ranges such as the UK's 07700 900xxx.
    region: str | None = phonenumbers.region_code_for_number(number)
    if (not region or region == "ZZ") and number.country_code:
        region = phonenumbers.region_code_for_country_code(number.country_code)
    return region if region and region != "ZZ" else None


def calling_code_of(wa_id: str | None) -> int | None:
    """The international calling code of a WhatsApp number (44 for the UK and the Crown
    dependencies that share its numbering, 1 for the NANP countries), or None when unknown."""
    number = _parsed(wa_id)
    return (number.country_code or None) if number is not None else None
