"""rep.config_token_hash: the API token the configuration file gave a rep

A token the configuration gave stops working once the configuration no longer lists the rep (the
demo accounts of the shipped file, once a deployment has its own), unless an admin issued another.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 05:20:00
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rep", schema=None) as batch_op:
        batch_op.add_column(sa.Column("config_token_hash", sa.String(length=128), nullable=True))
    # Reps seeded before this column: the shipped demo tokens are `demo-<id>`.
    rep = sa.table("rep", sa.column("id", sa.String()), sa.column("token_hash", sa.String()),
                   sa.column("config_token_hash", sa.String()))
    bind = op.get_bind()
    for rep_id, token_hash in bind.execute(sa.select(rep.c.id, rep.c.token_hash)).all():
        if token_hash and token_hash == hashlib.sha256(f"demo-{rep_id}".encode()).hexdigest():
            bind.execute(sa.update(rep).where(rep.c.id == rep_id).values(config_token_hash=token_hash))


def downgrade() -> None:
    with op.batch_alter_table("rep", schema=None) as batch_op:
        batch_op.drop_column("config_token_hash")
