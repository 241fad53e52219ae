"""Logging: one pipeline for structlog and the standard library, JSON or console, with customer data
and secrets kept out.

- Every record, ours (structlog) and the libraries' (uvicorn, SQLAlchemy, httpx through `logging`),
  goes through the same processors and one renderer: JSON lines (`HANDOFF_LOG_JSON=true`) for a log
  collector, or the console renderer for a person.
- Tracebacks are printed without local variables: locals hold customers' numbers and texts.
- Customer data (numbers, names, message texts) in event fields is redacted unless
  `HANDOFF_LOG_CUSTOMER_DATA=true`; the webhook verify token never reaches the access log.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog
from structlog.typing import EventDict, Processor

# Event fields that carry what a customer sent or who they are.
CUSTOMER_FIELDS = frozenset(
    {"wa_id", "phone", "number", "to", "from", "recipient", "name", "contact_name", "text", "body", "words"}
)
REDACTED = "[redacted]"
_VERIFY_TOKEN = re.compile(r"(hub\.verify_token=)[^&\s\"]*")


def redact_customer_data(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    for key in CUSTOMER_FIELDS.intersection(event_dict):
        if event_dict[key] is not None:
            event_dict[key] = REDACTED
    return event_dict


def _drop_colour_copy(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    event_dict.pop("color_message", None)
    return event_dict


def scrub_secrets(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """The verify token travels in the query string of Meta's handshake: keep it out of every line."""
    for key, value in event_dict.items():
        if isinstance(value, str) and "hub.verify_token=" in value:
            event_dict[key] = _VERIFY_TOKEN.sub(r"\1" + REDACTED, value)
    return event_dict


class _AccessLogScrubber(logging.Filter):
    """uvicorn's access log formats the request line from `args`: scrub it before it is rendered."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _VERIFY_TOKEN.sub(r"\1" + REDACTED, a) if isinstance(a, str) else a for a in record.args
            )
        return True


def configure_logging(
    *, level: int = logging.INFO, json: bool = False, customer_data: bool = False, access_log: bool = True
) -> None:
    """Route structlog and the standard library through one renderer (idempotent). `access_log`
    False: uvicorn writes no line per request (in every process, `serve --workers N`'s included,
    whose processes configure logging after uvicorn has)."""
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        # uvicorn's records carry a copy of the message with terminal colour codes: not for a log.
        structlog.stdlib.ExtraAdder(),
        _drop_colour_copy,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        scrub_secrets,
    ]
    if not customer_data:
        shared.append(redact_customer_data)
    final: list[Processor]
    if json:
        tracebacks = structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
        final = [structlog.processors.ExceptionRenderer(tracebacks), structlog.processors.JSONRenderer()]
    else:
        final = [structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(_AccessLogScrubber())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn installs its own handlers: let its records reach ours instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lib = logging.getLogger(name)
        lib.handlers.clear()
        lib.propagate = True
    # No handler to reach: uvicorn's protocols then skip the access line altogether.
    logging.getLogger("uvicorn.access").propagate = access_log
    # httpx logs every request at info: a line per reply sent, the volume the access log is off for.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
