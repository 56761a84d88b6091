"""A running escbot: database, Bolt app, HTTP server and background workers.

``escbot run``, the demo and the integration tests all start escbot through
``Runtime``, so what the tests exercise is what production runs.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from slack_bolt import App

from bot.app import create_app
from bot.config import AppConfig
from bot.core.clock import Clock
from bot.services import Services
from bot.settings import Settings
from bot.slack.server import EscbotWSGI, MetricsWSGI, Server
from storage.db import make_engine, make_session_factory, upgrade

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    app: App
    services: Services
    server: Server
    metrics_server: Server | None = None  # ESCBOT_METRICS_ADDR: /metrics away from Slack's port

    @classmethod
    def build(cls, settings: Settings, config: AppConfig, *, clock: Clock | None = None) -> Runtime:
        engine = make_engine(settings.database_url)
        upgrade(engine)
        sessions = make_session_factory(engine)
        app, services = create_app(settings, config, engine, sessions, clock)
        server = Server(
            EscbotWSGI(app, services), settings.host, settings.port, settings.threads, settings.http
        )
        metrics_server = None
        if settings.metrics_addr:
            host, port = settings.metrics_addr
            metrics_server = Server(MetricsWSGI(services), host, port, threads=2)
        return cls(app, services, server, metrics_server)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def events_url(self) -> str:
        return f"{self.server.url}/slack/events"

    def start(self) -> Runtime:
        """Serve on background threads (tests and the demo)."""
        self.services.identity.warm(attempts=3, delay=0.1)
        self.services.start_workers()
        self.server.start()
        if self.metrics_server:
            self.metrics_server.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the foreground until ``shutdown`` (``escbot run``)."""
        # Warm Bolt's identity in the background: serve (and answer health checks) at once;
        # until auth.test succeeds, requests are authorized with the token alone.
        threading.Thread(target=self.services.identity.warm, name="warm", daemon=True).start()
        self.services.start_workers()
        if self.services.settings.app_token:
            self._start_socket_mode()
        if self.metrics_server:
            self.metrics_server.start()
            log.info("metrics on %s/metrics", self.metrics_server.url)
        log.info("escbot listening on %s", self.server.url)
        self.server.serve_forever()

    def _start_socket_mode(self) -> None:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        handler = SocketModeHandler(self.app, self.services.settings.app_token)
        threading.Thread(target=handler.start, name="socket-mode", daemon=True).start()
        log.info("Socket Mode connected; HTTP still serves /healthz and /metrics")

    def shutdown(self) -> None:
        self.server.stop()
        if self.metrics_server:
            self.metrics_server.stop()
        self.services.stop_workers()
        self.services.engine.dispose()
