"""At start, get escbot into the channels it posts to and reads from.

Why: Slack sends a channel's message events (reporters' thread replies) and answers its
history only to members, and ``files.completeUploadExternal`` shares a digest chart only into
a channel the bot is in. A bot joins a public channel itself (``conversations.join``); a
private one needs a person's ``/invite @escbot``, so for those escbot says so, once per
channel, in the log. Nothing here stops start-up: the outbox joins again on ``not_in_channel``.

It also says, once at start, what a public channel means: anyone in the workspace reads
it, so a public intake channel shows every ticket card to everyone, and a digest there
is posted for a ``public`` audience (bot/reporting/audience.py) unless app.yaml says
otherwise.
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

    Returns channel id → outcome (``joined`` or ``member`` for a public channel,
    ``private`` or ``invite`` for a private one, or Slack's error), for the caller and the
    tests.
    """
    outcome: dict[str, str] = {}
    for channel, key in channels_of(config).items():
        try:
            outcome[channel] = _join(client, channel, key)
        except Exception:  # a Slack blip at boot must not stop escbot; the outbox joins later
            log.exception("could not join channel %s (%s)", channel, key)
            outcome[channel] = "error"
        if outcome[channel] in PUBLIC:
            log.log(
                logging.WARNING if exposes(config, channel) else logging.INFO,
                "%s",
                public_meaning(config, channel),
            )
    return outcome


PUBLIC = ("joined", "member")  # conversations.join succeeds for public channels only
PRIVATE = ("private", "invite")


def exposes(config: AppConfig, channel: str) -> bool:
    """Whether public ``channel`` shows tickets' words to everyone: it is the intake channel,
    or a digest there was set to ``audience: internal``."""
    return channel == config.workspace.intake_channel or any(
        d.channel == channel and d.audience == "internal" for d in config.digests
    )


def public_meaning(config: AppConfig, channel: str) -> str:
    """What it means that ``channel`` is public, for the start log and ``escbot doctor``."""
    said = []
    if channel == config.workspace.intake_channel:
        said.append(
            "as the intake channel, every ticket card posted there (summary, policy area, "
            "severity, status) is readable by anyone in the workspace: make it private "
            "unless that is intended"
        )
    for d in config.digests:
        if d.channel != channel:
            continue
        if d.audience == "internal":
            said.append(
                f"digest {d.name} has audience: internal, so anyone in the workspace reads its "
                "ticket summaries and content, sensitive ones included"
            )
        else:
            shown = "non-sensitive tickets' summaries" if d.summaries else "no summaries"
            said.append(
                f"digest {d.name} posts for a public audience: keys, counts and areas, "
                f"{shown}, never a sensitive ticket's summary nor reported content"
            )
    return f"channel {channel} is public (anyone in the workspace can read it): " + "; ".join(
        said or ["nothing escbot posts there is restricted"]
    )


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
            return "private"
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
