"""The ticket card: what the intake channel shows of a ticket.

The card is rendered at delivery (the outbox calls :func:`card`), so every
change to the ticket shows up in place. Its actions block is drawn from the
``buttons`` list: a surface that adds a working action adds a
:class:`~bot.core.blockkit.Button`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from bot import sla
from bot.config import AppConfig
from bot.core.blockkit import Button
from bot.core.render import Renderer
from bot.core.text import mrkdwn, truncate
from bot.resolution import followups
from bot.resolution import service as resolution
from bot.tickets.lifecycle import Status, is_open, status_label
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


def card_context(
    renderer: Renderer, cfg: AppConfig, ticket: Ticket, buttons: Sequence[Button] = ()
) -> dict[str, Any]:
    severity = cfg.severities[ticket.severity]
    area = cfg.policy_areas[ticket.policy_area]
    links, hidden = pack((link(i.raw) for i in ticket.content_items), CONTENT_BUDGET)
    vendor = cfg.vendors[ticket.vendor].name if ticket.vendor in cfg.vendors else ticket.vendor
    languages, regions = cfg.intake.languages, cfg.intake.regions
    lang_region = [
        languages.get(ticket.language, ticket.language) if ticket.language else None,
        regions.get(ticket.region, ticket.region) if ticket.region else None,
    ]
    return {
        "t": ticket,
        "sev_icon": SEVERITY_ICONS.get(ticket.severity, ":white_circle:"),
        "area_title": area.title,
        "severity_title": severity.title,
        "status": status_label(ticket.status),
        "owner": mention(ticket.assignee_id, "unassigned"),
        "reporter": mention(ticket.reporter_id),
        "ack_due": sla.describe(cfg, renderer, ticket, sla.TTA),
        "resolve_due": sla.describe(cfg, renderer, ticket, sla.TTR),
        "source": source(cfg, ticket),
        "vendor": vendor or "—",
        "lang_region": " / ".join(x for x in lang_region if x) or "—",
        "deadline": renderer.when(ticket.deadline) if ticket.deadline else "—",
        "links": links,
        "hidden_links": hidden,
        "buttons": list(buttons),
        "outcome": (
            resolution.outcome_context(cfg, ticket) if ticket.status == Status.RESOLVED else None
        ),
        "followups": followups.for_card(cfg, ticket),
    }


def ticket_buttons(ticket: Ticket) -> list[Button]:
    """The card's buttons for the ticket's status (value: the ticket key); add yours here."""
    status, key = Status(ticket.status), ticket.key
    buttons: list[Button] = []
    if status in (Status.ASSIGNED, Status.REOPENED):
        buttons.append(Button(text="Ack", action_id="ticket_ack", value=key, style="primary"))
    if is_open(status):
        buttons.append(Button(text="Take", action_id="ticket_take", value=key))
        buttons.append(Button(text="Reassign", action_id="ticket_reassign", value=key))
    buttons += resolution.card_buttons(ticket)
    return buttons


def card(
    renderer: Renderer,
    cfg: AppConfig,
    ticket: Ticket,
    buttons: Sequence[Button] | None = None,
) -> dict[str, Any]:
    """The card; ``buttons`` default to :func:`ticket_buttons`."""
    if buttons is None:
        buttons = ticket_buttons(ticket)
    return renderer.render("ticket_card", **card_context(renderer, cfg, ticket, buttons))
