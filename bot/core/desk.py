"""The desk: what every domain entry point needs, and nothing of Slack.

Built once by the app factory. Domain code takes a ``Desk`` (or its parts)
instead of the composition root's ``Services``, so that no domain package
depends on Bolt, slack_sdk or the outbox worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from bot.config import AppConfig
from bot.core.clock import Clock
from bot.core.render import Renderer
from bot.core.sealed import Seal


@dataclass(frozen=True)
class Desk:
    """One running escbot's database, configuration, templates and clock, and the seal
    of what it sends through Slack and gets back (``private_metadata``, button values)."""

    sessions: sessionmaker[Session]
    config: AppConfig
    renderer: Renderer
    clock: Clock
    seal: Seal = field(default_factory=Seal)
    #: Channels escbot found private when it joined them at start (the rest may be read by
    #: anyone in the workspace): a digest's audience defaults to ``internal`` only there.
    private_channels: set[str] = field(default_factory=set)
