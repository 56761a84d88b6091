"""Follow-ups: added with checks, reminded before and when overdue exactly once each,
snoozed, closed; and listed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.config import AppConfig
from bot.core.clock import FakeClock
from bot.core.errors import DomainError, NotAllowed
from bot.core.forms import FieldErrors
from bot.core.render import Renderer
from bot.resolution import followups
from storage.db import transaction
from storage.models import FollowUp, OutboxMessage, Ticket, Timer
from tests.state import rows
from tests.test_resolution import LEAD, LUCIA, REPORTER, STRANGER, T0, new_ticket
from tests.test_sla_timers import runner

JONAS = "U05BER7JBK2"
DUE = date(2026, 12, 7)  # a Monday; due by 18:00 Dublin (= UTC in winter)
DUE_AT = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)


def add(
    sessions: sessionmaker[Session],
    cfg: AppConfig,
    ticket_id: int,
    *,
    now: datetime = T0,
    owner: str = JONAS,
    due: date | None = DUE,
    kind: str | None = "tooling",
    description: str | None = "Classifier misses slur variants with digits",
    actor: str = LUCIA,
) -> int:
    with transaction(sessions) as s:
        ticket = s.get_one(Ticket, ticket_id)
        fu = followups.add(
            s,
            cfg,
            Renderer(cfg.team_tz),
            ticket,
            kind=kind,
            description=description,
            owner=owner,
            due=due,
            actor=actor,
            now=now,
        )
        return fu.id


def reminders(sessions: sessionmaker[Session], owner: str = JONAS) -> list[str]:
    """The reminder DMs queued for ``owner``, as "due_soon"/"due_now"/"overdue" by their
    first line."""
    with sessions() as s:
        rows = s.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.channel == owner, OutboxMessage.dedup_key.like("followup-dm:%"))
            .order_by(OutboxMessage.id)
        )
        out = []
        for row in rows:
            line = row.payload["blocks"][0]["text"]["text"]
            out.append(
                "overdue"
                if "Overdue" in line
                else "due_now"
                if "Due now" in line
                else "due_soon"
                if "Due " in line
                else "added"
            )
        return out


def test_add_checks_every_field(sessions, config) -> None:  # type: ignore[no-untyped-def]
    tid = new_ticket(sessions, config)
    with pytest.raises(FieldErrors) as err:
        add(sessions, config, tid, kind="nope", description=" ", owner="", due=None)
    assert set(err.value.errors) == {"kind", "description", "owner", "due"}
    with pytest.raises(FieldErrors) as err:
        add(sessions, config, tid, due=date(2026, 11, 25))
    assert err.value.errors == {"due": "The due date can't be in the past."}
    add(sessions, config, tid, due=date(2026, 11, 26))  # today, before 18:00: fine
    # today after the business day: due by the end of the owner's day (Jonas: Berlin)
    evening = datetime(2026, 11, 26, 18, 30, tzinfo=UTC)
    fid = add(sessions, config, tid, due=date(2026, 11, 26), now=evening)
    with sessions() as s:
        assert s.get_one(FollowUp, fid).due_at == datetime(2026, 11, 26, 22, 59, tzinfo=UTC)
    after_midnight_in_berlin = datetime(2026, 11, 26, 23, 30, tzinfo=UTC)
    with pytest.raises(FieldErrors):  # still the 26th in Dublin, but the owner's day is over
        add(sessions, config, tid, due=date(2026, 11, 26), now=after_midnight_in_berlin)
    only = r"^Only members of the Critical Harms pod \(and escbot admins\) can add follow-ups to"
    with pytest.raises(NotAllowed, match=only + " ESC-1; nothing was changed.$"):
        add(sessions, config, tid, actor=REPORTER)


def test_added_follow_up_dms_its_owner_and_shows_on_the_card(sessions, config) -> None:  # type: ignore[no-untyped-def]
    tid = new_ticket(sessions, config)
    fid = add(sessions, config, tid)
    with sessions() as s:
        fu = s.get_one(FollowUp, fid)
        assert (fu.status, fu.due_at, fu.owner_id, fu.created_by) == ("open", DUE_AT, JONAS, LUCIA)
        [dm] = s.scalars(select(OutboxMessage).where(OutboxMessage.channel == JONAS)).all()
        assert "made you the owner" in dm.payload["blocks"][0]["text"]["text"]
        buttons = [e["text"]["text"] for e in dm.payload["blocks"][-1]["elements"]]
        assert buttons == ["Done"]
        ticket = s.get_one(Ticket, tid)
        card = followups.for_card(config, ticket)
        assert [r["state"] for r in card["rows"]] == ["open"]
        homes = s.scalars(select(OutboxMessage.channel).where(OutboxMessage.kind == "home")).all()
        assert f"home:{JONAS}" in homes


def test_next_reminder_schedule(sessions, config) -> None:  # type: ignore[no-untyped-def]
    tid = new_ticket(sessions, config)
    fid = add(sessions, config, tid)
    with sessions() as s:
        fu = s.get_one(FollowUp, fid)
        day = timedelta(days=1)
        assert followups.next_reminder(config, fu, T0) == DUE_AT - 2 * day  # remind_before 2d
        assert followups.next_reminder(config, fu, DUE_AT - 2 * day) == DUE_AT
        assert followups.next_reminder(config, fu, DUE_AT) == DUE_AT + day
        assert followups.next_reminder(config, fu, DUE_AT + day * 3.5) == DUE_AT + 4 * day
        fu.snoozed_until = DUE_AT + timedelta(hours=30)
        assert followups.next_reminder(config, fu, DUE_AT + day) == fu.snoozed_until
        assert followups.next_reminder(config, fu, fu.snoozed_until) == fu.snoozed_until + day


def test_reminded_before_and_when_overdue_exactly_once_each(sessions, config) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock(T0)
    timers = runner(sessions, config, clock)
    tid = new_ticket(sessions, config)
    fid = add(sessions, config, tid)
    for at, expected in [
        (DUE_AT - timedelta(days=2, seconds=1), ["added"]),
        (DUE_AT - timedelta(days=2), ["added", "due_soon"]),
        (DUE_AT - timedelta(hours=1), ["added", "due_soon"]),
        (DUE_AT, ["added", "due_soon", "due_now"]),  # at the due time: not overdue yet
        (DUE_AT + timedelta(hours=23), ["added", "due_soon", "due_now"]),
        (DUE_AT + timedelta(days=1), ["added", "due_soon", "due_now", "overdue"]),
    ]:
        clock.set(at)
        timers.run_due()
        timers.run_due()
        assert reminders(sessions) == expected, at
    with sessions() as s:
        last = s.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.channel == JONAS)
            .order_by(OutboxMessage.id.desc())
        ).first()
        assert last is not None
        buttons = [e["text"]["text"] for e in last.payload["blocks"][-1]["elements"]]
        assert buttons == ["Done", "Snooze 1 day"]
        assert followups.for_card(config, s.get_one(Ticket, tid))["rows"][0]["state"] == "overdue"
    with transaction(sessions) as s:
        followups.done(s, config, Renderer(config.team_tz), fid, actor=JONAS, now=clock.now())
    clock.advance(timedelta(days=10))
    assert timers.run_due() == 0
    assert reminders(sessions).count("overdue") == 1
    with sessions() as s:
        fu = s.get_one(FollowUp, fid)
        assert (fu.status, fu.done_at) == ("done", DUE_AT + timedelta(days=1))
        assert (
            s.scalars(
                select(Timer).where(Timer.kind == "followup", Timer.status == "pending")
            ).all()
            == []
        )


def test_snooze_moves_the_next_reminder_a_day(sessions, config) -> None:  # type: ignore[no-untyped-def]
    import sys

    sys.modules[__name__].reminders = (
        lambda f: lambda s, owner=JONAS: print(f(s, owner)) or f(s, owner)
    )(reminders)
    clock = FakeClock(DUE_AT)
    timers = runner(sessions, config, clock)
    tid = new_ticket(sessions, config)
    fid = add(sessions, config, tid)
    timers.run_due()
    snoozed_at = DUE_AT + timedelta(hours=2)
    clock.set(snoozed_at)
    with transaction(sessions) as s:
        followups.snooze(s, config, fid, actor=JONAS, now=snoozed_at)
    clock.set(DUE_AT + timedelta(days=1))  # the regular overdue reminder would be now
    timers.run_due()
    assert reminders(sessions).count("overdue") == 1
    clock.set(snoozed_at + timedelta(days=1))
    timers.run_due()
    timers.run_due()
    assert reminders(sessions).count("overdue") == 2
    clock.set(snoozed_at + timedelta(days=2))
    timers.run_due()
    assert reminders(sessions).count("overdue") == 3


def test_who_may_close_or_snooze(sessions, config) -> None:  # type: ignore[no-untyped-def]
    r = Renderer(config.team_tz)
    tid = new_ticket(sessions, config)
    fid = add(sessions, config, tid, owner=REPORTER)  # owners need not be in the pod
    only = r"^Only its owner or members of the Critical Harms pod can change follow-ups of ESC-1;"
    before = rows(sessions), due(sessions, fid)
    with pytest.raises(NotAllowed, match=only), transaction(sessions) as s:
        followups.snooze(s, config, fid, actor=STRANGER, now=T0)
    assert (rows(sessions), due(sessions, fid)) == before
    with transaction(sessions) as s:
        followups.snooze(s, config, fid, actor=REPORTER, now=T0)
    with transaction(sessions) as s:
        followups.done(s, config, r, fid, actor=LEAD, now=T0)
    before = rows(sessions)
    with pytest.raises(DomainError, match="already done"), transaction(sessions) as s:
        followups.done(s, config, r, fid, actor=LEAD, now=T0)
    assert rows(sessions) == before


def due(sessions: sessionmaker[Session], followup_id: int) -> tuple[object, ...]:
    with sessions() as s:
        fu = s.get_one(FollowUp, followup_id)
        return fu.status, fu.due_at, fu.snoozed_until


def test_listing_mine_and_the_teams(sessions, config) -> None:  # type: ignore[no-untyped-def]
    tid = new_ticket(sessions, config)
    for i in range(3):
        add(sessions, config, tid, owner=JONAS, description=f"jonas {i}")
    add(sessions, config, tid, owner=LUCIA, description="lucia")
    with sessions() as s:
        mine = followups.listing(s, config, JONAS, T0, limit=2)
        assert [r["fu"].description for r in mine["mine"]] == ["jonas 0", "jonas 1"]
        assert (mine["mine_more"], len(mine["team"]), mine["team_more"]) == (1, 2, 2)
        outsider = followups.listing(s, config, REPORTER, T0)
        assert (outsider["mine"], outsider["team"], outsider["is_pod"]) == ([], [], False)
