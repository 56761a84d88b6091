"""Engine and session factory, plus migrations at start.

SQLite (the default) runs in WAL mode with a busy timeout and takes its write
lock at BEGIN (``BEGIN IMMEDIATE``), so concurrent writers queue instead of
failing with "database is locked" half-way through a transaction. Within one
process they queue on a lock of ours first: SQLite's busy handler polls with
sleeps of up to 100 ms, which under load left the database idle while writers
slept and made the slowest of them wait seconds (see docs/performance.md).

A session that began by itself (no ``begin()``, no ``transaction()``) only reads
— it is never committed — so it starts with a plain (deferred) ``BEGIN``: it reads
a WAL snapshot and neither waits for writers nor makes them wait. Write in
``transaction()`` or ``session.begin()``.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker
from sqlalchemy.orm.session import SessionTransactionOrigin

log = logging.getLogger(__name__)

DEFAULT_DATABASE_URL = "sqlite:///escbot.db"
MIGRATIONS = Path(__file__).with_name("migrations")
_PG_MIGRATION_LOCK = 0x65736362  # "escb": one migrator at a time across replicas
BUSY_TIMEOUT = 30.0  # seconds a SQLite writer waits for its turn
_BEGIN = "escbot_begin"  # Connection.info: the BEGIN its transaction will start with


def database_url(url: str | None = None) -> str:
    """The configured URL; ``postgresql://`` is read as psycopg 3."""
    url = url or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


class DatabaseUnavailable(Exception):
    """The database can't be used as configured; the message says what to do, in one line."""


def open_engine(url: str | None = None, *, existing: bool = False) -> Engine:
    """``make_engine``, connected once, for the command line and ``escbot run``.

    A URL that doesn't parse, an unknown kind of database or a missing driver, a server
    that can't be reached and (``existing``) a SQLite file that isn't there each raise
    ``DatabaseUnavailable``; ``existing`` also keeps a read-only command from leaving an
    empty database file behind.
    """
    try:
        engine = make_engine(url)
    except (ArgumentError, NoSuchModuleError, ImportError) as err:
        raise DatabaseUnavailable(
            f"the database URL (DATABASE_URL or --database-url) can't be used ({_first_line(err)})"
            ": escbot runs on SQLite or PostgreSQL, e.g. sqlite:///escbot.db or "
            "postgresql://user:password@host:5432/escbot"
        ) from None
    where = engine.url.render_as_string(hide_password=True)
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if existing and path not in (None, "", ":memory:") and not Path(str(path)).exists():
        engine.dispose()
        raise DatabaseUnavailable(
            f"there is no database at {where}: run `escbot db upgrade` to create it, "
            "or set DATABASE_URL to the one escbot run uses"
        )
    try:
        ping(engine)
    except DBAPIError as err:
        engine.dispose()
        check = (
            "that its directory exists and escbot may write there"
            if path is not None
            else "that the server is up and that escbot may connect"
        )
        raise DatabaseUnavailable(
            f"cannot use the database at {where} ({_first_line(err.orig or err)}): check "
            f"DATABASE_URL and {check}"
        ) from None
    return engine


def require_schema(engine: Engine) -> None:
    """Refuse a database that was never migrated (a read-only command must not create it)."""
    if not inspect(engine).has_table("tickets"):
        where = engine.url.render_as_string(hide_password=True)
        raise DatabaseUnavailable(
            f"the database at {where} has no escbot tables: run `escbot db upgrade`"
        )


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def make_engine(url: str | None = None, *, pool_size: int = 10) -> Engine:
    url = database_url(url)
    if url.startswith("sqlite"):
        args = {"timeout": BUSY_TIMEOUT, "check_same_thread": False, "factory": _SQLiteConnection}
        engine = create_engine(url, connect_args=args)
        _tune_sqlite(engine)
        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


class _SQLiteConnection(sqlite3.Connection):
    """Hands this process's write turn on once its transaction has really ended
    (after COMMIT, not before: the next writer would find SQLite still locked)."""

    turn: _Turn
    writing = False

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.end_turn()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.end_turn()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.end_turn()

    def end_turn(self) -> None:
        if self.writing:
            self.writing = False
            self.turn.release()


class _Turn:
    """The write turn: one writer at a time in this process (a lock), and across the
    processes of ``escbot run --workers`` (an flock on ``<database>-turn``, tried every
    millisecond, where SQLite's busy handler sleeps up to 100 ms between tries and kept
    the database idle while writers of two processes slept: ack p99 3.4 s)."""

    def __init__(self, database: str | None) -> None:
        self.lock = threading.Lock()
        self.path = f"{database}-turn" if database not in (None, "", ":memory:") else None
        self.fd: int | None = None

    def acquire(self, timeout: float) -> bool:
        if not self.lock.acquire(timeout=timeout):
            return False
        if self.path is not None:
            try:
                if self.fd is None:
                    self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                self._flock(time.monotonic() + timeout)
            except OSError:  # e.g. a read-only directory: SQLite's own locking decides
                pass
        return True

    def _flock(self, deadline: float) -> None:
        """Take the flock, or give up at ``deadline`` (then SQLite's locking decides)."""
        assert self.fd is not None
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.001)

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        self.lock.release()


def _tune_sqlite(engine: Engine) -> None:
    turn = _Turn(engine.url.database)  # one writer at a time, in this process and across

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: _SQLiteConnection, _record: object) -> None:
        dbapi_conn.turn = turn
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cur = dbapi_conn.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        # 1 MB of page cache per connection, not SQLite's 2 MB: in WAL mode a connection
        # drops its cache whenever another one has written, so a bigger one mostly holds
        # stale pages — 15 pooled connections × 2 MB was a fifth of escbot's memory.
        cur.execute("PRAGMA cache_size=-1024")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.info[_BEGIN] = "IMMEDIATE"  # unless _reads_only says otherwise before it runs

    @event.listens_for(engine, "before_cursor_execute")
    def _begin_now(conn: Connection, cursor: sqlite3.Cursor, *_args: object) -> None:
        mode = conn.info.pop(_BEGIN, None)
        if mode is None:
            return
        dbapi_conn = cast(_SQLiteConnection, cursor.connection)  # the engine's factory
        if mode == "IMMEDIATE":
            # After the timeout (a turn never handed back), SQLite's own locking decides.
            dbapi_conn.writing = turn.acquire(timeout=BUSY_TIMEOUT)
        try:
            cursor.execute(f"BEGIN {mode}")
        except BaseException:
            dbapi_conn.end_turn()
            raise

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(conn: Connection) -> None:
        conn.info.pop(_BEGIN, None)  # nothing ran: no BEGIN was needed


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    factory = sessionmaker(engine, expire_on_commit=False)
    if engine.dialect.name == "sqlite":
        event.listen(factory, "after_begin", _reads_only)
    return factory


def _reads_only(session: Session, transaction: SessionTransaction, connection: Connection) -> None:
    """A session's own (auto-begun) transaction reads only: a deferred BEGIN will do."""
    if transaction.origin is SessionTransactionOrigin.AUTOBEGIN and _BEGIN in connection.info:
        connection.info[_BEGIN] = "DEFERRED"


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


def alembic_config(engine: Engine) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; safe when several replicas start together.

    One log line when it migrated (alembic's own INFO lines, seven on every start, are
    turned down in bot.core.logs).
    """
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            try:
                _migrate(engine, revision)
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
                conn.commit()
    else:
        _migrate(engine, revision)


def _migrate(engine: Engine, revision: str) -> None:
    before = _revision(engine)
    command.upgrade(alembic_config(engine), revision)
    after = _revision(engine)
    if after != before:
        where = engine.url.render_as_string(hide_password=True)
        log.info("database at %s migrated from %s to %s", where, before or "empty", after)


def _revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
