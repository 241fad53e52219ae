"""a partial index of the outbound messages not sent (pending, sending) or given up on (failed), so
`GET /metrics` counts them at every scrape without reading every message

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WATCHED = "status IN ('pending', 'sending', 'failed')"


def upgrade() -> None:
    op.create_index(
        "ix_message_outbox_watched",
        "message",
        ["status", "created_at"],
        unique=False,
        sqlite_where=sa.text(WATCHED),
        postgresql_where=sa.text(WATCHED),
    )


def downgrade() -> None:
    op.drop_index("ix_message_outbox_watched", table_name="message")
