"""Where each SLA clock's stops are recorded: what every figure about the clocks reads.

A clock *stops* once per measurement: TTA at the ticket's first acknowledgement
(``first_acked_at``, never cleared), TTR at each resolution (an append-only
``resolutions`` row, measured then; a reopen doesn't remove it). Turnaround
percentiles, SLA attainment, the chart's daily attainment and the headline's medians
all read these columns, so what a stop is, and the severity it counts under, is said
once, here: the severity the ticket had when the clock stopped (TTA: as of the first
acknowledgement, from the audit trail, ``bot.reporting.kpi.severity``; TTR: kept with
its ``resolutions`` row), so changing a ticket's severity never moves a past period.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import InstrumentedAttribute

from bot.reporting.kpi.severity import severity_at
from storage.models import Resolution, Ticket


@dataclass(frozen=True)
class Stops:
    """The columns of one clock's stops, one row per stop."""

    clock: str  # tta | ttr, as ``sla_breaches.clock`` names it
    at: InstrumentedAttribute[Any]  # when it stopped
    seconds: InstrumentedAttribute[Any]  # the time it measured
    breached: InstrumentedAttribute[Any]  # over its target
    severity: Any  # the severity it counts under (a column or an SQL expression)
    row_id: InstrumentedAttribute[Any]  # the row's id, to order ties


TTA = Stops(
    "tta",
    Ticket.first_acked_at,
    Ticket.tta_seconds,
    Ticket.tta_breached,
    severity_at(Ticket.first_acked_at),
    Ticket.id,
)
TTR = Stops(
    "ttr",
    Resolution.at,
    Resolution.ttr_seconds,
    Resolution.ttr_breached,
    Resolution.severity,
    Resolution.id,
)
CLOCKS = (TTA, TTR)
