"""The escalation chain: a ticket nobody acknowledges moves up, one step at a time.

Steps come from ``routing.escalation_chain`` (``next_oncall``, ``lead``). Step
*n* is a durable timer with dedup key ``chain:<ticket id>:<n>``, so each step
is scheduled once, survives a restart, and fires once even with several
replicas (the timer runner takes it under a row lock, and the handler re-checks
the ticket under its own lock).

When it fires:

- step 1 is due when the ticket's time to acknowledge runs out (the SLA's TTA
  due time: business hours where the severity says so); each later step a full
  ``ack_within`` after the previous one, so every new owner gets a fair window;
- ``next_oncall`` goes to the first member of the on-call rotation, from the
  current on-call on, who has not had the ticket yet and passes the routing
  rules other than the shift (skill, language if required, not out of office,
  under the sensitive cap), one on shift first unless ``routing.oncall_hours``
  is ``around_the_clock``; ``lead`` goes to the pod lead, or while the lead is out
  of office to their stand-in (:mod:`bot.routing.standin`);
- the owner it moves away from is told why, and so is the new owner;
- a step with nobody to go to is passed over to the next; at the end of the
  chain the owner keeps the ticket and the thread says so;
- an acknowledged, taken, resolved or waiting ticket is left alone (Ack and
  Take cancel the pending step; the check covers everything else);
- once the chain gave a ticket to the lead, nothing is armed: the lead is the top.

The lead who got a ticket only because nobody was eligible (routing's fallback)
is not the top of anything: :func:`arm_retry` schedules a *retry* at the
earliest moment somebody may be eligible (a shift starting, an absence or a
day's cap ending) or after ``ack_within``, whichever comes first. A retry routes
the ticket again; if somebody qualifies it is theirs (and the chain starts for
them), else the next retry is armed, until the lead acknowledges it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import sla
from bot.config import AppConfig
from bot.config.roster import Pod
from bot.core.render import Renderer
from bot.delivery import timers
from bot.routing import notices as owner_notices
from bot.routing import workload
from bot.routing.assignment import assign_routed
from bot.routing.candidates import Need, assess
from bot.routing.decide import AROUND_THE_CLOCK, ROUTER, next_chance, rotation_order
from bot.routing.standin import lead_now
from bot.tickets.lifecycle import Action, Change, Status, record, transition
from storage.models import Ticket, Timer
from storage.queries import ticket_by_id

KIND = "chain"
RETRY = "retry"  # payload flag of a timer that routes a lead's fallback ticket again
HOLDER = "holder"  # who had the fallback ticket when the retry was armed: the lead or a stand-in
NEXT_ONCALL, LEAD = "next_oncall", "lead"
STEP_LABELS = {NEXT_ONCALL: "next on call", LEAD: "pod lead"}


def awaiting_ack(ticket: Ticket) -> bool:
    return ticket.status == Status.ASSIGNED.value and ticket.acked_at is None


def arm(session: Session, cfg: AppConfig, ticket: Ticket, now: datetime, tag: str = "") -> bool:
    """Schedule the ticket's next step if it waits for an ack; False if nothing was armed.
    ``tag`` makes the step's key new, for a step armed again (:func:`rearm`)."""
    steps = cfg.routing.escalation_chain
    level = (ticket.escalation_level or 0) + 1
    lead = cfg.pod_for_area(ticket.policy_area).lead
    if not awaiting_ack(ticket) or level > len(steps) or ticket.assignee_id == lead:
        return False
    due = sla.due(cfg, ticket, sla.TTA) if level == 1 else None
    if due is None or due <= now:
        due = window_end(cfg, ticket.severity, now)
    key = f"chain:{ticket.id}:{level}{tag}"
    return timers.schedule(session, KIND, key, due, ticket=ticket, payload={"level": level})


def arm_retry(
    session: Session, cfg: AppConfig, ticket: Ticket, now: datetime, tag: str = ""
) -> bool:
    """The lead has it for want of anyone eligible: route again when somebody may be."""
    if not awaiting_ack(ticket):
        return False
    pod = cfg.pod_for_area(ticket.policy_area)
    snap = workload.snapshot(session, cfg, pod, now, turn=False)
    due = window_end(cfg, ticket.severity, now)
    chance = next_chance(cfg, Need.of(ticket), snap, exclude={pod.lead})
    if chance is not None and chance < due:
        due = chance
    key = f"chain:{ticket.id}:retry:{int(due.timestamp())}{tag}"
    payload = {RETRY: True, HOLDER: ticket.assignee_id}
    return timers.schedule(session, KIND, key, due, ticket=ticket, payload=payload)


def rearm(session: Session, cfg: AppConfig, ticket: Ticket, now: datetime) -> None:
    """After a severity change: the pending step (or the fallback's retry) cancelled and
    armed again on the new severity's acknowledgement window."""
    pending = session.scalars(
        select(Timer.payload).where(
            Timer.ticket_id == ticket.id, Timer.kind == KIND, Timer.status == timers.PENDING
        )
    ).all()
    if not pending:
        return
    cancel(session, ticket)
    tag = f":s{ticket.id}-{int(now.timestamp())}"
    if any(p.get(RETRY) for p in pending):
        arm_retry(session, cfg, ticket, now, tag)
    else:
        arm(session, cfg, ticket, now, tag)


def window_end(cfg: AppConfig, severity: str, start: datetime) -> datetime:
    """``start`` plus the severity's ``ack_within``, on its SLA clock."""
    seconds = sla.target_seconds(cfg, severity, sla.TTA)
    return sla.clock_for(cfg, severity).add(start, seconds)


def cancel(session: Session, ticket: Ticket) -> int:
    """Drop the pending step (on Ack, Take, resolve)."""
    return timers.cancel(session, ticket.id, [KIND])


def make_timer_handler(cfg: AppConfig, renderer: Renderer) -> timers.TimerHandler:
    def fire(session: Session, timer: Timer, now: datetime) -> None:
        ticket = ticket_by_id(session, timer.ticket_id or 0, lock=True)
        if ticket is None or not awaiting_ack(ticket):
            return
        lead = cfg.pod_for_area(ticket.policy_area).lead
        if timer.payload.get(RETRY):
            holder = timer.payload.get(HOLDER, lead)
            if ticket.assignee_id == holder and not ticket.escalation_level:
                retry(session, cfg, renderer, ticket, now)
            return
        level = int(timer.payload.get("level", 0))
        if (ticket.escalation_level or 0) >= level or ticket.assignee_id == lead:
            return  # taken meanwhile, or handed to the lead: nobody is above
        escalate(session, cfg, renderer, ticket, level, now)

    return fire


def retry(
    session: Session, cfg: AppConfig, renderer: Renderer, ticket: Ticket, now: datetime
) -> Change | None:
    """Route the lead's fallback ticket again: to whoever qualifies now, or arm the next try."""
    lead, holder = cfg.pod_for_area(ticket.policy_area).lead, ticket.assignee_id
    decision = workload.route(session, cfg, ticket, now, exclude={lead})
    if decision.to_lead:
        arm_retry(session, cfg, ticket, now)
        return None
    change = assign_routed(session, cfg, ticket, decision, now, retry=True)
    sla.sync(session, cfg, ticket, now)
    arm(session, cfg, ticket, now)
    owner_notices.line(session, renderer, change.event, "found", now, previous=holder)
    owner_notices.dm_owner(session, cfg, renderer, change, "routed", now)
    if holder:
        owner_notices.moved(session, cfg, renderer, change, holder, "found", now)
    return change


def escalate(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    ticket: Ticket,
    level: int,
    now: datetime,
) -> Change | None:
    """Take step ``level`` (or the first later one that has somebody to go to)."""
    steps = cfg.routing.escalation_chain
    pod = cfg.pod_for_area(ticket.policy_area)
    had_it = workload.owners_of(session, ticket.id)
    waited = cfg.severities[ticket.severity].spell("ack_within")
    skipped: list[dict[str, str]] = []
    for at_level in range(level, len(steps) + 1):
        step = steps[at_level - 1]
        target = _target(session, cfg, pod, ticket, step, had_it, now, skipped)
        if target is None or target == ticket.assignee_id:
            continue
        previous = ticket.assignee_id
        change = transition(
            session,
            ticket,
            Action.ASSIGN,
            actor=ROUTER,
            now=now,
            assignee=target,
            payload={"escalation": {"level": at_level, "step": step, "skipped": skipped}},
        )
        ticket.escalation_level = at_level
        name = owner_notices.who(cfg, ticket, target)
        label = STEP_LABELS[step]
        if step == LEAD and target != pod.lead:
            label = "standing in for the pod lead, who is out of office"
        plain = name.startswith("the ") and label == STEP_LABELS[step]  # "the pod lead"
        role = "" if plain else f" ({label})"
        ticket.routing_reason = f"Escalated to {name}{role}: not acknowledged within {waited}"
        sla.sync(session, cfg, ticket, now)
        arm(session, cfg, ticket, now)
        owner_notices.line(
            session,
            renderer,
            change.event,
            "escalated",
            now,
            previous=previous,
            step=label,
            waited=waited,
        )
        owner_notices.dm_owner(session, cfg, renderer, change, "escalated", now)
        if previous:
            owner_notices.moved(
                session, cfg, renderer, change, previous, "moved", now, waited=waited
            )
        return change
    ticket.escalation_level = len(steps)
    event = record(
        session,
        ticket,
        "escalate",
        actor=ROUTER,
        now=now,
        payload={"level": level, "exhausted": True, "skipped": skipped},
    )
    owner_notices.line(session, renderer, event, "exhausted", now)
    return None


def _target(
    session: Session,
    cfg: AppConfig,
    pod: Pod,
    ticket: Ticket,
    step: str,
    had_it: set[str],
    now: datetime,
    skipped: list[dict[str, str]],
) -> str | None:
    """Who ``step`` goes to, noting in ``skipped`` whom it passed over and why."""
    snap = workload.snapshot(session, cfg, pod, now, turn=False)
    if step == LEAD:
        holder = lead_now(cfg, pod, snap.away)
        if holder.why:
            skipped.append({"step": step, "id": pod.lead, "why": holder.why})
        return holder.user
    rotation = pod.oncall
    if rotation is None:
        skipped.append({"step": step, "why": "the pod has no on-call rotation"})
        return None
    need = Need.of(ticket)
    free = []
    for user in rotation_order(cfg, pod, now):
        member = pod.member(user)
        if member is None:
            continue
        seen = assess(cfg, member, need, snap, exclude=had_it)
        if seen.barred is None:
            free.append(seen)
        elif not any(s.get("id") == member.id for s in skipped):
            skipped.append({"step": step, "id": member.id, "why": seen.barred})
    pool = [c for c in free if c.on_shift]
    if cfg.routing.oncall_hours == AROUND_THE_CLOCK or not pool:
        pool = free
    if not pool:
        return None
    chosen = pool[0]
    for c in free:  # earlier in the rotation, free but off shift
        if c is chosen:
            break
        skipped.append({"step": step, "id": c.id, "why": c.off_shift})
    return chosen.id
