"""A backup taken mid-morning (``escbot backup``, SQLite's online backup API) restores into a
fresh database, and escbot carries on from it: every ticket, timer and digest run is there,
nothing Slack already showed before the backup is posted again, and the timers that fell
due while escbot was down fire once.

SQLite only: that is what ``escbot backup`` copies (PostgreSQL's is ``pg_dump``, whose
restore is PostgreSQL's own business). The fake Slack stays up throughout, as the real
one would: what escbot posted before the backup is still in its channels.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from bot.cli import main
from bot.reporting import digests
from bot.runtime import Runtime
from bot.sandbox.emulator import SlackUser
from bot.settings import Settings
from tests.conftest import SIGNING_SECRET
from tests.desk import INTAKE, PARTNER
from tests.outbox_support import drain
from tests.test_resolution_http import escalate

KPI = "C06H2KX9KPI"


def start(url: str, config, fake_slack, clock) -> Runtime:  # type: ignore[no-untyped-def]
    settings = Settings(
        bot_token="xoxb-test-token",
        signing_secret=SIGNING_SECRET,
        api_url=fake_slack.url,
        database_url=url,
        host="127.0.0.1",
        port=0,
        timer_interval=timedelta(hours=1),  # the test fires timers itself, after each clock move
        channel_rate=1000.0,
        notice_window=timedelta(0),
    )
    return Runtime.build(settings, config, clock=clock).start()


def snapshot(path: Path) -> dict[str, set[tuple[object, ...]]]:
    """What must survive: tickets, timers and digest runs, read straight from the file."""
    db = sqlite3.connect(path)
    try:
        return {
            "tickets": set(db.execute("SELECT id, number, status FROM tickets")),
            "timers": set(db.execute("SELECT id, dedup_key, due_at FROM timers")),
            "digest_runs": set(db.execute("SELECT id, name, period_start FROM digest_runs")),
        }
    finally:
        db.close()


def pending_due(path: Path, now: datetime) -> set[int]:
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT id, due_at FROM timers WHERE status = 'pending'").fetchall()
    finally:
        db.close()
    return {i for i, due in rows if datetime.fromisoformat(due).replace(tzinfo=UTC) <= now}


def posts_by_key(fake_slack, since: int = 0) -> Counter[str]:  # type: ignore[no-untyped-def]
    """Each message posted since call ``since``, by its outbox key (escbot puts the key in
    the message's metadata: a message posted twice shows up as a count of 2)."""
    return Counter(
        str(((c.args.get("metadata") or {}).get("event_payload") or {}).get("dedup"))
        for c in fake_slack.calls[since:]
        if c.ok and c.method == "chat.postMessage"
    )


def test_a_mid_morning_backup_restores_with_nothing_lost_or_posted_twice(  # type: ignore[no-untyped-def]
    tmp_path, config, fake_slack, clock
) -> None:
    live, backup, restored = (tmp_path / n for n in ("escbot.db", "backup.db", "restored.db"))
    escbot = start(f"sqlite:///{live}", config, fake_slack, clock)
    try:
        for channel in (INTAKE, KPI):
            escbot.services.client.conversations_join(channel=channel)
        partner = SlackUser(escbot.events_url, SIGNING_SECRET, user_id=PARTNER, fake=fake_slack)
        # Thursday 10:00: three escalations, one acked; Thursday's daily digest is posted
        tickets = [
            escalate(escbot, fake_slack, partner, summary)[0]
            for summary in (
                "Slur campaign under a creator's posts",
                "Graphic video re-uploaded after removal",
                "Coordinated harassment of a journalist",
            )
        ]
        clock.advance(timedelta(minutes=10))
        owner = SlackUser(
            escbot.events_url, SIGNING_SECRET, user_id=tickets[0].assignee_id, fake=fake_slack
        )
        card = next(m for m in fake_slack.messages(INTAKE) if tickets[0].key in str(m.blocks[0]))
        assert owner.click(card, "Ack").status_code == 200
        assert digests.catch_up(escbot.services.desk, clock.now()) or digests.run_due_digest(
            escbot.services.desk, config.digest("daily"), clock.now()
        )
        assert drain(escbot.services.outbox)

        # 10:10, mid-morning: the backup, while escbot runs
        result = CliRunner().invoke(
            main, ["backup", str(backup), "--database-url", f"sqlite:///{live}"]
        )
        assert result.exit_code == 0, result.output
        delivered = posts_by_key(fake_slack)
    finally:
        escbot.shutdown()
    kept = snapshot(backup)
    assert len(kept["tickets"]) == 3 and kept["timers"] and kept["digest_runs"]
    assert set(delivered) and max(delivered.values()) == 1

    # The disk is lost; at 14:25 the backup is restored into a fresh database. Meanwhile
    # the two open tickets' SLA notices (13:00, 14:00) and escalation steps fell due.
    live.unlink()
    shutil.copyfile(backup, restored)
    clock.advance(timedelta(hours=4, minutes=15))
    fell_due = pending_due(restored, clock.now())
    assert fell_due, "no timer fell due while escbot was down: the test would prove nothing"

    mark = fake_slack.mark()
    escbot = start(f"sqlite:///{restored}", config, fake_slack, clock)
    try:
        fired = escbot.services.timers.run_due()
        assert escbot.services.timers.run_due() == 0  # each fell-due timer fires once
        digests.catch_up(escbot.services.desk, clock.now())
        assert drain(escbot.services.outbox)
    finally:
        escbot.shutdown()

    after = snapshot(restored)
    for table, rows in kept.items():
        ids = {r[0] for r in rows}
        assert ids <= {r[0] for r in after[table]}, f"{table} lost in the restore"
    assert {r[:2] for r in kept["tickets"]} == {r[:2] for r in after["tickets"]}
    assert pending_due(restored, clock.now()) == set()
    assert fired >= len(fell_due)

    again = posts_by_key(fake_slack, since=mark)
    assert not set(again) & set(delivered), "posted again after the restore"
    assert max(again.values(), default=1) == 1, f"posted twice: {again}"
    cards = [m for m in fake_slack.messages(INTAKE) for t in tickets if t.key in str(m.blocks[0])]
    assert len(cards) == 3  # one card per ticket, none re-posted
    assert not [
        c
        for c in fake_slack.calls[mark:]
        if c.method == "chat.postMessage" and c.args.get("channel") == KPI
    ]
