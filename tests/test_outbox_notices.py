"""The notice batcher (bot/delivery/notices.py) on its own: a first notice waits for
company, then takes the person's other pending notices under its lease and lists them in
one DM, the most urgent first, every button kept. The real database and the real
scheduler's leases; a FakeClock. The whole path to Slack is in test_outbox_priority."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.core.clock import FakeClock
from bot.delivery import outbox
from bot.delivery.due import DueRows, Pacer
from bot.delivery.notices import NOTICES_LISTED, NoticeBatcher
from bot.delivery.outbox import NOTICE_ACTION, NOTICE_ITEM, URGENT
from storage.db import transaction
from storage.models import OutboxMessage

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
LEAD = "U0LEAD"


@pytest.fixture
def wall() -> FakeClock:
    return FakeClock(NOW)


def scheduler(sessions: sessionmaker[Session], wall: FakeClock, owner: str) -> DueRows:
    return DueRows(sessions, wall, Pacer(), timedelta(seconds=30), owner)


@pytest.fixture
def batcher(sessions: sessionmaker[Session], wall: FakeClock) -> NoticeBatcher:
    return NoticeBatcher(scheduler(sessions, wall, "w-a"), timedelta(seconds=2))


def notice(sessions: sessionmaker[Session], key: str, user: str = LEAD, **kw: Any) -> OutboxMessage:
    payload = {
        "text": f"{key} is yours",
        NOTICE_ITEM: f"*{key}* is yours",
        NOTICE_ACTION: {"type": "button", "action_id": "ticket_ack:dm", "value": key},
    }
    with transaction(sessions) as s:
        outbox.enqueue_notice(s, user, payload, key, NOW, **kw)
    return by_key(sessions, key)


def by_key(sessions: sessionmaker[Session], key: str) -> OutboxMessage:
    with sessions() as s:
        return s.scalars(select(OutboxMessage).where(OutboxMessage.dedup_key == key)).one()


def test_a_first_notice_waits_its_window_once(sessions, batcher) -> None:  # type: ignore[no-untyped-def]
    first = notice(sessions, "ESC-1")
    assert batcher.waits(first)
    with transaction(sessions) as s:
        row = s.get_one(OutboxMessage, first.id)
        batcher.due.hold(row, batcher.window)
    assert not batcher.waits(by_key(sessions, "ESC-1"))  # its window is over: it goes
    assert not NoticeBatcher(batcher.due, timedelta(0)).waits(first)  # no window, no wait


def test_gather_takes_the_persons_other_free_notices_under_its_lease(
    sessions, batcher, wall
) -> None:  # type: ignore[no-untyped-def]
    first = notice(sessions, "ESC-1")
    routine = notice(sessions, "ESC-2")
    urgent = notice(sessions, "ESC-3", priority=URGENT)
    notice(sessions, "ESC-4", user="U0ANA")  # somebody else's
    with transaction(sessions) as s:
        outbox.enqueue_dm(s, LEAD, {"text": "a DM, not a notice"}, "dm:1", NOW)
    taken = notice(sessions, "ESC-5")
    other = scheduler(sessions, wall, "w-b")  # another replica's batch holds this one
    assert other.claim(taken.id)
    sent = notice(sessions, "ESC-6")
    with transaction(sessions) as s:
        s.get_one(OutboxMessage, sent.id).status = "sent"
    with transaction(sessions) as s:
        gathered = batcher.gather(s, s.get_one(OutboxMessage, first.id))
        assert [r.dedup_key for r in gathered] == ["ESC-3", "ESC-2"]
    for row in (routine, urgent):
        assert by_key(sessions, row.dedup_key).lease_owner == "w-a"
    assert not other.claim(urgent.id)  # leased to w-a's DM now
    assert by_key(sessions, "ESC-1").lease_owner is None  # the row itself is the caller's


def test_a_lone_notice_gathers_nothing(sessions, batcher) -> None:  # type: ignore[no-untyped-def]
    first = notice(sessions, "ESC-1")
    notice(sessions, "ESC-2", user="U0ANA")
    with transaction(sessions) as s:
        assert batcher.gather(s, s.get_one(OutboxMessage, first.id)) == []


def test_the_list_names_the_most_urgent_first_and_keeps_every_button(sessions, batcher) -> None:  # type: ignore[no-untyped-def]
    first = notice(sessions, "ESC-1")
    others = [notice(sessions, "ESC-2", priority=URGENT), notice(sessions, "ESC-3")]
    with transaction(sessions) as s:
        plain = OutboxMessage(
            dedup_key="plain", kind="notice", channel=LEAD, created_at=NOW, payload={"text": "hi"}
        )
        s.add(plain)
        s.flush()
        args = batcher.listing(first, [*others, plain])
    assert (args["channel"], args["text"]) == (LEAD, "escbot has 4 notices for you")
    assert (args["unfurl_links"], args["unfurl_media"]) == (False, False)
    lines = [b for b in args["blocks"] if b["type"] == "section"][1:]
    assert [b["text"]["text"] for b in lines] == [
        "*ESC-2* is yours",
        "*ESC-1* is yours",
        "*ESC-3* is yours",
        "hi",  # no line of its own: its text
    ]
    assert [b.get("accessory", {}).get("value") for b in lines] == ["ESC-2", "ESC-1", "ESC-3", None]


def test_a_long_list_names_the_first_fifteen_and_counts_the_rest(sessions, batcher) -> None:  # type: ignore[no-untyped-def]
    rows = [notice(sessions, f"ESC-{n}") for n in range(1, NOTICES_LISTED + 6)]
    args = batcher.listing(rows[0], rows[1:])
    shown = json.dumps(args["blocks"], ensure_ascii=False)
    assert args["text"] == f"escbot has {NOTICES_LISTED + 5} notices for you"
    assert f"*ESC-{NOTICES_LISTED}* is yours" in shown
    assert f"*ESC-{NOTICES_LISTED + 1}* is yours" not in shown
    assert "…and 5 more not listed here." in shown
