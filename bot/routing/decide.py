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

The reason is written for people, never in config ids: policy areas by title, languages
by name, people by their roster name, time zones by city. Its first line is the card's
("Least busy (1 open), speaks Spanish, on shift (11:00 in Madrid). 2 others passed over:
off shift"); the second names everyone passed over and why
("Passed over: Ana Silva, off shift until 09:00 in Lisbon; …"), for the owner's DM and the
thread (:func:`card_line` cuts it for the card).
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
#: How many passed-over people the reason names before "and n more".
PASSED_SHOWN = 8
#: How many kinds of "passed over" the card's clause counts ("2 off shift, 1 away").
KINDS_SHOWN = 3


class Why(NamedTuple):
    """Why somebody was not chosen: a kind (for the card's count) and the words."""

    kind: str  # tried skill language away cap shift | busier turn rotation speakers off_rota
    text: str


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
    barred_kind: str | None = None  # skill, language, away, cap, tried (see :class:`Why`)
    back: datetime | None = None  # off shift: their next shift start, local

    @property
    def local(self) -> str:
        """Their local time and zone for the audit table, e.g. ``11:00 Europe/Madrid``."""
        return f"{self.clock:%H:%M} {self.clock.tzinfo}"

    @property
    def excluded(self) -> str | None:
        return self.barred or (None if self.on_shift else f"off shift ({self.local})")

    @property
    def excluded_kind(self) -> str | None:
        return self.barred_kind or (None if self.on_shift else "shift")

    @property
    def off_shift(self) -> str:
        """E.g. "off shift until 09:00 in Lisbon" (a day name when it is not today)."""
        if self.back is None:
            return "off shift"
        day = "" if self.back.date() == self.clock.date() else f"{self.back:%a} "
        return f"off shift until {day}{local_time(self.back)}"

    def why_not(self, shift_matters: bool = True) -> Why | None:
        """Why they can't have it, in a lead's words: what the configuration says first
        (skill, language), then the shift, then the day's facts (away, at cap)."""
        if self.barred_kind in ("tried", "skill", "language"):
            return Why(self.barred_kind, self.barred or "")
        if shift_matters and not self.on_shift:
            return Why("shift", self.off_shift)
        if self.barred_kind is not None:
            return Why(self.barred_kind, self.barred or "")
        return None

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


def local_time(clock: datetime) -> str:
    """A local time as people say it: "12:08 in Nairobi"; a zone that is no place
    (``UTC``, ``Etc/GMT-3``) by its name: "12:08 UTC"."""
    zone = str(clock.tzinfo)
    if "/" not in zone or zone.startswith("Etc/"):
        return f"{clock:%H:%M} {city(clock)}"
    return f"{clock:%H:%M} in {city(clock)}"


def card_line(reason: str) -> str:
    """The card's part of a stored routing reason: its first line (the rest, the full
    passed-over list, is for the owner's DM and the thread)."""
    return reason.split("\n", 1)[0]


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
        passed = _passed(people, rota, duty.id, notes, around or not duty.on_shift)
        return Decision(
            duty.id, ONCALL, _reason(cfg, need, head, passed), tuple(people), notes=notes
        )
    passed = _passed(people, rota, None, {}, True)
    reason = f"{_nobody(cfg, need, passed)}\n{_listed('Considered', passed)}"
    return Decision(pod.lead, LEAD, reason, tuple(people))


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
    reason = _reason(cfg, need, head, _passed(people, rota, chosen.id, notes, around))
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
        barred = ("skill", f"doesn't handle {cfg.area_title(need.area)}")
    elif speaks is False and cfg.routing.language == "required":
        barred = ("language", f"doesn't speak {cfg.language_name(need.language or '')}")
    elif (away := snap.away.get(member.id)) is not None:
        back = away.until.astimezone(member.tz)
        barred = ("away", f"out of office until {back:%a %d %b} {local_time(back)}")
    elif need.sensitive and cap is not None and sensitive >= cap:
        barred = ("cap", f"at their sensitive cap ({sensitive} of {cap} today)")
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


def _passed(
    people: list[Candidate],
    rota: list[Candidate],
    chosen: str | None,
    notes: Mapping[str, Why],
    around: bool,
) -> list[tuple[Candidate, Why]]:
    """Every member but the chosen and why they weren't, the on-call rotation first and
    in its order."""
    in_rota = {c.id for c in rota}
    ordered = rota + [c for c in people if c.id not in in_rota]
    out = []
    for c in ordered:
        if c.id == chosen:
            continue
        why = c.why_not(shift_matters=not (around and c.id in in_rota)) or notes.get(c.id)
        out.append((c, why or Why("off_rota", "not on the on-call rotation")))
    return out


def _listed(label: str, passed: list[tuple[Candidate, Why]]) -> str:
    """ "Passed over: Ana Silva, off shift until 09:00 in Lisbon; Jonas Becker, …": the
    owner's DM and the thread."""
    shown = [f"{c.name}, {why.text}" for c, why in passed[:PASSED_SHOWN]]
    more = f"; and {len(passed) - PASSED_SHOWN} more" if len(passed) > PASSED_SHOWN else ""
    return f"{label}: {'; '.join(shown)}{more}" if shown else ""


def _short(cfg: AppConfig, need: Need, kind: str) -> str:
    """A kind of "passed over" in a few words, to be counted: "2 off shift"."""
    if kind in ("language", "speakers"):
        return f"without {cfg.language_name(need.language or '')}"
    return _SHORT.get(kind, kind)


_SHORT = {
    "tried": "already had it",
    "away": "away",
    "cap": "at their cap",
    "shift": "off shift",
    "busier": "busier",
    "turn": "later in turn",
    "rotation": "later on call",
    "off_rota": "not on call",
}


def _counted(cfg: AppConfig, need: Need, whys: list[Why]) -> str:
    """ "off shift" when all are alike, else "2 off shift, 1 away" (the commonest kinds)."""
    counts: dict[str, int] = {}
    for why in whys:
        label = _short(cfg, need, why.kind)
        counts[label] = counts.get(label, 0) + 1
    if len(counts) == 1:
        return next(iter(counts))
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:KINDS_SHOWN]
    return ", ".join(f"{n} {label}" for label, n in top)


def _reason(cfg: AppConfig, need: Need, head: str, passed: list[tuple[Candidate, Why]]) -> str:
    """The card's line (the choice, and who else could have had it in one clause), then
    the full list. Members who don't handle the area were never in the running: only the
    list names them."""
    rivals = [why for _, why in passed if why.kind != "skill"]
    line = head
    if rivals:
        n = len(rivals)
        line += f". {n} other{'s' if n != 1 else ''} passed over: {_counted(cfg, need, rivals)}"
    listed = _listed("Passed over", passed)
    return f"{line}\n{listed}" if listed else line


def _nobody(cfg: AppConfig, need: Need, passed: list[tuple[Candidate, Why]]) -> str:
    """Why the lead has it, in one line: "Nobody on shift speaks Portuguese, so the lead
    has it"."""
    area = cfg.area_title(need.area)
    whys = [why for _, why in passed if why.kind not in ("skill", "tried")]
    kinds = {why.kind for why in whys}
    language = cfg.language_name(need.language or "")
    if not whys:
        other = " else" if any(why.kind == "tried" for _, why in passed) else ""
        head = f"Nobody{other} in the pod handles {area}"
    elif kinds == {"language"}:
        head = f"Nobody who handles {area} speaks {language}"
    elif kinds == {"language", "shift"}:
        head = f"Nobody on shift speaks {language}"
    elif kinds == {"shift"}:
        head = f"Nobody who handles {area} is on shift"
    else:
        head = f"Nobody who handles {area} is free ({_counted(cfg, need, whys)})"
    return f"{head}, so the lead has it"
