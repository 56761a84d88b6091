"""Test databases: a SQLite file by default, a fresh PostgreSQL schema when
``ESCBOT_TEST_DATABASE_URL`` is set (each test gets its own, dropped after)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, text

from storage.db import database_url

PG_URL = os.environ.get("ESCBOT_TEST_DATABASE_URL")


def backend() -> str:
    return "postgresql" if PG_URL else "sqlite"


@contextmanager
def fresh_database(tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database, removed afterwards."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'escbot.db'}"
        return
    base = database_url(PG_URL)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
