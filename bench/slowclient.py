"""A slow-client attack: many dribbling sockets from one client, then signed ``/escalate``.

    python -m bench.slowclient                       # 1,010 sockets for 45 s, each server
    python -m bench.slowclient --reopen --attacker 127.0.0.2 --hold 15 --json slow.json

Starts the fake Slack, ``escbot run`` (a SQLite file, no proxy: the front as deployed)
and the bare app of ``bench.bare``, each in its own process. Against one server at a
time: signed ``/escalate`` latency on a quiet server, then the attack of issue #25 —
``--sockets`` connections from one loopback address, each sending a partial header and
then a byte every ``--every`` seconds (with ``--reopen``, each the server closes is opened
again at the next byte, as a slowloris tool does) — and, while it lasts, a signed
``/escalate`` every ``--probe-every`` seconds, each on a new connection, given
``--timeout`` seconds (8 s: Slack gives up after 3). The attacker is ``--attacker``
(127.0.0.1 by default: the address the probes come from too, the hardest case for a
per-client cap; 127.0.0.2 for another client). The report gives each probe's time, what
the server still held of the attacker's sockets at the end, and the server's CPU time.

Bounded on purpose: loopback only, at most 5,000 sockets, at most 300 s.

Target (#25): with 1,010 sockets held, every probe answered, in under 1 s. The first probe
goes out while the server is still taking in the burst of new connections: reported apart
("burst"), as what a Slack request arriving at that moment waits.
"""

from __future__ import annotations

import argparse
import ipaddress
import resource
import select
import socket
import threading
import time
from typing import Any

from bench import harness as h
from bot.sandbox.emulator import FakeSlack

MAX_SOCKETS = 5000
MAX_HOLD = 300.0
TARGET_S = 1.0
SETTLE_S = 1.0  # probes sent this soon after the attack began meet its burst of connections
PARTIAL = b"POST /slack/events HTTP/1.1\r\nHost: escbot\r\nX-Slow: "


class SlowClient:
    """``count`` sockets from ``source``, each dribbling one header byte every ``every`` s;
    with ``reopen``, one the server closes is opened again at the next round (as a slowloris
    tool does). Runs on its own thread."""

    def __init__(self, port: int, count: int, source: str, every: float, reopen: bool) -> None:
        self.port, self.count, self.source, self.every = port, count, source, every
        self.reopen = reopen
        self.sockets: list[socket.socket] = []
        self.opened = self.closed_by_server = self.failed_to_open = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slowclient", daemon=True)

    def start(self) -> SlowClient:
        self._fill()
        self._thread.start()
        return self

    def stop(self) -> int:
        """Stop dribbling; how many sockets the server still held open."""
        self._stop.set()
        self._thread.join(self.every + 5)
        self._drop_closed()
        held = len(self.sockets)
        for sock in self.sockets:
            sock.close()
        return held

    def _fill(self) -> None:
        while len(self.sockets) < self.count and not self._stop.is_set():
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.settimeout(1)
                sock.bind((self.source, 0))
                sock.connect(("127.0.0.1", self.port))
                sock.sendall(PARTIAL)
            except OSError:  # refused, or the backlog is full: try again next round
                sock.close()
                self.failed_to_open += 1
                return
            self.sockets.append(sock)
            self.opened += 1

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._drop_closed()
            for sock in list(self.sockets):
                try:
                    sock.send(b"a")
                except OSError:
                    self._forget(sock)
            if self.reopen:
                self._fill()

    def _drop_closed(self) -> None:
        poller = select.poll()
        by_fd = {sock.fileno(): sock for sock in self.sockets}
        for fd in by_fd:
            poller.register(fd, select.POLLIN)
        for fd, _ in poller.poll(0):  # readable: EOF or a reset (the server sent no answer)
            self._forget(by_fd[fd])

    def _forget(self, sock: socket.socket) -> None:
        if sock in self.sockets:
            self.sockets.remove(sock)
            sock.close()
            self.closed_by_server += 1


def probe(server: h.ServerProcess, fake: FakeSlack, timeout: float, tag: str) -> float | None:
    """One signed /escalate on a new connection: seconds to the answer, None if none came."""
    user = h.TimedUser(server.events_url, h.SECRET, user_id=h.PARTNER, fake=fake, timeout=timeout)
    started = time.perf_counter()
    try:
        resp = h.escalate_command(user, tag)
    except OSError:
        return None
    finally:
        user.close()
    return time.perf_counter() - started if resp.status_code == 200 else None


def attack(server: h.ServerProcess, fake: FakeSlack, args: argparse.Namespace) -> dict[str, Any]:
    quiet = [probe(server, fake, args.timeout, f"{server.name}-quiet-{n}") for n in range(5)]
    began = time.monotonic()
    cpu = server.cpu_seconds()
    client = SlowClient(server.port, args.sockets, args.attacker, args.every, args.reopen)
    client.start()
    opened_in = time.monotonic() - began
    probes: list[dict[str, Any]] = []
    try:
        while time.monotonic() - began < args.hold:
            at = time.monotonic() - began
            took = probe(server, fake, args.timeout, f"{server.name}-{len(probes)}")
            probes.append({"at_s": round(at, 1), "seconds": took})
            time.sleep(max(0.0, args.probe_every - (time.monotonic() - began - at)))
    finally:
        held = client.stop()
    cpu = server.cpu_seconds() - cpu
    answered = [p for p in probes if p["seconds"] is not None]
    settled = [p["seconds"] * 1000 for p in answered if p["at_s"] >= SETTLE_S]
    return {
        "quiet_ms": h.percentiles([s * 1000 for s in quiet if s is not None]),
        "probes": len(probes),
        "answered": len(answered),
        "under_attack_ms": h.percentiles([p["seconds"] * 1000 for p in answered]),
        # the first probe goes out while the server is still taking in the burst of new
        # connections; the rest while the sockets are held (and, with --reopen, reopened)
        "during_burst_ms": [p["seconds"] * 1000 for p in answered if p["at_s"] < SETTLE_S],
        "while_held_ms": h.percentiles(settled),
        "attacker": {
            "opened": client.opened,
            "held_by_server_at_end": held,
            "closed_by_server": client.closed_by_server,
            "failed_to_open": client.failed_to_open,
            "seconds_to_open_all": round(opened_in, 1),
        },
        "server_cpu_seconds": round(cpu, 2),
        "timeline": probes,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    _allow_sockets(args.sockets)
    cfg = h.config()
    fake = h.fake_slack(cfg)
    results: dict[str, Any] = {}
    try:
        with h.workdir() as tmp, h.database(None, tmp) as db_url:
            escbot = h.start_escbot(fake, db_url, tmp)
            bare = h.start_bare(fake, tmp)
            try:
                h.intake_modal(escbot, fake)  # warm: imports, templates, statements
                for server in (escbot, bare):
                    results[server.name] = attack(server, fake, args)
                    print(line(server.name, results[server.name]), flush=True)
                    time.sleep(1)  # let the server close what the attack left
                info = h.machine(db_url)
            finally:
                escbot.stop()
                bare.stop()
    finally:
        fake.stop()
    return {
        "benchmark": "slowclient",
        "machine": info,
        "settings": {k: v for k, v in vars(args).items() if k != "json"},
        "target": {"every_probe_answered_within_s": TARGET_S},
        "results": results,
    }


def _allow_sockets(count: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = count + 256
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


HEADER = (
    f"{'server':<8}│{'quiet p50':>10} │{'answered':>10}{'burst':>8}{'p50':>7}{'max':>7} │"
    f"{'attacker: opened':>17}{'held at end':>12}{'closed':>8} │{'cpu':>6} │ target"
)


def line(name: str, r: dict[str, Any]) -> str:
    a, u = r["attacker"], r["while_held_ms"]
    ok = r["answered"] == r["probes"] and u.get("max", float("inf")) < TARGET_S * 1000
    burst = max(r["during_burst_ms"], default=float("nan"))
    return (
        f"{name:<8}│{r['quiet_ms']['p50']:>8.1f}ms │{r['answered']:>5}/{r['probes']:<4}"
        f"{burst:>6.0f}ms{u['p50']:>5.0f}ms{u.get('max', float('nan')):>5.0f}ms │{a['opened']:>17}"
        f"{a['held_by_server_at_end']:>12}{a['closed_by_server']:>8} │"
        f"{r['server_cpu_seconds']:>5.1f}s │ {h.verdict(ok)}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.slowclient", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--sockets", type=int, default=1010, help=f"at most {MAX_SOCKETS}")
    parser.add_argument("--hold", type=float, default=45.0, help="seconds the attack lasts")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between bytes")
    parser.add_argument("--probe-every", type=float, default=3.0, help="seconds between probes")
    parser.add_argument("--timeout", type=float, default=8.0, help="a probe's wait for its answer")
    parser.add_argument("--attacker", default="127.0.0.1", help="a loopback address (127/8)")
    parser.add_argument("--reopen", action="store_true", help="reopen what the server closes")
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.sockets <= MAX_SOCKETS or not 0 < args.hold <= MAX_HOLD:
        parser.error(f"--sockets 1..{MAX_SOCKETS}, --hold up to {MAX_HOLD:.0f} s")
    if not ipaddress.ip_address(args.attacker).is_loopback:
        parser.error("--attacker must be a loopback address: this attacks only this machine")
    print(HEADER, flush=True)
    report = run(args)
    print(f"\n{h.describe(report['machine'])}")
    h.write_json(args.json, report)


if __name__ == "__main__":
    main()
