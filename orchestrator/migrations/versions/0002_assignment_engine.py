"""assignment engine: presence expiry, backlog pacing, assignment outcomes, timer claims, indexes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 10:00:00

Written by hand; works on SQLite (batch mode) and PostgreSQL.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import orchestrator.core.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = "fired_at IS NULL AND cancelled_at IS NULL"
TURN_SEQUENCE = "repqueue_turn_seq"  # handoff/assignment/claim.py draws round-robin turns from it
WAITING = "owner = 'queued'"
OPEN = "status IN ('waiting', 'active')"


def upgrade() -> None:
    with op.batch_alter_table("rep", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expired_presence", sa.String(length=8), nullable=True))

    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE SEQUENCE IF NOT EXISTS {TURN_SEQUENCE}")
    with op.batch_alter_table("repqueue", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_turn", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("burst_started_at", orchestrator.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("burst_count", sa.Integer(), nullable=False, server_default="0"))

    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.create_index(
            "uq_assignment_open_per_conversation",
            ["conversation_id"],
            unique=True,
            sqlite_where=sa.text(OPEN),
            postgresql_where=sa.text(OPEN),
        )
        batch_op.add_column(sa.Column("end_reason", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("escalation", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("sla_due_at", orchestrator.core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("sla_breached_at", orchestrator.core.db.UTCDateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("timer", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True))
        batch_op.add_column(sa.Column("fired_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.create_foreign_key("fk_timer_assignment_id", "assignment", ["assignment_id"], ["id"])
        batch_op.create_index(batch_op.f("ix_timer_key"), ["key"], unique=True)
        batch_op.create_index(
            "ix_timer_pending",
            ["due_at"],
            unique=False,
            sqlite_where=sa.text(PENDING),
            postgresql_where=sa.text(PENDING),
        )

    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.create_index(
            "ix_conversation_waiting",
            ["queue", "priority", "waiting_since"],
            unique=False,
            sqlite_where=sa.text(WAITING),
            postgresql_where=sa.text(WAITING),
        )


def downgrade() -> None:
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_conversation_waiting", sqlite_where=sa.text(WAITING), postgresql_where=sa.text(WAITING)
        )

    with op.batch_alter_table("timer", schema=None) as batch_op:
        batch_op.drop_index("ix_timer_pending", sqlite_where=sa.text(PENDING), postgresql_where=sa.text(PENDING))
        batch_op.drop_index(batch_op.f("ix_timer_key"))
        batch_op.drop_constraint("fk_timer_assignment_id", type_="foreignkey")
        batch_op.drop_column("last_error")
        batch_op.drop_column("attempts")
        batch_op.drop_column("fired_by")
        batch_op.drop_column("key")

    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_assignment_open_per_conversation", sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN)
        )
        batch_op.drop_column("sla_breached_at")
        batch_op.drop_column("sla_due_at")
        batch_op.drop_column("escalation")
        batch_op.drop_column("end_reason")

    with op.batch_alter_table("repqueue", schema=None) as batch_op:
        batch_op.drop_column("burst_count")
        batch_op.drop_column("burst_started_at")
        batch_op.drop_column("last_turn")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP SEQUENCE IF EXISTS {TURN_SEQUENCE}")

    with op.batch_alter_table("rep", schema=None) as batch_op:
        batch_op.drop_column("expired_presence")
