"""The calendar periods a digest reports on, as UTC windows.

A digest reports on the last *complete* period (day, ISO week or calendar
month, in the digest's time zone) before the moment it fires: the 09:00
daily digest covers yesterday, local midnight to midnight, on both sides of
a daylight-saving change. Kept apart so the KPI code, the scheduler and the
CLI agree on one definition of "the period".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.config import AppConfig, Digest
from bot.reporting import kpi


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
        return midnight(self.first, self.tz)

    @property
    def end(self) -> datetime:
        return midnight(_shift(self.kind, self.first, 1), self.tz)

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
