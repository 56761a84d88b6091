"""Tickets as CSV for spreadsheets (``escbot export``).

Columns named after the ticket's current state (``status``, ``assignee_id``,
``acked_at``, ``resolved_at``…) say where it stands now; the KPI columns never
move once set, so an export of a past day gives the same figures before and
after a later reassign, reopen or resolve: ``first_acked_at``/``_by``,
``tta_seconds``, ``first_resolved_at``, ``first_ttr_seconds`` and the wall-clock
``ack_wall_seconds``/``resolve_wall_seconds`` measured to those first events.

RFC 4180 via the csv module (CRLF line ends, quotes doubled), UTF-8, with an
optional byte-order mark for Excel. Every ticket column is written, plus its
content items, card link and wall-clock durations. Text cells that a
spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``,
``@``, tab or carriage return) get a leading single quote, so opening the
file never runs anything a reporter typed.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.text import clean
from storage.models import ContentItem, Resolution, Ticket

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TICKET_COLUMNS = tuple(c.name for c in Ticket.__table__.columns)
EXTRA_COLUMNS = (
    "content",
    "card_link",
    "first_resolved_at",
    "first_ttr_seconds",
    "first_ttr_breached",
    "ack_wall_seconds",
    "resolve_wall_seconds",
)
#: the columns of a row that never change after the fact (KPIs; see the module docstring)
KPI_COLUMNS = (
    "key",
    "created_at",
    "first_acked_at",
    "first_acked_by",
    "tta_seconds",
    "tta_breached",
    *EXTRA_COLUMNS[2:],
)
HEADER = (*TICKET_COLUMNS, *EXTRA_COLUMNS)
BATCH = 1000


def neutralise(value: Any) -> Any:
    """A text cell made inert as Slack shows it: bidi overrides and control characters
    removed (:func:`~bot.core.text.clean`), then formula-looking text gets a leading ``'``."""
    if not isinstance(value, str):
        return value
    value = clean(value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return neutralise(value)


def _seconds(start: datetime | None, end: datetime | None) -> int | None:
    return None if start is None or end is None else int((end - start).total_seconds())


def date_range(first: date, last: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Local days ``first``..``last`` (inclusive) in ``tz`` as a UTC ``[start, end)``."""
    start = datetime.combine(first, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return start, end


def rows(session: Session, start: datetime, end: datetime) -> Iterator[list[Any]]:
    """Tickets opened in ``[start, end)`` in key order, in batches (memory stays flat)."""
    last_id = 0
    while True:
        batch = list(
            session.scalars(
                select(Ticket)
                .where(Ticket.created_at >= start, Ticket.created_at < end, Ticket.id > last_id)
                .order_by(Ticket.id)
                .limit(BATCH)
            )
        )
        if not batch:
            return
        content: dict[int, list[str]] = {}
        for ticket_id, raw in session.execute(
            select(ContentItem.ticket_id, ContentItem.raw)
            .where(ContentItem.ticket_id.in_([t.id for t in batch]))
            .order_by(ContentItem.id)
        ):
            content.setdefault(ticket_id, []).append(raw)
        first: dict[int, Resolution] = {}
        for kept in session.scalars(
            select(Resolution)
            .where(Resolution.ticket_id.in_([t.id for t in batch]))
            .order_by(Resolution.at, Resolution.id)
        ):
            first.setdefault(kept.ticket_id, kept)
        for t in batch:
            res = first.get(t.id)
            resolved_at = res.at if res else None
            link = (
                f"https://slack.com/archives/{t.card_channel}/p{t.card_ts.replace('.', '')}"
                if t.card_channel and t.card_ts
                else None
            )
            values = [getattr(t, name) for name in TICKET_COLUMNS]
            values += [
                "\n".join(content.get(t.id, [])),
                link,
                resolved_at,
                res.ttr_seconds if res else None,
                res.ttr_breached if res else None,
                _seconds(t.created_at, t.first_acked_at),
                _seconds(t.created_at, resolved_at),
            ]
            yield [_cell(v) for v in values]
        last_id = batch[-1].id
        session.expunge_all()


def write_csv(
    session: Session, out: IO[str], start: datetime, end: datetime, *, bom: bool = False
) -> int:
    """Write the tickets opened in ``[start, end)`` to ``out``; returns how many."""
    if bom:
        out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    count = 0
    for row in rows(session, start, end):
        writer.writerow(row)
        count += 1
    return count
