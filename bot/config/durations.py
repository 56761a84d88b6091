"""Human durations (``15m``, ``4h``, ``1h30m``, ``2d``, ``1w``) as used all over ``app.yaml``.

SLA targets and reminder lead times are read by people, so the file uses the
short forms they already write in Slack; code only ever sees ``timedelta``.
"""

from __future__ import annotations

import re
from datetime import timedelta

UNITS: dict[str, timedelta] = {
    "w": timedelta(weeks=1),
    "d": timedelta(days=1),
    "h": timedelta(hours=1),
    "m": timedelta(minutes=1),
    "s": timedelta(seconds=1),
}
HINT = "(use e.g. 15m, 4h, 2d)"
_PART = re.compile(r"\s*(\d+)\s*([a-zA-Z]+)")


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
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"invalid duration {value!r} {HINT}")
    if isinstance(value, int | float):
        raise ValueError(f"invalid duration {value!r}: a number needs a unit {HINT}")
    text = value.strip()
    if text.startswith("-"):
        raise ValueError(f"invalid duration {value!r}: must be positive {HINT}")
    total, pos, last = timedelta(0), 0, -1
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
        total += int(match.group(1)) * UNITS[match.group(2)]
        pos = match.end()
    if last < 0:
        raise ValueError(f"invalid duration {value!r} {HINT}")
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
