"""The outbox worker: delivers the rows :mod:`bot.delivery.outbox` queued to Slack.

It runs the round; the pieces decide:

- :mod:`bot.delivery.due` — what is due (one row per channel, lanes, priorities,
  pacing), leased to this worker;
- :mod:`bot.delivery.planner` — what to call for a row, from the current state
  (with :mod:`bot.delivery.notices` gathering a person's notices into one DM);
- :mod:`bot.delivery.sender` — the Slack call, and what its answer means for the row;
- :mod:`bot.delivery.recovery` — after Slack answered 5xx or not at all, nothing is sent
  until a probe (``auth.test``, every 2 s at most) gets an answer; then the backlog goes.

Each row: claimed under a lease, planned in one short transaction, sent outside any
transaction, recorded in another.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.core.clock import Clock, SystemClock
from bot.core.metrics import Metrics
from bot.delivery.due import DueRows, Pacer
from bot.delivery.notices import NOTICE_WINDOW, NoticeBatcher
from bot.delivery.planner import CARD_WAIT, CardRenderer, HomeRenderer, NotReady, Planner
from bot.delivery.recovery import PROBE_EVERY, Recovery
from bot.delivery.sender import METADATA_EVENT, Sender
from storage.models import OutboxMessage

__all__ = ["CARD_WAIT", "METADATA_EVENT", "OutboxWorker", "Pacer"]

log = logging.getLogger(__name__)


class OutboxWorker:
    """Delivers pending outbox rows with the Slack client; one per process."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        client: WebClient,
        render_card: CardRenderer,
        clock: Clock | None = None,  # wall time by default: retries wait real seconds
        pacer: Pacer | None = None,
        lease: timedelta = timedelta(seconds=30),  # > the WebClient timeout (10 s)
        poll_interval: float = 0.5,
        owner: str | None = None,
        on_dead: Callable[[OutboxMessage], None] | None = None,
        render_home: HomeRenderer | None = None,
        metrics: Metrics | None = None,
        senders: int = 8,  # channels served at once (see run_once)
        notice_window: timedelta = NOTICE_WINDOW,
    ) -> None:
        self.sessions, self.client, self.metrics = sessions, client, metrics
        self.clock = clock or SystemClock()
        self.poll_interval = poll_interval
        owner = owner or f"w-{uuid.uuid4().hex[:10]}"
        self.due = DueRows(sessions, self.clock, pacer or Pacer(), lease, owner)
        self.planner = Planner(render_card, NoticeBatcher(self.due, notice_window), render_home)
        self.recovery = Recovery()
        self.sender = Sender(
            sessions, client, self.due, self.clock, metrics, on_dead, self.recovery
        )
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._senders = ThreadPoolExecutor(senders, thread_name_prefix="outbox-send")

    @property
    def pacer(self) -> Pacer:
        return self.due.pacer

    @pacer.setter
    def pacer(self, pacer: Pacer) -> None:
        self.due.pacer = pacer

    @property
    def on_dead(self) -> Callable[[OutboxMessage], None] | None:
        return self.sender.on_dead

    @on_dead.setter
    def on_dead(self, on_dead: Callable[[OutboxMessage], None] | None) -> None:
        self.sender.on_dead = on_dead

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
                paced = self.due.paced if self.recovery.up else PROBE_EVERY
                self._wake.wait(min(self.poll_interval, paced or self.poll_interval))
                self._wake.clear()

    # -- one round -------------------------------------------------------
    def run_once(self) -> int:
        """Deliver one due message of every channel; returns how many.

        The messages (one per channel: Slack paces channels) go out ``senders``
        at a time: one by one, a round over 50 channels took 50 Slack round
        trips and the API's latency, not its limits, set the pace.
        """
        if not self.recovery.probe(self.client.auth_test, self.sessions, self.clock.now()):
            return 0  # Slack seems down: nothing is sent until a probe gets an answer
        return sum(self._senders.map(self._send_head, self.due.heads()))

    def pending(self) -> int:
        return self.due.pending()

    def _send_head(self, row_id: int) -> int:
        if self._stop.is_set() or not self.due.claim(row_id):
            return 0
        return self._deliver(row_id)

    def _deliver(self, row_id: int) -> int:
        """Plan in one short transaction, then send (the sender records the outcome)."""
        with self.sessions() as s, s.begin():
            row = s.get(OutboxMessage, row_id)
            if row is None or not self.due.holds(row):
                return 0
            try:
                plan = self.planner.plan(s, row)
            except NotReady as err:  # waiting on an earlier message, or for company: no failure
                self.due.hold(row, err.wait, for_card=err.for_card)
                log.debug("outbox: message %s waits: %s", row.id, err)
                return 0
            if plan is None:
                self.sender.superseded(row)
                return 1
        sent = self.sender.send(row_id, plan)
        if sent:
            self.planner.published(plan)
        return sent
