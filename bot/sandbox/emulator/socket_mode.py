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

The server owns the connections (tickets, hello, disconnect, drop, offline); what happens to
each envelope (ack timing, retries) is ``socket_envelopes.EnvelopeSender``'s.

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
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from bot.sandbox.emulator.socket_envelopes import (
    ACK_TIMEOUT,
    Answer,
    Connection,
    Delivery,
    EnvelopeSender,
)

if TYPE_CHECKING:
    from websockets.http11 import Request, Response
    from websockets.sync.server import Server, ServerConnection

__all__ = ["ACK_TIMEOUT", "Answer", "Delivery", "SocketModeServer"]


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
        #: Connections opened so far (hello sent), in order.
        self.connections_opened = 0
        self._cond = threading.Condition()
        self._tickets: set[str] = set()
        self._conns: dict[str, Connection] = {}
        self._offline = False
        self._server: Server | None = None
        self._threads: list[threading.Thread] = []
        self.port = 0
        self._sender = EnvelopeSender(
            self._cond, self._usable, lambda cid: cid in self._conns, ack_timeout
        )
        #: Problems the app caused: late or missing acks, acks for unknown envelopes.
        self.failures: list[str] = self._sender.failures
        #: Every envelope sent, with its ack.
        self.deliveries: list[Delivery] = self._sender.deliveries

    @property
    def ack_timeout(self) -> float:
        """Seconds an envelope waits for its ack (Slack: 3)."""
        return self._sender.ack_timeout

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
            self._spawn(self._sender.redeliver, "socket-mode-retries")
        return self

    def stop(self) -> None:
        self._sender.stop()
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
        self._sender.lose_acks(times)

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Block until no event waits for a retry and no envelope waits for its ack."""
        self._sender.wait_idle(timeout)

    # ------------------------------------------------------------------ sending

    def request(self, body: str, content_type: str, *, retry_attempt: int = 0) -> Answer:
        """Deliver what an HTTP app would get as a POST body (the emulator's SlackUser)."""
        return self._sender.request(body, content_type, retry_attempt=retry_attempt)

    def send_event(self, payload: dict[str, Any], *, retry_attempt: int = 0) -> Answer:
        """Deliver an Events API callback; without a timely ack it is retried later."""
        return self._sender.send_event(payload, retry_attempt=retry_attempt)

    # ------------------------------------------------------------------ connections

    def _usable(self) -> Connection | None:
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
        me = Connection(str(uuid.uuid4()), ws, time.monotonic())
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
                self._sender.receive(raw)
        except Exception:  # closed under us; the client reconnects
            pass
        finally:
            with self._cond:
                del self._conns[me.id]
                self._sender.closed(me.id)
                self._cond.notify_all()

    def _spawn(self, target: Any, name: str) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        t.start()
        self._threads.append(t)
