"""Out of office: ``/escalate ooo <from> <to> [note]``, ``/escalate ooo``, ``/escalate ooo clear``.

Dates are whole days in the person's own time zone (a member's, else the team's), both
included: an absence runs from ``from`` 00:00 to the midnight after ``to``, stored as UTC
instants so routing only compares times. Pod members, leads and admins have absences:
routing skips an absent member, and what would go to an absent lead goes to their
stand-in (:mod:`bot.routing.standin`); nobody else is ever given work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bot.core.desk import Desk
from bot.core.errors import DomainError, NotAllowed
from bot.core.text import clean, one_line
from storage.db import transaction
from storage.models import OutOfOffice
from storage.queries import rowcount

USAGE = "`/escalate ooo 2026-12-21 2027-01-04 Winter break` (dates YYYY-MM-DD, both included)"
DATE_LIKE = re.compile(r"^\d{1,4}-\d{1,2}-\d{1,2}$")
NOTE_MAX = 300
MAX_DAYS = 366


@dataclass(frozen=True)
class Entry:
    """An absence as its owner reads it, in their time zone."""

    first: date
    last: date
    note: str
    current: bool


@dataclass(frozen=True)
class Outcome:
    """What the command did, for the ``ooo_status`` template."""

    did: str  # set | cleared | listed
    entries: list[Entry]
    timezone: str
    cleared: int = 0


def command(desk: Desk, user: str, args: str) -> Outcome:
    """Run ``/escalate ooo <args>`` for ``user``, in a transaction of its own."""
    cfg = desk.config
    if not cfg.can_act(user):
        raise NotAllowed(
            "Out of office is for members, leads and admins of a pod: routing only ever "
            "gives them work, so there is nothing to pause for you."
        )
    member = cfg.member(user)
    zone = member.timezone if member is not None else cfg.workspace.timezone
    tz = ZoneInfo(zone)
    now, words = desk.clock.now(), args.split()
    with transaction(desk.sessions) as session:
        if not words or words[0].lower() in ("list", "ls"):
            return Outcome("listed", entries(session, user, tz, now), zone)
        if words[0].lower() == "clear":
            cleared = clear(session, user, now)
            return Outcome("cleared", entries(session, user, tz, now), zone, cleared)
        first, last, note = parse(tz, zone, words, now)
        start = datetime.combine(first, time(0), tz)
        end = datetime.combine(last + timedelta(days=1), time(0), tz)
        session.add(
            OutOfOffice(user_id=user, starts_at=start, ends_at=end, note=note, created_at=now)
        )
        session.flush()
        return Outcome("set", entries(session, user, tz, now), zone)


def parse(tz: ZoneInfo, zone: str, words: list[str], now: datetime) -> tuple[date, date, str]:
    """``<from> <to> [note]`` → (first day, last day, note); DomainError says what is wrong."""
    dates = [_date(w) for w in words[:2] if DATE_LIKE.match(w)]
    if len(dates) < 2:
        raise DomainError(f"Give the first and the last day you are away, e.g. {USAGE}.")
    first, last = dates
    if last < first:
        raise DomainError(f"The last day ({last}) is before the first ({first}).")
    today = now.astimezone(tz).date()
    if last < today:
        raise DomainError(f"That absence is already over: today is {today} in {zone}.")
    if (last - first).days >= MAX_DAYS:
        raise DomainError(f"At most {MAX_DAYS} days at a time.")
    note = one_line(clean(" ".join(words[2:])))[:NOTE_MAX]
    return first, last, note


def _date(word: str) -> date:
    try:
        return date.fromisoformat(word)
    except ValueError:
        raise DomainError(f"`{word}` is not a date; write YYYY-MM-DD, e.g. {USAGE}.") from None


def entries(session: Session, user: str, tz: ZoneInfo, now: datetime) -> list[Entry]:
    """``user``'s current and future absences, soonest first, as days in ``tz``."""
    rows = session.scalars(
        select(OutOfOffice)
        .where(OutOfOffice.user_id == user, OutOfOffice.ends_at > now)
        .order_by(OutOfOffice.starts_at, OutOfOffice.id)
    ).all()
    return [
        Entry(
            first=r.starts_at.astimezone(tz).date(),
            last=(r.ends_at.astimezone(tz) - timedelta(seconds=1)).date(),
            note=r.note,
            current=r.starts_at <= now,
        )
        for r in rows
    ]


def clear(session: Session, user: str, now: datetime) -> int:
    """End the current absence now and drop future ones; the past stays on record."""
    ended = rowcount(
        session,
        update(OutOfOffice)
        .where(OutOfOffice.user_id == user)
        .where(OutOfOffice.starts_at <= now, OutOfOffice.ends_at > now)
        .values(ends_at=now),
    )
    dropped = rowcount(
        session,
        delete(OutOfOffice).where(OutOfOffice.user_id == user, OutOfOffice.starts_at > now),
    )
    return ended + dropped
