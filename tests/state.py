"""What a refused request must leave as it was: every table's rows, counted.

A refusal test that checks only the answer (a status code, an ephemeral line) passes
just as well when the refused change was written anyway; ``rows`` before and after
says nothing was.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from storage.models import Base


def rows(sessions: sessionmaker[Session], skip: Collection[str] = ()) -> dict[str, int]:
    """Rows per table, every table of the schema but ``skip`` (and ``alembic_version``)."""
    with sessions() as s:
        return {
            table.name: s.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
            if table.name not in skip
        }
