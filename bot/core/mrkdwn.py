"""The mrkdwn pieces every message about a ticket shares: links, mentions, channels.

They build Slack's markup as plain strings (no Slack client involved), so the
card, the thread lines, the DMs, the modal and the digests all write a link or
a mention the same way and within the same budgets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.config import AppConfig
from bot.core.text import mrkdwn, truncate
from storage.models import Ticket

SEVERITY_ICONS = {
    "sev0": ":red_circle:",
    "sev1": ":large_orange_circle:",
    "sev2": ":large_yellow_circle:",
    "sev3": ":white_circle:",
}
#: Room for the content list in one section (3000) with its heading.
CONTENT_BUDGET = 2900
LINK_LABEL = 100
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")


def link(url: str, label: str | None = None) -> str:
    """A mrkdwn link to ``url`` if it is a plain http(s) URL, else the escaped text.

    The label is shortened for display; a URL too long for any mrkdwn field is
    shown (shortened) as text rather than broken.
    """
    shown = mrkdwn(truncate(label or url, LINK_LABEL))
    usable = url.lower().startswith(("https://", "http://")) and len(url) <= CONTENT_BUDGET // 2
    if usable and not any(c in url for c in "|<> \n"):
        return f"<{url.replace('&', '&amp;')}|{shown}>"
    return shown


def mention(user_id: str | None, nobody: str = "—") -> str:
    """``<@U…>`` for a Slack user id; anything else (e.g. the bot's own actor name) escaped."""
    if not user_id:
        return nobody
    return f"<@{user_id}>" if _USER_ID.match(user_id) else mrkdwn(user_id)


def channel(channel_id: str | None) -> str:
    """``<#C…>`` for a channel id; DMs and unknowns read as "a direct message"/"—"."""
    if not channel_id:
        return "—"
    return f"<#{channel_id}>" if _CHANNEL_ID.match(channel_id) else "a direct message"


def pack(lines: Iterable[str], budget: int) -> tuple[list[str], int]:
    """As many whole ``lines`` as fit ``budget`` characters (joined by newlines), and
    how many were left out: a link is never cut in half."""
    kept: list[str] = []
    used, total = 0, 0
    for line in lines:
        total += 1
        if len(kept) == total - 1 and used + len(line) + 1 <= budget:
            kept.append(line)
            used += len(line) + 1
    return kept, total - len(kept)


def link_previews(cfg: AppConfig, ticket: Ticket) -> bool:
    """Whether posts showing a ticket's reported content may unfurl it.

    Why off by default: a preview shows hateful or graphic media inline to the whole channel,
    and Slack's crawler fetches the reported URL. Only a policy area that turns
    ``link_previews`` on gets them, and never a sensitive ticket.
    """
    area = cfg.policy_areas.get(ticket.policy_area)
    return bool(area and area.link_previews and not ticket.sensitive)


def source(cfg: AppConfig, ticket: Ticket) -> str:
    """Who raised it and from where, as mrkdwn: "Legal · <message link> in #channel"."""
    team = cfg.intake.source_teams.get(ticket.source_team or "", ticket.source_team or "")
    parts = [mrkdwn(team)] if team else []
    if ticket.source_permalink:
        parts.append(
            f"{link(ticket.source_permalink, 'message')} in {channel(ticket.source_channel)}"
        )
    elif ticket.source_channel:
        parts.append(f"from {channel(ticket.source_channel)}")
    return " · ".join(parts) or "—"
