"""Advisories: a valid ``app.yaml`` that will stop meaning what it says.

Not errors (escbot runs), but a date after which the file quietly goes wrong, said
by ``check-config`` and logged at start, while there is time to fix it.
"""

from __future__ import annotations

from datetime import date, timedelta

from bot.config.model import AppConfig

#: How long before an explicit holiday list runs out escbot starts saying so.
CALENDAR_NOTICE = timedelta(days=60)


def config_advisories(cfg: AppConfig, today: date) -> list[str]:
    """What in ``cfg`` will soon stop being true, one sentence each."""
    out: list[str] = []
    cal = cfg.workspace.calendar
    last = cal.listed_until
    if last is not None and last - today <= CALENDAR_NOTICE:
        when = "ended" if last < today else "ends"
        out.append(
            f"workspace.calendar: the holiday list {when} on {last:%Y-%m-%d}; after it every"
            " working day counts toward business-hours SLAs. Set workspace.calendar.country"
            " (e.g. IE) to take public holidays from the holidays package, or list next"
            " year's days."
        )
    return out
