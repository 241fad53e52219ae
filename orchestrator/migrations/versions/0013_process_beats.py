"""the heartbeats of the processes that run a background loop (workers, API processes with
theirs), so a fleet can be watched: a process that died or hangs stops beating

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sqlmodel

import orchestrator.core.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "processbeat",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("host", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("runs_turns", sa.Boolean(), nullable=False),
        sa.Column("interval_s", sa.Float(), nullable=False),
        sa.Column("started_at", orchestrator.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("beat_at", orchestrator.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("processbeat")
