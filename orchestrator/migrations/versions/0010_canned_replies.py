"""canned replies: saved replies reps insert with `/` in the composer, team-wide or for one queue

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 07:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import orchestrator.core.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cannedreply",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shortcut", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("queue", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", orchestrator.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", orchestrator.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("cannedreply", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cannedreply_queue"), ["queue"], unique=False)
        batch_op.create_index(batch_op.f("ix_cannedreply_shortcut"), ["shortcut"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cannedreply", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cannedreply_shortcut"))
        batch_op.drop_index(batch_op.f("ix_cannedreply_queue"))
    op.drop_table("cannedreply")
