"""The app factory: builds the Bolt ``App`` and everything its listeners need.

No module-level App: tests and the demo build as many as they like, each with
its own database, clock and Slack endpoint.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import time as time_of_day

from slack_bolt import App
from slack_sdk import WebClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

import handlers
from bot import sla
from bot.config import AppConfig
from bot.core.clock import Clock, SystemClock
from bot.core.metrics import Metrics
from bot.core.render import Renderer
from bot.delivery.outbox import alert_admins, wake_after_commit
from bot.delivery.scheduler import Scheduler
from bot.delivery.timers import TimerRunner
from bot.delivery.worker import OutboxWorker, Pacer
from bot.intake import opening
from bot.qa import clarify as qa_clarify
from bot.qa import schedule as qa_schedule
from bot.reporting import digests
from bot.resolution import followups
from bot.routing import chain, handover
from bot.services import Services
from bot.settings import Settings
from bot.slack import cards, home, internals
from bot.slack.identity import BotIdentity
from bot.tickets import retention

#: Threads running listeners. Bolt's default is 5, and a listener keeps its thread
#: through its work after ack() (views.open, chat.postEphemeral): with Slack answering
#: in 300 ms, five such calls made every other request's ack wait (p50 0.6 s at 10
#: concurrent /escalate; see docs/performance.md).
LISTENER_THREADS = 32


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
    worker = outbox_worker(settings, config, sessions, client, renderer, metrics, clock)
    wake_after_commit(sessions, worker.notify)
    identity = BotIdentity(settings.api_url, settings.bot_token)
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
    internals.quiet_unused_token_warning()
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
    internals.install_runner(app)  # acks answered at once, not at Bolt's next 10 ms poll
    handlers.register_all(app, services)
    register_timer_handlers(timers, config, renderer)
    # Digests: APScheduler's cron posts on the minute; the per-tick catch-up posts a period
    # missed during downtime (or passed by a moved test clock). The database keeps it once.
    desk = services.desk
    digests.schedule_digests(services.scheduler.aps, desk)
    # People who left (app.yaml changed, deactivated in Slack): handed over before any
    # timer of this tick could DM them.
    services.scheduler.before_timers(lambda: handover.tick(desk))
    services.scheduler.every_tick(lambda: digests.catch_up(desk, desk.clock.now()))
    services.scheduler.every_tick(lambda: qa_schedule.tick(desk))  # QA draws, DMs, patterns
    services.scheduler.daily(
        lambda: retention.run_daily(sessions, config, services.clock.now()),
        time_of_day(3, 30),
        "retention",
    )
    return app, services


def outbox_worker(
    settings: Settings,
    config: AppConfig,
    sessions: sessionmaker[Session],
    client: WebClient,
    renderer: Renderer,
    metrics: Metrics,
    clock: Clock,
) -> OutboxWorker:
    """The outbox worker with its renderers and dead-letter alerts; it needs no Bolt app, so
    a process that only delivers can build it alone (waking it is the caller's choice)."""
    return OutboxWorker(
        sessions=sessions,
        client=client,
        render_card=lambda _s, ticket: cards.card(renderer, config, ticket, now=clock.now()),
        render_home=lambda s, user: home.view(s, config, renderer, user, clock.now()),
        metrics=metrics,
        pacer=Pacer(rate=settings.channel_rate),
        notice_window=settings.notice_window,
        senders=settings.outbox_senders,
        on_dead=lambda row: alert_admins(config, row, clock.now()),
    )


def register_timer_handlers(timers: TimerRunner, config: AppConfig, renderer: Renderer) -> None:
    """Give each durable timer kind its handler: here, so no domain module needs the runner."""
    timers.register(opening.KIND, opening.make_timer_handler(config, renderer))
    timers.register(chain.KIND, chain.make_timer_handler(config, renderer))
    timers.register(sla.TIMER_KIND, sla.make_timer_handler(config, renderer))
    timers.register(followups.TIMER_KIND, followups.make_timer_handler(config, renderer))
    timers.register(qa_clarify.TIMER_KIND, qa_clarify.make_timer_handler(config, renderer))
