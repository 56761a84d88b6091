"""Stored content keys brought to the current content-identity table, once per version.

``content_items.normalized`` is what duplicate checks and repeat trends match on. When
``bot.intake.content.RULES`` changes what a link normalizes to (``CANON_VERSION``), the
links stored before would no longer meet the same link pasted today; this rewrites their
keys from the links as typed (``raw``), once per version across replicas (the version
is claimed as a milestone in ``processed_requests``, in the same transaction, and kept
by retention). Redacted items keep their hash: their link is gone, so they can't be
recomputed.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.intake.content import CANON_VERSION, normalize
from storage.db import transaction
from storage.models import ContentItem
from storage.queries import claim_milestone

log = logging.getLogger(__name__)
REDACTED_PREFIX = "sha256:"  # bot.tickets.retention's form of a redacted key


def recanonicalize(sessions: sessionmaker[Session], now: datetime) -> int:
    """Rewrite stored keys that the current table reads differently; how many changed
    (0 when this version has run before)."""
    with transaction(sessions) as session:
        if not claim_milestone(session, f"content-canon:{CANON_VERSION}", now):
            return 0
        changed = 0
        items = session.scalars(
            select(ContentItem)
            .where(ContentItem.kind == "url")
            .where(ContentItem.normalized.not_like(f"{REDACTED_PREFIX}%"))
            .execution_options(yield_per=500)
        )
        for item in items:
            kind, key = normalize(item.raw)
            if kind == "url" and key != item.normalized:
                item.normalized = key
                changed += 1
    if changed:
        log.info("content keys: %d rewritten for content identity v%d", changed, CANON_VERSION)
    return changed
