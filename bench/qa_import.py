"""QA import throughput: ``escbot qa import`` of N vendor decisions, some of them bad.

Writes a CSV (and a JSON Lines file) of ``--rows`` decisions of the example
vendors with ``--bad`` broken rows scattered through it, then times the import
through the CLI's own function (parse, validate, one transaction of chunked
``INSERT … ON CONFLICT DO NOTHING``) and a second run of the same file, which
must import nothing.

    python -m bench.qa_import                                                    # SQLite
    python -m bench.qa_import --db postgresql://postgres@127.0.0.1:5432/test     # PostgreSQL
"""

from __future__ import annotations

import argparse
import csv
import random
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.harness import scratch_schema, workdir
from bot.config import AppConfig, load_config
from bot.qa.imports import FIELDS, import_text
from storage.db import make_engine, make_session_factory, upgrade

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
BAD_KINDS = (
    ("vendor", "acme_unknown"),
    ("policy_area", "spam"),
    ("decided_at", "yesterday"),
    ("confidence", "1.7"),
    ("decision_id", ""),
)


def write_csv(path: Path, cfg: AppConfig, rows: int, bad: int, seed: int = 7) -> set[int]:
    """The file, and the line numbers of its bad rows."""
    rng = random.Random(seed)
    vendors, areas = list(cfg.vendors), list(cfg.policy_areas)
    decisions = list(cfg.resolution.decisions)
    bad_lines = {2 + i for i in rng.sample(range(rows), bad)}
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(FIELDS)
        for i in range(rows):
            row = {
                "vendor": vendors[i % len(vendors)],
                "decision_id": f"d{i:07d}",
                "content_ref": f"post:{10_000_000 + i}",
                "policy_area": areas[rng.randrange(len(areas))],
                "decision": decisions[rng.randrange(len(decisions))],
                "decided_at": (NOW - timedelta(hours=30) + timedelta(seconds=i % 86_400))
                .isoformat()
                .replace("+00:00", "Z"),
                "agent_id": f"agent{rng.randrange(40):02d}",
                "confidence": f"{rng.random():.2f}",
            }
            if 2 + i in bad_lines:
                key, value = BAD_KINDS[len(bad_lines & set(range(2 + i))) % len(BAD_KINDS)]
                row[key] = value
            out.writerow([row[f] for f in FIELDS])
    return bad_lines


def run(url: str, cfg: AppConfig, path: Path, bad_lines: set[int]) -> None:
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    for attempt in ("first", "second"):
        started = time.perf_counter()
        with path.open(encoding="utf-8", newline="") as fh:
            result = import_text(sessions, cfg, fh, "csv", NOW)
        took = time.perf_counter() - started
        named = {e.line for e in result.errors}
        rate = result.rows / took
        print(
            f"  {attempt} run: {result.rows} rows in {took:.2f} s ({rate:,.0f} rows/s)"
            f" · imported {result.imported} · already there {result.duplicates}"
            f" · bad {len(result.errors)} (the planted ones: {named == bad_lines})"
        )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--bad", type=int, default=50)
    parser.add_argument("--db", help="a PostgreSQL URL (a scratch schema is used); default SQLite")
    args = parser.parse_args()
    cfg = load_config(REPO / "app.yaml")
    with ExitStack() as stack:
        tmp = stack.enter_context(workdir())
        path = tmp / "decisions.csv"
        bad_lines = write_csv(path, cfg, args.rows, args.bad)
        if args.db:
            url = stack.enter_context(scratch_schema(args.db, "bench_qa"))
            print(f"PostgreSQL, {args.rows} rows, {args.bad} bad:")
        else:
            url = f"sqlite:///{tmp / 'qa.db'}"
            print(f"SQLite (file, WAL), {args.rows} rows, {args.bad} bad:")
        run(url, cfg, path, bad_lines)


if __name__ == "__main__":
    main()
