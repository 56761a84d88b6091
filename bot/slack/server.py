"""The HTTP front: a WSGI app served by waitress (a production WSGI server).

Routes: ``POST /slack/events`` (commands, interactivity, events — Bolt
verifies the signature and answers 401 when it is wrong or stale),
``GET /healthz`` (JSON; checks the database) and ``GET /metrics``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt import App, BoltRequest
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_bolt.adapter.wsgi.http_response import WsgiHttpResponse
from slack_sdk.signature import SignatureVerifier
from waitress import wasyncore
from waitress.server import create_server

from bot.core.metrics import Metrics
from bot.slack.payloads import malformed
from storage.db import ping

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # Slack payloads are far smaller; anything bigger is refused

StartResponse = Callable[..., Any]


class SlackEndpoint:
    """``POST /slack/events`` → Bolt, with answers for what Bolt would get wrong.

    A signed body that doesn't parse is the sender's fault: 400, not Bolt's 500.
    An unsigned one is 401 whatever it contains.
    """

    def __init__(self, app: App, signing_secret: str, metrics: Metrics) -> None:
        self.app = app
        self.verifier = SignatureVerifier(signing_secret)
        self.metrics = metrics

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = WsgiHttpRequest(environ)
        body, headers = request.get_body(), request.get_headers()
        try:
            bolt_request = BoltRequest(body=body, query=request.query_string, headers=headers)
        except Exception:
            signed = self._signed(body, headers)
            status, error = (400, "malformed payload") if signed else (401, "invalid request")
            log.warning("refused a %s request: %s", "signed" if signed else "unsigned", error)
            return _respond(start_response, status, {"error": error})
        problem = malformed(bolt_request.body)
        if problem:
            if not self._signed(body, headers):
                return _respond(start_response, 401, {"error": "invalid request"})
            log.warning("refused a signed but malformed request: %s", problem)
            return _respond(start_response, 400, {"error": f"malformed payload: {problem}"})
        started = time.perf_counter()
        resp = self.app.dispatch(bolt_request)
        kind = _kind(bolt_request.body)
        self.metrics.ack_seconds.labels(kind).observe(time.perf_counter() - started)
        self.metrics.slack_requests.labels(kind, str(resp.status)).inc()
        if resp.status == 404:  # signed, parsed, but not a kind of request Slack sends
            log.warning("refused a signed request Bolt could not route")
            return _respond(start_response, 400, {"error": "unsupported request"})
        out = WsgiHttpResponse(status=resp.status, headers=resp.headers, body=resp.body)
        start_response(out.status, out.get_headers())
        return out.get_body()

    def _signed(self, body: str, headers: Mapping[str, str | Sequence[str]]) -> bool:
        """Bolt types header values as str or lists; from a WSGI environ they are all str."""
        plain = {k: v for k, v in headers.items() if isinstance(v, str)}
        return self.verifier.is_valid_request(body, plain)


def _kind(body: dict[str, Any]) -> str:
    """command, block_actions, view_submission, event_callback, … (bounded label values)."""
    if "command" in body:
        return "command"
    kind = body.get("type")
    return kind if kind in _KINDS else "other"


_KINDS = frozenset(
    {
        "block_actions",
        "view_submission",
        "view_closed",
        "shortcut",
        "message_action",
        "event_callback",
        "url_verification",
        "block_suggestion",
    }
)


def _respond(start_response: StartResponse, status: int, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        f"{status} {HTTPStatus(status).phrase}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
    )
    return [data]


class EscbotWSGI:
    def __init__(self, app: App, services: Any) -> None:
        self.metrics: Metrics = services.metrics
        self.slack = SlackEndpoint(app, services.settings.signing_secret, self.metrics)
        self.services = services

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        status_holder: list[str] = []

        def recording_start(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            status_holder.append(status.split(" ", 1)[0])
            return start_response(status, headers, *exc)

        try:
            if path == "/slack/events" and method == "POST":
                return self.slack(environ, recording_start)
            if path == "/healthz" and method == "GET":
                return self._healthz(recording_start)
            if path == "/metrics" and method == "GET":
                return self._send(
                    recording_start,
                    "200 OK",
                    generate_latest(self.metrics.registry),
                    CONTENT_TYPE_LATEST,
                )
            return self._json(recording_start, "404 Not Found", {"error": "not found"})
        finally:
            known = path if path in ("/slack/events", "/healthz", "/metrics") else "other"
            self.metrics.requests.labels(known, status_holder[0] if status_holder else "500").inc()

    def _healthz(self, start_response: StartResponse) -> Iterable[bytes]:
        try:
            ping(self.services.engine)
        except Exception as err:
            log.warning("healthz: database unreachable: %s", err)
            return self._json(
                start_response, "503 Service Unavailable", {"ok": False, "database": "unreachable"}
            )
        return self._json(
            start_response,
            "200 OK",
            {
                "ok": True,
                "database": "ok",
                "outbox_pending": self.services.outbox.pending(),
            },
        )

    def _json(self, start_response: StartResponse, status: str, body: dict) -> Iterable[bytes]:
        return self._send(start_response, status, json.dumps(body).encode(), "application/json")

    @staticmethod
    def _send(start_response: StartResponse, status: str, data: bytes, ctype: str) -> list[bytes]:
        start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(data)))])
        return [data]


class Server:
    """waitress on a background thread (tests, demo) or the foreground (``escbot run``)."""

    def __init__(self, wsgi: EscbotWSGI, host: str, port: int, threads: int = 8) -> None:
        self.server = create_server(
            wsgi,
            host=host,
            port=port,
            threads=threads,
            max_request_body_size=MAX_BODY,
            ident="escbot",
            clear_untrusted_proxy_headers=True,
        )
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.server.effective_host}:{self.server.effective_port}"

    def serve_forever(self) -> None:
        self.server.run()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.server.run, name="waitress", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Close from inside waitress's own loop: closing from another thread races select()."""
        if self._thread and self._thread.is_alive():
            try:
                self.server.trigger.pull_trigger(lambda: wasyncore.close_all(self.server._map))
            except OSError:  # the loop is already closing its sockets
                log.debug("waitress trigger already closed")
            self._thread.join(5)
        else:
            self.server.close()
        self.server.task_dispatcher.shutdown()
