"""outbox lanes and priority: no head-of-line blocking, urgent messages first

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("lane", sa.String(length=200), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("priority", sa.SmallInteger(), server_default="0", nullable=False)
        )
    # Pending rows keep the order they had: a ticket's rows in one lane, the rest alone.
    op.execute(
        "UPDATE outbox SET lane = CASE WHEN ticket_id IS NOT NULL "
        "THEN 'ticket:' || CAST(ticket_id AS VARCHAR(20)) ELSE dedup_key END "
        "WHERE status = 'pending'"
    )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("priority")
        batch_op.drop_column("lane")
