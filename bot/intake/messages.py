"""The messages intake sends: the details in a card's thread, the reporter's
confirmations, the thread line of a second report.

How the reporter hears back, and why this way: the card's permalink exists
only once the outbox has posted the card, possibly minutes later if Slack is
slow. So the reporter gets two messages:

- at once, an ephemeral where they ran ``/escalate`` (or the shortcut): key,
  owner, summary, "the card is in #intake" — best effort, as ``chat.postEphemeral``
  fails in channels the bot can't see (posted by ``bot.slack.answers.confirm``);
- durably, a DM queued in the ticket's own transaction, held by the outbox
  until the card is posted and then sent with the card's permalink
  (``outbox.enqueue_dm(after_card=True)``). It never gets lost, and it is the
  fallback wherever the ephemeral could not be shown.
"""

from __future__ import annotations

from typing import Any

from bot import sla
from bot.config import AppConfig
from bot.core.mrkdwn import (
    CONTENT_BUDGET,
    SEVERITY_ICONS,
    content_ref,
    link_previews,
    mention,
    pack,
    source,
)
from bot.core.render import Renderer
from bot.core.text import mrkdwn
from bot.delivery import outbox
from bot.intake.draft import Draft
from storage.models import Ticket

#: Sections of content links in the details message (each ≤ 3000 characters).
DETAILS_SECTIONS = 40


def ticket_context(cfg: AppConfig, ticket: Ticket) -> dict[str, Any]:
    """What every intake message says about a ticket (no user text pre-escaped)."""
    return {
        "t": ticket,
        "sev_icon": SEVERITY_ICONS.get(ticket.severity, ":large_purple_circle:"),
        "area_title": cfg.policy_areas[ticket.policy_area].title,
        "severity_title": cfg.severities[ticket.severity].title,
        "owner": mention(ticket.assignee_id, "not assigned yet"),
        "previews": link_previews(cfg, ticket),
    }


def details_context(cfg: AppConfig, renderer: Renderer, ticket: Ticket) -> dict[str, Any]:
    remaining = [content_ref(cfg, item.raw) for item in ticket.content_items]
    chunks: list[list[str]] = []
    while remaining and len(chunks) < DETAILS_SECTIONS:
        kept, _ = pack(remaining, CONTENT_BUDGET)
        if not kept:  # a reference too long for any section: shown by the card's count
            remaining = remaining[1:]
            continue
        chunks.append(kept)
        remaining = remaining[len(kept) :]
    return {
        **ticket_context(cfg, ticket),
        "reporter": mention(ticket.reporter_id),
        "source": source(cfg, ticket),
        "facts": facts(cfg, renderer, ticket),
        "content_chunks": chunks,
        "content_count": len(ticket.content_items),
        "content_hidden": len(remaining),
    }


def facts(cfg: AppConfig, renderer: Renderer, ticket: Ticket) -> list[tuple[str, str]]:
    """(label, mrkdwn) of the details that have a value: source, vendor, deadline, region."""
    vendor = cfg.vendors[ticket.vendor].name if ticket.vendor in cfg.vendors else ticket.vendor
    region = cfg.intake.regions.get(ticket.region, ticket.region) if ticket.region else None
    rows = [
        ("Source", source(cfg, ticket) if ticket.source_team or ticket.source_channel else None),
        ("Vendor", mrkdwn(vendor) if vendor else None),
        ("Deadline", renderer.when(ticket.deadline) if ticket.deadline else None),
        ("Region", mrkdwn(region) if region else None),
    ]
    return [(label, value) for label, value in rows if value]


def details(renderer: Renderer, cfg: AppConfig, ticket: Ticket) -> dict[str, Any]:
    """The first message of the card's thread: details, requested action, all content."""
    return renderer.render("ticket_details", **details_context(cfg, renderer, ticket))


def reporter_ack(renderer: Renderer, cfg: AppConfig, ticket: Ticket) -> dict[str, Any]:
    """The instant confirmation (ephemeral)."""
    return renderer.render("reporter_ack", **ticket_context(cfg, ticket))


def reporter_dm_context(renderer: Renderer, cfg: AppConfig, ticket: Ticket) -> dict[str, Any]:
    return {
        **ticket_context(cfg, ticket),
        "card_link": outbox.CARD_LINK,
        "ack_due": sla.describe(cfg, renderer, ticket, sla.TTA),
    }


def reporter_dm(renderer: Renderer, cfg: AppConfig, ticket: Ticket) -> dict[str, Any]:
    """The durable confirmation with the card's link (filled in by the outbox)."""
    return renderer.render("reporter_dm", **reporter_dm_context(renderer, cfg, ticket))


def reported_again_context(
    cfg: AppConfig,
    ticket: Ticket,
    reporter: str,
    draft: Draft,
    added: list[str],
    watching: bool,
) -> dict[str, Any]:
    kept, hidden = pack((content_ref(cfg, raw) for raw in added), CONTENT_BUDGET)
    return {
        **ticket_context(cfg, ticket),
        "reporter": mention(reporter),
        "watching": watching,
        "summary": draft.summary,
        "details": draft.details,
        "requested_action": draft.requested_action or "",
        "added": kept,
        "added_hidden": hidden,
    }


def reported_again(
    renderer: Renderer,
    cfg: AppConfig,
    ticket: Ticket,
    reporter: str,
    draft: Draft,
    added: list[str],
    watching: bool,
) -> dict[str, Any]:
    """The thread line on a ticket someone else reported too."""
    context = reported_again_context(cfg, ticket, reporter, draft, added, watching)
    return renderer.render("reported_again", **context)


def reporter_added(
    renderer: Renderer, cfg: AppConfig, ticket: Ticket, added: list[str]
) -> dict[str, Any]:
    """The DM to a reporter who joined an existing ticket."""
    return renderer.render(
        "reporter_added",
        **ticket_context(cfg, ticket),
        card_link=outbox.CARD_LINK,
        added_count=len(added),
    )


def earlier_context(
    cfg: AppConfig, renderer: Renderer, ticket: Ticket, *, decision: bool
) -> dict[str, Any]:
    """How a resolved ticket reads as "reported before in ESC-n (decision, date)";
    ``decision`` False (someone who may not see the ticket): only its key."""
    if not decision:
        return {"key": ticket.key, "decision": None, "resolved": None}
    return {
        "key": ticket.key,
        "decision": cfg.resolution.decisions.get(ticket.decision or "", ticket.decision or "—"),
        "resolved": renderer.when(ticket.resolved_at, "%d %b %Y") if ticket.resolved_at else "—",
    }


def reported_before(
    renderer: Renderer, cfg: AppConfig, ticket: Ticket, before: Ticket
) -> dict[str, Any]:
    """The new ticket's thread line naming the resolved ticket it follows (the desk may
    see both)."""
    earlier = earlier_context(cfg, renderer, before, decision=True)
    return renderer.render("reported_before", t=ticket, earlier=earlier)
