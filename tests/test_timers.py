"""Durable timers: scheduled once, fired once (also by two racing runners), retried on failure."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.core.clock import FakeClock
from bot.delivery import timers
from bot.delivery.timers import TimerRunner
from storage.db import transaction
from storage.models import Ticket, Timer

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def test_schedule_is_idempotent_and_fires_once_when_due(sessions: sessionmaker[Session]) -> None:
    clock = FakeClock(T0)
    fired: list[str] = []
    runner = TimerRunner(sessions, clock)
    runner.register("ping", lambda s, t, now: fired.append(t.dedup_key))
    with transaction(sessions) as s:
        assert timers.schedule(s, "ping", "ping:1", T0 + timedelta(minutes=5))
        assert not timers.schedule(s, "ping", "ping:1", T0 + timedelta(minutes=9))
    assert runner.run_due() == 0 and fired == []
    clock.advance(timedelta(minutes=5))
    assert runner.run_due() == 1 and fired == ["ping:1"]
    assert runner.run_due() == 0 and fired == ["ping:1"]
    with sessions() as s:
        timer = s.scalars(select(Timer)).one()
        assert (timer.status, timer.fired_at) == ("fired", T0 + timedelta(minutes=5))


def test_cancelled_timers_never_fire(sessions: sessionmaker[Session]) -> None:
    from tests.test_keys import create

    create(sessions)
    clock = FakeClock(T0)
    runner = TimerRunner(sessions, clock)
    runner.register("chain", lambda s, t, now: (_ for _ in ()).throw(AssertionError("fired")))
    with transaction(sessions) as s:
        timers.schedule(s, "chain", "chain:1:1", T0, ticket=s.get_one(Ticket, 1))
    with transaction(sessions) as s:
        assert timers.cancel(s, 1, ["chain"]) == 1
    assert runner.run_due() == 0


def test_failing_handler_rolls_back_its_effects_and_retries_later(
    sessions: sessionmaker[Session],
) -> None:
    clock = FakeClock(T0)
    attempts: list[int] = []

    def flaky(s: Session, t: Timer, now: datetime) -> None:
        attempts.append(1)
        timers.schedule(s, "side", f"side:{len(attempts)}", now)  # an effect to roll back
        if len(attempts) == 1:
            raise RuntimeError("Slack-free failure")

    runner = TimerRunner(sessions, clock)
    runner.register("flaky", flaky)
    runner.register("side", lambda s, t, now: None)
    with transaction(sessions) as s:
        timers.schedule(s, "flaky", "flaky:1", T0)
    assert runner.run_due() == 0
    with sessions() as s:
        assert s.scalars(select(Timer.dedup_key).where(Timer.kind == "side")).all() == []
        assert s.scalars(select(Timer.status)).one() == "pending"
    clock.advance(timedelta(minutes=2))
    assert runner.run_due() == 2  # the retried timer, then the effect it scheduled
    assert len(attempts) == 2


def test_two_runners_racing_fire_each_timer_once(sessions: sessionmaker[Session]) -> None:
    clock = FakeClock(T0)
    fired: list[str] = []
    lock = threading.Lock()

    def record(s: Session, t: Timer, now: datetime) -> None:
        with lock:
            fired.append(t.dedup_key)

    with transaction(sessions) as s:
        for i in range(200):
            timers.schedule(s, "n", f"n:{i}", T0 - timedelta(seconds=i))
    runners = [TimerRunner(sessions, clock, {"n": record}) for _ in range(2)]
    barrier = threading.Barrier(2)

    def go(r: TimerRunner) -> None:
        barrier.wait()
        r.run_due()

    threads = [threading.Thread(target=go, args=(r,)) for r in runners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(fired) == sorted(f"n:{i}" for i in range(200))
