"""Socket Mode envelopes: sending one over a connection, timing its ack, retrying events.

Why apart from the server: what happens to an envelope (acked in time, late, lost, never;
an event delivered again with ``retry_attempt``/``retry_reason``, up to 3 retries, while a
slash command or interactive payload is not retried) is Slack's delivery contract, and it
is the same whichever connection carries it; the server (``socket_mode.py``) owns the
connections and hands this sender the newest usable one.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

if TYPE_CHECKING:
    from websockets.sync.server import ServerConnection

ACK_TIMEOUT = 3.0  # seconds Slack waits for an envelope's ack
MAX_RETRIES = 3  # Events API deliveries after the first
EVENTS, COMMANDS, INTERACTIVE = "events_api", "slash_commands", "interactive"
#: Interactive payloads whose ack may carry a response (a modal's errors, update, push).
_ANSWERED = frozenset({"view_submission", "block_suggestion"})


@dataclass
class Answer:
    """What the person (or Slack) got for one request: ``status`` in HTTP terms.

    200: acked in time (``payload`` is the ack's payload, None if bare); 202: an event that
    will be delivered again later; 503: no connection was open (``dispatch_failed``);
    504: no ack within 3 s (the person sees "didn't respond").
    """

    status: int
    payload: dict[str, Any] | None = None
    envelope_id: str | None = None
@dataclass
class Delivery:
    """One envelope sent over a connection, and its ack."""

    envelope_id: str
    type: str
    payload: dict[str, Any]
    retry_attempt: int
    connection: str
    sent: float
    acked: float | None = None
    ack_payload: dict[str, Any] | None = None
    lost: bool = False  # the ack was dropped by ``lose_acks``
    accepts_response_payload: bool = False

    @property
    def latency(self) -> float | None:
        """Seconds from send to ack (wall time), None if never acked."""
        return None if self.acked is None else self.acked - self.sent


@dataclass
class Connection:
    """A WebSocket the app opened; a retiring one takes no new envelopes."""

    id: str
    ws: ServerConnection
    opened: float
    retiring: bool = False


@dataclass
class _Pending:
    """An event waiting for a (re)delivery."""

    envelope_id: str
    payload: dict[str, Any]
    attempt: int
    reason: str


@dataclass
class _InFlight:
    delivery: Delivery
    done: threading.Event = field(default_factory=threading.Event)



class EnvelopeSender:
    """Envelopes to the app over the newest usable connection; acks matched; events retried.

    It shares the server's condition (``cond``), since which connection is usable changes
    under it; ``usable`` is called with it held, ``is_open`` tells a closed connection apart.
    """

    def __init__(
        self,
        cond: threading.Condition,
        usable: Callable[[], Connection | None],
        is_open: Callable[[str], bool],
        ack_timeout: float,
    ) -> None:
        self._cond = cond
        self._usable = usable
        self._is_open = is_open
        self.ack_timeout = ack_timeout
        #: Problems the app caused: late or missing acks, acks for unknown envelopes.
        self.failures: list[str] = []
        self.deliveries: list[Delivery] = []
        self._in_flight: dict[str, _InFlight] = {}
        self._pending: list[_Pending] = []
        self._lose_acks = 0
        self._stopping = False

    def request(self, body: str, content_type: str, *, retry_attempt: int = 0) -> Answer:
        """Deliver what an HTTP app would get as a POST body (the emulator's SlackUser)."""
        kind, payload = envelope_for(body, content_type)
        if kind == EVENTS:
            return self.send_event(payload, retry_attempt=retry_attempt)
        accepts = kind == COMMANDS or payload.get("type") in _ANSWERED
        return self._deliver(kind, payload, accepts=accepts)

    def send_event(self, payload: dict[str, Any], *, retry_attempt: int = 0) -> Answer:
        """Deliver an Events API callback; without a timely ack it is retried later."""
        envelope_id = str(uuid.uuid4())
        reason = "timeout" if retry_attempt else ""
        answer = self._deliver(
            EVENTS, payload, envelope_id=envelope_id, attempt=retry_attempt, reason=reason
        )
        if answer.status != 200:
            self._retry_later(envelope_id, payload, retry_attempt, answer.status)
            return Answer(202, envelope_id=envelope_id)
        return answer

    def lose_acks(self, times: int = 1) -> None:
        """Ignore the next ``times`` acks, as if lost on the way: events are delivered again."""
        with self._cond:
            self._lose_acks += times

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Block until no event waits for a retry and no envelope waits for its ack."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{len(self._pending)} events still pending")
                self._cond.wait(remaining)

    def receive(self, raw: str | bytes) -> None:
        """A message from the app: the ack of an envelope (timed, matched, maybe lost)."""
        try:
            message = json.loads(raw)
            envelope_id = message["envelope_id"]
        except (ValueError, KeyError, TypeError):
            self.fail(f"unexpected message from the app: {raw!r:.200}")
            return
        now = time.monotonic()
        with self._cond:
            flight = self._in_flight.get(envelope_id)
            known = next((d for d in self.deliveries if d.envelope_id == envelope_id), None)
            if known is None:
                self.failures.append(f"ack for unknown envelope {envelope_id}")
                return
            if known.acked is not None:
                self.failures.append(f"envelope {envelope_id} acked twice")
                return
            known.acked = now
            known.ack_payload = message.get("payload")
            if self._lose_acks > 0:
                self._lose_acks -= 1
                known.lost = True
            late = now - known.sent
            if flight is None and not known.lost:
                self.failures.append(
                    f"{known.type} envelope {envelope_id} acked late ({late:.2f}s)"
                )
            if flight is not None:
                flight.done.set()

    def closed(self, connection_id: str) -> None:
        """A connection closed: no ack can come for what it carried."""
        with self._cond:
            for flight in self._in_flight.values():
                if flight.delivery.connection == connection_id:
                    flight.done.set()

    def redeliver(self) -> None:
        """Deliver pending events again whenever a connection is usable, oldest first (a
        thread's loop, until ``stop``)."""
        while True:
            with self._cond:
                while not self._stopping and not (self._pending and self._usable()):
                    self._cond.wait()
                if self._stopping:
                    return
                item = self._pending.pop(0)
            answer = self._deliver(EVENTS, item.payload, attempt=item.attempt, reason=item.reason)
            if answer.status != 200:
                self._retry_later(item.envelope_id, item.payload, item.attempt, answer.status)

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def fail(self, problem: str) -> None:
        with self._cond:
            self.failures.append(problem)

    def _deliver(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        accepts: bool = False,
        envelope_id: str | None = None,
        attempt: int = 0,
        reason: str = "",
    ) -> Answer:
        envelope_id = envelope_id or str(uuid.uuid4())
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": accepts,
        }
        if kind == EVENTS:
            envelope |= {"retry_attempt": attempt, "retry_reason": reason}
        with self._cond:
            conn = self._usable()
            if conn is None:
                return Answer(503, envelope_id=envelope_id)
            delivery = Delivery(envelope_id, kind, payload, attempt, conn.id, time.monotonic())
            delivery.accepts_response_payload = accepts
            flight = self._in_flight[envelope_id] = _InFlight(delivery)
            self.deliveries.append(delivery)
        try:
            conn.ws.send(json.dumps(envelope))
        except Exception:  # the connection went away under us: as if never acked
            self._settle(envelope_id)
            return Answer(503, envelope_id=envelope_id)
        flight.done.wait(self.ack_timeout)
        self._settle(envelope_id)
        if delivery.acked is None or delivery.lost:
            if not delivery.lost and self._is_open(conn.id):
                self.fail(f"{kind} envelope {envelope_id} not acked within {self.ack_timeout}s")
            return Answer(504, envelope_id=envelope_id)
        return Answer(200, delivery.ack_payload, envelope_id)

    def _settle(self, envelope_id: str) -> None:
        with self._cond:
            self._in_flight.pop(envelope_id, None)
            self._cond.notify_all()

    def _retry_later(
        self, envelope_id: str, payload: dict[str, Any], attempt: int, why: int
    ) -> None:
        if attempt >= MAX_RETRIES:
            self.fail(f"event {payload.get('event_id')} given up after {attempt} retries")
            return
        reason = "timeout" if why == 504 else "connection_failed"
        with self._cond:
            self._pending.append(_Pending(envelope_id, payload, attempt + 1, reason))
            self._cond.notify_all()


def envelope_for(body: str, content_type: str) -> tuple[str, dict[str, Any]]:
    """The envelope type and payload Slack sends over the socket for an HTTP request body."""
    if content_type.startswith("application/json"):
        data = json.loads(body)
        if data.get("type") != "event_callback":
            raise ValueError(f"{data.get('type')!r} is not sent in Socket Mode")
        return EVENTS, data
    form = dict(parse_qsl(body, keep_blank_values=True))
    if "payload" in form:
        return INTERACTIVE, json.loads(form["payload"])
    if "command" in form:
        return COMMANDS, form
    raise ValueError("neither a slash command, an interactive payload nor an event")
