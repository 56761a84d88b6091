"""Notices batched: the notices one person gets within a few seconds go as one DM.

A first notice waits ``window`` for company (an intake burst handing the lead six
tickets, one scheduler tick of breaches); then it takes the person's other pending
notices under its lease and lists them all, the most urgent first, each line with its
notice's button (Ack, Decline), so the list loses no action.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.core.render import Renderer
from bot.delivery.due import DueRows
from bot.delivery.outbox import NOTICE, NOTICE_ACTION, NOTICE_ITEM
from storage.models import OutboxMessage

NOTICE_WINDOW = timedelta(seconds=2)  # a first notice waits this long for others to join it
NOTICES_LISTED = 15  # notices named in one DM; the rest are counted
_TEMPLATES = Renderer(ZoneInfo("UTC"))  # the notice list shows no times


@dataclass
class NoticeBatcher:
    """Gathers a person's pending notices into the DM of the first one that is due."""

    due: DueRows  # leases the notices that ride along
    window: timedelta = NOTICE_WINDOW

    def waits(self, row: OutboxMessage) -> bool:
        """``row`` has not yet waited its window for other notices to join it."""
        return bool(self.window) and row.next_attempt_at is None

    def gather(self, s: Session, row: OutboxMessage) -> list[OutboxMessage]:
        """The person's other pending notices, leased to go in ``row``'s DM (none: alone)."""
        return self.due.claim_all(
            s,
            OutboxMessage.channel == row.channel,
            OutboxMessage.kind == NOTICE,
            OutboxMessage.status == "pending",
            OutboxMessage.id != row.id,
        )

    @staticmethod
    def listing(row: OutboxMessage, others: list[OutboxMessage]) -> dict[str, Any]:
        """``chat.postMessage`` arguments for one DM listing ``row`` and ``others``."""
        rows = sorted([row, *others], key=lambda r: (-r.priority, r.id))
        items = [
            {
                "line": str(r.payload.get(NOTICE_ITEM) or r.payload.get("text") or ""),
                "action": r.payload.get(NOTICE_ACTION),
            }
            for r in rows
        ]
        payload = _TEMPLATES.render(
            "notice_list",
            items=items[:NOTICES_LISTED],
            more=max(0, len(items) - NOTICES_LISTED),
            total=len(items),
        )
        return {**payload, "channel": row.channel, "unfurl_links": False, "unfurl_media": False}
