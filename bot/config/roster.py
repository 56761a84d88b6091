"""Who works when: working hours, the team's calendar, members, on-call rotations, pods.

The part of ``app.yaml`` that does clock arithmetic: a member's shift is read in
their own time zone (:meth:`Hours.covers`), the business calendar stops the
``business_hours`` SLA clocks, and a rotation hands over at the same wall-clock time
across daylight-saving changes (:meth:`Rotation.oncall_at`).
"""

from __future__ import annotations

import functools
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Annotated
from zoneinfo import ZoneInfo

import holidays as public_holidays
from pydantic import (
    AliasChoices,
    Field,
    NonNegativeInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.config.base import Keyed, Model, Unique
from bot.config.fields import (
    WEEKDAYS,
    CountryCode,
    Days,
    Duration,
    Handoff,
    LanguageCode,
    Slug,
    Text,
    TimeOfDay,
    TimeZoneName,
    UserId,
    did_you_mean,
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
    """The team's business hours, which stop the ``business_hours`` SLA clocks.

    Days off come from the country's public holidays (the ``holidays`` package, kept
    current for years ahead, so the list can't run out), plus ``extra_holidays`` and
    minus ``not_holidays``. Without a country, ``extra_holidays`` is the whole list:
    after its last date every weekday is a working day (``check-config`` warns).
    """

    country: CountryCode | None = None
    subdivision: Annotated[str, Field(min_length=1, max_length=10)] | None = None
    # ``holidays``: the key's name before ``country`` existed, still read
    extra_holidays: tuple[date, ...] = Field(
        default=(), validation_alias=AliasChoices("extra_holidays", "holidays")
    )
    not_holidays: tuple[date, ...] = ()

    @model_validator(mode="after")
    def _known_subdivision(self) -> Calendar:
        if self.subdivision is not None:
            if self.country is None:
                raise ValueError("subdivision needs a country")
            known = public_holidays.list_supported_countries()[self.country]
            if self.subdivision not in known:
                raise ValueError(
                    f"unknown subdivision {self.subdivision!r} of {self.country}"
                    f"{did_you_mean(self.subdivision, known)}"
                )
        return self

    def is_holiday(self, day: date) -> bool:
        """Is ``day`` a day off (the clocks stand still) by this calendar?"""
        if day in self.not_holidays:
            return False
        if day in self.extra_holidays:
            return True
        return self.country is not None and day in _public(self.country, self.subdivision, day.year)

    @property
    def listed_until(self) -> date | None:
        """The last day an explicit list covers, when there is no country to go on."""
        return max(self.extra_holidays) if self.country is None and self.extra_holidays else None

    @property
    def working_day(self) -> timedelta:
        """How long a working day is open: what one day of a business-hours target counts."""
        return datetime.combine(date.min, self.end) - datetime.combine(date.min, self.start)


@functools.lru_cache(maxsize=64)
def _public(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    """The country's public holidays in ``year`` (computed once per year)."""
    return frozenset(public_holidays.country_holidays(country, subdiv=subdivision, years=year))


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
