"""The Slack app manifest: paste it at api.slack.com/apps → Create New App → From a manifest."""

from __future__ import annotations

from typing import Any

from bot.slack.ids import COMMAND, MESSAGE_SHORTCUT

BOT_SCOPES = [
    "commands",  # /escalate and the message shortcut
    "chat:write",  # cards, thread lines, DMs
    "chat:write.public",  # post in the intake/digest channels without being invited
    "channels:join",  # join a public channel after not_in_channel
    "channels:history",  # see reporters' replies in ticket threads
    "groups:history",  # … also in private intake channels
    "im:write",  # open DMs with assignees and reporters
    "users:read",  # names and time zones
    "files:write",  # digest charts
]

BOT_EVENTS = ["app_home_opened", "message.channels", "message.groups"]


def manifest(url: str | None = None, *, socket_mode: bool = False) -> dict[str, Any]:
    """The manifest; ``url`` is the public base URL of HTTP mode (``…/slack/events`` is added)."""
    events_url = f"{(url or 'https://escbot.example.com').rstrip('/')}/slack/events"
    http = {} if socket_mode else {"url": events_url}
    return {
        "display_information": {
            "name": "escbot",
            "description": "Escalation desk of the Critical Harms pod",
            "long_description": (
                "Raise a Trust & Safety escalation with /escalate or the message shortcut; "
                "escbot opens a ticket, routes it to the best-placed specialist, tracks its SLA "
                "and follow-ups, and posts KPI digests."
            ),
            "background_color": "#4a154b",
        },
        "features": {
            "app_home": {
                "home_tab_enabled": True,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": True,
            },
            "bot_user": {"display_name": "escbot", "always_online": True},
            "slash_commands": [
                {
                    "command": COMMAND,
                    "description": "Raise or follow a Trust & Safety escalation",
                    "usage_hint": "[summary] | help",
                    "should_escape": False,
                    **http,
                }
            ],
            "shortcuts": [
                {
                    "name": "Escalate this message",
                    "type": "message",
                    "callback_id": MESSAGE_SHORTCUT,
                    "description": "Open an escalation about this message",
                }
            ],
        },
        "oauth_config": {"scopes": {"bot": BOT_SCOPES}},
        "settings": {
            "event_subscriptions": {
                **({} if socket_mode else {"request_url": events_url}),
                "bot_events": BOT_EVENTS,
            },
            "interactivity": {
                "is_enabled": True,
                **({} if socket_mode else {"request_url": events_url}),
            },
            "org_deploy_enabled": False,
            "socket_mode_enabled": socket_mode,
            "token_rotation_enabled": False,
        },
    }
