"""The ticket card: what the intake channel shows of a ticket."""

from __future__ import annotations

from typing import Any

from bot.config import AppConfig
from bot.lifecycle import status_label
from bot.render import Renderer
from bot.text import mrkdwn
from storage.models import Ticket

SEVERITY_ICONS = {
    "sev0": ":red_circle:",
    "sev1": ":large_orange_circle:",
    "sev2": ":large_yellow_circle:",
    "sev3": ":white_circle:",
}
MAX_LINKS = 20


def link(url: str, label: str | None = None) -> str:
    """A mrkdwn link to ``url`` if it is a plain http(s) URL, else the escaped text."""
    if url.startswith(("https://", "http://")) and not any(c in url for c in "|<> \n"):
        return f"<{url.replace('&', '&amp;')}|{mrkdwn(label or url)}>"
    return mrkdwn(label or url)


def card(renderer: Renderer, cfg: AppConfig, ticket: Ticket) -> dict[str, Any]:
    severity = cfg.severities[ticket.severity]
    area = cfg.policy_areas[ticket.policy_area]
    items = ticket.content_items
    links = [link(i.raw) for i in items[:MAX_LINKS]]
    if len(items) > MAX_LINKS:
        links.append(f"…and {len(items) - MAX_LINKS} more")
    vendor = cfg.vendors[ticket.vendor].name if ticket.vendor in cfg.vendors else "—"
    source = cfg.intake.source_teams.get(ticket.source_team or "", ticket.source_team or "—")
    return renderer.render(
        "ticket_card",
        t=ticket,
        sev_icon=SEVERITY_ICONS.get(ticket.severity, ":white_circle:"),
        area_title=area.title,
        severity_title=severity.title,
        status=status_label(ticket.status),
        owner=f"<@{ticket.assignee_id}>" if ticket.assignee_id else "unassigned",
        ack_due=renderer.when(ticket.created_at + severity.ack_within),
        resolve_due=renderer.when(ticket.created_at + severity.resolve_within),
        source=source,
        vendor=vendor,
        lang_region=" / ".join(x for x in (ticket.language, ticket.region) if x) or "—",
        deadline=renderer.when(ticket.deadline) if ticket.deadline else "—",
        links=links,
    )
