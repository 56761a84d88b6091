"""KPIs that stay true: the first acknowledgement, and one row per resolution

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

``tickets.first_acked_at``/``first_acked_by`` keep the first acknowledgement
(a reassignment clears ``acked_at``); ``resolutions`` keeps every resolution
as it was measured (a reopen clears ``resolved_at``). Both are backfilled from
the audit trail: the first ``acknowledge``/``take``/``wait_on_reporter``/``resolve``
event, else
``acked_at`` and the owner; one resolution per ``resolve`` event, with the
ticket's measured TTR on its latest resolution (earlier ones of reopened
tickets were never kept, so their TTR stays empty).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = storage.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_acked_at", UTC_TIME, nullable=True))
        batch_op.add_column(sa.Column("first_acked_by", sa.String(length=32), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_tickets_first_acked_at"), ["first_acked_at"], unique=False
        )
    op.create_table(
        "resolutions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("ttr_seconds", sa.Integer(), nullable=True),
        sa.Column("ttr_breached", sa.Boolean(), nullable=False),
        sa.Column("decision", sa.String(length=64), nullable=True),
        sa.Column("vendor", sa.String(length=64), nullable=True),
        sa.Column("vendor_correct", sa.Boolean(), nullable=True),
        sa.Column("vendor_error_category", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id", "at"),
    )
    with op.batch_alter_table("resolutions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_resolutions_at"), ["at"], unique=False)
    _backfill_first_ack()
    _backfill_resolutions()


def _backfill_first_ack() -> None:
    first = (
        "SELECT {col} FROM ticket_events e WHERE e.ticket_id = tickets.id"
        " AND e.action IN ('acknowledge', 'take', 'wait_on_reporter', 'resolve')"
        " ORDER BY e.at, e.id LIMIT 1"
    )
    op.execute(
        f"UPDATE tickets SET first_acked_at = ({first.format(col='e.at')}),"
        f" first_acked_by = ({first.format(col='e.actor_id')})"
    )
    op.execute(
        "UPDATE tickets SET first_acked_at = acked_at, first_acked_by = assignee_id"
        " WHERE first_acked_at IS NULL AND acked_at IS NOT NULL"
    )


def _backfill_resolutions() -> None:
    tickets = sa.table(
        "tickets",
        sa.column("id", sa.Integer),
        sa.column("severity", sa.String),
        sa.column("vendor", sa.String),
        sa.column("resolved_at", UTC_TIME),
        sa.column("ttr_seconds", sa.Integer),
        sa.column("ttr_breached", sa.Boolean),
    )
    events = sa.table(
        "ticket_events",
        sa.column("ticket_id", sa.Integer),
        sa.column("at", UTC_TIME),
        sa.column("action", sa.String),
        sa.column("payload", sa.JSON),
    )
    resolutions = sa.table(
        "resolutions",
        sa.column("ticket_id", sa.Integer),
        sa.column("at", UTC_TIME),
        sa.column("severity", sa.String),
        sa.column("ttr_seconds", sa.Integer),
        sa.column("ttr_breached", sa.Boolean),
        sa.column("decision", sa.String),
        sa.column("vendor", sa.String),
        sa.column("vendor_correct", sa.Boolean),
        sa.column("vendor_error_category", sa.String),
    )
    conn = op.get_bind()
    stmt = (
        sa.select(events.c.ticket_id, events.c.at, events.c.payload, *tickets.c[1:])
        .join(tickets, tickets.c.id == events.c.ticket_id)
        .where(events.c.action == "resolve")
        .order_by(events.c.ticket_id, events.c.at)
    )
    rows: list[dict[str, Any]] = []
    seen: set[tuple[int, Any]] = set()
    for r in conn.execute(stmt):
        if (r.ticket_id, r.at) in seen:
            continue
        seen.add((r.ticket_id, r.at))
        payload = r.payload or {}
        latest = r.resolved_at is not None and r.resolved_at == r.at
        rows.append(
            {
                "ticket_id": r.ticket_id,
                "at": r.at,
                "severity": r.severity,
                "ttr_seconds": r.ttr_seconds if latest else None,
                "ttr_breached": bool(r.ttr_breached),
                "decision": payload.get("decision"),
                "vendor": r.vendor,
                "vendor_correct": payload.get("vendor_correct"),
                "vendor_error_category": payload.get("vendor_error_category"),
            }
        )
        if len(rows) >= 1000:
            conn.execute(resolutions.insert(), rows)
            rows = []
    if rows:
        conn.execute(resolutions.insert(), rows)


def downgrade() -> None:
    with op.batch_alter_table("resolutions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resolutions_at"))
    op.drop_table("resolutions")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tickets_first_acked_at"))
        batch_op.drop_column("first_acked_by")
        batch_op.drop_column("first_acked_at")
