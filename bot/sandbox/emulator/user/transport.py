"""How a person's requests reach the app: signed HTTP POSTs, or Socket Mode envelopes.

Why: Bolt checks Slack's signature (HMAC-SHA256 of ``v0:{timestamp}:{body}``) against
``time.time()``, so signatures use wall time; tests tamper with it (bad secret, stale
timestamp, Events API retry headers) through ``SendOptions``. HTTP goes through the stdlib
(``requests`` is not a dependency of escbot), one kept-alive connection per thread; answers
come back as ``HttpResponse``, the ``requests.Response`` subset tests use.

Over Socket Mode the same body becomes an envelope through the fake's WebSocket endpoint
(``FakeSlack.enable_socket_mode``), and the app's ack becomes the same ``HttpResponse``, so one
journey runs over both transports.
"""

from __future__ import annotations

import http.client
import json
import select
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypedDict, Unpack
from urllib.parse import urlsplit

from slack_sdk.signature import SignatureVerifier

from bot.sandbox.emulator.fake_slack import FakeSlack

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


class SendOptions(TypedDict, total=False):
    """How to tamper with a request, for negative tests."""

    bad_signature: bool  # sign with the wrong secret
    stale: bool  # timestamp 10 minutes old (Slack's limit is 5)
    retry_num: int  # add X-Slack-Retry-Num / X-Slack-Retry-Reason like an Events API retry
    retry_reason: str


class Send(Protocol):
    """Sends a request body the way ``SlackUser.send`` does (a subclass may time it)."""

    def __call__(
        self, body: str, content_type: str, **opts: Unpack[SendOptions]
    ) -> HttpResponse: ...


@dataclass
class HttpResponse:
    """The app's answer; the part of ``HttpResponse`` that tests need."""

    status_code: int
    headers: http.client.HTTPMessage
    content: bytes

    @property
    def ok(self) -> bool:
        return self.status_code < 400

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


class Transport:
    """Sends request bodies to the app at ``app_url`` (HTTP) or through ``fake`` (socket)."""

    def __init__(
        self,
        app_url: str,
        signing_secret: str,
        *,
        kind: Literal["http", "socket"],
        fake: FakeSlack | None,
        timeout: float,
    ) -> None:
        if kind == "socket" and fake is None:
            raise ValueError("transport='socket' needs the fake whose Socket Mode the app uses")
        self.kind = kind
        self.app_url = app_url
        self.signing_secret = signing_secret
        self.fake = fake
        self.timeout = timeout
        self._path = urlsplit(app_url).path or "/"
        self._local = threading.local()
        self._connections: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._last: tuple[str, str] | None = None

    def send(self, body: str, content_type: str, **opts: Unpack[SendOptions]) -> HttpResponse:
        """POST ``body`` signed like Slack: HMAC-SHA256 of ``v0:{timestamp}:{body}``.

        Over Socket Mode the body becomes an envelope instead (no signature there).
        """
        if self.kind == "socket":
            return self._send_envelope(body, content_type, **opts)
        ts = str(int(time.time()) - (600 if opts.get("stale") else 0))
        secret = self.signing_secret + ("-wrong" if opts.get("bad_signature") else "")
        signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature or "",
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        if opts.get("retry_num"):
            headers["X-Slack-Retry-Num"] = str(opts["retry_num"])
            headers["X-Slack-Retry-Reason"] = opts.get("retry_reason", "http_timeout")
        with self._lock:
            self._last = (body, content_type)
        conn = self._connection()
        try:
            conn.request("POST", self._path, body=body.encode(), headers=headers)
            resp = conn.getresponse()
            content = resp.read()
        except Exception:
            conn.close()
            raise
        if resp.will_close:
            conn.close()
        return HttpResponse(resp.status, resp.headers, content)

    def _send_envelope(
        self, body: str, content_type: str, **opts: Unpack[SendOptions]
    ) -> HttpResponse:
        """The request as a Socket Mode envelope; the ack as the HTTP answer it stands for.

        Status 200 with the ack's payload as body; 202 for an event Slack will deliver again
        later; 503 when no connection was open; 504 when no ack came within 3 s.
        """
        if opts.get("bad_signature") or opts.get("stale"):
            raise ValueError("Socket Mode envelopes are not signed: nothing to tamper with")
        assert self.fake is not None  # checked in __init__
        with self._lock:
            self._last = (body, content_type)
        answer = self.fake.socket.request(
            body, content_type, retry_attempt=opts.get("retry_num", 0)
        )
        headers = http.client.HTTPMessage()
        headers["Content-Type"] = "application/json"
        content = b"" if answer.payload is None else json.dumps(answer.payload).encode()
        return HttpResponse(answer.status, headers, content)

    @property
    def last_sent(self) -> tuple[str, str] | None:
        """``(body, content_type)`` of the last request, to deliver it again elsewhere."""
        with self._lock:
            return self._last

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()  # a later request on it simply reconnects

    def _connection(self) -> http.client.HTTPConnection:
        """A kept-alive connection per thread (tests fire concurrent clicks).

        One the server has closed while idle reads as EOF; it is replaced before use, so a
        request is never sent twice.
        """
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is not None and conn.sock is not None:
            readable, _, _ = select.select([conn.sock], [], [], 0)
            if readable:
                conn.close()
        if conn is None:
            url = urlsplit(self.app_url)
            secure = url.scheme == "https"
            cls = http.client.HTTPSConnection if secure else http.client.HTTPConnection
            conn = self._local.conn = cls(url.netloc, timeout=self.timeout)
            with self._lock:
                self._connections.append(conn)
        return conn
