"""Out of office: ``/escalate ooo <from> <to> [note]``, ``/escalate ooo``, ``/escalate ooo clear``.

Dates are whole days in the member's own time zone, both included: an absence
runs from ``from`` 00:00 to the midnight after ``to``, stored as UTC instants so
routing only compares times. Only pod members have absences: routing never
considers anyone else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bot.config.roster import Member
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
    member = desk.config.member(user)
    if member is None:
        raise NotAllowed(
            "Out of office is for members of a pod: routing only ever picks them, "
            "so there is nothing to pause for you."
        )
    now, words = desk.clock.now(), args.split()
    with transaction(desk.sessions) as session:
        if not words or words[0].lower() in ("list", "ls"):
            return Outcome("listed", entries(session, member, now), member.timezone)
        if words[0].lower() == "clear":
            cleared = clear(session, user, now)
            return Outcome("cleared", entries(session, member, now), member.timezone, cleared)
        first, last, note = parse(member, words, now)
        start = datetime.combine(first, time(0), member.tz)
        end = datetime.combine(last + timedelta(days=1), time(0), member.tz)
        session.add(
            OutOfOffice(user_id=user, starts_at=start, ends_at=end, note=note, created_at=now)
        )
        session.flush()
        return Outcome("set", entries(session, member, now), member.timezone)


def parse(member: Member, words: list[str], now: datetime) -> tuple[date, date, str]:
    """``<from> <to> [note]`` → (first day, last day, note); DomainError says what is wrong."""
    dates = [_date(w) for w in words[:2] if DATE_LIKE.match(w)]
    if len(dates) < 2:
        raise DomainError(f"Give the first and the last day you are away, e.g. {USAGE}.")
    first, last = dates
    if last < first:
        raise DomainError(f"The last day ({last}) is before the first ({first}).")
    today = now.astimezone(member.tz).date()
    if last < today:
        raise DomainError(f"That absence is already over: today is {today} in {member.timezone}.")
    if (last - first).days >= MAX_DAYS:
        raise DomainError(f"At most {MAX_DAYS} days at a time.")
    note = one_line(clean(" ".join(words[2:])))[:NOTE_MAX]
    return first, last, note


def _date(word: str) -> date:
    try:
        return date.fromisoformat(word)
    except ValueError:
        raise DomainError(f"`{word}` is not a date; write YYYY-MM-DD, e.g. {USAGE}.") from None


def entries(session: Session, member: Member, now: datetime) -> list[Entry]:
    """``member``'s current and future absences, soonest first."""
    rows = session.scalars(
        select(OutOfOffice)
        .where(OutOfOffice.user_id == member.id, OutOfOffice.ends_at > now)
        .order_by(OutOfOffice.starts_at, OutOfOffice.id)
    ).all()
    tz = member.tz
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
