"""The ticket card: what the intake channel shows of a ticket.

The card is rendered at delivery (the outbox calls :func:`card`), so every
change to the ticket shows up in place. Its actions block is drawn from the
``buttons`` list: a surface that adds a working action adds a
:class:`bot.core.blockkit.Button`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot import sla
from bot.config import AppConfig
from bot.core.blockkit import Button
from bot.core.mrkdwn import (
    CONTENT_BUDGET,
    SEVERITY_ICONS,
    link,
    link_previews,
    mention,
    pack,
    source,
)
from bot.core.render import Renderer
from bot.resolution import followups
from bot.resolution import service as resolution
from bot.tickets.lifecycle import Status, is_open, status_label
from storage.models import Ticket


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
        "previews": link_previews(cfg, ticket),
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
