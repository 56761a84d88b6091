"""Following tickets without chasing anyone: ``/escalate status ESC-n`` and ``/escalate mine``.

A ticket can be about graphic or legally sensitive content, so its status is
shown only to the people involved: the reporter, whoever reported it too
(watchers), the owner, and the ticket's own pod and admins
(:mod:`bot.tickets.permissions`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import sla
from bot.config import AppConfig
from bot.core.desk import Desk
from bot.core.errors import NotFound
from bot.core.mrkdwn import SEVERITY_ICONS, channel, mention
from bot.core.render import Renderer
from bot.intake import following
from bot.intake.service import REPORTED_AGAIN, watchers
from bot.tickets import lookup, permissions
from bot.tickets.lifecycle import OPEN_STATUSES, status_label
from bot.tickets.permissions import Verb
from storage.models import Ticket, TicketEvent
from storage.queries import open_tickets_for, parse_ticket_key

RECENT_EVENTS = 5

_EVENT_LABELS = {
    "create": "opened",
    "assign": "assigned",
    "take": "taken",
    "acknowledge": "acknowledged",
    "wait_on_reporter": "waiting on the reporter",
    "resume": "resumed",
    "resolve": "resolved",
    "reopen": "reopened",
    "sla_at_risk": "SLA at-risk warning",
    "sla_breach": "SLA breach noted",
    "followup_added": "follow-up added",
    "followup_done": "follow-up closed",
    "followup_snoozed": "follow-up reminders snoozed",
    REPORTED_AGAIN: "reported again",
    following.ASKED: "asked to follow",
    following.ADMITTED: "follower added",
    following.DECLINED: "follow request declined",
}


def status(desk: Desk, key: str, *, viewer: str) -> dict[str, Any]:
    """The ``/escalate status`` answer; NotFound / Refused (audited) say why not."""
    if parse_ticket_key(key) is None:
        raise NotFound("Which ticket? Try `/escalate status ESC-12`.")
    cfg = desk.config
    with permissions.audited(desk.sessions, viewer, desk.clock.now()), desk.sessions() as s:
        ticket = lookup.by_key(s, key)
        permissions.check(cfg, ticket, viewer, Verb.SEE, watchers=watchers(s, ticket))
        return desk.renderer.render(
            "ticket_status", **status_context(s, cfg, desk.renderer, ticket)
        )


def status_context(
    session: Session, cfg: AppConfig, renderer: Renderer, ticket: Ticket
) -> dict[str, Any]:
    recent = list(
        session.scalars(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket.id)
            # refused attempts stay in the audit trail, but are not the ticket's history
            .where(TicketEvent.action != permissions.REFUSED)
            .order_by(TicketEvent.id.desc())
            .limit(RECENT_EVENTS)
        )
    )
    return {
        "t": ticket,
        "sev_icon": SEVERITY_ICONS.get(ticket.severity, ":large_purple_circle:"),
        "area_title": cfg.policy_areas[ticket.policy_area].title,
        "status": status_label(ticket.status),
        "owner": mention(ticket.assignee_id, "not assigned yet"),
        "reporter": mention(ticket.reporter_id),
        "ack_due": sla.describe(cfg, renderer, ticket, sla.TTA),
        "resolve_due": sla.describe(cfg, renderer, ticket, sla.TTR),
        "card_channel": channel(ticket.card_channel),
        "events": [event_line(renderer, e) for e in reversed(recent)],
    }


def event_line(renderer: Renderer, event: TicketEvent) -> str:
    """One audit event as mrkdwn: "Thu 26 Nov 10:00 GMT · assigned by @x to @y"."""
    label = _EVENT_LABELS.get(event.action, event.action.replace("_", " "))
    line = f"{renderer.when(event.at)} · {label} by {mention(event.actor_id)}"
    assignee = (event.payload or {}).get("assignee")
    if assignee and assignee != event.actor_id:
        line += f" to {mention(str(assignee))}"
    return line


def mine(desk: Desk, user: str) -> dict[str, Any]:
    """The ``/escalate mine`` answer: open tickets ``user`` reported or owns."""
    with desk.sessions() as session:
        return desk.renderer.render("my_tickets", **mine_context(session, desk.config, user))


def mine_context(session: Session, cfg: AppConfig, user: str) -> dict[str, Any]:
    tickets = open_tickets_for(session, user, [s.value for s in OPEN_STATUSES])
    return {
        "tickets": [
            {
                "t": t,
                "sev_icon": SEVERITY_ICONS.get(t.severity, ":large_purple_circle:"),
                "status": status_label(t.status),
                "role": "you own it" if t.assignee_id == user else "you reported it",
                "owner": mention(t.assignee_id, "not assigned yet"),
            }
            for t in tickets
        ],
        "intake": channel(cfg.workspace.intake_channel),
    }
