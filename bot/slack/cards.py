"""The ticket card: what the intake channel shows of a ticket.

The card is rendered at delivery (the outbox calls :func:`card`), so every
change to the ticket shows up in place. Its actions block is drawn from the
``buttons`` list: a surface that adds a working action adds a
:class:`bot.core.blockkit.Button`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot import sla
from bot.config import AppConfig
from bot.core.blockkit import Button, Confirm
from bot.core.mrkdwn import SEVERITY_ICONS, link_previews, mention
from bot.core.render import Renderer
from bot.core.text import mrkdwn, one_line, truncate
from bot.resolution import followups
from bot.resolution import service as resolution
from bot.routing.reasons import card_line
from bot.tickets.lifecycle import Status, is_open
from storage.models import Ticket

#: The badge after the key in the card's header, by status.
BADGES = {
    Status.NEW: "Unassigned",
    Status.ASSIGNED: "Needs ack",
    Status.REOPENED: "Reopened · needs ack",
    Status.ACKNOWLEDGED: "In progress",
    Status.WAITING: "Waiting on reporter",
    Status.RESOLVED: "Resolved",
}
#: The status as the rest of a sentence, for the card's notification text.
STATES = {
    Status.NEW: "is waiting for an owner",
    Status.ASSIGNED: "needs to be acknowledged",
    Status.REOPENED: "was reopened and needs to be acknowledged",
    Status.ACKNOWLEDGED: "is in progress",
    Status.WAITING: "is waiting on the reporter",
    Status.RESOLVED: "is resolved",
}
#: What the card's first two buttons are, by status (the rest go in the overflow menu).
_PREFERRED = {
    Status.NEW: ("ticket_take", "ticket_reassign"),
    Status.ASSIGNED: ("ticket_ack", "ticket_take"),
    Status.REOPENED: ("ticket_ack", "ticket_take"),
    Status.ACKNOWLEDGED: ("ticket_resolve", "ticket_reassign"),
    Status.WAITING: ("ticket_resume", "ticket_resolve"),
    Status.RESOLVED: ("ticket_reopen", "followup_add"),
}
#: The overflow menu's action_id; each option's value is "<action_id> <ticket key>".
OVERFLOW = "ticket_more"


def header(ticket: Ticket) -> str:
    """ "🔴 SEV0 · ESC-12 · Needs ack", or "✅ SEV0 · ESC-12 · Resolved" (shortcodes)."""
    status = Status(ticket.status)
    icon = ":white_check_mark:" if status is Status.RESOLVED else severity_icon(ticket.severity)
    return f"{icon} {ticket.severity.upper()} · {ticket.key} · {BADGES.get(status, status.value)}"


def sentence(ticket: Ticket) -> str:
    """The card's notification text before its summary: "SEV0 ticket ESC-12 needs to be
    acknowledged" (what a push notification or a screen reader says)."""
    status = Status(ticket.status)
    state = STATES.get(status, f"is {status.value}")
    return f"{ticket.severity.upper()} ticket {ticket.key} {state}"


def severity_icon(severity: str) -> str:
    return SEVERITY_ICONS.get(severity, ":large_purple_circle:")


def card_context(
    renderer: Renderer,
    cfg: AppConfig,
    ticket: Ticket,
    buttons: Sequence[Button] = (),
    now: datetime | None = None,
) -> dict[str, Any]:
    """What the card shows. ``now`` (default: the ticket's last update) is only what the
    relative times' fallbacks are written against; Slack renders the tokens live."""
    now = now or ticket.updated_at
    area = cfg.policy_areas[ticket.policy_area]
    language = cfg.intake.languages.get(ticket.language, ticket.language) if ticket.language else ""
    owner = mention(ticket.assignee_id, "nobody yet")
    status_line = [f"Owner {owner}", sla.standing(cfg, ticket, now), mrkdwn(area.title)]
    if language:
        status_line.append(mrkdwn(language))
    fu = followups.for_card(cfg, ticket)
    counts = Counter(row["state"] for row in fu["rows"])
    fu_total = len(fu["rows"]) + fu["more"]
    fu_text = ", ".join(
        f"{n} {state}" for state in ("overdue", "open", "done") if (n := counts.get(state))
    )
    resolved = ticket.status == Status.RESOLVED.value
    fields = [("Reporter", mention(ticket.reporter_id))]
    if ticket.content_items:
        n = len(ticket.content_items)
        fields.append(("Content", f"{n} item{'s' if n != 1 else ''} · listed in the thread"))
    if fu_total:
        fields.append(("Follow-ups", fu_text or str(fu_total)))
    primary, secondary, overflow = arrange(ticket, buttons)
    return {
        "t": ticket,
        "previews": link_previews(cfg, ticket),
        "header": header(ticket),
        "sentence": sentence(ticket),
        "sev_icon": severity_icon(ticket.severity),
        "status_line": " · ".join(status_line),
        "fields": [] if resolved else [f"*{k}*\n{v}" for k, v in fields if v],
        "fu_summary": (f"Follow-ups: {fu_text}" if fu_total and resolved else ""),
        "primary": primary,
        "secondary": secondary,
        "overflow": overflow,
        "overflow_id": OVERFLOW,
        "outcome": outcome(cfg, renderer, ticket) if resolved else None,
        "resolved": resolved,
        "routing_line": card_line(ticket.routing_reason or ""),
    }


def outcome(cfg: AppConfig, renderer: Renderer, ticket: Ticket) -> str:
    """The decision line of a resolved card (mrkdwn, user text escaped)."""
    o = resolution.outcome_context(cfg, ticket)
    parts = [f"*{mrkdwn(o['decision'])}*"]
    if o["policy_section"]:
        parts.append(f"policy {mrkdwn(o['policy_section'])}")
    who = mention(ticket.assignee_id, "")
    parts.append(
        f"by {who} {renderer.when(ticket.resolved_at)}"
        if who
        else renderer.when(ticket.resolved_at)
    )
    if o["verdict"]:
        parts.append(mrkdwn(o["verdict"]))
    line = " · ".join(parts)
    rationale = truncate(mrkdwn(one_line(o["rationale"])), 1500)
    return f"{line}\n> {rationale}" if rationale else line


def arrange(
    ticket: Ticket, buttons: Sequence[Button]
) -> tuple[Button | None, Button | None, list[Button]]:
    """(primary, secondary, overflow) for the ticket's status: the primary is styled so,
    the others never are; Take and Reassign carry a confirm dialog where they are buttons."""
    preferred = _PREFERRED.get(Status(ticket.status), ())
    rank = {a: i for i, a in enumerate(preferred)}
    ordered = sorted(buttons, key=lambda b: rank.get(b.get("action_id", ""), len(rank)))
    ordered = [Button(**{k: v for k, v in b.items() if k != "style"}) for b in ordered]  # type: ignore[typeddict-item]
    if not ordered:
        return None, None, []
    primary = ordered[0]
    if primary.get("action_id") in rank:
        primary["style"] = "primary"
    rest = ordered[1:]
    secondary = rest[0] if rest else None
    for b in (primary, secondary):
        if b is not None and (dialog := confirm_for(ticket, b.get("action_id", ""))):
            b["confirm"] = dialog
    return primary, secondary, rest[1:]


def confirm_for(ticket: Ticket, action_id: str) -> Confirm | None:
    """Slack asks first before a click moves a ticket away from its current owner."""
    if action_id == "ticket_take" and ticket.assignee_id:
        return Confirm(
            title="Take this ticket?",
            text=f"{ticket.key} is {mention(ticket.assignee_id)}'s now. It becomes yours, "
            "acknowledged, and they are told.",
            confirm="Take it",
            deny="Cancel",
        )
    if action_id == "ticket_reassign":
        return Confirm(
            title="Reassign this ticket?",
            text=f"You choose the new owner of {ticket.key} next, with a reason they will see.",
            confirm="Choose owner",
            deny="Cancel",
        )
    return None


def ticket_buttons(ticket: Ticket) -> list[Button]:
    """Every action the ticket's status allows (value: the ticket key); add yours here.
    :func:`arrange` picks the primary and secondary by status, the rest go in the menu."""
    status, key = Status(ticket.status), ticket.key
    buttons: list[Button] = []
    if status in (Status.ASSIGNED, Status.REOPENED):
        buttons.append(Button(text="Ack", action_id="ticket_ack", value=key))
    if is_open(status):
        buttons.append(Button(text="Take", action_id="ticket_take", value=key))
        buttons.append(Button(text="Reassign", action_id="ticket_reassign", value=key))
    buttons += resolution.card_buttons(ticket)
    if is_open(status):
        buttons.append(Button(text="Change severity", action_id="ticket_severity", value=key))
    return buttons


def card(
    renderer: Renderer,
    cfg: AppConfig,
    ticket: Ticket,
    buttons: Sequence[Button] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The card; ``buttons`` default to :func:`ticket_buttons`."""
    if buttons is None:
        buttons = ticket_buttons(ticket)
    return renderer.render("ticket_card", **card_context(renderer, cfg, ticket, buttons, now))
