"""Digest over growing history: does a digest cost the same with 10× the tickets?

Generates N synthetic tickets at a steady rate per day (so a bigger N is a
longer history, like a desk that has been running for years) with their
audit events, content items, vendor verdicts, SLA breaches and follow-ups
(a working desk: only the last 60 days hold open tickets and open
follow-ups, so the open set is steady while the history grows),
bulk-loaded (executemany on SQLite, COPY on PostgreSQL; indexes built after
the load), then times the daily digest for the last complete day.

    python -m bench.digest --sizes 100000,1000000                      # SQLite
    python -m bench.digest --db postgresql://postgres@127.0.0.1:5432/test --sizes 100000,1000000

Reported per size: load time, then the median of ``--repeat`` runs (after
one warm-up) of ``build_report`` for the configured daily digest, for every
section plus the chart data, and for everything including the message and
the PNG. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, event, text

from bench.harness import scratch_schema
from bot.config import AppConfig, load_config
from bot.config.model import SECTIONS
from bot.core.render import Renderer
from bot.reporting.periods import digest_period
from bot.reporting.present import present
from bot.reporting.report import build_report
from storage.db import make_engine, make_session_factory, upgrade
from storage.models import Base

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)  # the daily digest runs for Wed 25 Nov
US = 1_000_000
DAY_US = 86_400 * US
CHUNK = 250_000
STEADY_DAYS = 60  # tickets and follow-ups older than this are closed

AREAS = ["hateful_activities", "graphic_violence", "violent_extremism", "self_harm"]
AREA_P = [0.45, 0.30, 0.15, 0.10]
SEVS = ["sev0", "sev1", "sev2", "sev3"]
SEV_P = [0.03, 0.12, 0.55, 0.30]
ACK = np.array([900, 1800, 14_400, 86_400])  # SLA targets in seconds, as in app.yaml
RESOLVE = np.array([14_400, 28_800, 172_800, 432_000])
SOURCES = ["legal", "comms", "partner_management", "product", "vendor_ops", "policy", None]
VENDORS = [None, "northwind_manila", "tejo_lisbon"]
VENDOR_P = [0.70, 0.18, 0.12]
ERRORS = ["wrong_policy", "missed_context", "missed_violation", "over_enforcement"]
REGIONS = ["global", "na", "latam", "europe", "mena", "ssa", "south_asia", "apac"]
LANGS = ["en", "es", "pt", "fr", "de", "hi", "bn", "tl", "sw"]
MEMBERS = ["U05MAD1LFZ3", "U05BER7JBK2", "U05NYC3MRD8", "U05SAO2BAL6", "U05MNL8ASN4"]
REPORTERS = ["U07LEGAL01", "U07COMMS02", "U07PARTN03", "U07VENDR04"]
DECISIONS = ["removed", "restricted", "labelled", "no_violation", "account_action"]

TICKET_COLS = [
    *("id", "number", "key", "summary", "details", "policy_area", "severity", "sensitive"),
    *("status", "reporter_id", "assignee_id", "source_team", "vendor", "region", "language"),
    *("card_channel", "card_ts", "created_at", "updated_at", "acked_at", "resolved_at"),
    *("version", "escalation_level", "decision", "vendor_correct", "vendor_error_category"),
    *("reopened_count", "paused_seconds", "tta_seconds", "ttr_seconds", "tta_breached"),
    "ttr_breached",
]
EVENT_COLS = ["ticket_id", "at", "actor_id", "action", "from_status", "to_status", "payload"]
CONTENT_COLS = ["ticket_id", "raw", "normalized", "kind", "created_at"]
BREACH_COLS = ["ticket_id", "clock", "severity", "due_at", "at"]
FOLLOWUP_COLS = [
    "ticket_id",
    "kind",
    "description",
    "owner_id",
    "created_by",
    "due_at",
    "status",
    "created_at",
    "done_at",
]


@dataclass
class Batch:
    tickets: list[tuple[Any, ...]]
    events: list[tuple[Any, ...]]
    content: list[tuple[Any, ...]]
    breaches: list[tuple[Any, ...]]
    followups: list[tuple[Any, ...]]


class Stamps:
    """Microseconds since the epoch → the text each database stores for a UTCDateTime."""

    def __init__(self, dialect: str) -> None:
        self.suffix = "+00" if dialect == "postgresql" else ""

    def __call__(self, us: np.ndarray, valid: np.ndarray | None = None) -> list[str | None]:
        raw = np.datetime_as_string(us.astype("datetime64[us]"), unit="us").tolist()
        out = [f"{s[:10]} {s[11:]}{self.suffix}" for s in raw]
        if valid is not None:
            out = [s if ok else None for s, ok in zip(out, valid.tolist(), strict=True)]
        return out

    def one(self, us: int) -> str:
        return self(np.array([us], dtype=np.int64))[0]  # type: ignore[return-value]


def generate(n: int, rate: int, seed: int, dialect: str) -> Iterator[Batch]:
    """``n`` tickets ending at NOW, ``rate`` a day, in chunks; everything a digest reads."""
    now_us = int(NOW.timestamp() * US)
    span_us = n * DAY_US // rate
    stamp = Stamps(dialect)
    flag = (lambda b: bool(b)) if dialect == "postgresql" else (lambda b: int(bool(b)))
    for lo in range(0, n, CHUNK):
        hi = min(n, lo + CHUNK)
        m = hi - lo
        rng = np.random.default_rng([seed, lo])
        idx = np.arange(lo, hi, dtype=np.int64)
        step = span_us // n  # µs between tickets (idx * span_us would overflow int64)
        created = now_us - span_us + idx * step + rng.integers(0, step + 1, m)
        sev = rng.choice(4, m, p=SEV_P)
        tta = rng.exponential(ACK[sev] * 0.4).astype(np.int64) + 30
        ttr = rng.exponential(RESOLVE[sev] * 0.35).astype(np.int64) + 300
        acked = created + tta * US
        resolved = acked + ttr * US
        is_acked = acked <= now_us
        is_resolved = resolved <= now_us
        # A working desk: the open set is steady (what came in lately), whatever the history.
        recent = created > now_us - STEADY_DAYS * DAY_US
        stuck = recent & (rng.random(m) < 0.003)  # waiting on the reporter for weeks
        is_resolved &= ~stuck
        vendor = rng.choice(3, m, p=VENDOR_P)
        correct = rng.random(m) < 0.9
        reopen = is_resolved & (rng.random(m) < 0.01) & (resolved + DAY_US <= now_us)
        area = rng.choice(4, m, p=AREA_P)
        source = rng.integers(0, len(SOURCES), m)
        region = rng.integers(0, len(REGIONS), m)
        lang = rng.integers(0, len(LANGS), m)
        member = rng.integers(0, len(MEMBERS), m)
        post = rng.integers(0, rate * 40, m)
        c_s, a_s, r_s = stamp(created), stamp(acked, is_acked), stamp(resolved, is_resolved)
        due_tta, due_ttr = created + ACK[sev] * US, created + RESOLVE[sev] * US
        tta_b = (tta > ACK[sev]) & (due_tta <= now_us)
        ttr_b = (acked + ttr * US > due_ttr) & (due_ttr <= now_us)
        fu = is_resolved & (rng.random(m) < 0.02)
        fu_done = (rng.random(m) < 0.8) | ~recent  # old follow-ups are all done by now
        tickets, events, content, breaches, followups = [], [], [], [], []
        for j in range(m):
            i = lo + j + 1
            key = f"ESC-{i}"
            s = SEVS[sev[j]]
            done, ack = bool(is_resolved[j]), bool(is_acked[j])
            status = (
                "resolved"
                if done
                else ("waiting_on_reporter" if stuck[j] else "acknowledged" if ack else "assigned")
            )
            v = VENDORS[vendor[j]]
            verdict = flag(correct[j]) if v and done else None
            tickets.append(
                (
                    i, i, key, f"synthetic escalation {i}", "", AREAS[area[j]], s,
                    flag(area[j] in (1, 3)), status, REPORTERS[i % 4], MEMBERS[member[j]],
                    SOURCES[source[j]], v, REGIONS[region[j]], LANGS[lang[j]], "C06H2KX8ESC",
                    f"{created[j] // US}.{i % US:06d}", c_s[j], r_s[j] or a_s[j] or c_s[j],
                    a_s[j], r_s[j], 1, 0, DECISIONS[i % 5] if done else None, verdict,
                    ERRORS[i % 4] if verdict in (False, 0) else None, int(reopen[j]), 0,
                    int(tta[j]) if ack else None, int(ttr[j]) if done else None,
                    flag(tta_b[j]), flag(ttr_b[j] and done),
                )
            )  # fmt: skip
            events.append((i, c_s[j], REPORTERS[i % 4], "create", None, "new", "{}"))
            if ack:
                events.append((i, a_s[j], MEMBERS[member[j]], "acknowledge", "assigned",
                               "acknowledged", "{}"))  # fmt: skip
            if done:
                events.append((i, r_s[j], MEMBERS[member[j]], "resolve", "acknowledged",
                               "resolved", "{}"))  # fmt: skip
            if reopen[j]:
                at = stamp.one(resolved[j] + DAY_US)
                events.append((i, at, REPORTERS[i % 4], "reopen", "resolved", "reopened", "{}"))
            content.append(
                (i, f"https://example.com/post/{post[j]}", f"example.com/post/{post[j]}", "url",
                 c_s[j])
            )  # fmt: skip
            if tta_b[j]:
                due = stamp.one(due_tta[j])
                breaches.append((i, "tta", s, due, due))
            if ttr_b[j] and done:
                due = stamp.one(due_ttr[j])
                breaches.append((i, "ttr", s, due, due))
            if fu[j]:
                due = stamp.one(resolved[j] + 7 * DAY_US)
                finished = fu_done[j] and resolved[j] + 5 * DAY_US <= now_us
                finished_at = stamp.one(resolved[j] + 5 * DAY_US) if finished else None
                followups.append(
                    (i, "tooling", f"follow-up of {key}", MEMBERS[member[j]], "U04LQ2M8RTA", due,
                     "done" if finished else "open", r_s[j], finished_at)
                )  # fmt: skip
        yield Batch(tickets, events, content, breaches, followups)


def _insert_sqlite(engine: Engine, table: str, cols: Sequence[str], rows: list) -> None:
    conn = engine.raw_connection()
    try:
        marks = ",".join("?" * len(cols))
        cur = conn.cursor()
        cur.execute("BEGIN")
        cur.executemany(f"INSERT INTO {table} ({','.join(cols)}) VALUES ({marks})", rows)
        cur.execute("COMMIT")
    finally:
        conn.close()


def _copy_pg(engine: Engine, table: str, cols: Sequence[str], rows: list) -> None:
    conn = engine.raw_connection()
    try:
        with conn.cursor() as cur, cur.copy(f"COPY {table} ({','.join(cols)}) FROM STDIN") as cp:
            for row in rows:
                cp.write_row(row)
        conn.commit()
    finally:
        conn.close()


def load(engine: Engine, n: int, rate: int, seed: int) -> float:
    """Create the schema, drop secondary indexes, bulk-load, rebuild them; seconds taken."""
    started = time.perf_counter()
    upgrade(engine)
    dialect = engine.dialect.name
    indexes = sorted(
        (ix for t in Base.metadata.sorted_tables for ix in t.indexes if not ix.unique),
        key=lambda ix: str(ix.name),  # a fixed order: SQLite breaks plan ties by it
    )
    with engine.begin() as conn:
        for ix in indexes:
            ix.drop(conn, checkfirst=True)
    insert = _copy_pg if dialect == "postgresql" else _insert_sqlite
    for batch in generate(n, rate, seed, dialect):
        insert(engine, "tickets", TICKET_COLS, batch.tickets)
        insert(engine, "ticket_events", EVENT_COLS, batch.events)
        insert(engine, "content_items", CONTENT_COLS, batch.content)
        insert(engine, "sla_breaches", BREACH_COLS, batch.breaches)
        insert(engine, "followups", FOLLOWUP_COLS, batch.followups)
    with engine.begin() as conn:  # what bot.sla.sync keeps: the first ack, each resolution
        conn.execute(
            text(
                "UPDATE tickets SET first_acked_at = acked_at, first_acked_by = assignee_id"
                " WHERE acked_at IS NOT NULL"
            )
        )
        conn.execute(
            text(
                "INSERT INTO resolutions (ticket_id, at, severity, ttr_seconds, ttr_breached,"
                " decision, vendor, vendor_correct, vendor_error_category)"
                " SELECT id, resolved_at, severity, ttr_seconds, ttr_breached, decision, vendor,"
                " vendor_correct, vendor_error_category FROM tickets WHERE resolved_at IS NOT NULL"
            )
        )
    with engine.begin() as conn:
        for ix in indexes:
            ix.create(conn)
        conn.execute(text("UPDATE counters SET value = :n WHERE name = 'ticket'"), {"n": n})
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()
    return time.perf_counter() - started


def timed(fn: Any, repeat: int) -> tuple[float, float]:
    """(first run, median of ``repeat`` runs after it) in milliseconds."""
    t0 = time.perf_counter()
    fn()
    first = (time.perf_counter() - t0) * 1000
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t0) * 1000)
    return first, statistics.median(runs)


def measure(engine: Engine, cfg: AppConfig, repeat: int) -> dict[str, tuple[float, float]]:
    sessions = make_session_factory(engine)
    daily = cfg.digest("daily")
    assert daily is not None
    everything = daily.model_copy(update={"sections": SECTIONS, "chart": True})
    period = digest_period(cfg, daily, NOW)
    renderer = Renderer(cfg.team_tz)

    def report(digest: Any) -> Any:
        with sessions() as s:
            return build_report(s, cfg, digest, period, NOW)

    return {
        "daily (configured sections)": timed(lambda: report(daily), repeat),
        "all sections + chart data": timed(lambda: report(everything), repeat),
        "all + message + PNG": timed(lambda: present(cfg, renderer, report(everything)), repeat),
    }


HISTORY_SCAN = {
    "sqlite": re.compile(r"^SCAN (tickets|ticket_events|content_items|sla_breaches|followups)\b"),
    "postgresql": re.compile(
        r"Seq Scan on (tickets|ticket_events|content_items|sla_breaches|followups)\b"
    ),
}


def history_scans(engine: Engine, cfg: AppConfig) -> list[str]:
    """Plan lines in which a full digest's queries read a whole history table (want: none)."""
    daily = cfg.digest("daily")
    assert daily is not None
    digest = daily.model_copy(update={"sections": SECTIONS, "chart": True})
    statements: list[tuple[str, Any]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with make_session_factory(engine)() as s:
            build_report(s, cfg, digest, digest_period(cfg, daily, NOW), NOW)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    dialect = engine.dialect.name
    explain = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN "
    found = []
    raw = engine.raw_connection()
    try:
        for sql, params in statements:
            cur = raw.cursor()
            cur.execute(explain + sql, params)
            plan = [str(row[-1] if dialect == "sqlite" else row[0]) for row in cur.fetchall()]
            query = " ".join(sql.split())[:120]
            found += [
                f"{line.strip()}  <-  {query}"
                for line in plan
                if HISTORY_SCAN[dialect].search(line) and "ix_tickets_open" not in line
            ]
    finally:
        raw.close()
    return found


def fresh(url: str, n: int, workdir: Path) -> tuple[Engine, Any]:
    """A new empty database for ``n`` tickets and a cleanup callback."""
    if url == "sqlite":
        path = workdir / f"bench-digest-{n}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        engine = make_engine(f"sqlite:///{path}")

        def remove() -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

        return engine, remove
    schema = ExitStack()
    engine = make_engine(schema.enter_context(scratch_schema(url, f"bench_{n}")))

    def drop() -> None:
        engine.dispose()
        schema.close()

    return engine, drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite", help="sqlite (a file in --workdir) or a URL")
    parser.add_argument("--sizes", default="100000,1000000", help="ticket counts, comma-separated")
    parser.add_argument("--rate", type=int, default=1000, help="tickets per day")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp"))
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument("--explain", action="store_true", help="list history scans in plans")
    args = parser.parse_args()
    cfg = load_config(REPO / "app.yaml")
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(f"# {platform.platform()} · {os.cpu_count()} CPUs · {mem:.0f} GiB · {args.db}")
    day = digest_period(cfg, cfg.digests[0], NOW).label
    print(f"# {args.rate} tickets/day; digest for {day}")
    print("| tickets | history | load s | measure | first ms | median ms |")
    print("| ---: | ---: | ---: | --- | ---: | ---: |")
    for n in (int(s) for s in args.sizes.split(",")):
        engine, drop = fresh(args.db, n, args.workdir)
        try:
            seconds = load(engine, n, args.rate, args.seed)
            for what, (first, median) in measure(engine, cfg, args.repeat).items():
                years = n / args.rate / 365
                row = f"| {n:,} | {years:.1f} y | {seconds:.0f} | {what} | {first:.0f} |"
                print(f"{row} {median:.0f} |", flush=True)
            if args.explain:
                scans = history_scans(engine, cfg)
                print(f"# {n:,}: {len(scans)} history scans in the plans", *scans, sep="\n# ")
        finally:
            engine.dispose()
            if not args.keep:
                drop()


if __name__ == "__main__":
    main()
