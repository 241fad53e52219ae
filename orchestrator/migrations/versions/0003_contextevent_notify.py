"""contextevent insert trigger calling pg_notify (live rep notifications across processes)

Every row appended to the context log is announced on the `handoff_events` channel with its id,
conversation and type (a few dozen bytes, far below NOTIFY's 8000-byte limit); listeners load the
row themselves. PostgreSQL delivers notifications at commit, never for a rolled-back insert.
A no-op on SQLite, where one process serves everything.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 19:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "handoff_events"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION handoff_notify_contextevent() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_notify(
                '{CHANNEL}',
                json_build_object(
                    'id', NEW.id, 'conversation_id', NEW.conversation_id, 'type', NEW.type
                )::text
            );
            RETURN NULL;
        END
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        """
        CREATE TRIGGER contextevent_notify
        AFTER INSERT ON contextevent
        FOR EACH ROW EXECUTE FUNCTION handoff_notify_contextevent()
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS contextevent_notify ON contextevent")
    op.execute("DROP FUNCTION IF EXISTS handoff_notify_contextevent()")
