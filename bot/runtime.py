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
from bot.slack.membership import join_channels
from bot.slack.server import EscbotWSGI, Server
from storage.db import make_engine, make_session_factory, upgrade

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    app: App
    services: Services
    server: Server

    @classmethod
    def build(cls, settings: Settings, config: AppConfig, *, clock: Clock | None = None) -> Runtime:
        engine = make_engine(settings.database_url)
        upgrade(engine)
        sessions = make_session_factory(engine)
        app, services = create_app(settings, config, engine, sessions, clock)
        server = Server(EscbotWSGI(app, services), settings.host, settings.port, settings.threads)
        return cls(app, services, server)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def events_url(self) -> str:
        return f"{self.server.url}/slack/events"

    def start(self) -> Runtime:
        """Serve on background threads (tests and the demo)."""
        self.services.identity.warm(attempts=3, delay=0.1)
        self.join_channels()
        self.services.start_workers()
        self.server.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the foreground until ``shutdown`` (``escbot run``)."""
        # Warm Bolt's identity in the background: serve (and answer health checks) at once;
        # until auth.test succeeds, requests are authorized with the token alone.
        threading.Thread(target=self._warm, name="warm", daemon=True).start()
        self.services.start_workers()
        if self.services.settings.app_token:
            self._start_socket_mode()
        log.info("escbot listening on %s", self.server.url)
        self.server.serve_forever()

    def _warm(self) -> None:
        self.services.identity.warm()
        self.join_channels()

    def join_channels(self) -> dict[str, str]:
        """Join app.yaml's public channels; log an invite line per private one (never raises)."""
        return join_channels(self.services.client, self.services.config)

    def _start_socket_mode(self) -> None:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        handler = SocketModeHandler(self.app, self.services.settings.app_token)
        threading.Thread(target=handler.start, name="socket-mode", daemon=True).start()
        log.info("Socket Mode connected; HTTP still serves /healthz and /metrics")

    def shutdown(self) -> None:
        self.server.stop()
        self.services.stop_workers()
        self.services.engine.dispose()
