"""Slack's Socket Mode endpoint for the emulator: envelopes over a real WebSocket on loopback.

Why: an app in Socket Mode (``SLACK_APP_TOKEN``) receives slash commands, interactivity and
events as envelopes over a WebSocket it opened itself, and must ack each ``envelope_id``
within 3 s. This server speaks that protocol as Slack documents it, so slack_sdk's own
client (and Bolt on top of it) is what the tests exercise:

- ``apps.connections.open`` (served by ``FakeSlack``) hands out a single-use URL;
- each connection gets ``hello``; envelopes carry ``envelope_id``, ``type``
  (``slash_commands``, ``interactive``, ``events_api``) and ``accepts_response_payload``;
- the ack's ``payload`` is the answer an HTTP app would have put in its response body;
- ``disconnect`` (``refresh_requested``/``warning``) asks the app to reconnect; ``drop()``
  closes connections without warning; ``offline()`` refuses connections for a while;
- an event whose ack never came (late, lost, connection gone) is delivered again with
  ``retry_attempt``/``retry_reason``, up to 3 retries, as the Events API does; a slash
  command or interactive payload is not retried: the person sees an error ("didn't respond",
  ``dispatch_failed`` while no connection is open), as in Slack.

The WebSocket side is the ``websockets`` package (a test dependency, imported on ``start``),
so ``escbot demo`` runs without it. TLS (``wss://``) is served when an ``ssl_context`` is
given, else the URL says ``ws://``: slack_sdk's builtin client only does TLS on port 443.
"""

from __future__ import annotations

import contextlib
import json
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

if TYPE_CHECKING:
    from websockets.http11 import Request, Response
    from websockets.sync.server import Server, ServerConnection

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
class _Connection:
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


class SocketModeServer:
    """The emulator's Socket Mode endpoint (one app, up to 10 connections like Slack)."""

    max_connections = 10

    def __init__(
        self,
        app_id: str,
        host: str = "127.0.0.1",
        *,
        ssl_context: ssl.SSLContext | None = None,
        ack_timeout: float = ACK_TIMEOUT,
    ) -> None:
        self.app_id, self.host = app_id, host
        self.ssl_context = ssl_context
        self.ack_timeout = ack_timeout
        #: Problems the app caused: late or missing acks, acks for unknown envelopes.
        self.failures: list[str] = []
        self.deliveries: list[Delivery] = []
        #: Connections opened so far (hello sent), in order.
        self.connections_opened = 0
        self._cond = threading.Condition()
        self._tickets: set[str] = set()
        self._conns: dict[str, _Connection] = {}
        self._in_flight: dict[str, _InFlight] = {}
        self._pending: list[_Pending] = []
        self._offline = False
        self._lose_acks = 0
        self._server: Server | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> SocketModeServer:
        from websockets.sync.server import serve

        if self._server is None:
            self._server = serve(
                self._handle,
                self.host,
                0,
                ssl=self.ssl_context,
                process_request=self._check_request,
                compression=None,  # Slack's client sends plain frames
                ping_interval=20,
                close_timeout=1,  # slack_sdk's builtin client never answers a close frame
            )
            self.port = self._server.socket.getsockname()[1]
            self._spawn(self._server.serve_forever, "socket-mode-server")
            self._spawn(self._redeliver, "socket-mode-retries")
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        for t in self._threads:
            t.join(timeout=5)
        self._threads.clear()

    def open_url(self) -> str:
        """A new single-use connection URL, as ``apps.connections.open`` returns."""
        if self._server is None:
            raise RuntimeError("SocketModeServer is not started")
        ticket = uuid.uuid4().hex
        with self._cond:
            self._tickets.add(ticket)
        scheme = "wss" if self.ssl_context else "ws"
        return f"{scheme}://{self.host}:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"

    # ------------------------------------------------------------------ control (tests)

    @property
    def connected(self) -> int:
        """Open connections that take new envelopes."""
        with self._cond:
            return sum(1 for c in self._conns.values() if not c.retiring)

    def wait_connected(self, timeout: float = 10.0, *, opened: int = 1) -> None:
        """Block until at least ``opened`` connections were ever opened and one is usable."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not (self.connections_opened >= opened and self._usable() is not None):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no Socket Mode connection #{opened} in {timeout}s")
                self._cond.wait(remaining)

    def disconnect(self, reason: str = "refresh_requested", *, grace: float = 1.0) -> None:
        """Send Slack's ``disconnect`` message; the connections close once a new one said
        hello, or after ``grace`` seconds. New envelopes go to the new connection only."""
        with self._cond:
            conns = [c for c in self._conns.values() if not c.retiring]
            for c in conns:
                c.retiring = True
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "fake-link"}}
        for c in conns:
            with contextlib.suppress(Exception):
                c.ws.send(json.dumps(message))

        def close_later() -> None:
            deadline = time.monotonic() + grace
            with self._cond:
                while time.monotonic() < deadline and self._usable() is None:
                    self._cond.wait(deadline - time.monotonic())
            for c in conns:
                c.ws.close(1001, reason)

        self._spawn(close_later, "socket-mode-retire")

    def drop(self) -> None:
        """Close every connection at once, without a ``disconnect`` message first."""
        with self._cond:
            conns = list(self._conns.values())
            for c in conns:
                c.retiring = True
        for c in conns:
            self._spawn(lambda ws=c.ws: ws.close(1011, "connection dropped"), "socket-mode-drop")

    @contextlib.contextmanager
    def offline(self) -> Iterator[None]:
        """Drop the connections and refuse new ones inside the block (a network cut)."""
        with self._cond:
            self._offline = True
        self.drop()
        try:
            yield
        finally:
            with self._cond:
                self._offline = False
                self._cond.notify_all()

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

    # ------------------------------------------------------------------ sending

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
            if not delivery.lost and conn.id in self._conns:
                self._fail(f"{kind} envelope {envelope_id} not acked within {self.ack_timeout}s")
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
            self._fail(f"event {payload.get('event_id')} given up after {attempt} retries")
            return
        reason = "timeout" if why == 504 else "connection_failed"
        with self._cond:
            self._pending.append(_Pending(envelope_id, payload, attempt + 1, reason))
            self._cond.notify_all()

    def _redeliver(self) -> None:
        """Deliver pending events again whenever a connection is usable, oldest first."""
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

    def _fail(self, problem: str) -> None:
        with self._cond:
            self.failures.append(problem)

    # ------------------------------------------------------------------ connections

    def _usable(self) -> _Connection | None:
        """The newest connection that takes envelopes (lock held)."""
        live = [c for c in self._conns.values() if not c.retiring]
        return max(live, key=lambda c: c.opened) if live else None

    def _check_request(self, conn: ServerConnection, request: Request) -> Response | None:
        """Refuse unknown or used tickets, and everything while ``offline``."""
        ticket = (parse_qs(urlsplit(request.path).query).get("ticket") or [""])[0]
        with self._cond:
            if self._offline:
                return conn.respond(HTTPStatus.SERVICE_UNAVAILABLE, "offline\n")
            if ticket not in self._tickets:
                return conn.respond(HTTPStatus.UNAUTHORIZED, "invalid or used ticket\n")
            if len(self._conns) >= self.max_connections:
                return conn.respond(HTTPStatus.TOO_MANY_REQUESTS, "too_many_websockets\n")
            self._tickets.discard(ticket)
        return None

    def _handle(self, ws: ServerConnection) -> None:
        me = _Connection(str(uuid.uuid4()), ws, time.monotonic())
        with self._cond:
            self._conns[me.id] = me
            self.connections_opened += 1
            count = len(self._conns)
        hello = {
            "type": "hello",
            "num_connections": count,
            "debug_info": {"host": "fake-link", "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id},
        }
        try:
            ws.send(json.dumps(hello))
            with self._cond:
                self._cond.notify_all()  # hello sent: retiring connections may close
            for raw in ws:
                self._on_message(raw)
        except Exception:  # closed under us; the client reconnects
            pass
        finally:
            with self._cond:
                del self._conns[me.id]
                for flight in self._in_flight.values():
                    if flight.delivery.connection == me.id:
                        flight.done.set()  # no ack can come on a closed connection
                self._cond.notify_all()

    def _on_message(self, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
            envelope_id = message["envelope_id"]
        except (ValueError, KeyError, TypeError):
            self._fail(f"unexpected message from the app: {raw!r:.200}")
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

    def _spawn(self, target: Any, name: str) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        t.start()
        self._threads.append(t)


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
