"""The outbox: every Slack write that follows a domain change goes through here.

Writers call ``enqueue_*`` inside the transaction that makes the change, so a
ticket and the messages announcing it commit together or not at all. The
``OutboxWorker`` delivers them afterwards:

- per channel in order (a channel's oldest pending message goes first);
- retries with exponential backoff, honouring ``Retry-After`` on 429;
- per-channel pacing at about one message per second (Slack's limit);
- a unique ``dedup_key`` per message, so enqueueing twice stores it once;
- cards render at delivery time, so queued updates of one card coalesce and
  the latest state wins;
- ``not_in_channel`` → join and retry; permanent errors → ``dead``.

Leases (``lease_owner``/``lease_until``) make a message belong to one worker
at a time, also across replicas.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, SystemClock
from storage.models import OutboxMessage, Ticket

log = logging.getLogger(__name__)

CARD, THREAD, MESSAGE, DM = "card", "thread", "message", "dm"
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "is_archived",
        "invalid_blocks",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "msg_too_long",
        "no_text",
        "user_not_found",
        "cannot_dm_bot",
        "message_not_found",
        "cant_update_message",
        "invalid_arguments",
    }
)
MAX_BACKOFF = timedelta(minutes=5)

CardRenderer = Callable[[Session, Ticket], dict[str, Any]]


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
    row = OutboxMessage(
        dedup_key=dedup_key[:200],
        kind=kind,
        channel=channel,
        ticket_id=None if ticket is None else ticket.id,
        payload=payload,
        created_at=now,
        next_attempt_at=None,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        log.debug("outbox: %s already queued", dedup_key)


def enqueue_card(session: Session, ticket: Ticket, now: datetime) -> None:
    """Post or update the ticket's card; the worker renders it when it delivers."""
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
) -> None:
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


class Pacer:
    """Token bucket per channel: ``rate`` messages a second with a small burst."""

    def __init__(self, rate: float = 1.0, burst: int = 2) -> None:
        self.rate, self.burst = rate, burst
        self._tokens: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def wait_time(self, channel: str) -> float:
        """Seconds until ``channel`` may take a message (0 → now; the token is taken)."""
        with self._lock:
            now = time.monotonic()
            tokens, last = self._tokens.get(channel, (float(self.burst), now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._tokens[channel] = (tokens - 1, now)
                return 0.0
            self._tokens[channel] = (tokens, now)
            return (1 - tokens) / self.rate

    def penalise(self, channel: str, seconds: float) -> None:
        """After a 429, the channel gets no tokens for ``seconds``."""
        with self._lock:
            self._tokens[channel] = (-seconds * self.rate, time.monotonic())


@dataclass
class OutboxWorker:
    """Delivers pending outbox rows with the Slack client; one per process."""

    sessions: sessionmaker[Session]
    client: WebClient
    render_card: CardRenderer
    clock: Clock = field(default_factory=SystemClock)  # wall time: retries wait real seconds
    pacer: Pacer = field(default_factory=Pacer)
    lease: timedelta = timedelta(seconds=60)
    poll_interval: float = 0.5
    owner: str = field(default_factory=lambda: f"w-{uuid.uuid4().hex[:10]}")
    on_dead: Callable[[OutboxMessage], None] | None = None

    def __post_init__(self) -> None:
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._idle = threading.Event()

    # -- running ---------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="outbox", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)

    def notify(self) -> None:
        """Something was enqueued: deliver now rather than at the next poll."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                delivered = self.run_once()
            except Exception:  # the loop must survive a database blip
                log.exception("outbox: delivery round failed")
                delivered = 0
            if not delivered:
                self._wake.wait(self.poll_interval)
                self._wake.clear()

    # -- one round -------------------------------------------------------
    def run_once(self) -> int:
        """Deliver the head message of every channel that is due; returns how many."""
        done = 0
        for row_id in self._due_heads():
            if self._stop.is_set():
                break
            if self._claim(row_id):
                done += self._deliver(row_id)
        return done

    def pending(self) -> int:
        with self.sessions() as s:
            return (
                s.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.status == "pending")
                )
                or 0
            )

    def drain(self, timeout: float = 10.0) -> bool:
        """Deliver until nothing is pending or ``timeout`` passes (tests, CLI, demo)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.run_once() and not self.pending():
                return True
            time.sleep(0.02)
        return self.pending() == 0

    def _due_heads(self) -> list[int]:
        now = self.clock.now()
        with self.sessions() as s:
            heads = (
                select(func.min(OutboxMessage.id))
                .where(OutboxMessage.status == "pending")
                .group_by(OutboxMessage.channel)
            )
            rows = s.execute(
                select(OutboxMessage.id, OutboxMessage.channel)
                .where(OutboxMessage.id.in_(heads))
                .where(
                    or_(
                        OutboxMessage.next_attempt_at.is_(None),
                        OutboxMessage.next_attempt_at <= now,
                    )
                )
                .where(or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now))
                .order_by(OutboxMessage.id)
            ).all()
        return [row_id for row_id, channel in rows if self.pacer.wait_time(channel) == 0]

    def _claim(self, row_id: int) -> bool:
        now = self.clock.now()
        with self.sessions() as s, s.begin():
            claimed = s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row_id, OutboxMessage.status == "pending")
                .where(or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now))
                .values(lease_owner=self.owner, lease_until=now + self.lease)
            ).rowcount
        return claimed == 1

    def _deliver(self, row_id: int) -> int:
        """Plan in one short transaction, call Slack outside any, then record.

        No database lock is held during the HTTP call: on SQLite that lock is
        the whole database's, and intake must never wait on Slack.
        """
        with self.sessions() as s, s.begin():
            row = s.get(OutboxMessage, row_id)
            if row is None or row.lease_owner != self.owner or row.status != "pending":
                return 0
            try:
                plan = self._plan(s, row)
            except _NotReady as err:
                self._retry(row, str(err), timedelta(seconds=1))
                return 0
            if plan is None:
                self._finish(row, "superseded", {})
                return 1
        try:
            result = self._call(plan)
        except SlackApiError as err:
            with self.sessions() as s, s.begin():
                self._failed(s.get_one(OutboxMessage, row_id), err)
            return 0
        except Exception as err:  # network errors, timeouts
            with self.sessions() as s, s.begin():
                self._retry(s.get_one(OutboxMessage, row_id), f"{type(err).__name__}: {err}", None)
            return 0
        with self.sessions() as s, s.begin():
            if plan.card_of is not None and plan.method == "post":
                s.execute(
                    update(Ticket)
                    .where(Ticket.id == plan.card_of, Ticket.card_ts.is_(None))
                    .values(card_ts=result["ts"])
                )
            self._finish(s.get_one(OutboxMessage, row_id), "sent", result)
        return 1

    def _finish(self, row: OutboxMessage, status: str, result: dict[str, Any]) -> None:
        row.status = status
        row.result = result
        row.delivered_at = self.clock.now()
        row.lease_owner = row.lease_until = None

    # -- sending ---------------------------------------------------------
    def _plan(self, s: Session, row: OutboxMessage) -> _Plan | None:
        """What to call for ``row``; None when a newer card row makes it moot."""
        if row.kind in (CARD, THREAD):
            ticket = s.get(Ticket, row.ticket_id)
            if ticket is None:
                return None
            if row.kind == THREAD:
                if not ticket.card_ts:
                    raise _NotReady("card not posted yet")
                args = {**row.payload, "channel": ticket.card_channel, "thread_ts": ticket.card_ts}
                return _Plan("post", args)
            if ticket.card_ts and self._newer_card_pending(s, row):
                return None
            args = {**self.render_card(s, ticket), "channel": ticket.card_channel}
            if ticket.card_ts:
                return _Plan("update", {**args, "ts": ticket.card_ts}, card_of=ticket.id)
            return _Plan("post", args, card_of=ticket.id)
        if row.kind == DM:
            return _Plan("dm", {**row.payload, "channel": row.channel})
        return _Plan("post", {**row.payload, "channel": row.channel})

    @staticmethod
    def _newer_card_pending(s: Session, row: OutboxMessage) -> bool:
        return bool(
            s.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(
                    OutboxMessage.ticket_id == row.ticket_id,
                    OutboxMessage.kind == CARD,
                    OutboxMessage.status == "pending",
                    OutboxMessage.id > row.id,
                )
            )
        )

    def _call(self, plan: _Plan) -> dict[str, Any]:
        args = dict(plan.args)
        if plan.method == "update":
            resp = self.client.chat_update(**args)
            return {"channel": resp["channel"], "ts": resp["ts"]}
        if plan.method == "dm":
            args["channel"] = self.client.conversations_open(users=args["channel"])["channel"]["id"]
        try:
            resp = self.client.chat_postMessage(**args)
        except SlackApiError as err:
            if err.response.get("error") != "not_in_channel":
                raise
            self.client.conversations_join(channel=args["channel"])
            resp = self.client.chat_postMessage(**args)
        return {"channel": resp["channel"], "ts": resp["ts"]}

    # -- failures --------------------------------------------------------
    def _failed(self, row: OutboxMessage, err: SlackApiError) -> None:
        error = str(err.response.get("error") or f"http {err.response.status_code}")
        if err.response.status_code == 429:
            retry_after = float(err.response.headers.get("Retry-After", 1) or 1)
            self.pacer.penalise(row.channel, retry_after)
            self._retry(row, "ratelimited", timedelta(seconds=retry_after))
        elif error in PERMANENT_ERRORS:
            row.status = "dead"
            row.last_error = error
            row.lease_owner = row.lease_until = None
            log.error("outbox: message %s to %s is dead: %s", row.id, row.channel, error)
            if self.on_dead:
                self.on_dead(row)
        else:
            self._retry(row, error, None)

    def _retry(self, row: OutboxMessage, error: str, after: timedelta | None) -> None:
        row.attempts += 1
        if after is None:
            backoff = min(MAX_BACKOFF.total_seconds(), 0.5 * 2 ** min(row.attempts, 12))
            after = timedelta(seconds=backoff * random.uniform(0.8, 1.2))
        row.next_attempt_at = self.clock.now() + after
        row.last_error = error
        row.lease_owner = row.lease_until = None
        log.warning(
            "outbox: message %s to %s failed (%s), retry in %.1fs",
            row.id,
            row.channel,
            error,
            after.total_seconds(),
        )


@dataclass(frozen=True)
class _Plan:
    method: str  # post | update | dm
    args: dict[str, Any]
    card_of: int | None = None


class _NotReady(Exception):
    """The message depends on one not delivered yet; try again shortly."""
