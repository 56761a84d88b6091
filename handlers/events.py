"""Events API: replies in a card's thread, DMs to escbot, and the App Home tab being opened.

Every ``message`` event the app is subscribed to lands here (Bolt would answer
404 to one without a listener, and Slack would retry it); only a human reply
in a card's thread in the intake channel, or a person's DM to escbot
(``message.im``: a reporter may answer there), can matter; the rest is acknowledged
and ignored. Retries of an event already taken are dropped by the middleware.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.resolution import entry as resolution
from bot.routing import handover
from bot.services import Services
from bot.slack import home
from handlers.boundary import guarded

#: message subtypes that are still a person writing (others: edits, joins, bots…)
HUMAN_SUBTYPES = frozenset({None, "thread_broadcast", "file_share"})


def register(app: App, services: Services) -> None:
    @app.event("message")
    @guarded
    def message(ack: Ack, event: dict[str, Any]) -> None:
        ack()
        channel, thread_ts, user = event.get("channel"), event.get("thread_ts"), event.get("user")
        if (
            not channel
            or not user
            or event.get("bot_id")
            or event.get("subtype") not in HUMAN_SUBTYPES
        ):
            return
        if event.get("channel_type") == "im":
            resolution.dm_reply(
                services.desk,
                user=user,
                text=event.get("text") or "",
                message_ts=str(event.get("ts")),
            )
            return
        if not thread_ts or thread_ts == event.get("ts"):
            return
        resolution.thread_reply(
            services.desk,
            channel=channel,
            thread_ts=thread_ts,
            user=user,
            text=event.get("text") or "",
        )

    @app.event("app_home_opened")
    @guarded
    def app_home_opened(ack: Ack, event: dict[str, Any]) -> None:
        ack()
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        home.opened(services.desk, event["user"])

    @app.event("user_change")
    @guarded
    def user_change(ack: Ack, event: dict[str, Any]) -> None:
        ack()
        user = event.get("user")
        if isinstance(user, dict):  # deactivated: their open work is handed over at once
            handover.user_changed(services.desk, user)
