"""Routing benchmark: one decision for a pod of 200 with 10 000 open tickets.

    python -m bench.routing                      # SQLite in a temporary file
    python -m bench.routing --db postgresql://postgres@127.0.0.1:5432/test
    python -m bench.routing --json               # machine-readable

Measures, separately, the pure decision (``bot.routing.decide.decide`` on a ready
snapshot), the database snapshot (``bot.routing.workload.snapshot``: load per member,
sensitive tickets since each member's midnight, absences, the turn pointer,
in a transaction like routing's) and the two together, as intake runs them.
The target is under 5 ms per decision.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, text

from bench.harness import scratch_schema
from bot.config import AppConfig
from bot.routing import workload
from bot.routing.candidates import Need
from bot.routing.decide import decide
from storage.db import database_url, make_engine, make_session_factory, upgrade
from storage.models import OutOfOffice, Ticket, TicketEvent

NOW = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)  # a Thursday afternoon in Europe
AREAS = ("hate", "gore", "extremism")
LANGS = ("en", "es", "pt", "fr", "de", "hi", "tl", "sw")
ZONES = ("Europe/Madrid", "America/Sao_Paulo", "Asia/Manila", "Africa/Nairobi", "America/New_York")
SEVS = ("sev0", "sev1", "sev2", "sev3")
TARGET_MS = 5.0


def make_config(members: int, rng: random.Random) -> AppConfig:
    people = [
        {
            "id": f"U{i:07d}",
            "name": f"Specialist {i}",
            "skills": rng.sample(AREAS, rng.randint(1, len(AREAS))),
            "languages": rng.sample(LANGS, rng.randint(1, 3)),
            "timezone": rng.choice(ZONES),
            "hours": {
                "days": ["mon", "tue", "wed", "thu", "fri"],
                "start": "08:00",
                "end": "18:00",
            },
            "max_sensitive_per_day": rng.choice([None, 3, 5, 8]),
        }
        for i in range(members)
    ]
    return AppConfig.model_validate(
        {
            "workspace": {"intake_channel": "C0BENCH", "timezone": "Europe/Dublin"},
            "policy_areas": {
                "hate": {"title": "Hate", "pod": "bench"},
                "gore": {"title": "Gore", "pod": "bench", "sensitive": True},
                "extremism": {"title": "Extremism", "pod": "bench"},
            },
            "severities": {
                s: {"title": s, "ack_within": "30m", "resolve_within": "8h"} for s in SEVS
            },
            "pods": {
                "bench": {
                    "title": "Bench",
                    "lead": "U0LEAD",
                    "members": people,
                    "rotations": {
                        "primary": {
                            "members": [p["id"] for p in people[:20]],
                            "start": "2025-01-06",
                        }
                    },
                    "oncall_rotation": "primary",
                }
            },
        }
    )


@contextmanager
def database(url: str | None) -> Iterator[str]:
    """A fresh database: a temporary SQLite file, or a throwaway PostgreSQL schema."""
    if not url:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    base = database_url(url)
    if not base.startswith("postgresql"):
        yield base
        return
    with scratch_schema(base, "bench") as scratch:
        yield scratch


def fill(
    engine: Engine, cfg: AppConfig, open_tickets: int, resolved: int, days: int, rng: random.Random
) -> None:
    """Open and resolved tickets spread over the pod and over ``days``, each with its
    assign event: the sensitive count reads today's events, the load all open tickets."""
    ids = list(cfg.pods["bench"].member_ids)
    tickets, events = [], []
    for n in range(1, open_tickets + resolved + 1):
        area = rng.choice(AREAS)
        at = NOW - timedelta(minutes=rng.randint(1, days * 24 * 60))
        owner = rng.choice(ids)
        tickets.append(
            {
                "id": n,
                "number": n,
                "key": f"ESC-{n}",
                "summary": "bench",
                "details": "",
                "policy_area": area,
                "severity": rng.choice(SEVS),
                "sensitive": area == "gore",
                "status": "acknowledged" if n <= open_tickets else "resolved",
                "reporter_id": "U0PARTNER",
                "assignee_id": owner,
                "created_at": at,
                "updated_at": at,
                "assigned_at": at,
                "version": 2,
                "escalation_level": 0,
                "reopened_count": 0,
                "paused_seconds": 0,
                "tta_breached": False,
                "ttr_breached": False,
            }
        )
        events.append(
            {
                "ticket_id": n,
                "at": at,
                "actor_id": "escbot",
                "action": "assign",
                "from_status": "new",
                "to_status": "assigned",
                "payload": {"assignee": owner},
            }
        )
    away = [
        {
            "user_id": u,
            "starts_at": NOW - timedelta(days=1),
            "ends_at": NOW + timedelta(days=2),
            "note": "",
            "created_at": NOW,
        }
        for u in rng.sample(ids, len(ids) // 20)
    ]
    with engine.begin() as conn:
        for start in range(0, len(tickets), 2000):
            conn.execute(insert(Ticket), tickets[start : start + 2000])
            conn.execute(insert(TicketEvent), events[start : start + 2000])
        if away:
            conn.execute(insert(OutOfOffice), away)
    # Statistics, and on PostgreSQL the visibility map that index-only scans need
    # (autovacuum keeps both current in a running database).
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE")


def timed(fn: Callable[[], Any], rounds: int) -> dict[str, float]:
    for _ in range(min(20, rounds)):  # warm caches and connection pool
        fn()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()

    def pct(p: float) -> float:
        return samples[min(len(samples) - 1, int(p * len(samples)))]

    return {
        "rounds": rounds,
        "mean_ms": statistics.fmean(samples),
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
    }


def machine(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            version = conn.execute(text("SHOW server_version")).scalar_one()
        else:
            version = conn.exec_driver_sql("select sqlite_version()").scalar_one()
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "database": f"{engine.dialect.name} {version}",
    }


def run(
    url: str | None, members: int, open_tickets: int, resolved: int, days: int, rounds: int
) -> dict[str, Any]:
    rng = random.Random(42)
    cfg = make_config(members, rng)
    pod = cfg.pods["bench"]
    needs = []
    for _ in range(64):  # a mix of tickets: every area, severity and language
        area = rng.choice(AREAS)
        needs.append(Need(area, rng.choice(SEVS), rng.choice([None, *LANGS]), area == "gore"))
    with database(url) as db_url:
        engine = make_engine(db_url)
        upgrade(engine)
        fill(engine, cfg, open_tickets, resolved, days, rng)
        sessions = make_session_factory(engine)

        turn = iter(range(10**9))

        def snapshot(need: Need | None = None) -> Any:
            need = need or needs[next(turn) % len(needs)]
            with sessions() as s, s.begin():
                return workload.snapshot(s, cfg, pod, NOW, need)

        ready = [(need, snapshot(need)) for need in needs]

        def pure() -> None:
            need, snap = ready[next(turn) % len(ready)]
            decide(cfg, need, snap)

        def both() -> None:
            need = needs[next(turn) % len(needs)]
            with sessions() as s, s.begin():
                d = decide(cfg, need, workload.snapshot(s, cfg, pod, NOW, need))
                if d.pointer is not None:
                    workload.move_pointer(s, pod.key, d.pointer)

        results = {
            "decision (pure)": timed(pure, rounds * 4),
            "snapshot (db)": timed(snapshot, rounds),
            "snapshot + decision": timed(both, rounds),
        }
        info = machine(engine)
        engine.dispose()
    return {
        "members": members,
        "open_tickets": open_tickets,
        "resolved_tickets": resolved,
        "days": days,
        "target_ms": TARGET_MS,
        "machine": info,
        "results": results,
    }


def table(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        f"routing: pod of {report['members']}, {report['open_tickets']} open + "
        f"{report['resolved_tickets']} resolved tickets over {report['days']} days, "
        f"target < {report['target_ms']} ms",
        f"{m['database']} · Python {m['python']} · {m['cpus']} CPUs · {m['platform']}",
        "",
        f"{'measure':<22}{'rounds':>8}{'mean ms':>10}{'p50':>9}{'p95':>9}{'p99':>9}",
    ]
    for name, r in report["results"].items():
        lines.append(
            f"{name:<22}{r['rounds']:>8}{r['mean_ms']:>10.3f}{r['p50_ms']:>9.3f}"
            f"{r['p95_ms']:>9.3f}{r['p99_ms']:>9.3f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.routing", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--open", type=int, default=10_000, dest="open_tickets")
    parser.add_argument("--resolved", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=30, help="tickets' ages spread over this")
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    report = run(args.db, args.members, args.open_tickets, args.resolved, args.days, args.rounds)
    print(json.dumps(report, indent=2) if args.json else table(report))


if __name__ == "__main__":
    main()
