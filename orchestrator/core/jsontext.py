"""JSON text for the database: orjson, several times faster than the standard library, which stays
the fallback for what orjson refuses (integers past 64 bits; NaN and the infinities when reading).

The engine writes and reads its JSON columns with these (`db.make_engine`), and so do the
statements a turn runs on the driver's own connection (its checkpoint), whose adapters the engine
configured; the webhook's batched insert writes its document with `dumps`. What is written is the
same JSON as before, without `\\uXXXX` escapes for non-ASCII text."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import orjson


def _iso(value: Any) -> str:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any) -> str:
    """`value` as JSON text (dict keys that are not strings written as strings, as `json.dumps`
    does)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False, default=_iso)


def loads(text: str | bytes) -> Any:
    """The value of JSON text."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
