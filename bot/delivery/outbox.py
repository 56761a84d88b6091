"""The outbox: every Slack write that follows a domain change is queued here.

Writers call ``enqueue_*`` inside the transaction that makes the change, so a
ticket and the messages announcing it commit together or not at all; a unique
``dedup_key`` per message stores it once however often it is enqueued. The
worker (:mod:`bot.delivery.worker`) delivers the rows afterwards. This module
only writes rows and never talks to Slack, so any domain module may queue a
message without depending on the Slack client.

Messages about a sensitive ticket never unfurl links or media. A DM queued
``after_card`` waits for the ticket's card and may carry its permalink
(``CARD_LINK`` in the payload is replaced at delivery).
"""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, object_session, sessionmaker

from bot.config import AppConfig
from storage.models import OutboxMessage, Ticket
from storage.queries import insert_new

log = logging.getLogger(__name__)

CARD, THREAD, MESSAGE, DM = "card", "thread", "message", "dm"
UPLOAD = "upload"  # a file (a digest's chart) in the thread of an earlier outbox message
HOME = "home"  # a user's App Home (views.publish), rendered at delivery: the latest wins
#: Stands for the card's permalink in an ``after_card`` DM until it is known.
CARD_LINK = "https://escbot.invalid/card-permalink"
#: Set in the payload of a DM queued ``after_card``; the worker takes it out.
AFTER_CARD = "_after_card"
_QUEUED = "outbox_queued"  # session.info mark: this transaction queued a message


def _enqueue(
    session: Session,
    kind: str,
    *,
    channel: str,
    dedup_key: str,
    payload: dict[str, Any],
    now: datetime,
    ticket: Ticket | None = None,
) -> None:
    """Store one message; a second enqueue of the same ``dedup_key`` is a no-op."""
    if ticket is not None and ticket.sensitive:
        payload = {**payload, "unfurl_links": False, "unfurl_media": False}
    queued = insert_new(
        session,
        OutboxMessage.__table__,
        dedup_key=dedup_key[:200],
        kind=kind,
        channel=channel,
        ticket_id=None if ticket is None else ticket.id,
        payload=payload,
        created_at=now,
        next_attempt_at=None,
    )
    if not queued:
        log.debug("outbox: %s already queued", dedup_key)
        return
    session.info[_QUEUED] = True


def wake_after_commit(sessions: sessionmaker[Session], wake: Callable[[], None]) -> None:
    """Call ``wake`` after every commit of ``sessions`` that queued a message.

    The one way the worker hears of new rows: no caller has to remember to
    notify it, and a rolled-back change wakes nobody.
    """

    def committed(session: Session) -> None:
        if session.info.pop(_QUEUED, False):
            wake()

    def rolled_back(session: Session, _previous: object) -> None:
        if not session.in_transaction():  # the whole change is gone, not just a savepoint
            session.info.pop(_QUEUED, None)

    event.listen(sessions, "after_commit", committed)
    event.listen(sessions, "after_soft_rollback", rolled_back)


def enqueue_card(session: Session, ticket: Ticket, now: datetime) -> None:
    """Post or update the ticket's card; the worker renders it when it delivers.

    A change to the ticket also concerns the App Home of its reporter and owner
    (and of an owner it just lost): those are refreshed too.
    """
    people = {ticket.reporter_id, ticket.assignee_id, *_replaced_assignees(ticket)}
    session.flush()
    _enqueue(
        session,
        CARD,
        channel=ticket.card_channel or "",
        dedup_key=f"card:{ticket.id}:v{ticket.version}",
        payload={},
        now=now,
        ticket=ticket,
    )
    for user in sorted(u for u in people if u):
        enqueue_home(session, user, now)


def enqueue_thread(
    session: Session, ticket: Ticket, payload: dict[str, Any], dedup_key: str, now: datetime
) -> None:
    """A line in the ticket's thread (posted once the card exists)."""
    session.flush()
    _enqueue(
        session,
        THREAD,
        channel=ticket.card_channel or "",
        dedup_key=dedup_key,
        payload=payload,
        now=now,
        ticket=ticket,
    )


def enqueue_dm(
    session: Session,
    user_id: str,
    payload: dict[str, Any],
    dedup_key: str,
    now: datetime,
    ticket: Ticket | None = None,
    *,
    after_card: bool = False,
) -> None:
    """A direct message; ``after_card`` holds it until the ticket's card is posted and
    replaces ``CARD_LINK`` in it with the card's permalink (from chat.getPermalink)."""
    if after_card:
        if ticket is None:
            raise ValueError("after_card needs the ticket")
        session.flush()
        payload = {**payload, AFTER_CARD: True}
    _enqueue(
        session,
        DM,
        channel=user_id,
        dedup_key=dedup_key,
        payload=payload,
        now=now,
        ticket=ticket,
    )


def enqueue_message(
    session: Session, channel: str, payload: dict[str, Any], dedup_key: str, now: datetime
) -> None:
    _enqueue(session, MESSAGE, channel=channel, dedup_key=dedup_key, payload=payload, now=now)


def enqueue_home(session: Session, user_id: str, now: datetime) -> None:
    """Re-publish ``user_id``'s App Home after a change that concerns them.

    The view is rendered at delivery and an older pending refresh of the same
    home is superseded by a newer one, so refreshes coalesce like card updates;
    within one transaction a user is queued once.
    """
    txn = session.get_transaction()
    queued = session.info.get("_homes")
    if queued is None or queued[0] is not txn:
        queued = session.info["_homes"] = (txn, set[str]())
    if user_id in queued[1]:
        return
    queued[1].add(user_id)
    _enqueue(
        session,
        HOME,
        channel=f"home:{user_id}"[:32],
        dedup_key=f"home:{user_id}:{uuid.uuid4().hex}",
        payload={"user": user_id},
        now=now,
    )


def _replaced_assignees(ticket: Ticket) -> set[str]:
    """Owners the ticket lost since its card was last queued: their queue changed too."""
    return inspect(ticket).info.pop(_REPLACED, set())


_REPLACED = "outbox_replaced_assignees"


@event.listens_for(Ticket.assignee_id, "set", active_history=True)
def _remember_replaced_assignee(ticket: Ticket, new: Any, old: Any, _initiator: Any) -> None:
    """Note the owner a ticket loses, on the object itself: unlike attribute history,
    it survives the flushes (SLA bookkeeping) between the change and ``enqueue_card``."""
    if isinstance(old, str) and old and old != new:
        inspect(ticket).info.setdefault(_REPLACED, set()).add(old)


def enqueue_upload(
    session: Session,
    channel: str,
    *,
    content: bytes,
    filename: str,
    title: str,
    alt_txt: str,
    thread_of: str,
    dedup_key: str,
    now: datetime,
) -> None:
    """Upload a file (files_upload_v2) into the thread of the message queued as ``thread_of``.

    Both go to ``channel``, whose rows are delivered in order, so the message is
    posted first and its ``ts`` is known when the upload's turn comes.
    """
    payload = {
        "content_b64": base64.b64encode(content).decode("ascii"),
        "filename": filename,
        "title": title,
        "alt_txt": alt_txt[:1000],
        "thread_of": thread_of[:200],
    }
    _enqueue(session, UPLOAD, channel=channel, dedup_key=dedup_key, payload=payload, now=now)


def alert_admins(cfg: AppConfig, row: OutboxMessage, now: datetime) -> None:
    """Tell the admins (by DM, through the outbox) that a message was given up on."""
    if row.dedup_key.startswith("dead:"):
        return  # an alert that died itself must not alert again
    session = object_session(row)
    if session is None:
        return
    where = f"<#{row.channel}>" if row.channel.startswith(("C", "G")) else f"`{row.channel}`"
    text = (
        f":warning: escbot gave up delivering a {row.kind} message to {where}: "
        f"`{row.last_error}`. Fix the cause, then run `escbot outbox --retry-dead`."
    )
    for admin in cfg.workspace.admins:
        enqueue_dm(session, admin, {"text": text}, f"dead:{row.id}:{admin}", now)
