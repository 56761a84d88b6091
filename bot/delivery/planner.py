"""The outbox's planner: what to call for a row, decided inside the row's transaction.

- a card renders from the ticket's current state at delivery, so queued versions of one
  card coalesce and the latest state wins (an update a newer queued one makes moot is
  superseded); its first post is ``chat.postMessage``, later ones ``chat.update``;
- a thread line waits for its ticket's card;
- a DM queued ``after_card`` waits for the ticket's card and gets its permalink in place
  of ``CARD_LINK`` (the sender fetches it);
- an upload goes into its parent message's thread once that is posted;
- a notice waits for company and goes as one DM with the person's others
  (:mod:`bot.delivery.notices`);
- an App Home renders at delivery, the latest queued one alone.

A :class:`Plan` is a value; no Slack client here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from bot.delivery.due import UNCERTAIN
from bot.delivery.notices import NoticeBatcher
from bot.delivery.outbox import (
    AFTER_CARD,
    CARD,
    DM,
    HOME,
    NOTICE,
    NOTICE_ACTION,
    NOTICE_ITEM,
    THREAD,
    UPLOAD,
)
from storage.models import OutboxMessage, Ticket

NOT_READY_WAIT = timedelta(seconds=0.25)  # e.g. a thread message whose parent isn't posted
#: A DM that links to a card not posted yet: posting the card makes it due at once
#: (:meth:`bot.delivery.due.DueRows.card_posted`), so this is only the safety net. Polled
#: every 0.25 s, the DMs of a burst whose cards queue behind Slack's one post a second took
#: two transactions each, four times a second: on PostgreSQL, 40 % of escbot's CPU.
CARD_WAIT = timedelta(seconds=30)

CardRenderer = Callable[[Session, Ticket], dict[str, Any]]
HomeRenderer = Callable[[Session, str], dict[str, Any]]  # (session, user id) -> home view


@dataclass(frozen=True)
class Plan:
    """One row's Slack call, as the sender makes it."""

    method: str  # post | update | dm | upload | publish
    args: dict[str, Any]
    card_of: int | None = None  # the ticket whose card this posts or updates
    card_link: tuple[str, str] | None = None  # (channel, ts) whose permalink fills CARD_LINK
    dedup: str = ""  # stamped on posts as message metadata, to find them again
    #: A previous attempt may have been posted: look for it among the messages since
    #: this time (the row's queueing) before posting. None: a first attempt.
    look_since: datetime | None = None
    batch: tuple[int, ...] = ()  # other notices this DM delivers
    home_digest: str = ""  # a published Home's content hash, kept once it is published


class NotReady(Exception):
    """The row waits (for an earlier message, or for others to join it); not a failure."""

    def __init__(
        self, reason: str, wait: timedelta = NOT_READY_WAIT, *, for_card: bool = False
    ) -> None:
        super().__init__(reason)
        self.wait = wait
        self.for_card = for_card  # released early when the card posts


@dataclass
class Planner:
    """Turns a claimed row into a :class:`Plan`, reading (and, for a notice list, leasing)
    inside the caller's transaction; it never calls Slack."""

    render_card: CardRenderer
    notices: NoticeBatcher
    render_home: HomeRenderer | None = None
    #: by user, the hash of the Home this process last published: an unchanged one is moot
    homes: dict[str, str] = field(default_factory=dict)

    def published(self, plan: Plan) -> None:
        """``plan`` went out: remember the Home it published."""
        if plan.home_digest:
            self.homes[plan.args["user_id"]] = plan.home_digest

    def plan(self, s: Session, row: OutboxMessage) -> Plan | None:
        """What to call for ``row``; None when it is moot (superseded, its ticket or parent
        gone). Raises :class:`NotReady` when it must wait."""
        plan = self._plan(s, row)
        if plan is None:
            return None
        since = row.created_at if row.result.get(UNCERTAIN) else None
        return replace(plan, dedup=row.dedup_key, look_since=since)

    def _plan(self, s: Session, row: OutboxMessage) -> Plan | None:
        if row.kind == CARD:
            return self._card(s, row)
        if row.kind == THREAD:
            return self._thread(s, row)
        if row.kind == NOTICE:
            return self._notice(s, row)
        if row.kind == DM:
            return self._dm(s, row, set())
        if row.kind == UPLOAD:
            return self._upload(s, row)
        if row.kind == HOME:
            return self._home(s, row)
        return Plan("post", {**row.payload, "channel": row.channel})

    def _card(self, s: Session, row: OutboxMessage) -> Plan | None:
        ticket = s.get(Ticket, row.ticket_id)
        if ticket is None:
            return None
        if ticket.card_ts and _newer_pending(s, row, OutboxMessage.ticket_id == row.ticket_id):
            return None
        args = {**self.render_card(s, ticket), "channel": ticket.card_channel}
        if ticket.card_ts:
            return Plan("update", {**args, "ts": ticket.card_ts}, card_of=ticket.id)
        return Plan("post", args, card_of=ticket.id)

    @staticmethod
    def _thread(s: Session, row: OutboxMessage) -> Plan | None:
        ticket = s.get(Ticket, row.ticket_id)
        if ticket is None:
            return None
        if not ticket.card_ts:
            raise NotReady("card not posted yet")
        args = {**row.payload, "channel": ticket.card_channel, "thread_ts": ticket.card_ts}
        return Plan("post", args)

    def _notice(self, s: Session, row: OutboxMessage) -> Plan | None:
        if self.notices.waits(row):
            raise NotReady("waiting for other notices to the same person", self.notices.window)
        if others := self.notices.gather(s, row):
            args = self.notices.listing(row, others)
            return Plan("dm", args, batch=tuple(r.id for r in others))
        return self._dm(s, row, {NOTICE_ITEM, NOTICE_ACTION})

    @staticmethod
    def _dm(s: Session, row: OutboxMessage, drop: set[str]) -> Plan | None:
        args = {k: v for k, v in row.payload.items() if k not in drop}
        args["channel"] = row.channel
        if not args.pop(AFTER_CARD, False):
            return Plan("dm", args)
        ticket = s.get(Ticket, row.ticket_id)
        if ticket is None:
            return None
        if not ticket.card_ts:
            # Look again holding the ticket's row: the card's sender records the post under
            # that lock and then releases the DMs marked as waiting, so this one is either
            # released or sees the card, never waits CARD_WAIT for a card already posted.
            s.refresh(ticket, with_for_update=True)
        if not ticket.card_ts:
            raise NotReady("card not posted yet", CARD_WAIT, for_card=True)
        return Plan("dm", args, card_link=(ticket.card_channel or "", ticket.card_ts))

    @staticmethod
    def _upload(s: Session, row: OutboxMessage) -> Plan | None:
        """Share in the channel with the row's blocks as the message; or upload into the
        parent message's thread, moot if the parent will never be posted."""
        args = dict(row.payload)
        if "thread_of" not in args:
            if "blocks" in args:  # Slack takes them as a JSON string here
                args["blocks"] = json.dumps(args["blocks"], ensure_ascii=False)
            return Plan("upload", {**args, "channel": row.channel})
        parent = s.scalar(
            select(OutboxMessage).where(OutboxMessage.dedup_key == args.pop("thread_of"))
        )
        if parent is None or parent.status in ("dead", "superseded"):
            return None
        if parent.status != "sent":
            raise NotReady("message to thread on not posted yet")
        return Plan("upload", {**args, "channel": row.channel, "thread_ts": parent.result["ts"]})

    def _home(self, s: Session, row: OutboxMessage) -> Plan | None:
        """The user's App Home as it is now; moot when a later one is queued, or when it is
        what this process last published for them (views.publish is Tier 4, and every
        change to a ticket queues the Homes it shows on)."""
        if self.render_home is None or _newer_pending(s, row, OutboxMessage.channel == row.channel):
            return None
        user = row.payload["user"]
        view = self.render_home(s, user)
        digest = hashlib.sha256(json.dumps(view, sort_keys=True).encode()).hexdigest()
        if self.homes.get(user) == digest:
            return None
        return Plan("publish", {"user_id": user, "view": view}, home_digest=digest)


def _newer_pending(s: Session, row: OutboxMessage, same: ColumnElement[bool]) -> bool:
    """A later pending row of ``row``'s kind for the ``same`` ticket or channel is queued."""
    return bool(
        s.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(
                same,
                OutboxMessage.kind == row.kind,
                OutboxMessage.status == "pending",
                OutboxMessage.id > row.id,
            )
        )
    )
