"""Times and durations as people read them, one way everywhere.

Why Slack date tokens: a time written as text in the team's zone is wrong for
every member elsewhere, and a zone abbreviation is ambiguous (Europe/Dublin's
summer "IST" is also India's). ``<!date^UNIX^{…}|fallback>`` renders in each
viewer's own zone; the fallback (for clients and notifications that don't
render tokens) names its zone by its full tz name, never an abbreviation.

Why one duration format: "1h3m" on a card and "1h 02m" in a digest read as two
different things. :func:`duration` is the only one (``45s``, ``25m``,
``1h 5m``, ``2d 4h``); app.yaml's own syntax (``1h30m``) stays for config.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

#: What a viewer sees of an absolute time: "Today 14:05", "Thu, Nov 26 09:00".
ABSOLUTE = "{date_short_pretty} {time}"
#: What a viewer sees of a relative time: "in 25 minutes", "10 minutes ago".
RELATIVE = "{ago}"


def duration(value: float | timedelta | None) -> str:
    """``45s``, ``25m``, ``1h 5m``, ``2d 4h``: at most two units, rounded down; "—" for None."""
    if value is None:
        return "—"
    seconds = round(value.total_seconds() if isinstance(value, timedelta) else value)
    if seconds < 0:
        return "-" + duration(-seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


def zoned(at: datetime, tz: ZoneInfo, fmt: str = "%a %d %b %H:%M") -> str:
    """``at`` as text in ``tz``, naming the zone unambiguously: "Thu 26 Nov 09:00 Europe/Dublin"."""
    return f"{at.astimezone(tz).strftime(fmt)} {tz.key}"


def slack_date(at: datetime, tz: ZoneInfo, fmt: str = "%a %d %b %H:%M") -> str:
    """A ``<!date^…>`` token each viewer sees in their own zone; fallback as :func:`zoned`."""
    return f"<!date^{int(at.timestamp())}^{ABSOLUTE}|{zoned(at, tz, fmt)}>"


def relative(at: datetime, now: datetime) -> str:
    """``in 25m`` or ``10m ago`` (plain text, for fallbacks and as of ``now``)."""
    delta = at - now
    if abs(delta) < timedelta(minutes=1):
        return "now"
    return f"in {duration(delta)}" if delta > timedelta(0) else f"{duration(-delta)} ago"


def slack_relative(at: datetime, now: datetime) -> str:
    """A token that stays true as time passes ("in 25 minutes", later "3 minutes ago");
    its fallback is :func:`relative` as of ``now``."""
    return f"<!date^{int(at.timestamp())}^{RELATIVE}|{relative(at, now)}>"
