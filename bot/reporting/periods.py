"""The stretch of time a digest reports on, as a UTC window ``[start, end)``.

A *scheduled* digest covers the time since the schedule's previous run: the
09:00 ``mon-fri`` daily posted on Monday covers Friday 09:00 → Monday 09:00,
so the weekend is in a digest, and each run's window starts where the one
before ended. It is compared with that previous window. A *calendar* period
(``escbot digest --period DATE``) is the local day, ISO week or month that
contains a date, midnight to midnight on both sides of a daylight-saving
change. Kept apart so the KPI code, the scheduler and the CLI agree on one
definition of "the period".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from bot.config import AppConfig, Digest
from bot.reporting import kpi

_LOOKBACK = timedelta(days=1)  # first guess of the gap between two runs; doubled as needed
_MAX_GAP = timedelta(days=800)  # a cron line that fires less than every two years: none


@dataclass(frozen=True)
class Period:
    """A window in ``tz``: between two scheduled runs, or a calendar day, week or month.

    ``kind`` is the digest's period (day, week, month), for its title; ``before``
    is where the previous window starts (it ends at ``start``).
    """

    kind: str
    start: datetime
    end: datetime
    tz: ZoneInfo
    before: datetime
    scheduled: bool = False

    @property
    def first(self) -> date:
        """The local date the window starts on."""
        return self.start.astimezone(self.tz).date()

    @property
    def last(self) -> date:
        """The local date of the window's last instant."""
        return (self.end - timedelta(microseconds=1)).astimezone(self.tz).date()

    @property
    def window(self) -> kpi.Window:
        return kpi.Window(self.start, self.end)

    @property
    def previous(self) -> Period:
        if self.scheduled:
            return Period(self.kind, self.before, self.start, self.tz, self.before, True)
        return calendar_period(self.kind, _shift(self.kind, self.first, -1), self.tz)

    @property
    def label(self) -> str:
        if self.scheduled:
            return f"{stamp(self.start, self.tz)} → {stamp(self.end, self.tz)}"
        if self.kind == "day":
            return f"{self.first:%a} {self.first.day} {self.first:%b %Y}"
        if self.kind == "week":
            return f"week of {self.first:%a} {self.first.day} {self.first:%b %Y}"
        return f"{self.first:%B %Y}"

    @property
    def noun(self) -> str:
        return "digest" if self.scheduled else self.kind  # "the previous digest / day / week"


def stamp(at: datetime, tz: ZoneInfo) -> str:
    """``Fri 4 Dec 09:00``: a time as a calendar shows it, in ``tz``."""
    local = at.astimezone(tz)
    return f"{local:%a} {local.day} {local:%b %H:%M}"


def midnight(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant local ``day`` begins in ``tz`` (days are 23 or 25 hours around DST)."""
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


def calendar_period(kind: str, first: date, tz: ZoneInfo) -> Period:
    """The day, week or month that starts on local date ``first``."""
    start = midnight(first, tz)
    end = midnight(_shift(kind, first, 1), tz)
    return Period(kind, start, end, tz, midnight(_shift(kind, first, -1), tz))


def period_containing(kind: str, day: date, tz: ZoneInfo) -> Period:
    """The day, ISO week (Monday first) or month that contains local date ``day``."""
    return calendar_period(kind, _start_of(kind, day), tz)


def period_before(kind: str, at: datetime, tz: ZoneInfo) -> Period:
    """The last complete calendar period that ended at or before ``at``."""
    current = _start_of(kind, at.astimezone(tz).date())
    return calendar_period(kind, _shift(kind, current, -1), tz)


def previous_fire(trigger: CronTrigger, fire: datetime) -> datetime:
    """The schedule's last run strictly before ``fire`` (APScheduler only looks forward)."""
    back = _LOOKBACK
    while back <= _MAX_GAP:
        found, t = None, trigger.get_next_fire_time(None, fire - back)
        while t is not None and t < fire:
            found, t = t, trigger.get_next_fire_time(t, t + timedelta(seconds=1))
        if found is not None:
            return found.astimezone(UTC)
        back *= 2
    raise ValueError("the schedule has no earlier run")


def last_fire(trigger: CronTrigger, at: datetime) -> datetime:
    """The schedule's last run at or before ``at``."""
    nxt = trigger.get_next_fire_time(None, at)
    if nxt is not None and nxt <= at:
        return nxt.astimezone(UTC)
    return previous_fire(trigger, at)


def scheduled_period(cfg: AppConfig, digest: Digest, fire: datetime) -> Period:
    """What the run of ``digest`` at ``fire`` covers: the time since the previous run."""
    trigger = cfg.digest_trigger(digest)
    start = previous_fire(trigger, fire)
    before = previous_fire(trigger, start)
    return Period(digest.period, start, fire.astimezone(UTC), cfg.digest_tz(digest), before, True)


def digest_period(cfg: AppConfig, digest: Digest, at: datetime) -> Period:
    """The window of the schedule's last run at or before ``at``."""
    return scheduled_period(cfg, digest, last_fire(cfg.digest_trigger(digest), at))
