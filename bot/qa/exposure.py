"""Sensitive QA items count toward a specialist's daily exposure cap, like tickets.

``max_sensitive_per_day`` is about what a person has to look at: a graphic
decision to grade is as much exposure as a graphic ticket. Routing adds these
counts to its own (``bot.routing.workload.sensitive_today``), and QA assignment
reads that sum, so neither can push someone over the cap.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import QaItem


def sensitive_items_since(session: Session, midnights: dict[str, datetime]) -> dict[str, int]:
    """Sensitive QA items each user was given since their own midnight."""
    if not midnights:
        return {}
    rows = session.execute(
        select(QaItem.grader_id, QaItem.assigned_at).where(
            QaItem.sensitive.is_(True),
            QaItem.grader_id.in_(list(midnights)),
            QaItem.assigned_at >= min(midnights.values()),
        )
    )
    counts: Counter[str] = Counter()
    for user, at in rows:
        if user is not None and at is not None and at >= midnights[user]:
            counts[user] += 1
    return dict(counts)
