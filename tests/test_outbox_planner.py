"""The outbox's planner (bot/delivery/planner.py) on its own: what it calls for each kind of
row, from the state in the database when the row is delivered; what waits, and what is
moot. Rows queued with the real queueing API in the real database; no Slack involved."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.core.clock import FakeClock
from bot.delivery import outbox
from bot.delivery.due import UNCERTAIN, DueRows, Pacer
from bot.delivery.notices import NoticeBatcher
from bot.delivery.planner import CARD_WAIT, NOT_READY_WAIT, NotReady, Plan, Planner
from storage.db import transaction
from storage.models import OutboxMessage, Ticket
from tests.test_keys import create

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def render_card(_s: Session, ticket: Ticket) -> dict[str, Any]:
    return {"text": f"{ticket.key} {ticket.status} v{ticket.version}"}


def home_of(user: str) -> dict[str, Any]:
    return {
        "type": "home",
        "blocks": [{"type": "section", "text": {"type": "plain_text", "text": user}}],
    }


def render_home(_s: Session, user: str) -> dict[str, Any]:
    return home_of(user)


@pytest.fixture
def planner(sessions: sessionmaker[Session]) -> Planner:
    due = DueRows(sessions, FakeClock(NOW), Pacer(), timedelta(seconds=30), "w-a")
    return Planner(render_card, NoticeBatcher(due, timedelta(0)), render_home)


@pytest.fixture
def ticket(sessions: sessionmaker[Session]) -> int:
    """ESC-1, its card not posted yet, to go to C1."""
    create(sessions)
    with transaction(sessions) as s:
        s.get_one(Ticket, 1).card_channel = "C1"
    return 1


def plan(sessions: sessionmaker[Session], planner: Planner, key: str) -> Plan | None:
    with transaction(sessions) as s:
        row = s.scalars(select(OutboxMessage).where(OutboxMessage.dedup_key == key)).one()
        return planner.plan(s, row)


def queue(sessions: sessionmaker[Session], enqueue: Any) -> None:
    """``enqueue(session, ticket)`` in a transaction of its own."""
    with transaction(sessions) as s:
        enqueue(s, s.get_one(Ticket, 1))


def post_card(sessions: sessionmaker[Session], ts: str = "1700000000.000100") -> None:
    with transaction(sessions) as s:
        s.get_one(Ticket, 1).card_ts = ts


def test_a_card_renders_the_ticket_as_it_is_at_delivery(sessions, planner, ticket) -> None:  # type: ignore[no-untyped-def]
    queue(sessions, lambda s, t: outbox.enqueue_card(s, t, NOW))
    with transaction(sessions) as s:  # changed after the card was queued, before it went
        s.get_one(Ticket, 1).status = "assigned"
    card = plan(sessions, planner, "card:1:v2")  # queuing took version 2
    assert card == Plan(
        "post", {"text": "ESC-1 assigned v2", "channel": "C1"}, card_of=1, dedup="card:1:v2"
    )


def test_a_posted_card_is_updated_and_only_its_latest_queued_version_goes(
    sessions, planner, ticket
) -> None:  # type: ignore[no-untyped-def]
    queue(sessions, lambda s, t: outbox.enqueue_card(s, t, NOW))  # takes version 2
    queue(sessions, lambda s, t: outbox.enqueue_card(s, t, NOW))  # a later change: version 3
    first = plan(sessions, planner, "card:1:v2")  # not posted yet: a newer version is no reason
    assert first is not None and first.method == "post"
    post_card(sessions, "111.222")
    assert plan(sessions, planner, "card:1:v2") is None  # superseded by v3
    latest = plan(sessions, planner, "card:1:v3")
    assert latest is not None
    assert (latest.method, latest.args["ts"], latest.args["text"]) == (
        "update",
        "111.222",
        "ESC-1 new v3",
    )


def test_a_thread_line_waits_for_its_card_and_then_goes_into_its_thread(
    sessions, planner, ticket
) -> None:  # type: ignore[no-untyped-def]
    queue(sessions, lambda s, t: outbox.enqueue_thread(s, t, {"text": "routed"}, "line:1", NOW))
    with pytest.raises(NotReady) as waiting:
        plan(sessions, planner, "line:1")
    assert (waiting.value.wait, waiting.value.for_card) == (NOT_READY_WAIT, False)
    post_card(sessions, "111.222")
    line = plan(sessions, planner, "line:1")
    assert line is not None
    assert (line.method, line.args) == (
        "post",
        {"text": "routed", "channel": "C1", "thread_ts": "111.222"},
    )


def test_a_dm_after_the_card_waits_for_it_then_links_to_it(sessions, planner, ticket) -> None:  # type: ignore[no-untyped-def]
    payload = {"text": f"ESC-1 is open: {outbox.CARD_LINK}"}
    queue(
        sessions,
        lambda s, t: outbox.enqueue_dm(s, "U0REP", payload, "dm:1", NOW, t, after_card=True),
    )
    with pytest.raises(NotReady) as waiting:
        plan(sessions, planner, "dm:1")
    assert (waiting.value.wait, waiting.value.for_card) == (CARD_WAIT, True)
    post_card(sessions, "111.222")
    dm = plan(sessions, planner, "dm:1")
    assert dm is not None
    assert (dm.method, dm.args, dm.card_link) == (
        "dm",
        {**payload, "channel": "U0REP"},  # the after_card mark taken out
        ("C1", "111.222"),
    )


def test_a_chart_goes_into_its_digest_thread_once_the_digest_is_posted(sessions, planner) -> None:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        for n in (1, 2):
            outbox.enqueue_message(s, "C1", {"text": f"digest {n}"}, f"digest:{n}", NOW)
            outbox.enqueue_upload(
                s,
                "C1",
                content=b"PNG",
                filename=f"chart-{n}.png",
                title="chart",
                alt_txt="a chart",
                thread_of=f"digest:{n}",
                dedup_key=f"chart:{n}",
                now=NOW,
            )
    with pytest.raises(NotReady):
        plan(sessions, planner, "chart:1")
    with transaction(sessions) as s:
        rows = {r.dedup_key: r for r in s.scalars(select(OutboxMessage))}
        rows["digest:1"].status, rows["digest:1"].result = "sent", {"ts": "111.222"}
        rows["digest:2"].status = "dead"
    chart = plan(sessions, planner, "chart:1")
    assert chart is not None
    assert (chart.method, chart.args["thread_ts"], chart.args["filename"]) == (
        "upload",
        "111.222",
        "chart-1.png",
    )
    assert "thread_of" not in chart.args
    assert plan(sessions, planner, "chart:2") is None  # its digest will never be posted


def test_a_file_shared_with_its_message_takes_the_blocks_as_json(sessions, planner) -> None:  # type: ignore[no-untyped-def]
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "Weekly — *3* tickets"}}]
    with transaction(sessions) as s:
        outbox.enqueue_upload(
            s,
            "C1",
            content=b"PNG",
            filename="chart.png",
            title="chart",
            alt_txt="a chart",
            dedup_key="chart:1",
            now=NOW,
            message={"blocks": blocks},
        )
    chart = plan(sessions, planner, "chart:1")
    assert chart is not None
    assert (chart.args["channel"], json.loads(chart.args["blocks"])) == ("C1", blocks)
    assert "Weekly — *3*" in chart.args["blocks"]  # as written, not \u-escaped


def test_only_the_latest_queued_app_home_is_published(sessions, planner) -> None:  # type: ignore[no-untyped-def]
    for _ in range(2):
        with transaction(sessions) as s:
            outbox.enqueue_home(s, "U0ANA", NOW)
    with sessions() as s:
        first, latest = s.scalars(select(OutboxMessage.dedup_key).order_by(OutboxMessage.id))
    assert plan(sessions, planner, first) is None
    home = plan(sessions, planner, latest)
    assert home is not None and len(home.home_digest) == 64  # kept once it is published
    assert replace(home, home_digest="") == Plan(
        "publish", {"user_id": "U0ANA", "view": home_of("U0ANA")}, dedup=latest
    )
    no_homes = Planner(render_card, planner.notices)  # an app without App Home
    assert plan(sessions, no_homes, latest) is None


def test_a_row_an_earlier_attempt_may_have_posted_is_planned_to_look_first(
    sessions, planner
) -> None:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        outbox.enqueue_message(s, "C1", {"text": "hello"}, "m:1", NOW)
        outbox.enqueue_message(s, "C1", {"text": "again"}, "m:2", NOW)
    with transaction(sessions) as s:
        s.scalars(select(OutboxMessage).where(OutboxMessage.dedup_key == "m:2")).one().result = {
            UNCERTAIN: True
        }
    fresh, retried = plan(sessions, planner, "m:1"), plan(sessions, planner, "m:2")
    assert fresh == Plan("post", {"text": "hello", "channel": "C1"}, dedup="m:1")
    assert retried is not None and retried.look_since is not None
    assert replace(retried, look_since=None) == Plan(
        "post", {"text": "again", "channel": "C1"}, dedup="m:2"
    )
    assert retried.look_since.replace(tzinfo=UTC) == NOW  # look back to its queueing


def test_a_notice_alone_is_a_plain_dm_and_waits_first_when_there_is_a_window(
    sessions, planner
) -> None:  # type: ignore[no-untyped-def]
    payload = {"text": "ESC-1 is yours", outbox.NOTICE_ITEM: "*ESC-1* is yours"}
    payload[outbox.NOTICE_ACTION] = {"action_id": "ticket_ack:dm", "value": "ESC-1"}
    with transaction(sessions) as s:
        outbox.enqueue_notice(s, "U0ANA", payload, "n:1", NOW)
    alone = plan(sessions, planner, "n:1")
    assert alone == Plan("dm", {"text": "ESC-1 is yours", "channel": "U0ANA"}, dedup="n:1")
    window = timedelta(seconds=2)
    waiting = Planner(render_card, NoticeBatcher(planner.notices.due, window))
    with pytest.raises(NotReady) as held:
        plan(sessions, waiting, "n:1")
    assert (held.value.wait, held.value.for_card) == (window, False)
