"""QA items as CSV (``escbot export --qa``): every sampled and calibration item of the
decisions made in the range, its stratum and weight, and its current grade.

Formula-safe like the tickets' export (``bot.reporting.export.neutralise``): a vendor's
content reference or a grader's note never runs in a spreadsheet.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.reporting.export import neutralise
from storage.models import QaDecision, QaItem

HEADER = (
    "item_id",
    "kind",
    "vendor",
    "decision_id",
    "content_ref",
    "policy_area",
    "vendor_decision",
    "decided_at",
    "agent_id",
    "confidence",
    "stratum",
    "stratum_size",
    "stratum_sampled",
    "weight",
    "grader_id",
    "status",
    "verdict",
    "correct_decision",
    "error_category",
    "graded_by",
    "graded_at",
)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return neutralise(value)


def write_csv(
    session: Session, out: IO[str], start: datetime, end: datetime, *, bom: bool = False
) -> int:
    """Write the QA items of decisions made in ``[start, end)``; how many rows."""
    if bom:
        out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(HEADER)
    rows = session.execute(
        select(QaItem, QaDecision)
        .join(QaDecision, QaDecision.id == QaItem.decision_id)
        .where(QaDecision.decided_at >= start, QaDecision.decided_at < end)
        .order_by(QaItem.id)
        .execution_options(yield_per=1000)
    )
    count = 0
    for item, d in rows:
        weight = item.stratum_size / item.stratum_sampled if item.stratum_sampled else None
        values = (
            item.id,
            item.kind,
            d.vendor,
            d.decision_id,
            d.content_ref,
            d.policy_area,
            d.decision,
            d.decided_at,
            d.agent_id,
            d.confidence,
            item.stratum,
            item.stratum_size,
            item.stratum_sampled,
            None if weight is None else round(weight, 4),
            item.grader_id,
            item.status,
            item.verdict,
            item.correct_decision,
            item.error_category,
            item.graded_by,
            item.graded_at,
        )
        writer.writerow([_cell(v) for v in values])
        count += 1
    return count
