"""QA after downtime: which run took each decision into its draw

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08

``qa_decisions.sample_run_id`` names the sample run that considered a decision (or the
``gap`` run that reported it as never drawn). The draw marks what it takes, so a day
missed while escbot was down is drawn later, once, and decisions imported after their
day's draw are drawn as a top-up. Backfilled from the existing runs: a decision of a
run's day imported before the run was drawn; later ones stay unmarked (a top-up).

A top-up is a run of its own (its strata weigh apart from the day's), and a day may
have several, so the once-per-period key of ``qa_runs`` becomes a unique index that
leaves ``topup`` and ``gap`` runs out.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


ONCE_WHERE = sa.text("kind NOT IN ('topup', 'gap')")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("qa_runs_kind_vendor_period_start_key", "qa_runs", type_="unique")
    else:  # SQLite: the table is copied without its unnamed constraint
        with op.batch_alter_table(
            "qa_runs", naming_convention={"uq": "uq_%(table_name)s_%(column_0_name)s"}
        ) as batch_op:
            batch_op.drop_constraint("uq_qa_runs_kind", type_="unique")
    op.create_index(
        "uq_qa_runs_once",
        "qa_runs",
        ["kind", "vendor", "period_start"],
        unique=True,
        postgresql_where=ONCE_WHERE,
        sqlite_where=ONCE_WHERE,
    )
    with op.batch_alter_table("qa_decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sample_run_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_qa_decisions_sample_run", "qa_runs", ["sample_run_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_index(
            "ix_qa_decisions_undrawn", ["sample_run_id", "vendor", "decided_at"], unique=False
        )
    op.execute(
        """
        UPDATE qa_decisions SET sample_run_id = (
            SELECT r.id FROM qa_runs r
            WHERE r.kind = 'sample' AND r.vendor = qa_decisions.vendor
              AND r.period_start <= qa_decisions.decided_at
              AND qa_decisions.decided_at < r.period_end
              AND qa_decisions.imported_at <= r.created_at
        )
        """
    )


def downgrade() -> None:
    op.drop_index("uq_qa_runs_once", table_name="qa_runs")
    op.execute("DELETE FROM qa_runs WHERE kind IN ('topup', 'gap')")
    with op.batch_alter_table("qa_runs", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            "qa_runs_kind_vendor_period_start_key", ["kind", "vendor", "period_start"]
        )
    with op.batch_alter_table("qa_decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_qa_decisions_undrawn")
        batch_op.drop_constraint("fk_qa_decisions_sample_run", type_="foreignkey")
        batch_op.drop_column("sample_run_id")
