"""The Slack app manifest: paste it at api.slack.com/apps → Create New App → From a manifest."""

from __future__ import annotations

from typing import Any

from bot.slack.ids import COMMAND, MESSAGE_SHORTCUT

#: Exactly the scopes escbot uses (tests/test_scopes.py derives them from its calls and fails
#: on one missing or unused); bot/slack/scopes.py says which method needs which.
BOT_SCOPES = [
    "commands",  # /escalate and the message shortcut
    "chat:write",  # cards, thread lines, DMs, digests (chat.postMessage, chat.update, ephemerals)
    "channels:join",  # join the public intake and digest channels at start and after a kick
    "channels:history",  # reporters' replies in card threads (message.channels); find a lost post
    "groups:history",  # the same in a private intake channel (message.groups)
    "im:history",  # reporters answering in a DM (message.im); find a lost post in a DM
    "im:write",  # open DMs with assignees and reporters (conversations.open)
    "files:write",  # digest charts (files.getUploadURLExternal, files.completeUploadExternal)
]

#: Message events reach the app only from channels it is a member of, and DMs with it.
BOT_EVENTS = ["app_home_opened", "message.channels", "message.groups", "message.im"]


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
