"""qa: the BPO quality programme (decisions, runs, items, grades, clarifications)

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "qa_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vendor", sa.String(length=64), nullable=False),
        sa.Column("decision_id", sa.String(length=128), nullable=False),
        sa.Column("content_ref", sa.String(length=500), nullable=False),
        sa.Column("policy_area", sa.String(length=64), nullable=False),
        sa.Column("decision", sa.String(length=64), nullable=False),
        sa.Column("decided_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("imported_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("vendor", "decision_id", name="uq_qa_decisions_vendor_decision"),
    )
    with op.batch_alter_table("qa_decisions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_qa_decisions_vendor_decided", ["vendor", "decided_at"], unique=False
        )

    op.create_table(
        "qa_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("vendor", sa.String(length=64), nullable=False),
        sa.Column("period_start", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("period_end", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("seed", sa.String(length=64), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "vendor", "period_start"),
    )
    op.create_table(
        "qa_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("slot", sa.SmallInteger(), nullable=False),
        sa.Column("stratum", sa.String(length=200), nullable=False),
        sa.Column("stratum_size", sa.Integer(), nullable=False),
        sa.Column("stratum_sampled", sa.Integer(), nullable=False),
        sa.Column("sensitive", sa.Boolean(), nullable=False),
        sa.Column("grader_id", sa.String(length=32), nullable=True),
        sa.Column("assigned_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=True),
        sa.Column("correct_decision", sa.String(length=64), nullable=True),
        sa.Column("error_category", sa.String(length=64), nullable=True),
        sa.Column("graded_by", sa.String(length=32), nullable=True),
        sa.Column("graded_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["decision_id"], ["qa_decisions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["qa_runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "decision_id", "slot"),
    )
    with op.batch_alter_table("qa_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_qa_items_decision_id"), ["decision_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_qa_items_graded_at"), ["graded_at"], unique=False)
        batch_op.create_index("ix_qa_items_grader", ["grader_id", "status"], unique=False)
        batch_op.create_index("ix_qa_items_kind_status", ["kind", "status"], unique=False)

    op.create_table(
        "qa_clarifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vendor", sa.String(length=64), nullable=False),
        sa.Column("policy_area", sa.String(length=64), nullable=False),
        sa.Column("error_category", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("pattern_key", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("examples", sa.JSON(), nullable=False),
        sa.Column("policy_point", sa.Text(), nullable=True),
        sa.Column("instead", sa.Text(), nullable=True),
        sa.Column("proposed_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("written_by", sa.String(length=32), nullable=True),
        sa.Column("posted_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=32), nullable=True),
        sa.Column("acknowledged_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["qa_items.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pattern_key"),
    )
    with op.batch_alter_table("qa_clarifications", schema=None) as batch_op:
        batch_op.create_index("ix_qa_clarifications_status", ["status", "vendor"], unique=False)

    op.create_table(
        "qa_grades",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.String(length=32), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("correct_decision", sa.String(length=64), nullable=True),
        sa.Column("error_category", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("corrects", sa.Integer(), nullable=True),
        sa.Column("at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["qa_items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("qa_grades", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_qa_grades_item_id"), ["item_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("qa_grades", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_qa_grades_item_id"))

    op.drop_table("qa_grades")
    with op.batch_alter_table("qa_clarifications", schema=None) as batch_op:
        batch_op.drop_index("ix_qa_clarifications_status")

    op.drop_table("qa_clarifications")
    with op.batch_alter_table("qa_items", schema=None) as batch_op:
        batch_op.drop_index("ix_qa_items_kind_status")
        batch_op.drop_index("ix_qa_items_grader")
        batch_op.drop_index(batch_op.f("ix_qa_items_graded_at"))
        batch_op.drop_index(batch_op.f("ix_qa_items_decision_id"))

    op.drop_table("qa_items")
    op.drop_table("qa_runs")
    with op.batch_alter_table("qa_decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_qa_decisions_vendor_decided")

    op.drop_table("qa_decisions")
