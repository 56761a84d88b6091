"""Ticket keys: consecutive and unique under concurrency, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from storage.db import transaction
from storage.models import Ticket
from storage.queries import next_number, parse_ticket_key, ticket_key

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def create(sessions: sessionmaker[Session], *, fail: bool = False) -> str:
    with transaction(sessions) as s:
        n = next_number(s)
        s.add(
            Ticket(
                number=n,
                key=ticket_key(n),
                summary="x",
                details="",
                policy_area="hateful_activities",
                severity="sev2",
                sensitive=False,
                status="new",
                reporter_id="U0REP",
                created_at=NOW,
                updated_at=NOW,
                version=1,
            )
        )
        s.flush()
        if fail:
            raise RuntimeError("rolled back after taking a number")
        return ticket_key(n)


def test_eight_threads_fifty_each_give_400_consecutive_keys(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    keys: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        for _ in range(50):
            try:
                key = create(sessions)
            except BaseException as err:
                errors.append(err)
                return
            with lock:
                keys.append(key)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(parse_ticket_key(k) for k in keys) == list(range(1, 401))
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 400
        assert s.scalar(select(func.max(Ticket.number))) == 400


def test_rolled_back_creation_gives_its_number_back(sessions: sessionmaker[Session]) -> None:
    assert create(sessions) == "ESC-1"
    with pytest.raises(RuntimeError):
        create(sessions, fail=True)
    assert create(sessions) == "ESC-2"


def test_parse_ticket_key() -> None:
    assert parse_ticket_key("ESC-12") == 12
    assert parse_ticket_key(" esc-7 ") == 7
    assert parse_ticket_key("12") == 12
    for bad in ("ESC-", "ESC-x", "ABC-1", "", "ESC--1", "9" * 30):
        assert parse_ticket_key(bad) is None
