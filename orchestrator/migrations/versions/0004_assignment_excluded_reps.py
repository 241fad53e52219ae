"""assignment.excluded_reps: the reps a conversation must not go back to, in a column of its own

Until now the list rode inside the routing explanation (`routing["exclude"]`). Upgrading moves it
out of every row; downgrading puts it back.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 04:30:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_assignment = sa.table(
    "assignment",
    sa.column("id", sa.Integer()),
    sa.column("routing", sa.JSON()),
    sa.column("excluded_reps", sa.JSON()),
)


def _rows(where: Any) -> list[Any]:
    query = sa.select(_assignment.c.id, _assignment.c.routing, _assignment.c.excluded_reps).where(where)
    return list(op.get_bind().execute(query))


def upgrade() -> None:
    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("excluded_reps", sa.JSON(), nullable=True))
    for id_, routing, _ in _rows(_assignment.c.routing.is_not(None)):
        if not isinstance(routing, dict) or "exclude" not in routing:
            continue
        rest = {k: v for k, v in routing.items() if k != "exclude"}
        op.get_bind().execute(
            sa.update(_assignment)
            .where(_assignment.c.id == id_)
            .values(routing=rest, excluded_reps=sorted(routing["exclude"]) or None)
        )


def downgrade() -> None:
    for id_, routing, excluded in _rows(_assignment.c.excluded_reps.is_not(None)):
        if excluded:
            op.get_bind().execute(
                sa.update(_assignment)
                .where(_assignment.c.id == id_)
                .values(routing={**(routing or {}), "exclude": excluded})
            )
    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.drop_column("excluded_reps")
