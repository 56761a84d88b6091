"""Shortcuts: "Escalate this message" opens the intake modal prefilled from the message."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.intake import form as intake_form
from handlers.boundary import guarded

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

#: chat.getPermalink must not eat the 3 s the trigger_id lives; past this, no prefill.
PERMALINK_TIMEOUT = 1  # seconds


def register(app: App, services: Services) -> None:
    # Imported here: bot.manifest imports handlers.commands, so a module-level import cycles.
    from bot.slack.manifest import MESSAGE_SHORTCUT

    cfg, renderer = services.config, services.renderer

    @app.shortcut(MESSAGE_SHORTCUT)
    @guarded
    def escalate_message(ack: Ack, shortcut: dict[str, Any], client: WebClient) -> None:
        ack()
        channel, message = shortcut["channel"]["id"], shortcut.get("message") or {}
        permalink = permalink_of(client, channel, shortcut.get("message_ts") or message.get("ts"))
        prefill = intake_form.Prefill.from_message(message.get("text") or "", permalink)
        origin = intake_form.Origin.of(channel, permalink)
        view = intake_form.modal(renderer, cfg, prefill, origin)
        client.views_open(trigger_id=shortcut["trigger_id"], view=view)


def permalink_of(client: WebClient, channel: str, ts: str | None) -> str | None:
    """The message's permalink, or None when Slack is slow or refuses: the modal
    then opens without it (the source channel is still recorded)."""
    if not ts:
        return None
    quick = WebClient(token=client.token, base_url=client.base_url, timeout=PERMALINK_TIMEOUT)
    try:
        return str(quick.chat_getPermalink(channel=channel, message_ts=ts)["permalink"])
    except (SlackApiError, OSError) as err:
        log.warning("no permalink for %s/%s: %s", channel, ts, err)
        return None
