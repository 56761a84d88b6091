"""Three `escbot run` processes on one PostgreSQL, a flaky Slack, duplicate deliveries
and a replica killed half-way: nothing lost, nothing doubled.

300 escalations go round-robin to the replicas (the next one when a replica is down,
as a load balancer would); 20 % of Slack calls fail with 429 or 500; 10 % of view
submissions are delivered twice, to another replica; one replica gets SIGKILL after
150 escalations. Every message escbot posts carries its outbox dedup key as message
metadata, which lets the test count deliveries per intended message.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from bot.sandbox.emulator import SlackUser
from storage.db import make_engine, make_session_factory
from storage.models import OutboxMessage, Ticket
from tests.dbs import PG_URL

pytestmark = pytest.mark.skipif(not PG_URL, reason="replicas share a PostgreSQL database")

REPO = Path(__file__).resolve().parent.parent
SECRET = "replica-secret"
ESCALATIONS = 300
PARTNERS = ["U07LEGAL01", "U07COMMS02", "U07PARTN03", "U07VENDR04", "U07PROD005", "U07POL0006"]
FORM = {"Policy area": "hateful_activities", "Severity": "sev2", "Your team": "legal"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Replica:
    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/slack/events"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "--log-level", "WARNING", "run"],
            env={**env, "PORT": str(self.port)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2):
                    return
            except OSError:
                assert self.proc.poll() is None, "replica exited at start"
                time.sleep(0.2)
        raise TimeoutError("replica did not come up")

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None


def prefilled(n: int):  # type: ignore[no-untyped-def]
    """Matches the views.open of the modal prefilled for escalation ``n``."""
    marker = json.dumps(f"Escalation {n}")

    def match(call) -> bool:  # type: ignore[no-untyped-def]
        return call.method == "views.open" and call.ok and marker in json.dumps(call.args)

    return match


#: 300 tickets' cards and thread lines in one channel would take ten minutes at Slack's
#: 1 post a second: the subject here is replicas, so Slack's rate limits are lifted (and
#: escbot's channel rate raised, ESCBOT_CHANNEL_RATE below)
@pytest.mark.lenient(no_rate_tiers=True)
def test_three_replicas_lose_nothing_and_double_nothing(db_url, fake_slack, tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = yaml.safe_load((REPO / "app.yaml").read_text())
    for digest in config["digests"]:
        digest["cron"] = "* * * * *"  # every replica tries every minute; one post per run
        digest["catch_up"] = "1m"  # at start-up only the run of the last minute is caught up
    config["limits"]["tickets_per_user"] = ESCALATIONS  # six partners open all 300 here
    (tmp_path / "app.yaml").write_text(yaml.safe_dump(config))
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": "xoxb-replicas",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake_slack.url,
        "DATABASE_URL": db_url,
        "ESCBOT_CONFIG": str(tmp_path / "app.yaml"),
        "ESCBOT_CHANNEL_RATE": "50",
        "HOST": "127.0.0.1",
    }
    replicas = [Replica(env) for _ in range(3)]
    try:
        for r in replicas:
            r.wait_healthy()
        fake_slack.fail_ratio(0.2, seed=11)
        started = time.monotonic()
        stats = Counter[str]()
        lock = threading.Lock()
        rng = random.Random(5)
        jobs = list(range(ESCALATIONS))

        def escalate(n: int) -> None:
            uid = PARTNERS[n % len(PARTNERS)]
            for attempt in range(40):
                replica = replicas[(n + attempt) % 3]
                if not replica.alive:
                    continue
                user = SlackUser(replica.url, SECRET, user_id=uid, fake=fake_slack)
                try:
                    since = fake_slack.mark()
                    if user.command("/escalate", text=f"Escalation {n}").status_code != 200:
                        continue
                    opened = fake_slack.wait_for(prefilled(n), timeout=3, since=since)
                    view = opened.response["view"]
                    if user.submit_view(view, FORM).status_code != 200:
                        continue
                    with lock:
                        stats["submitted"] += 1
                        twice = rng.random() < 0.1
                    if twice:  # Slack (or a double click) delivers it again, elsewhere
                        other = next((r for r in replicas if r is not replica and r.alive), None)
                        if other is not None and user.last_sent:
                            twin = SlackUser(other.url, SECRET, user_id=uid, fake=fake_slack)
                            twin.send(*user.last_sent)
                            with lock:
                                stats["twice"] += 1
                    return
                except (OSError, TimeoutError):
                    with lock:
                        stats["retried"] += 1
                finally:
                    user.close()
            raise AssertionError(f"escalation {n} never got through")

        errors: list[BaseException] = []

        def worker() -> None:
            while True:
                with lock:
                    if not jobs or errors:
                        return
                    n = jobs.pop(0)
                    if n == ESCALATIONS // 2:
                        replicas[1].proc.send_signal(signal.SIGKILL)
                        stats["killed_at"] = n
                try:
                    escalate(n)
                except BaseException as err:
                    errors.append(err)

        threads = [threading.Thread(target=worker) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        fake_slack.clear_faults()

        engine = make_engine(db_url)
        sessions = make_session_factory(engine)
        deadline = time.monotonic() + 150  # includes the killed replica's 30 s leases
        while time.monotonic() < deadline:
            with sessions() as s:
                pending = s.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.status == "pending")
                )
                unposted = s.scalar(
                    select(func.count()).select_from(Ticket).where(Ticket.card_ts.is_(None))
                )
            if pending == 0 and unposted == 0:
                break
            time.sleep(0.5)
        elapsed = time.monotonic() - started

        with sessions() as s:
            numbers = sorted(s.scalars(select(Ticket.number)))
            statuses = Counter(s.scalars(select(OutboxMessage.status)))
        engine.dispose()
        assert numbers == list(range(1, ESCALATIONS + 1))
        assert statuses.get("pending", 0) == 0 and statuses.get("dead", 0) == 0

        posts = [c for c in fake_slack.calls_to("chat.postMessage") if c.ok]
        keys = Counter(
            ((c.args.get("metadata") or {}).get("event_payload") or {}).get("dedup") for c in posts
        )
        doubled = {k: n for k, n in keys.items() if n > 1}
        assert None not in keys, "a post without its outbox key"
        assert doubled == {}
        intake = "C06H2KX8ESC"
        top = [c for c in posts if not c.args.get("thread_ts")]
        cards = [c for c in top if c.args.get("channel") == intake]
        assert len(cards) == ESCALATIONS
        digests = [c for c in top if c.args.get("channel") == "C06H2KX9KPI"]
        minutes = int(elapsed // 60) + 2  # runs whose minute the test saw, start-up included
        assert len(digests) <= 2 * minutes  # daily + weekly once per run, never twice
        print(
            f"\nreplicas: {ESCALATIONS} tickets, {len(cards)} cards, {len(posts)} posts, "
            f"{len(doubled)} doubled, 0 lost, {stats['twice']} delivered twice, "
            f"{stats['retried']} client retries, killed replica 2 at #{stats['killed_at']}, "
            f"{len(fake_slack.calls)} Slack calls, {elapsed:.1f}s"
        )
    finally:
        for r in replicas:
            if r.alive:
                r.proc.terminate()
        for r in replicas:
            try:
                r.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                r.proc.kill()
