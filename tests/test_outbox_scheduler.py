"""The outbox's scheduler (bot/delivery/due.py) on its own: which row each channel sends
next, leases across workers, rows held back and released, and the pacer. The real
database (SQLite, or PostgreSQL with ESCBOT_TEST_DATABASE_URL), the scheduler's clock a
FakeClock; no Slack involved."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.core.clock import FakeClock
from bot.delivery.due import RATELIMITED, UNCERTAIN, WAITS_FOR_CARD, DueRows, Pacer
from bot.delivery.outbox import ROUTINE, URGENT
from bot.delivery.planner import CARD_WAIT
from storage.db import transaction
from storage.models import OutboxMessage
from tests.test_keys import create

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)
_keys = itertools.count()


@pytest.fixture
def wall() -> FakeClock:
    return FakeClock(NOW)


def scheduler(
    sessions: sessionmaker[Session], wall: FakeClock, owner: str, **pacing: Any
) -> DueRows:
    pacer = Pacer(**pacing) if pacing else Pacer(rate=1000, burst=1000)
    return DueRows(sessions, wall, pacer, LEASE, owner)


@pytest.fixture
def due(sessions: sessionmaker[Session], wall: FakeClock) -> DueRows:
    return scheduler(sessions, wall, "w-a")


def add(
    sessions: sessionmaker[Session],
    channel: str,
    *,
    lane: str = "",
    kind: str = "message",
    priority: int = ROUTINE,
    **values: Any,
) -> int:
    """One outbox row as the queueing API stores it, with the lane and state the test needs."""
    with transaction(sessions) as s:
        row = OutboxMessage(
            dedup_key=f"row:{next(_keys)}",
            kind=kind,
            channel=channel,
            payload={"text": "x"},
            created_at=NOW,
            lane=lane or f"lane:{next(_keys)}",
            priority=priority,
            **values,
        )
        s.add(row)
        s.flush()
        return row.id


def get(sessions: sessionmaker[Session], row_id: int) -> OutboxMessage:
    with sessions() as s:
        return s.get_one(OutboxMessage, row_id)


def test_each_channel_sends_the_first_row_of_its_most_urgent_lane(sessions, due) -> None:  # type: ignore[no-untyped-def]
    routine = add(sessions, "C1", lane="routine")
    first = add(sessions, "C1", lane="raised")
    add(sessions, "C1", lane="raised", priority=URGENT)  # raises its whole lane, stays behind
    elsewhere = add(sessions, "C2")
    assert sorted(due.heads()) == [first, elsewhere]
    with transaction(sessions) as s:  # once that lane's first row is gone, the lane still leads
        s.get_one(OutboxMessage, first).status = "sent"
    assert routine not in due.heads()


def test_a_round_takes_cards_first_then_the_most_urgent_then_the_oldest(sessions, due) -> None:  # type: ignore[no-untyped-def]
    dm = add(sessions, "U0ANA", kind="dm", priority=URGENT)
    routine = add(sessions, "C2")
    card = add(sessions, "C1", kind="card")
    urgent = add(sessions, "C3", priority=URGENT)
    assert due.heads() == [card, dm, urgent, routine]


def test_a_lane_in_backoff_waits_alone_and_keeps_its_order(sessions, due, wall) -> None:  # type: ignore[no-untyped-def]
    stuck = add(
        sessions, "C1", lane="a", priority=URGENT, next_attempt_at=NOW + timedelta(seconds=10)
    )
    add(sessions, "C1", lane="a")  # behind it: never overtakes it
    other = add(sessions, "C1", lane="b")
    assert due.heads() == [other]
    wall.advance(timedelta(seconds=10))
    assert due.heads() == [stuck]


def test_a_rate_limited_row_holds_back_its_whole_channel(sessions, due, wall) -> None:  # type: ignore[no-untyped-def]
    limited = add(
        sessions, "C1", last_error=RATELIMITED, next_attempt_at=NOW + timedelta(seconds=2)
    )
    add(sessions, "C1")
    elsewhere = add(sessions, "C2")
    assert due.heads() == [elsewhere]
    wall.advance(timedelta(seconds=2))
    assert sorted(due.heads()) == [limited, elsewhere]  # it keeps its place


def test_a_row_is_one_workers_until_its_lease_runs_out(sessions, wall) -> None:  # type: ignore[no-untyped-def]
    a, b = scheduler(sessions, wall, "w-a"), scheduler(sessions, wall, "w-b")
    row_id = add(sessions, "C1")
    assert a.claim(row_id)
    assert not b.claim(row_id)
    assert b.heads() == []  # leased: due for nobody
    wall.advance(LEASE + timedelta(seconds=1))  # w-a died mid-call, maybe after Slack took it
    assert b.heads() == [row_id]
    assert b.claim(row_id)
    row = get(sessions, row_id)
    assert (row.lease_owner, row.result) == ("w-b", {UNCERTAIN: True})


def test_a_first_claim_is_not_uncertain_and_a_sent_row_is_not_claimed(sessions, due) -> None:  # type: ignore[no-untyped-def]
    fresh, sent = add(sessions, "C1"), add(sessions, "C2", status="sent")
    assert due.claim(fresh) and not due.claim(sent)
    assert get(sessions, fresh).result == {}
    with sessions() as s:
        assert due.holds(s.get_one(OutboxMessage, fresh))
        assert not due.holds(s.get_one(OutboxMessage, sent))
    assert due.pending() == 1


def test_a_row_held_for_its_card_goes_the_moment_the_card_posts(sessions, due) -> None:  # type: ignore[no-untyped-def]
    create(sessions)
    for_card = add(sessions, "U0REP", kind="dm", ticket_id=1)
    notice = add(sessions, "U0LEAD", kind="notice", ticket_id=1)
    plain = add(sessions, "U0ANA", kind="dm", ticket_id=1)  # waits for something else
    for row_id in (for_card, notice, plain):
        assert due.claim(row_id)
    with transaction(sessions) as s:
        due.hold(s.get_one(OutboxMessage, for_card), CARD_WAIT, for_card=True)
        due.hold(s.get_one(OutboxMessage, notice), CARD_WAIT, for_card=True)
        due.hold(s.get_one(OutboxMessage, plain), timedelta(seconds=5))
    held = get(sessions, for_card)
    assert (held.lease_owner, held.result) == (None, {WAITS_FOR_CARD: True})
    assert held.next_attempt_at is not None
    assert held.next_attempt_at.replace(tzinfo=UTC) == NOW + CARD_WAIT
    assert due.heads() == []
    with transaction(sessions) as s:
        due.card_posted(s, 1)
    assert sorted(due.heads()) == [for_card, notice]
    assert get(sessions, for_card).result == {}
    assert get(sessions, plain).next_attempt_at.replace(tzinfo=UTC) == NOW + timedelta(seconds=5)


def test_claim_all_leases_the_free_rows_most_urgent_first_and_release_frees_them(
    sessions, wall
) -> None:  # type: ignore[no-untyped-def]
    due, other = scheduler(sessions, wall, "w-a"), scheduler(sessions, wall, "w-b")
    routine = add(sessions, "U0LEAD", kind="notice")
    urgent = add(sessions, "U0LEAD", kind="notice", priority=URGENT)
    theirs = add(sessions, "U0LEAD", kind="notice")
    add(sessions, "U0ANA", kind="notice")
    assert other.claim(theirs)
    with transaction(sessions) as s:
        got = due.claim_all(s, OutboxMessage.channel == "U0LEAD", OutboxMessage.kind == "notice")
        assert [r.id for r in got] == [urgent, routine]
    assert get(sessions, urgent).lease_owner == "w-a"
    with transaction(sessions) as s:
        due.release(s, (routine, urgent))
    for row_id in (routine, urgent):
        row = get(sessions, row_id)
        assert (row.lease_owner, row.lease_until, row.attempts) == (None, None, 0)
    assert get(sessions, theirs).lease_owner == "w-b"


def test_a_paced_channel_sits_a_round_out_and_says_when_it_may_go(sessions, wall) -> None:  # type: ignore[no-untyped-def]
    due = scheduler(sessions, wall, "w-a", rate=1.0, burst=1)
    post = add(sessions, "C1")
    home = add(sessions, "home:U0ANA", kind="home")
    assert sorted(due.heads()) == [post, home]
    assert due.paced is None
    assert due.heads() == [home]  # App Home publishes are not channel posts: never paced
    assert due.paced is not None and 0 < due.paced <= 1.0


def test_the_pacer_gives_a_burst_then_its_rate_and_a_429_silences_the_channel() -> None:
    pacer = Pacer(rate=1, burst=2)
    assert pacer.wait_time("C1") == pacer.wait_time("C1") == 0
    assert 0.5 < pacer.wait_time("C1") <= 1.0
    assert pacer.wait_time("C2") == 0  # channels are paced apart
    pacer.penalise("C2", 3)
    assert pacer.wait_time("C2") >= 3
    quick = Pacer(rate=50, burst=1)
    assert quick.wait_time("C1") == 0 and quick.wait_time("C1") > 0
    time.sleep(0.03)  # 1.5 tokens' worth
    assert quick.wait_time("C1") == 0


def test_only_pending_rows_count_as_pending(sessions, due) -> None:  # type: ignore[no-untyped-def]
    add(sessions, "C1")
    for status in ("sent", "dead", "superseded"):
        add(sessions, "C2", status=status)
    assert due.pending() == 1
