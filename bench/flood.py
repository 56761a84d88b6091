"""A flood of routine tickets, then one sev0: how long until the sev0's card is posted?

    python -m bench.flood                        # 500 sev3 tickets, then a sev0
    python -m bench.flood --fifo --tickets 40    # the baseline: the sev0 queued like the rest
    python -m bench.flood --database-url postgresql://postgres@127.0.0.1:5432/test

One partner opens ``--tickets`` sev3 tickets through the domain entry point
(``bot.intake.service.open_ticket``, one transaction each, as ``/escalate``
does) while the real ``OutboxWorker`` with its default ``Pacer`` delivers to
the fake Slack, which holds every channel to ``--rate`` posts a second (429 with
``Retry-After`` beyond it). Then another partner opens a sev0. Reported: the
seconds from the sev0's submission until its card is in the intake channel
(target ≤ 2 s), the intake channel's messages still queued at that moment, and
the pod lead's notices (every ticket is routed to the lead) delivered by
``--settle`` seconds later, and in how many DMs. ``--fifo`` is the baseline: the sev0's messages are
queued at routine priority, as every message was before priorities, so its card
waits its turn behind the flood.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import func, select, update

from bench import harness as h
from bot.core.render import Renderer
from bot.delivery.outbox import NOTICE, ROUTINE
from bot.delivery.worker import OutboxWorker
from bot.intake.draft import Draft
from bot.intake.service import open_ticket
from bot.slack import cards, home
from storage.db import make_engine, make_session_factory, transaction, upgrade
from storage.models import OutboxMessage, Ticket

TARGET_SECONDS = 2.0
URGENT_REPORTER = "U07COMMS02"
AREA = "violent_extremism"
#: Tickets are opened as of a Thursday night: nobody with the skill is on shift, so
#: routing gives every one to the pod lead (the intake burst the lead's DMs must survive).
NIGHT = datetime(2026, 11, 26, 23, 0, tzinfo=UTC)


def run(args: argparse.Namespace) -> dict[str, Any]:
    cfg = h.config()
    renderer = Renderer(cfg.team_tz)
    intake = cfg.workspace.intake_channel
    lead = cfg.pod_for_area(AREA).lead
    fake = h.fake_slack(cfg)
    try:
        with h.workdir() as tmp, h.database(args.database_url, tmp) as db_url:
            engine = make_engine(db_url)
            upgrade(engine)
            sessions = make_session_factory(engine)
            fake.enforce_channel_rate(per_second=args.rate, burst=args.burst)
            worker = OutboxWorker(
                sessions=sessions,
                client=WebClient(token=h.TOKEN, base_url=fake.url, timeout=10),
                render_card=lambda _s, t: cards.card(renderer, cfg, t),
                render_home=lambda s, u: home.view(s, cfg, renderer, u, datetime.now(UTC)),
            )
            worker.start()
            try:
                flood_started = time.monotonic()
                for i in range(args.tickets):
                    submit(sessions, cfg, renderer, f"Routine report {i}", "sev3", h.PARTNER)
                flood_seconds = time.monotonic() - flood_started
                submitted = datetime.now(UTC)
                urgent = submit(sessions, cfg, renderer, "Live attack", "sev0", URGENT_REPORTER)
                if args.fifo:
                    with transaction(sessions) as s:
                        s.execute(
                            update(OutboxMessage)
                            .where(OutboxMessage.ticket_id == urgent.id)
                            .values(priority=ROUTINE)
                        )
                posted = wait_for_card(fake, intake, urgent.key, args.timeout)
                with sessions() as s:
                    ahead = queued(s, intake)
                time.sleep(args.settle)  # the lead's notices: gathered, not one DM per ticket
                with sessions() as s:
                    lead_notices = sent_notices(s, lead)
                lead_dms = len(fake.dms(lead))
            finally:
                worker.stop()
            info = h.machine(db_url)
            engine.dispose()
    finally:
        fake.stop()
    seconds = None if posted is None else (posted - submitted).total_seconds()
    return {
        "benchmark": "flood",
        "machine": info,
        "settings": {
            "tickets": args.tickets,
            "rate_per_channel": args.rate,
            "burst": args.burst,
            "priority": not args.fifo,
            "timeout_s": args.timeout,
        },
        "flood_submit_seconds": round(flood_seconds, 2),
        "sev0_card_seconds": seconds,
        "queued_in_intake_channel": ahead,
        "lead_dms": lead_dms,
        "lead_notices_delivered": lead_notices,
        "target_seconds": TARGET_SECONDS,
    }


def submit(
    sessions: Any, cfg: Any, renderer: Renderer, summary: str, severity: str, reporter: str
) -> Ticket:
    draft = Draft(
        summary=summary,
        policy_area=AREA,
        severity=severity,
        language=None,
    )
    with transaction(sessions) as s:
        return open_ticket(s, cfg, renderer, draft, reporter=reporter, now=NIGHT)


def wait_for_card(fake: Any, channel: str, key: str, timeout: float) -> datetime | None:
    """When the card of ``key`` was posted (the fake's answer), or None after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for call in fake.calls_to("chat.postMessage"):
            args = call.args
            card = call.ok and args.get("channel") == channel and not args.get("thread_ts")
            if card and key in json.dumps(args.get("blocks") or args.get("text")):
                return call.time
        time.sleep(0.02)
    return None


def queued(s: Any, channel: str) -> int:
    return int(
        s.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.channel == channel, OutboxMessage.status == "pending")
        )
        or 0
    )


def sent_notices(s: Any, user: str) -> int:
    return int(
        s.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(
                OutboxMessage.channel == user,
                OutboxMessage.kind == NOTICE,
                OutboxMessage.status == "sent",
            )
        )
        or 0
    )


def table(r: dict[str, Any]) -> str:
    s = r["settings"]
    seconds = r["sev0_card_seconds"]
    shown = f"> {s['timeout_s']:.0f}" if seconds is None else f"{seconds:.2f}"
    mode = "priority" if s["priority"] else "FIFO (baseline)"
    return "\n".join(
        [
            f"flood: {s['tickets']} sev3 tickets, then one sev0; fake Slack at "
            f"{s['rate_per_channel']:g}/s per channel (burst {s['burst']}); {mode}",
            h.describe(r["machine"]),
            "",
            f"{'sev0 card s':>12}{'queued in intake':>18}{'flood submit s':>16}"
            f"{'lead notices':>14}{'in DMs':>8}",
            f"{shown:>12}{r['queued_in_intake_channel']:>18}{r['flood_submit_seconds']:>16.1f}"
            f"{r['lead_notices_delivered']:>14}{r['lead_dms']:>8}",
            "",
            f"sev0 card within {TARGET_SECONDS:g} s: "
            f"{h.verdict(seconds is not None and seconds <= TARGET_SECONDS)}",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.flood", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--database-url", help="PostgreSQL server (default: a SQLite file)")
    parser.add_argument("--tickets", type=int, default=500)
    parser.add_argument("--rate", type=float, default=1.0, help="posts per second per channel")
    parser.add_argument("--burst", type=int, default=3, help="the fake's bucket size")
    parser.add_argument("--fifo", action="store_true", help="baseline: no priority for the sev0")
    parser.add_argument("--timeout", type=float, default=120.0, help="give up after (s)")
    parser.add_argument(
        "--settle", type=float, default=10.0, help="then count the lead's DMs after (s)"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    args = parser.parse_args(argv)
    report = run(args)
    print(table(report))
    h.write_json(args.json, report)


if __name__ == "__main__":
    main()
