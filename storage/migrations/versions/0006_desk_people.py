"""desk_people: who app.yaml put on the desk, and when they left it (Slack or app.yaml)

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "desk_people",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("seen_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("left_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("left_via", sa.String(length=16), nullable=True),
        sa.Column("noted_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("user_id"),
    )
    with op.batch_alter_table("desk_people", schema=None) as batch_op:
        batch_op.create_index("ix_desk_people_left_at", ["left_at"], unique=False)


def downgrade() -> None:
    op.drop_table("desk_people")
