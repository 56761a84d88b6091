"""Routing: who is best placed to take a ticket, and the one line that says why.

Pure and fast: :func:`decide` reads the configuration and a :class:`Snapshot`
(open load, sensitive tickets today, absences, the rotation pointer and the
clock), never the database, so the same state and clock give the same answer
and property tests can drive it directly. ``bot.routing.workload`` takes the snapshot;
``bot.routing.ownership`` applies the decision.

How a specialist is chosen, in order:

1. *Eligible*: a member of the pod owning the policy area, with the skill,
   speaking the ticket's language when ``routing.language`` is ``required``,
   not out of office, under their ``max_sensitive_per_day`` for sensitive
   areas, and on shift in their own time zone.
2. ``routing.oncall_severities`` go to the pod's current on-call when they meet
   every rule above except the shift (on-call is around the clock).
3. Otherwise, with ``language: preferred``, speakers of the ticket's language
   are preferred over the rest of the eligible.
4. ``least_loaded``: the lowest open load, each open ticket weighing
   ``routing.severity_weights[sev]``; ties go to whoever comes next in turn.
   ``round_robin``: whoever comes next in turn. "In turn" is the pod's member
   list read from a stored pointer that moves past each member chosen, so turns
   rotate even when tickets arrive at the same instant.
5. Nobody eligible: the pod lead, with every member's reason.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from bot.config import AppConfig
from bot.config.model import Member

#: The actor of assignments escbot makes itself (routing, escalation steps).
ROUTER = "escbot"

ONCALL, LEAST_LOADED, ROUND_ROBIN, LEAD = "oncall", "least_loaded", "round_robin", "lead"


@dataclass(frozen=True)
class Need:
    """What routing needs to know about a ticket."""

    area: str
    severity: str
    language: str | None = None
    sensitive: bool = False

    @classmethod
    def of(cls, ticket: Any) -> Need:
        return cls(ticket.policy_area, ticket.severity, ticket.language or None, ticket.sensitive)


@dataclass(frozen=True)
class Absence:
    until: datetime  # exclusive: the first instant they are back
    note: str = ""


@dataclass(frozen=True)
class Snapshot:
    """The state routing decides on, keyed by member id; missing keys read as zero."""

    now: datetime
    load: Mapping[str, int] = field(default_factory=dict)  # open tickets, severity-weighted
    open: Mapping[str, int] = field(default_factory=dict)  # open tickets, counted
    sensitive_today: Mapping[str, int] = field(default_factory=dict)  # since local midnight
    away: Mapping[str, Absence] = field(default_factory=dict)
    pointer: int = 0  # position in the pod's member list where the next turn starts


class Candidate(NamedTuple):
    """One pod member as routing saw them: the row of the audit table.

    A named tuple: routing builds one per member per decision, and pods can be big.
    """

    id: str
    name: str
    clock: datetime  # now, in their time zone
    on_shift: bool
    speaks: bool | None  # None: the ticket has no language
    load: int
    open: int
    sensitive_today: int
    cap: int | None
    barred: str | None = None  # a rule other than the shift that excludes them
    barred_kind: str | None = None  # skill, language, away, cap, tried

    @property
    def local(self) -> str:
        """Their local time and zone, e.g. ``11:00 Europe/Madrid``."""
        return f"{self.clock:%H:%M} {self.clock.tzinfo}"

    @property
    def excluded(self) -> str | None:
        return self.barred or (None if self.on_shift else f"off shift ({self.local})")

    @property
    def excluded_kind(self) -> str | None:
        return self.barred_kind or (None if self.on_shift else "shift")

    def row(self, chosen: bool, note: str | None) -> dict[str, Any]:
        """The audit row; load and counts only where they were weighed (read only for them)."""
        weighed = chosen or self.excluded is None
        return {
            "id": self.id,
            "name": self.name,
            "chosen": chosen,
            "excluded": self.excluded,
            "note": note,
            "local": self.local,
            "speaks": self.speaks,
            "load": self.load if weighed else None,
            "open": self.open if weighed else None,
            "sensitive_today": self.sensitive_today if weighed else None,
            "cap": self.cap,
        }


@dataclass(frozen=True)
class Decision:
    assignee: str
    via: str  # oncall | least_loaded | round_robin | lead
    reason: str  # one line for the card (plain text: names, never mentions)
    candidates: tuple[Candidate, ...]
    pointer: int | None = None  # the new rotation pointer, None: unchanged
    notes: Mapping[str, str] = field(default_factory=dict)  # eligible but passed over: why

    @property
    def to_lead(self) -> bool:
        return self.via == LEAD

    def audit(self, strategy: str) -> dict[str, Any]:
        """The whole candidate table, for the assign event."""
        return {
            "via": self.via,
            "strategy": strategy,
            "reason": self.reason,
            "candidates": [
                c.row(c.id == self.assignee, self.notes.get(c.id)) for c in self.candidates
            ],
        }


def decide(cfg: AppConfig, need: Need, snap: Snapshot, exclude: Collection[str] = ()) -> Decision:
    """Choose the assignee for ``need``; ``exclude`` (e.g. the current owner) is never chosen."""
    pod = cfg.pod_for_area(need.area)
    clocks: dict[str, datetime] = {}  # local time per zone, computed once per zone
    for m in pod.members:
        if m.timezone not in clocks:
            clocks[m.timezone] = snap.now.astimezone(m.tz)
    people = [assess(cfg, m, need, snap, exclude, clocks[m.timezone]) for m in pod.members]
    if need.severity in cfg.routing.oncall_severities and pod.oncall is not None:
        oncall = cfg.oncall(pod.key, snap.now)
        duty = next((c for c in people if c.id == oncall), None)
        if duty is not None and duty.barred is None:
            return Decision(duty.id, ONCALL, _because(need, duty, ONCALL), tuple(people))
    eligible = [c for c in people if c.excluded is None]
    if not eligible:
        return Decision(pod.lead, LEAD, _nobody(need, people), tuple(people))
    pool, notes = _prefer_speakers(need, eligible)
    order = {m.id: i for i, m in enumerate(pod.members)}
    size = len(pod.members)

    def turn(c: Candidate) -> int:
        return (order[c.id] - snap.pointer) % size

    strategy = cfg.routing.strategy
    tied = False
    if strategy == LEAST_LOADED:
        chosen = min(pool, key=lambda c: (c.load, turn(c)))
        tied = sum(1 for c in pool if c.load == chosen.load) > 1
        for c in pool:
            if c.load > chosen.load:
                notes[c.id] = f"load {c.load} > {chosen.load}"
            elif c.id != chosen.id:
                notes[c.id] = "same load, later in turn"
    else:
        chosen = min(pool, key=turn)
    no_speaker = bool(need.language) and not chosen.speaks
    reason = _because(need, chosen, strategy, tied=tied, no_speaker=no_speaker)
    pointer = order[chosen.id] + 1
    return Decision(chosen.id, strategy, reason, tuple(people), pointer, notes)


def in_scope(cfg: AppConfig, need: Need, now: datetime) -> set[str]:
    """Members routing could choose for ``need`` by configuration alone: with the skill,
    the language where it is required, and on shift, or on call for an on-call severity.

    Only their load and counts matter, so only theirs are read from the database.
    """
    pod = cfg.pod_for_area(need.area)
    oncall = None
    if need.severity in cfg.routing.oncall_severities and pod.oncall is not None:
        oncall = cfg.oncall(pod.key, now)
    required = cfg.routing.language == "required" and need.language
    return {
        m.id
        for m in pod.members
        if need.area in m.skills
        and (not required or need.language in m.languages)
        and (m.id == oncall or m.on_shift(now))
    }


def assess(
    cfg: AppConfig,
    member: Member,
    need: Need,
    snap: Snapshot,
    exclude: Collection[str] = (),
    local: datetime | None = None,
) -> Candidate:
    """``member`` against every rule; the first rule they fail (shift aside) is kept.

    ``local``: ``snap.now`` in the member's zone, if the caller has it already.
    """
    local = local or snap.now.astimezone(member.tz)
    speaks = None if not need.language else need.language in member.languages
    sensitive = snap.sensitive_today.get(member.id, 0)
    cap = member.max_sensitive_per_day
    barred: tuple[str, str] | None = None
    if member.id in exclude:
        barred = ("tried", "already had it")
    elif need.area not in member.skills:
        barred = ("skill", f"no {need.area} skill")
    elif speaks is False and cfg.routing.language == "required":
        barred = ("language", f"doesn't speak {need.language}")
    elif (away := snap.away.get(member.id)) is not None:
        back = away.until.astimezone(member.tz)
        barred = ("away", f"out of office until {back:%a %d %b %H:%M}")
    elif need.sensitive and cap is not None and sensitive >= cap:
        barred = ("cap", f"at sensitive cap ({sensitive}/{cap} today)")
    return Candidate(
        id=member.id,
        name=member.name,
        clock=local,
        on_shift=member.hours.covers(local, local.tzinfo),  # type: ignore[arg-type]
        speaks=speaks,
        load=snap.load.get(member.id, 0),
        open=snap.open.get(member.id, 0),
        sensitive_today=sensitive,
        cap=cap,
        barred=barred[1] if barred else None,
        barred_kind=barred[0] if barred else None,
    )


def _prefer_speakers(
    need: Need, eligible: list[Candidate]
) -> tuple[list[Candidate], dict[str, str]]:
    """With speakers of the ticket's language among the eligible, only they are considered;
    the others are noted as passed over."""
    speakers = [c for c in eligible if c.speaks]
    if not need.language or not speakers or len(speakers) == len(eligible):
        return eligible, {}
    note = f"doesn't speak {need.language} (speakers preferred)"
    return speakers, {c.id: note for c in eligible if not c.speaks}


def _because(
    need: Need,
    c: Candidate,
    via: str,
    *,
    tied: bool = False,
    no_speaker: bool = False,
) -> str:
    """E.g. "Routed to Ana: graphic_violence, speaks es, on shift (10:14 Europe/Madrid), …"."""
    parts = [need.area]
    if c.speaks:
        parts.append(f"speaks {need.language}")
    elif need.language and no_speaker:
        parts.append(f"no eligible {need.language} speaker")
    parts.append(f"on shift ({c.local})" if c.on_shift else f"off shift ({c.local})")
    opened = f"{c.open} open"
    if via == LEAST_LOADED:
        opened += " (least loaded, next in turn)" if tied else " (least loaded)"
    elif via == ROUND_ROBIN:
        opened += " (next in turn)"
    parts.append(opened)
    if need.sensitive:
        today = c.sensitive_today + 1
        cap = f"/{c.cap}" if c.cap is not None else ""
        parts.append(f"{today}{cap} sensitive today")
    head = f"Routed to {c.name}"
    if via == ONCALL:
        head += f" (on call for {need.severity})"
    return f"{head}: {', '.join(parts)}"


def _nobody(need: Need, people: list[Candidate], per_reason: int = 4) -> str:
    """Why nobody qualified, grouped by reason: "off shift: Ana, Ben; at sensitive cap: Cy"."""
    groups: dict[str, list[str]] = defaultdict(list)
    labels = {
        "tried": "already had it",
        "skill": f"no {need.area} skill",
        "language": f"don't speak {need.language}",
        "away": "out of office",
        "cap": "at sensitive cap",
        "shift": "off shift",
    }
    for c in people:
        if c.excluded_kind:
            groups[labels[c.excluded_kind]].append(c.name)
    shown = []
    for label, names in groups.items():
        more = f" +{len(names) - per_reason} more" if len(names) > per_reason else ""
        shown.append(f"{label}: {', '.join(names[:per_reason])}{more}")
    return f"Nobody eligible, so routed to the pod lead ({'; '.join(shown) or 'no members'})"
