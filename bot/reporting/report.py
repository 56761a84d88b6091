"""What a digest says, as numbers: the sections computed for one period.

Separate from presenting it because the same numbers are printed as JSON
(``escbot digest --format json``), benchmarked on their own (bench/digest.py),
and computed inside a read session while the message is composed after it
closes.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from bot.config import AppConfig, Digest
from bot.qa import report as qa_report
from bot.reporting import kpi, trends
from bot.reporting.headline import Headline, headline
from bot.reporting.periods import Period, midnight

CHART_DAYS = 14  # a chart shows at least this many days, ending with the period
LIST_MAX = 8  # lines per list (breaches, overdue follow-ups, values of a dimension)


@dataclass(frozen=True)
class Report:
    """Everything a digest says, as numbers (``escbot digest --format json`` prints it)."""

    name: str
    period: Period
    now: datetime
    sections: tuple[str, ...]
    as_of: datetime  # the period's end, or now while it runs: what "open" and "overdue" mean
    volumes: kpi.Volumes | None = None
    backlog: kpi.Backlog | None = None
    tta: dict[str, kpi.Percentiles] | None = None
    ttr: dict[str, kpi.Percentiles] | None = None
    previous_tta: dict[str, kpi.Percentiles] | None = None
    previous_ttr: dict[str, kpi.Percentiles] | None = None
    sla: kpi.Sla | None = None
    vendors: tuple[kpi.VendorQuality, ...] | None = None
    #: the sampled QA scores and clarifications (bot/qa), apart from the escalation verdicts
    qa: qa_report.QaReport | None = None
    followups: kpi.Followups | None = None
    spikes: trends.Spikes | None = None
    repeats: trends.Repeats | None = None
    daily: kpi.Daily | None = None
    headline: Headline | None = None


def chart_days(period: Period) -> tuple[list[date], list[datetime]]:
    """Local days the chart shows (at least ``CHART_DAYS``, ending with the period), and bounds.

    The last day ends with the period (09:00 for the 09:00 daily), not at midnight: what
    happens after the period's end is the next digest's, and never moves this chart.
    """
    end = period.last + timedelta(days=1)
    first = min(period.first, end - timedelta(days=CHART_DAYS))
    days = [first + timedelta(days=i) for i in range((end - first).days)]
    bounds = [midnight(d, period.tz) for d in days]
    return days, [*bounds, min(midnight(end, period.tz), period.end)]


def build_report(
    session: Session,
    cfg: AppConfig,
    digest: Digest,
    period: Period,
    now: datetime,
    *,
    chart: bool | None = None,
) -> Report:
    """Compute the digest's sections for ``period`` (and the previous period to compare).

    Only ``period`` decides the figures, never ``now`` once the period is over:
    open tickets, breached clocks and overdue follow-ups are those of its end.
    """
    cur, prev = period.window, period.previous.window
    as_of = min(now, period.end)
    want = set(digest.sections)
    parts: dict[str, Any] = {"headline": headline(session, cur, prev)}
    if "volumes" in want:
        parts["volumes"] = kpi.volumes(session, cur, prev)
    if "backlog" in want:
        parts["backlog"] = kpi.backlog(session, as_of)
    if "turnaround" in want:
        parts["tta"], parts["previous_tta"] = (kpi.tta_percentiles(session, w) for w in (cur, prev))
        parts["ttr"], parts["previous_ttr"] = (kpi.ttr_percentiles(session, w) for w in (cur, prev))
    if "sla" in want:
        open_ids = kpi.open_at(session, as_of)
        parts["sla"] = kpi.sla(session, cur, prev, open_ids, limit=LIST_MAX)
    if "vendors" in want:
        targets = {key: v.quality_target for key, v in cfg.vendors.items()}
        parts["vendors"] = kpi.vendor_quality(session, cur, prev, targets)
        if cfg.qa.plans:
            parts["qa"] = qa_report.build(session, cfg, cur, prev, now)
    if "followups" in want:
        parts["followups"] = kpi.followups(session, cur, as_of, limit=LIST_MAX)
    if "trends" in want:
        baseline_first = period.first - trends.BASELINE
        baseline = kpi.Window(midnight(baseline_first, period.tz), period.start)
        parts["spikes"] = trends.spikes(session, cur, baseline)
        parts["repeats"] = trends.repeats(session, cur)
    if digest.chart if chart is None else chart:
        days, bounds = chart_days(period)
        parts["daily"] = kpi.daily(session, days, bounds)
    return Report(digest.name, period, now, digest.sections, as_of, **parts)


def report_json(report: Report) -> dict[str, Any]:
    """The report as plain JSON data, derived values (rates, intervals, links) included."""
    return _plain(report)


def _plain(obj: Any) -> Any:
    if isinstance(obj, Period):
        return {
            "kind": obj.kind,
            "label": obj.label,
            "scheduled": obj.scheduled,
            "first": obj.first.isoformat(),
            "last": obj.last.isoformat(),
            "start": obj.start.isoformat(),
            "end": obj.end.isoformat(),
            "timezone": obj.tz.key,
        }
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        for name, attr in vars(type(obj)).items():
            if isinstance(attr, property) and not name.startswith("_"):
                out[name] = _plain(getattr(obj, name))
        return out
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    return obj


def dumps(report: Report) -> str:
    """The report as indented JSON text (``escbot digest --format json``)."""
    return json.dumps(report_json(report), indent=2, ensure_ascii=False)
