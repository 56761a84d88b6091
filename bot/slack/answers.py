"""Instant answers to a reporter that only Slack can show: the confirmation after intake.

The domain builds the payload (``bot.intake.messages.reporter_ack``); showing it is a
Slack matter, so it lives here and the intake domain never touches slack_sdk.

Where the reporter typed ``/escalate`` (or used the shortcut) the bot is often not a
member, and ``chat.postEphemeral`` needs it to be. The request's ``response_url`` answers
in that channel whatever the membership, for 30 minutes and 5 uses
(https://docs.slack.dev/interactivity/handling-user-interaction#message_responses). So
the listener that opens the modal keeps the URL here, server-side, under the modal's view
id; the submission takes it (once) to show the confirmation. Nothing is read from the
submitted payload. The durable DM, queued with the ticket, covers every other case: an
expired or refused URL, or a submission that reached another replica.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.webhook import WebhookClient

from bot.core.clock import Clock

log = logging.getLogger(__name__)

#: How long Slack honours a response_url.
LIFETIME = timedelta(minutes=30)
#: Modals open at once whose URLs are kept; past it the oldest is forgotten (its DM remains).
MAX_KEPT = 10_000


@dataclass(frozen=True)
class Kept:
    """A request's response_url: who made the request, where, and when."""

    url: str
    user: str
    channel: str | None
    since: datetime


class ResponseUrls:
    """response_urls of the requests that opened modals, by view id, used once."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._kept: dict[str, Kept] = {}
        self._lock = threading.Lock()

    def keep(
        self, view_id: str, url: str | None, user: str, channel: str | None, since: datetime
    ) -> None:
        """Remember ``url`` for the modal ``view_id`` that ``user`` opened in ``channel`` by
        a request received at ``since`` (when Slack issued the URL)."""
        if not url or not view_id:
            return
        now = self.clock.now()
        with self._lock:
            for key in [k for k, v in self._kept.items() if now - v.since > LIFETIME]:
                del self._kept[key]
            while len(self._kept) >= MAX_KEPT:
                del self._kept[next(iter(self._kept))]
            self._kept[view_id] = Kept(url, user, channel, since)

    def take(self, view_id: str, user: str) -> Kept | None:
        """The URL kept for ``view_id`` if ``user`` opened it and Slack still honours it;
        forgotten either way (one confirmation per modal)."""
        with self._lock:
            kept = self._kept.pop(view_id, None)
        if kept is None or kept.user != user or self.clock.now() - kept.since > LIFETIME:
            return None
        return kept


def confirm(payload: dict[str, Any], kept: Kept | None, *, timeout: int = 10) -> bool:
    """Show ``payload`` where the person typed, through the kept response_url; False if it
    could not be shown (no URL kept, expired, refused: the DM queued with the ticket is
    the fallback, so nothing is lost)."""
    if kept is None:
        return False
    args = {k: v for k, v in payload.items() if k != "response_type"}
    try:
        resp = WebhookClient(kept.url, timeout=timeout).send_dict(
            {**args, "response_type": "ephemeral"}
        )
    except OSError as err:
        log.info("confirmation to %s not shown (%s); the DM will do", kept.user, err)
        return False
    if resp.status_code != 200:
        log.info("response_url for %s answered %s; the DM will do", kept.user, resp.status_code)
        return False
    return True
