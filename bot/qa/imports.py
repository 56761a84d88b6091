"""Vendors' decisions in: CSV or JSON Lines, from ``escbot qa import`` or ``POST /qa/decisions``.

Every row is validated (shape by pydantic, then vendor, policy area and decision
against app.yaml); a bad row is reported with its line number and the reason.
The good rows of one file (or one HTTP batch) are inserted in ONE transaction:
either all of them are stored or, if the database fails, none are — a file is
never half imported. A file with bad rows still imports its good ones (the
report names the bad lines, to be fixed and imported again); ``strict`` imports
nothing when any row is bad. Importing is idempotent per (vendor, decision_id):
``INSERT … ON CONFLICT DO NOTHING`` against a unique key, so a second run of the
same file stores nothing, also when two imports race.

Nothing a client sends can fail the batch or the server: an oversized field, a
number too long to convert, nesting too deep to parse, a control, bidi or
surrogate character (PostgreSQL refuses NUL outright, and the others would reach
the export and Slack) each make their own line a bad row, before anything is
stored. ``scope`` (a vendor's own token) makes any other vendor's row a bad row.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
)
from sqlalchemy import Column, MetaData, Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from bot.config import AppConfig
from storage.db import transaction
from storage.models import QaDecision

Format = Literal["csv", "jsonl"]
FIELDS = (
    "vendor",
    "decision_id",
    "content_ref",
    "policy_area",
    "decision",
    "decided_at",
    "agent_id",
    "confidence",
)
REQUIRED = FIELDS[:6]
CHUNK = 2000  # rows per INSERT round trip (10 parameters each: within SQLite's limits)
FUTURE_SLACK = timedelta(minutes=5)  # clocks differ a little; a decision from tomorrow is a bug
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
GZIP_MAGIC = b"\x1f\x8b"
#: Unicode categories refused in every text field: controls (NUL included), format
#: characters (bidi overrides and isolates, zero-width ones), lone surrogates, private use.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co"})


def _blank_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


_SPACES = dict.fromkeys(map(ord, "\t\n\v\f\r"), " ")


def _printable(raw: dict[str, Any]) -> dict[str, Any] | str:
    """The row with line breaks and tabs in its text turned into spaces (every field is
    one line), or the reason it is refused: another character that would not read as it
    is (:data:`REFUSED_CATEGORIES`). A pre-pass on the raw row, not a pydantic validator
    per field: ``str.isprintable`` answers the usual row in C, three times faster."""
    row = raw
    for key, value in raw.items():
        if not isinstance(value, str) or value.isprintable():
            continue
        text = value.translate(_SPACES)
        bad = next((ch for ch in text if unicodedata.category(ch) in REFUSED_CATEGORIES), None)
        if bad is not None:
            return f"{_shown(key)}: contains the control or format character U+{ord(bad):04X}"
        row = dict(row) if row is raw else row
        row[key] = text
    return row


def _shown(name: object) -> str:
    """A column name as it may be echoed back (to a terminal too): escaped if need be."""
    text = str(name)
    return text if text.isprintable() else repr(text)


class DecisionRow(BaseModel):
    """One vendor decision as a moderation tool reports it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    vendor: Annotated[str, Field(min_length=1, max_length=64)]
    decision_id: Annotated[str, Field(min_length=1, max_length=128)]
    content_ref: Annotated[str, Field(min_length=1, max_length=500)]
    policy_area: Annotated[str, Field(min_length=1, max_length=64)]
    decision: Annotated[str, Field(min_length=1, max_length=64)]
    decided_at: AwareDatetime
    agent_id: Annotated[
        Annotated[str, Field(max_length=64)] | None, BeforeValidator(_blank_is_none)
    ] = None
    confidence: Annotated[
        Annotated[float, Field(ge=0, le=1)] | None, BeforeValidator(_blank_is_none)
    ] = None


_ROW = TypeAdapter(DecisionRow)


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class ImportResult:
    """What one import did: rows read, newly stored, already there, and the bad rows."""

    rows: int = 0
    imported: int = 0
    duplicates: int = 0
    errors: list[RowError] = field(default_factory=list)
    refused: str | None = None  # the whole file was refused (unreadable, bad header, strict)

    @property
    def ok(self) -> bool:
        return self.refused is None and not self.errors

    def as_json(self, max_errors: int = 1000) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "imported": self.imported,
            "duplicates": self.duplicates,
            "bad_rows": len(self.errors),
            "errors": [{"line": e.line, "error": e.reason} for e in self.errors[:max_errors]],
            "refused": self.refused,
        }


class FileRefused(Exception):
    """The file can't be read at all (no header, unknown columns, not UTF-8)."""


def guess_format(name: str) -> Format | None:
    lower = name.lower()
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    return None


def read_rows(text: Iterable[str], fmt: Format) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, raw row) pairs, or (line, reason) for a line that doesn't even parse."""
    if fmt == "csv":
        yield from _csv_rows(text)
    else:
        yield from _jsonl_rows(text)


def _csv_rows(text: Iterable[str]) -> Iterator[tuple[int, dict[str, Any] | str]]:
    reader = csv.reader(iter(text))
    try:
        header = [h.strip().lstrip("\ufeff") for h in next(reader)]
    except StopIteration:
        return
    unknown = [h for h in header if h not in FIELDS]
    missing = [f for f in REQUIRED if f not in header]
    if unknown or missing or len(set(header)) != len(header):
        parts = []
        if missing:
            parts.append(f"missing column(s) {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown column(s) {', '.join(unknown)}")
        if len(set(header)) != len(header):
            parts.append("a column is named twice")
        raise FileRefused(f"line 1 (header): {'; '.join(parts)}; expected {', '.join(FIELDS)}")
    width = len(header)
    line = reader.line_num
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as err:  # e.g. a field over csv.field_size_limit(): this row only
            first, line = line + 1, reader.line_num
            yield first, f"not CSV ({err})"
            continue
        first, line = line + 1, reader.line_num
        if not values or values == [""] * len(values):
            continue
        if len(values) != width:
            yield first, f"{len(values)} values where the header has {width} columns"
            continue
        yield first, dict(zip(header, values, strict=True))


def _jsonl_rows(text: Iterable[str]) -> Iterator[tuple[int, dict[str, Any] | str]]:
    for number, raw in enumerate(text, start=1):
        raw = raw.strip().lstrip("\ufeff")
        if not raw:
            continue
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as err:
            yield number, f"not JSON ({err.msg})"
            continue
        except ValueError:  # int() refuses a number of more than 4300 digits
            yield number, "not JSON we can read (a number too long)"
            continue
        except RecursionError:
            yield number, "not JSON we can read (nested too deep)"
            continue
        if not isinstance(value, dict):
            yield number, "not a JSON object"
            continue
        yield number, value


def validate(
    cfg: AppConfig,
    rows: Iterable[tuple[int, dict[str, Any] | str]],
    now: datetime,
    scope: str | None = None,
) -> tuple[list[dict[str, Any]], list[RowError], int]:
    """(good rows ready to insert, bad rows, rows read); with ``scope``, only that
    vendor's rows are good (a vendor's token writes its own decisions only)."""
    vendors, areas = set(cfg.vendors), set(cfg.policy_areas)
    decisions = set(cfg.resolution.decisions)
    latest = now + FUTURE_SLACK
    good: list[dict[str, Any]] = []
    errors: list[RowError] = []
    seen: dict[tuple[str, str], int] = {}
    count = 0
    for line, raw in rows:
        count += 1
        if isinstance(raw, str):
            errors.append(RowError(line, raw))
            continue
        raw = _printable(raw)
        if isinstance(raw, str):
            errors.append(RowError(line, raw))
            continue
        try:
            row = _ROW.validate_python(raw)
        except ValidationError as err:
            errors.append(RowError(line, _reason(err)))
            continue
        problem = None
        if row.vendor not in vendors:
            problem = f"vendor: unknown vendor {row.vendor!r} (known: {', '.join(sorted(vendors))})"
        elif scope is not None and row.vendor != scope:
            problem = f"vendor: this token sends {scope}'s decisions only, not {row.vendor}'s"
        elif row.policy_area not in areas:
            problem = f"policy_area: unknown policy area {row.policy_area!r}"
        elif row.decision not in decisions:
            known = ", ".join(sorted(decisions))
            problem = f"decision: unknown decision {row.decision!r} (known: {known})"
        elif row.decided_at > latest:
            problem = "decided_at: is in the future"
        elif row.decided_at < EARLIEST:  # a bug; and year 1 at +14:00 overflows in UTC
            problem = "decided_at: is before 2000"
        elif (key := (row.vendor, row.decision_id)) in seen:
            problem = f"decision_id: {row.decision_id!r} of {row.vendor} repeats line {seen[key]}"
        if problem:
            errors.append(RowError(line, problem))
            continue
        seen[(row.vendor, row.decision_id)] = line
        good.append({**row.model_dump(), "imported_at": now})
    return good, errors, count


def _reason(err: ValidationError) -> str:
    parts = []
    for e in err.errors(include_url=False)[:3]:
        where = ".".join(_shown(p) for p in e["loc"]) or "row"
        msg = "unknown column" if e["type"] == "extra_forbidden" else e["msg"]
        parts.append(f"{where}: {msg}")
    return "; ".join(parts)


def store(sessions: sessionmaker[Session], good: list[dict[str, Any]]) -> int:
    """Insert the rows not stored yet, all in one transaction; returns how many were new.

    SQLite: chunked multi-row ``INSERT … ON CONFLICT DO NOTHING RETURNING``. PostgreSQL:
    the rows are streamed with ``COPY`` into a temporary table (dropped at commit) and
    moved with one ``INSERT … SELECT … ON CONFLICT DO NOTHING``: several times faster
    than parameterised inserts, with the same once-only semantics.
    """
    if not good:
        return 0
    with transaction(sessions) as session:
        if session.get_bind().dialect.name == "postgresql":
            return _store_pg(session, good)
        table = QaDecision.__table__
        stmt = (
            sqlite.insert(table)
            .on_conflict_do_nothing(index_elements=["vendor", "decision_id"])
            .returning(table.c.id)
        )
        return sum(
            len(session.execute(stmt, good[start : start + CHUNK]).all())
            for start in range(0, len(good), CHUNK)
        )


_COLUMNS = (*FIELDS, "imported_at")
_STAGING = Table(
    "qa_import_staging",
    MetaData(),
    *(Column(c.name, c.type) for c in QaDecision.__table__.columns if c.name in _COLUMNS),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)


def _store_pg(session: Session, good: list[dict[str, Any]]) -> int:
    connection = session.connection()
    _STAGING.create(connection)
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {_STAGING.name} ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
        for row in good:
            copy.write_row([row[c] for c in _COLUMNS])
    table = QaDecision.__table__
    stmt = (
        postgresql.insert(table)
        .from_select(list(_COLUMNS), select(*(_STAGING.c[c] for c in _COLUMNS)))
        .on_conflict_do_nothing(index_elements=["vendor", "decision_id"])
        .returning(table.c.id)
        .cte("inserted")
    )
    # counted in SQL: psycopg reports no rowcount for INSERT … ON CONFLICT
    return int(session.scalar(select(func.count()).select_from(stmt)) or 0)


def import_text(
    sessions: sessionmaker[Session],
    cfg: AppConfig,
    text: Iterable[str],
    fmt: Format,
    now: datetime,
    *,
    strict: bool = False,
    scope: str | None = None,
) -> ImportResult:
    """Validate and store one file or batch (see the module's docstring for the semantics)."""
    result = ImportResult()
    try:
        good, result.errors, result.rows = validate(cfg, read_rows(text, fmt), now, scope)
    except FileRefused as err:
        result.refused = str(err)
        return result
    except UnicodeDecodeError:
        result.refused = "the file is not UTF-8 text"
        return result
    if strict and result.errors:
        result.refused = f"{len(result.errors)} bad row(s) and strict: nothing imported"
        return result
    result.imported = store(sessions, good)
    result.duplicates = len(good) - result.imported
    return result


def import_bytes(
    sessions: sessionmaker[Session],
    cfg: AppConfig,
    body: bytes,
    fmt: Format,
    now: datetime,
    *,
    strict: bool = False,
    scope: str | None = None,
) -> ImportResult:
    """A batch posted over HTTP: the same as a file."""
    if body.startswith(GZIP_MAGIC):
        return ImportResult(refused="the body is gzip: send the rows uncompressed")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return ImportResult(refused="the body is not UTF-8 text")
    return import_text(
        sessions, cfg, io.StringIO(text, newline=""), fmt, now, strict=strict, scope=scope
    )
