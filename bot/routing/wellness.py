"""Wellness on the hand-made paths: Take, Reassign and Decline respect the skill and the
sensitive cap that routing and the escalation chain already respect.

Routing and the chain never choose anyone without the skill or at their
``max_sensitive_per_day`` (``bot.routing.candidates.assess``). A person can still be
*given* a ticket by hand; that needs an explicit override with a reason, which is
audited. And whoever is at their cap may decline a sensitive ticket without
penalty: it is routed again and does not count towards their day.

The pod lead and admins are the backstop: no skill or cap applies to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from bot.config import AppConfig
from bot.routing import workload
from storage.models import Ticket


@dataclass(frozen=True)
class Exposure:
    """What giving ``ticket`` to one member would mean for them today."""

    name: str
    skilled: bool
    today: int  # sensitive tickets they were given today (this one, if they had it)
    cap: int | None
    has_it: bool  # this ticket already counts for them today
    sensitive: bool
    area: str  # the policy area's title

    @property
    def after(self) -> int:
        """Their sensitive count today once they have this ticket."""
        return self.today + (0 if self.has_it or not self.sensitive else 1)

    @property
    def over_cap(self) -> bool:
        return self.sensitive and self.cap is not None and self.after > self.cap

    @property
    def at_cap(self) -> bool:
        """At or over their cap with this ticket counted: they may decline it."""
        return self.sensitive and self.cap is not None and self.today >= self.cap

    @property
    def counts(self) -> str:
        """E.g. "sensitive today 3/6" (no cap: "sensitive today 3")."""
        return f"sensitive today {self.today}" + (f"/{self.cap}" if self.cap is not None else "")

    def problems(self) -> list[str]:
        """What an override would override, in words: "doesn't handle Suicide and
        self-harm", "at their sensitive cap (6 of 6 today)"."""
        found = [] if self.skilled else [f"doesn't handle {self.area}"]
        if self.over_cap:
            found.append(f"at their sensitive cap ({self.today} of {self.cap} today)")
        return found


def exposures(
    session: Session, cfg: AppConfig, ticket: Ticket, users: list[str], now: datetime
) -> dict[str, Exposure]:
    """The :class:`Exposure` of each pod member among ``users`` (others have no rules)."""
    pod = cfg.pod_for_area(ticket.policy_area)
    members = [m for u in users if u != pod.lead and (m := pod.member(u)) is not None]
    if not members:
        return {}
    ids = [m.id for m in members]
    seen = workload.sensitive_tickets(session, pod, now, ids) if ticket.sensitive else {}
    graded = workload.sensitive_qa_today(session, pod, now, ids) if ticket.sensitive else {}
    out = {}
    for m in members:
        mine = seen.get(m.id, set())
        out[m.id] = Exposure(
            name=m.name,
            skilled=ticket.policy_area in m.skills,
            today=len(mine) + graded.get(m.id, 0),  # sensitive QA items are exposure too
            cap=m.max_sensitive_per_day,
            has_it=ticket.id in mine,
            sensitive=bool(ticket.sensitive),
            area=cfg.area_title(ticket.policy_area),
        )
    return out


def exposure(
    session: Session, cfg: AppConfig, ticket: Ticket, user: str, now: datetime
) -> Exposure | None:
    """One person's :class:`Exposure`; None for the lead, admins and other non-members."""
    return exposures(session, cfg, ticket, [user], now).get(user)
