"""Human durations (``15m``, ``4h``, ``1h30m``, ``2d``, ``1w``) as used all over ``app.yaml``.

SLA targets and reminder lead times are read by people, so the file uses the
short forms they already write in Slack; code only ever sees ``timedelta``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

UNITS: dict[str, timedelta] = {
    "w": timedelta(weeks=1),
    "d": timedelta(days=1),
    "h": timedelta(hours=1),
    "m": timedelta(minutes=1),
    "s": timedelta(seconds=1),
}
HINT = "(use e.g. 15m, 4h, 2d)"
_PART = re.compile(r"\s*(\d+)\s*([a-zA-Z]+)")


def _parts(value: str) -> list[tuple[int, str]]:
    """``"1h30m"`` -> ``[(1, "h"), (30, "m")]``; ValueError if it isn't a duration."""
    text = value.strip()
    if text.startswith("-"):
        raise ValueError(f"invalid duration {value!r}: must be positive {HINT}")
    parts: list[tuple[int, str]] = []
    pos, last = 0, -1
    order = list(UNITS)
    while pos < len(text):
        match = _PART.match(text, pos)
        if match is None or match.group(2) not in UNITS:
            raise ValueError(f"invalid duration {value!r} {HINT}")
        rank = order.index(match.group(2))
        if rank <= last:
            raise ValueError(
                f"invalid duration {value!r}: give each unit once, largest first (e.g. 1h30m)"
            )
        last = rank
        parts.append((int(match.group(1)), match.group(2)))
        pos = match.end()
    if not parts:
        raise ValueError(f"invalid duration {value!r} {HINT}")
    return parts


def _check_type(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"invalid duration {value!r} {HINT}")
    if isinstance(value, int | float):
        raise ValueError(f"invalid duration {value!r}: a number needs a unit {HINT}")


def parse_duration(value: str | timedelta) -> timedelta:
    """``"1h30m"`` -> ``timedelta(hours=1, minutes=30)``.

    Units are s, m, h, d, w, largest first, each at most once; the result must be
    positive. A bare number is refused because ``15`` could mean minutes or days.
    Raises ``ValueError`` with a message fit to show the person editing the file.
    """
    if isinstance(value, timedelta):
        if value <= timedelta(0):
            raise ValueError(f"invalid duration {format_duration(value)!r}: must be positive")
        return value
    _check_type(value)
    total = sum((n * UNITS[unit] for n, unit in _parts(value)), timedelta(0))
    if total <= timedelta(0):
        raise ValueError(f"invalid duration {value!r}: must be longer than zero")
    return total


def format_duration(delta: timedelta) -> str:
    """The inverse of :func:`parse_duration` for display: ``timedelta(minutes=90)`` -> ``1h30m``.

    A whole number of weeks is shown in weeks (``14d`` -> ``2w``), any other number
    of days in days (``8d``), as a person would write it.
    """
    seconds = int(delta.total_seconds())
    if seconds <= 0:
        return "0s" if seconds == 0 else "-" + format_duration(-delta)
    days, rest = divmod(seconds, 86400)
    parts: list[str] = []
    if days:
        parts.append(f"{days // 7}w" if days % 7 == 0 else f"{days}d")
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        amount, rest = divmod(rest, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)


# -- SLA targets: the same durations, read on a severity's clock ---------------------------

_LONG_UNITS = {"week": "w", "day": "d", "hour": "h", "minute": "m", "second": "s"}
_LONG = re.compile(
    r"(\d+)\s*(working\s+|business\s+)?(week|day|hour|minute|second)s?\b",
    re.IGNORECASE,
)
_JOINERS = re.compile(r"(\s|,|\band\b)+", re.IGNORECASE)
_SPELL_HINT = "(use e.g. 4h, 2d, '4 working hours', '2 working days')"


class SlaTarget(timedelta):
    """An SLA target as written: weeks and days kept apart from the hours and minutes.

    On a ``24x7`` clock it is just its ``timedelta``. On a ``business_hours`` clock
    a day is a *working day* (the calendar's opening hours) and a week is a
    working week, so ``2d`` means two working days, as a lead reads it, and
    ``4h`` four working hours. ``working`` records that the file spelled it out
    ("2 working days"), which only a business-hours severity may do.
    """

    weeks: int
    whole_days: int
    rest: timedelta
    working: bool

    def __new__(
        cls, weeks: int = 0, days: int = 0, rest: timedelta = timedelta(0), working: bool = False
    ) -> SlaTarget:
        self = super().__new__(cls, weeks=weeks, days=days, seconds=rest.total_seconds())
        self.weeks, self.whole_days, self.rest, self.working = weeks, days, rest, working
        return self

    def __reduce__(self) -> Any:  # keep the written form through copy/pickle
        return (SlaTarget, (self.weeks, self.whole_days, self.rest, self.working))

    def seconds_on(self, day: timedelta | None, days_per_week: int = 7) -> int:
        """Clock seconds: every second (``day`` None), or ``day`` per (working) day."""
        if day is None:
            return int(self.total_seconds())
        days = self.weeks * days_per_week + self.whole_days
        return int((days * day + self.rest).total_seconds())

    def spell(self, working: bool) -> str:
        """``2 working days``, ``4 working hours``, ``1 day 12 hours``: the unit in words."""
        word = "working " if working else ""
        parts = []
        if self.weeks:
            parts.append(_plural(self.weeks, f"{word}week"))
        if self.whole_days:
            parts.append(_plural(self.whole_days, f"{word}day"))
        rest = int(self.rest.total_seconds())
        for unit, size in (("hour", 3600), ("minute", 60), ("second", 1)):
            amount, rest = divmod(rest, size)
            if amount:
                parts.append(_plural(amount, f"{word}{unit}" if unit == "hour" else unit))
        return " ".join(parts) or "0 minutes"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def parse_target(value: Any) -> SlaTarget:
    """``"2d"``, ``"4h"``, ``"1d4h"`` or spelled out: ``"2 working days"``, ``"90 minutes"``."""
    if isinstance(value, SlaTarget):
        return value
    if isinstance(value, timedelta):
        parse_duration(value)  # positive
        return SlaTarget(days=value.days, rest=timedelta(seconds=value.seconds))
    _check_type(value)
    text = str(value).strip()
    if _LONG.search(text):
        parts, working, pos = [], False, 0
        for match in _LONG.finditer(text):
            if _JOINERS.fullmatch(text[pos : match.start()] or " ") is None:
                raise ValueError(f"invalid duration {value!r} {_SPELL_HINT}")
            parts.append((int(match.group(1)), _LONG_UNITS[match.group(3).lower()]))
            working = working or bool(match.group(2))
            pos = match.end()
        if text[pos:].strip():
            raise ValueError(f"invalid duration {value!r} {_SPELL_HINT}")
        if len({u for _, u in parts}) < len(parts):
            raise ValueError(f"invalid duration {value!r}: give each unit once")
    else:
        parts, working = _parts(text), False
    amounts = {unit: 0 for unit in UNITS}
    for n, unit in parts:
        amounts[unit] += n
    rest = timedelta(hours=amounts["h"], minutes=amounts["m"], seconds=amounts["s"])
    target = SlaTarget(amounts["w"], amounts["d"], rest, working)
    if target <= timedelta(0):
        raise ValueError(f"invalid duration {value!r}: must be longer than zero")
    return target
