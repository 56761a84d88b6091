"""SLA calendar maths, pure: which seconds count, targets and thresholds in those seconds.

A clock counts either every second (``24x7``) or only the team calendar's business
hours, read in the team's time zone and skipping holidays (``business_hours``). No
ticket and no database here: everything else in :mod:`bot.sla` is built on these.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from bot.config import AppConfig, Calendar
from bot.config.fields import WEEKDAYS
from bot.core.timefmt import duration

TTA, TTR = "tta", "ttr"
CLOCKS = (TTA, TTR)
AT_RISK, BREACH = "at_risk", "breach"
_MAX_DAYS = 3700  # a calendar always has a working day; this only bounds a bad loop


@dataclass(frozen=True)
class SlaClock:
    """Counts seconds every second, or only inside the calendar (``calendar`` set)."""

    tz: tzinfo
    calendar: Calendar | None = None

    def elapsed(self, start: datetime, end: datetime) -> int:
        """Whole SLA seconds between two aware instants (0 if ``end`` is not later)."""
        if end <= start:
            return 0
        if self.calendar is None:
            return int((end - start).total_seconds())
        total = timedelta(0)
        for opens, closes in self._windows(start):
            if opens >= end:
                break
            lo, hi = max(opens, start), min(closes, end)
            if hi > lo:
                total += hi - lo
        return int(total.total_seconds())

    def add(self, start: datetime, seconds: int) -> datetime:
        """The instant at which ``seconds`` SLA seconds have passed since ``start``."""
        if seconds <= 0:
            return start
        if self.calendar is None:
            return start + timedelta(seconds=seconds)
        left = timedelta(seconds=seconds)
        for opens, closes in self._windows(start):
            lo = max(opens, start)
            if closes <= lo:
                continue
            if left <= closes - lo:
                return lo + left
            left -= closes - lo
        raise ValueError("the calendar has no business hours in ten years")

    def _windows(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The business-hour windows (UTC) from ``start``'s local day on, in order.

        Each day's opening and closing are placed on that day's own UTC offset,
        so a window stays 09:00-18:00 local across daylight-saving changes.
        """
        cal = self.calendar
        assert cal is not None
        day: date = start.astimezone(self.tz).date()
        for _ in range(_MAX_DAYS):
            if WEEKDAYS[day.weekday()] in cal.days and not cal.is_holiday(day):
                opens = datetime.combine(day, cal.start, tzinfo=self.tz).astimezone(UTC)
                closes = datetime.combine(day, cal.end, tzinfo=self.tz).astimezone(UTC)
                yield opens, closes
            day += timedelta(days=1)


def clock_for(cfg: AppConfig, severity: str) -> SlaClock:
    sev = cfg.severities[severity]
    calendar = cfg.workspace.calendar if sev.clock == "business_hours" else None
    return SlaClock(cfg.team_tz, calendar)


def target_seconds(cfg: AppConfig, severity: str, which: str) -> int:
    """The target in seconds of the severity's clock.

    On a business-hours clock a day of the target is a working day (the
    calendar's opening hours) and a week a working week: ``2d`` from Thursday
    10:00 is due Monday 10:00, as a calendar says, not 48 business hours later.
    """
    sev = cfg.severities[severity]
    target = sev.ack_within if which == TTA else sev.resolve_within
    if not sev.business_hours:
        return target.seconds_on(None)
    cal = cfg.workspace.calendar
    return target.seconds_on(cal.working_day, len(cal.days))


def threshold(cfg: AppConfig, severity: str, which: str, level: str) -> int:
    """SLA seconds at which ``level`` (at-risk or breach) is reached on ``which``."""
    full = target_seconds(cfg, severity, which)
    return full if level == BREACH else math.ceil(full * cfg.sla.at_risk_fraction)


def span(cfg: AppConfig, severity: str, seconds: int) -> str:
    """SLA seconds as a person reads them: ``1d 2h`` on a 24x7 clock, ``11h 5m of working
    time`` on a business-hours one (where "1d" would wrongly suggest a calendar day); the
    one duration format (:func:`bot.core.timefmt.duration`) either way."""
    if not cfg.severities[severity].business_hours:
        return duration(seconds)
    hours, rest = divmod(seconds, 3600)
    text = " ".join(
        part
        for part in (
            f"{hours}h" if hours else "",
            f"{rest // 60}m" if rest >= 60 or not hours else "",
        )
        if part
    )
    return f"{text} of working time"
