"""A running escbot: database, Bolt app, HTTP server and background workers.

``escbot run``, the demo and the integration tests all start escbot through
``Runtime``, so what the tests exercise is what production runs.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from slack_bolt import App
from slack_sdk.errors import SlackApiError

from bot.app import create_app
from bot.config import AppConfig
from bot.config.advisories import config_advisories
from bot.core.clock import Clock
from bot.intake.recanonical import recanonicalize
from bot.services import Services
from bot.settings import Settings
from bot.slack.identity import TokenRefused
from bot.slack.membership import PRIVATE, join_channels
from bot.slack.server import EscbotWSGI, MetricsWSGI, Server, exposure
from storage.db import make_session_factory, open_engine, upgrade

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    app: App
    services: Services
    server: Server
    socket_mode: SocketModeHandler | None = None
    metrics_server: Server | None = None  # ESCBOT_METRICS_ADDR: /metrics away from Slack's port
    #: False in the serving-only processes of ``escbot run --workers N`` (all but the first):
    #: the outbox worker, scheduler, channel joins and metrics address run once per machine.
    background: bool = True
    _stopping: threading.Event = field(default_factory=threading.Event, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _refused: TokenRefused | None = field(default=None, init=False)

    @classmethod
    def build(
        cls,
        settings: Settings,
        config: AppConfig,
        *,
        clock: Clock | None = None,
        worker: int | None = None,
    ) -> Runtime:
        """``worker``: this process's index among ``escbot run --workers N`` (None: alone)."""
        engine = open_engine(settings.database_url)  # DatabaseUnavailable: one line to the CLI
        upgrade(engine)
        sessions = make_session_factory(engine)
        app, services = create_app(settings, config, engine, sessions, clock)
        now = services.desk.clock.now()
        recanonicalize(sessions, now)  # after a content-identity change
        if worker in (None, 0):  # once per machine, as check-config would say it
            for advisory in config_advisories(config, now.astimezone(config.team_tz).date()):
                log.warning("app.yaml: %s", advisory)
        server = Server(
            EscbotWSGI(app, services),
            settings.host,
            settings.port,
            settings.threads,
            settings.http,
            reuse_port=worker is not None,
        )
        background = worker in (None, 0)
        metrics_server = None
        if settings.metrics_addr and background:
            host, port = settings.metrics_addr
            metrics_server = Server(
                MetricsWSGI(services), host, port, threads=2, setting="ESCBOT_METRICS_ADDR"
            )
        return cls(app, services, server, metrics_server=metrics_server, background=background)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def events_url(self) -> str:
        return f"{self.server.url}/slack/events"

    def start(self, *, workers: bool = True) -> Runtime:
        """Serve on background threads (tests and the demo). ``workers=False``: no outbox
        thread and no scheduler; the caller delivers and fires timers itself, step by step
        (``escbot demo``, so that thread timing cannot reorder what it shows)."""
        self.services.identity.warm(attempts=3, delay=0.1)
        self.join_channels()
        if workers:
            self.services.start_workers()
        self.server.start()
        if self.services.settings.app_token:
            self._connect_socket_mode()
        if self.metrics_server:
            self.metrics_server.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the foreground until ``shutdown`` (``escbot run``).

        ``TokenRefused`` before anything is served or queued if Slack refuses the bot token
        (also when Slack, unreachable at start, refuses it later: the server stops then).
        While Slack can't be reached, requests are served with the token alone and the
        outbox and scheduler wait until it answers: they have nothing to say to it yet.
        """
        reached = self.services.identity.check()
        if not reached:
            log.warning(
                "%s: serving anyway, with the token alone, until Slack answers auth.test",
                self.services.identity.problem,
            )
        threading.Thread(
            target=self._reach_slack, args=(reached,), name="warm", daemon=True
        ).start()
        if self.services.settings.app_token:
            self._connect_socket_mode()
        if self.metrics_server:
            self.metrics_server.start()
            log.info("metrics on %s/metrics", self.metrics_server.url)
        log.info("escbot listening on %s: %s", self.server.url, exposure(self.services.settings))
        self.server.serve_forever()
        if self._refused is not None:
            raise self._refused

    def _reach_slack(self, reached: bool) -> None:
        if not reached:
            try:
                self.services.identity.keep_trying(self._stopping)
            except TokenRefused as err:
                log.error("%s: stopping", err)
                self._refused = err
                self.server.interrupt()
                return
        with self._lock:
            if self._stopping.is_set() or not self.background:
                return
            self.services.start_workers()
        self.join_channels()

    def join_channels(self) -> dict[str, str]:
        """Join app.yaml's public channels; log an invite line per private one (never raises).
        The private ones are remembered: a digest's audience defaults to internal only there."""
        outcome = join_channels(self.services.client, self.services.config)
        private = self.services.desk.private_channels
        private.clear()
        private.update(c for c, o in outcome.items() if o in PRIVATE)
        return outcome

    def _connect_socket_mode(self) -> None:
        """Open the Socket Mode connection through ``apps.connections.open`` at SLACK_API_URL.

        slack_sdk's builtin client runs its own threads and reconnects by itself: on Slack's
        ``disconnect`` message, on a closed connection, and (every ping interval) when pings
        go unanswered. Each envelope is dispatched to the same Bolt app as HTTP requests, so
        event ids and view ids are claimed once whichever connection delivered them.
        """
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        settings = self.services.settings
        handler = SocketModeHandler(
            self.app,
            settings.app_token,
            logger=log.getChild("socket_mode"),
            ping_interval=settings.socket_ping_interval,
        )
        handler.client.on_close_listeners.append(
            lambda code, reason: log.warning(
                "Socket Mode connection closed by Slack (%s %s); reconnecting", code, reason
            )
        )
        try:
            handler.connect()
        except SlackApiError as err:
            handler.close()
            error = err.response.get("error")
            raise TokenRefused(
                f"SLACK_APP_TOKEN was refused by apps.connections.open ({error}): it must be "
                "an app-level token (xapp-…) with the connections:write scope"
            ) from None
        self.socket_mode = handler
        socket = handler.client  # the WebSocket client, not a Web API method call
        if socket.is_connected():
            log.info(
                "Socket Mode connected (session %s); HTTP still serves /healthz and /metrics",
                socket.session_id(),
            )
        else:
            retry = socket.ping_interval
            log.warning("Socket Mode connection failed; retrying every %ss", retry)

    def shutdown(self) -> None:
        with self._lock:
            self._stopping.set()
        if self.socket_mode is not None:  # first: no new envelope while the rest stops
            self.socket_mode.close()
            self.socket_mode = None
        self.server.stop()
        if self.metrics_server:
            self.metrics_server.stop()
        self.services.stop_workers()
        self.services.engine.dispose()
