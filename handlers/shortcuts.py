"""Shortcuts: "Escalate this message" opens the intake modal prefilled from the message."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.intake import form as intake_form
from bot.services import Services
from bot.slack.ids import MESSAGE_SHORTCUT
from handlers.boundary import guarded

log = logging.getLogger(__name__)

#: chat.getPermalink must not eat the 3 s the trigger_id lives; past this, no prefill.
PERMALINK_TIMEOUT = 1  # seconds


def register(app: App, services: Services) -> None:
    desk = services.desk

    @app.shortcut(MESSAGE_SHORTCUT)
    @guarded
    def escalate_message(ack: Ack, shortcut: dict[str, Any], client: WebClient) -> None:
        ack()
        received = services.clock.now()
        channel, message = shortcut["channel"]["id"], shortcut.get("message") or {}
        permalink = permalink_of(client, channel, shortcut.get("message_ts") or message.get("ts"))
        view = intake_form.message_modal(desk, channel, message.get("text") or "", permalink)
        opened = client.views_open(trigger_id=shortcut["trigger_id"], view=view)
        # the confirmation after the submission answers here, member or not (bot.slack.answers)
        services.response_urls.keep(
            opened["view"]["id"],
            shortcut.get("response_url"),
            shortcut["user"]["id"],
            channel,
            received,
        )


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
