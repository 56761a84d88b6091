"""Intake throughput: filled intake modals accepted → tickets committed, per second.

    python -m bench.intake                                # SQLite in a temporary directory
    python -m bench.intake --database-url postgresql://postgres@127.0.0.1:5432/test
    python -m bench.intake --submissions 500 --concurrency 10 --json intake.json

``escbot run`` (its own process, against the fake Slack in this one) takes
``--submissions`` view submissions from ``--concurrency`` closed-loop senders.
escbot commits each ticket before it acknowledges, so every plain ack is a
committed ticket; its route step (routing, timers, and the outbox rows: card,
the details in its thread, the reporter's DM) follows the ack. Two rates: *acked*
(tickets over the seconds until the last ack) and *routed* (until the last
ticket's route step committed, its card queued with its owner); the counts are
checked in the database afterwards. SQLite
always runs; ``--database-url`` adds a run on a PostgreSQL schema made for it
and dropped after. The outbox worker runs as in production, delivering while
intake goes on. ``--workers N`` runs ``escbot run --workers N``. Targets: at least
200 tickets a second on SQLite and 150 on PostgreSQL (with workers).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from sqlalchemy import create_engine, text

from bench import harness as h
from storage.db import database_url

TARGET_PER_SECOND = 200.0  # SQLite
TARGET_PG = 150.0  # PostgreSQL, with workers (issue #16)
WARMUP = 50

#: Tickets of the run, and those with each outbox row intake queues.
CHECK = text(
    """
    SELECT count(*),
           count(*) FILTER (WHERE EXISTS (SELECT 1 FROM outbox o
                                          WHERE o.ticket_id = t.id AND o.kind = 'card')),
           count(*) FILTER (WHERE EXISTS (SELECT 1 FROM outbox o
                                          WHERE o.ticket_id = t.id AND o.kind = 'thread')),
           count(*) FILTER (WHERE EXISTS (SELECT 1 FROM outbox o
                                          WHERE o.ticket_id = t.id AND o.kind = 'dm'))
    FROM tickets t WHERE t.reporter_id LIKE :reporters
    """
)


#: Tickets of the run not routed yet.
UNROUTED = text("SELECT count(*) FROM tickets WHERE reporter_id LIKE :reporters AND status = 'new'")


def routed_at(db_url: str, tag: str, timeout: float = 120.0) -> float:
    """time.perf_counter() once every ticket of the run is routed (polled every 10 ms)."""
    engine = create_engine(database_url(db_url))
    deadline = time.perf_counter() + timeout
    try:
        while time.perf_counter() < deadline:
            with engine.connect() as conn:
                if not conn.execute(UNROUTED, {"reporters": f"U0{tag}X%"}).scalar():
                    return time.perf_counter()
            time.sleep(0.01)
        raise TimeoutError(f"tickets still unrouted after {timeout:.0f} s")
    finally:
        engine.dispose()


def committed(db_url: str, tag: str) -> dict[str, int]:
    engine = create_engine(database_url(db_url))
    try:
        with engine.connect() as conn:
            tickets, card, thread, dm = conn.execute(CHECK, {"reporters": f"U0{tag}X%"}).one()
    finally:
        engine.dispose()
    return {"tickets": tickets, "with_card": card, "with_thread": thread, "with_dm": dm}


def run_one(
    url: str | None, submissions: int, concurrency: int, threads: int, workers: int = 1
) -> dict[str, Any]:
    cfg = h.config()
    fake = h.fake_slack(cfg)
    try:
        with h.workdir() as tmp, h.database(url, tmp) as db_url:
            escbot = h.start_escbot(fake, db_url, tmp, threads, workers)
            try:
                modal = h.intake_modal(escbot, fake)
                warm = h.users(escbot, fake, concurrency, "W")
                h.run_concurrently(warm, WARMUP, lambda u, n: h.submit_intake(u, modal, f"w{n}"))
                senders = h.users(escbot, fake, concurrency, "M")
                cpu = escbot.cpu_seconds()
                result = h.run_concurrently(
                    senders, submissions, lambda u, n: h.submit_intake(u, modal, f"m{n}")
                )
                routed = routed_at(db_url, "M") - result.began
                cpu = escbot.cpu_seconds() - cpu
                check = committed(db_url, "M")
                info = h.machine(db_url)
                rss = escbot.rss_mb()
            finally:
                escbot.stop()
    finally:
        fake.stop()
    accepted = len(result.latencies) - len(result.failures)
    return {
        "database": info["database"],
        "machine": info,
        "submissions": submissions,
        "accepted": accepted,
        "failures": result.failures[:5],
        **check,
        "seconds": result.seconds,
        "per_second": check["tickets"] / result.seconds,
        "routed_seconds": routed,
        "routed_per_second": check["tickets"] / routed,
        "ack_ms": h.percentiles(result.latencies),
        "server_cpu_ms_per_ticket": cpu / submissions * 1000,
        "rss_mb": rss,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    urls: list[str | None] = [None]
    if args.database_url:
        urls = [args.database_url] if args.postgresql_only else [None, args.database_url]
    runs: list[dict[str, Any]] = []
    for url in urls:
        runs.append(run_one(url, args.submissions, args.concurrency, args.threads, args.workers))
        print(line(runs[-1]), flush=True)
    return {
        "benchmark": "intake",
        "machine": runs[0]["machine"],
        "settings": {
            "submissions": args.submissions,
            "concurrency": args.concurrency,
            "server_threads": args.threads,
            "workers": args.workers,
        },
        "targets": {"sqlite_per_second_min": TARGET_PER_SECOND, "pg_per_second_min": TARGET_PG},
        "results": runs,
    }


HEADER = (
    f"{'database':<18}{'sent':>6}{'acked':>7}{'tickets':>8}{'+outbox':>8}"
    f"{'acked/s':>9}{'routed/s':>10}{'ack p50':>9}{'p99':>7}{'cpu ms/ticket':>15}{'RSS MB':>8}"
)


def line(r: dict[str, Any]) -> str:
    complete = min(r["with_card"], r["with_thread"], r["with_dm"])
    return (
        f"{r['database']:<18}{r['submissions']:>6}{r['accepted']:>7}{r['tickets']:>8}"
        f"{complete:>8}{r['per_second']:>9.1f}{r['routed_per_second']:>10.1f}"
        f"{r['ack_ms']['p50']:>9.1f}"
        f"{r['ack_ms']['p99']:>7.1f}{r['server_cpu_ms_per_ticket']:>15.1f}{r['rss_mb']:>8.0f}"
    )


def table(report: dict[str, Any]) -> str:
    s = report["settings"]
    out = [
        f"intake throughput: {s['submissions']} submissions from {s['concurrency']} "
        f"concurrent senders, {s['workers']} worker(s) × {s['server_threads']} threads",
        h.describe(report["machine"]),
        "",
        HEADER,
        *(line(r) for r in report["results"]),
        "",
    ]
    for r in report["results"]:
        target = TARGET_PER_SECOND if r["database"].startswith("sqlite") else TARGET_PG
        rate = min(r["per_second"], r["routed_per_second"])  # routed: the honest one
        out.append(
            f"≥ {target:.0f} tickets/s on {r['database']}: {h.verdict(rate >= target)} "
            f"({r['per_second']:.1f}/s acked, {r['routed_per_second']:.1f}/s routed)"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.intake", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--database-url", help="also run on this PostgreSQL server")
    parser.add_argument("--submissions", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--threads", type=int, default=8, help="request threads")
    parser.add_argument("--workers", type=int, default=1, help="escbot run --workers")
    parser.add_argument("--postgresql-only", action="store_true", help="skip the SQLite run")
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    args = parser.parse_args(argv)
    print(HEADER, flush=True)
    report = run(args)
    print()
    print(table(report))
    h.write_json(args.json, report)


if __name__ == "__main__":
    main()
