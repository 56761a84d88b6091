"""``Services``: what listeners and background workers of one running app share.

Its own module so that handlers can name it without importing the app factory
(which imports the handlers); domain code takes the ``desk`` alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from slack_sdk import WebClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.config import AppConfig
from bot.core.clock import Clock, SystemClock
from bot.core.desk import Desk
from bot.core.metrics import Metrics
from bot.core.render import Renderer
from bot.core.sealed import Seal
from bot.delivery.scheduler import Scheduler
from bot.delivery.timers import TimerRunner
from bot.delivery.worker import OutboxWorker
from bot.settings import Settings
from bot.slack.answers import ResponseUrls
from bot.slack.identity import BotIdentity
from bot.slack.router import Router


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
    #: new tickets' route steps and confirmations, after their acks (in every process)
    router: Router = field(default_factory=Router)

    @cached_property
    def response_urls(self) -> ResponseUrls:
        """Intake requests' response_urls, kept with the modals they opened (this process)."""
        return ResponseUrls(self.clock)

    @cached_property
    def desk(self) -> Desk:
        """The Slack-free part, for domain entry points: built once, on first use."""
        seal = Seal.from_secret(self.settings.signing_secret)
        return Desk(self.sessions, self.config, self.renderer, self.clock, seal)

    def start_workers(self) -> None:
        self.outbox.start()
        self.scheduler.start()

    def stop_workers(self) -> None:
        self.router.stop()
        self.scheduler.shutdown()
        self.outbox.stop()
