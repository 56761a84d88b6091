"""A crisis burst: a viral video reported by a hundred partners at once, amid routine work.

    python -m bench.burst                                 # SQLite in a temporary directory
    python -m bench.burst --database-url postgresql://postgres@127.0.0.1:5432/test
    python -m bench.burst --viral 100 --routine 200 --window 5 --json burst.json
    python -m bench.burst --workers 2                     # escbot run --workers 2

``--viral`` partners (each their own Slack user) submit the intake modal with the
same video — pasted as different strings of one URL, as people do — and
``--routine`` other partners submit unrelated sev3 escalations, each at a random
moment of ``--window`` seconds (open loop: a slow answer does not slow the next
arrivals). The issue's burst is 100 reports within 60 s; the default window of
5 s compresses it twelvefold, which is harder. Everything goes over signed HTTP
to ``escbot run`` and, with the same arrival times, to the bare Bolt app of
``bench.bare`` (first, so escbot's delivery backlog does not run beside it).
The fake Slack holds each channel to ``--rate`` posts a second, as Slack does.

Reported, per database (SQLite always, PostgreSQL with ``--database-url``):

- ack p50/p99 of escbot and of the bare app, and their ratio;
- tickets created for the viral content (goal: one) and how the other reporters
  were answered. The product brief says "the same content already in an open ticket
  is detected and offered as 'add to ESC-n' instead of a duplicate": the others get
  the duplicate choice in the modal (partners outside the pod see "already being
  handled by the desk (ESC-n)" and may ask to follow it; see bot/intake/choice.py);
  nobody is made a watcher without choosing to;
- seconds from the first viral report until its card is in the intake channel
  (target ≤ 2 s);
- DMs the pod lead got by ``--settle`` seconds after the burst (target: one batched
  notice, not a hundred), and all DMs escbot sent;
- escbot's CPU per ticket created during the burst (the bare app's per request).
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import create_engine, func, select

from bench import harness as h
from bot.intake.content import normalize
from bot.sandbox.emulator import FakeSlack
from storage.db import database_url
from storage.models import ContentItem, Ticket

CARD_TARGET_S = 2.0
VIRAL_AREA, VIRAL_SEVERITY = "graphic_violence", "sev1"
#: One video, as a hundred people paste it: share links, phones, tracking tags.
VIRAL_URLS = (
    "https://www.example.com/watch/v9x7-viral?utm_source=share",
    "https://m.example.com/watch/v9x7-viral/",
    "https://example.com/watch/v9x7-viral#t=12",
    "http://www.example.com/watch/v9x7-viral?fbclid=abc123",
)
VIRAL_KEY = normalize(VIRAL_URLS[0])[1]


@dataclass(frozen=True)
class Arrival:
    at: float  # seconds after the burst begins
    kind: str  # "viral" | "routine"
    n: int


@dataclass
class Sent:
    arrival: Arrival
    user: str
    sent_at: datetime
    ms: float
    status: int
    body: bytes


def plan(viral: int, routine: int, window: float, seed: int) -> list[Arrival]:
    """Arrival times: the first viral report opens the burst, the rest fall anywhere in it."""
    rng = random.Random(seed)
    arrivals = [
        Arrival(0.0 if n == 0 else rng.uniform(0, window), "viral", n) for n in range(viral)
    ]
    arrivals += [Arrival(rng.uniform(0, window), "routine", n) for n in range(routine)]
    return sorted(arrivals, key=lambda a: a.at)


def values(a: Arrival) -> dict[str, Any]:
    if a.kind == "viral":
        return {
            **h.ANSWERS,
            "Summary": f"Beheading video going viral (report {a.n})",
            "Policy area": VIRAL_AREA,
            "Severity": VIRAL_SEVERITY,
            "Content links or ids": VIRAL_URLS[a.n % len(VIRAL_URLS)],
        }
    return {
        **h.ANSWERS,
        "Summary": f"Routine hate speech report {a.n}",
        "Severity": "sev3",
        "Content links or ids": f"https://example.com/posts/routine-{a.n}",
    }


def fire(
    server: h.ServerProcess,
    fake: FakeSlack,
    modal: dict[str, Any],
    arrivals: list[Arrival],
    tag: str,
    senders: int,
) -> list[Sent]:
    """Send every arrival at its moment (open loop), each from its own partner."""
    results: list[Sent] = []
    lock = threading.Lock()
    began = time.perf_counter() + 0.2  # the pool is up before the first arrival

    def send(a: Arrival) -> None:
        user_id = f"U0{tag}{a.kind[0].upper()}{a.n:04d}"
        delay = began + a.at - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        with h.user(server, fake, user_id) as u:
            sent_at = datetime.now(UTC)
            view = {**modal, "id": f"V{tag}{a.kind[0]}{a.n}"}
            try:
                resp = u.submit_view(view, values(a))
                result = Sent(a, user_id, sent_at, u.elapsed_ms, resp.status_code, resp.content)
            except Exception as err:  # a refused or dropped connection is a result too
                result = Sent(a, user_id, sent_at, float("nan"), 0, repr(err).encode())
        with lock:
            results.append(result)

    with ThreadPoolExecutor(senders, thread_name_prefix="partner") as pool:
        list(pool.map(send, arrivals))
    return results


def answers(sent: list[Sent]) -> Counter[str]:
    """How each submission was answered: closed (a ticket), the duplicate choice, other."""
    seen: Counter[str] = Counter()
    for s in sent:
        if s.status != 200:
            seen[f"http {s.status}"] += 1
        elif not s.body:
            seen["closed"] += 1
        else:
            body = json.loads(s.body)
            callback = body.get("view", {}).get("callback_id")
            seen["choice" if callback == "escalate_duplicate" else str(body)[:80]] += 1
    return seen


def viral_tickets(db_url: str) -> list[tuple[str, str | None]]:
    """The tickets holding the viral video, with their owners."""
    engine = create_engine(database_url(db_url))
    try:
        with engine.connect() as conn:
            stmt = (
                select(Ticket.key, Ticket.assignee_id)
                .join(ContentItem, ContentItem.ticket_id == Ticket.id)
                .where(ContentItem.normalized == VIRAL_KEY)
                .distinct()
            )
            return [(key, owner) for key, owner in conn.execute(stmt)]
    finally:
        engine.dispose()


def count_tickets(db_url: str) -> int:
    engine = create_engine(database_url(db_url))
    try:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(Ticket)) or 0)
    finally:
        engine.dispose()


def card_posted(fake: FakeSlack, channel: str, key: str, timeout: float) -> datetime | None:
    """When the card of ``key`` was posted to ``channel`` (the fake's answer)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for call in fake.calls_to("chat.postMessage"):
            args = call.args
            card = call.ok and args.get("channel") == channel and not args.get("thread_ts")
            if card and key in json.dumps(args.get("blocks") or args.get("text")):
                return call.time
        time.sleep(0.02)
    return None


def dms(fake: FakeSlack, since: int) -> Counter[str]:
    """DMs posted since ``since``, by the user they went to."""
    out: Counter[str] = Counter()
    for call in fake.calls[since:]:
        channel = str(call.args.get("channel", ""))
        if call.method == "chat.postMessage" and call.ok and channel.startswith(("D", "U")):
            out[channel] += 1
    return out


def summary(sent: list[Sent], kind: str | None = None) -> dict[str, Any]:
    return h.percentiles([s.ms for s in sent if kind in (None, s.arrival.kind) and s.status])


def run_one(url: str | None, args: argparse.Namespace) -> dict[str, Any]:
    cfg = h.config()
    intake = cfg.workspace.intake_channel
    lead = cfg.pod_for_area(VIRAL_AREA).lead
    arrivals = plan(args.viral, args.routine, args.window, args.seed)
    fake = h.fake_slack(cfg)
    if args.rate:
        fake.enforce_channel_rate(per_second=args.rate, burst=3)
    try:
        with h.workdir() as tmp, h.database(url, tmp) as db_url:
            escbot = h.start_escbot(fake, db_url, tmp, args.threads, args.workers)
            try:
                bare = h.start_bare(fake, tmp, args.threads)
            except BaseException:  # leave no escbot behind
                escbot.stop()
                raise
            try:
                modal = h.intake_modal(escbot, fake)
                warm = [Arrival(i * 0.02, "routine", 10_000 + i) for i in range(args.warmup)]
                for server in (bare, escbot):  # imports, template and statement caches
                    fire(server, fake, modal, warm, f"W{server.name[0].upper()}", args.senders)
                before = count_tickets(db_url)

                cpu = h.cpu_seconds(bare.pid)
                bare_sent = fire(bare, fake, modal, arrivals, "B", args.senders)
                bare_cpu = h.cpu_seconds(bare.pid) - cpu

                mark = fake.mark()
                cpu = escbot.cpu_seconds()
                escbot_sent = fire(escbot, fake, modal, arrivals, "E", args.senders)
                escbot_cpu = escbot.cpu_seconds() - cpu
                created = count_tickets(db_url) - before
                viral = viral_tickets(db_url)
                first = min(s.sent_at for s in escbot_sent if s.arrival.kind == "viral")
                posted = card_posted(fake, intake, viral[0][0], args.timeout) if viral else None
                time.sleep(args.settle)  # notices wait ESCBOT_NOTICE_WINDOW for company
                sent_dms = dms(fake, mark)
                info = h.machine(db_url)
                rss = escbot.rss_mb()
            finally:
                escbot.stop()
                bare.stop()
    finally:
        fake.stop()
    viral_sent = [s for s in escbot_sent if s.arrival.kind == "viral"]
    e, b = summary(escbot_sent), summary(bare_sent)
    return {
        "database": info["database"],
        "machine": info,
        "ack_ms": {"escbot": e, "bare": b},
        "ack_ms_viral": summary(escbot_sent, "viral"),
        "ratio_p50": e["p50"] / b["p50"],
        "ratio_p99": e["p99"] / b["p99"],
        "viral_tickets": [key for key, _ in viral],
        "viral_owner": viral[0][1] if viral else None,
        "owner_dms": sum(
            sent_dms.get(o, 0) + sent_dms.get(fake.dm_channel(o), 0) for _, o in viral if o
        ),
        "viral_answers": dict(answers(viral_sent)),
        "routine_answers": dict(answers([s for s in escbot_sent if s.arrival.kind == "routine"])),
        "bare_failures": sum(1 for s in bare_sent if s.status != 200 or s.body),
        "tickets_created": created,
        "card_seconds": None if posted is None else (posted - first).total_seconds(),
        "lead_dms": sent_dms.get(lead, 0) + sent_dms.get(fake.dm_channel(lead), 0),
        "dms_total": sum(sent_dms.values()),
        "escbot_cpu_ms_per_ticket": escbot_cpu / max(created, 1) * 1000,
        "bare_cpu_ms_per_request": bare_cpu / len(arrivals) * 1000,
        "escbot_rss_mb": rss,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    urls = [None, args.database_url] if args.database_url else [None]
    if args.database_url and args.postgresql_only:
        urls = [args.database_url]
    runs = []
    for url in urls:
        runs.append(run_one(url, args))
        print(line(runs[-1]), flush=True)
    return {
        "benchmark": "burst",
        "machine": runs[0]["machine"],
        "settings": {
            "viral": args.viral,
            "routine": args.routine,
            "window_s": args.window,
            "channel_rate": args.rate,
            "server_threads": args.threads,
            "workers": args.workers,
            "senders": args.senders,
            "seed": args.seed,
        },
        "targets": {"viral_tickets": 1, "card_seconds_max": CARD_TARGET_S, "lead_dms_max": 1},
        "results": runs,
    }


HEADER = (
    f"{'database':<18}│{'bare p50':>9}{'p99':>7} │{'escbot p50':>11}{'p99':>7} │"
    f"{'×p50':>6}{'×p99':>6} │{'viral tickets':>14}{'offered':>8} │{'card s':>7}"
    f"{'lead DMs':>9}{'DMs':>5} │{'cpu ms/t':>9}{'bare':>6}"
)


def line(r: dict[str, Any]) -> str:
    e, b = r["ack_ms"]["escbot"], r["ack_ms"]["bare"]
    card = "—" if r["card_seconds"] is None else f"{r['card_seconds']:.2f}"
    return (
        f"{r['database']:<18}│{b['p50']:>9.1f}{b['p99']:>7.1f} │{e['p50']:>11.1f}{e['p99']:>7.1f} │"
        f"{r['ratio_p50']:>6.2f}{r['ratio_p99']:>6.2f} │{len(r['viral_tickets']):>14}"
        f"{r['viral_answers'].get('choice', 0):>8} │{card:>7}{r['lead_dms']:>9}"
        f"{r['dms_total']:>5} │{r['escbot_cpu_ms_per_ticket']:>9.1f}"
        f"{r['bare_cpu_ms_per_request']:>6.1f}"
    )


def table(report: dict[str, Any]) -> str:
    s = report["settings"]
    out = [
        f"crisis burst: {s['viral']} reports of one video + {s['routine']} routine escalations "
        f"within {s['window_s']:g} s, open loop; {s['workers']} escbot worker(s) × "
        f"{s['server_threads']} threads; fake Slack at {s['channel_rate']:g} post/s per channel",
        h.describe(report["machine"]),
        "",
        HEADER,
        *(line(r) for r in report["results"]),
        "",
    ]
    for r in report["results"]:
        card = r["card_seconds"]
        out += [
            f"{r['database']}:",
            f"  viral content in one ticket: {h.verdict(len(r['viral_tickets']) == 1)} "
            f"({', '.join(r['viral_tickets']) or 'none'}); the other reporters: "
            f"{r['viral_answers']}",
            f"  routine escalations: {r['routine_answers']}; tickets created {r['tickets_created']}"
            f"; bare app failures {r['bare_failures']}",
            f"  ack p50 {r['ratio_p50']:.2f}× bare, p99 {r['ratio_p99']:.2f}× bare "
            f"(escbot p99 {r['ack_ms']['escbot']['p99']:.0f} ms; viral reports "
            f"p50/p99 {r['ack_ms_viral']['p50']:.0f}/{r['ack_ms_viral']['p99']:.0f} ms)",
            f"  card in the channel within {CARD_TARGET_S:g} s of the first report: "
            f"{h.verdict(card is not None and card <= CARD_TARGET_S)} "
            f"({'never' if card is None else f'{card:.2f} s'})",
            f"  one batched notice to the lead, not one per report: "
            f"{h.verdict(r['lead_dms'] <= 1)} ({r['lead_dms']} DMs to the lead, "
            f"{r['owner_dms']} to the viral ticket's owner {r['viral_owner']}, "
            f"{r['dms_total']} DMs in all)",
            f"  CPU {r['escbot_cpu_ms_per_ticket']:.1f} ms per ticket (bare app "
            f"{r['bare_cpu_ms_per_request']:.1f} ms per request); escbot RSS "
            f"{r['escbot_rss_mb']:.0f} MB",
        ]
    return "\n".join(out)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.burst", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--database-url", help="also run on this PostgreSQL server")
    parser.add_argument("--postgresql-only", action="store_true", help="skip the SQLite run")
    parser.add_argument("--viral", type=int, default=100, help="reports of the viral video")
    parser.add_argument("--routine", type=int, default=200, help="unrelated escalations")
    parser.add_argument("--window", type=float, default=5.0, help="seconds they arrive within")
    parser.add_argument("--rate", type=float, default=1.0, help="fake Slack posts/s per channel")
    parser.add_argument("--threads", type=int, default=8, help="server threads (both apps)")
    parser.add_argument("--workers", type=int, default=1, help="escbot run --workers")
    parser.add_argument("--senders", type=int, default=64, help="client threads")
    parser.add_argument("--warmup", type=int, default=20, help="submissions before the burst")
    parser.add_argument("--timeout", type=float, default=30.0, help="wait for the card (s)")
    parser.add_argument("--settle", type=float, default=5.0, help="then count DMs after (s)")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    print(HEADER, flush=True)
    report = run(args)
    print()
    print(table(report))
    h.write_json(args.json, report)


if __name__ == "__main__":
    main()
