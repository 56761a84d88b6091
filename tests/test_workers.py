"""``escbot run --workers 2``: two serving processes on one port behind a supervisor.

Partners race the same content through both processes (one ticket, the rest offered
it), every card is delivered once by the one outbox worker, and SIGTERM stops the
supervisor and its workers. On SQLite, and on PostgreSQL with ESCBOT_TEST_DATABASE_URL.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from pathlib import Path

from sqlalchemy import create_engine, func, select

from bench import harness as h
from storage.db import database_url
from storage.models import Ticket

RACERS = 6


def test_two_workers_share_the_port_the_duplicate_check_and_one_outbox(
    db_url: str, tmp_path: Path
) -> None:
    cfg = h.config()
    fake = h.fake_slack(cfg)
    server = h.start_escbot(fake, db_url, tmp_path, threads=4, workers=2)
    try:
        workers = server.pids()[1:]
        assert len(workers) == 2
        modal = h.intake_modal(server, fake)
        start = threading.Barrier(RACERS)
        bodies: list[bytes] = []

        def report(i: int) -> None:
            with h.user(server, fake, f"U07RACE{i:03d}") as u:
                view = {**modal, "id": f"VRACE{i}"}
                values = {**h.ANSWERS, "Content links or ids": "https://example.com/v/same"}
                start.wait()
                resp = u.submit_view(view, values)
                assert resp.status_code == 200
                bodies.append(resp.content)

        threads = [threading.Thread(target=report, args=(i,)) for i in range(RACERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # each on a fresh connection, which the kernel gives to either worker (by a hash)
        offered = [json.loads(b)["view"]["callback_id"] for b in bodies if b]
        assert bodies.count(b"") == 1 and offered == ["escalate_duplicate"] * (RACERS - 1)

        engine = create_engine(database_url(db_url))
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(Ticket)) == 1
        engine.dispose()
        channel = cfg.workspace.intake_channel
        fake.wait_until(lambda: _cards(fake, channel) == {"ESC-1": 1}, timeout=30)
    finally:
        server.stop()
        fake.stop()
    assert server.proc.returncode == 0
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in _state(pid)


def _cards(fake, channel: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    seen: Counter[str] = Counter()
    for call in fake.calls_to("chat.postMessage"):
        if call.ok and call.args.get("channel") == channel and not call.args.get("thread_ts"):
            key = re.search(r"\bESC-\d+\b", str(call.args.get("text", "")))
            seen[key.group(0) if key else "?"] += 1
    return dict(seen)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0].lower()
    except (OSError, IndexError):
        return "zombie"
