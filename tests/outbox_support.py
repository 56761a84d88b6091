"""Delivering the outbox in step with a test, instead of waiting on the worker's thread."""

from __future__ import annotations

import time

from bot.delivery.worker import OutboxWorker


def drain(worker: OutboxWorker, timeout: float = 10.0) -> bool:
    """Deliver until nothing is pending or ``timeout`` passes; True if the outbox emptied."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not worker.run_once() and not worker.pending():
            return True
        time.sleep(0.02)
    return worker.pending() == 0
