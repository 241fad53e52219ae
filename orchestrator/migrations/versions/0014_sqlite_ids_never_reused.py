"""SQLite: the ids of the tables a customer's erasure deletes from are never given again
(AUTOINCREMENT). Without it SQLite gives a new row the highest remaining id plus one, so erasing the
newest customer let the next one reuse their conversation's, messages' and events' ids: the audit
entries of the erased conversation read as the new one's, the live stream took the new events for
ones it had already delivered, and a late status of an erased reply could name a new one.
PostgreSQL's sequences never give an id twice: nothing to do there.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 20:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Parents before children is not needed: the migration's connection does not enforce foreign keys,
# and each table is copied whole (its indexes, partial ones included, made again).
TABLES = ("contact", "conversation", "message", "media", "contextevent", "assignment", "note", "inboxitem")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": True}):
            pass


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": False}):
            pass
