"""The card's version takes care of itself: a transaction that queues the card takes the
ticket's next version (``bot.delivery.outbox.enqueue_card``), so no path has to remember
a bump, and no update is ever dropped as one already sent; on PostgreSQL, two
transactions that change one ticket meanwhile never share a version."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk import WebClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.config import AppConfig
from bot.core.render import Renderer
from bot.delivery import outbox
from bot.delivery.worker import OutboxWorker, Pacer
from bot.resolution import entry
from bot.routing import ownership
from bot.slack import cards
from storage.db import transaction
from storage.models import FollowUp, OutboxMessage, Ticket
from storage.queries import ticket_by_id
from tests.dbs import PG_URL
from tests.desk import INTAKE, desk_at
from tests.outbox_support import drain
from tests.test_followups import JONAS
from tests.test_followups import add as add_follow_up
from tests.test_resolution import LUCIA, new_ticket

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


@pytest.fixture
def worker(sessions: sessionmaker[Session], config: AppConfig, fake_slack) -> OutboxWorker:  # type: ignore[no-untyped-def]
    """The outbox worker as the app builds it (the real card), against the emulator."""
    fake_slack.invite(INTAKE)
    renderer = Renderer(config.team_tz)
    return OutboxWorker(
        sessions,
        WebClient(token="xoxb-test", base_url=fake_slack.url),
        lambda _s, t: cards.card(renderer, config, t, now=NOW),
        pacer=Pacer(rate=1000, burst=1000),
    )


def retitle(session: Session, ticket: Ticket, summary: str, now: datetime) -> None:
    """A change no production path makes, written the way a new path would be: it changes
    the ticket and queues its card, and knows nothing of versions."""
    ticket.summary = summary
    ticket.updated_at = now
    outbox.enqueue_card(session, ticket, now)


def locked(session: Session, tid: int) -> Ticket:
    ticket = ticket_by_id(session, tid, lock=True)
    assert ticket is not None
    return ticket


def card_rows(sessions: sessionmaker[Session], tid: int) -> list[str]:
    with sessions() as s:
        return list(
            s.scalars(
                select(OutboxMessage.dedup_key)
                .where(OutboxMessage.ticket_id == tid, OutboxMessage.kind == outbox.CARD)
                .order_by(OutboxMessage.id)
            )
        )


def version(sessions: sessionmaker[Session], tid: int) -> int:
    with sessions() as s:
        return s.get_one(Ticket, tid).version


def test_a_new_kind_of_change_updates_the_card_with_no_bump_written(  # type: ignore[no-untyped-def]
    sessions, config, worker, fake_slack
) -> None:
    renderer = Renderer(config.team_tz)
    tid = new_ticket(sessions, config)  # routed: its card queued
    with transaction(sessions) as s:  # a change as escbot makes them, its card queued
        t = locked(s, tid)
        ownership.acknowledge(s, config, renderer, t.key, actor=t.assignee_id or "", now=NOW)
    assert drain(worker)
    [card] = fake_slack.messages(INTAKE)
    assert "Coordinated slurs" in card.text
    acked = version(sessions, tid)  # recording the card's ts moved nothing
    with transaction(sessions) as s:
        retitle(s, locked(s, tid), "Slurs, now also in DMs", NOW + timedelta(minutes=6))
    assert drain(worker)
    update = fake_slack.calls_to("chat.update")[-1]
    assert update.args["ts"] == card.ts
    assert "Slurs, now also in DMs" in json.dumps(update.args)
    assert "Slurs, now also in DMs" in (fake_slack.message(INTAKE, card.ts) or card).text
    assert version(sessions, tid) == acked + 1


def test_one_version_per_transaction_however_often_it_queues_the_card(  # type: ignore[no-untyped-def]
    sessions, config
) -> None:
    tid = new_ticket(sessions, config)
    first = version(sessions, tid)
    with transaction(sessions) as s:  # the card renders at delivery: one row shows it all
        t = locked(s, tid)
        for words in ("one", "two", "three"):
            retitle(s, t, words, NOW)
    for words in ("four", "five"):
        with transaction(sessions) as s:
            retitle(s, locked(s, tid), words, NOW)
    assert card_rows(sessions, tid)[-3:] == [f"card:{tid}:v{first + n}" for n in (1, 2, 3)]
    assert version(sessions, tid) == first + 3


def test_a_rolled_back_change_gives_its_version_back(sessions, config) -> None:  # type: ignore[no-untyped-def]
    tid = new_ticket(sessions, config)
    first = version(sessions, tid)
    with pytest.raises(RuntimeError), transaction(sessions) as s:
        retitle(s, locked(s, tid), "never", NOW)
        raise RuntimeError("the change fails after queuing its card")
    with transaction(sessions) as s:
        t = locked(s, tid)
        with pytest.raises(RuntimeError), s.begin_nested():  # a savepoint gives it back too
            retitle(s, t, "never either", NOW)
            raise RuntimeError("this part fails")
        retitle(s, t, "kept", NOW)
    with transaction(sessions) as s:
        retitle(s, locked(s, tid), "and then this", NOW)
    assert card_rows(sessions, tid)[-2:] == [f"card:{tid}:v{first + n}" for n in (1, 2)]


@pytest.mark.skipif(not PG_URL, reason="SQLite runs one writer at a time: nobody reads stale")
def test_two_writers_of_one_ticket_never_share_a_version(  # type: ignore[no-untyped-def]
    sessions, config, worker, fake_slack
) -> None:
    """A reads the ticket without its lock (as follow-ups did before they locked it); B
    changes it and commits meanwhile; then A changes it. Each gets a version of its own,
    so each one's card update is queued, and the card ends up showing both changes."""
    tid = new_ticket(sessions, config)
    assert drain(worker)
    before = version(sessions, tid)
    with transaction(sessions) as a:
        stale = a.get_one(Ticket, tid)
        with transaction(sessions) as b:
            fresh = locked(b, tid)
            fresh.routing_reason = "Taken by the lead for the legal deadline"
            outbox.enqueue_card(b, fresh, NOW)
        retitle(a, stale, "Slurs, now also in DMs", NOW + timedelta(seconds=1))
    assert card_rows(sessions, tid)[-2:] == [
        f"card:{tid}:v{before + 1}",
        f"card:{tid}:v{before + 2}",
    ]
    assert stale.version == version(sessions, tid) == before + 2  # A's, as B left the row + 1
    assert drain(worker)
    [card] = fake_slack.messages(INTAKE)
    shown = json.dumps((fake_slack.message(INTAKE, card.ts) or card).blocks)
    assert "Slurs, now also in DMs" in shown and "Taken by the lead" in shown


@pytest.mark.skipif(not PG_URL, reason="SQLite runs one writer at a time: nothing to overlap")
def test_a_follow_up_closed_during_a_take_waits_and_takes_the_next_version(  # type: ignore[no-untyped-def]
    sessions, config
) -> None:
    """The race the audit found: closing a follow-up read the ticket unlocked and bumped its
    version by hand, so next to a Take it could write the Take's version again and lose its
    card update. Now Done waits for the ticket's row, then takes the version after it."""
    renderer = Renderer(config.team_tz)
    tid = new_ticket(sessions, config)
    fu_id = add_follow_up(sessions, config, tid)
    before = version(sessions, tid)
    desk = desk_at(sessions, config, NOW + timedelta(hours=1), renderer)
    done = threading.Thread(target=entry.followup_done, args=(desk, fu_id), kwargs={"actor": LUCIA})
    with transaction(sessions) as s:  # a Take in progress holds the ticket
        key = locked(s, tid).key
        ownership.take(s, config, renderer, key, actor=JONAS, now=NOW + timedelta(minutes=59))
        done.start()
        done.join(0.5)
        assert done.is_alive()  # waiting for the ticket's row
    done.join(10)
    assert not done.is_alive()
    assert card_rows(sessions, tid)[-2:] == [
        f"card:{tid}:v{before + 1}",  # the Take's
        f"card:{tid}:v{before + 2}",  # Done's, after it
    ]
    with sessions() as s:
        assert s.get_one(FollowUp, fu_id).status == "done"
