"""The app factory: builds the Bolt ``App`` and everything its listeners need.

No module-level App: tests and the demo build as many as they like, each with
its own database, clock and Slack endpoint.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import time as time_of_day
from typing import Any

from slack_bolt import App
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

import handlers
from bot import sla
from bot.config import AppConfig
from bot.core.clock import Clock, SystemClock
from bot.core.metrics import Metrics
from bot.core.render import Renderer
from bot.delivery.outbox import OutboxWorker, Pacer, alert_admins
from bot.delivery.scheduler import Scheduler
from bot.delivery.timers import TimerRunner
from bot.reporting import digests
from bot.resolution import followups
from bot.routing import chain
from bot.settings import Settings
from bot.slack import cards, home
from bot.tickets import retention

log = logging.getLogger(__name__)

#: Threads running listeners. Bolt's default is 5, and a listener keeps its thread
#: through its work after ack() (views.open, chat.postEphemeral): with Slack answering
#: in 300 ms, five such calls made every other request's ack wait (p50 0.6 s at 10
#: concurrent /escalate; see docs/performance.md).
LISTENER_THREADS = 32


class BotIdentity:
    """Answers Bolt's authorize step from a cached ``auth.test``.

    Bolt's default calls ``auth.test`` on the first request and answers 500
    while Slack is unreachable; this one is warmed at start-up with retries and,
    if Slack is still down, authorizes with the token we have anyway so that a
    partner's escalation is taken (and its messages wait in the outbox).
    """

    def __init__(self, client: WebClient, token: str) -> None:
        self.client, self.token = client, token
        self.auth: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def warm(self, attempts: int = 5, delay: float = 0.5) -> bool:
        for attempt in range(attempts):
            if self._fetch():
                return True
            time.sleep(delay * 2**attempt)
        log.warning("auth.test failed %d times; serving with the token alone", attempts)
        return False

    def _fetch(self) -> bool:
        try:
            resp = self.client.auth_test(token=self.token)
        except (SlackApiError, OSError) as err:
            log.warning("auth.test failed: %s", err)
            return False
        with self._lock:
            self.auth = dict(resp.data)  # type: ignore[arg-type]
        return True

    def authorize(self, enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        if self.auth is None:
            self._fetch()
        auth = self.auth or {}
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=auth.get("team_id", team_id),
            bot_token=self.token,
            bot_id=auth.get("bot_id"),
            bot_user_id=auth.get("user_id"),
        )


@dataclass
class Services:
    """What listeners and background workers share: one per running app."""

    settings: Settings
    config: AppConfig
    engine: Engine
    sessions: sessionmaker[Session]
    client: WebClient
    renderer: Renderer
    outbox: OutboxWorker
    identity: BotIdentity
    timers: TimerRunner
    scheduler: Scheduler
    metrics: Metrics
    clock: Clock = field(default_factory=SystemClock)

    def start_workers(self) -> None:
        self.outbox.start()
        self.scheduler.start()

    def stop_workers(self) -> None:
        self.scheduler.shutdown()
        self.outbox.stop()


def create_app(
    settings: Settings,
    config: AppConfig,
    engine: Engine,
    sessions: sessionmaker[Session],
    clock: Clock | None = None,
) -> tuple[App, Services]:
    """Build the Bolt app with every surface registered, and its services."""
    clock = clock or SystemClock()
    client = WebClient(token=settings.bot_token, base_url=settings.api_url, timeout=10)
    renderer = Renderer(config.team_tz)
    metrics = Metrics()
    metrics.watch_database(sessions, clock)
    worker = OutboxWorker(
        sessions=sessions,
        client=client,
        render_card=lambda _s, ticket: cards.card(renderer, config, ticket),
        render_home=lambda s, user: home.view(s, config, renderer, user, clock.now()),
        metrics=metrics,
        pacer=Pacer(rate=settings.channel_rate),
        on_dead=lambda row: alert_admins(config, row, clock.now()),
    )
    identity = BotIdentity(client, settings.bot_token)
    timers = TimerRunner(sessions, clock)
    services = Services(
        settings=settings,
        config=config,
        engine=engine,
        sessions=sessions,
        client=client,
        renderer=renderer,
        outbox=worker,
        identity=identity,
        timers=timers,
        scheduler=Scheduler(timers, config.team_tz, settings.timer_interval),
        metrics=metrics,
        clock=clock,
    )
    app = App(
        signing_secret=settings.signing_secret,
        client=WebClient(base_url=settings.api_url, timeout=10),
        # Bolt injects authorize arguments by name: hand it a plain function.
        authorize=lambda enterprise_id, team_id: identity.authorize(enterprise_id, team_id),
        process_before_response=False,
        ignoring_self_events_enabled=True,
        url_verification_enabled=True,
        listener_executor=ThreadPoolExecutor(LISTENER_THREADS, thread_name_prefix="listener"),
    )
    handlers.register_all(app, services)
    chain.register_timers(services)
    sla.register_timers(services)
    followups.register_timers(services)
    # Digests: APScheduler's cron posts on the minute; the per-tick catch-up posts a period
    # missed during downtime (or passed by a moved test clock). The database keeps it once.
    digests.schedule_digests(services.scheduler.aps, services)
    services.scheduler.every_tick(lambda: digests.catch_up(services, services.clock.now()))
    services.scheduler.daily(
        lambda: retention.redact_all_due(sessions, config, services.clock.now()),
        time_of_day(3, 30),
        "retention",
    )
    return app, services
