"""Presenting a digest report: the Slack message (mrkdwn, user text escaped) and the chart.

``present`` needs no database, so a scheduled run computes the report in a read
session, closes it, and composes the message before its write transaction opens;
``make_digest`` does both in one call (``escbot digest``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.config import AppConfig, Digest
from bot.core.mrkdwn import link
from bot.core.render import Renderer
from bot.core.text import mrkdwn, truncate
from bot.core.timefmt import duration
from bot.qa import report as qa_report
from bot.reporting import kpi, trends
from bot.reporting.chart import alt_text, render_chart
from bot.reporting.headline import Headline, Pair
from bot.reporting.periods import Period, stamp
from bot.reporting.report import LIST_MAX, Report, build_report

PERCENTILE_RULE = "Percentiles are nearest-rank (the value at rank ⌈p·n/100⌉)."
SLA_RULE = (
    "SLA: each clock (ack, resolve) counts once, in the period it stopped within target or"
    " breached; a clock breached and still open counts as missed."
)
TITLES = {"day": "Daily", "week": "Weekly", "month": "Monthly"}
#: how an empty section reads in the one line they collapse into ("No breaches or spikes.")
EMPTY_WORDS = {
    "volumes": "new, resolved or reopened tickets",
    "backlog": "open tickets",
    "turnaround": "acknowledgements or resolutions to time",
    "sla": "breaches",
    "vendors": "vendor decisions reviewed",
    "followups": "follow-ups",
    "trends": "spikes",
}


def human(seconds: float | None) -> str:
    """A duration the way a lead reads it: the one format (:func:`bot.core.timefmt.duration`)."""
    return duration(seconds)


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


#: Put before what a digest line says of a sensitive (graphic) ticket, as on its card.
CONTENT_WARNING = ":warning: _content warning_"


def ticket_link(ref: kpi.TicketRef) -> str:
    return link(ref.url, ref.key) if ref.url else mrkdwn(ref.key)


def warned(refs: tuple[kpi.TicketRef, ...], text: str) -> str:
    """``text`` about ``refs``, behind the content warning if any of them is sensitive."""
    return f"{CONTENT_WARNING} · {text}" if any(r.sensitive for r in refs) else text


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
        """A time in the digest's own time zone (a weekly set to New York reads New York)."""
        return "—" if at is None else stamp(at, self.report.period.tz)

    def sections(self) -> list[dict[str, Any]]:
        """The sections with something to say; the empty ones collapse into one last line."""
        out, empty = [], []
        for name in self.report.sections:
            if self._empty(name):
                empty.append(EMPTY_WORDS[name])
                continue
            section = getattr(self, f"_{name}")()
            if section:
                out.append({"fields": [], **section})
        if empty:
            words = empty[0] if len(empty) == 1 else f"{', '.join(empty[:-1])} or {empty[-1]}"
            out.append({"fields": [], "text": f"No {words}."})
        return out

    def _empty(self, name: str) -> bool:
        r = self.report
        if name == "volumes" and r.volumes is not None:
            v = r.volumes
            return not (v.new.total or v.resolved.total or v.reopened.total)
        if name == "backlog" and r.backlog is not None:
            return r.backlog.total == 0
        if name == "turnaround" and r.tta is not None and r.ttr is not None:
            return not (r.tta or r.ttr)
        if name == "sla" and r.sla is not None:
            s = r.sla
            return not (s.overall.total or s.breach_total or s.still_open_total)
        if name == "vendors" and r.vendors is not None:
            return not any(q.n for q in r.vendors) and not qa_report.has_news(r.qa)
        if name == "followups" and r.followups is not None:
            f = r.followups
            return not (f.opened or f.done or f.overdue)
        if name == "trends" and r.spikes is not None and r.repeats is not None:
            return not (r.spikes.found or r.spikes.no_baseline or r.repeats.top)
        return False

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
            if body:
                fields.append(f"*{titles[dim]}*\n" + "\n".join(body))
        return {"text": "\n".join(lines), "fields": fields}

    def _backlog(self) -> dict[str, Any] | None:
        b = self.report.backlog
        if b is None:
            return None
        per_sev = " · ".join(f"{sev} {b.by_severity.get(sev, 0)}" for sev in self.cfg.severities)
        lines = [
            f"*Backlog* · open at {self.when(self.report.as_of)}",
            f"*{b.total}* open: {per_sev}",
        ]
        if b.oldest:
            lines.append("Oldest open:")
            for r in b.oldest:
                age = human((self.report.as_of - r.created_at).total_seconds())
                line = f"• {ticket_link(r)} {r.severity} · {age} old"
                if r.summary:  # a public digest's have none (bot/reporting/audience.py)
                    line += f" · {warned((r,), truncate(mrkdwn(r.summary), 80))}"
                lines.append(line)
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
        overall, noun = s.overall, self.report.period.noun
        change = (
            overall.rate - s.previous.rate
            if overall.rate is not None and s.previous.rate is not None
            else None
        )
        if overall.total:
            parts = [f"*SLA {_pct(overall.rate)}*", f"*{overall.met}* of *{overall.total}* on time"]
        else:
            parts = ["*SLA*", f"no clock stopped or breached in this {noun}"]
        if s.late:
            parts.append(f"*{s.late}* late")
        if s.still_open_new:
            parts.append(f"*{s.still_open_new}* breached and still open")
        if earlier := s.still_open_total - s.still_open_new:
            parts.append(f"*{earlier}* breached before and still open")
        head = " · ".join(parts)
        if change is not None:
            head += f"\nvs {_pct(s.previous.rate)} the previous {noun} ({_points(change).strip()})"
        lines = [head]
        for sev in self.cfg.severities:
            tta, ttr = s.tta.get(sev, kpi.Attainment()), s.ttr.get(sev, kpi.Attainment())
            if tta.total or ttr.total:
                lines.append(
                    f"*{sev}* · ack {tta.met}/{tta.total} ({_pct(tta.rate)})"
                    f" · resolve {ttr.met}/{ttr.total} ({_pct(ttr.rate)})"
                )
        for title, items, total in (
            ("Breached and still open", s.still_open, s.still_open_total),
            ("Breaches in this " + self.report.period.noun, s.breaches, s.breach_total),
        ):
            if not total:
                continue
            lines.append(f"*{title}* ({total}):")
            for b in items:
                clock = "ack" if b.clock == "tta" else "resolve"
                lines.append(
                    f"• {ticket_link(b.ticket)} {b.ticket.severity} {clock} · {self.when(b.at)}"
                )
            if total > len(items):
                lines.append(f"…and {total - len(items)} more")
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
        qa = self.report.qa  # the sampled scores: their own fields, never mixed with the above
        if qa is None:
            return {"text": "\n".join(lines)}
        lines.append(qa_report.HEADING)
        return {"text": "\n".join(lines), "fields": qa_report.fields(self.cfg, qa, self.when)}

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
            late = human((self.report.as_of - item.due_at).total_seconds())
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
        for s in r.spikes.found[:LIST_MAX]:
            p = "p < 0.0001" if s.p_value < 0.0001 else f"p = {s.p_value:.4f}"
            value = self.label(s.dimension, s.value)
            lines.append(
                f":chart_with_upwards_trend: {names[s.dimension]} *{value}*: {s.count} tickets"
                f" vs {s.expected:.1f} expected ({p}) — {ticket_list(s.tickets)}"
            )
        if len(r.spikes.found) > LIST_MAX:
            lines.append(f"…and {len(r.spikes.found) - LIST_MAX} more spikes")
        if unbaselined := r.spikes.no_baseline:  # one line, whatever the number of values
            named = ", ".join(
                f"{names[u.dimension]} *{self.label(u.dimension, u.value)}* {u.count}"
                for u in unbaselined[:LIST_MAX]
            )
            more = len(unbaselined) - LIST_MAX
            named += f" and {more} more" if more > 0 else ""
            lines.append(
                f":hourglass_flowing_sand: No baseline yet (tickets in fewer than"
                f" {trends.MIN_HISTORY} of the {trends.MIN_HISTORY} weeks before), so not"
                f" tested for spikes: {named}"
            )
        for rep in r.repeats.top:
            review = self.cfg.intake.review_url(rep.normalized) if rep.kind == "id" else None
            code = truncate(mrkdwn(rep.normalized).replace("`", "'"), 120)
            content = link(review, rep.normalized) if review else f"`{code}`"
            content = warned(rep.tickets.top, content)
            lines.append(
                f":repeat: {content} in {rep.tickets.total} tickets within 28 days"
                f" — {ticket_list(rep.tickets)}"
            )
        if r.repeats.total > len(r.repeats.top):
            lines.append(f"…and {r.repeats.total - len(r.repeats.top)} more repeated items")
        if len(lines) == 1:
            lines.append("Nothing unusual: no spikes, no content escalated again and again.")
        return {"text": "\n".join(lines)}


def headline_row(h: Headline, noun: str) -> str:
    """ "*12* new ▲3 · *9* open ▼2 · *2* breached ±0 · median ack *25m* (31m) · …": each
    number with the change since the previous ``noun`` (fewer is better for all five)."""

    def count(word: str, pair: Pair) -> str:
        return f"*{pair.now}* {word} {_delta(pair.now or 0, pair.before or 0)}"

    def median(word: str, pair: Pair) -> str:
        before = f" (was {human(pair.before)})" if pair.before is not None else ""
        return f"median {word} *{human(pair.now)}*{before}"

    return (
        " · ".join(
            [
                count("new", h.new),
                count("open", h.open),
                count("breached", h.breached),
                median("to ack", h.tta_median),
                median("to resolve", h.ttr_median),
            ]
        )
        + f"\n_vs the previous {noun}_"
    )


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
    if period.scheduled:
        cover = f"Since the previous digest, compared with the one before ({period.previous.label})"
    else:
        cover = (
            f"{view.when(period.start)} → {view.when(period.end)},"
            f" compared with the previous {period.noun}"
        )
    notes = [f"{cover} · `{mrkdwn(report.name)}`"]
    if late:
        due = f" (due {view.when(scheduled)})" if scheduled else ""
        notes.append(f":hourglass: Posted late{due}, after the app was down.")
    if report.now < period.end:
        notes.append(f":construction: This {period.noun} is not over yet: figures so far.")
    if preview:
        notes.append(":eyes: Preview, visible only to you: nothing was posted.")
    footer = [PERCENTILE_RULE]
    if "sla" in report.sections:
        footer.append(SLA_RULE)
    if "trends" in report.sections:
        footer.append(trends.RULE)
    footer.append(f"Times in {period.tz.key}.")
    fallback = title
    if (h := report.headline) is not None:
        fallback += (
            f": {h.new.now} new, {h.open.now} open, {h.breached.now} breached, "
            f"median time to acknowledge {human(h.tta_median.now)}, "
            f"to resolve {human(h.ttr_median.now)}"
        )
    return renderer.render(
        "digest",
        title=f":bar_chart: {title}",
        headline=headline_row(report.headline, period.noun) if report.headline else "",
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
    if report.headline is not None and report.headline.quiet:
        return DigestOutput(report, payload)  # no tickets: no chart of zeros
    titles = {k: a.title for k, a in cfg.policy_areas.items()}
    title = f"{TITLES[period.kind]} digest · {period.label}: tickets per day and SLA attainment"
    highlight = (period.last - period.first).days + 1
    png = render_chart(report.daily, titles, title, highlight=highlight)
    return DigestOutput(report, payload, png, alt_text(report.daily, titles))
