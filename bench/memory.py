"""Memory: the resident set of an ``escbot run`` process, idle and as tickets pile up.

    python -m bench.memory                                 # SQLite, 10 000 tickets
    python -m bench.memory --tickets 2000 --json memory.json
    python -m bench.memory --database-url postgresql://postgres@127.0.0.1:5432/test

``escbot run`` serves HTTP against the fake Slack (in this process). Its VmRSS
(``/proc/<pid>/status``) is read once it is up and idle, after a first command
and submission (lazy imports, caches), then after every ``--every`` tickets
created through the HTTP interface (filled intake modals from ``--concurrency``
senders), and VmHWM (the peak) at the end. ``--max-seconds`` bounds the run: it
stops early and says how many tickets it made. Target: under 150 MB.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from bench import harness as h

TARGET_MB = 150.0


def peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(args: argparse.Namespace) -> dict[str, Any]:
    cfg = h.config()
    fake = h.fake_slack(cfg)
    samples: list[dict[str, Any]] = []
    try:
        with h.workdir() as tmp, h.database(args.database_url, tmp) as db_url:
            escbot = h.start_escbot(fake, db_url, tmp, args.threads)
            try:
                time.sleep(1.0)
                samples.append({"when": "idle", "tickets": 0, "rss_mb": escbot.rss_mb()})
                modal = h.intake_modal(escbot, fake)
                with h.user(escbot, fake) as u:
                    h.submit_intake(u, modal, "first")
                time.sleep(0.5)
                samples.append(
                    {"when": "after first requests", "tickets": 1, "rss_mb": escbot.rss_mb()}
                )
                senders = h.users(escbot, fake, args.concurrency, "R")
                made, began = 1, time.monotonic()
                while made < args.tickets and time.monotonic() - began < args.max_seconds:
                    batch = min(args.every, args.tickets - made)
                    start = made
                    result = h.run_concurrently(
                        senders, batch, lambda u, n, s=start: h.submit_intake(u, modal, f"r{s + n}")
                    )
                    made += len(result.latencies) - len(result.failures)
                    samples.append(
                        {
                            "when": f"{time.monotonic() - began:.0f} s",
                            "tickets": made,
                            "rss_mb": escbot.rss_mb(),
                            "per_second": result.per_second,
                        }
                    )
                    print(f"{made:>7} tickets  {samples[-1]['rss_mb']:7.1f} MB", flush=True)
                peak = peak_mb(escbot.pid)
                info = h.machine(db_url)
            finally:
                escbot.stop()
    finally:
        fake.stop()
    final = samples[-1]["rss_mb"]
    return {
        "benchmark": "memory",
        "machine": info,
        "settings": {
            "tickets": args.tickets,
            "concurrency": args.concurrency,
            "server_threads": args.threads,
            "max_seconds": args.max_seconds,
        },
        "samples": samples,
        "tickets_made": samples[-1]["tickets"],
        "final_rss_mb": final,
        "peak_rss_mb": peak,
        "target_mb": TARGET_MB,
    }


def table(r: dict[str, Any]) -> str:
    rows = [f"{'when':<22}{'tickets':>9}{'RSS MB':>9}"]
    rows += [f"{s['when']:<22}{s['tickets']:>9}{s['rss_mb']:>9.1f}" for s in r["samples"]]
    short = r["tickets_made"] < r["settings"]["tickets"]
    return "\n".join(
        [
            f"memory of `escbot run` (VmRSS), tickets made through HTTP by "
            f"{r['settings']['concurrency']} senders",
            h.describe(r["machine"]),
            "",
            *rows,
            f"{'peak (VmHWM)':<22}{'':>9}{r['peak_rss_mb']:>9.1f}",
            "",
            f"< {TARGET_MB:.0f} MB after {r['tickets_made']} tickets: "
            f"{h.verdict(r['peak_rss_mb'] < TARGET_MB)} (peak {r['peak_rss_mb']:.1f} MB)"
            + (f" — stopped at --max-seconds {r['settings']['max_seconds']:g}" if short else ""),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.memory", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--database-url", help="PostgreSQL server (default: a SQLite file)")
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--every", type=int, default=1000, help="read RSS every N tickets")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--threads", type=int, default=8, help="request threads")
    parser.add_argument("--max-seconds", type=float, default=240.0)
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    args = parser.parse_args(argv)
    report = run(args)
    print()
    print(table(report))
    h.write_json(args.json, report)


if __name__ == "__main__":
    main()
