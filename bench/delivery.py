"""Outbox delivery against Slack's per-channel limit: lost, doubled, and how fast.

    python -m bench.delivery                               # SQLite in a temporary directory
    python -m bench.delivery --slack-latency 0.1           # Slack answering in 100 ms
    python -m bench.delivery --database-url postgresql://postgres@127.0.0.1:5432/test

Queues ``--messages`` messages round-robin over ``--channels`` channels (one
transaction, as a burst of domain changes would), then lets the real
``OutboxWorker`` with its default ``Pacer`` deliver them to the fake Slack, which
enforces ``--rate`` chat.postMessage per second per channel with a burst of
``--burst`` and answers 429 (Retry-After) beyond it. Reported: messages lost
(never delivered), doubled (delivered twice), 429s, and the drain time (start →
last successful post) against the least the limits allow: a channel's first
``burst`` messages at once, then one every 1/rate seconds. Target: within 10 %.
"""

from __future__ import annotations

import argparse
import math
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import func, select

from bench import harness as h
from bot.delivery.outbox import enqueue_message
from bot.delivery.worker import OutboxWorker
from storage.db import make_engine, make_session_factory, transaction, upgrade
from storage.models import OutboxMessage

TARGET = 0.10


def minimum_seconds(per_channel: int, rate: float, burst: int) -> float:
    """The least time a channel's ``per_channel`` posts take under a token bucket."""
    return max(0, per_channel - burst) / rate


def run(args: argparse.Namespace) -> dict[str, Any]:
    cfg = h.config()
    fake = h.fake_slack(cfg)
    try:
        with h.workdir() as tmp, h.database(args.database_url, tmp) as db_url:
            engine = make_engine(db_url)
            upgrade(engine)
            sessions = make_session_factory(engine)
            channels = [f"C0BENCH{i:03d}" for i in range(args.channels)]
            for channel in channels:  # channels escbot is in: the fake refuses unknown ones
                fake.add_channel(channel, channel.lower())
                fake.invite(channel)
            now = datetime.now(UTC)
            with transaction(sessions) as s:
                for i in range(args.messages):
                    channel = channels[i % len(channels)]
                    text = f"bench message {i}"
                    enqueue_message(s, channel, {"text": text}, f"bench:{i}", now)
            fake.enforce_channel_rate(per_second=args.rate, burst=args.burst)
            fake.latency = args.slack_latency
            worker = OutboxWorker(
                sessions=sessions,
                client=WebClient(token=h.TOKEN, base_url=fake.url, timeout=10),
                render_card=lambda _s, _t: {},
            )
            started = datetime.now(UTC)
            deadline = time.monotonic() + args.timeout
            worker.start()
            try:
                while worker.pending() and time.monotonic() < deadline:
                    time.sleep(0.1)
            finally:
                worker.stop()
            with sessions() as s:
                statuses = dict(
                    s.execute(
                        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
                    ).all()
                )
            info = h.machine(db_url)
            engine.dispose()
        posts = [c for c in fake.calls_to("chat.postMessage")]
        delivered = Counter(
            m.text for channel in channels for m in fake.messages(channel) if m.text
        )
    finally:
        fake.stop()
    ok = [c for c in posts if c.ok]
    drain = (max(c.time for c in ok) - started).total_seconds() if ok else math.inf
    per_channel = math.ceil(args.messages / args.channels)
    least = minimum_seconds(per_channel, args.rate, args.burst)
    expected = {f"bench message {i}" for i in range(args.messages)}
    return {
        "benchmark": "delivery",
        "machine": info,
        "settings": {
            "messages": args.messages,
            "channels": args.channels,
            "rate_per_channel": args.rate,
            "burst": args.burst,
            "slack_latency_s": args.slack_latency,
        },
        "lost": len(expected - set(delivered)),
        "doubled": sum(1 for text, n in delivered.items() if n > 1),
        "rate_limited": sum(1 for c in posts if c.status == 429),
        "outbox": statuses,
        "drain_seconds": drain,
        "minimum_seconds": least,
        "over_minimum": drain / least - 1 if least else math.inf,
        "target_over_minimum_max": TARGET,
    }


def table(r: dict[str, Any]) -> str:
    s = r["settings"]
    return "\n".join(
        [
            f"delivery: {s['messages']} messages over {s['channels']} channels, fake Slack at "
            f"{s['rate_per_channel']:g}/s per channel (burst {s['burst']}), "
            f"answering in {s['slack_latency_s'] * 1000:.0f} ms",
            h.describe(r["machine"]),
            "",
            f"{'lost':>5}{'doubled':>9}{'429s':>7}{'drain s':>10}{'minimum s':>11}{'over':>8}",
            f"{r['lost']:>5}{r['doubled']:>9}{r['rate_limited']:>7}{r['drain_seconds']:>10.1f}"
            f"{r['minimum_seconds']:>11.1f}{r['over_minimum'] * 100:>7.1f}%",
            f"outbox rows: {r['outbox']}",
            "",
            f"nothing lost or doubled: {h.verdict(r['lost'] == 0 and r['doubled'] == 0)}; "
            f"drain within {TARGET:.0%} of the minimum: "
            f"{h.verdict(r['over_minimum'] <= TARGET)}",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.delivery", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--database-url", help="PostgreSQL server (default: a SQLite file)")
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--channels", type=int, default=50)
    parser.add_argument("--rate", type=float, default=1.0, help="posts per second per channel")
    parser.add_argument("--burst", type=int, default=3, help="the fake's bucket size")
    parser.add_argument("--slack-latency", type=float, default=0.0, help="seconds per API call")
    parser.add_argument("--timeout", type=float, default=180.0, help="give up after (s)")
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    args = parser.parse_args(argv)
    report = run(args)
    print(table(report))
    h.write_json(args.json, report)


if __name__ == "__main__":
    main()
