"""Instant answers to a reporter that only Slack can show: the ephemeral after intake.

The domain builds the payload (``bot.intake.messages.reporter_ack``); posting it
is a Slack call, so it lives here and the intake domain never touches slack_sdk.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)


def confirm(client: WebClient, payload: dict[str, Any], channel: str | None, user: str) -> bool:
    """Show ``payload`` to ``user`` as an ephemeral in ``channel``; False if Slack refused
    (the bot is not in that channel, a DM with someone else…). The durable DM is already
    queued with the ticket, so a refusal loses nothing: it is the fallback."""
    if not channel:
        return False
    args = {k: v for k, v in payload.items() if k != "response_type"}
    try:
        client.chat_postEphemeral(channel=channel, user=user, **args)
    except (SlackApiError, OSError) as err:
        log.info("ephemeral to %s in %s not shown (%s); the DM will do", user, channel, err)
        return False
    return True
