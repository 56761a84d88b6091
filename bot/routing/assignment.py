"""Giving a ticket to the owner routing chose: the one audited move that every route
(a new ticket, a decline, the chain's retry, a severity change, a handover) makes, so
the audit event always carries the decision's candidate table and the card its reason."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.config import AppConfig
from bot.routing.decide import ROUTER, Decision
from bot.tickets.lifecycle import Action, Change, transition
from storage.models import Ticket


def assign_routed(
    session: Session,
    cfg: AppConfig,
    ticket: Ticket,
    decision: Decision,
    now: datetime,
    *,
    reason: str | None = None,
    **payload: Any,
) -> Change:
    """Assign ``ticket`` to ``decision``'s owner as the router; ``reason`` (default: the
    decision's) is the card's routing line, ``payload`` more facts for the audit event."""
    change = transition(
        session,
        ticket,
        Action.ASSIGN,
        actor=ROUTER,
        now=now,
        assignee=decision.assignee,
        payload={"routing": decision.audit(cfg.routing.strategy), **payload},
    )
    ticket.routing_reason = reason or decision.reason
    return change
