"""intake_lookups: the per-person duplicate-check limit

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "intake_lookups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("intake_lookups", schema=None) as batch_op:
        batch_op.create_index("ix_intake_lookups_user_at", ["user_id", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("intake_lookups", schema=None) as batch_op:
        batch_op.drop_index("ix_intake_lookups_user_at")
    op.drop_table("intake_lookups")
