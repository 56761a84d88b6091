"""Test databases: a SQLite file by default, a fresh PostgreSQL schema when
``ESCBOT_TEST_DATABASE_URL`` is set (each test gets its own, dropped after)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.harness import scratch_schema

PG_URL = os.environ.get("ESCBOT_TEST_DATABASE_URL")


def backend() -> str:
    return "postgresql" if PG_URL else "sqlite"


@contextmanager
def fresh_database(tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database, removed afterwards."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'escbot.db'}"
        return
    with scratch_schema(PG_URL, "t") as url:
        yield url
