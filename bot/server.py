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
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from waitress import wasyncore
from waitress.server import create_server

from bot.metrics import Metrics
from storage.db import ping

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # Slack payloads are far smaller; anything bigger is refused

StartResponse = Callable[..., Any]


class EscbotWSGI:
    def __init__(self, app: App, services: Any, metrics: Metrics | None = None) -> None:
        self.slack = SlackRequestHandler(app)
        self.services = services
        self.metrics = metrics or Metrics()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        started = time.perf_counter()
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
            self.metrics.latency.labels(known).observe(time.perf_counter() - started)
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
            self.server.trigger.pull_trigger(lambda: wasyncore.close_all(self.server._map))
            self._thread.join(5)
        else:
            self.server.close()
