"""SLA clocks: time to acknowledge (TTA) and time to resolve (TTR) per severity.

A clock counts either every second (``24x7``) or only the team calendar's
business hours, read in the team's time zone and skipping holidays
(``business_hours``). Everything is measured in *SLA seconds* on the
severity's clock, since the ticket was created, minus ``paused_seconds``:
the clock stands still while the ticket waits on the reporter
(``waiting_since``) and while it was resolved before being reopened.

Notices are durable timers: an at-risk warning at ``cfg.sla.at_risk_fraction``
of a target and a breach notice at 100 %, each at most once per ticket and
clock. An at-risk warning whose deadline has already passed (after downtime or a
clock jump) is never sent: the breach says it all. A breach is addressed to whoever
owned the ticket when the clock ran out, with the lead copied; not to the owner an
escalation step gave it to at that same instant (they were told it is theirs).

:func:`sync` is the one entry point after any change to a ticket: it closes or opens
pauses, stores measured times and breaches, and replaces the
pending timers (cancel + schedule under a new generation) so they always fire
at the due times the card shows.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.config import AppConfig, Calendar
from bot.config.fields import WEEKDAYS
from bot.core import timefmt
from bot.core.render import Renderer
from bot.core.timefmt import duration
from bot.delivery import outbox, timers
from bot.tickets.lifecycle import Status, record
from storage.models import Resolution, SlaBreach, Ticket, TicketEvent, Timer
from storage.queries import ticket_by_id

TTA, TTR = "tta", "ttr"
CLOCKS = (TTA, TTR)
AT_RISK, BREACH = "at_risk", "breach"
TIMER_KIND = "sla"
#: the actor of what the bot does by itself (notices), in the audit trail
SYSTEM_ACTOR = "escbot"
CLOCK_NAMES = {TTA: "time to acknowledge", TTR: "time to resolve"}
#: Each clock's target in app.yaml's severities (spelled out in notices: "30 minutes"),
#: and its verb ("missed its acknowledge target").
TARGET_KEYS = {TTA: "ack_within", TTR: "resolve_within"}
CLOCK_VERBS = {TTA: "acknowledge", TTR: "resolve"}
_MAX_DAYS = 3700  # a calendar always has a working day; this only bounds a bad loop


@dataclass(frozen=True)
class SlaClock:
    """Counts seconds every second, or only inside the calendar (``calendar`` set)."""

    tz: tzinfo
    calendar: Calendar | None = None

    def elapsed(self, start: datetime, end: datetime) -> int:
        """Whole SLA seconds between two aware instants (0 if ``end`` is not later)."""
        if end <= start:
            return 0
        if self.calendar is None:
            return int((end - start).total_seconds())
        total = timedelta(0)
        for opens, closes in self._windows(start):
            if opens >= end:
                break
            lo, hi = max(opens, start), min(closes, end)
            if hi > lo:
                total += hi - lo
        return int(total.total_seconds())

    def add(self, start: datetime, seconds: int) -> datetime:
        """The instant at which ``seconds`` SLA seconds have passed since ``start``."""
        if seconds <= 0:
            return start
        if self.calendar is None:
            return start + timedelta(seconds=seconds)
        left = timedelta(seconds=seconds)
        for opens, closes in self._windows(start):
            lo = max(opens, start)
            if closes <= lo:
                continue
            if left <= closes - lo:
                return lo + left
            left -= closes - lo
        raise ValueError("the calendar has no business hours in ten years")

    def _windows(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The business-hour windows (UTC) from ``start``'s local day on, in order.

        Each day's opening and closing are placed on that day's own UTC offset,
        so a window stays 09:00-18:00 local across daylight-saving changes.
        """
        cal = self.calendar
        assert cal is not None
        day: date = start.astimezone(self.tz).date()
        for _ in range(_MAX_DAYS):
            if WEEKDAYS[day.weekday()] in cal.days and day not in cal.holidays:
                opens = datetime.combine(day, cal.start, tzinfo=self.tz).astimezone(UTC)
                closes = datetime.combine(day, cal.end, tzinfo=self.tz).astimezone(UTC)
                yield opens, closes
            day += timedelta(days=1)


def clock_for(cfg: AppConfig, severity: str) -> SlaClock:
    sev = cfg.severities[severity]
    calendar = cfg.workspace.calendar if sev.clock == "business_hours" else None
    return SlaClock(cfg.team_tz, calendar)


def target_seconds(cfg: AppConfig, severity: str, which: str) -> int:
    """The target in seconds of the severity's clock.

    On a business-hours clock a day of the target is a working day (the
    calendar's opening hours) and a week a working week: ``2d`` from Thursday
    10:00 is due Monday 10:00, as a calendar says, not 48 business hours later.
    """
    sev = cfg.severities[severity]
    target = sev.ack_within if which == TTA else sev.resolve_within
    if not sev.business_hours:
        return target.seconds_on(None)
    cal = cfg.workspace.calendar
    return target.seconds_on(cal.working_day, len(cal.days))


def threshold(cfg: AppConfig, severity: str, which: str, level: str) -> int:
    """SLA seconds at which ``level`` (at-risk or breach) is reached on ``which``."""
    full = target_seconds(cfg, severity, which)
    return full if level == BREACH else math.ceil(full * cfg.sla.at_risk_fraction)


# -- where a ticket stands --------------------------------------------------------


def stopped(ticket: Ticket, which: str) -> bool:
    """TTA stops at the first acknowledgement, TTR at resolution."""
    if which == TTA:
        return (
            ticket.tta_seconds is not None
            or ticket.first_acked_at is not None
            or ticket.acked_at is not None
        )
    return ticket.status == Status.RESOLVED.value


def paused(ticket: Ticket) -> bool:
    return ticket.waiting_since is not None or ticket.status == Status.RESOLVED.value


def used(cfg: AppConfig, ticket: Ticket, at: datetime) -> int:
    """SLA seconds counted from creation to ``at``; a pause in progress freezes the count."""
    end = at
    if ticket.waiting_since is not None:
        end = min(end, ticket.waiting_since)
    if ticket.status == Status.RESOLVED.value and ticket.resolved_at is not None:
        end = min(end, ticket.resolved_at)
    counted = clock_for(cfg, ticket.severity).elapsed(ticket.created_at, end)
    return max(0, counted - (ticket.paused_seconds or 0))


def due(cfg: AppConfig, ticket: Ticket, which: str, level: str = BREACH) -> datetime | None:
    """When ``which`` reaches ``level``; None while stopped or paused (no due time then)."""
    if stopped(ticket, which) or paused(ticket):
        return None
    clock = clock_for(cfg, ticket.severity)
    seconds = threshold(cfg, ticket.severity, which, level) + (ticket.paused_seconds or 0)
    return clock.add(ticket.created_at, seconds)


def breached(ticket: Ticket, which: str) -> bool:
    return bool(ticket.tta_breached if which == TTA else ticket.ttr_breached)


def at_risk_now(cfg: AppConfig, ticket: Ticket, now: datetime) -> list[str]:
    """The running clocks of ``ticket`` past their at-risk share at ``now`` (App Home)."""
    if ticket.status == Status.RESOLVED.value:
        return []
    spent = used(cfg, ticket, now)
    return [
        which
        for which in CLOCKS
        if not stopped(ticket, which) and spent >= threshold(cfg, ticket.severity, which, AT_RISK)
    ]


def span(cfg: AppConfig, severity: str, seconds: int) -> str:
    """SLA seconds as a person reads them: ``1d 2h`` on a 24x7 clock, ``11h 5m of working
    time`` on a business-hours one (where "1d" would wrongly suggest a calendar day); the
    one duration format (:func:`bot.core.timefmt.duration`) either way."""
    if not cfg.severities[severity].business_hours:
        return duration(seconds)
    hours, rest = divmod(seconds, 3600)
    text = " ".join(
        part
        for part in (
            f"{hours}h" if hours else "",
            f"{rest // 60}m" if rest >= 60 or not hours else "",
        )
        if part
    )
    return f"{text} of working time"


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


# -- keeping the books ----------------------------------------------------------------


def sync(
    session: Session, cfg: AppConfig, ticket: Ticket, now: datetime, *, new: bool = False
) -> None:
    """Bring pauses, measured times, breaches and timers in line with the ticket's status.

    Idempotent; call it in the transaction of every change (create, ack,
    assign, wait, resume, resolve, reopen). ``new``: the ticket is being created in
    this transaction, so it has no SLA timers or notices yet to look up.
    """
    clock = clock_for(cfg, ticket.severity)
    status = Status(ticket.status)
    if ticket.waiting_since is not None and status is not Status.WAITING:
        ticket.paused_seconds = (ticket.paused_seconds or 0) + clock.elapsed(
            ticket.waiting_since, now
        )
        ticket.waiting_since = None
    elif status is Status.WAITING and ticket.waiting_since is None:
        ticket.waiting_since = now
    first_ack = ticket.first_acked_at or ticket.acked_at
    if first_ack is not None and ticket.tta_seconds is None:
        ticket.tta_seconds = _measure(cfg, ticket, first_ack)
        _late_breach(session, cfg, ticket, TTA, first_ack)
    if status is Status.RESOLVED and ticket.resolved_at is not None:
        ticket.ttr_seconds = _measure(cfg, ticket, ticket.resolved_at)
        _late_breach(session, cfg, ticket, TTR, ticket.resolved_at)
        _keep_resolution(session, ticket)
    reschedule(session, cfg, ticket, now, new=new)


def _keep_resolution(session: Session, ticket: Ticket) -> None:
    """The resolution as measured now, once: the KPIs of its day read it from here."""
    assert ticket.resolved_at is not None
    session.flush()
    kept = session.scalar(
        select(Resolution.id).where(
            Resolution.ticket_id == ticket.id, Resolution.at == ticket.resolved_at
        )
    )
    if kept is None:
        session.add(
            Resolution(
                ticket_id=ticket.id,
                at=ticket.resolved_at,
                severity=ticket.severity,
                ttr_seconds=ticket.ttr_seconds,
                ttr_breached=bool(ticket.ttr_breached),
                decision=ticket.decision,
                vendor=ticket.vendor,
                vendor_correct=ticket.vendor_correct,
                vendor_error_category=ticket.vendor_error_category,
            )
        )


def pause_while_resolved(cfg: AppConfig, ticket: Ticket, now: datetime) -> None:
    """On reopen: the time spent resolved does not count, and TTR is open again."""
    if ticket.resolved_at is not None:
        spent = clock_for(cfg, ticket.severity).elapsed(ticket.resolved_at, now)
        ticket.paused_seconds = (ticket.paused_seconds or 0) + spent
    ticket.ttr_seconds = None


def _measure(cfg: AppConfig, ticket: Ticket, at: datetime) -> int:
    counted = clock_for(cfg, ticket.severity).elapsed(ticket.created_at, at)
    return max(0, counted - (ticket.paused_seconds or 0))


def _late_breach(
    session: Session, cfg: AppConfig, ticket: Ticket, which: str, at: datetime
) -> None:
    """A target missed without its timer having fired yet is still a breach (KPIs)."""
    measured = ticket.tta_seconds if which == TTA else ticket.ttr_seconds
    if measured is not None and measured > target_seconds(cfg, ticket.severity, which):
        record_breach(session, cfg, ticket, which, at)


def record_breach(
    session: Session, cfg: AppConfig, ticket: Ticket, which: str, at: datetime
) -> bool:
    """Store the breach once per ticket and clock; False if it was already stored."""
    if breached(ticket, which):
        return False
    session.flush()
    clock = clock_for(cfg, ticket.severity)
    due_at = clock.add(
        ticket.created_at,
        target_seconds(cfg, ticket.severity, which) + (ticket.paused_seconds or 0),
    )
    row = SlaBreach(
        ticket_id=ticket.id, clock=which, severity=ticket.severity, due_at=due_at, at=at
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return False
    if which == TTA:
        ticket.tta_breached = True
    else:
        ticket.ttr_breached = True
    return True


def reschedule(
    session: Session,
    cfg: AppConfig,
    ticket: Ticket,
    now: datetime | None = None,
    *,
    new: bool = False,
) -> None:
    """Cancel the ticket's pending SLA timers and schedule the ones still to come; with
    ``now``, no at-risk warning whose breach is already due.

    The new timers' dedup keys carry a generation (the number of SLA timers
    the ticket ever had), so they never collide with cancelled or fired ones.
    A ``new`` ticket has none, nor notices: three statements of intake's fewer.
    """
    session.flush()
    generation, notified = 0, set()
    if not new:
        _cancel_pending(session, ticket.id)
        generation = (
            session.scalar(
                select(func.count())
                .select_from(Timer)
                .where(Timer.ticket_id == ticket.id, Timer.kind == TIMER_KIND)
            )
            or 0
        )
        notified = _at_risk_notified(session, ticket)
    coming: list[tuple[str, datetime, dict[str, Any]]] = []
    for which in CLOCKS:
        for level in (AT_RISK, BREACH):
            if (level == AT_RISK and which in notified) or (
                level == BREACH and breached(ticket, which)
            ):
                continue
            when = due(cfg, ticket, which, level)
            if when is None or (level == AT_RISK and _overdue(cfg, ticket, which, now)):
                continue
            key = f"sla:{ticket.id}:{which}:{level}:g{generation}"
            coming.append((key, when, {"clock": which, "level": level, "generation": generation}))
    timers.schedule_all(session, TIMER_KIND, ticket, coming)


def _overdue(cfg: AppConfig, ticket: Ticket, which: str, now: datetime | None) -> bool:
    """Has ``which`` reached its breach at ``now``? (Then an at-risk warning is stale.)"""
    if now is None:
        return False
    breach = due(cfg, ticket, which, BREACH)
    return breach is not None and breach <= now


def _cancel_pending(session: Session, ticket_id: int) -> None:
    """Cancel the ticket's pending SLA timers (not one a replica is firing this very
    moment: that handler re-checks the due time under the ticket's lock)."""
    timers.cancel_pending(session, Timer.ticket_id == ticket_id, Timer.kind == TIMER_KIND)


def _at_risk_notified(session: Session, ticket: Ticket) -> set[str]:
    payloads = session.scalars(
        select(TicketEvent.payload).where(
            TicketEvent.ticket_id == ticket.id, TicketEvent.action == "sla_at_risk"
        )
    )
    return {str(p.get("clock")) for p in payloads}


# -- firing ---------------------------------------------------------------------------


def make_timer_handler(cfg: AppConfig, renderer: Renderer) -> timers.TimerHandler:
    """The ``sla`` timer: post the at-risk or breach notice, once per ticket and clock."""

    def fire(session: Session, timer: Timer, now: datetime) -> None:
        ticket = ticket_by_id(session, timer.ticket_id or 0, lock=True)
        if ticket is None:
            return
        which, level = timer.payload["clock"], timer.payload["level"]
        if stopped(ticket, which) or paused(ticket):
            sync(session, cfg, ticket, now)  # e.g. an ack recorded without sync: catch up
            return
        when = due(cfg, ticket, which, level)
        if when is None or when > now:  # superseded by a reschedule racing this firing
            return
        if level == AT_RISK:
            if which in _at_risk_notified(session, ticket) or _overdue(cfg, ticket, which, now):
                return  # already warned, or too late to warn: the breach notice follows
        elif not record_breach(session, cfg, ticket, which, now):
            return
        notify(session, cfg, renderer, ticket, which, level, now)

    return fire


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
    ticket.version = (ticket.version or 0) + 1
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
