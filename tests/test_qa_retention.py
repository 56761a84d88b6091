"""QA retention (issue #25, item 6): the nightly job deletes vendors' decisions never drawn,
redacts drawn ones, grade notes and clarifications on their own periods, and leaves the
scores' inputs (grades, weights) and recent data alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.config import ConfigError, load_config_text
from bot.tickets.retention import REDACTED, run_daily
from storage.db import transaction
from storage.models import QaClarification, QaDecision, QaGrade, QaItem, QaRun
from tests.desk import EXAMPLE

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def decision(s: Session, days_ago: int, name: str) -> QaDecision:
    at = NOW - timedelta(days=days_ago)
    row = QaDecision(
        vendor="northwind_manila", decision_id=name, content_ref=f"post:{name}",
        policy_area="hateful_activities", decision="removed", decided_at=at,
        agent_id="agent07", imported_at=at,
    )  # fmt: skip
    s.add(row)
    s.flush()
    return row


def drawn(s: Session, d: QaDecision, note: str) -> QaItem:
    at = d.decided_at + timedelta(days=1)
    run = QaRun(
        kind="sample", vendor=d.decision_id, period_start=at, period_end=at, seed="", created_at=at
    )
    s.add(run)
    s.flush()
    item = QaItem(
        run_id=run.id, decision_id=d.id, kind="sample", stratum="x", stratum_size=40,
        stratum_sampled=1, grader_id="U05MAD1LFZ3", status="graded", verdict="overturned",
        graded_by="U05MAD1LFZ3", graded_at=at,
    )  # fmt: skip
    s.add(item)
    s.flush()
    s.add(QaGrade(item_id=item.id, actor_id="U05MAD1LFZ3", verdict="overturned", note=note, at=at))
    return item


def clarification(s: Session, days_ago: int, status: str) -> None:
    at = NOW - timedelta(days=days_ago)
    s.add(
        QaClarification(
            vendor="northwind_manila", policy_area="hateful_activities", source="overturn",
            status=status, examples=["post:x"], policy_point="HA-1", instead="Label it",
            proposed_at=at, posted_at=at,
            acknowledged_at=at if status == "acknowledged" else None,
        )
    )  # fmt: skip


def test_the_nightly_job_prunes_and_redacts_qa_data_on_its_own_periods(
    sessions: sessionmaker[Session], config
) -> None:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        decision(s, 100, "old-undrawn")
        decision(s, 10, "new-undrawn")
        drawn(s, decision(s, 100, "old-drawn"), note="satire, see the caption")
        drawn(s, decision(s, 400, "ancient-drawn"), note="the agent missed the slur")
        clarification(s, 400, "acknowledged")
        clarification(s, 400, "open")  # still waiting for the vendor's lead
        clarification(s, 30, "acknowledged")

    run_daily(sessions, config, NOW)

    with sessions() as s:
        rows = {d.decision_id: d for d in s.scalars(select(QaDecision))}
        notes = sorted(s.scalars(select(QaGrade.note)))
        clars = sorted(
            (c.status, c.instead, len(c.examples)) for c in s.scalars(select(QaClarification))
        )
        items = s.scalar(select(func.count()).select_from(QaItem))
    assert set(rows) == {"new-undrawn", "old-drawn", "ancient-drawn"}  # 90d: undrawn deleted
    assert (rows["old-drawn"].content_ref, rows["old-drawn"].agent_id) == (REDACTED, None)
    assert rows["new-undrawn"].content_ref == "post:new-undrawn"
    assert items == 2  # the grades and weights the scores read stay
    assert notes == sorted([REDACTED, "satire, see the caption"])  # 365d: the older note
    assert clars == [
        ("acknowledged", "Label it", 1),
        ("acknowledged", REDACTED, 0),
        ("open", "Label it", 1),
    ]

    run_daily(sessions, config, NOW)  # again: nothing more to do, nothing breaks
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(QaDecision)) == 3


def test_qa_decisions_outlive_the_draws() -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "  qa_decisions_after: 90d", "  qa_decisions_after: 7d"
    )
    try:
        load_config_text(text, "app.yaml")
    except ConfigError as err:
        assert "retention.qa_decisions_after" in str(err) and "at least 14d" in str(err)
    else:
        raise AssertionError("a 7-day QA retention was accepted")
