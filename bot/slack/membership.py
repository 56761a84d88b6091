"""At start, get escbot into the channels it posts to and reads from.

Why: Slack sends a channel's message events (reporters' thread replies) and answers its
history only to members, and ``files.completeUploadExternal`` shares a digest chart only into
a channel the bot is in. A bot joins a public channel itself (``conversations.join``); a
private one needs a person's ``/invite @escbot``, so for those escbot says so, once per
channel, in the log. Nothing here stops start-up: the outbox joins again on ``not_in_channel``.
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config import AppConfig

log = logging.getLogger(__name__)


def channels_of(config: AppConfig) -> dict[str, str]:
    """Every channel escbot writes to or reads from → the app.yaml key that names it."""
    found = {config.workspace.intake_channel: "workspace.intake_channel"}
    for d in config.digests:
        found.setdefault(d.channel, f"digests.{d.name}.channel")
    return found


def join_channels(client: WebClient, config: AppConfig) -> dict[str, str]:
    """Join each public channel of app.yaml; log what a person must do about the others.

    Returns channel id → outcome (``joined``, ``member``, ``invite``, or Slack's error), for
    the caller and the tests.
    """
    outcome: dict[str, str] = {}
    for channel, key in channels_of(config).items():
        try:
            outcome[channel] = _join(client, channel, key)
        except Exception:  # a Slack blip at boot must not stop escbot; the outbox joins later
            log.exception("could not join channel %s (%s)", channel, key)
            outcome[channel] = "error"
    return outcome


def _join(client: WebClient, channel: str, key: str) -> str:
    try:
        resp = client.conversations_join(channel=channel)
    except SlackApiError as err:
        error = str(err.response.get("error"))
        if error not in ("method_not_supported_for_channel_type", "channel_not_found"):
            log.error("cannot join %s (%s in app.yaml): %s", channel, key, _fix(error))
            return error
        # A private channel (Slack hides one the bot is not in): are we already invited?
        if _can_read(client, channel):
            log.info("in private channel %s (%s)", channel, key)
            return "member"
        unsure = " if it is private; else fix the id" if error == "channel_not_found" else ""
        log.warning(
            "invite @escbot to %s (private): a person types /invite @escbot in that channel "
            "(%s in app.yaml%s); until then escbot can neither post nor read there",
            channel,
            key,
            unsure,
        )
        return "invite"
    name = (resp.get("channel") or {}).get("name") or channel
    if resp.get("warning") == "already_in_channel":
        log.info("in #%s (%s)", name, channel)
        return "member"
    log.info("joined #%s (%s, %s in app.yaml)", name, channel, key)
    return "joined"


def _can_read(client: WebClient, channel: str) -> bool:
    try:
        client.conversations_history(channel=channel, limit=1)
    except SlackApiError:
        return False
    return True


def _fix(error: str) -> str:
    return {
        "is_archived": "the channel is archived; unarchive it or change the id",
        "missing_scope": "the token lacks channels:join; reinstall from `escbot manifest`",
    }.get(error, error)
