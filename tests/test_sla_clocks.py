"""Where a ticket's clocks stand (in memory: used, due, at risk) and the books kept on them
(on a real database: pauses, measured times, breaches stored once, kept resolutions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.config import AppConfig
from bot.config.durations import parse_target
from bot.core.clock import FakeClock
from bot.sla.calendar import AT_RISK, TTA, TTR, clock_for
from bot.sla.clocks import (
    at_risk_now,
    deadline,
    due,
    pause_while_resolved,
    record_breach,
    settle,
    used,
)
from bot.tickets.lifecycle import Action, transition
from storage.db import transaction
from storage.models import Resolution, SlaBreach, Ticket
from tests.test_resolution import LEAD, LUCIA, act, new_ticket

DUBLIN = ZoneInfo("Europe/Dublin")
H, M = 3600, 60
T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)  # Thu, 10:00 in Dublin


def local(*args: int) -> datetime:
    """A Dublin wall-clock time as an aware UTC instant."""
    return datetime(*args, tzinfo=DUBLIN).astimezone(UTC)


def ticket(severity: str, created: datetime, **kw: object) -> Ticket:
    """An in-memory ticket: where its clocks stand needs no database."""
    fields: dict[str, object] = {
        "key": "ESC-1",
        "severity": severity,
        "status": "acknowledged",
        "created_at": created,
        "paused_seconds": 0,
        "tta_breached": False,
        "ttr_breached": False,
    }
    return Ticket(**{**fields, **kw})


# -- where a ticket stands ----------------------------------------------------------------


def test_business_ttr_skips_holiday_weekend_dst_and_the_pause(config: AppConfig) -> None:
    # sev3: created Fri 23 Oct 15:00 IST; summer time ends Sun 25; Mon 26 is a bank holiday;
    # waiting on the reporter Tue 27 10:00-12:00 GMT; resolved Wed 28 11:00 GMT.
    clock = clock_for(config, "sev3")
    paused = clock.elapsed(local(2026, 10, 27, 10, 0), local(2026, 10, 27, 12, 0))
    assert paused == 2 * H
    t = ticket(
        "sev3",
        local(2026, 10, 23, 15, 0),
        paused_seconds=paused,
        status="resolved",
        resolved_at=local(2026, 10, 28, 11, 0),
    )
    # Fri 3h + Tue 9h + Wed 2h = 14h counted, 2h of it paused
    assert used(config, t, local(2026, 11, 30, 0, 0)) == 12 * H


def test_spring_forward_ttr_with_a_pause(config: AppConfig) -> None:
    clock = clock_for(config, "sev2")
    paused = clock.elapsed(local(2026, 3, 30, 9, 30), local(2026, 3, 30, 10, 0))
    t = ticket("sev2", local(2026, 3, 27, 16, 0), paused_seconds=paused)
    # Fri 2h + Mon 3h (IST) - 30m
    assert used(config, t, local(2026, 3, 30, 12, 0)) == 4 * H + 30 * 60


def test_due_times_shift_by_the_pause_and_freeze_while_waiting(config: AppConfig) -> None:
    t = ticket("sev2", local(2026, 11, 26, 10, 0))  # Thu: 4 working hours, 2 working days
    assert due(config, t, TTA) == local(2026, 11, 26, 14, 0)
    assert due(config, t, TTA, AT_RISK) == local(2026, 11, 26, 13, 0)
    assert due(config, t, TTR) == local(2026, 11, 30, 10, 0)  # Monday, same time
    assert due(config, t, TTR, AT_RISK) == local(2026, 11, 27, 14, 30)  # 75% of 18h: 8h + 5.5h
    t.paused_seconds = 2 * H
    assert due(config, t, TTA) == local(2026, 11, 26, 16, 0)
    t.waiting_since = local(2026, 11, 26, 11, 0)
    assert due(config, t, TTA) is None
    assert deadline(config, t, TTA) == local(2026, 11, 26, 16, 0)  # the formula still answers
    assert used(config, t, local(2026, 12, 1, 0, 0)) == 0  # 1h counted, 2h paused before
    t.acked_at = local(2026, 11, 26, 10, 30)
    assert due(config, t, TTA) is None and due(config, t, TTR) is None


def test_at_risk_from_its_share_of_the_target_while_the_clock_runs(config: AppConfig) -> None:
    t = ticket("sev0", T0)  # 24x7: ack 15m, resolve 4h
    assert at_risk_now(config, t, T0 + timedelta(seconds=674)) == []
    assert at_risk_now(config, t, T0 + timedelta(seconds=675)) == [TTA]
    assert at_risk_now(config, t, T0 + timedelta(hours=3)) == [TTA, TTR]
    t.acked_at = T0 + timedelta(minutes=1)
    assert at_risk_now(config, t, T0 + timedelta(hours=3)) == [TTR]
    t.status = "resolved"
    assert at_risk_now(config, t, T0 + timedelta(hours=5)) == []


@pytest.mark.parametrize(
    ("severity", "created", "which", "expected", "why"),
    [
        ("sev2", (2026, 11, 26, 10, 0), TTR, (2026, 11, 30, 10, 0), "Thu + 2 working days"),
        ("sev2", (2026, 12, 3, 17, 0), TTR, (2026, 12, 7, 17, 0), "resolve by Mon 7 Dec 17:00"),
        ("sev2", (2026, 11, 26, 20, 0), TTR, (2026, 11, 30, 18, 0), "after hours: end of Mon"),
        ("sev2", (2026, 11, 28, 11, 0), TTR, (2026, 12, 1, 18, 0), "Saturday: end of Tuesday"),
        (
            "sev2",
            (2026, 11, 27, 16, 0),
            TTA,
            (2026, 11, 30, 11, 0),
            "4 working hours over a weekend",
        ),
        ("sev3", (2026, 12, 3, 10, 0), TTA, (2026, 12, 4, 10, 0), "1 working day: Fri 10:00"),
        ("sev3", (2026, 12, 3, 10, 0), TTR, (2026, 12, 10, 10, 0), "5 working days: a week"),
        # Christmas: Fri 25 and Mon 28 Dec 2026 are holidays, so are the weekend days
        ("sev2", (2026, 12, 23, 12, 0), TTR, (2026, 12, 29, 12, 0), "holidays skipped"),
        ("sev3", (2026, 12, 24, 15, 0), TTA, (2026, 12, 29, 15, 0), "Christmas Eve + 1 day"),
        # summer time starts Sun 29 Mar 2026: the local time is kept, not the UTC one
        ("sev3", (2026, 3, 27, 10, 0), TTA, (2026, 3, 30, 10, 0), "across spring forward"),
        ("sev2", (2026, 10, 23, 15, 0), TTR, (2026, 10, 28, 15, 0), "autumn back + holiday"),
    ],
)
def test_working_days_land_where_a_calendar_says(
    config: AppConfig,
    severity: str,
    created: tuple[int, ...],
    which: str,
    expected: tuple[int, ...],
    why: str,
) -> None:
    t = ticket(severity, local(*created), status="assigned")
    assert due(config, t, which) == local(*expected), why


def test_weeks_are_working_weeks_and_24x7_days_are_calendar_days(config: AppConfig) -> None:
    sev3 = config.severities["sev3"].model_copy(update={"resolve_within": parse_target("1w")})
    cfg = config.model_copy(update={"severities": {**config.severities, "sev3": sev3}})
    t = ticket("sev3", local(2026, 12, 2, 10, 0), status="assigned")  # Wed
    assert due(cfg, t, TTR) == local(2026, 12, 9, 10, 0)  # five working days
    sev1 = config.severities["sev1"].model_copy(update={"resolve_within": parse_target("2d")})
    cfg = config.model_copy(update={"severities": {**config.severities, "sev1": sev1}})
    t = ticket("sev1", local(2026, 11, 28, 10, 0), status="assigned")  # Sat, 24x7
    assert due(cfg, t, TTR) == local(2026, 11, 30, 10, 0)


# -- keeping the books, on a real database ------------------------------------------------


def move(
    sessions: sessionmaker[Session],
    cfg: AppConfig,
    tid: int,
    action: Action,
    clock: FakeClock,
    *,
    actor: str | None = None,
    assignee: str | None = None,
) -> Ticket:
    """``action`` on the locked ticket at the clock's time (by its owner unless ``actor``),
    its books settled in the same transaction."""

    def do(s: Session, t: Ticket) -> None:
        now = clock.now()
        if action is Action.REOPEN:
            pause_while_resolved(cfg, t, now)
        who = actor or t.assignee_id or LEAD
        transition(s, t, action, actor=who, now=now, assignee=assignee)
        settle(s, cfg, t, now)

    return act(sessions, tid, do)


def test_a_wait_pauses_both_clocks_for_its_working_seconds(sessions, config) -> None:  # type: ignore[no-untyped-def]
    friday = local(2026, 11, 27, 16, 0)
    clock = FakeClock(friday)
    tid = new_ticket(sessions, config, friday, severity="sev2")  # business hours: 4h, 2 days
    clock.advance(timedelta(minutes=30))
    t = move(sessions, config, tid, Action.ACKNOWLEDGE, clock)
    assert (t.tta_seconds, t.waiting_since) == (30 * M, None)
    clock.advance(timedelta(minutes=30))
    t = move(sessions, config, tid, Action.WAIT, clock)
    assert t.waiting_since == local(2026, 11, 27, 17, 0)
    assert due(config, t, TTR) is None
    assert used(config, t, local(2026, 11, 30, 12, 0)) == H  # frozen at the question
    clock.set(local(2026, 11, 30, 10, 0))  # the reporter answers on Monday
    t = move(sessions, config, tid, Action.RESUME, clock)
    assert (t.paused_seconds, t.waiting_since) == (2 * H, None)  # Fri 17-18, Mon 9-10
    assert used(config, t, local(2026, 11, 30, 11, 0)) == 2 * H  # Fri 16-17, Mon 10-11
    # 18 working hours from Fri 16:00 (Fri 2h, Mon 9h, Tue 7h), then 2 paused ones
    assert due(config, t, TTR) == local(2026, 12, 1, 18, 0)
    with transaction(sessions) as s:  # settling again changes nothing
        again = s.get_one(Ticket, tid)
        settle(s, config, again, clock.now() + timedelta(hours=3))
        assert (again.paused_seconds, again.tta_seconds) == (2 * H, 30 * M)


def test_tta_is_measured_once_from_the_first_ack_and_a_late_one_is_a_breach(
    sessions,  # type: ignore[no-untyped-def]
    config,
) -> None:
    clock = FakeClock(T0)
    tid = new_ticket(sessions, config, severity="sev0")  # 24x7: ack within 15m
    clock.advance(timedelta(minutes=20))  # no timer fired: the ack itself finds the breach
    t = move(sessions, config, tid, Action.ACKNOWLEDGE, clock)
    assert (t.tta_seconds, t.tta_breached) == (20 * M, True)
    clock.advance(timedelta(minutes=10))
    move(sessions, config, tid, Action.ASSIGN, clock, actor=LEAD, assignee=LUCIA)
    clock.advance(timedelta(minutes=10))
    t = move(sessions, config, tid, Action.ACKNOWLEDGE, clock, actor=LUCIA)
    assert (t.tta_seconds, t.acked_at) == (20 * M, T0 + timedelta(minutes=40))
    with sessions() as s:
        breaches = s.scalars(select(SlaBreach)).all()
        assert [(b.clock, b.severity, b.due_at, b.at) for b in breaches] == [
            ("tta", "sev0", T0 + timedelta(minutes=15), T0 + timedelta(minutes=20))
        ]


def test_each_resolution_is_kept_once_as_measured_then(sessions, config) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock(T0)
    tid = new_ticket(sessions, config, severity="sev0")  # 24x7: resolve within 4h
    clock.advance(timedelta(minutes=5))
    move(sessions, config, tid, Action.ACKNOWLEDGE, clock)
    clock.set(T0 + timedelta(hours=1))
    t = move(sessions, config, tid, Action.RESOLVE, clock)
    assert (t.ttr_seconds, t.ttr_breached) == (H, False)
    with transaction(sessions) as s:
        settle(s, config, s.get_one(Ticket, tid), T0 + timedelta(hours=2))
    clock.set(T0 + timedelta(hours=3))  # two hours resolved: they don't count
    t = move(sessions, config, tid, Action.REOPEN, clock, actor=LUCIA)
    assert (t.paused_seconds, t.ttr_seconds) == (2 * H, None)
    assert due(config, t, TTR) == T0 + timedelta(hours=6)
    clock.set(T0 + timedelta(hours=8))
    t = move(sessions, config, tid, Action.RESOLVE, clock)
    assert (t.ttr_seconds, t.ttr_breached) == (6 * H, True)  # 8h open, 2h of them resolved
    with sessions() as s:
        kept = s.scalars(select(Resolution).order_by(Resolution.at)).all()
        assert [(r.at, r.severity, r.ttr_seconds, r.ttr_breached) for r in kept] == [
            (T0 + timedelta(hours=1), "sev0", H, False),  # the first day's figures stay
            (T0 + timedelta(hours=8), "sev0", 6 * H, True),
        ]
        breach = s.scalars(select(SlaBreach).where(SlaBreach.clock == TTR)).one()
        assert (breach.due_at, breach.at) == (T0 + timedelta(hours=6), T0 + timedelta(hours=8))


def test_a_breach_is_stored_once_even_by_a_stale_copy(sessions, config) -> None:  # type: ignore[no-untyped-def]
    tid = new_ticket(sessions, config, severity="sev0")
    at = T0 + timedelta(minutes=15)
    with transaction(sessions) as s:
        t = s.get_one(Ticket, tid)
        assert record_breach(s, config, t, TTA, at) is True
        assert record_breach(s, config, t, TTA, at) is False  # the flag answers
    with transaction(sessions) as s:
        t = s.get_one(Ticket, tid)
        t.tta_breached = False  # as a copy read before the first breach committed has it
        assert record_breach(s, config, t, TTA, at + timedelta(minutes=1)) is False
        # the unique row refused it inside a savepoint: this transaction goes on
        assert s.scalar(select(func.count()).select_from(SlaBreach)) == 1
        s.rollback()
    with sessions() as s:
        assert s.get_one(Ticket, tid).tta_breached is True
        assert s.scalars(select(SlaBreach.at)).all() == [at]
