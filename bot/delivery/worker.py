"""The outbox worker: delivers the rows :mod:`bot.delivery.outbox` queued to Slack.

- per channel in order (a channel's oldest pending message goes first);
- retries with exponential backoff, honouring ``Retry-After`` on 429;
- per-channel pacing at about one message per second (Slack's limit);
- cards render at delivery time, so queued updates of one card coalesce and
  the latest state wins;
- ``not_in_channel`` → join and retry; permanent errors → ``dead``;
- a DM queued ``after_card`` waits for the ticket's card and gets its
  permalink in place of ``CARD_LINK``;
- each post carries its ``dedup_key`` as message metadata, so a retry after a
  crash finds the earlier post instead of posting twice.

Leases (``lease_owner``/``lease_until``) make a message belong to one worker
at a time, also across replicas.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.core.clock import Clock, SystemClock
from bot.core.metrics import Metrics
from bot.delivery.outbox import AFTER_CARD, CARD, CARD_LINK, DM, HOME, THREAD, UPLOAD
from storage.models import OutboxMessage, Ticket
from storage.queries import rowcount

log = logging.getLogger(__name__)

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
NOT_READY_WAIT = timedelta(seconds=0.25)  # e.g. a DM that links to a card not posted yet
METADATA_EVENT = "escbot_outbox"  # message metadata that lets a retry find its own post
UNCERTAIN = "uncertain"
#: Link/media preview flags: chat.postMessage takes them; chat.update and ephemerals ignore them.
UNFURL_FLAGS = ("unfurl_links", "unfurl_media")

CardRenderer = Callable[[Session, Ticket], dict[str, Any]]
HomeRenderer = Callable[[Session, str], dict[str, Any]]  # (session, user id) -> home view


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
    lease: timedelta = timedelta(seconds=30)  # > the WebClient timeout (10 s)
    poll_interval: float = 0.5
    owner: str = field(default_factory=lambda: f"w-{uuid.uuid4().hex[:10]}")
    on_dead: Callable[[OutboxMessage], None] | None = None
    render_home: HomeRenderer | None = None
    metrics: Metrics | None = None
    senders: int = 8  # channels served at once (see run_once)

    def __post_init__(self) -> None:
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._senders = ThreadPoolExecutor(self.senders, thread_name_prefix="outbox-send")
        self._paced: float | None = None  # seconds until the soonest paced channel may post

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
                # a channel held back by the pacer goes when its turn comes, not at the next poll
                self._wake.wait(min(self.poll_interval, self._paced or self.poll_interval))
                self._wake.clear()

    # -- one round -------------------------------------------------------
    def run_once(self) -> int:
        """Deliver the head message of every channel that is due; returns how many.

        The heads (one per channel, so each channel stays in order) go out
        ``senders`` at a time: one by one, a round over 50 channels took 50 Slack
        round trips and the API's latency, not its limits, set the pace.
        """
        return sum(self._senders.map(self._send_head, self._due_heads()))

    def _send_head(self, row_id: int) -> int:
        if self._stop.is_set() or not self._claim(row_id):
            return 0
        return self._deliver(row_id)

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

    def _due_heads(self) -> list[int]:
        now = self.clock.now()
        with self.sessions() as s:
            heads = (
                select(func.min(OutboxMessage.id))
                .where(OutboxMessage.status == "pending")
                .group_by(OutboxMessage.channel)
            )
            rows = s.execute(
                select(OutboxMessage.id, OutboxMessage.channel, OutboxMessage.kind)
                .where(OutboxMessage.id.in_(heads))
                .where(
                    or_(
                        OutboxMessage.next_attempt_at.is_(None),
                        OutboxMessage.next_attempt_at <= now,
                    )
                )
                .where(or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now))
                # cards first: DMs queued after_card in the same round can then go at once
                .order_by(OutboxMessage.kind != CARD, OutboxMessage.id)
            ).all()
        due, waits = [], []
        for row_id, channel, kind in rows:
            # App Home publishes are not channel posts: Slack's per-channel limit is not theirs
            wait = 0.0 if kind == HOME else self.pacer.wait_time(channel)
            if wait:
                waits.append(wait)
            else:
                due.append(row_id)
        self._paced = min(waits, default=None)
        return due

    def _claim(self, row_id: int) -> bool:
        """Lease the row; a row whose last lease ran out (its worker died mid-call)
        is marked ``uncertain``: Slack may already have it, so look before posting."""
        now = self.clock.now()
        with self.sessions() as s, s.begin():
            previous = s.scalar(select(OutboxMessage.lease_owner).where(OutboxMessage.id == row_id))
            values: dict[str, Any] = {"lease_owner": self.owner, "lease_until": now + self.lease}
            if previous is not None:
                values["result"] = {UNCERTAIN: True}
            claimed = rowcount(
                s,
                update(OutboxMessage)
                .where(OutboxMessage.id == row_id, OutboxMessage.status == "pending")
                .where(or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now))
                .values(**values),
            )
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
            except _NotReady as err:  # waiting on an earlier message: not a failure
                row.next_attempt_at = self.clock.now() + NOT_READY_WAIT
                row.lease_owner = row.lease_until = None
                log.debug("outbox: message %s waits: %s", row.id, err)
                return 0
            if plan is None:
                self._finish(row, "superseded", {})
                return 1
            plan = replace(plan, dedup=row.dedup_key, uncertain=bool(row.result.get(UNCERTAIN)))
        try:
            result = self._call(plan)
        except SlackApiError as err:
            with self.sessions() as s, s.begin():
                self._failed(s.get_one(OutboxMessage, row_id), err)
            return 0
        except Exception as err:  # network errors, timeouts: Slack may have posted it
            with self.sessions() as s, s.begin():
                row = s.get_one(OutboxMessage, row_id)
                row.result = {UNCERTAIN: True}
                self._retry(row, f"{type(err).__name__}: {err}", None)
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
            args = {**row.payload, "channel": row.channel}
            if not args.pop(AFTER_CARD, False):
                return _Plan("dm", args)
            ticket = s.get(Ticket, row.ticket_id)
            if ticket is None:
                return None
            if not ticket.card_ts:
                raise _NotReady("card not posted yet")
            return _Plan("dm", args, card_link=(ticket.card_channel or "", ticket.card_ts))
        if row.kind == UPLOAD:
            return self._plan_upload(s, row)
        if row.kind == HOME:
            if self.render_home is None or self._newer_pending(s, row):
                return None
            user = row.payload["user"]
            return _Plan("publish", {"user_id": user, "view": self.render_home(s, user)})
        return _Plan("post", {**row.payload, "channel": row.channel})

    @staticmethod
    def _plan_upload(s: Session, row: OutboxMessage) -> _Plan | None:
        """Upload into the parent message's thread; moot if the parent will never be posted."""
        args = dict(row.payload)
        parent = s.scalar(
            select(OutboxMessage).where(OutboxMessage.dedup_key == args.pop("thread_of"))
        )
        if parent is None or parent.status in ("dead", "superseded"):
            return None
        if parent.status != "sent":
            raise _NotReady("message to thread on not posted yet")
        return _Plan("upload", {**args, "channel": row.channel, "thread_ts": parent.result["ts"]})

    @staticmethod
    def _newer_pending(s: Session, row: OutboxMessage) -> bool:
        """A later row of the same kind for the same channel (an App Home) is queued."""
        return bool(
            s.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(
                    OutboxMessage.channel == row.channel,
                    OutboxMessage.kind == row.kind,
                    OutboxMessage.status == "pending",
                    OutboxMessage.id > row.id,
                )
            )
        )

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
        if plan.method == "publish":
            resp = self.client.views_publish(**args)
            return {"view_id": resp["view"]["id"]}
        if plan.method == "upload":
            content = base64.b64decode(args.pop("content_b64"))
            resp = self.client.files_upload_v2(content=content, **args)
            return {"channel": args["channel"], "files": [f["id"] for f in resp["files"]]}
        if plan.method == "update":  # unfurl flags belong to chat.postMessage alone
            args = {k: v for k, v in args.items() if k not in UNFURL_FLAGS}
            resp = self.client.chat_update(**args)
            return {"channel": resp["channel"], "ts": resp["ts"]}
        if plan.method == "dm":
            args["channel"] = self.client.conversations_open(users=args["channel"])["channel"]["id"]
        if plan.card_link:
            channel, ts = plan.card_link
            link = self.client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"]
            args = _with_card_link(args, link)
        if plan.uncertain and (found := self._find_posted(args, plan.dedup)):
            return found
        args["metadata"] = {"event_type": METADATA_EVENT, "event_payload": {"dedup": plan.dedup}}
        for flag in UNFURL_FLAGS:  # what a payload doesn't allow is never previewed
            args.setdefault(flag, False)
        try:
            resp = self.client.chat_postMessage(**args)
        except SlackApiError as err:
            if err.response.get("error") != "not_in_channel":
                raise
            self.client.conversations_join(channel=args["channel"])
            resp = self.client.chat_postMessage(**args)
        return {"channel": resp["channel"], "ts": resp["ts"]}

    def _find_posted(self, args: dict[str, Any], dedup: str) -> dict[str, Any] | None:
        """The message an earlier, interrupted attempt posted, found by its metadata."""
        channel, thread = args["channel"], args.get("thread_ts")
        if thread:
            resp = self.client.conversations_replies(
                channel=channel, ts=thread, limit=200, include_all_metadata=True
            )
        else:
            resp = self.client.conversations_history(
                channel=channel, limit=100, include_all_metadata=True
            )
        for message in resp.get("messages") or []:
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if payload.get("dedup") == dedup:
                log.info("outbox: %s was already posted before a crash; not posting again", dedup)
                return {"channel": channel, "ts": message["ts"]}
        return None

    # -- failures --------------------------------------------------------
    def _failed(self, row: OutboxMessage, err: SlackApiError) -> None:
        error = str(err.response.get("error") or f"http {err.response.status_code}")
        if self.metrics:
            method = (err.response.api_url or "?").rsplit("/", 1)[-1]
            self.metrics.slack_api_errors.labels(method, error).inc()
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
    method: str  # post | update | dm | upload | publish
    args: dict[str, Any]
    card_of: int | None = None
    card_link: tuple[str, str] | None = None  # (channel, ts) whose permalink fills CARD_LINK
    dedup: str = ""  # stamped on posts as message metadata, to find them again
    uncertain: bool = False  # a previous attempt may have been posted: look first


def _with_card_link(args: dict[str, Any], permalink: str) -> dict[str, Any]:
    """``args`` with ``CARD_LINK`` replaced by ``permalink`` (escaped for mrkdwn and JSON)."""
    escaped = json.dumps(permalink.replace("&", "&amp;"))[1:-1]
    return dict(json.loads(json.dumps(args).replace(CARD_LINK, escaped)))


class _NotReady(Exception):
    """The message depends on one not delivered yet; try again shortly."""
