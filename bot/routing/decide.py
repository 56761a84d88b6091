"""Routing: who is best placed to take a ticket, and when somebody next may be.

Pure and fast: :func:`decide` reads the configuration and a
:class:`~bot.routing.candidates.Snapshot` (open load, sensitive tickets today,
absences, the rotation pointer and the clock), never the database, so the same state
and clock give the same answer and property tests can drive it directly.
``bot.routing.workload`` takes the snapshot (of the members :func:`in_scope`);
``bot.routing.ownership`` applies the decision.

How a specialist is chosen, in order:

1. *Eligible*: a member of the pod owning the policy area, with the skill,
   speaking the ticket's language when ``routing.language`` is ``required``,
   not out of office, under their ``max_sensitive_per_day`` for sensitive
   areas, and on shift in their own time zone
   (:func:`~bot.routing.candidates.assess`).
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
5. Nobody eligible: the pod lead, or their stand-in while they are away (the deputy,
   else an admin: :mod:`bot.routing.standin`). :func:`next_chance` says when somebody may
   be (a shift starting, an absence or a day's cap ending), so the chain can
   try again then.

The reason starts with why the choice fell as it did (:func:`_because`: "Least busy
(1 open), speaks Spanish, on shift (11:00 in Madrid)"); :mod:`bot.routing.reasons` adds
who else was passed over, and why.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from bot.config import AppConfig
from bot.config.roster import Pod
from bot.routing.candidates import Candidate, Need, Snapshot, Why, assess, local_time, next_shift
from bot.routing.reasons import named, nobody, passed_over, reason_for
from bot.routing.standin import lead_now

#: The actor of assignments escbot makes itself (routing, escalation steps).
ROUTER = "escbot"

ONCALL, LEAST_LOADED, ROUND_ROBIN, LEAD = "oncall", "least_loaded", "round_robin", "lead"
AROUND_THE_CLOCK = "around_the_clock"


@dataclass(frozen=True)
class Decision:
    assignee: str
    via: str  # oncall | least_loaded | round_robin | lead
    reason: str  # the card's line, then the passed-over list (plain text, never mentions)
    candidates: tuple[Candidate, ...]
    pointer: int | None = None  # the new rotation pointer, None: unchanged
    notes: Mapping[str, Why] = field(default_factory=dict)  # eligible but passed over: why

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
                c.row(c.id == self.assignee, note.text if (note := self.notes.get(c.id)) else None)
                for c in self.candidates
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
    duty, notes = _first(cfg, need, usable if around else [c for c in usable if c.on_shift])
    if duty is None:
        eligible = [c for c in people if c.excluded is None]
        if eligible:
            return _by_strategy(cfg, pod, need, snap, people, rota, eligible)
        duty, notes = _first(cfg, need, usable)
    if duty is not None:
        current = cfg.oncall(pod.key, snap.now)
        no_speaker = bool(need.language) and not duty.speaks
        head = _because(cfg, need, duty, ONCALL, current=duty.id == current, no_speaker=no_speaker)
        for c in usable:
            notes.setdefault(c.id, Why("rotation", "later in the on-call rotation"))
        notes.pop(duty.id, None)
        passed = passed_over(people, rota, duty.id, notes, around or not duty.on_shift)
        return Decision(
            duty.id, ONCALL, reason_for(cfg, need, head, passed), tuple(people), notes=notes
        )
    passed = passed_over(people, rota, None, {}, True)
    holder = lead_now(cfg, pod, snap.away)
    reason = f"{nobody(cfg, need, passed, holder.phrase)}\n{named('Considered', passed)}"
    return Decision(holder.user, LEAD, reason, tuple(people))


def _first(
    cfg: AppConfig, need: Need, ordered: list[Candidate]
) -> tuple[Candidate | None, dict[str, Why]]:
    """The first of ``ordered`` (rotation order), speakers of the ticket's language first;
    and why the speakers' preference passed others over."""
    if not ordered:
        return None, {}
    pool, notes = _prefer_speakers(cfg, need, ordered)
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
    pool, notes = _prefer_speakers(cfg, need, eligible)
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
                notes[c.id] = Why("busier", _busier(c, chosen))
            elif c.id != chosen.id:
                notes[c.id] = Why("turn", "as busy, later in turn")
    else:
        chosen = min(pool, key=turn)
        for c in pool:
            if c.id != chosen.id:
                notes[c.id] = Why("turn", "later in turn")
    no_speaker = bool(need.language) and not chosen.speaks
    head = _because(cfg, need, chosen, strategy, tied=tied, no_speaker=no_speaker)
    around = cfg.routing.oncall_hours == AROUND_THE_CLOCK
    reason = reason_for(cfg, need, head, passed_over(people, rota, chosen.id, notes, around))
    pointer = order[chosen.id] + 1
    return Decision(chosen.id, strategy, reason, tuple(people), pointer, notes)


def _busier(c: Candidate, chosen: Candidate) -> str:
    """ "busier (3 open against 1)"; the same count but weightier tickets said so."""
    if c.open != chosen.open:
        return f"busier ({c.open} open against {chosen.open})"
    return f"busier (more urgent open tickets, {c.open} against {chosen.open})"


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
    cfg: AppConfig, need: Need, eligible: list[Candidate]
) -> tuple[list[Candidate], dict[str, Why]]:
    """With speakers of the ticket's language among the eligible, only they are considered;
    the others are noted as passed over."""
    speakers = [c for c in eligible if c.speaks]
    if not need.language or not speakers or len(speakers) == len(eligible):
        return eligible, {}
    note = Why("speakers", f"doesn't speak {cfg.language_name(need.language)}, a speaker was free")
    return speakers, {c.id: note for c in eligible if not c.speaks}


def _because(
    cfg: AppConfig,
    need: Need,
    c: Candidate,
    via: str,
    *,
    tied: bool = False,
    no_speaker: bool = False,
    current: bool = True,
) -> str:
    """E.g. "Least busy (1 open), speaks Spanish, on shift (10:14 in Madrid), 3 of 6
    sensitive today" (the card shows the policy area beside it), "On call for Graphic
    violence, …"."""
    area = cfg.area_title(need.area)
    if via == ONCALL:
        parts = [f"On call for {area}" if current else f"Next on call for {area}"]
    elif via == LEAST_LOADED:
        parts = [f"Least busy{', next in turn' if tied else ''} ({c.open} open)"]
    else:
        parts = [f"Next in turn ({c.open} open)"]
    language = cfg.language_name(need.language or "")
    if c.speaks:
        parts.append(f"speaks {language}")
    elif need.language and no_speaker:
        parts.append(f"nobody free speaks {language}")
    parts.append(f"{'on' if c.on_shift else 'off'} shift ({local_time(c.clock)})")
    if need.sensitive:
        today = c.sensitive_today + 1
        of = f" of {c.cap}" if c.cap is not None else ""
        parts.append(f"{today}{of} sensitive today")
    return ", ".join(parts)
