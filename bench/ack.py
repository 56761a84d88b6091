"""Ack latency: escbot against a bare Bolt app on the same server stack.

    python -m bench.ack                                   # SQLite in a temporary directory
    python -m bench.ack --database-url postgresql://postgres@127.0.0.1:5432/test
    python -m bench.ack --requests 200 --concurrency 1,20 --json ack.json

Starts the fake Slack (in this process), ``escbot run`` (``bot.runtime.Runtime`` on
the front, a real SQLite file or a throwaway PostgreSQL schema) and the bare app of
``bench.bare`` (the front with the same thread count behind the same WSGI front,
listeners that only ``ack()``), each in its own process. Then, at each
concurrency, closed-loop threads — one ``SlackUser`` each — send signed requests
of two kinds to one server at a time:

- ``/escalate <text>``: escbot acknowledges, then opens the intake modal (views.open);
- the intake modal's submission, filled in: escbot creates the ticket (with its
  outbox rows) before it acknowledges, as the modal must not close on a ticket
  that does not exist.

Times are client-side, request sent → response read. Targets: escbot's p50 at
most 1.5× the bare app's, and p99 under 200 ms at 20 concurrent requests.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from bench import harness as h
from bot.sandbox.emulator import FakeSlack, HttpResponse

RATIO_TARGET = 1.5
P99_TARGET_MS = 200.0
P99_AT = 20
KINDS = ("/escalate", "submission")


def senders_for(kind: str, modal: dict[str, Any]) -> Callable[[h.TimedUser, int], HttpResponse]:
    if kind == "/escalate":
        return lambda u, n: h.escalate_command(u, f"{u.user_id}-{n}")
    return lambda u, n: h.submit_intake(u, modal, f"{u.user_id}-{n}")


def measure(
    server: h.ServerProcess,
    fake: FakeSlack,
    modal: dict[str, Any],
    kind: str,
    concurrency: int,
    requests: int,
    label: str,
) -> h.Run:
    senders = h.users(server, fake, concurrency, label)
    try:
        return h.run_concurrently(senders, requests, senders_for(kind, modal))
    finally:
        for u in senders:
            u.close()


def run(args: argparse.Namespace) -> dict[str, Any]:
    cfg = h.config()
    fake = h.fake_slack(cfg)
    rows: list[dict[str, Any]] = []
    try:
        with h.workdir() as tmp, h.database(args.database_url, tmp) as db_url:
            escbot = h.start_escbot(fake, db_url, tmp, args.threads)
            bare = h.start_bare(fake, tmp, args.threads)
            try:
                modal = h.intake_modal(escbot, fake)
                for server in (bare, escbot):  # warm: imports, template and statement caches
                    for kind in KINDS:
                        measure(server, fake, modal, kind, 2, 20, f"w{server.name[0]}")
                opened = fake.mark()
                for c in args.concurrency:
                    for kind in KINDS:
                        row: dict[str, Any] = {"kind": kind, "concurrency": c}
                        for server in (bare, escbot):
                            tag = f"{server.name[0]}{kind[1]}{c}"
                            result = measure(server, fake, modal, kind, c, args.requests, tag)
                            row[server.name] = {
                                **h.percentiles(result.latencies),
                                "per_second": result.per_second,
                                "failures": len(result.failures),
                                "first_failures": result.failures[:3],
                            }
                        row["ratio_p50"] = row["escbot"]["p50"] / row["bare"]["p50"]
                        row["ratio_p99"] = row["escbot"]["p99"] / row["bare"]["p99"]
                        rows.append(row)
                        print(line(row), flush=True)
                modals = sum(1 for c in fake.calls[opened:] if c.method == "views.open" and c.ok)
                info = h.machine(db_url)
            finally:
                escbot.stop()
                bare.stop()
    finally:
        fake.stop()
    commands = sum(args.requests for r in rows if r["kind"] == "/escalate")
    return {
        "benchmark": "ack",
        "machine": info,
        "settings": {
            "requests_per_cell": args.requests,
            "concurrency": args.concurrency,
            "server_threads": args.threads,
        },
        "targets": {"p50_ratio_max": RATIO_TARGET, "p99_ms_max": P99_TARGET_MS, "at": P99_AT},
        "results": rows,
        "modals_opened": {"expected": commands, "seen": modals},
    }


HEADER = (
    f"{'kind':<11}{'conc':>5} │{'bare p50':>9}{'p90':>7}{'p99':>7} │"
    f"{'escbot p50':>11}{'p90':>7}{'p99':>7} │{'×p50':>6}{'×p99':>6} │ fail"
)


def line(r: dict[str, Any]) -> str:
    b, e = r["bare"], r["escbot"]
    return (
        f"{r['kind']:<11}{r['concurrency']:>5} │{b['p50']:>9.1f}{b['p90']:>7.1f}{b['p99']:>7.1f} │"
        f"{e['p50']:>11.1f}{e['p90']:>7.1f}{e['p99']:>7.1f} │"
        f"{r['ratio_p50']:>6.2f}{r['ratio_p99']:>6.2f} │ {b['failures'] + e['failures']}"
    )


def table(report: dict[str, Any]) -> str:
    rows = report["results"]
    out = [
        "ack latency, client-side, ms "
        f"({report['settings']['requests_per_cell']} requests per cell, "
        f"{report['settings']['server_threads']} server threads)",
        h.describe(report["machine"]),
        "",
        HEADER,
        *(line(r) for r in rows),
        "",
    ]
    worst = max(rows, key=lambda r: r["ratio_p50"])
    out.append(
        f"p50 ≤ {RATIO_TARGET}× bare: {h.verdict(worst['ratio_p50'] <= RATIO_TARGET)} "
        f"(worst {worst['ratio_p50']:.2f}×: {worst['kind']} at {worst['concurrency']})"
    )
    at = [r for r in rows if r["concurrency"] == P99_AT]
    if at:
        p99 = max(r["escbot"]["p99"] for r in at)
        out.append(
            f"p99 < {P99_TARGET_MS:.0f} ms at {P99_AT} concurrent: "
            f"{h.verdict(p99 < P99_TARGET_MS)} (worst {p99:.1f} ms)"
        )
    seen = report["modals_opened"]
    out.append(f"modals opened by escbot after its acks: {seen['seen']} of {seen['expected']}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ack", description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL server (default: a SQLite file)")
    parser.add_argument("--requests", type=int, default=400, help="per kind, server, concurrency")
    parser.add_argument(
        "--concurrency",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[1, 10, 20],
        help="comma-separated (default 1,10,20)",
    )
    parser.add_argument("--threads", type=int, default=8, help="request threads, both servers")
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    args = parser.parse_args(argv)
    print(HEADER, flush=True)
    report = run(args)
    print()
    print(table(report))
    h.write_json(args.json, report)


if __name__ == "__main__":
    main()
