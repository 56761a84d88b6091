"""The programme's rhythm, run on every scheduler tick of every replica.

Each step is cheap when there is nothing to do (an indexed lookup) and happens
once however many replicas tick: the draw and the calibration set by their
unique ``qa_runs`` row, the daily DMs by their outbox dedup key, pattern
proposals by their unique ``pattern_key``. A step missed during downtime is
done at the next tick of the same day.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.core.desk import Desk
from bot.qa import calibration, clarify, home, sampling

log = logging.getLogger(__name__)


def tick(desk: Desk) -> None:
    steps: tuple[Callable[[Desk], object], ...] = (
        sampling.draw_due,
        calibration.draw_due,
        home.send_daily_dms,
        clarify.propose_from_patterns,
    )
    for step in steps:
        try:
            step(desk)
        except Exception:  # one failing step must not hold up the others
            log.exception("QA step %s failed", getattr(step, "__name__", step))
