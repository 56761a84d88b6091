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
2. ``routing.oncall_severities`` search the pod's on-call rotation in order,
   from the current on-call on (as the escalation chain does), for a member who
   meets every rule above except perhaps the shift. With ``routing.oncall_hours``
   ``prefer_on_shift`` (the default) the first one *on shift* wins (speakers of
   the ticket's language first); if none is, anyone eligible on shift (step 3);
   only then the first one off shift. ``around_the_clock``: the first one,
   whatever the hour.
3. Otherwise, with ``language: preferred``, speakers of the ticket's language
   are preferred over the rest of the eligible.
4. ``least_loaded``: the lowest open load, each open ticket weighing
   ``routing.severity_weights[sev]``; ties go to whoever comes next in turn.
   ``round_robin``: whoever comes next in turn. "In turn" is the pod's member
   list read from a stored pointer that moves past each member chosen, so turns
   rotate even when tickets arrive at the same instant.
5. Nobody eligible: the pod lead. :func:`next_chance` says when somebody may
   be (a shift starting, an absence or a day's cap ending), so the chain can
   try again then.

The reason names the chosen person and every other member with why they were
passed over ("Ana Silva: off shift until 09:00 Lisbon; Jonas: no self harm skill").
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, NamedTuple

from bot.config import AppConfig
from bot.config.fields import WEEKDAYS
from bot.config.model import Member, Pod

#: The actor of assignments escbot makes itself (routing, escalation steps).
ROUTER = "escbot"

ONCALL, LEAST_LOADED, ROUND_ROBIN, LEAD = "oncall", "least_loaded", "round_robin", "lead"
AROUND_THE_CLOCK = "around_the_clock"
#: How many passed-over people the reason names before "+n more".
PASSED_SHOWN = 8


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
    back: datetime | None = None  # off shift: their next shift start, local

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

    @property
    def off_shift(self) -> str:
        """E.g. "off shift until 09:00 Lisbon" (a day name when it is not today)."""
        if self.back is None:
            return "off shift"
        day = "" if self.back.date() == self.clock.date() else f"{self.back:%a} "
        return f"off shift until {day}{self.back:%H:%M} {city(self.clock)}"

    def why_not(self, shift_matters: bool = True) -> str | None:
        """Why they can't have it, in a lead's words: what the configuration says first
        (skill, language), then the shift, then the day's facts (away, at cap)."""
        if self.barred_kind in ("tried", "skill", "language"):
            return self.barred
        if shift_matters and not self.on_shift:
            return self.off_shift
        return self.barred

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


def city(clock: datetime) -> str:
    """The place of a zone name, as people say it: ``America/Sao_Paulo`` → ``Sao Paulo``."""
    return str(clock.tzinfo).rsplit("/", 1)[-1].replace("_", " ")


def area_words(area: str) -> str:
    """A policy area key as words: ``self_harm`` → ``self harm``."""
    return area.replace("_", " ")


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

    @property
    def chosen(self) -> Candidate | None:
        return next((c for c in self.candidates if c.id == self.assignee), None)

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


def rotation_order(cfg: AppConfig, pod: Pod, now: datetime) -> list[str]:
    """The on-call rotation from the current on-call on, each member once."""
    rotation = pod.oncall
    if rotation is None:
        return []
    order: list[str] = []
    for offset in range(len(rotation.members)):
        user = cfg.oncall(pod.key, now, offset)
        if user and user not in order:
            order.append(user)
    return order


def decide(cfg: AppConfig, need: Need, snap: Snapshot, exclude: Collection[str] = ()) -> Decision:
    """Choose the assignee for ``need``; ``exclude`` (e.g. the current owner) is never chosen."""
    pod = cfg.pod_for_area(need.area)
    clocks: dict[str, datetime] = {}  # local time per zone, computed once per zone
    for m in pod.members:
        if m.timezone not in clocks:
            clocks[m.timezone] = snap.now.astimezone(m.tz)
    people = [assess(cfg, m, need, snap, exclude, clocks[m.timezone]) for m in pod.members]
    oncall_path = need.severity in cfg.routing.oncall_severities and pod.oncall is not None
    rota: list[Candidate] = []
    if oncall_path:
        by_id = {c.id: c for c in people}
        rota = [by_id[u] for u in rotation_order(cfg, pod, snap.now) if u in by_id]
    usable = [c for c in rota if c.barred is None]
    around = cfg.routing.oncall_hours == AROUND_THE_CLOCK
    duty, notes = _first(need, usable if around else [c for c in usable if c.on_shift])
    if duty is None:
        eligible = [c for c in people if c.excluded is None]
        if eligible:
            return _by_strategy(cfg, pod, need, snap, people, rota, eligible)
        duty, notes = _first(need, usable)
    if duty is not None:
        current = cfg.oncall(pod.key, snap.now)
        reason = _because(need, duty, ONCALL, current=duty.id == current)
        for c in usable:
            notes.setdefault(c.id, "later in the on-call rotation")
        notes.pop(duty.id, None)
        return Decision(
            duty.id,
            ONCALL,
            reason + _passed(people, rota, duty.id, notes, around or not duty.on_shift),
            tuple(people),
            notes=notes,
        )
    reason = "Nobody eligible, so routed to the pod lead"
    reason += _passed(people, rota, None, {}, True, label="Considered")
    return Decision(pod.lead, LEAD, reason, tuple(people))


def _first(need: Need, ordered: list[Candidate]) -> tuple[Candidate | None, dict[str, str]]:
    """The first of ``ordered`` (rotation order), speakers of the ticket's language first;
    and why the speakers' preference passed others over."""
    if not ordered:
        return None, {}
    pool, notes = _prefer_speakers(need, ordered)
    return pool[0], notes


def _by_strategy(
    cfg: AppConfig,
    pod: Pod,
    need: Need,
    snap: Snapshot,
    people: list[Candidate],
    rota: list[Candidate],
    eligible: list[Candidate],
) -> Decision:
    """Least loaded or next in turn among the eligible (on shift) members."""
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
                notes[c.id] = f"busier (load {c.load} against {chosen.load})"
            elif c.id != chosen.id:
                notes[c.id] = "same load, later in turn"
    else:
        chosen = min(pool, key=turn)
        for c in pool:
            if c.id != chosen.id:
                notes[c.id] = "later in turn"
    no_speaker = bool(need.language) and not chosen.speaks
    reason = _because(need, chosen, strategy, tied=tied, no_speaker=no_speaker)
    around = cfg.routing.oncall_hours == AROUND_THE_CLOCK
    reason += _passed(people, rota, chosen.id, notes, around)
    pointer = order[chosen.id] + 1
    return Decision(chosen.id, strategy, reason, tuple(people), pointer, notes)


def in_scope(cfg: AppConfig, need: Need, now: datetime) -> set[str]:
    """Members routing could choose for ``need`` by configuration alone: with the skill,
    the language where it is required, and on shift, or in the on-call rotation for an
    on-call severity.

    Only their load and counts matter, so only theirs are read from the database.
    """
    pod = cfg.pod_for_area(need.area)
    rota: set[str] = set()
    if need.severity in cfg.routing.oncall_severities and pod.oncall is not None:
        rota = set(pod.oncall.members)
    required = cfg.routing.language == "required" and need.language
    return {
        m.id
        for m in pod.members
        if need.area in m.skills
        and (not required or need.language in m.languages)
        and (m.id in rota or m.on_shift(now))
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
        barred = ("skill", f"no {area_words(need.area)} skill")
    elif speaks is False and cfg.routing.language == "required":
        barred = ("language", f"doesn't speak {need.language}")
    elif (away := snap.away.get(member.id)) is not None:
        back = away.until.astimezone(member.tz)
        barred = ("away", f"out of office until {back:%a %d %b %H:%M}")
    elif need.sensitive and cap is not None and sensitive >= cap:
        barred = ("cap", f"at sensitive cap ({sensitive}/{cap} today)")
    on_shift = member.hours.covers(local, local.tzinfo)  # type: ignore[arg-type]
    return Candidate(
        id=member.id,
        name=member.name,
        clock=local,
        on_shift=on_shift,
        speaks=speaks,
        load=snap.load.get(member.id, 0),
        open=snap.open.get(member.id, 0),
        sensitive_today=sensitive,
        cap=cap,
        barred=barred[1] if barred else None,
        barred_kind=barred[0] if barred else None,
        back=None if on_shift else next_shift(member, local),
    )


def next_shift(member: Member, after: datetime) -> datetime | None:
    """The first instant at or after ``after`` when ``member`` is on shift (their zone)."""
    local = after.astimezone(member.tz)
    hours = member.hours
    if hours.covers(local, member.tz):
        return local
    for days in range(8):
        day = local.date() + timedelta(days=days)
        if WEEKDAYS[day.weekday()] in hours.days:
            start = datetime.combine(day, hours.start, tzinfo=member.tz)
            if start >= local:
                return start
    return None


def next_chance(
    cfg: AppConfig, need: Need, snap: Snapshot, exclude: Collection[str] = ()
) -> datetime | None:
    """The earliest instant someone of the pod may become eligible for ``need`` by the
    clock alone: a shift starting, an absence ending, a new day under the cap. None if
    nobody can (no skill, no language, or already had it)."""
    pod = cfg.pod_for_area(need.area)
    best: datetime | None = None
    for m in pod.members:
        c = assess(cfg, m, need, snap, exclude)
        start = snap.now
        if c.barred_kind == "away":
            start = snap.away[m.id].until
        elif c.barred_kind == "cap":
            local = snap.now.astimezone(m.tz)
            start = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=m.tz)
        elif c.barred_kind is not None:
            continue
        when = next_shift(m, start)
        if when is not None and when > snap.now and (best is None or when < best):
            best = when
    return best


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
    current: bool = True,
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
        head += f" (on call for {need.severity})" if current else " (next in the on-call rotation)"
    return f"{head}: {', '.join(parts)}"


def _passed(
    people: list[Candidate],
    rota: list[Candidate],
    chosen: str | None,
    notes: Mapping[str, str],
    around: bool,
    label: str = "Passed over",
) -> str:
    """ ". Passed over: Ana: off shift until 09:00 Lisbon; Jonas: no self harm skill": every
    member but the chosen, the on-call rotation first and in its order."""
    in_rota = {c.id for c in rota}
    ordered = rota + [c for c in people if c.id not in in_rota]
    shown: list[str] = []
    for c in ordered:
        if c.id == chosen:
            continue
        why = c.why_not(shift_matters=not (around and c.id in in_rota)) or notes.get(c.id)
        shown.append(f"{c.name}: {why or 'not on the on-call rotation'}")
    if not shown:
        return ""
    more = f"; +{len(shown) - PASSED_SHOWN} more" if len(shown) > PASSED_SHOWN else ""
    return f". {label}: {'; '.join(shown[:PASSED_SHOWN])}{more}"
