"""The Slack app manifest: paste it at api.slack.com/apps → Create New App → From a manifest."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from bot.slack.ids import COMMAND, MESSAGE_SHORTCUT

#: Read-only scopes that only `escbot doctor` uses (tests/test_doctor.py), to check app.yaml
#: against the workspace; `escbot run` never calls users.info or conversations.info.
DOCTOR_SCOPES = [
    "users:read",  # users.info: every user id in app.yaml is a person in the workspace
    "channels:read",  # conversations.info on a public channel: exists, not archived, bot in it
    "groups:read",  # conversations.info on a private channel the bot was invited to
]

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
    *DOCTOR_SCOPES,
]

#: Message events reach the app only from channels it is a member of, and DMs with it.
#: ``user_change``: a member deactivated in Slack hands their open work over at once.
BOT_EVENTS = [
    "app_home_opened",
    "message.channels",
    "message.groups",
    "message.im",
    "user_change",
]


class ManifestError(ValueError):
    """The options can't make a manifest Slack would take; the message says what to pass."""


def public_url(url: str) -> str:
    """The base URL Slack is to POST to in HTTP mode, checked: https, a host, nothing after."""
    given, url = url, url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise ManifestError(
            f"--url must start with https:// (Slack posts only to HTTPS), got {given!r}"
        )
    if not parts.hostname:
        raise ManifestError(f"--url has no host: e.g. https://escbot.example.com, got {given!r}")
    if parts.query or parts.fragment:
        raise ManifestError(f"--url is a base URL, without ?query or #fragment, got {given!r}")
    if parts.path.endswith("/slack/events"):
        raise ManifestError(f"--url is the base URL: escbot adds /slack/events, got {given!r}")
    return url


def manifest(url: str | None, *, socket_mode: bool = False) -> dict[str, Any]:
    """The manifest: HTTP mode needs ``url``, the public base URL (``…/slack/events`` is
    added); Socket Mode takes none (Slack sends nothing to a URL then)."""
    if socket_mode and url:
        raise ManifestError("--url is for HTTP mode: Socket Mode needs no URL (drop one of them)")
    if not socket_mode and not url:
        raise ManifestError(
            "--url is required for HTTP mode: the public https:// base URL that reaches "
            "escbot's $PORT (e.g. --url https://escbot.example.com); or --socket-mode"
        )
    events_url = f"{public_url(url)}/slack/events" if url else ""
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
