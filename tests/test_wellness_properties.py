"""Wellness on every path, as a property (hypothesis): whatever sequence of intake, Take,
Reassign (to someone, to yourself, or "route again"), Decline and escalation-chain steps
a desk goes through, nobody is given more sensitive tickets in a day than their
``max_sensitive_per_day``, and nobody a ticket outside their skills, unless somebody
overrode it explicitly (those events carry ``override``).

The domain entry points run on one SQLite database, emptied between examples, with a
fake clock; no HTTP, so 500 examples take seconds, not minutes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, event, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.config import AppConfig
from bot.core.clock import FakeClock
from bot.core.desk import Desk
from bot.core.errors import DomainError
from bot.core.render import Renderer
from bot.delivery.timers import TimerRunner
from bot.intake.draft import Draft
from bot.intake.service import open_ticket
from bot.routing import chain, ownership, workload
from storage.db import make_engine, make_session_factory, transaction, upgrade
from storage.models import Base, Counter, Ticket, TicketEvent

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)  # a Thursday
LEAD = "U0LEAD"
ALWAYS = {
    "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
    "start": "00:00",
    "end": "23:59",
}
NEVER = {"days": ["sat"], "start": "09:00", "end": "10:00"}
AREAS = ("hate", "gore")  # gore is sensitive


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker[Session]]:
    path: Path = tmp_path_factory.mktemp("wellness") / "escbot.db"
    engine = make_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _no_fsync(conn: Any, _record: Any) -> None:
        conn.execute("PRAGMA synchronous=OFF")  # a scratch file: speed over durability

    upgrade(engine)
    yield make_session_factory(engine)
    engine.dispose()


def empty(sessions: sessionmaker[Session]) -> None:
    """Back to the freshly migrated database: no rows, key counters at zero."""
    with transaction(sessions) as s:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name not in ("alembic_version", Counter.__tablename__):
                s.execute(delete(table))
        s.execute(delete(Counter).where(Counter.name.like("route:%")))
        s.execute(update(Counter).values(value=0))


@st.composite
def pods(draw: st.DrawFn) -> AppConfig:
    n = draw(st.integers(2, 4))
    members = [
        {
            "id": f"U{i:03d}",
            "name": f"Member {i}",
            "skills": draw(st.lists(st.sampled_from(AREAS), unique=True)),
            "languages": ["en"],
            "timezone": "UTC",
            "hours": draw(st.sampled_from([ALWAYS, ALWAYS, NEVER])),
            "max_sensitive_per_day": draw(st.one_of(st.none(), st.integers(0, 2))),
        }
        for i in range(n)
    ]
    return AppConfig.model_validate(
        {
            "workspace": {"intake_channel": "C0INTAKE", "timezone": "UTC"},
            "policy_areas": {
                "hate": {"title": "Hate", "pod": "pod"},
                "gore": {"title": "Gore", "pod": "pod", "sensitive": True},
            },
            "severities": {
                s: {"title": s, "ack_within": "15m", "resolve_within": "8h"}
                for s in ("sev0", "sev1", "sev2", "sev3")
            },
            "pods": {
                "pod": {
                    "title": "Pod",
                    "lead": LEAD,
                    "members": members,
                    "rotations": {
                        "primary": {"members": [m["id"] for m in members], "start": "2025-01-06"}
                    },
                    "oncall_rotation": "primary",
                }
            },
            "routing": {
                "strategy": draw(st.sampled_from(["least_loaded", "round_robin"])),
                "oncall_hours": draw(st.sampled_from(["prefer_on_shift", "around_the_clock"])),
            },
        }
    )


PERSON = st.integers(0, 4)  # 4: the lead
TICKET = st.integers(0, 7)
OPS = st.one_of(
    st.tuples(st.just("open"), st.sampled_from(AREAS), st.sampled_from(["sev0", "sev2"])),
    st.tuples(st.just("take"), PERSON, TICKET),
    st.tuples(st.just("reassign"), PERSON, TICKET, st.one_of(st.none(), PERSON), st.booleans()),
    st.tuples(st.just("self"), PERSON, TICKET, st.booleans()),
    st.tuples(st.just("decline"), TICKET),
    st.tuples(st.just("ack"), TICKET),
    st.tuples(st.just("chain"), st.integers(5, 40)),
)


def person(cfg: AppConfig, i: int) -> str:
    members = cfg.pods["pod"].members
    return LEAD if i >= len(members) else members[i].id


def apply(desk: Desk, run: TimerRunner, clock: FakeClock, keys: list[str], op: Any) -> None:
    cfg, kind = desk.config, op[0]
    key = keys[op[-1] % len(keys)] if keys and kind in ("decline", "ack") else None
    if kind in ("take", "reassign", "self") and keys:
        key = keys[op[2] % len(keys)]
    if kind == "open":
        draft = Draft(summary="s", policy_area=op[1], severity=op[2])
        with transaction(desk.sessions) as s:
            keys.append(
                open_ticket(s, cfg, desk.renderer, draft, reporter="U0PARTNER", now=clock.now()).key
            )
    elif kind == "chain":
        clock.advance(timedelta(minutes=op[1]))
        run.run_due()
    elif key is None:
        return
    elif kind == "take":
        ownership.take_ticket(desk, key, person(cfg, op[1]))
    elif kind in ("reassign", "self"):
        actor = person(cfg, op[1])
        to = actor if kind == "self" else (None if op[3] is None else person(cfg, op[3]))
        ownership.reassign_ticket(
            desk, key, actor, to=to, reason="why", submission=uuid4().hex, override=op[-1]
        )
    else:
        with desk.sessions() as s:
            owner = s.scalars(select(Ticket.assignee_id).where(Ticket.key == key)).one()
        if owner is None:
            return
        if kind == "decline":
            ownership.decline_ticket(desk, key, owner)
        else:
            ownership.acknowledge_ticket(desk, key, owner)


def check(sessions: sessionmaker[Session], cfg: AppConfig, now: datetime) -> None:
    """Nobody over their cap, nobody outside their skills, but by an explicit override."""
    pod = cfg.pods["pod"]
    with sessions() as s:
        events = s.scalars(
            select(TicketEvent).where(TicketEvent.action.in_(("assign", "take")))
        ).all()
        areas = {tid: area for tid, area in s.execute(select(Ticket.id, Ticket.policy_area))}
        overridden: dict[str, set[int]] = {}
        for e in events:
            owner = e.actor_id if e.action == "take" else e.payload.get("assignee")
            member = pod.member(owner or "")
            if member is None:
                continue
            if e.payload.get("override"):
                overridden.setdefault(member.id, set()).add(e.ticket_id)
            else:
                assert areas[e.ticket_id] in member.skills, (member.id, e.action, e.payload)
        seen = workload.sensitive_tickets(s, pod, now, pod.member_ids)
    for m in pod.members:
        cap = m.max_sensitive_per_day
        if cap is not None:
            counted = seen.get(m.id, set()) - overridden.get(m.id, set())
            assert len(counted) <= cap, (m.id, sorted(counted), cap)


@settings(max_examples=500, deadline=None)
@given(cfg=pods(), ops=st.lists(OPS, min_size=1, max_size=10))
def test_no_path_gives_anyone_more_than_their_cap_or_outside_their_skills(
    db: sessionmaker[Session], cfg: AppConfig, ops: list[Any]
) -> None:
    empty(db)
    clock = FakeClock(NOW)
    renderer = Renderer(cfg.team_tz)
    desk = Desk(db, cfg, renderer, clock)
    run = TimerRunner(db, clock)
    run.register(chain.KIND, chain.make_timer_handler(cfg, renderer))
    run.register("sla", lambda s, t, now: None)  # notices are not under test here
    keys: list[str] = []
    for op in ops:
        with contextlib.suppress(DomainError):  # refused (wellness, rights, state): no change
            apply(desk, run, clock, keys, op)
        check(db, cfg, clock.now())
