"""Where each SLA clock's stops are recorded: what every figure about the clocks reads.

A clock *stops* once per measurement: TTA at the ticket's first acknowledgement
(``first_acked_at``, never cleared), TTR at each resolution (an append-only
``resolutions`` row, measured then; a reopen doesn't remove it). Turnaround
percentiles, SLA attainment, the chart's daily attainment and the headline's medians
all read these columns, so what a stop is, and the severity it counts under, is said
once, here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import InstrumentedAttribute

from storage.models import Resolution, Ticket


@dataclass(frozen=True)
class Stops:
    """The columns of one clock's stops, one row per stop."""

    clock: str  # tta | ttr, as ``sla_breaches.clock`` names it
    at: InstrumentedAttribute[Any]  # when it stopped
    seconds: InstrumentedAttribute[Any]  # the time it measured
    breached: InstrumentedAttribute[Any]  # over its target
    severity: InstrumentedAttribute[Any]  # the severity it counts under


TTA = Stops("tta", Ticket.first_acked_at, Ticket.tta_seconds, Ticket.tta_breached, Ticket.severity)
TTR = Stops(
    "ttr", Resolution.at, Resolution.ttr_seconds, Resolution.ttr_breached, Resolution.severity
)
CLOCKS = (TTA, TTR)
