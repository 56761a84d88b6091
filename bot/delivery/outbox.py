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

Each row has a *lane* and a *priority*. Rows of one channel and lane go in
order (a ticket's card before its thread lines, a digest before its chart);
different lanes of a channel never wait for each other, so a message stuck in
backoff holds back only its own lane. Among the lanes ready to go, the urgent
ones (sev0/sev1 tickets, SLA breaches) go first. *Notices* (a ticket handed to
someone, SLA warnings, dead-letter alerts) are DMs that the worker gathers: the
notices one person gets in the same few seconds arrive as one DM listing them.
"""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import event, inspect, update
from sqlalchemy.orm import Session, object_session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from bot.config import AppConfig
from storage.models import DeskPerson, OutboxMessage, Ticket
from storage.queries import insert_new

log = logging.getLogger(__name__)

CARD, THREAD, MESSAGE, DM = "card", "thread", "message", "dm"
NOTICE = "notice"  # a DM the worker may deliver together with the person's other notices
HANDOVER = "handover"  # enqueued only: a DM to someone who left (stored as a DM)
UPLOAD = "upload"  # a file (a digest's chart) in the thread of an earlier outbox message
HOME = "home"  # a user's App Home (views.publish), rendered at delivery: the latest wins
#: Stands for the card's permalink in an ``after_card`` DM until it is known.
CARD_LINK = "https://escbot.invalid/card-permalink"
#: Set in the payload of a DM queued ``after_card``; the worker takes it out.
AFTER_CARD = "_after_card"
#: Set in a notice's payload: its line (mrkdwn) when it is delivered in a list of notices.
NOTICE_ITEM = "_item"
#: the button beside a notice's line in a list (its Ack, say), so the list keeps the action
NOTICE_ACTION = "_action"
ROUTINE, URGENT = 0, 1  # priorities: a channel's ready lanes go highest first
URGENT_SEVERITIES = frozenset({"sev0", "sev1"})
_QUEUED = "outbox_queued"  # session.info mark: this transaction queued a message


def _enqueue(
    session: Session,
    kind: str,
    *,
    channel: str,
    dedup_key: str,
    payload: dict[str, Any],
    now: datetime,
    lane: str,
    ticket: Ticket | None = None,
    priority: int | None = None,
) -> None:
    """Store one message; a second enqueue of the same ``dedup_key`` is a no-op.

    ``priority`` defaults to the ticket's (urgent for sev0/sev1), else routine. A DM to
    someone who has left the desk (``desk_people.left_at``) is dropped: they can act on nothing
    (the one note that their work was handed over goes with ``kind`` ``HANDOVER``).
    """
    if kind in (DM, NOTICE) and _left(session, channel):
        log.info("outbox: %s not sent: %s has left the desk", dedup_key, channel)
        return
    if kind == HANDOVER:
        kind = DM
    if ticket is not None and ticket.sensitive:
        payload = {**payload, "unfurl_links": False, "unfurl_media": False}
    if priority is None:
        priority = ROUTINE if ticket is None else ticket_priority(ticket)
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
        lane=lane[:200],
        priority=priority,
    )
    if not queued:
        log.debug("outbox: %s already queued", dedup_key)
        return
    session.info[_QUEUED] = True


def _left(session: Session, user_id: str) -> bool:
    person = session.get(DeskPerson, user_id)
    return person is not None and person.left_at is not None


def ticket_priority(ticket: Ticket) -> int:
    return URGENT if ticket.severity in URGENT_SEVERITIES else ROUTINE


def _ticket_lane(ticket: Ticket) -> str:
    """A ticket's card, thread lines and DMs keep their order (per channel)."""
    return f"ticket:{ticket.id}"


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

    The row's key carries the card version this transaction takes (:func:`_card_version`),
    so the update is never mistaken for one already sent, whatever the change was: no
    path has a version to remember. A change to the ticket also concerns the App Home of
    its reporter and owner (and of an owner it just lost): those are refreshed too.
    """
    people = {ticket.reporter_id, ticket.assignee_id, *_replaced_assignees(ticket)}
    session.flush()
    _enqueue(
        session,
        CARD,
        channel=ticket.card_channel or "",
        dedup_key=f"card:{ticket.id}:v{_card_version(session, ticket)}",
        payload={},
        now=now,
        lane=_ticket_lane(ticket),
        ticket=ticket,
    )
    for user in sorted(u for u in people if u):
        enqueue_home(session, user, now)


def _card_version(session: Session, ticket: Ticket) -> int:
    """The ticket's next version, taken once per transaction: the card is rendered at
    delivery, so one row shows everything the transaction changed.

    ``version + 1`` is computed by the database, under the row lock its UPDATE takes
    (SQLite: the write lock), from the row as committed, not from the copy in memory,
    which a path that read the ticket unlocked may hold stale: two transactions never
    take the same version. A rolled-back savepoint or transaction takes its version back
    with it, so the memo is only good for the (sub)transaction that took it.
    """
    current = session.get_nested_transaction() or session.get_transaction()
    held, taken = session.info.get(_CARD_VERSIONS, (None, {}))
    if held is not current:
        taken = {}
        session.info[_CARD_VERSIONS] = (current, taken)
    if ticket.id not in taken:
        bump = (
            update(Ticket)
            .where(Ticket.id == ticket.id)
            .values(version=Ticket.version + 1)
            .returning(Ticket.version)
            .execution_options(synchronize_session=False)
        )
        taken[ticket.id] = session.scalars(bump).one()
        set_committed_value(ticket, "version", taken[ticket.id])
    return taken[ticket.id]


_CARD_VERSIONS = "outbox_card_versions"  # session.info: (transaction, {ticket id: version})


def enqueue_thread(
    session: Session,
    ticket: Ticket,
    payload: dict[str, Any],
    dedup_key: str,
    now: datetime,
    *,
    priority: int | None = None,
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
        lane=_ticket_lane(ticket),
        ticket=ticket,
        priority=priority,
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
    _enqueue(
        session,
        DM,
        channel=user_id,
        dedup_key=dedup_key,
        payload=_after_card(session, payload, ticket) if after_card else payload,
        now=now,
        lane=dedup_key if ticket is None else _ticket_lane(ticket),
        ticket=ticket,
    )


def enqueue_handover_note(
    session: Session, user_id: str, payload: dict[str, Any], dedup_key: str, now: datetime
) -> None:
    """The one DM someone who left the desk still gets: their open work was handed over."""
    _enqueue(
        session, HANDOVER, channel=user_id, dedup_key=dedup_key, payload=payload, now=now,
        lane=dedup_key,
    )  # fmt: skip


def enqueue_notice(
    session: Session,
    user_id: str,
    payload: dict[str, Any],
    dedup_key: str,
    now: datetime,
    ticket: Ticket | None = None,
    *,
    after_card: bool = False,
    priority: int | None = None,
) -> None:
    """A DM telling ``user_id`` something happened, which the worker may deliver in one
    list with their other pending notices (a scheduler tick or an intake burst that
    concerns the lead is one DM, not one per ticket).

    ``payload`` is the message when it goes alone (``after_card`` as for
    :func:`enqueue_dm`); its ``NOTICE_ITEM`` (else its ``text``) is its line in a list,
    with its ``NOTICE_ACTION`` button beside it.
    """
    _enqueue(
        session,
        NOTICE,
        channel=user_id,
        dedup_key=dedup_key,
        payload=_after_card(session, payload, ticket) if after_card else payload,
        now=now,
        lane=NOTICE,
        ticket=ticket,
        priority=priority,
    )


def _after_card(session: Session, payload: dict[str, Any], ticket: Ticket | None) -> dict[str, Any]:
    """``payload`` marked to wait for ``ticket``'s card (flushed, so the row has an id)."""
    if ticket is None:
        raise ValueError("after_card needs the ticket")
    session.flush()
    return {**payload, AFTER_CARD: True}


def enqueue_message(
    session: Session, channel: str, payload: dict[str, Any], dedup_key: str, now: datetime
) -> None:
    """A message of its own (a digest): it waits for no other message of its channel."""
    _enqueue(
        session,
        MESSAGE,
        channel=channel,
        dedup_key=dedup_key,
        payload=payload,
        now=now,
        lane=dedup_key,
    )


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
        lane=HOME,
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
    dedup_key: str,
    now: datetime,
    thread_of: str | None = None,
    message: dict[str, Any] | None = None,
) -> None:
    """Upload a file (files_upload_v2) to ``channel``.

    With ``message`` (a payload with ``blocks``), the file is shared in the channel as
    one message that shows those blocks with the file under them (Slack's
    ``files.completeUploadExternal`` ``blocks``): how a digest shows its chart in the
    channel, not in a thread. With ``thread_of`` instead, it goes into the thread of
    the message queued under that key, in that message's lane, after it.
    """
    payload: dict[str, Any] = {
        "content_b64": base64.b64encode(content).decode("ascii"),
        "filename": filename,
        "title": title,
        "alt_txt": alt_txt[:1000],
    }
    if thread_of is not None:
        payload["thread_of"] = thread_of[:200]
    if message is not None:
        payload["blocks"] = message.get("blocks", [])
    _enqueue(
        session,
        UPLOAD,
        channel=channel,
        dedup_key=dedup_key,
        payload=payload,
        now=now,
        lane=thread_of or dedup_key,
    )


def alert_admins(cfg: AppConfig, row: OutboxMessage, now: datetime) -> None:
    """Tell the admins (by DM, through the outbox) that a message was given up on."""
    if row.dedup_key.startswith("dead:"):
        return  # an alert that died itself must not alert again
    session = object_session(row)
    if session is None:
        return
    where = f"<#{row.channel}>" if row.channel.startswith(("C", "G")) else f"`{row.channel}`"
    fix = (row.result or {}).get("fix") or "fix the cause"
    text = (
        f":warning: escbot gave up delivering a {row.kind} message to {where}: "
        f"`{row.last_error}`. To do: {fix}, then run `escbot outbox --retry-dead`."
    )
    item = f":warning: a {row.kind} message to {where} is dead: `{row.last_error}`. To do: {fix}"
    payload = {"text": text, NOTICE_ITEM: item}
    for admin in cfg.workspace.admins:
        enqueue_notice(session, admin, payload, f"dead:{row.id}:{admin}", now)
