"""What bounds a KPI query: a half-open time range, and ``IN`` lists of bounded length."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_


@dataclass(frozen=True)
class Window:
    """A half-open time range ``[start, end)`` of aware UTC datetimes."""

    start: datetime
    end: datetime

    def has(self, column: Any) -> ColumnElement[bool]:
        return and_(column >= self.start, column < self.end)

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def chunks(ids: Sequence[int], size: int = 500) -> Iterable[Sequence[int]]:
    """``IN`` lists of bounded length (SQLite caps bound parameters)."""
    return (ids[i : i + size] for i in range(0, len(ids), size))
