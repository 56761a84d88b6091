"""Queries shared by the domain: key allocation, lookups, idempotency marks."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Executable, Table, bindparam, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload, sessionmaker

from storage.db import transaction
from storage.models import Counter, ProcessedRequest, Ticket

TICKET_PREFIX = "ESC-"


def next_number(session: Session, name: str = "ticket") -> int:
    """Take the next value of a counter inside the caller's transaction.

    ``UPDATE … RETURNING`` row-locks the counter until commit (PostgreSQL) or
    runs under the database write lock (SQLite), so numbers are unique, and a
    rolled-back ticket gives its number back: keys stay consecutive.
    """
    stmt = (
        update(Counter)
        .where(Counter.name == name)
        .values(value=Counter.value + 1)
        .returning(Counter.value)
    )
    value = session.execute(stmt).scalar_one_or_none()
    if value is None:
        raise RuntimeError(f"counter {name!r} missing: run `escbot db upgrade`")
    return int(value)


def ticket_key(number: int) -> str:
    return f"{TICKET_PREFIX}{number}"


def parse_ticket_key(text_: str) -> int | None:
    """``ESC-12`` / ``esc-12`` / ``12`` → 12; anything else → None."""
    raw = text_.strip().upper().removeprefix(TICKET_PREFIX)
    return int(raw) if raw.isdigit() and len(raw) < 18 else None


def ticket_by_key(session: Session, key: str, *, lock: bool = False) -> Ticket | None:
    number = parse_ticket_key(key)
    if number is None:
        return None
    stmt = select(Ticket).where(Ticket.number == number)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def ticket_by_id(session: Session, ticket_id: int, *, lock: bool = False) -> Ticket | None:
    stmt = select(Ticket).where(Ticket.id == ticket_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def open_tickets_for(session: Session, user_id: str, open_statuses: Sequence[str]) -> list[Ticket]:
    """Open tickets the user reported or owns, newest first."""
    stmt = (
        select(Ticket)
        .where(Ticket.status.in_(open_statuses))
        .where((Ticket.reporter_id == user_id) | (Ticket.assignee_id == user_id))
        .order_by(Ticket.number.desc())
        .options(selectinload(Ticket.content_items))
    )
    return list(session.scalars(stmt))


def claim_request(session: Session, key: str, now: datetime, result: dict[str, Any]) -> bool:
    """Record that a Slack request was handled; False if it already was.

    The primary key makes this exact across replicas: the second insert of
    the same key inserts nothing.
    """
    return insert_new(session, ProcessedRequest.__table__, key=key, created_at=now, result=result)


#: Claims that mark a one-off step as done for good (not a Slack request): retention keeps them.
MILESTONE = "milestone:"


def claim_milestone(session: Session, name: str, now: datetime) -> bool:
    """Record that the one-off step ``name`` ran (e.g. a data rewrite); False if it had.
    Unlike request claims these are never pruned, or the step would run again."""
    return claim_request(session, MILESTONE + name, now, {})


def claim_once(sessions: sessionmaker[Session], key: str, now: datetime) -> bool:
    """:func:`claim_request` in a transaction of its own, for a request whose handling
    comes later (an Events API delivery): False if the key was claimed before."""
    with transaction(sessions) as session:
        return claim_request(session, key, now, {})


def rowcount(session: Session, statement: Executable) -> int:
    """How many rows an UPDATE or DELETE matched: DML without RETURNING gives a CursorResult,
    though ``Session.execute`` is typed as returning a plain Result."""
    return cast(CursorResult, session.execute(statement)).rowcount


def insert_new(session: Session, table: Table, **values: Any) -> bool:
    """Insert a row unless its unique key is taken; True if it was inserted.

    One ``INSERT … ON CONFLICT DO NOTHING`` where a savepoint around an ORM add
    took a flush and three statements: intake writes about ten such rows per ticket.
    """
    statement = _insert_new(session.get_bind().dialect.name, table)
    # RETURNING, not rowcount: psycopg reports -1 for INSERT … ON CONFLICT (read as True)
    return session.execute(statement, values).first() is not None


def insert_all_new(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """:func:`insert_new` for several rows in one executemany (the driver loops over
    them, not SQLAlchemy): rows whose unique key is taken are skipped."""
    if rows:
        session.execute(_insert_all_new(session.get_bind().dialect.name, table), list(rows))


@functools.cache
def _insert_all_new(dialect: str, table: Table) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing()


@functools.cache
def _insert_new(dialect: str, table: Table) -> Any:
    """Built once: values go in as parameters, so each call skips building a statement."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing().returning(*table.primary_key.columns)


def lock_names(session: Session, names: Iterable[str]) -> bool:
    """Hold a lock on each name until the caller's transaction ends, so that transactions
    checking and then writing the same names run one after the other.

    PostgreSQL: transaction-scoped advisory locks on a 64-bit hash of each name, taken
    in one statement in ascending order (two transactions locking overlapping names
    cannot deadlock; a hash collision only makes two of them queue). SQLite needs
    none: ``transaction()`` begins with ``BEGIN IMMEDIATE``, which already holds the
    database's single write lock (across processes too) until commit. True if locks
    were taken (what was read before them may have changed meanwhile).
    """
    if session.get_bind().dialect.name != "postgresql":
        return False
    keys = sorted({_lock_key(name) for name in names})
    if keys:
        session.execute(_LOCK_KEYS, {"keys": keys})
    return bool(keys)


_LOCK_KEYS = text(
    "SELECT pg_advisory_xact_lock(k) FROM (SELECT unnest(:keys) AS k ORDER BY 1) AS ordered"
).bindparams(bindparam("keys", type_=postgresql.ARRAY(postgresql.BIGINT)))


def _lock_key(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), signed=True)


def request_result(session: Session, key: str) -> dict[str, Any] | None:
    """What a handled request did (None: not handled). Core statements on the table, not
    ``session.get``: the ORM's identity lookup cost ~0.7 ms a call, three calls a ticket."""
    return session.execute(_REQUEST_RESULT, {"key": key}).scalar_one_or_none()


def set_request_result(session: Session, key: str, result: dict[str, Any]) -> None:
    """Record what a claimed request did, for its repeats."""
    session.execute(_SET_REQUEST_RESULT, {"request_key": key, "request_result": result})


_REQUESTS = ProcessedRequest.__table__
_REQUEST_RESULT = select(_REQUESTS.c.result).where(_REQUESTS.c.key == bindparam("key"))
_SET_REQUEST_RESULT = (
    update(_REQUESTS)
    .where(_REQUESTS.c.key == bindparam("request_key"))
    .values(result=bindparam("request_result", type_=_REQUESTS.c.result.type))
)
