"""The Alembic migrations create exactly the schema the models describe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from storage.db import make_engine, upgrade
from storage.models import Base
from storage.types import UTCDateTime


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], f"models and migrations differ: {diff}"


def test_every_table_is_created(engine: Engine) -> None:
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())


def test_0002_backfills_the_first_ack_and_the_resolutions_from_the_audit_trail(
    db_url: str,
) -> None:
    """Reassigned after its first ack (acked_at cleared), and resolved, reopened, resolved
    again: the first ack comes from the audit trail, one resolution per resolve event."""
    engine = make_engine(db_url)
    upgrade(engine, "0001")
    t0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    h = timedelta(hours=1)
    tickets = sa.table(
        "tickets",
        *(sa.column(c) for c in ("id", "number", "key", "summary", "details", "policy_area")),
        *(sa.column(c) for c in ("severity", "sensitive", "status", "reporter_id")),
        *(sa.column(c) for c in ("assignee_id", "version", "escalation_level", "vendor")),
        *(sa.column(c) for c in ("reopened_count", "paused_seconds", "tta_seconds")),
        *(sa.column(c) for c in ("ttr_seconds", "tta_breached", "ttr_breached")),
        *(sa.column(c, UTCDateTime()) for c in ("created_at", "updated_at", "acked_at")),
        sa.column("resolved_at", UTCDateTime()),
    )
    events = sa.table(
        "ticket_events",
        *(sa.column(c) for c in ("ticket_id", "actor_id", "action", "to_status")),
        sa.column("at", UTCDateTime()),
        sa.column("payload", sa.JSON()),
    )
    base = {
        "summary": "s", "details": "", "policy_area": "hateful_activities", "severity": "sev2",
        "sensitive": False, "reporter_id": "U07LEGAL01", "version": 1, "escalation_level": 0,
        "reopened_count": 0, "paused_seconds": 0, "tta_breached": False, "vendor": None,
        "created_at": t0, "updated_at": t0,
    }  # fmt: skip
    with engine.begin() as conn:
        conn.execute(
            tickets.insert(),
            [
                base
                | {
                    "id": 1,
                    "number": 1,
                    "key": "ESC-1",
                    "status": "resolved",
                    "assignee_id": "U05BER7JBK2",
                    "acked_at": None,
                    "tta_seconds": 600,
                    "resolved_at": t0 + 30 * h,
                    "ttr_seconds": 7200,
                    "ttr_breached": True,
                },
                base
                | {
                    "id": 2,
                    "number": 2,
                    "key": "ESC-2",
                    "status": "acknowledged",
                    "assignee_id": "U05MAD1LFZ3",
                    "acked_at": t0 + h,
                    "tta_seconds": 3600,
                    "resolved_at": None,
                    "ttr_seconds": None,
                    "ttr_breached": False,
                },
            ],
        )
        resolve = {"decision": "removed", "vendor_correct": None}
        conn.execute(
            events.insert(),
            [
                {
                    "ticket_id": 1,
                    "actor_id": "U05MAD1LFZ3",
                    "action": "acknowledge",
                    "to_status": "acknowledged",
                    "at": t0 + h / 6,
                    "payload": {},
                },
                {
                    "ticket_id": 1,
                    "actor_id": "U04LQ2M8RTA",
                    "action": "assign",
                    "to_status": "assigned",
                    "at": t0 + 24 * h,
                    "payload": {},
                },
                {
                    "ticket_id": 1,
                    "actor_id": "U05BER7JBK2",
                    "action": "resolve",
                    "to_status": "resolved",
                    "at": t0 + 26 * h,
                    "payload": resolve,
                },
                {
                    "ticket_id": 1,
                    "actor_id": "U04LQ2M8RTA",
                    "action": "reopen",
                    "to_status": "reopened",
                    "at": t0 + 28 * h,
                    "payload": {},
                },
                {
                    "ticket_id": 1,
                    "actor_id": "U05BER7JBK2",
                    "action": "resolve",
                    "to_status": "resolved",
                    "at": t0 + 30 * h,
                    "payload": resolve,
                },
            ],
        )
    upgrade(engine)
    with engine.connect() as conn:
        first = conn.execute(
            sa.select(
                sa.column("key"),
                sa.column("first_acked_at", UTCDateTime()),
                sa.column("first_acked_by"),
            )
            .select_from(sa.table("tickets"))
            .order_by(sa.column("key"))
        ).all()
        kept = conn.execute(
            sa.select(
                sa.column("at", UTCDateTime()), sa.column("ttr_seconds"), sa.column("decision")
            )
            .select_from(sa.table("resolutions"))
            .order_by(sa.column("at"))
        ).all()
    engine.dispose()
    assert [tuple(r) for r in first] == [
        ("ESC-1", t0 + h / 6, "U05MAD1LFZ3"),  # from the audit trail, though acked_at is gone
        ("ESC-2", t0 + h, "U05MAD1LFZ3"),  # no event: from acked_at and the owner
    ]
    assert [tuple(r) for r in kept] == [
        (t0 + 26 * h, None, "removed"),  # the first resolution's TTR was never kept
        (t0 + 30 * h, 7200, "removed"),
    ]
