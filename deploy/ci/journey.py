"""The compose stack's proof for CI (deploy/ci.sh): one ticket's journey through nginx.

Why a script and not a pytest test: it drives containers (it starts the stack, SIGKILLs a
replica, restarts it), which the test suite never needs. It runs the Slack emulator in
this process, on the address the containers know as ``slack-emulator``, so every signed
request it sends and every call escbot makes to "Slack" can be checked here.

Steps: the stack comes up; each replica's health check passes; the proxy answers 404/403
for everything but the two public routes; ``/escalate``, the modal's submit (one replica
SIGKILLed between the two), the card, Ack and Resolve go through nginx to the surviving
replica; the dead one comes back. Then nothing may be lost (one ticket, one card, the
whole trail, an empty outbox) or doubled (no outbox key posted twice). Last, sockets that
dribble their headers to nginx must leave signed requests answered in under 1 s.
Exit 0 when all held; otherwise the first failure, and the stack's logs, explain.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from bot.sandbox.emulator import FakeSlack, Message, SlackUser

REPO = Path(__file__).resolve().parents[2]
CHANNELS = {"C06H2KX8ESC": "tns-escalations", "C06H2KX9KPI": "tns-escalations-kpi"}
INTAKE = "C06H2KX8ESC"
PARTNER = "U07LEGAL01"  # legal: a reporter in no pod
VENDOR = "Northwind CX (Manila)"
REPLICAS = ("escbot-1", "escbot-2")
T = TypeVar("T")


class Failed(Exception):
    """A check that did not hold; the message says which and what was seen."""


def check(ok: object, what: str) -> None:
    if not ok:
        raise Failed(what)


def step(text: str) -> None:
    print(f"-- {text}", flush=True)


class Stack:
    """The compose project: ``$COMPOSE`` is the command with its -p and -f options."""

    def __init__(self, compose: str) -> None:
        self.compose = shlex.split(compose)

    def run(self, *args: str, capture: bool = True) -> str:
        done = subprocess.run(
            [*self.compose, *args], check=True, text=True, capture_output=capture, timeout=300
        )
        return done.stdout if capture else ""

    def container(self, service: str) -> str:
        cid = self.run("ps", "-q", service).strip()
        check(cid, f"no container for {service}")
        return cid

    def health(self, service: str) -> str:
        cid = self.container(service)
        out = subprocess.run(
            ["docker", "inspect", "-f", "{{.State.Health.Status}}", cid],
            text=True,
            capture_output=True,
            check=True,
        )
        return out.stdout.strip()

    def sql(self, query: str) -> list[list[str]]:
        """Rows of ``query`` on the stack's database, through psql in its container."""
        out = subprocess.run(
            [
                "docker",
                "exec",
                self.container("postgres"),
                "psql",
                "-U",
                "escbot",
                "-d",
                "escbot",
                "-tA",
                "-F",
                "\t",
                "-c",
                query,
            ],
            text=True,
            capture_output=True,
            check=True,
            timeout=30,
        ).stdout
        return [line.split("\t") for line in out.splitlines() if line]


def wait(condition: Callable[[], T | None], what: str, timeout: float) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Failed(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.25)


def status_of(url: str, method: str = "GET") -> int:
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def the_proxy_exposes_only_the_two_routes(base: str) -> None:
    step("the proxy: 404/403 for everything but POST /slack/events and POST /qa/decisions")
    refused = {
        ("GET", "/metrics"): (403, 404),
        ("POST", "/metrics"): (403, 404),
        ("GET", "/healthz"): (403, 404),
        ("GET", "/"): (403, 404),
        ("GET", "/slack/events"): (403, 404),
        ("GET", "/qa/decisions"): (403, 404),
        ("GET", "/slack/events/../metrics"): (403, 404),
        ("GET", "/%2e%2e/metrics"): (400, 403, 404),
    }
    for (method, path), allowed in refused.items():
        got = status_of(base + path, method)
        check(got in allowed, f"{method} {path} through the proxy answered {got}")
    # the public routes reach escbot: an unsigned request is escbot's 401, not nginx's 404
    check(status_of(base + "/slack/events", "POST") == 401, "POST /slack/events unsigned")
    check(status_of(base + "/qa/decisions", "POST") in (401, 403, 404), "POST /qa/decisions")


def every_replica_is_healthy(stack: Stack, timeout: float = 120) -> None:
    for service in REPLICAS:
        wait(lambda s=service: stack.health(s) == "healthy", f"{service} healthy", timeout)  # type: ignore[misc]
    step("every replica's health check passes (/healthz, the image's HEALTHCHECK)")


def the_card(fake: FakeSlack, key: str | None = None) -> Message | None:
    for m in fake.messages(INTAKE):
        text = json.dumps(m.blocks or [])
        if re.search(r"ESC-\d+", text) and (key is None or f"{key} " in text or f"{key}*" in text):
            return m
    return None


def key_of(msg: Message) -> str:
    found = re.search(r"ESC-\d+", json.dumps(msg.blocks or []))
    assert found is not None
    return found.group(0)


def modal(fake: FakeSlack, user: SlackUser, msg: Message, button: str) -> dict[str, Any]:
    mark = fake.mark()
    check(user.click(msg, button).status_code == 200, f"{button} click")
    fake.wait_for("views.open", since=mark, timeout=15)
    view = fake.last_view(user.user_id)
    check(view is not None, f"the {button} modal")
    assert view is not None
    return view


def ticket(stack: Stack) -> tuple[str, str] | None:
    """The one ticket's (status, assignee), None before it exists; more than one fails."""
    rows = stack.sql("SELECT status, coalesce(assignee_id, '') FROM tickets")
    check(len(rows) <= 1, f"one ticket in the database, found {rows}")
    return (rows[0][0], rows[0][1]) if rows else None


def status(stack: Stack) -> str | None:
    found = ticket(stack)
    return found[0] if found else None


def journey(stack: Stack, fake: FakeSlack, events: str, secret: str) -> None:
    partner = SlackUser(events, secret, user_id=PARTNER, fake=fake, timeout=15)
    step("/escalate through the proxy: the intake modal opens")
    mark = fake.mark()
    summary = "Slur campaign under a creator's posts"
    check(partner.command("/escalate", text=summary).ok, "/escalate")
    fake.wait_for("views.open", since=mark, timeout=15)
    view = fake.last_view(PARTNER)

    step("SIGKILL escbot-2 mid-journey (before the submit)")
    stack.run("kill", "-s", "SIGKILL", "escbot-2")

    step("submit the modal through the proxy: it reaches the surviving replica")
    check(
        partner.submit_view(view, {"Your team": "Legal", "Vendor": VENDOR}).status_code == 200,
        "the modal's submit",
    )
    card = wait(lambda: the_card(fake), "the ticket's card in the intake channel", 90)
    key = key_of(card)
    found = wait(lambda: (t := ticket(stack)) and t[1] and t, "the ticket routed", 30)
    status_now, owner_id = found
    check(status_now == "assigned", f"{key} routed, status {status_now}")
    print(f"   {key}: card posted, assigned to {owner_id}", flush=True)

    owner = SlackUser(events, secret, user_id=owner_id, fake=fake, timeout=15)
    step(f"{owner_id} clicks Ack on the card")
    check(owner.click(card, "Ack").status_code == 200, "Ack")
    wait(lambda: status(stack) == "acknowledged", "acknowledged", 30)

    step(f"{owner_id} resolves it from the card's Resolve modal")
    view = modal(fake, owner, the_card(fake, key) or card, "Resolve")
    fields = {
        "Decision": "Removed",
        "Policy section cited": "HA-3 Slurs and dehumanising speech",
        "Rationale": "Slurs aimed at a protected group.",
        f"Was {VENDOR} right?": "No, it was wrong",
        "If not, what went wrong": "Missed context",
    }
    check(owner.submit_view(view, fields).status_code == 200, "the Resolve modal's submit")
    wait(lambda: status(stack) == "resolved", "resolved", 30)

    step("escbot-2 comes back: its health check passes again")
    stack.run("start", "escbot-2")
    every_replica_is_healthy(stack)

    step("nothing lost, nothing doubled")
    # settled: sent, or moot on purpose (an App Home unchanged since its last publish,
    # a card update overtaken by a newer one); pending or dead would be lost
    idle = "SELECT count(*) FROM outbox WHERE status NOT IN ('sent', 'superseded')"
    try:
        wait(lambda: stack.sql(idle) == [["0"]], "an outbox with nothing pending or dead", 90)
    except Failed:
        unsettled = "SELECT kind, status, last_error, dedup_key FROM outbox"
        print(stack.sql(f"{unsettled} WHERE status NOT IN ('sent', 'superseded')"), flush=True)
        raise
    time.sleep(3)  # what a doubled delivery would need to show up
    trail = [
        r[0]
        for r in stack.sql(
            "SELECT action FROM ticket_events WHERE to_status IS NOT NULL ORDER BY id"
        )
    ]
    check(trail == ["create", "assign", "acknowledge", "resolve"], f"the trail {trail}")
    cards = [m for m in fake.messages(INTAKE) if key in json.dumps(m.blocks or [])]
    check(len(cards) == 1, f"one card for {key}, found {len(cards)}")
    posts = [c for c in fake.calls_to("chat.postMessage") if c.ok]
    keys = Counter(
        ((c.args.get("metadata") or {}).get("event_payload") or {}).get("dedup") for c in posts
    )
    doubled = {k: n for k, n in keys.items() if n > 1}
    check(None not in keys, "every post carries its outbox key")
    check(not doubled, f"posts delivered twice: {doubled}")
    print(f"   {len(posts)} posts, 0 doubled; trail {' → '.join(trail)}", flush=True)


def slow_clients_leave_signed_requests_fast(
    host: str,
    port: int,
    fake: FakeSlack,
    events: str,
    secret: str,
    sockets: int = 400,
    bodies: int = 10,
) -> None:
    """``sockets`` dribble headers, ``bodies`` more send whole headers and dribble a body
    (fewer than nginx's 20 requests per address: the signed requests share their address)."""
    step(
        f"slow clients: {sockets} sockets dribble headers and {bodies} dribble bodies to "
        "nginx; signed requests meanwhile"
    )
    held: list[socket.socket] = []
    latencies: list[float] = []
    user = SlackUser(events, secret, user_id=PARTNER, fake=fake, timeout=10)
    try:
        for i in range(sockets + bodies):
            s = socket.create_connection((host, port), timeout=5)
            s.sendall(b"POST /slack/events HTTP/1.1\r\nHost: escbot\r\n")
            if i >= sockets:  # a whole header, then a body that never arrives whole
                s.sendall(b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
            held.append(s)
        deadline = time.monotonic() + 8  # within nginx's 10 s client_header_timeout
        n = 0
        while time.monotonic() < deadline:
            for i, s in enumerate(held):  # a little more each: never a whole request
                with contextlib.suppress(OSError):
                    s.sendall(b" " if i >= sockets else f"X-Slow-{n}: 1\r\n".encode())
            started = time.monotonic()
            answer = user.url_verification(f"challenge-{n}")
            latencies.append(time.monotonic() - started)
            check(answer.status_code == 200, f"a signed request answered {answer.status_code}")
            n += 1
            time.sleep(0.5)
    finally:
        for s in held:
            s.close()
        user.close()
    worst, median = max(latencies), sorted(latencies)[len(latencies) // 2]
    print(
        f"   {len(latencies)} signed requests beside {sockets + bodies} slow sockets: "
        f"worst {worst * 1000:.0f} ms, median {median * 1000:.0f} ms",
        flush=True,
    )
    check(worst < 1.0, f"a signed request took {worst:.2f}s with slow clients at the proxy")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emulator-host", required=True, help="where containers reach us")
    parser.add_argument("--emulator-port", type=int, default=8765)
    parser.add_argument("--proxy", default="http://127.0.0.1:8080", help="nginx, published")
    parser.add_argument("--signing-secret", required=True)
    args = parser.parse_args()
    stack = Stack(os.environ["COMPOSE"])
    team = yaml.safe_load((REPO / "app.yaml").read_text())["workspace"]["team_id"]

    with FakeSlack(args.emulator_host, args.emulator_port, team_id=team) as fake:
        for channel_id, name in CHANNELS.items():
            fake.add_channel(channel_id, name)
        step(f"the Slack emulator on {fake.url}; the stack comes up")
        started = time.monotonic()
        stack.run("--profile", "http", "up", "-d", "--no-build", capture=False)
        every_replica_is_healthy(stack)
        proxy_port = int(args.proxy.rsplit(":", 1)[1])
        wait(lambda: status_of(args.proxy + "/") == 404, "nginx", 60)
        print(f"   up in {time.monotonic() - started:.1f}s", flush=True)
        wait(lambda: len(fake.calls_to("conversations.join")) >= 2, "the channel joins", 60)

        the_proxy_exposes_only_the_two_routes(args.proxy)
        events = args.proxy + "/slack/events"
        journey(stack, fake, events, args.signing_secret)
        slow_clients_leave_signed_requests_fast(
            "127.0.0.1", proxy_port, fake, events, args.signing_secret
        )
        every_replica_is_healthy(stack)
    print("journey OK", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (Failed, subprocess.CalledProcessError, TimeoutError, AssertionError) as err:
        print(f"JOURNEY FAILED: {err}", file=sys.stderr, flush=True)
        sys.exit(1)
