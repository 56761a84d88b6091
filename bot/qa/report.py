"""The QA part of a digest's vendor section: sampled scores and clarifications, as numbers
(``QaReport``) and as mrkdwn lines, kept apart from the escalation verdicts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.config import AppConfig
from bot.core.text import mrkdwn
from bot.qa import calibration, clarify, sampling
from bot.qa.scores import Share, VendorScores, vendor_scores
from bot.reporting.kpi import Window
from storage.models import QaDecision, QaRun

HEADING = (
    "*Sampled quality (QA)* · a random sample of each vendor's decisions, graded by the pod; "
    "weighted by stratum, 95% Wilson interval. Not mixed with the escalation verdicts above."
)
AREAS_SHOWN = 3
AGENTS_SHOWN = 3


@dataclass(frozen=True)
class Gap:
    """Days of one vendor whose decisions were never sampled (found too late to draw)."""

    vendor: str
    first: date
    last: date
    decisions: int


@dataclass(frozen=True)
class QaReport:
    vendors: tuple[VendorScores, ...]
    clarifications: clarify.Summary
    calibrations: tuple[calibration.Calibration, ...] = ()
    gaps: tuple[Gap, ...] = ()


def build(session: Session, cfg: AppConfig, cur: Window, prev: Window, now: datetime) -> QaReport:
    return QaReport(
        vendor_scores(session, cfg, cur, prev),
        clarify.summary(session, cfg, min(now, cur.end), timedelta(seconds=cur.seconds)),
        calibration.in_window(session, cfg, cur),
        gaps(session, cfg, cur),
    )


def gaps(session: Session, cfg: AppConfig, window: Window) -> tuple[Gap, ...]:
    """The undrawn days found in ``window`` (``gap`` runs recorded in it), consecutive days
    of a vendor joined: fixed once the window is past, so a digest never changes."""
    rows = session.execute(
        select(QaRun.vendor, QaRun.period_start, func.count(QaDecision.id))
        .join(QaDecision, QaDecision.sample_run_id == QaRun.id)
        .where(QaRun.kind == sampling.GAP, window.has(QaRun.created_at))
        .group_by(QaRun.id, QaRun.vendor, QaRun.period_start)
        .order_by(QaRun.vendor, QaRun.period_start)
    ).all()
    days: dict[tuple[str, date], int] = defaultdict(int)
    for vendor, start, n in rows:
        days[(vendor, start.astimezone(cfg.team_tz).date())] += int(n)
    out: list[Gap] = []
    for (vendor, day), n in sorted(days.items()):
        if out and out[-1].vendor == vendor and out[-1].last + timedelta(days=1) == day:
            prev = out.pop()
            out.append(Gap(vendor, prev.first, day, prev.decisions + n))
        else:
            out.append(Gap(vendor, day, day, n))
    return tuple(out)


def gaps_text(cfg: AppConfig, found: tuple[Gap, ...]) -> str:
    """``Not sampled: Northwind CX (Manila) 27–28 Nov (1,240 decisions)…`` (mrkdwn)."""
    parts = []
    for g in found:
        name = cfg.vendors[g.vendor].name if g.vendor in cfg.vendors else g.vendor
        span = f"{g.first:%d %b}" if g.first == g.last else f"{g.first:%d}–{g.last:%d %b}"
        if g.first.month != g.last.month:
            span = f"{g.first:%d %b}–{g.last:%d %b}"
        parts.append(f"{mrkdwn(name)} {span} ({g.decisions:,} decisions)")
    return (
        f":warning: *Not sampled:* {'; '.join(parts)}. These days were found undrawn after"
        f" the {cfg.qa.catch_up_days}-day catch-up (escbot down, or decisions imported late),"
        " so no QA score covers them."
    )


def has_news(report: QaReport | None) -> bool:
    """Anything to say: graded decisions, clarifications, a calibration set."""
    if report is None:
        return False
    c = report.clarifications
    graded = any(v.overall.n or v.previous.n for v in report.vendors)
    return graded or bool(c.open or c.effects or report.gaps or report.calibrations)


def pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.0%}"


def share_text(s: Share) -> str:
    """``88% (80–93%, n=120)``: the score, its interval and how many were graded."""
    if s.score is None:
        return "no graded decisions"
    low, high = s.interval or (0.0, 0.0)
    return f"{pct(s.score)} ({low * 100:.0f}–{high:.0%}, n={s.n})"


def points(change: float | None) -> str:
    if change is None:
        return ""
    pts = round(change * 100, 1)
    return f" ▲{pts:.1f} pts" if pts > 0 else (f" ▼{-pts:.1f} pts" if pts < 0 else " ±0 pts")


def vendor_text(cfg: AppConfig, v: VendorScores) -> str:
    """One vendor's QA field (mrkdwn, names escaped)."""
    o = v.overall
    flag = ":red_circle: " if o.clearly_below else ""
    lines = [
        f"{flag}*{mrkdwn(v.name)}* · QA {share_text(o)}{points(v.change)} · target {pct(v.target)}"
    ]
    if o.clearly_below:
        lines.append("The whole interval is under target: not noise.")
    if v.previous.score is not None:
        lines.append(f"Before: {share_text(v.previous)}")
    if o.n:
        areas = sorted(v.areas, key=lambda a: a[1].score if a[1].score is not None else 1)
        shown = [
            f"{mrkdwn(cfg.policy_areas[a].title if a in cfg.policy_areas else a)} "
            f"{share_text(s)}{' :red_circle:' if s.clearly_below else ''}"
            for a, s in areas[:AREAS_SHOWN]
        ]
        lines.append("Areas: " + " · ".join(shown))
        if v.categories:
            errors = sorted(v.categories, key=lambda c: -(c[1].score or 0))
            lines.append(
                "Errors: "
                + ", ".join(
                    f"{mrkdwn(c.replace('_', ' '))} {pct(s.score)} ({s.hits})" for c, s in errors
                )
            )
        low = [a for a in v.agents if a[1].score is not None and a[1].score < v.target]
        low.sort(key=lambda a: a[1].score or 0)
        if low:
            lines.append(
                "Agents under target: "
                + " · ".join(f"{mrkdwn(a)} {share_text(s)}" for a, s in low[:AGENTS_SHOWN])
            )
    return "\n".join(lines)


def fields(cfg: AppConfig, report: QaReport, when: Callable[[datetime | None], str]) -> list[str]:
    """The digest fields: one per vendor, then the clarifications."""
    out = [vendor_text(cfg, v) for v in report.vendors]
    if report.gaps:
        out.insert(0, gaps_text(cfg, report.gaps)[:2000])
    text = clarify.summary_text(cfg, report.clarifications, when)
    if text:
        out.append(text)
    for c in report.calibrations:
        day = c.started.astimezone(cfg.team_tz).strftime("%a %d %b")
        out.append(calibration.summary_text(c, day)[:2000])
    return out[:10]
