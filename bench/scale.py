"""Scaling out: intake throughput of one process, of ``--workers N`` and of N replicas.

    python -m bench.scale --database-url postgresql://postgres@127.0.0.1:5432/test
    python -m bench.scale --layouts 1,w2,r2 --submissions 800 --json scale.json

Each layout serves the same closed-loop intake traffic (``--concurrency`` senders,
one filled modal each per request, as in ``bench.intake``) on a fresh database:
``1`` is one ``escbot run``; ``wN`` is ``escbot run --workers N`` (one port, the
kernel spreading connections); ``rN`` is N separate ``escbot run`` replicas on one
database, each with its own outbox worker and scheduler, the senders split
between them as a load balancer would. It reports tickets acknowledged per
second, tickets *routed* per second (until the last one has an owner: routing may
finish after the ack), ack p50/p99, escbot's and PostgreSQL's CPU per ticket, and
how busy the whole machine was — which says whether a layout had cores left to
use. Without ``--database-url`` it runs on SQLite (replicas then share one file).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from bench import harness as h
from storage.db import database_url

WARMUP = 50
ROUTED = text("SELECT count(*), count(assignee_id) FROM tickets WHERE reporter_id LIKE :reporters")


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total = sum(fields[:8])
    idle = fields[3] + fields[4]  # idle + iowait
    tick = os.sysconf("SC_CLK_TCK")
    return (total - idle) / tick, total / tick


def postgres_cpu() -> float:
    """CPU seconds so far of the PostgreSQL server's processes (0 where there are none)."""
    spent = 0.0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if (proc / "comm").read_text().strip() == "postgres":
                spent += h.cpu_seconds(int(proc.name))
        except OSError:  # exited meanwhile
            continue
    return spent


def layouts(spec: str) -> Iterator[tuple[str, list[int]]]:
    """``1,w2,r2`` → (label, workers per server process)."""
    for item in spec.split(","):
        item = item.strip()
        if item == "1":
            yield "1 process", [1]
        elif item.startswith("w") and item[1:].isdigit():
            yield f"--workers {item[1:]}", [int(item[1:])]
        elif item.startswith("r") and item[1:].isdigit():
            yield f"{item[1:]} replicas", [1] * int(item[1:])
        else:
            raise SystemExit(f"--layouts: {item!r} is not 1, wN or rN")


def wait_routed(db_url: str, tag: str, count: int, timeout: float) -> tuple[int, int]:
    """Poll until ``count`` tickets of the run's reporters have an owner (or ``timeout``);
    (tickets, routed) as last seen."""
    engine = create_engine(database_url(db_url))
    deadline = time.monotonic() + timeout
    try:
        while True:
            with engine.connect() as conn:
                tickets, routed = conn.execute(ROUTED, {"reporters": f"U0{tag}%"}).one()
            if routed >= count or time.monotonic() > deadline:
                return int(tickets), int(routed)
            time.sleep(0.05)
    finally:
        engine.dispose()


def run_layout(
    url: str | None, label: str, workers: list[int], args: argparse.Namespace
) -> dict[str, Any]:
    cfg = h.config()
    fake = h.fake_slack(cfg)
    with ExitStack() as stack:
        stack.callback(fake.stop)
        tmp = stack.enter_context(h.workdir())
        db_url = stack.enter_context(h.database(url, tmp))
        servers = []
        for i, n in enumerate(workers):  # one at a time: each migrates, joins, then serves
            server = h.start_escbot(fake, db_url, tmp, args.threads, n, name=f"escbot{i}")
            stack.callback(server.stop)
            servers.append(server)
        modal = h.intake_modal(servers[0], fake)
        warm = [u for i, s in enumerate(servers) for u in h.users(s, fake, 4, f"W{i}")]
        h.run_concurrently(warm, WARMUP, lambda u, n: h.submit_intake(u, modal, f"w{n}"))
        wait_routed(db_url, "W", WARMUP, args.timeout)
        per = -(-args.concurrency // len(servers))
        senders = [u for i, s in enumerate(servers) for u in h.users(s, fake, per, f"M{i}")]
        senders = senders[: args.concurrency]
        escbot_cpu = sum(s.cpu_seconds() for s in servers)
        pg_cpu = postgres_cpu()
        busy, total = machine_busy()
        began = time.perf_counter()
        result = h.run_concurrently(
            senders, args.submissions, lambda u, n: h.submit_intake(u, modal, f"m{n}")
        )
        acked = len(result.latencies) - len(result.failures)
        tickets, routed = wait_routed(db_url, "M", acked, args.timeout)
        routed_seconds = time.perf_counter() - began
        escbot_cpu = sum(s.cpu_seconds() for s in servers) - escbot_cpu
        pg_cpu = postgres_cpu() - pg_cpu
        busy2, total2 = machine_busy()
        rss = max(s.rss_mb() for s in servers)
        info = h.machine(db_url)
    return {
        "layout": label,
        "database": info["database"],
        "machine": info,
        "submissions": args.submissions,
        "acked": acked,
        "failures": result.failures[:5],
        "tickets": tickets,
        "routed": routed,
        "acked_per_second": acked / result.seconds,
        "routed_per_second": routed / routed_seconds,
        "ack_ms": h.percentiles(result.latencies),
        "escbot_cpu_ms_per_ticket": escbot_cpu / max(1, tickets) * 1000,
        "postgres_cpu_ms_per_ticket": pg_cpu / max(1, tickets) * 1000 if url else None,
        "machine_busy_percent": (busy2 - busy) / max(1e-9, total2 - total) * 100,
        "rss_mb": rss,
    }


HEADER = (
    f"{'layout':<14}{'database':<18}{'acked':>6}{'routed':>7}{'acked/s':>9}{'routed/s':>9}"
    f"{'ack p50':>9}{'p99':>7}{'escbot cpu':>11}{'pg cpu':>8}{'busy':>6}{'RSS':>6}"
)


def line(r: dict[str, Any]) -> str:
    pg = r["postgres_cpu_ms_per_ticket"]
    return (
        f"{r['layout']:<14}{r['database']:<18}{r['acked']:>6}{r['routed']:>7}"
        f"{r['acked_per_second']:>9.1f}{r['routed_per_second']:>9.1f}"
        f"{r['ack_ms']['p50']:>9.1f}{r['ack_ms']['p99']:>7.1f}"
        f"{r['escbot_cpu_ms_per_ticket']:>11.1f}{'' if pg is None else f'{pg:.1f}':>8}"
        f"{r['machine_busy_percent']:>5.0f}%{r['rss_mb']:>6.0f}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--database-url", help="PostgreSQL server (default: a SQLite file)")
    parser.add_argument("--layouts", default="1,w2,r2", help="1, wN (--workers N), rN replicas")
    parser.add_argument("--submissions", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--threads", type=int, default=8, help="request threads per process")
    parser.add_argument("--timeout", type=float, default=120.0, help="wait for routing (s)")
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    args = parser.parse_args(argv)
    print(f"{os.cpu_count()} CPUs; {args.submissions} submissions, {args.concurrency} senders")
    print(HEADER, flush=True)
    runs = []
    for label, workers in layouts(args.layouts):
        runs.append(run_layout(args.database_url, label, workers, args))
        print(line(runs[-1]), flush=True)
    print()
    print(h.describe(runs[0]["machine"]))
    base = runs[0]["routed_per_second"]
    for r in runs[1:]:
        print(f"{r['layout']}: routed/s {r['routed_per_second'] / base:.2f}× one process")
    h.write_json(
        args.json,
        {
            "benchmark": "scale",
            "settings": vars(args),
            "machine": runs[0]["machine"],
            "results": runs,
        },
    )


if __name__ == "__main__":
    main()
