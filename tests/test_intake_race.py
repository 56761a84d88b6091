"""The same content reported by several partners at the same instant makes one ticket.

The duplicate check reads the open tickets and the ticket is written afterwards, in one
transaction: without a claim on the content, two such transactions both find nothing
and both open a ticket (PostgreSQL's READ COMMITTED lets them run side by side). Here
the racing reports go through signed HTTP at once, and through the domain entry point
from two sessions with the first one's transaction held open; every loser is offered
the ticket that won. Both run on SQLite and, with ESCBOT_TEST_DATABASE_URL, PostgreSQL.

What each database's run guards differs. On PostgreSQL it is the claim: without
``claim_content`` both tests fail (several tickets; the racer not offered the first).
On SQLite the claim takes no lock at all (``lock_names`` returns False: the transaction's
``BEGIN IMMEDIATE`` already holds the one write lock from its first statement, so two
intake transactions never overlap), and removing it changes nothing there; what the
SQLite run guards is ``BEGIN IMMEDIATE`` itself: begun ``DEFERRED``, both tests fail
("database is locked" for the racers). docs/testing.md has the measurements.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.config import AppConfig
from bot.intake import service as intake
from bot.intake.draft import Draft
from bot.intake.service import Outcome, Result
from storage.db import transaction
from storage.models import ContentItem, Ticket
from tests.intake_support import open_modal

VIRAL = "https://www.example.com/watch/viral-clip?utm_source=share"
SAME = "https://m.example.com/watch/viral-clip/"  # the same video, pasted from a phone
PARTNERS = [f"U07RACE{i:03d}" for i in range(8)]


def tickets_with(sessions: sessionmaker[Session], normalized: str) -> list[str]:
    with sessions() as s:
        stmt = (
            select(Ticket.key)
            .join(ContentItem, ContentItem.ticket_id == Ticket.id)
            .where(ContentItem.normalized == normalized)
            .distinct()
        )
        return list(s.scalars(stmt))


def test_simultaneous_reports_over_http_make_one_ticket_and_offer_it_to_the_rest(
    escbot, fake_slack, user_factory
) -> None:
    users = [user_factory(p) for p in PARTNERS]
    views = [open_modal(u, fake_slack, "Viral beheading clip") for u in users]
    start = threading.Barrier(len(users))
    answers: dict[str, bytes] = {}

    def report(i: int) -> None:
        content = VIRAL if i % 2 else SAME
        start.wait()
        resp = users[i].submit_view(
            views[i], {"Your team": "Legal", "Content links or ids": content}
        )
        assert resp.status_code == 200
        answers[users[i].user_id] = resp.content

    threads = [threading.Thread(target=report, args=(i,)) for i in range(len(users))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert tickets_with(escbot.services.sessions, "https://example.com/watch/viral-clip") == [
        "ESC-1"
    ]
    closed = [u for u, body in answers.items() if body == b""]
    offered = {u: json.loads(body) for u, body in answers.items() if body}
    assert len(closed) == 1 and len(offered) == len(PARTNERS) - 1
    for answer in offered.values():
        assert answer["response_action"] == "update"
        assert answer["view"]["callback_id"] == "escalate_duplicate"
        # partners outside the pod may not see the ticket: only that the desk has it
        text = json.dumps(answer["view"]["blocks"])
        assert "ESC-1" in text and "viral-clip" not in text


def test_a_report_racing_an_uncommitted_ticket_waits_for_it_and_is_offered_it(
    sessions: sessionmaker[Session], config: AppConfig
) -> None:
    now = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    draft = Draft(
        summary="Viral clip", policy_area="graphic_violence", severity="sev1", content=(VIRAL,)
    )
    first_written = threading.Event()
    second: list[Outcome] = []

    def submit(session: Session, reporter: str) -> Outcome:
        return intake.submit(
            session, config, draft, reporter=reporter, now=now, request_key=reporter
        )

    def racer() -> None:
        first_written.wait()
        with transaction(sessions) as session:
            second.append(submit(session, PARTNERS[1]))

    thread = threading.Thread(target=racer)
    thread.start()
    with transaction(sessions) as session:
        first = submit(session, PARTNERS[0])
        first_written.set()
        # Keep the ticket uncommitted while the racer runs its duplicate check (it must
        # wait for this commit). On a slow machine the racer may get there only after the
        # commit: then it sees the ticket anyway, and the test still holds.
        thread.join(timeout=0.5)
    thread.join()

    assert first.result is Result.CREATED and first.ticket is not None
    [outcome] = second
    assert outcome.result is Result.DUPLICATE
    assert [m.ticket.key for m in outcome.matches] == [first.ticket.key]
    assert tickets_with(sessions, "https://example.com/watch/viral-clip") == [first.ticket.key]
