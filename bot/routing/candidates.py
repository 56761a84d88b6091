"""What routing decides on, and each pod member held against its rules.

:class:`Need` (what the ticket asks for) and :class:`Snapshot` (open load, sensitive
tickets today, absences, the rotation pointer and the clock) are routing's inputs, read
from the database by ``bot.routing.workload``. :func:`assess` holds one member against
every rule: the skill, the ticket's language where ``routing.language`` is ``required``,
not out of office, under ``max_sensitive_per_day`` for a sensitive area, and on shift in
their own time zone. It keeps the first rule they fail (the shift aside), in a lead's
words, on the :class:`Candidate` it returns: one row of the assign event's audit table.
``bot.routing.decide`` chooses among the candidates; the escalation chain
(``bot.routing.chain``) assesses the next on call the same way.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from bot.config import AppConfig
from bot.config.fields import WEEKDAYS
from bot.config.roster import Member


class Why(NamedTuple):
    """Why somebody was not chosen: a kind (for the card's count) and the words."""

    kind: str  # tried skill language left away cap shift | busier turn rotation speakers off_rota
    text: str


@dataclass(frozen=True)
class Need:
    """What routing needs to know about a ticket."""

    area: str
    severity: str
    language: str | None = None
    sensitive: bool = False

    @classmethod
    def of(cls, ticket: Any) -> Need:
        return cls(ticket.policy_area, ticket.severity, ticket.language or None, ticket.sensitive)


@dataclass(frozen=True)
class Absence:
    until: datetime  # exclusive: the first instant they are back
    note: str = ""

    @property
    def left(self) -> bool:
        """Gone for good: deactivated in Slack, or out of app.yaml (``desk_people``)."""
        return self.note == LEFT


#: The note of an :class:`Absence` that is a departure, and its end: never.
LEFT = "\x00left"
FOREVER = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Snapshot:
    """The state routing decides on, keyed by member id; missing keys read as zero."""

    now: datetime
    load: Mapping[str, int] = field(default_factory=dict)  # open tickets, severity-weighted
    open: Mapping[str, int] = field(default_factory=dict)  # open tickets, counted
    sensitive_today: Mapping[str, int] = field(default_factory=dict)  # since local midnight
    away: Mapping[str, Absence] = field(default_factory=dict)
    pointer: int = 0  # position in the pod's member list where the next turn starts


class Candidate(NamedTuple):
    """One pod member as routing saw them: the row of the audit table.

    A named tuple: routing builds one per member per decision, and pods can be big.
    """

    id: str
    name: str
    clock: datetime  # now, in their time zone
    on_shift: bool
    speaks: bool | None  # None: the ticket has no language
    load: int
    open: int
    sensitive_today: int
    cap: int | None
    barred: str | None = None  # a rule other than the shift that excludes them
    barred_kind: str | None = None  # skill, language, away, cap, tried (see :class:`Why`)
    back: datetime | None = None  # off shift: their next shift start, local

    @property
    def local(self) -> str:
        """Their local time and zone for the audit table, e.g. ``11:00 Europe/Madrid``."""
        return f"{self.clock:%H:%M} {self.clock.tzinfo}"

    @property
    def excluded(self) -> str | None:
        return self.barred or (None if self.on_shift else f"off shift ({self.local})")

    @property
    def excluded_kind(self) -> str | None:
        return self.barred_kind or (None if self.on_shift else "shift")

    @property
    def off_shift(self) -> str:
        """E.g. "off shift until 09:00 in Lisbon" (a day name when it is not today)."""
        if self.back is None:
            return "off shift"
        day = "" if self.back.date() == self.clock.date() else f"{self.back:%a} "
        return f"off shift until {day}{local_time(self.back)}"

    def why_not(self, shift_matters: bool = True) -> Why | None:
        """Why they can't have it, in a lead's words: what the configuration says first
        (skill, language), then the shift, then the day's facts (away, at cap)."""
        if self.barred_kind in ("tried", "skill", "language", "left"):
            return Why(self.barred_kind, self.barred or "")
        if shift_matters and not self.on_shift:
            return Why("shift", self.off_shift)
        if self.barred_kind is not None:
            return Why(self.barred_kind, self.barred or "")
        return None

    def row(self, chosen: bool, note: str | None) -> dict[str, Any]:
        """The audit row; load and counts only where they were weighed (read only for them)."""
        weighed = chosen or self.excluded is None
        return {
            "id": self.id,
            "name": self.name,
            "chosen": chosen,
            "excluded": self.excluded,
            "note": note,
            "local": self.local,
            "speaks": self.speaks,
            "load": self.load if weighed else None,
            "open": self.open if weighed else None,
            "sensitive_today": self.sensitive_today if weighed else None,
            "cap": self.cap,
        }


def city(clock: datetime) -> str:
    """The place of a zone name, as people say it: ``America/Sao_Paulo`` → ``Sao Paulo``."""
    return str(clock.tzinfo).rsplit("/", 1)[-1].replace("_", " ")


def local_time(clock: datetime) -> str:
    """A local time as people say it: "12:08 in Nairobi"; a zone that is no place
    (``UTC``, ``Etc/GMT-3``) by its name: "12:08 UTC"."""
    zone = str(clock.tzinfo)
    if "/" not in zone or zone.startswith("Etc/"):
        return f"{clock:%H:%M} {city(clock)}"
    return f"{clock:%H:%M} in {city(clock)}"


def assess(
    cfg: AppConfig,
    member: Member,
    need: Need,
    snap: Snapshot,
    exclude: Collection[str] = (),
    local: datetime | None = None,
) -> Candidate:
    """``member`` against every rule; the first rule they fail (shift aside) is kept.

    ``local``: ``snap.now`` in the member's zone, if the caller has it already.
    """
    local = local or snap.now.astimezone(member.tz)
    speaks = None if not need.language else need.language in member.languages
    sensitive = snap.sensitive_today.get(member.id, 0)
    cap = member.max_sensitive_per_day
    barred: tuple[str, str] | None = None
    if member.id in exclude:
        barred = ("tried", "already had it")
    elif need.area not in member.skills:
        barred = ("skill", f"doesn't handle {cfg.area_title(need.area)}")
    elif speaks is False and cfg.routing.language == "required":
        barred = ("language", f"doesn't speak {cfg.language_name(need.language or '')}")
    elif (away := snap.away.get(member.id)) is not None and away.left:
        barred = ("left", "has left the desk")
    elif away is not None:
        back = away.until.astimezone(member.tz)
        barred = ("away", f"out of office until {back:%a %d %b} {local_time(back)}")
    elif need.sensitive and cap is not None and sensitive >= cap:
        barred = ("cap", f"at their sensitive cap ({sensitive} of {cap} today)")
    on_shift = member.hours.covers(local, local.tzinfo)  # type: ignore[arg-type]
    return Candidate(
        id=member.id,
        name=member.name,
        clock=local,
        on_shift=on_shift,
        speaks=speaks,
        load=snap.load.get(member.id, 0),
        open=snap.open.get(member.id, 0),
        sensitive_today=sensitive,
        cap=cap,
        barred=barred[1] if barred else None,
        barred_kind=barred[0] if barred else None,
        back=None if on_shift else next_shift(member, local),
    )


def next_shift(member: Member, after: datetime) -> datetime | None:
    """The first instant at or after ``after`` when ``member`` is on shift (their zone)."""
    local = after.astimezone(member.tz)
    hours = member.hours
    if hours.covers(local, member.tz):
        return local
    for days in range(8):
        day = local.date() + timedelta(days=days)
        if WEEKDAYS[day.weekday()] in hours.days:
            start = datetime.combine(day, hours.start, tzinfo=member.tz)
            if start >= local:
                return start
    return None
