"""What the HTTP benchmarks share: the machine, a throwaway database, escbot and a
bare Bolt app as server processes, signed Slack traffic and latency statistics.

Why server *processes*: the load generator and the fake Slack run Python threads
too; in escbot's own process they would take its GIL and the numbers would
measure the benchmark, not escbot. ``escbot run`` is also exactly what a
deployment starts (``bot.runtime.Runtime`` on escbot's HTTP front).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from urllib.request import urlopen

import yaml
from sqlalchemy import create_engine, text

from bot.config import AppConfig, load_config
from bot.sandbox.emulator import FakeSlack, HttpResponse, SlackUser
from storage.db import database_url

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "app.yaml"
SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench-token"
PARTNERS = "C07PARTNERS"  # where partners run /escalate (not the intake channel)
PARTNER = "U07LEGAL01"
#: A partner's answers by label; the rest keep the modal's defaults.
ANSWERS = {"Your team": "Legal"}


#: The benchmarks' senders open far more tickets each than app.yaml's per-person limits
#: allow (they are there against floods from one account): raised, not switched off, so
#: that their queries still run on every submission as in production.
BENCH_LIMITS = {"tickets_per_user": 1_000_000, "duplicate_checks_per_user": 1_000_000}


def config() -> AppConfig:
    return load_config(CONFIG)


def bench_config(tmp: Path) -> Path:
    """app.yaml with the per-person limits raised (:data:`BENCH_LIMITS`), written to ``tmp``."""
    data = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    data["limits"] = {**data.get("limits", {}), **BENCH_LIMITS}
    path = tmp / "app.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


# -- the machine ---------------------------------------------------------------------


def machine(db_url: str | None = None) -> dict[str, Any]:
    """What a table is only meaningful with: CPUs, RAM, Python, date, database."""
    info: dict[str, Any] = {
        "nproc": len(os.sched_getaffinity(0)),
        "ram_gb": round(_meminfo_kb("MemTotal") / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        # Other work on the machine skews every number: say how busy it was.
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }
    if db_url:
        info["database"] = database_version(db_url)
    return info


def _meminfo_kb(field: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def database_version(url: str) -> str:
    engine = create_engine(database_url(url))
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                version = conn.execute(text("SHOW server_version")).scalar_one().split(" (")[0]
            else:
                version = conn.exec_driver_sql("select sqlite_version()").scalar_one()
    finally:
        engine.dispose()
    return f"{engine.dialect.name} {version}"


def describe(info: dict[str, Any]) -> str:
    db = f" · {info['database']}" if "database" in info else ""
    return (
        f"{info['nproc']} CPUs · {info['ram_gb']} GB RAM · Python {info['python']} · "
        f"{info['platform']}{db} · {info['date']} · load {info['loadavg_1m']}"
    )


# -- databases -----------------------------------------------------------------------


@contextmanager
def database(url: str | None, tmp: Path) -> Iterator[str]:
    """A fresh database: a SQLite file in ``tmp``, or a PostgreSQL schema made for the run
    and dropped after it (``url`` is the server, e.g. postgresql://postgres@127.0.0.1/test)."""
    if not url:
        yield f"sqlite:///{tmp / 'escbot.db'}"
        return
    base = database_url(url)
    if not base.startswith("postgresql"):
        raise SystemExit(f"--database-url: expected postgresql://…, got {url!r}")
    with scratch_schema(base, "bench") as scratch:
        yield scratch


@contextmanager
def scratch_schema(url: str, prefix: str) -> Iterator[str]:
    """A URL to a new, empty PostgreSQL schema on the server at ``url``, dropped afterwards.

    Tests and benchmarks get a schema each on one shared database instead of a
    database each: creating a schema is cheap, and nothing is left behind.
    """
    base = database_url(url)
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="escbot-bench-") as tmp:
        yield Path(tmp)


# -- the fake Slack and server processes -----------------------------------------------


def fake_slack(cfg: AppConfig) -> FakeSlack:
    """The emulator with app.yaml's channels and the partners' channel: it answers
    ``channel_not_found`` for any other, as Slack does (and a benchmark whose cards all
    failed would measure dead letters, not delivery)."""
    fake = FakeSlack(team_id=cfg.workspace.team_id or "T0ESCBOT")
    channels = {cfg.workspace.intake_channel, PARTNERS, *(d.channel for d in cfg.digests)}
    for channel in sorted(channels):
        fake.add_channel(channel, channel.lower())
    return fake.start()


class ServerProcess:
    """A server on loopback in its own process; stderr goes to a log file in the workdir."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], port: int, log: Path):
        self.name, self.port, self.log = name, port, log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                argv, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT
            )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def events_url(self) -> str:
        return f"{self.url}/slack/events"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, timeout: float = 30.0) -> ServerProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start:\n{self.log_tail()}")
            try:
                with urlopen(f"{self.url}/metrics", timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer in {timeout}s:\n{self.log_tail()}")

    def rss_mb(self) -> float:
        """RSS of the serving process: the largest worker's with ``--workers``."""
        return max(rss_mb(pid) for pid in self.pids()[1:] or [self.pid])

    def pids(self) -> list[int]:
        """The server's process and its children (``--workers``: the worker processes)."""
        return [self.pid, *children(self.pid)]

    def cpu_seconds(self) -> float:
        """CPU time so far of the server and its children (:func:`cpu_seconds` of each)."""
        return sum(cpu_seconds(pid) for pid in self.pids())

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def rss_mb(pid: int) -> float:
    """Resident set size (VmRSS) of ``pid`` in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def children(pid: int) -> list[int]:
    """Child processes of ``pid`` (Linux /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ESCBOT_"))}
    env.pop("DATABASE_URL", None)
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def start_escbot(
    fake: FakeSlack,
    db_url: str,
    tmp: Path,
    threads: int = 8,
    workers: int = 1,
    name: str = "escbot",
) -> ServerProcess:
    """``escbot run [--workers N]`` (the production entry point) against the fake Slack,
    with the per-person limits raised (:func:`bench_config`); ``name`` tells replicas'
    logs apart."""
    port = free_port()
    env = _env(
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=fake.url,
        DATABASE_URL=db_url,
        ESCBOT_CONFIG=str(bench_config(tmp)),
        HOST="127.0.0.1",
        PORT=str(port),
        ESCBOT_THREADS=str(threads),
    )
    argv = [
        sys.executable,
        "-m",
        "bot",
        "run",
        *(["--workers", str(workers)] if workers > 1 else []),
    ]
    return ServerProcess(name, argv, env, port, tmp / f"{name}.log").wait_ready()


def start_bare(fake: FakeSlack, tmp: Path, threads: int = 8) -> ServerProcess:
    """The bare Bolt app of ``bench.bare`` on the same server stack."""
    port = free_port()
    argv = [sys.executable, "-m", "bench.bare", "--port", str(port), "--threads", str(threads)]
    env = _env(SLACK_SIGNING_SECRET=SECRET, SLACK_BOT_TOKEN=TOKEN, SLACK_API_URL=fake.url)
    return ServerProcess("bare", argv, env, port, tmp / "bare.log").wait_ready()


# -- Slack traffic ----------------------------------------------------------------------


class TimedUser(SlackUser):
    """A SlackUser that times each request it sends: signing, HTTP request and response,
    but not building the payload (that is the benchmark's cost, not the server's)."""

    elapsed_ms = 0.0

    def send(self, body: str, content_type: str, **opts: Any) -> HttpResponse:
        began = time.perf_counter()
        try:
            return super().send(body, content_type, **opts)
        finally:
            self.elapsed_ms = (time.perf_counter() - began) * 1000


def user(server: ServerProcess, fake: FakeSlack, user_id: str = PARTNER) -> TimedUser:
    return TimedUser(server.events_url, SECRET, user_id=user_id, fake=fake, timeout=30)


def users(server: ServerProcess, fake: FakeSlack, count: int, tag: str) -> list[TimedUser]:
    """One partner per sending thread (SlackUser keeps a connection per thread); ``tag``
    keeps their ids, and so the view ids built from them, apart between runs."""
    return [user(server, fake, f"U0{tag.upper()}X{i:03d}") for i in range(count)]


def intake_modal(server: ServerProcess, fake: FakeSlack) -> dict[str, Any]:
    """The intake modal exactly as escbot opens it (``/escalate`` → views.open)."""
    with user(server, fake) as u:
        mark = fake.mark()
        resp = u.command("/escalate", "bench", channel_id=PARTNERS)
        if resp.status_code != 200:
            raise RuntimeError(f"/escalate answered {resp.status_code}: {resp.text}")
        fake.wait_for("views.open", since=mark, timeout=10)
        view = fake.last_view(u.user_id)
    if view is None:
        raise RuntimeError("escbot opened no modal")
    return view


def submit_intake(u: SlackUser, modal: dict[str, Any], tag: str) -> HttpResponse:
    """A filled intake modal with its own view id (one ticket per view) and content."""
    values = {
        **ANSWERS,
        "Summary": f"Coordinated hate campaign {tag}",
        "Content links or ids": f"https://example.com/posts/{tag}",
    }
    return u.submit_view({**modal, "id": f"V{tag}"}, values)


def escalate_command(u: SlackUser, tag: str) -> HttpResponse:
    return u.command("/escalate", f"Coordinated hate campaign {tag}", channel_id=PARTNERS)


@dataclass
class Run:
    """What ``run_concurrently`` saw: per-request times (ms), failures, wall time (s)."""

    latencies: list[float]
    failures: list[str]
    seconds: float
    began: float = 0.0  # time.perf_counter() when the first request went out

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


def run_concurrently(
    senders: list[TimedUser], count: int, send: Callable[[TimedUser, int], HttpResponse]
) -> Run:
    """``count`` requests from one closed-loop thread per sender; ``send(sender, n)``.

    A request fails unless it is answered 200 with an empty body (a plain ack).
    """
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    numbers = iter(range(count))
    start = threading.Barrier(len(senders) + 1)

    def worker(sender: TimedUser) -> None:
        mine: list[float] = []
        start.wait()
        while True:
            with lock:
                n = next(numbers, None)
            if n is None:
                break
            try:
                resp = send(sender, n)
            except Exception as err:  # a refused or dropped connection is a result too
                with lock:
                    failures.append(f"{type(err).__name__}: {err}")
                continue
            mine.append(sender.elapsed_ms)
            if resp.status_code != 200 or resp.content:
                with lock:
                    failures.append(f"{resp.status_code}: {resp.text[:200]}")
        with lock:
            latencies.extend(mine)

    pool = [threading.Thread(target=worker, args=(s,), daemon=True) for s in senders]
    for thread in pool:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in pool:
        thread.join()
    return Run(latencies, failures, time.perf_counter() - began, began)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- statistics and output ------------------------------------------------------------


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50/p90/p99 (nearest rank) and the maximum."""
    if not samples:
        return {"n": 0, "p50": float("nan"), "p90": float("nan"), "p99": float("nan")}
    ordered = sorted(samples)

    def rank(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(p * len(ordered)) - 1))]

    return {
        "n": len(ordered),
        "p50": rank(0.50),
        "p90": rank(0.90),
        "p99": rank(0.99),
        "max": ordered[-1],
    }


def write_json(path: str | None, report: dict[str, Any]) -> None:
    if path:
        Path(path).write_text(json.dumps(report, indent=2, default=str) + "\n")
        print(f"\nwrote {path}")


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"
