"""``escbot backup``: a consistent copy of the SQLite database while escbot runs.

Why SQLite's online backup API and not a file copy: in WAL mode the database is the
file *and* its ``-wal``, and a copy taken mid-write is torn. ``sqlite3.Connection.backup``
copies page by page from one read transaction, so the copy is the database as of one
moment, and writers are not held up for long (it takes the pages in steps). PostgreSQL
has ``pg_dump`` for the same job (docs/operations.md, "Backups").
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from storage.db import database_url

PAGES_PER_STEP = 1024  # ~4 MB at a time: writers wait for one step at most, not the whole copy


class BackupRefused(Exception):
    """The backup can't be made as asked; the message says why and what to do instead."""


def sqlite_path(url: str | None) -> Path:
    """The file of a SQLite ``url``; ``BackupRefused`` for any other database."""
    parsed = make_url(database_url(url))
    if parsed.get_backend_name() != "sqlite":
        raise BackupRefused(
            f"{parsed.get_backend_name()} is backed up with its own tools: "
            "pg_dump -Fc (docs/operations.md, Backups)"
        )
    if not parsed.database or parsed.database == ":memory:":
        raise BackupRefused("an in-memory database has nothing to back up")
    path = Path(parsed.database)
    if not path.is_file():
        raise BackupRefused(f"there is no database at {path}")
    return path


def backup_sqlite(source: Path, target: Path) -> int:
    """Copy ``source`` to a new file ``target`` as of one moment; return its size in bytes.

    The copy is written beside ``target`` and renamed into place, so a backup that fails
    half-way never leaves a file that looks whole.
    """
    if target.exists():
        raise BackupRefused(f"{target} exists: choose a new name (backups are never overwritten)")
    partial = target.with_name(target.name + ".part")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst, pages=PAGES_PER_STEP)
            # a backup is one file: no -wal beside it to lose when it is copied elsewhere
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
    finally:
        src.close()
    partial.rename(target)
    return target.stat().st_size
