"""SLA notices and the words for a clock: the card's and App Home's lines, and the
at-risk and breach notices queued when a timer fires.

A breach is addressed to whoever owned the ticket when the clock ran out, with the
lead copied; not to the owner an escalation step gave it to at that same instant (they
were told it is theirs).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config import AppConfig
from bot.core import timefmt
from bot.core.render import Renderer
from bot.core.timefmt import duration
from bot.delivery import outbox
from bot.sla.calendar import BREACH, TTA, TTR, span, target_seconds
from bot.sla.clocks import breached, due, stopped, used
from bot.tickets.lifecycle import Status, record
from storage.models import Ticket, TicketEvent

#: the actor of what the bot does by itself (notices), in the audit trail
SYSTEM_ACTOR = "escbot"
CLOCK_NAMES = {TTA: "time to acknowledge", TTR: "time to resolve"}
#: Each clock's target in app.yaml's severities (spelled out in notices: "30 minutes"),
#: and its verb ("missed its acknowledge target").
TARGET_KEYS = {TTA: "ack_within", TTR: "resolve_within"}
CLOCK_VERBS = {TTA: "acknowledge", TTR: "resolve"}


def describe(cfg: AppConfig, renderer: Renderer, ticket: Ticket, which: str) -> str:
    """One line for the card: due time, paused, or the measured time (mrkdwn, no user text)."""
    mark = " :rotating_light: breached" if breached(ticket, which) else ""
    measured = ticket.tta_seconds if which == TTA else ticket.ttr_seconds
    if stopped(ticket, which):
        if measured is None:
            return "done" + mark
        return f"done in {span(cfg, ticket.severity, measured)}" + mark
    if ticket.waiting_since is not None:
        spent = used(cfg, ticket, ticket.waiting_since)
        left = max(0, target_seconds(cfg, ticket.severity, which) - spent)
        return (
            f"paused while waiting on the reporter ({span(cfg, ticket.severity, left)} left)" + mark
        )
    when = due(cfg, ticket, which)
    return ("was due " if mark else "by ") + renderer.when(when) + mark


def standing(cfg: AppConfig, ticket: Ticket, now: datetime) -> str:
    """Where the running clock stands, in one phrase (mrkdwn, no user text): "ack due in
    25 minutes", ":rotating_light: ack target missed 10 minutes ago", "paused …".

    Relative times are ``{ago}`` date tokens, so a card posted an hour ago still reads
    right; the fallback is as of ``now``.
    """
    which = TTR if stopped(ticket, TTA) else TTA
    word = "ack" if which == TTA else "resolve"
    if ticket.status == Status.RESOLVED.value:
        took = ticket.ttr_seconds
        return "resolved" + (f" in {span(cfg, ticket.severity, took)}" if took is not None else "")
    if ticket.waiting_since is not None:
        spent = used(cfg, ticket, ticket.waiting_since)
        left = max(0, target_seconds(cfg, ticket.severity, which) - spent)
        return (
            f"paused while waiting on the reporter ({word} {span(cfg, ticket.severity, left)} left)"
        )
    when = due(cfg, ticket, which)
    if when is None:
        return f"{word} clock stopped"
    if breached(ticket, which) or when <= now:
        return f":rotating_light: {word} target missed {timefmt.slack_relative(when, now)}"
    return f"{word} due {timefmt.slack_relative(when, now)}"


def notify(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    ticket: Ticket,
    which: str,
    level: str,
    now: datetime,
) -> None:
    """Audit line, thread notice, DMs and card refresh.

    At risk: the owner is warned. Breach: whoever owned the ticket when the clock ran
    out is told, and the lead is copied; an owner who got it at that instant (an
    escalation step on the same due time) is not told it breached "on them".
    """
    due_at = due(cfg, ticket, which, BREACH)
    lead = cfg.pod_for_area(ticket.policy_area).lead
    responsible = ticket.assignee_id
    if level == BREACH and due_at is not None:
        responsible = owner_at(session, ticket, due_at) or responsible
    record(
        session,
        ticket,
        f"sla_{level}",
        actor=SYSTEM_ACTOR,
        now=now,
        payload={
            "clock": which,
            "due_at": due_at.isoformat() if due_at else None,
            "owner": responsible,
        },
    )
    context: dict[str, Any] = {
        "t": ticket,
        "clock_name": CLOCK_NAMES[which],
        "clock_verb": CLOCK_VERBS[which],
        "target": cfg.severities[ticket.severity].spell(TARGET_KEYS[which]),
        "left": duration(due_at - now) if due_at is not None and due_at > now else None,
        "level": level,
        "due_at": due_at,
        "responsible": responsible,
        "lead": lead,
    }
    # a breach goes before routine messages of its channel, whatever the severity
    priority = outbox.URGENT if level == BREACH else None
    outbox.enqueue_thread(
        session,
        ticket,
        renderer.render("sla_notice", **context, audience="thread", you=None),
        f"sla:{ticket.id}:{which}:{level}",
        now,
        priority=priority,
    )
    people = [responsible or lead]
    if level == BREACH and lead not in people:
        people.append(lead)
    for user in people:  # notices: one scheduler tick's breaches reach the lead as one DM
        outbox.enqueue_notice(
            session,
            user,
            renderer.render("sla_notice", **context, audience="dm", you=user),
            f"sla-dm:{ticket.id}:{which}:{level}:{user}",
            now,
            ticket=ticket,
            priority=priority,
        )
    ticket.updated_at = now
    outbox.enqueue_card(session, ticket, now)


def owner_at(session: Session, ticket: Ticket, at: datetime) -> str | None:
    """Who owned ``ticket`` just before ``at``: the last assign or take earlier than it."""
    session.flush()
    rows = session.execute(
        select(TicketEvent.action, TicketEvent.actor_id, TicketEvent.payload)
        .where(
            TicketEvent.ticket_id == ticket.id,
            TicketEvent.action.in_(("assign", "take")),
            TicketEvent.at < at,
        )
        .order_by(TicketEvent.at.desc(), TicketEvent.id.desc())
        .limit(1)
    ).first()
    if rows is None:
        return None
    action, actor, payload = rows
    return str(actor) if action == "take" else (payload or {}).get("assignee")
