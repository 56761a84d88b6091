"""Resolving a ticket (decision, policy, rationale, vendor verdict) and reopening it.

Each function is one unit of work inside the caller's transaction: the
status change with its audit event, the SLA bookkeeping (:func:`bot.sla.sync`),
the thread line, the DMs and the card refresh commit together or not at all.
Input problems raise :class:`bot.core.forms.FieldErrors` before anything changes.
Waiting on the reporter is :mod:`bot.resolution.questions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot import sla
from bot.config import AppConfig
from bot.core.blockkit import Button
from bot.core.errors import DomainError
from bot.core.forms import FieldErrors
from bot.core.render import Renderer
from bot.core.text import clean
from bot.core.timefmt import duration
from bot.delivery import outbox
from bot.resolution.updates import announce, dm_owner, required
from bot.tickets import permissions
from bot.tickets.lifecycle import TRANSITIONS, Action, Change, Status, target, transition
from bot.tickets.permissions import Verb
from storage.models import Ticket

RATIONALE_MAX = 3000


@dataclass(frozen=True)
class Outcome:
    """What the resolve modal records; vendor fields only where a vendor decided first."""

    decision: str | None
    rationale: str | None
    policy_section: str | None = None
    vendor_correct: bool | None = None
    vendor_error_category: str | None = None


# -- the modals -------------------------------------------------------------------------


def resolve_form(renderer: Renderer, cfg: AppConfig, ticket: Ticket) -> dict[str, Any]:
    """The resolve modal; the vendor question only where a vendor decided first."""
    vendor = None
    if ticket.vendor:
        known = cfg.vendors.get(ticket.vendor)
        vendor = {
            "name": known.name if known else ticket.vendor,
            "error_categories": known.error_categories if known else (),
        }
    return renderer.render(
        "resolve_modal",
        t=ticket,
        decisions=cfg.resolution.decisions,
        sections=cfg.policy_areas[ticket.policy_area].policy_sections,
        vendor=vendor,
    )


def read_resolve_form(cfg: AppConfig, ticket: Ticket, values: dict[str, Any]) -> Outcome:
    """The submitted resolve modal (``bot.core.forms.values``) as an :class:`Outcome`."""
    sections = cfg.policy_areas[ticket.policy_area].policy_sections
    index = values.get("policy_section")
    section = (
        sections[int(index)] if index and index.isdigit() and int(index) < len(sections) else None
    )
    return Outcome(
        decision=values.get("decision"),
        rationale=values.get("rationale"),
        policy_section=section,
        vendor_correct={"yes": True, "no": False}.get(values.get("vendor_correct") or ""),
        vendor_error_category=values.get("vendor_error_category"),
    )


def reopen_form(renderer: Renderer, cfg: AppConfig, ticket: Ticket) -> dict[str, Any]:
    return renderer.render(
        "reopen_modal", t=ticket, decision=outcome_context(cfg, ticket)["decision"]
    )


def check_reopen(
    cfg: AppConfig, renderer: Renderer, ticket: Ticket, user: str, now: datetime
) -> None:
    """Who may reopen (:mod:`bot.tickets.permissions`), and until when; raises a
    DomainError that says why not."""
    permissions.check(cfg, ticket, user, Verb.REOPEN)
    target(Action.REOPEN, Status(ticket.status))  # a readable error if not resolved
    if not _reopenable_at(cfg, ticket, now):
        assert ticket.resolved_at is not None
        raise DomainError(
            f"{ticket.key} was resolved on {renderer.when(ticket.resolved_at)}; tickets can be "
            f"reopened for {duration(cfg.resolution.reopen_window)} after that. Please "
            f"open a new escalation and mention {ticket.key} in it."
        )


def check_outcome(cfg: AppConfig, ticket: Ticket, outcome: Outcome) -> Outcome:
    """The outcome with its text cleaned, or FieldErrors naming each bad field."""
    errors: dict[str, str] = {}
    if outcome.decision not in cfg.resolution.decisions:
        errors["decision"] = "Pick the decision taken."
    sections = cfg.policy_areas[ticket.policy_area].policy_sections
    if outcome.policy_section and outcome.policy_section not in sections:
        errors["policy_section"] = "Pick one of the policy's sections."
    rationale = clean(outcome.rationale or "").strip()
    if not rationale:
        errors["rationale"] = "Say why: the rationale is kept with the decision."
    elif len(rationale) > RATIONALE_MAX:
        errors["rationale"] = f"Keep it under {RATIONALE_MAX} characters."
    correct, category = None, None
    if ticket.vendor:
        correct = outcome.vendor_correct
        vendor = cfg.vendors.get(ticket.vendor)
        if correct is None:
            errors["vendor_correct"] = "Say whether the vendor's decision was right."
        elif correct is False:
            category = outcome.vendor_error_category
            allowed = vendor.error_categories if vendor else ()
            if allowed and category not in allowed:
                errors["vendor_error_category"] = "Pick what the vendor got wrong."
    if errors:
        raise FieldErrors(errors)
    return Outcome(outcome.decision, rationale, outcome.policy_section or None, correct, category)


def resolve(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    ticket: Ticket,
    outcome: Outcome,
    *,
    actor: str,
    now: datetime,
) -> Change:
    """Record the decision and close the ticket; the reporter learns the outcome by DM."""
    permissions.check(cfg, ticket, actor, Verb.RESOLVE)
    outcome = check_outcome(cfg, ticket, outcome)
    change = transition(
        session,
        ticket,
        Action.RESOLVE,
        actor=actor,
        now=now,
        payload={
            "decision": outcome.decision,
            "policy_section": outcome.policy_section,
            "rationale": outcome.rationale,
            "vendor_correct": outcome.vendor_correct,
            "vendor_error_category": outcome.vendor_error_category,
        },
    )
    ticket.decision = outcome.decision
    ticket.policy_section = outcome.policy_section
    ticket.rationale = outcome.rationale
    ticket.vendor_correct = outcome.vendor_correct
    ticket.vendor_error_category = outcome.vendor_error_category
    sla.sync(session, cfg, ticket, now)
    context = outcome_context(cfg, ticket) | {"actor": actor}
    announce(session, renderer, change.event, "resolution_notice", context, now)
    outbox.enqueue_dm(
        session,
        ticket.reporter_id,
        renderer.render("resolution_notice", **context, audience="dm"),
        f"dm:{ticket.id}:{change.event.id}:{ticket.reporter_id}",
        now,
        ticket=ticket,
    )
    return change


def outcome_context(cfg: AppConfig, ticket: Ticket) -> dict[str, Any]:
    """How the recorded outcome reads (card, thread, DM)."""
    vendor = cfg.vendors.get(ticket.vendor or "")
    verdict = None
    if ticket.vendor and ticket.vendor_correct is not None:
        name = vendor.name if vendor else ticket.vendor
        if ticket.vendor_correct:
            verdict = f"{name}: decision upheld"
        else:
            category = (ticket.vendor_error_category or "unspecified").replace("_", " ")
            verdict = f"{name}: decision overturned ({category})"
    return {
        "t": ticket,
        "decision": cfg.resolution.decisions.get(ticket.decision or "", ticket.decision or "—"),
        "policy_section": ticket.policy_section,
        "rationale": ticket.rationale or "",
        "verdict": verdict,
        "reopen_window": cfg.resolution.reopen_window,
    }


def reopen(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    ticket: Ticket,
    reason: str | None,
    *,
    actor: str,
    now: datetime,
) -> Change:
    """Reopen a resolved ticket within ``cfg.resolution.reopen_window``, with a reason."""
    check_reopen(cfg, renderer, ticket, actor, now)
    text = required(reason, "reason", "Say why the ticket needs another look.")
    sla.pause_while_resolved(cfg, ticket, now)
    change = transition(
        session, ticket, Action.REOPEN, actor=actor, now=now, payload={"reason": text}
    )
    ticket.reopened_count = (ticket.reopened_count or 0) + 1
    sla.sync(session, cfg, ticket, now)
    context = {"t": ticket, "kind": "reopened", "actor": actor, "text": text}
    announce(session, renderer, change.event, "ticket_update", context, now)
    dm_owner(session, cfg, renderer, ticket, change.event, context, now)
    return change


def reopen_allowed(cfg: AppConfig, ticket: Ticket, user: str, now: datetime) -> bool:
    """Offer Reopen (App Home) only where it would work."""
    return (
        ticket.status == Status.RESOLVED.value
        and _reopenable_at(cfg, ticket, now)
        and permissions.allowed(cfg, ticket, user, Verb.REOPEN)
    )


def _reopenable_at(cfg: AppConfig, ticket: Ticket, now: datetime) -> bool:
    """Still inside ``resolution.reopen_window`` of the decision."""
    return ticket.resolved_at is None or now - ticket.resolved_at <= cfg.resolution.reopen_window


def card_buttons(ticket: Ticket) -> list[Button]:
    """This module's buttons on the card, for the ticket's status.

    Follow-ups are often born after the decision, so "Add follow-up" stays on
    resolved cards, next to "Reopen".
    """
    status, key = Status(ticket.status), ticket.key
    buttons: list[Button] = []
    if status is Status.RESOLVED:
        buttons.append({"text": "Reopen", "action_id": "ticket_reopen", "value": key})
    if status in TRANSITIONS[Action.RESOLVE][0]:
        buttons.append({"text": "Resolve", "action_id": "ticket_resolve", "value": key})
    if status in TRANSITIONS[Action.WAIT][0]:
        buttons.append({"text": "Ask reporter", "action_id": "ticket_ask_reporter", "value": key})
    if status is Status.WAITING:  # the owner goes on without the answer
        buttons.append({"text": "Resume", "action_id": "ticket_resume", "value": key})
    buttons.append({"text": "Add follow-up", "action_id": "followup_add", "value": key})
    return buttons
