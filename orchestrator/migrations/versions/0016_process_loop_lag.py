"""how late each process's event loop ran over its last heartbeat interval: work that holds the loop
shows before the process is taken for a hung one

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 07:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("processbeat", schema=None) as batch_op:
        batch_op.add_column(sa.Column("loop_lag_s", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("processbeat", schema=None) as batch_op:
        batch_op.drop_column("loop_lag_s")
