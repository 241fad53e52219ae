"""WhatsApp's 24-hour customer-service window: free-form messages only while it is open.

It opens, for 24 hours, at each message of the customer (FACTS: "If the user messages or calls you
again before the timer expires, the timer resets to 24 hours"). Counted from the customer's last
message here; when WhatsApp refuses a free-form message with 131047 (re-engagement) while that count
has it open (a call we never saw, clocks apart, a message Meta does not count), Meta's answer wins:
the window is closed from then until the customer writes again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from orchestrator.core.tables import Conversation

CUSTOMER_SERVICE_WINDOW = timedelta(hours=24)
RE_ENGAGEMENT = 131047  # Graph: more than 24 hours since the customer last wrote


def closes_at(conversation: Conversation) -> datetime | None:
    """When the window closes (or closed); None when the customer never wrote."""
    last = conversation.last_inbound_at
    if last is None:
        return None
    counted = last + CUSTOMER_SERVICE_WINDOW
    refused = conversation.window_closed_at
    return min(counted, refused) if refused is not None and refused >= last else counted


def is_open(conversation: Conversation, now: datetime) -> bool:
    closing = closes_at(conversation)
    return closing is not None and now < closing


def refused_for_the_window(errors: Iterable[Mapping[str, Any]]) -> bool:
    """Graph's error objects (a send's answer, or a `failed` status's `errors`) say 131047."""
    return any(e.get("code") == RE_ENGAGEMENT for e in errors)


async def close_window(session: AsyncSession, *, conversation_id: int, at: datetime) -> None:
    """WhatsApp says the window is closed: recorded unless the customer wrote since `at`."""
    last = col(Conversation.last_inbound_at)
    await session.execute(
        sa.update(Conversation)
        .where(col(Conversation.id) == conversation_id, sa.or_(last.is_(None), last <= at))
        .values(window_closed_at=at)
        .execution_options(synchronize_session=False)
    )
