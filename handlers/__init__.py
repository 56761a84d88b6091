"""Thin Slack listeners, one module per surface; each has ``register(app, services)``."""

from __future__ import annotations

from slack_bolt import App

from bot.services import Services
from handlers import actions, commands, events, fallback, middleware, qa, shortcuts, views


def register_all(app: App, services: Services) -> None:
    middleware.register(app, services)
    for surface in (commands, shortcuts, actions, views, events, qa):
        surface.register(app, services)
    fallback.register(app, services)  # last: it takes whatever the others did not
