"""QA items as CSV (``escbot export --qa``): every sampled and calibration item of the
decisions made in the range (``--graded``: of the items graded in it), its stratum and
weight, and its current grade.

The weight is the digest's (:mod:`bot.qa.scores`): a graded sample item stands for its
stratum, *stratum size ÷ items of that run and stratum graded among the rows exported*.
Exported with ``--graded`` for a digest's window, the rows are the digest's items and
the weighted upheld share of a vendor's rows is its score, to the digit; an auditor
needs nothing else. Ungraded and calibration items have no weight.

Formula-safe like the tickets' export (``bot.reporting.export.neutralise``): a vendor's
content reference or a grader's note never runs in a spreadsheet.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from typing import IO, Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from bot.qa.assign import GRADED
from bot.qa.sampling import SAMPLE
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
    "run_id",
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
    session: Session,
    out: IO[str],
    start: datetime,
    end: datetime,
    *,
    bom: bool = False,
    graded: bool = False,
) -> int:
    """Write the QA items of decisions made in ``[start, end)`` (``graded``: the items
    graded in it); how many rows."""
    if bom:
        out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(HEADER)
    chosen: ColumnElement[bool] = (
        QaItem.graded_at.is_not(None) & (QaItem.graded_at >= start) & (QaItem.graded_at < end)
        if graded
        else (QaDecision.decided_at >= start) & (QaDecision.decided_at < end)
    )
    counted = {
        (run, stratum): int(n)
        for run, stratum, n in session.execute(
            select(QaItem.run_id, QaItem.stratum, func.count())
            .join(QaDecision, QaDecision.id == QaItem.decision_id)
            .where(chosen, QaItem.kind == SAMPLE, QaItem.status == GRADED)
            .group_by(QaItem.run_id, QaItem.stratum)
        )
    }
    rows = session.execute(
        select(QaItem, QaDecision)
        .join(QaDecision, QaDecision.id == QaItem.decision_id)
        .where(chosen)
        .order_by(QaItem.id)
        .execution_options(yield_per=1000)
    )
    count = 0
    for item, d in rows:
        weight = None
        if item.kind == SAMPLE and item.status == GRADED:
            weight = item.stratum_size / counted[(item.run_id, item.stratum)]
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
            item.run_id,
            item.stratum,
            item.stratum_size,
            item.stratum_sampled,
            None if weight is None else round(weight, 6),
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
