"""Per-person intake limits (``limits`` in app.yaml): tickets opened, duplicate lookups.

A flood from one account must not bury another partner's sev0, and the duplicate
check must not be a search engine over other teams' tickets. Both counts are
read from the database in the submitting transaction, so they hold across
replicas. Exempt severities (sev0) are never refused — an imminent-harm report
always gets through — but they count, and going over is logged.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bot.config import AppConfig
from bot.core.forms import FieldErrors
from bot.core.timefmt import duration
from storage.models import IntakeLookup, Ticket

log = logging.getLogger(__name__)


def check_tickets(
    session: Session, cfg: AppConfig, reporter: str, severity: str, now: datetime
) -> None:
    """Raise :class:`FieldErrors` (under the summary) if ``reporter`` opened their
    share of tickets in the window, unless ``severity`` is exempt (then log it)."""
    limits = cfg.limits
    if limits.tickets_per_user is None:
        return
    opened = (
        session.scalar(
            select(func.count())
            .select_from(Ticket)
            .where(Ticket.reporter_id == reporter, Ticket.created_at > now - limits.window)
        )
        or 0
    )
    if opened < limits.tickets_per_user:
        return
    if severity in limits.exempt_severities:
        log.warning(
            "%s opens a %s ticket over the intake limit (%d in %s): let through",
            reporter,
            severity,
            opened,
            duration(limits.window),
        )
        return
    raise FieldErrors(
        {
            "summary": (
                f"You have opened {opened} tickets in the last {duration(limits.window)}, "
                f"the most one person can. Please wait a few minutes, or add to one of your "
                f"tickets (`/escalate mine`). Imminent harm? Choose "
                f"{' or '.join(limits.exempt_severities)}: it always gets through."
            )
        }
    )


def lookup_allowed(
    session: Session, cfg: AppConfig, reporter: str, severity: str, now: datetime
) -> bool:
    """Count one duplicate lookup by ``reporter``; False when it may not be made.

    Over the limit, an exempt severity skips the lookup (False, logged: its ticket
    is opened without the choice) and anything else is refused with
    :class:`FieldErrors` under the content field.
    """
    limits = cfg.limits
    if limits.duplicate_checks_per_user is None:
        return True
    since = now - limits.window
    session.execute(
        delete(IntakeLookup).where(IntakeLookup.user_id == reporter, IntakeLookup.at <= since)
    )
    made = (
        session.scalar(
            select(func.count())
            .select_from(IntakeLookup)
            .where(IntakeLookup.user_id == reporter, IntakeLookup.at > since)
        )
        or 0
    )
    session.add(IntakeLookup(user_id=reporter, at=now))
    if made < limits.duplicate_checks_per_user:
        return True
    if severity in limits.exempt_severities:
        log.warning(
            "%s: %s submission over the duplicate-check limit (%d in %s): opened unchecked",
            reporter,
            severity,
            made,
            duration(limits.window),
        )
        return False
    raise FieldErrors(
        {
            "content": (
                f"You have checked content against the desk {made} times in the last "
                f"{duration(limits.window)}, the most one person can. Please wait a few "
                "minutes before sending more."
            )
        }
    )
