"""The work a listener leaves for after its ack — a new ticket's route step and the
reporter's confirmation — on one thread of its own, the most urgent ticket first.

Run on the listener's own thread, that work competed with every other submission's
ack for the GIL and the database's write turn, and a flood of sev3 reports held up
a sev0's routing as much as anyone's. Here it queues by severity (app.yaml's order:
sev0 first), then by arrival, and one thread runs it: acks, which Slack waits for,
get the CPU first, and nothing urgent waits behind a flood. Nothing is lost in the
queue: each item is a durable route step (``bot.intake.opening``) that a scheduler's
tick runs if this process stops first.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

Work = Callable[[], object]


class Router:
    def __init__(self) -> None:
        self._queue: queue.PriorityQueue[tuple[int, int, Work | None]] = queue.PriorityQueue()
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, rank: int, work: Work) -> None:
        """Run ``work`` after everything queued of a lower ``rank`` (0: the most urgent)
        and everything of its rank queued before it."""
        self._queue.put((rank, next(self._order), work))
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="router", daemon=True)
                self._thread.start()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until everything submitted so far has run; False if ``timeout`` s passed first
        (the demo waits for a step's routing before it narrates and moves on)."""
        deadline = time.monotonic() + timeout
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                left = deadline - time.monotonic()
                if left <= 0 or not self._queue.all_tasks_done.wait(left):
                    return not self._queue.unfinished_tasks
        return True

    def stop(self, timeout: float = 5.0) -> None:
        """Finish what is queued, then stop (what a timeout leaves is the scheduler's)."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put((2**31, next(self._order), None))
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            _, _, work = self._queue.get()
            try:
                if work is None:
                    return
                work()
            except Exception:  # the step stays pending for the scheduler; keep routing
                log.exception("after-ack work failed")
            finally:
                self._queue.task_done()
