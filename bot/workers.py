"""``escbot run --workers N``: N serving processes on one port, and a supervisor.

One Python process runs one thread of Python at a time (the GIL): escbot's write path
is ~15 ms of CPU per ticket, so one process tops out near one core however many
threads it has. N processes serve one machine's cores. Each binds $PORT with
SO_REUSEPORT and the kernel spreads connections over them; there is no proxy in
between and nothing new to install (gunicorn would do the same, as a dependency).

What must happen once per machine — the outbox worker (its per-channel pacing is in
memory), the scheduler, joining channels, the ``ESCBOT_METRICS_ADDR`` server — runs
in worker 0 only. The others serve Slack's requests; rows they commit reach worker 0's
outbox at its next poll (at most ``OutboxWorker.poll_interval``, 0.5 s). Leases and
database claims already make the outbox and timers safe across replicas, so this is a
matter of pacing, not of correctness. ``/metrics`` on $PORT is one worker's counters.

The supervisor migrates the database once, starts the workers, restarts one that dies,
and on SIGTERM or Ctrl-C stops them all (each finishes its requests in flight).
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from typing import Any

from bot.settings import Settings
from bot.slack.identity import BotIdentity
from storage.db import open_engine, upgrade

log = logging.getLogger(__name__)

#: A worker that dies sooner than this after starting counts as failing to start.
QUICK_DEATH = 5.0
#: Give up after this many quick deaths in a row (a port in use, a broken database…).
MAX_QUICK_DEATHS = 5
STOP_TIMEOUT = 15.0


class Worker:
    def __init__(self, index: int, argv: list[str]) -> None:
        self.index, self.argv = index, argv
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv)
        log.info("worker %d started (pid %d)", index, self.proc.pid)


def supervise(settings: Settings, workers: int, options: dict[str, Any]) -> int:
    """Run ``workers`` serving processes until SIGTERM/SIGINT; the exit status.

    ``TokenRefused`` or ``DatabaseUnavailable`` before any worker starts (each worker
    would only die of it, again and again).
    """
    identity = BotIdentity(settings.api_url, settings.bot_token)
    if not identity.check():
        log.warning("%s: the workers serve anyway and keep trying", identity.problem)
    engine = open_engine(settings.database_url)
    try:
        upgrade(engine)  # once, before any worker starts
    finally:
        engine.dispose()
    stopping: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    pool = [Worker(i, worker_argv(i, options)) for i in range(workers)]
    log.info("escbot: %d workers on %s:%d", workers, settings.host, settings.port)
    quick_deaths = 0
    status = 0
    while not stopping:
        time.sleep(0.2)
        for i, worker in enumerate(pool):
            code = worker.proc.poll()
            if code is None or stopping:
                continue
            quick = time.monotonic() - worker.started < QUICK_DEATH
            quick_deaths = quick_deaths + 1 if quick else 0
            log.error("worker %d (pid %d) exited with %s", i, worker.proc.pid, code)
            if quick_deaths >= MAX_QUICK_DEATHS:
                log.error("workers keep dying at start: giving up (see the log above)")
                stopping.append(0)
                status = 1
                break
            pool[i] = Worker(i, worker.argv)
    for worker in pool:
        if worker.proc.poll() is None:
            worker.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for worker in pool:
        try:
            worker.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("worker %d did not stop in %.0f s: killed", worker.index, STOP_TIMEOUT)
            worker.proc.kill()
            worker.proc.wait()
    return status


def worker_argv(index: int, options: dict[str, Any]) -> list[str]:
    """``python -m bot [its logging options] run --worker-index i``: the same environment."""
    argv = [sys.executable, "-m", "bot"]
    if options.get("log_level"):
        argv += ["--log-level", str(options["log_level"])]
    if options.get("log_format"):
        argv += ["--log-format", str(options["log_format"])]
    return [*argv, "run", "--worker-index", str(index)]
