"""KPI digests: periods, composing the post, and posting it exactly once per period.

A digest reports on the last *complete* period (day, ISO week or calendar
month, in the digest's time zone) before the moment it fires: the 09:00
daily digest covers yesterday, local midnight to midnight, on both sides of
a daylight-saving change.

Exactly once: the ``digest_runs`` row (unique on name and period start), the
digest message and its chart upload are written to the database in one
transaction; a second runner (another replica, a restart, the catch-up
check) hits the unique key and posts nothing. The outbox then delivers the
message, and the chart into its thread.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.config import AppConfig, Digest
from bot.core.desk import Desk
from bot.core.errors import NotFound
from bot.core.mrkdwn import link
from bot.core.render import Renderer
from bot.core.text import mrkdwn, truncate
from bot.delivery.outbox import enqueue_message, enqueue_upload
from bot.reporting import kpi, trends
from bot.reporting.chart import alt_text, render_chart
from bot.tickets import permissions
from storage.db import transaction
from storage.models import DigestRun, Ticket

log = logging.getLogger(__name__)

CHART_DAYS = 14  # a chart shows at least this many days, ending with the period
LATE_AFTER = timedelta(minutes=5)  # posted later than this after its time: marked late
MAX_LOOKBACK = 400  # periods catch-up walks back at most (a catch_up of over a year of days)
LIST_MAX = 8  # lines per list (breaches, overdue follow-ups, values of a dimension)
PERCENTILE_RULE = "Percentiles are nearest-rank (the value at rank ⌈p·n/100⌉)."
TITLES = {"day": "Daily", "week": "Weekly", "month": "Monthly"}


# -- periods -------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A calendar day, ISO week or month in ``tz``, as a UTC window ``[start, end)``."""

    kind: str
    first: date  # local date the period starts on
    tz: ZoneInfo

    @property
    def last(self) -> date:
        return _shift(self.kind, self.first, 1) - timedelta(days=1)

    @property
    def start(self) -> datetime:
        return _midnight(self.first, self.tz)

    @property
    def end(self) -> datetime:
        return _midnight(_shift(self.kind, self.first, 1), self.tz)

    @property
    def window(self) -> kpi.Window:
        return kpi.Window(self.start, self.end)

    @property
    def previous(self) -> Period:
        return Period(self.kind, _shift(self.kind, self.first, -1), self.tz)

    @property
    def label(self) -> str:
        if self.kind == "day":
            return f"{self.first:%a %d %b %Y}"
        if self.kind == "week":
            return f"week of {self.first:%a %d %b %Y}"
        return f"{self.first:%B %Y}"

    @property
    def noun(self) -> str:
        return self.kind  # "day", "week", "month" read as words too


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _start_of(kind: str, day: date) -> date:
    if kind == "week":
        return day - timedelta(days=day.weekday())
    if kind == "month":
        return day.replace(day=1)
    return day


def _shift(kind: str, first: date, n: int) -> date:
    if kind == "day":
        return first + timedelta(days=n)
    if kind == "week":
        return first + timedelta(weeks=n)
    months = first.year * 12 + first.month - 1 + n
    return date(months // 12, months % 12 + 1, 1)


def period_containing(kind: str, day: date, tz: ZoneInfo) -> Period:
    """The day, ISO week (Monday first) or month that contains local date ``day``."""
    return Period(kind, _start_of(kind, day), tz)


def period_before(kind: str, at: datetime, tz: ZoneInfo) -> Period:
    """The last complete period that ended at or before ``at``."""
    current = _start_of(kind, at.astimezone(tz).date())
    return Period(kind, _shift(kind, current, -1), tz)


def digest_period(cfg: AppConfig, digest: Digest, at: datetime) -> Period:
    """The period a run of ``digest`` at ``at`` reports on."""
    return period_before(digest.period, at, cfg.digest_tz(digest))


# -- the report ----------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """Everything a digest says, as numbers (``escbot digest --format json`` prints it)."""

    name: str
    period: Period
    now: datetime
    sections: tuple[str, ...]
    volumes: kpi.Volumes | None = None
    backlog: kpi.Backlog | None = None
    tta: dict[str, kpi.Percentiles] | None = None
    ttr: dict[str, kpi.Percentiles] | None = None
    previous_tta: dict[str, kpi.Percentiles] | None = None
    previous_ttr: dict[str, kpi.Percentiles] | None = None
    sla: kpi.Sla | None = None
    vendors: tuple[kpi.VendorQuality, ...] | None = None
    followups: kpi.Followups | None = None
    spikes: tuple[trends.Spike, ...] | None = None
    repeats: trends.Repeats | None = None
    daily: kpi.Daily | None = None


def chart_days(period: Period) -> tuple[list[date], list[datetime]]:
    """Local days the chart shows (at least ``CHART_DAYS``, ending with the period), and bounds."""
    end = period.last + timedelta(days=1)
    first = min(period.first, end - timedelta(days=CHART_DAYS))
    days = [first + timedelta(days=i) for i in range((end - first).days)]
    bounds = [_midnight(d, period.tz) for d in [*days, end]]
    return days, bounds


def build_report(
    session: Session,
    cfg: AppConfig,
    digest: Digest,
    period: Period,
    now: datetime,
    *,
    chart: bool | None = None,
) -> Report:
    """Compute the digest's sections for ``period`` (and the previous period to compare)."""
    cur, prev = period.window, period.previous.window
    want = set(digest.sections)
    parts: dict[str, Any] = {}
    if "volumes" in want:
        parts["volumes"] = kpi.volumes(session, cur, prev)
    if "backlog" in want:
        parts["backlog"] = kpi.backlog(session)
    if "turnaround" in want:
        for name, value, at, window in (
            ("tta", Ticket.tta_seconds, Ticket.acked_at, cur),
            ("ttr", Ticket.ttr_seconds, Ticket.resolved_at, cur),
            ("previous_tta", Ticket.tta_seconds, Ticket.acked_at, prev),
            ("previous_ttr", Ticket.ttr_seconds, Ticket.resolved_at, prev),
        ):
            parts[name] = kpi.percentiles(session, value, at, window)
    if "sla" in want:
        parts["sla"] = kpi.sla(session, cur, prev, limit=LIST_MAX)
    if "vendors" in want:
        targets = {key: v.quality_target for key, v in cfg.vendors.items()}
        parts["vendors"] = kpi.vendor_quality(session, cur, prev, targets)
    if "followups" in want:
        parts["followups"] = kpi.followups(session, cur, now, limit=LIST_MAX)
    if "trends" in want:
        baseline_first = period.first - trends.BASELINE
        baseline = kpi.Window(_midnight(baseline_first, period.tz), period.start)
        parts["spikes"] = trends.spikes(session, cur, baseline)
        parts["repeats"] = trends.repeats(session, cur)
    if digest.chart if chart is None else chart:
        days, bounds = chart_days(period)
        parts["daily"] = kpi.daily(session, days, bounds)
    return Report(digest.name, period, now, digest.sections, **parts)


def report_json(report: Report) -> dict[str, Any]:
    """The report as plain JSON data, derived values (rates, intervals, links) included."""
    return _plain(report)


def _plain(obj: Any) -> Any:
    if isinstance(obj, Period):
        return {
            "kind": obj.kind,
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


# -- presenting it -------------------------------------------------------------------


def human(seconds: float | None) -> str:
    """A duration the way a lead reads it: ``45s``, ``12m``, ``3h 05m``, ``2d 4h``."""
    if seconds is None:
        return "—"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    m = s // 60
    if m < 60:
        return f"{m}m"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h}h {m:02d}m" if m else f"{h}h"
    d, h = divmod(h, 24)
    return f"{d}d {h}h" if h else f"{d}d"


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.0%}"


def _delta(cur: int, prev: int) -> str:
    return f"▲{cur - prev}" if cur > prev else (f"▼{prev - cur}" if cur < prev else "±0")


def _points(change: float | None) -> str:
    if change is None:
        return ""
    pts = round(change * 100, 1)
    size = f"{abs(pts):.1f}".removesuffix(".0")
    return f" ▲{size} pts" if pts > 0 else (f" ▼{size} pts" if pts < 0 else " ±0 pts")


def ticket_link(ref: kpi.TicketRef) -> str:
    return link(ref.url, ref.key) if ref.url else mrkdwn(ref.key)


def ticket_list(refs: kpi.Refs) -> str:
    """``ESC-4, ESC-9, ESC-12 and 7 more`` with the first few linked to their cards."""
    text = ", ".join(ticket_link(r) for r in refs.top)
    return f"{text} and {refs.more} more" if refs.more else text


def _owners(owners: tuple[tuple[str, int], ...]) -> str:
    shown = ", ".join(f"<@{mrkdwn(o)}> {n}" for o, n in owners[:LIST_MAX])
    rest = len(owners) - LIST_MAX
    return f"{shown} and {rest} others" if rest > 0 else shown


@dataclass
class _View:
    """Turns a :class:`Report` into the mrkdwn the template lays out; user text escaped."""

    cfg: AppConfig
    renderer: Renderer
    report: Report

    def label(self, dimension: str, value: str | None) -> str:
        if value is None:
            return "not set"
        cfg = self.cfg
        names: dict[str, Any] = {
            "policy_area": {k: a.title for k, a in cfg.policy_areas.items()},
            "source_team": cfg.intake.source_teams,
            "vendor": {k: v.name for k, v in cfg.vendors.items()},
            "language": cfg.intake.languages,
            "region": cfg.intake.regions,
        }
        return mrkdwn(names.get(dimension, {}).get(value, value))

    def when(self, at: datetime | None) -> str:
        return self.renderer.when(at, "%a %d %b %H:%M")

    def sections(self) -> list[dict[str, Any]]:
        out = []
        for name in self.report.sections:
            section = getattr(self, f"_{name}")()
            if section:
                out.append({"fields": [], **section})
        return out

    def _volumes(self) -> dict[str, Any] | None:
        v = self.report.volumes
        if v is None:
            return None
        lines = [f"*Volumes* · vs the previous {self.report.period.noun}"]
        for word, refs, prev in (
            ("New", v.new, v.previous_new),
            ("Resolved", v.resolved, v.previous_resolved),
            ("Reopened", v.reopened, v.previous_reopened),
        ):
            line = f"{word} *{refs.total}* ({_delta(refs.total, prev)})"
            lines.append(f"{line} — {ticket_list(refs)}" if refs.total else line)
        titles = {
            "policy_area": "Policy area",
            "severity": "Severity",
            "source_team": "Source team",
            "vendor": "Vendor",
            "language": "Language",
        }
        fields = []
        for dim, splits in v.by.items():
            rows = [s for s in splits if s.current or s.previous]
            body = [
                f"{self.label(dim, s.value)} {s.current} ({_delta(s.current, s.previous)})"
                for s in rows[:LIST_MAX]
            ]
            if len(rows) > LIST_MAX:
                body.append(f"…and {len(rows) - LIST_MAX} more")
            fields.append(f"*{titles[dim]}*\n" + ("\n".join(body) or "none"))
        return {"text": "\n".join(lines), "fields": fields}

    def _backlog(self) -> dict[str, Any] | None:
        b = self.report.backlog
        if b is None:
            return None
        per_sev = " · ".join(f"{sev} {b.by_severity.get(sev, 0)}" for sev in self.cfg.severities)
        lines = [
            f"*Backlog* · open at {self.when(self.report.now)}",
            f"*{b.total}* open: {per_sev}",
        ]
        if b.oldest:
            lines.append("Oldest open:")
            for r in b.oldest:
                age = human((self.report.now - r.created_at).total_seconds())
                summary = truncate(mrkdwn(r.summary), 80)
                lines.append(f"• {ticket_link(r)} {r.severity} · {age} old · {summary}")
        return {"text": "\n".join(lines)}

    def _turnaround(self) -> dict[str, Any] | None:
        r = self.report
        if r.tta is None or r.ttr is None:
            return None
        lines = [
            "*Turnaround* · SLA time (business hours and pauses excluded where the severity "
            "says so), p50 / p90"
        ]
        for sev in self.cfg.severities:
            parts = []
            for word, cur, prev in (
                ("ack", r.tta.get(sev), (r.previous_tta or {}).get(sev)),
                ("resolve", r.ttr.get(sev), (r.previous_ttr or {}).get(sev)),
            ):
                if cur is None:
                    parts.append(f"{word} —")
                    continue
                text = f"{word} {human(cur[50])} / {human(cur[90])} (n={cur.n})"
                if prev is not None:
                    text += f", before {human(prev[50])} / {human(prev[90])}"
                parts.append(text)
            lines.append(f"*{sev}* · " + " · ".join(parts))
        return {"text": "\n".join(lines)}

    def _sla(self) -> dict[str, Any] | None:
        s = self.report.sla
        if s is None:
            return None
        overall = s.overall
        change = (
            overall.rate - s.previous.rate
            if overall.rate is not None and s.previous.rate is not None
            else None
        )
        lines = [
            f"*SLA attainment* · {_pct(overall.rate)} of {overall.measured} clocks met"
            f"{_points(change)} (before {_pct(s.previous.rate)})"
        ]
        for sev in self.cfg.severities:
            tta, ttr = s.tta.get(sev, kpi.Attainment()), s.ttr.get(sev, kpi.Attainment())
            if tta.measured or ttr.measured:
                lines.append(
                    f"*{sev}* · ack {tta.met}/{tta.measured} ({_pct(tta.rate)})"
                    f" · resolve {ttr.met}/{ttr.measured} ({_pct(ttr.rate)})"
                )
        if s.breach_total:
            lines.append(f"*Breaches* ({s.breach_total}):")
            for b in s.breaches:
                clock = "ack" if b.clock == "tta" else "resolve"
                lines.append(
                    f"• {ticket_link(b.ticket)} {b.ticket.severity} {clock} · {self.when(b.at)}"
                )
            if s.breach_total > len(s.breaches):
                lines.append(f"…and {s.breach_total - len(s.breaches)} more")
        else:
            lines.append("No breaches.")
        return {"text": "\n".join(lines)}

    def _vendors(self) -> dict[str, Any] | None:
        vendors = self.report.vendors
        if vendors is None:
            return None
        lines = ["*Vendor quality* · decisions upheld by specialists, 95% Wilson interval"]
        for q in vendors:
            name = self.label("vendor", q.vendor)
            target = f" · target {q.target:.0%}" if q.target is not None else ""
            if not q.n:
                lines.append(f"*{name}* · no reviewed decisions{target}")
                continue
            low, high = q.interval or (0.0, 0.0)
            flag = ":red_circle: " if q.clearly_below else (":warning: " if q.below_target else "")
            line = (
                f"{flag}*{name}* {_pct(q.score)} ({q.correct}/{q.n}, {low * 100:.0f}–{high:.0%})"
                f"{_points(q.change)}{target}"
            )
            if q.wrong.total:
                line += f" — wrong: {ticket_list(q.wrong)}"
            if q.errors:
                line += " · " + ", ".join(f"{mrkdwn(c)} {n}" for c, n in q.errors[:3])
            lines.append(line)
        if not vendors:
            lines.append("No vendors configured.")
        return {"text": "\n".join(lines)}

    def _followups(self) -> dict[str, Any] | None:
        f = self.report.followups
        if f is None:
            return None
        total = kpi.Followups.total
        lines = [
            f"*Follow-ups* · opened {total(f.opened)} · done {total(f.done)}"
            f" · overdue {total(f.overdue)}"
        ]
        for word, owners in (("Opened", f.opened), ("Done", f.done), ("Overdue", f.overdue)):
            if owners:
                lines.append(f"{word}: {_owners(owners)}")
        kinds = self.cfg.followups.kinds
        for item in f.overdue_items:
            late = human((self.report.now - item.due_at).total_seconds())
            kind = mrkdwn(kinds.get(item.kind, item.kind))
            lines.append(
                f"• {ticket_link(item.ticket)} {kind} · <@{mrkdwn(item.owner_id)}>"
                f" · due {self.when(item.due_at)} ({late} overdue)"
            )
        return {"text": "\n".join(lines)}

    def _trends(self) -> dict[str, Any] | None:
        r = self.report
        if r.spikes is None or r.repeats is None:
            return None
        names = {
            "policy_area": "Policy area",
            "region": "Region",
            "language": "Language",
            "source_team": "Source",
        }
        lines = ["*Trends worth a look*"]
        for s in r.spikes[:LIST_MAX]:
            p = "p < 0.0001" if s.p_value < 0.0001 else f"p = {s.p_value:.4f}"
            value = self.label(s.dimension, s.value)
            lines.append(
                f":chart_with_upwards_trend: {names[s.dimension]} *{value}*: {s.count} tickets"
                f" vs {s.expected:.1f} expected ({p}) — {ticket_list(s.tickets)}"
            )
        if len(r.spikes) > LIST_MAX:
            lines.append(f"…and {len(r.spikes) - LIST_MAX} more spikes")
        for rep in r.repeats.top:
            content = truncate(mrkdwn(rep.normalized).replace("`", "'"), 120)
            lines.append(
                f":repeat: `{content}` in {rep.tickets.total} tickets within 28 days"
                f" — {ticket_list(rep.tickets)}"
            )
        if r.repeats.total > len(r.repeats.top):
            lines.append(f"…and {r.repeats.total - len(r.repeats.top)} more repeated items")
        if len(lines) == 1:
            lines.append("Nothing unusual: no spikes, no content escalated again and again.")
        return {"text": "\n".join(lines)}


def compose(
    cfg: AppConfig,
    renderer: Renderer,
    report: Report,
    *,
    late: bool = False,
    scheduled: datetime | None = None,
    preview: bool = False,
) -> dict[str, Any]:
    """The Slack message for ``report`` (``templates/digest.json.j2``)."""
    view = _View(cfg, renderer, report)
    period = report.period
    title = f"{TITLES[period.kind]} digest · {period.label}"
    notes = [
        f"{view.when(period.start)} – {view.when(period.end)}"
        f" · compared with the previous {period.noun} · `{mrkdwn(report.name)}`"
    ]
    if late:
        due = f" (due {view.when(scheduled)})" if scheduled else ""
        notes.append(f":hourglass: Posted late{due}, after the app was down.")
    if report.now < period.end:
        notes.append(f":construction: This {period.noun} is not over yet: figures so far.")
    if preview:
        notes.append(":eyes: Preview, visible only to you: nothing was posted.")
    footer = [PERCENTILE_RULE]
    if "trends" in report.sections:
        footer.append(trends.RULE)
    footer.append(f"Times in {renderer.tz.key}.")
    fallback = title
    if report.volumes is not None:
        v = report.volumes
        fallback += f": {v.new.total} new, {v.resolved.total} resolved"
    if report.backlog is not None:
        fallback += f", {report.backlog.total} open"
    return renderer.render(
        "digest",
        title=f":bar_chart: {title}",
        notes=notes,
        sections=view.sections(),
        footer=" ".join(footer),
        fallback=fallback,
        preview=preview,
    )


def payload_text(payload: dict[str, Any]) -> str:
    """A Slack payload as plain text (``escbot digest --format text``)."""
    out: list[str] = []
    for block in payload.get("blocks", []):
        kind = block.get("type")
        if kind == "header":
            out.append(block["text"]["text"])
        elif kind == "divider":
            out.append("")
        elif kind == "context":
            out.extend(e.get("text", "") for e in block["elements"])
        elif kind == "section":
            if "text" in block:
                out.append(block["text"]["text"])
            out.extend(block.get("fields", []) and [f["text"] for f in block["fields"]])
    text = "\n".join(out)
    text = re.sub(r"<(https?://[^|>]+)\|([^>]+)>", r"\2", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


@dataclass(frozen=True)
class DigestOutput:
    report: Report
    payload: dict[str, Any]
    chart: bytes | None = None
    alt_text: str | None = None


def make_digest(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    digest: Digest,
    period: Period,
    now: datetime,
    *,
    late: bool = False,
    scheduled: datetime | None = None,
    preview: bool = False,
    chart: bool | None = None,
) -> DigestOutput:
    """Compute and render one digest: the report, the message, and the chart PNG if wanted."""
    report = build_report(session, cfg, digest, period, now, chart=chart)
    return present(cfg, renderer, report, late=late, scheduled=scheduled, preview=preview)


def present(
    cfg: AppConfig,
    renderer: Renderer,
    report: Report,
    *,
    late: bool = False,
    scheduled: datetime | None = None,
    preview: bool = False,
) -> DigestOutput:
    """The message and chart for a computed report (no database: callers close it first)."""
    payload = compose(cfg, renderer, report, late=late, scheduled=scheduled, preview=preview)
    if report.daily is None:
        return DigestOutput(report, payload)
    period = report.period
    titles = {k: a.title for k, a in cfg.policy_areas.items()}
    title = f"{TITLES[period.kind]} digest · {period.label}: tickets per day and SLA attainment"
    highlight = (period.last - period.first).days + 1
    png = render_chart(report.daily, titles, title, highlight=highlight)
    return DigestOutput(report, payload, png, alt_text(report.daily, titles))


# -- posting exactly once ----------------------------------------------------------------


def dedup_key(digest: Digest, period: Period) -> str:
    return f"digest:{digest.name}:{period.start}"


def already_run(session: Session, name: str, period: Period) -> bool:
    stmt = select(DigestRun.id).where(
        DigestRun.name == name, DigestRun.period_start == period.start
    )
    return session.scalar(stmt) is not None


def run_due_digest(
    desk: Desk,
    digest: Digest,
    now: datetime,
    *,
    late: bool = False,
    scheduled: datetime | None = None,
) -> DigestRun | None:
    """Post ``digest`` for the last period complete at ``scheduled`` (default ``now``), once.

    Returns the run, or None when that period's digest was already posted (by
    this or another replica). The digest is composed outside the write
    transaction; the run row and the outbox rows then commit together.
    """
    cfg = desk.config
    period = digest_period(cfg, digest, scheduled or now)
    with desk.sessions() as session:
        if already_run(session, digest.name, period):
            return None
        report = build_report(session, cfg, digest, period, now)
    out = present(cfg, desk.renderer, report, late=late, scheduled=scheduled)
    key = dedup_key(digest, period)
    run = DigestRun(
        name=digest.name,
        period_start=period.start,
        period_end=period.end,
        status="posted",
        late=late,
        created_at=now,
        posted_at=now,
    )
    try:
        with transaction(desk.sessions) as session:
            session.add(run)
            session.flush()  # the unique (name, period_start) decides who posts
            enqueue_message(session, digest.channel, out.payload, key, now)
            if out.chart is not None:
                enqueue_upload(
                    session,
                    digest.channel,
                    content=out.chart,
                    filename=f"{digest.name}-{period.first.isoformat()}.png",
                    title=f"{TITLES[period.kind]} digest chart · {period.label}",
                    alt_txt=out.alt_text or "",
                    thread_of=key,
                    dedup_key=f"digest-chart:{digest.name}:{period.start}",
                    now=now,
                )
    except IntegrityError:
        log.info("digest %s for %s was already posted", digest.name, period.label)
        return None
    log.info("digest %s for %s queued%s", digest.name, period.label, " (late)" if late else "")
    return run


def due_time(cfg: AppConfig, digest: Digest, period: Period) -> datetime | None:
    """When ``period``'s digest falls due: the schedule's first time after the period ended.

    None when no run of the schedule reports on that period (a ``mon-fri`` daily
    digest never reports on Saturday: Monday's run reports on Sunday).
    """
    fire = cfg.digest_trigger(digest).get_next_fire_time(None, period.end)
    if fire is None or digest_period(cfg, digest, fire) != period:
        return None
    return fire.astimezone(UTC)


def due_periods(cfg: AppConfig, digest: Digest, now: datetime) -> list[tuple[Period, datetime]]:
    """Periods whose digest fell due within the last ``catch_up``, oldest first, with when.

    Walks back period by period from the last complete one (a few steps, however
    often the cron fires); lateness counts from a period's due time, so a period
    first due before the window is skipped even if the cron fired since.
    """
    trigger = cfg.digest_trigger(digest)
    found = []
    period = digest_period(cfg, digest, now)
    for _ in range(MAX_LOOKBACK):
        fire = trigger.get_next_fire_time(None, period.end)
        if fire is None or fire <= now - digest.catch_up:
            break  # earlier periods fell due earlier still
        if fire <= now and digest_period(cfg, digest, fire) == period:
            found.append((period, fire.astimezone(UTC)))
        period = period.previous
    return found[::-1]


def catch_up(desk: Desk, now: datetime) -> list[DigestRun]:
    """Post each period whose digest fell due within its ``catch_up`` window and isn't posted.

    Cheap when there is nothing to do (one indexed lookup per due period), so it
    runs at start-up and on every scheduler tick; a post more than
    ``LATE_AFTER`` behind its due time is marked late.
    """
    posted = []
    for digest in desk.config.digests:
        for _period, due in due_periods(desk.config, digest, now):
            try:
                run = run_due_digest(desk, digest, now, late=now - due > LATE_AFTER, scheduled=due)
            except Exception:  # one broken digest must not hold up the others
                log.exception("digest %s due %s failed", digest.name, due.isoformat())
                continue
            if run is not None:
                posted.append(run)
    return posted


def run_scheduled(desk: Desk, name: str) -> None:
    """The APScheduler job: post the digest whose time has just come."""
    digest = desk.config.digest(name)
    if digest is None:
        return
    now = desk.clock.now()
    period = digest_period(desk.config, digest, now)
    due = due_time(desk.config, digest, period) or now
    try:
        run_due_digest(desk, digest, now, late=now - due > LATE_AFTER, scheduled=due)
    except Exception:  # the scheduler thread must live on; catch-up retries the period
        log.exception("digest %s failed", name)


def schedule_digests(scheduler: BaseScheduler, desk: Desk) -> None:
    """One cron job per configured digest, in the digest's time zone (DST-safe)."""
    for digest in desk.config.digests:
        scheduler.add_job(
            run_scheduled,
            trigger=desk.config.digest_trigger(digest),
            args=(desk, digest.name),
            id=f"digest:{digest.name}",
            name=f"digest {digest.name}",
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=int(digest.catch_up.total_seconds()),
        )


# -- preview ---------------------------------------------------------------------------


def digest_preview(desk: Desk, name: str | None, user_id: str) -> dict[str, Any]:
    """``/escalate digest [name]``: the digest as it would post now, for the requester only."""
    cfg = desk.config
    permissions.check_desk(cfg, user_id, "preview digests")
    if not cfg.digests:
        raise NotFound("No digests are configured (see `digests` in app.yaml).")
    digest = cfg.digest(name) if name else cfg.digests[0]
    if digest is None:
        known = ", ".join(f"`{d.name}`" for d in cfg.digests)
        raise NotFound(f"There is no digest called `{mrkdwn(name)}`. Try one of: {known}.")
    now = desk.clock.now()
    period = digest_period(cfg, digest, now)
    with desk.sessions() as session:
        report = build_report(session, cfg, digest, period, now, chart=False)
    return present(cfg, desk.renderer, report, preview=True).payload


def dumps(report: Report) -> str:
    return json.dumps(report_json(report), indent=2, ensure_ascii=False)
