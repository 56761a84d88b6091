"""The outbox worker: delivers the rows :mod:`bot.delivery.outbox` queued to Slack.

- one message per channel at a time, per-channel pacing at about one message
  per second (Slack's limit); a 429 holds the whole channel for ``Retry-After``;
- in order within a lane (a ticket's card, then its thread lines; a digest,
  then its chart), urgent lanes first, and a lane waiting out a backoff never
  holds back the channel's other lanes (no head-of-line blocking);
- retries with exponential backoff;
- cards render at delivery time, so queued updates of one card coalesce and
  the latest state wins;
- ``not_in_channel`` → ``conversations.join`` once and retry (posts, uploads,
  history); errors a retry can't cure (``missing_scope``, ``channel_not_found``,
  ``is_archived``, a join that fails, …) → ``dead`` at once, with one log line
  and a metric that name the fix;
- a DM queued ``after_card`` waits for the ticket's card and gets its
  permalink in place of ``CARD_LINK``;
- a person's pending notices go as one DM listing them, once the first has
  waited ``notice_window`` for others to join it;
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
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.core.clock import Clock, SystemClock
from bot.core.metrics import Metrics
from bot.core.render import Renderer
from bot.delivery.outbox import (
    AFTER_CARD,
    CARD,
    CARD_LINK,
    DM,
    HOME,
    NOTICE,
    NOTICE_ACTION,
    NOTICE_ITEM,
    THREAD,
    UPLOAD,
)
from storage.models import OutboxMessage, Ticket
from storage.queries import rowcount

log = logging.getLogger(__name__)

#: Slack refused the message itself: retrying the same message can't help.
MALFORMED = frozenset(
    {
        "invalid_blocks",
        "msg_too_long",
        "no_text",
        "message_not_found",
        "cant_update_message",
        "invalid_arguments",
    }
)
RATELIMITED = "ratelimited"
MAX_BACKOFF = timedelta(minutes=5)
NOT_READY_WAIT = timedelta(seconds=0.25)  # e.g. a thread message whose parent isn't posted
#: A DM that links to a card not posted yet: posting the card makes it due at once
#: (:meth:`OutboxWorker._card_posted`), so this is only the safety net. Polled every 0.25 s,
#: the DMs of a burst whose cards queue behind Slack's one post a second took two
#: transactions each, four times a second: on PostgreSQL, 40 % of escbot's CPU.
CARD_WAIT = timedelta(seconds=30)
NOTICE_WINDOW = timedelta(seconds=2)  # a first notice waits this long for others to join it
NOTICES_LISTED = 15  # notices named in one DM; the rest are counted
METADATA_EVENT = "escbot_outbox"  # message metadata that lets a retry find its own post
UNCERTAIN = "uncertain"
WAITS_FOR_CARD = "waits_for_card"  # in a pending row's result: released when its card posts
_TEMPLATES = Renderer(ZoneInfo("UTC"))  # the notice list shows no times
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
    notice_window: timedelta = NOTICE_WINDOW

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
        """Deliver one due message of every channel; returns how many.

        The messages (one per channel: Slack paces channels) go out ``senders``
        at a time: one by one, a round over 50 channels took 50 Slack round
        trips and the API's latency, not its limits, set the pace.
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
        """The message each channel sends next: the first of each lane, the most urgent
        lane that is due, oldest first. A lane in backoff waits alone; a channel with
        a rate-limited message waits as a whole (Slack limits the channel, and the
        message keeps its place).

        The choice is made in SQL, one row per channel: a burst leaves hundreds of lanes
        in one channel (a card each, paced at one post a second) and hundreds more
        waiting (for a card, a notice window, a backoff), which Python looked at every
        round: on PostgreSQL a tenth of escbot's CPU during intake."""
        now = self.clock.now()
        lane = (OutboxMessage.channel, OutboxMessage.lane)
        lanes = (
            select(
                OutboxMessage.id,
                OutboxMessage.channel,
                OutboxMessage.kind,
                OutboxMessage.next_attempt_at,
                OutboxMessage.lease_until,
                OutboxMessage.last_error,
                func.row_number().over(partition_by=lane, order_by=OutboxMessage.id).label("n"),
                # a lane is as urgent as its most urgent message (e.g. a ticket raised to sev0)
                func.max(OutboxMessage.priority).over(partition_by=lane).label("priority"),
            )
            .where(OutboxMessage.status == "pending")
            .subquery()
        )
        leased = and_(lanes.c.lease_until.is_not(None), lanes.c.lease_until >= now)
        waiting = and_(lanes.c.next_attempt_at.is_not(None), lanes.c.next_attempt_at > now)
        ready = case((or_(leased, waiting), 0), else_=1)
        limited = case((and_(waiting, lanes.c.last_error == RATELIMITED), 1), else_=0)
        channel = lanes.c.channel
        heads = (
            select(
                lanes.c.id,
                channel,
                lanes.c.kind,
                lanes.c.priority,
                ready.label("ready"),
                func.row_number()
                .over(
                    partition_by=channel,
                    order_by=(ready.desc(), lanes.c.priority.desc(), lanes.c.id),
                )
                .label("m"),
                func.max(limited).over(partition_by=channel).label("limited"),
            )
            .where(lanes.c.n == 1)
            .subquery()
        )
        with self.sessions() as s:
            best = s.execute(
                select(heads.c.id, heads.c.channel, heads.c.kind, heads.c.priority).where(
                    heads.c.m == 1, heads.c.ready == 1, heads.c.limited == 0
                )
            ).all()
        # cards first: DMs queued after_card in the same round can then go at once
        chosen = sorted((b.kind != CARD, -b.priority, b.id, b.channel, b.kind) for b in best)
        due, waits = [], []
        for _not_card, _urgency, row_id, channel, kind in chosen:
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
            except _NotReady as err:  # waiting on an earlier message, or for company: no failure
                row.next_attempt_at = self.clock.now() + err.wait
                row.lease_owner = row.lease_until = None
                if err.for_card:
                    row.result = {**row.result, WAITS_FOR_CARD: True}
                log.debug("outbox: message %s waits: %s", row.id, err)
                return 0
            if plan is None:
                self._finish(row, "superseded", {})
                return 1
            plan = replace(plan, dedup=row.dedup_key, uncertain=bool(row.result.get(UNCERTAIN)))
        try:
            result = self._call(plan)
        except _Dead as err:
            with self.sessions() as s, s.begin():
                self._dead(s.get_one(OutboxMessage, row_id), err.error, err.fix)
                self._release(s, plan.batch)
            return 0
        except SlackApiError as err:
            with self.sessions() as s, s.begin():
                self._failed(s.get_one(OutboxMessage, row_id), err)
                self._release(s, plan.batch)
            return 0
        except Exception as err:  # network errors, timeouts: Slack may have posted it
            with self.sessions() as s, s.begin():
                row = s.get_one(OutboxMessage, row_id)
                row.result = {UNCERTAIN: True}
                self._retry(row, f"{type(err).__name__}: {err}", None)
                self._release(s, plan.batch)
            return 0
        with self.sessions() as s, s.begin():
            if plan.card_of is not None and plan.method == "post":
                s.execute(
                    update(Ticket)
                    .where(Ticket.id == plan.card_of, Ticket.card_ts.is_(None))
                    .values(card_ts=result["ts"])
                )
                self._card_posted(s, plan.card_of)
            self._finish(s.get_one(OutboxMessage, row_id), "sent", result)
            for other in plan.batch:  # notices delivered in the same DM
                self._finish(s.get_one(OutboxMessage, other), "sent", {**result, "with": row_id})
        return 1

    def _card_posted(self, s: Session, ticket_id: int) -> None:
        """The DMs and notices waiting for this card (:data:`CARD_WAIT`) are due now."""
        now = self.clock.now()
        for row in s.scalars(
            select(OutboxMessage).where(
                OutboxMessage.ticket_id == ticket_id,
                OutboxMessage.status == "pending",
                OutboxMessage.kind.in_((DM, NOTICE)),
            )
        ):
            if row.result.get(WAITS_FOR_CARD):
                row.result = {k: v for k, v in row.result.items() if k != WAITS_FOR_CARD}
                row.next_attempt_at = now

    def _finish(self, row: OutboxMessage, status: str, result: dict[str, Any]) -> None:
        row.status = status
        row.result = result
        row.delivered_at = self.clock.now()
        row.lease_owner = row.lease_until = None

    @staticmethod
    def _release(s: Session, row_ids: tuple[int, ...]) -> None:
        """Notices that were to ride along with a failed one: free for the next attempt."""
        if row_ids:
            s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(row_ids))
                .values(lease_owner=None, lease_until=None)
            )

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
        if row.kind == NOTICE:
            if self.notice_window and row.next_attempt_at is None:
                raise _NotReady("waiting for other notices to the same person", self.notice_window)
            if batch := self._gather_notices(s, row):
                return self._notice_list(row, batch)
            return self._plan_dm(s, row, {NOTICE_ITEM, NOTICE_ACTION})
        if row.kind == DM:
            return self._plan_dm(s, row, set())
        if row.kind == UPLOAD:
            return self._plan_upload(s, row)
        if row.kind == HOME:
            if self.render_home is None or self._newer_pending(s, row):
                return None
            user = row.payload["user"]
            return _Plan("publish", {"user_id": user, "view": self.render_home(s, user)})
        return _Plan("post", {**row.payload, "channel": row.channel})

    @staticmethod
    def _plan_dm(s: Session, row: OutboxMessage, drop: set[str]) -> _Plan | None:
        args = {k: v for k, v in row.payload.items() if k not in drop}
        args["channel"] = row.channel
        if not args.pop(AFTER_CARD, False):
            return _Plan("dm", args)
        ticket = s.get(Ticket, row.ticket_id)
        if ticket is None:
            return None
        if not ticket.card_ts:
            raise _NotReady("card not posted yet", CARD_WAIT, for_card=True)
        return _Plan("dm", args, card_link=(ticket.card_channel or "", ticket.card_ts))

    def _gather_notices(self, s: Session, row: OutboxMessage) -> list[OutboxMessage]:
        """The person's other pending notices, leased to go in ``row``'s DM (none: alone)."""
        now = self.clock.now()
        mine = (
            OutboxMessage.channel == row.channel,
            OutboxMessage.kind == NOTICE,
            OutboxMessage.status == "pending",
            OutboxMessage.id != row.id,
        )
        s.execute(
            update(OutboxMessage)
            .where(*mine)
            .where(or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now))
            .values(lease_owner=self.owner, lease_until=now + self.lease)
        )
        return list(
            s.scalars(
                select(OutboxMessage)
                .where(*mine, OutboxMessage.lease_owner == self.owner)
                .order_by(OutboxMessage.priority.desc(), OutboxMessage.id)
            )
        )

    @staticmethod
    def _notice_list(row: OutboxMessage, others: list[OutboxMessage]) -> _Plan:
        """One DM listing ``row`` and ``others``, the most urgent first, no card to wait for;
        each line keeps its notice's button (Ack, Decline), so the list loses no action."""
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
        args = {**payload, "channel": row.channel, "unfurl_links": False, "unfurl_media": False}
        return _Plan("dm", args, batch=tuple(r.id for r in others))

    @staticmethod
    def _plan_upload(s: Session, row: OutboxMessage) -> _Plan | None:
        """Share in the channel with the row's blocks as the message; or upload into the
        parent message's thread, moot if the parent will never be posted."""
        args = dict(row.payload)
        if "thread_of" not in args:
            if "blocks" in args:  # Slack takes them as a JSON string here
                args["blocks"] = json.dumps(args["blocks"], ensure_ascii=False)
            return _Plan("upload", {**args, "channel": row.channel})
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

            def upload() -> dict[str, Any]:
                if plan.uncertain and (found := self._find_shared(args)):
                    return found
                resp = self.client.files_upload_v2(content=content, **args)
                return {"channel": args["channel"], "files": [f["id"] for f in resp["files"]]}

            return self._as_member(args["channel"], upload)
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

        def post() -> dict[str, Any]:
            if plan.uncertain and (found := self._find_posted(args, plan.dedup)):
                return found
            for flag in UNFURL_FLAGS:  # what a payload doesn't allow is never previewed
                args.setdefault(flag, False)
            metadata = {"event_type": METADATA_EVENT, "event_payload": {"dedup": plan.dedup}}
            resp = self.client.chat_postMessage(**args, metadata=metadata)
            return {"channel": resp["channel"], "ts": resp["ts"]}

        return self._as_member(args["channel"], post)

    def _as_member(self, channel: str, send: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """``send``; on ``not_in_channel``, join the channel once and send again.

        A channel the bot can't join (private: ``method_not_supported_for_channel_type``)
        needs a person to invite it, which no retry replaces: the message is dead.
        """
        try:
            return send()
        except SlackApiError as err:
            if err.response.get("error") != "not_in_channel":
                raise
        try:
            self.client.conversations_join(channel=channel)
        except SlackApiError as err:
            joined = err.response.get("error") or f"http {err.response.status_code}"
            if err.response.status_code == 429 or joined in ("internal_error", "fatal_error"):
                raise  # Slack's trouble, not the channel's: retry later
            raise _Dead(f"not_in_channel (join: {joined})", _invite(channel)) from err
        log.info("outbox: joined %s to post in it", channel)
        return send()

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

    def _find_shared(self, args: dict[str, Any]) -> dict[str, Any] | None:
        """The file an interrupted upload already shared, found by its file name (a digest
        chart's names its digest and period); a share message has no metadata to carry."""
        channel, thread = args["channel"], args.get("thread_ts")
        if thread:
            resp = self.client.conversations_replies(channel=channel, ts=thread, limit=200)
        else:
            resp = self.client.conversations_history(channel=channel, limit=100)
        for message in resp.get("messages") or []:
            files = [f for f in message.get("files") or [] if f.get("name") == args["filename"]]
            if files:
                log.info("outbox: %s was already shared; not uploading again", args["filename"])
                return {"channel": channel, "ts": message["ts"], "files": [f["id"] for f in files]}
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
            self._retry(row, RATELIMITED, timedelta(seconds=retry_after))
        elif (fix := fix_for(error, err.response.data, row.channel)) is not None:
            self._dead(row, error, fix)
        else:
            self._retry(row, error, None)

    def _dead(self, row: OutboxMessage, error: str, fix: str) -> None:
        """Give up on ``row`` at once: one log line and one metric, both naming the fix."""
        row.status = "dead"
        row.last_error = error
        row.result = {"fix": fix}
        row.lease_owner = row.lease_until = None
        log.error(
            "outbox: message %s (%s) to %s is dead (%s): %s",
            row.id,
            row.kind,
            row.channel,
            error,
            fix,
        )
        if self.metrics:
            self.metrics.outbox_dead_letters.labels(error.split(" ", 1)[0], fix).inc()
        if self.on_dead:
            self.on_dead(row)

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


def fix_for(error: str, response: Any, channel: str) -> str | None:
    """What a person must do before ``error`` can go away; None if a retry may cure it."""
    where = _where(channel)
    if error == "missing_scope":
        needed = response.get("needed") if isinstance(response, dict) else None
        return f"add scope {needed or '(see Slack’s answer)'} to the app and reinstall it"
    if error == "not_in_channel":  # only when even the join was refused
        return _invite(channel)
    fixes = {
        "channel_not_found": f"check that {where} exists; if it is private, invite @escbot to it",
        "is_archived": f"unarchive {where} or point app.yaml at a live channel",
        "invalid_auth": "check SLACK_BOT_TOKEN (reinstall the app if its token was revoked)",
        "not_authed": "set SLACK_BOT_TOKEN",
        "account_inactive": "reinstall the app: its token belongs to a deactivated account",
        "token_revoked": "reinstall the app: its token was revoked",
        "user_not_found": f"check the user id {channel} in app.yaml",
        "cannot_dm_bot": f"{channel} is a bot: name a person in app.yaml",
    }
    if error in fixes:
        return fixes[error]
    if error in MALFORMED:
        return "a message escbot built is refused by Slack: report this as a bug"
    return None


def _where(channel: str) -> str:
    return f"<#{channel}>" if channel.startswith(("C", "G")) else f"<@{channel}>"


def _invite(channel: str) -> str:
    return f"invite @escbot to {_where(channel)}"


@dataclass(frozen=True)
class _Plan:
    method: str  # post | update | dm | upload | publish
    args: dict[str, Any]
    card_of: int | None = None
    card_link: tuple[str, str] | None = None  # (channel, ts) whose permalink fills CARD_LINK
    dedup: str = ""  # stamped on posts as message metadata, to find them again
    uncertain: bool = False  # a previous attempt may have been posted: look first
    batch: tuple[int, ...] = ()  # other notices this DM delivers


def _with_card_link(args: dict[str, Any], permalink: str) -> dict[str, Any]:
    """``args`` with ``CARD_LINK`` replaced by ``permalink`` (escaped for mrkdwn and JSON)."""
    escaped = json.dumps(permalink.replace("&", "&amp;"))[1:-1]
    return dict(json.loads(json.dumps(args).replace(CARD_LINK, escaped)))


class _NotReady(Exception):
    """The message waits (for an earlier message, or for others to join it); not a failure."""

    def __init__(
        self, reason: str, wait: timedelta = NOT_READY_WAIT, *, for_card: bool = False
    ) -> None:
        super().__init__(reason)
        self.wait = wait
        self.for_card = for_card  # released early when the card posts


class _Dead(Exception):
    """A failure no retry cures; ``fix`` says what a person must do."""

    def __init__(self, error: str, fix: str) -> None:
        super().__init__(error)
        self.error, self.fix = error, fix
