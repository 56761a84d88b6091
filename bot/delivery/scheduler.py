"""The scheduler: one APScheduler 3 ``BackgroundScheduler`` per process.

It runs the durable-timer loop every few seconds and the digest cron jobs.
APScheduler only *triggers*; exactly-once comes from the database (timer
rows fired under a row lock, digest runs unique per period), so every
replica can run its own scheduler.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import time, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.delivery.timers import TimerRunner

log = logging.getLogger(__name__)


class _BusyTickFilter(logging.Filter):
    """Drop APScheduler's warning that the timer tick is still running when the next is due:
    a tick handles everything due, so a skipped one loses nothing (a slow digest or a busy
    machine would otherwise log it every interval)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("Scheduler.tick" in message and "maximum number of running" in message)


_BUSY_TICK = _BusyTickFilter()


class Scheduler:
    def __init__(self, timers: TimerRunner, tz: object, interval: timedelta) -> None:
        self.timers = timers
        logging.getLogger("apscheduler.scheduler").addFilter(_BUSY_TICK)  # once: same object
        defaults = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 60}
        self.aps = BackgroundScheduler(timezone=tz, job_defaults=defaults)
        self.aps.add_job(self.tick, "interval", seconds=interval.total_seconds(), id="timers")
        self._extra: list[Callable[[], object]] = []
        self._first: list[Callable[[], object]] = []

    def daily(self, fn: Callable[[], object], at: time, job_id: str) -> None:
        """Run ``fn`` every day at ``at`` in the team's time zone (housekeeping)."""
        self.aps.add_job(
            self._guard(fn),
            CronTrigger(hour=at.hour, minute=at.minute, timezone=self.aps.timezone),
            id=job_id,
        )

    @staticmethod
    def _guard(fn: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except Exception:  # keep the scheduler alive; the next run retries
                log.exception("scheduled job %s failed", getattr(fn, "__name__", fn))

        return run

    def every_tick(self, fn: Callable[[], object]) -> None:
        """Also run ``fn`` on every timer tick (e.g. digest catch-up checks)."""
        self._extra.append(fn)

    def before_timers(self, fn: Callable[[], object]) -> None:
        """Run ``fn`` on every tick before the due timers fire (people who left the desk
        are handed over before a timer could tell them anything)."""
        self._first.append(fn)

    def tick(self) -> None:
        """Fire what is due now and run the per-tick checks: APScheduler calls this every
        interval; the demo calls it after each move of its clock instead."""
        try:
            for fn in self._first:
                fn()
            self.timers.run_due()
            for fn in self._extra:
                fn()
        except Exception:  # a bad tick must not stop the next one
            log.exception("scheduler tick failed")

    def start(self) -> None:
        self.aps.start()

    def shutdown(self) -> None:
        if self.aps.running:
            self.aps.shutdown(wait=False)
