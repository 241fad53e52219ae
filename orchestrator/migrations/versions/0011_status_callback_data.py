"""delivery statuses keep the `biz_opaque_callback_data` a send carried: the outbox tags every send with
its row, so a reply Graph accepted just before its sender died is recognised by its status webhook
instead of being sent again

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messagestatusevent", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("callback_data", sqlmodel.sql.sqltypes.AutoString(length=512), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_messagestatusevent_callback_data"), ["callback_data"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("messagestatusevent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messagestatusevent_callback_data"))
        batch_op.drop_column("callback_data")
