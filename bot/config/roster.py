"""Who works when: working hours, the team's calendar, members, on-call rotations, pods.

The part of ``app.yaml`` that does clock arithmetic: a member's shift is read in
their own time zone (:meth:`Hours.covers`), the business calendar stops the
``business_hours`` SLA clocks, and a rotation hands over at the same wall-clock time
across daylight-saving changes (:meth:`Rotation.oncall_at`).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import Field, NonNegativeInt, ValidationInfo, field_validator

from bot.config.base import Keyed, Model, Unique
from bot.config.fields import (
    WEEKDAYS,
    Days,
    Duration,
    Handoff,
    LanguageCode,
    Slug,
    Text,
    TimeOfDay,
    TimeZoneName,
    UserId,
)


class Hours(Model):
    """Weekly working hours, read in the owner's time zone (a member's, or the team's)."""

    days: Annotated[Days, Field(min_length=1)] = ("mon", "tue", "wed", "thu", "fri")
    start: TimeOfDay = time(9)
    end: TimeOfDay = time(18)

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, end: time, info: ValidationInfo) -> time:
        start = info.data.get("start")
        if start is not None and end <= start:
            raise ValueError(
                f"must be later than start ({start:%H:%M}); hours can't run past midnight"
            )
        return end

    def covers(self, when: datetime, tz: tzinfo) -> bool:
        """Is the aware instant ``when`` inside these hours, on the clock of ``tz``?"""
        local = when.astimezone(tz)
        return WEEKDAYS[local.weekday()] in self.days and self.start <= local.time() < self.end


class Calendar(Hours):
    """The team's business hours, which stop the ``business_hours`` SLA clocks."""

    holidays: tuple[date, ...] = ()

    @property
    def working_day(self) -> timedelta:
        """How long a working day is open: what one day of a business-hours target counts."""
        return datetime.combine(date.min, self.end) - datetime.combine(date.min, self.start)


class Member(Model):
    id: UserId
    name: Text
    skills: Annotated[tuple[Slug, ...], Unique] = ()
    languages: Annotated[tuple[LanguageCode, ...], Field(min_length=1), Unique]
    timezone: TimeZoneName
    hours: Hours = Hours()
    max_sensitive_per_day: NonNegativeInt | None = None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def on_shift(self, when: datetime) -> bool:
        """Working at ``when`` by their own hours and time zone (out-of-office is not config)."""
        return self.hours.covers(when, self.tz)


class Rotation(Keyed):
    members: Annotated[tuple[UserId, ...], Field(min_length=1)]
    handoff: Handoff = "mon 09:00"
    every: Duration = timedelta(weeks=1)
    start: date
    timezone: TimeZoneName | None = None

    @property
    def handoff_weekday(self) -> int | None:
        """0 = Monday, or ``None`` for a daily handoff written as just ``"09:00"``."""
        day = self.handoff.split()[0] if " " in self.handoff else None
        return WEEKDAYS.index(day) if day else None

    @property
    def handoff_time(self) -> time:
        hh, mm = self.handoff.split()[-1].split(":")
        return time(int(hh), int(mm))

    def epoch(self, tz: tzinfo) -> datetime:
        """The first handoff: the handoff day on or after ``start``, at the handoff time."""
        day = self.start
        if self.handoff_weekday is not None:
            day += timedelta(days=(self.handoff_weekday - day.weekday()) % 7)
        return datetime.combine(day, self.handoff_time, tzinfo=tz)

    def oncall_at(self, when: datetime, tz: tzinfo, offset: int = 0) -> str:
        """Who is on call at aware ``when`` (``offset=1``: the next one, for escalation).

        Shifts are counted in wall-clock time of ``tz``, so the handoff stays at
        09:00 local across daylight-saving changes.
        """
        local = when.astimezone(tz).replace(tzinfo=None)
        shifts = (local - self.epoch(tz).replace(tzinfo=None)) // self.every
        return self.members[(shifts + offset) % len(self.members)]


class Pod(Keyed):
    title: Text
    lead: UserId
    #: Takes what would go to the lead while the lead is out of office (``/escalate ooo``);
    #: without one, the workspace's admins do.
    deputy: UserId | None = None
    members: Annotated[tuple[Member, ...], Field(min_length=1)]
    rotations: dict[Slug, Rotation] = Field(default_factory=dict)
    oncall_rotation: Slug | None = None

    def member(self, user_id: str) -> Member | None:
        return next((m for m in self.members if m.id == user_id), None)

    @property
    def member_ids(self) -> tuple[str, ...]:
        return tuple(m.id for m in self.members)

    @property
    def oncall(self) -> Rotation | None:
        return self.rotations.get(self.oncall_rotation) if self.oncall_rotation else None
