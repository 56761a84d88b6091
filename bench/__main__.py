"""``python -m bench``: the benchmarks, and how to run each (see docs/performance.md)."""

from __future__ import annotations

import importlib.util

BENCHMARKS = {
    "ack": "ack latency: escbot vs a bare Bolt app on the same server stack",
    "intake": "intake throughput: modal submissions → committed tickets per second",
    "delivery": "outbox delivery against Slack's per-channel limit: lost, doubled, drain time",
    "scale": "intake throughput of one process, --workers N and N replicas on one database",
    "burst": "a viral video reported 100 times amid 200 routine escalations, vs a bare app",
    "flood": "500 routine tickets, then a sev0: seconds until the sev0's card is posted",
    "memory": "RSS of `escbot run`, idle and after 10 000 tickets",
    "routing": "routing decision for a pod of 200 with 10 000 open tickets",
    "digest": "digest cost over a growing ticket history",
    "qa_import": "escbot qa import of 100 000 vendor decisions (50 bad), twice",
    "slowclient": "1,010 dribbling sockets from one client, then signed /escalate, vs a bare app",
    "demo_calls": "Slack calls per method in one demo morning, at Slack's rates",
}


def main() -> None:
    print("escbot benchmarks — run one with `python -m bench.<name> [--help]`:\n")
    for name, about in BENCHMARKS.items():
        here = importlib.util.find_spec(f"bench.{name}") is not None
        print(f"  {name:<10}{about}{'' if here else '  (not available yet)'}")
    print("\nResults and how they were reached: docs/performance.md")


if __name__ == "__main__":
    main()
